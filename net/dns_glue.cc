// The Resolver's prefer_go path: /etc/hosts first where Go 1.19's pure-Go resolver
// consults it, then the built-in DNS client (net/dnsclient.h) over /etc/resolv.conf,
// read once per lookup (a small local file), results sorted as the system path's.
#include <sys/socket.h>

#include "net/dnsclient.h"
#include "net/errors.h"
#include "net/internal.h"
#include "net/resolve.h"

namespace gonet::net_internal {

namespace {
constexpr const char* kResolvConf = "/etc/resolv.conf";
constexpr const char* kHosts = "/etc/hosts";

// /etc/resolv.conf, with the Resolver's own nameservers when it names some.
DnsConfig ConfigFor(const net::Resolver& r) {
  DnsConfig cfg = ReadResolvConf(kResolvConf);
  if (!r.nameservers.empty()) cfg.servers = r.nameservers;
  return cfg;
}
}  // namespace

absl::StatusOr<std::vector<IPAddr>> LookupIPAddrGo(const net::Resolver& r, const Context& ctx,
                                                   absl::Time deadline, Network net,
                                                   std::string_view host) {
  if (std::optional<IPAddr> lit = ParseIPZone(host)) return std::vector<IPAddr>{*lit};
  std::vector<IPAddr> addrs = LookupStaticHost(kHosts, host);
  if (addrs.empty()) {
    const int family = Only4(net) ? AF_INET : Only6(net) ? AF_INET6 : AF_UNSPEC;
    absl::StatusOr<std::vector<IPAddr>> found = DnsLookupIP(ctx, deadline, ConfigFor(r), host, family);
    if (!found.ok()) return found.status();
    addrs = *std::move(found);
  }
  SortByRFC6724(&addrs, ProbeStack());
  return addrs;
}

absl::StatusOr<std::vector<std::string>> LookupAddrGo(const net::Resolver& r, const Context& ctx,
                                                      absl::Time deadline, const IPAddr& ip) {
  return DnsLookupPTR(ctx, deadline, ConfigFor(r), ip);
}

absl::StatusOr<std::string> LookupCNAMEGo(const net::Resolver& r, const Context& ctx,
                                          absl::Time deadline, std::string_view host) {
  return DnsLookupCNAME(ctx, deadline, ConfigFor(r), host);
}

absl::StatusOr<std::pair<std::string, std::vector<net::Resolver::SRV>>> LookupSRVGo(
    const net::Resolver& r, const Context& ctx, absl::Time deadline, std::string_view service,
    std::string_view proto, std::string_view name) {
  absl::StatusOr<SRVResult> found = DnsLookupSRV(ctx, deadline, ConfigFor(r), service, proto, name);
  if (!found.ok()) return found.status();
  std::vector<net::Resolver::SRV> out;
  out.reserve(found->records.size());
  for (const SRVRecord& rec : found->records) {
    out.push_back({rec.target, rec.port, rec.priority, rec.weight});
  }
  return std::make_pair(std::move(found->cname), std::move(out));
}

absl::StatusOr<std::vector<IPAddr>> ResolverLookup(const net::Resolver* r, const Context& ctx,
                                                   absl::Time deadline, Network net,
                                                   std::string_view host) {
  if (r != nullptr && r->prefer_go) {
    if (absl::Status e = ctx.Err(); !e.ok()) {
      // As LookupIPAddrContext: a ctx already done fails before any query.
      return LookupIPAddrContext(ctx, deadline, net, host);
    }
    auto [bounded, cancel] = WithDeadline(ctx, deadline);
    absl::StatusOr<std::vector<IPAddr>> out = LookupIPAddrGo(*r, bounded, deadline, net, host);
    cancel();
    return out;
  }
  return LookupIPAddrContext(ctx, deadline, net, host);
}

}  // namespace gonet::net_internal
