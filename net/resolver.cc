// Go's net.Resolver (net/lookup.go, lookup_unix.go, cgo_unix.go), ResolveTCPAddr,
// ResolveUDPAddr, ResolveUnixAddr, and net.Buffers.
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/errors.h"
#include "net/internal.h"
#include "net/resolve.h"

namespace gonet::net {
namespace {

namespace ni = net_internal;

// Go's absDomainName: names come back rooted ("localhost.").
std::string AbsDomainName(std::string_view name) {
  std::string s(name);
  if (s.empty() || s.back() != '.') s.push_back('.');
  return s;
}

absl::Status CtxDNSError(const absl::Status& why, std::string_view name) {
  const bool timeout = why.code() == absl::StatusCode::kDeadlineExceeded;
  return ni::MakeDNSError({.err = timeout ? "i/o timeout" : "operation was canceled",
                           .name = name,
                           .timeout = timeout,
                           .canceled = !timeout});
}

// Runs a blocking system-resolver call under ctx: in its own fiber (inside
// gonet::Blocking), raced against ctx's end; the abandoned call finishes alone.
template <typename T, typename F>
absl::StatusOr<T> UnderContext(const Context& ctx, std::string_view name, F call) {
  if (absl::Status e = ctx.Err(); !e.ok()) return CtxDNSError(e, name);
  if (!ni::Cancelable(ctx)) return gonet::Blocking(std::move(call));
  auto result = std::make_shared<fiber::Channel<absl::StatusOr<T>>>(1);
  gonet::Go([result, call = std::move(call)]() mutable {
    result->Send(gonet::Blocking(std::move(call)));
  });
  std::optional<absl::StatusOr<T>> r;
  if (fiber::Select({fiber::OnRecv(*result, &r),
                     fiber::OnRecv<std::monostate>(ctx.Done(), nullptr)}) == 0) {
    return std::move(*r);
  }
  return CtxDNSError(ctx.Err(), name);
}

// A getaddrinfo/getnameinfo failure as Go's cgo resolver reports it: EAI_AGAIN is a
// timeout ("lookup NAME: i/o timeout"), anything else "lookup NAME on SERVER: no such
// host" with resolv.conf's first server.
absl::Status SystemLookupError(int rc, std::string_view name) {
  const bool timeout = rc == EAI_AGAIN;
  return ni::MakeDNSError({.err = timeout ? "i/o timeout" : ni::kNoSuchHost,
                           .name = name,
                           .server = timeout ? "" : ni::DNSServer("/etc/resolv.conf"),
                           .timeout = timeout,
                           .not_found = !timeout});
}

// Go's errMalformedDNSRecordsDetail. Go also returns the valid records with it;
// a StatusOr cannot, so the whole answer is refused.
constexpr std::string_view kMalformedNames =
    "DNS response contained records which contain invalid names";

// Go 1.19's LookupAddr check: every name from the network must be a domain name.
absl::StatusOr<std::vector<std::string>> ValidNames(absl::StatusOr<std::vector<std::string>> names,
                                                    std::string_view addr) {
  if (!names.ok()) return names;
  for (const std::string& n : *names) {
    if (!ni::IsDomainName(n)) return ni::MakeDNSError({.err = kMalformedNames, .name = addr});
  }
  return names;
}

}  // namespace

absl::StatusOr<std::vector<Addr>> Resolver::LookupIPAddr(const Context& ctx,
                                                         std::string_view host) const {
  if (!netfd::InFiber()) return ni::MakeNotFiber();
  // Go: an empty host is "no such host".
  if (host.empty()) return ni::MakeDNSError({.err = ni::kNoSuchHost, .name = host, .not_found = true});
  absl::StatusOr<std::vector<ni::IPAddr>> ips =
      prefer_go ? ni::LookupIPAddrGo(*this, ctx, absl::InfiniteFuture(), ni::Network::kTCP, host)
                : ni::LookupIPAddrContext(ctx, absl::InfiniteFuture(), ni::Network::kTCP, host);
  if (!ips.ok()) return ips.status();
  std::vector<Addr> out;
  out.reserve(ips->size());
  for (const ni::IPAddr& ip : *ips) out.emplace_back(ip.bytes(), 0, ip.zone);
  return out;
}

absl::StatusOr<std::vector<std::string>> Resolver::LookupHost(const Context& ctx,
                                                              std::string_view host) const {
  absl::StatusOr<std::vector<Addr>> addrs = LookupIPAddr(ctx, host);
  if (!addrs.ok()) return addrs.status();
  std::vector<std::string> out;
  out.reserve(addrs->size());
  for (const Addr& a : *addrs) {
    std::string s = ni::IPString(a.IP());
    if (!a.Zone().empty()) s += "%" + a.Zone();
    out.push_back(std::move(s));
  }
  return out;
}

absl::StatusOr<int> Resolver::LookupPort(const Context& ctx, std::string_view network,
                                         std::string_view service) const {
  (void)ctx;  // a table lookup: nothing to wait for
  // Go 1.19: tcp4/6 and udp4/6 name their protocol's table; "" means "ip", which has
  // none, so only numbers work there ("address ip/http: unknown port", observed).
  static const ni::ServiceTable* const kNoTable = new ni::ServiceTable(
      ni::ServiceTable::ForProto("ip", {}, ""));
  const ni::ServiceTable* table;
  if (network.empty() || network == "ip") {
    table = kNoTable;
  } else if (network == "tcp" || network == "tcp4" || network == "tcp6") {
    table = &ni::DefaultServices();
  } else if (network == "udp" || network == "udp4" || network == "udp6") {
    table = &ni::DefaultUDPServices();
  } else {
    return ni::MakeAddrError("unknown network", network);
  }
  return ni::ParsePort(service, *table);
}

absl::StatusOr<std::vector<std::string>> Resolver::LookupAddr(const Context& ctx,
                                                              std::string_view addr) const {
  if (!netfd::InFiber()) return ni::MakeNotFiber();
  std::optional<ni::IPAddr> ip = ni::ParseIPZone(addr);
  if (!ip.has_value()) {
    return ni::MakeDNSError({.err = "unrecognized address", .name = addr});
  }
  // /etc/hosts first, as Go's lookupStaticAddr.
  std::vector<std::string> names = ni::LookupStaticAddr("/etc/hosts", *ip);
  if (!names.empty()) {
    for (std::string& n : names) n = AbsDomainName(n);
    return names;
  }
  const std::string name(addr);
  if (prefer_go) {
    return ValidNames(ni::LookupAddrGo(*this, ctx, absl::InfiniteFuture(), *ip), name);
  }
  return ValidNames(UnderContext<std::vector<std::string>>(
      ctx, addr, [ip = *ip, name]() -> absl::StatusOr<std::vector<std::string>> {
        sockaddr_storage ss{};
        absl::StatusOr<socklen_t> sl =
            Addr(ip.bytes(), 0, ip.zone).ToSockaddr(ni::IsIPv4(ip.bytes()) ? AF_INET : AF_INET6, &ss);
        if (!sl.ok()) return sl.status();
        char host[NI_MAXHOST];
        int rc = getnameinfo(reinterpret_cast<sockaddr*>(&ss), *sl, host, sizeof host, nullptr, 0,
                             NI_NAMEREQD);
        if (rc != 0) return SystemLookupError(rc, name);
        return std::vector<std::string>{AbsDomainName(host)};
      }), name);
}

absl::StatusOr<std::string> Resolver::LookupCNAME(const Context& ctx,
                                                  std::string_view host) const {
  if (!netfd::InFiber()) return ni::MakeNotFiber();
  if (prefer_go) {
    absl::StatusOr<std::string> cname = ni::LookupCNAMEGo(*this, ctx, absl::InfiniteFuture(), host);
    // Go 1.19: a name from the network that is not a domain name is refused.
    if (cname.ok() && !cname->empty() && !ni::IsDomainName(*cname)) {
      return ni::MakeDNSError({.err = "CNAME target is invalid", .name = host});
    }
    return cname;
  }
  const std::string name(host);
  return UnderContext<std::string>(ctx, host, [name]() -> absl::StatusOr<std::string> {
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &res);
    if (rc != 0) return SystemLookupError(rc, name);
    std::string canon = res->ai_canonname != nullptr ? res->ai_canonname : name;
    freeaddrinfo(res);
    return AbsDomainName(canon);
  });
}

absl::StatusOr<std::pair<std::string, std::vector<Resolver::SRV>>> Resolver::LookupSRV(
    const Context& ctx, std::string_view service, std::string_view proto,
    std::string_view name) const {
  if (!netfd::InFiber()) return ni::MakeNotFiber();
  // Go 1.19 asks DNS itself for SRV records whichever resolver is preferred.
  auto srv = ni::LookupSRVGo(*this, ctx, absl::InfiniteFuture(), service, proto, name);
  if (!srv.ok()) return srv;
  // Go 1.19 refuses names from the network that are not domain names.
  if (!srv->first.empty() && !ni::IsDomainName(srv->first)) {
    return ni::MakeDNSError({.err = "SRV header name is invalid", .name = name, .not_found = true});
  }
  for (const SRV& r : srv->second) {
    if (!ni::IsDomainName(r.target)) {
      return ni::MakeDNSError({.err = kMalformedNames, .name = name});
    }
  }
  return srv;
}

const Resolver& DefaultResolver() {
  static const Resolver* const r = new Resolver();
  return *r;
}

// ---------------------------------------------------------------- Resolve*Addr

namespace {

absl::StatusOr<Addr> ResolveIPPort(std::string_view network, std::string_view address,
                                   bool udp) {
  absl::StatusOr<ni::Network> n = ni::ParseNetwork(network);
  if (!n.ok() || ni::IsUDP(*n) != udp) {
    return ni::MakeUnknownNetwork(network);
  }
  auto lookup = [](ni::Network net, std::string_view host) {
    if (!netfd::InFiber()) {
      return absl::StatusOr<std::vector<ni::IPAddr>>(ni::MakeNotFiber());
    }
    return ni::LookupIPAddrBlocking(net, host);
  };
  absl::StatusOr<std::vector<Addr>> addrs = ni::InternetAddrList(*n, address, lookup);
  if (!addrs.ok()) return addrs.status();
  return ni::FirstForResolve(*n, address, *addrs);
}

}  // namespace

absl::StatusOr<Addr> ResolveTCPAddr(std::string_view network, std::string_view address) {
  return ResolveIPPort(network, address, false);
}

absl::StatusOr<Addr> ResolveUDPAddr(std::string_view network, std::string_view address) {
  return ResolveIPPort(network, address, true);
}

absl::StatusOr<Addr> ResolveUnixAddr(std::string_view network, std::string_view address) {
  if (!ni::ParseUnixNetwork(network)) return ni::MakeUnknownNetwork(network);
  return Addr::Unix(network, address);
}

// ---------------------------------------------------------------- Buffers

IOResult WriteBuffers(Conn& c, const Buffers& bufs) {
  // Sockets take them in one writev; anything else one Write each (Go's fallback).
  if (auto* tcp = dynamic_cast<TCPConn*>(&c)) {
    return ni::ConnWritev(*ni::ConnAccess::Fd(tcp), tcp->LocalAddr(), tcp->RemoteAddr(), bufs);
  }
  if (auto* un = dynamic_cast<UnixConn*>(&c)) {
    return ni::ConnWritev(*ni::ConnAccess::Fd(un), un->LocalAddr(), un->RemoteAddr(), bufs);
  }
  IOResult total;
  for (const auto& b : bufs) {
    IOResult r = c.Write(b);
    total.n += r.n;
    if (!r.err.ok()) {
      total.err = r.err;
      break;
    }
  }
  return total;
}

}  // namespace gonet::net
