// resolve.h: host name -> IP addresses, BLOCKING (Go's Resolver.LookupIPAddr
// with "hosts: files dns"). Internal to //net.
//
// Order (docs/behavior.md §7.6): an IP literal is returned as is; a name
// that is not a valid domain name fails at once; /etc/hosts is consulted
// first (re-read when its mtime, size or inode change); only a name the hosts
// file does not list goes to the system resolver (getaddrinfo), which may
// query DNS and block for seconds. Call it inside gonet::Blocking from a fiber
// (//net's LookupIPAddrBlocking does), so that the fiber's proc moves on to
// another thread meanwhile. There is no singleflight here.
//
// Errors are Go's DNSError texts:
//   "lookup NAME on SERVER:53: no such host"  (kNotFound; SERVER is the first
//       nameserver of resolv.conf, or 127.0.0.1 when it names none, as Go)
//   "lookup NAME: no such host"               (kNotFound; not a domain name)
//   "lookup NAME: i/o timeout"                (kDeadlineExceeded; EAI_AGAIN)
//   "lookup NAME on SERVER:53: server misbehaving"  (kUnknown; EAI_FAIL)
//
// Result order: a small subset of RFC 6724 destination address selection,
// without source-address probing: rule 1 (addresses of a family the stack
// lacks go last), rule 6 (higher precedence in the RFC's default policy table
// first: ::1 50, ::/0 40, IPv4 35, 2002::/16 30, 2001::/32 5, fc00::/7 3,
// ::/96, fec0::/10, 3ffe::/16 1), rule 8 (smaller scope first: loopback and
// link-local before global) and rule 10 (otherwise keep the input order).
// So ::1 sorts before 127.0.0.1, as Go's sort does on loopback. Rules 2-5, 7
// and 9 need the source address the kernel would pick and are left out.
//
// Thread safety: any thread; the hosts cache is guarded by a mutex.

#ifndef GONET_NET_RESOLVE_H_
#define GONET_NET_RESOLVE_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "net/addr.h"

namespace gonet::net_internal {

// What the system resolver answered.
struct SystemLookupResult {
  int gai_error = 0;  // 0 or an EAI_* code from getaddrinfo
  int sys_errno = 0;  // errno, for EAI_SYSTEM
  std::vector<IPAddr> addrs;
};

struct ResolverOptions {
  std::string hosts_path = "/etc/hosts";
  std::string resolv_conf_path = "/etc/resolv.conf";
  // Asked for names the hosts file does not list; `family` is AF_UNSPEC,
  // AF_INET ("tcp4") or AF_INET6 ("tcp6"). Empty = getaddrinfo (SOCK_STREAM).
  // Tests inject a fake so that they never send a DNS query.
  std::function<SystemLookupResult(std::string_view host, int family)> system_lookup;
  // The stack the sort's rule 1 assumes; null = ProbeStack().
  const StackCaps* caps = nullptr;
};

// The addresses `host` resolves to, sorted as above, never empty on success.
absl::StatusOr<std::vector<IPAddr>> LookupIPAddr(Network net, std::string_view host,
                                                 const ResolverOptions& opts);
// With the default options; has the shape of addr.h's LookupFn.
absl::StatusOr<std::vector<IPAddr>> LookupIPAddr(Network net, std::string_view host);

// ---- The pieces, for tests and for //net. ----

// The addresses the hosts file at `path` lists for `host`, in file order.
// Names match ASCII case-insensitively and exactly: "localhost." does not
// match "localhost" (as Go 1.19). A missing file lists nothing.
std::vector<IPAddr> LookupStaticHost(const std::string& path, std::string_view host);
// Go's isDomainName: at most 254 bytes (253 without a trailing dot), labels
// of 1..63 bytes of letters, digits, '_' and '-' (a label does not start or
// end with '-'), not all-numeric.
bool IsDomainName(std::string_view name);
// The names the hosts file at `path` lists for `ip` (Go's lookupStaticAddr), in file
// order, as written. Re-read on every call (reverse lookups are rare).
std::vector<std::string> LookupStaticAddr(const std::string& path, const IPAddr& ip);
// The first nameserver of the resolv.conf at `path` as "ip:53" / "[ip]:53";
// "127.0.0.1:53" (Go's default) when it names none or cannot be read.
std::string DNSServer(const std::string& path);
// Stable sort by the RFC 6724 subset above.
void SortByRFC6724(std::vector<IPAddr>* addrs, const StackCaps& caps);

}  // namespace gonet::net_internal

#endif  // GONET_NET_RESOLVE_H_
