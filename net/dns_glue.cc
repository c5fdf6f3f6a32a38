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
}  // namespace

absl::StatusOr<std::vector<IPAddr>> LookupIPAddrGo(const Context& ctx, absl::Time deadline,
                                                   Network net, std::string_view host) {
  if (std::optional<IPAddr> lit = ParseIPZone(host)) return std::vector<IPAddr>{*lit};
  std::vector<IPAddr> addrs = LookupStaticHost(kHosts, host);
  if (addrs.empty()) {
    const int family = Only4(net) ? AF_INET : Only6(net) ? AF_INET6 : AF_UNSPEC;
    absl::StatusOr<std::vector<IPAddr>> r =
        DnsLookupIP(ctx, deadline, ReadResolvConf(kResolvConf), host, family);
    if (!r.ok()) return r.status();
    addrs = *std::move(r);
  }
  SortByRFC6724(&addrs, ProbeStack());
  return addrs;
}

absl::StatusOr<std::vector<std::string>> LookupAddrGo(const Context& ctx, absl::Time deadline,
                                                      const IPAddr& ip, std::string_view addr) {
  (void)addr;
  return DnsLookupPTR(ctx, deadline, ReadResolvConf(kResolvConf), ip);
}

absl::StatusOr<std::string> LookupCNAMEGo(const Context& ctx, absl::Time deadline,
                                          std::string_view host) {
  return DnsLookupCNAME(ctx, deadline, ReadResolvConf(kResolvConf), host);
}

absl::StatusOr<std::pair<std::string, std::vector<net::Resolver::SRV>>> LookupSRVGo(
    const Context& ctx, absl::Time deadline, std::string_view service, std::string_view proto,
    std::string_view name) {
  absl::StatusOr<SRVResult> r =
      DnsLookupSRV(ctx, deadline, ReadResolvConf(kResolvConf), service, proto, name);
  if (!r.ok()) return r.status();
  std::vector<net::Resolver::SRV> out;
  out.reserve(r->records.size());
  for (const SRVRecord& rec : r->records) {
    out.push_back({rec.target, rec.port, rec.priority, rec.weight});
  }
  return std::make_pair(std::move(r->cname), std::move(out));
}

}  // namespace gonet::net_internal
