// addr.h: IP and TCP address logic of Go's net (ip.go, ipsock.go, port.go,
// the address half of dial.go and ipsock_posix.go). Internal to //net: the
// public face is net::Addr, SplitHostPort and JoinHostPort in net/net.h.
//
// Everything here is pure except ProbeStack() (creates and closes a few
// sockets once per process) and DefaultServices() (reads /etc/services once).
// No function here resolves host names: the steps that need a resolver take
// one as a callback, so the caller decides where the blocking lookup runs.
// All error statuses come from net/errors.h and are the *inner* Go errors
// ("address 99999: invalid port"); Dial/Listen wrap them in
// OpError("dial"|"listen", network, "", "", err), as Go does.
//
// Thread safety: all functions may be called from any thread.

#ifndef GONET_NET_ADDR_H_
#define GONET_NET_ADDR_H_

#include <array>
#include <initializer_list>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "net/errors.h"
#include "net/net.h"

namespace gonet::net_internal {

// ---- IP addresses (Go's net.IP / net.IPAddr). ----

// An IP with an optional IPv6 zone. `len` is 0 (none), 4 or 16; an IPv4
// address parsed from text is stored in 4 bytes, "::ffff:a.b.c.d" in 16.
struct IPAddr {
  std::array<uint8_t, 16> ip{};
  uint8_t len = 0;
  std::string zone;

  absl::Span<const uint8_t> bytes() const { return absl::MakeConstSpan(ip.data(), len); }
  friend bool operator==(const IPAddr& a, const IPAddr& b) {
    return a.bytes() == b.bytes() && a.zone == b.zone;
  }
};

// Go's IP.To4() != nil: 4 bytes, or 16 bytes of the form ::ffff:a.b.c.d.
bool IsIPv4(absl::Span<const uint8_t> ip);
// Go's IP.IsUnspecified(): 0.0.0.0 (either form) or ::.
bool IsUnspecified(absl::Span<const uint8_t> ip);
// Go's IP.IsLoopback(): 127/8 (either form) or ::1.
bool IsLoopback(absl::Span<const uint8_t> ip);
// The 16-byte form (IPv4 becomes ::ffff:a.b.c.d). `ip` must be 4 or 16 bytes.
std::array<uint8_t, 16> To16(absl::Span<const uint8_t> ip);
// Go's IP.Equal: same address, comparing 4-byte and v4-mapped forms alike.
bool IPEqual(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b);

// Go's ParseIP: dotted IPv4 ("1.2.3.4"; each part 0..255, no leading zeros,
// exactly four parts) or IPv6 (hex groups of value <= ffff, one "::", an IPv4
// tail in the last 32 bits). Whether it is v4 or v6 is decided by which of
// '.' or ':' comes first. No zone, no brackets, no spaces.
std::optional<IPAddr> ParseIP(std::string_view s);
// Go's parseIPZone: as ParseIP, but an IPv6 literal may end in "%zone" (split
// at the last '%', when that is not the first character; the zone may be
// empty). An IPv4 literal with a zone is not an IP.
std::optional<IPAddr> ParseIPZone(std::string_view s);
// Go's IP.String(): "" -> "<nil>"; IPv4 and v4-mapped -> dotted; IPv6 -> RFC
// 5952 style (lowercase, no leading zeros, the first longest run of two or
// more zero groups as "::", never an IPv4 tail). Other lengths print as "?"
// followed by hex, as Go does.
std::string IPString(absl::Span<const uint8_t> ip);

// ---- host:port (docs/behavior.md §7.1, §7.2). ----

// Go's SplitHostPort without copies: `host` and `port` view into `hostport`.
// Errors are AddrError with `hostport` as the address.
absl::Status SplitHostPortView(std::string_view hostport, std::string_view* host,
                               std::string_view* port);
// Go's JoinHostPort.
std::string JoinHostPortString(std::string_view host, std::string_view port);

// ---- Ports (7.3). ----

// A service-name table for one protocol, keyed as written in the file.
// Lookups lowercase the query (ASCII) as Go does; names longer than 32 bytes
// never match (Go's fixed lookup buffer).
class ServiceTable {
 public:
  // Go's built-in tcp table (ftp, ftps, gopher, http, https, imap2, imap3,
  // imaps, pop3, pop3s, smtp, ssh, telnet), then every "<port>/tcp" line of
  // the services(5) file `contents` (name and aliases; later lines win).
  static ServiceTable ForTCP(std::string_view contents);
  // Go's built-in udp table (domain), then every "<port>/udp" line.
  static ServiceTable ForUDP(std::string_view contents);
  // `builtin`, then every "<port>/<proto>" line of `contents`.
  static ServiceTable ForProto(std::string_view proto,
                               std::initializer_list<std::pair<const char*, int>> builtin,
                               std::string_view contents);
  std::optional<int> Lookup(std::string_view name) const;
  const std::string& proto() const { return proto_; }  // "tcp", "udp" (or "ip": none)

 private:
  std::string proto_ = "tcp";
  absl::flat_hash_map<std::string, int> ports_;
};
// ForTCP(contents of /etc/services), read once per process (empty if the
// file cannot be read).
const ServiceTable& DefaultServices();
// The same for "<port>/udp" lines (Go's LookupPort("udp", ...)).
const ServiceTable& DefaultUDPServices();
enum class Network : uint8_t;
// The table for a network: udp* -> DefaultUDPServices(), else DefaultServices().
const ServiceTable& DefaultServices(Network net);

// Go's LookupPort("tcp", service) with the given table: "" -> 0; an optional
// '+' or '-' then digits -> that number (saturating); anything else -> a table
// lookup, failing with "address tcp/<service>: unknown port"; then 0..65535 or
// "address <service>: invalid port".
absl::StatusOr<int> ParsePort(std::string_view service, const ServiceTable& services);
inline absl::StatusOr<int> ParsePort(std::string_view service) {
  return ParsePort(service, DefaultServices());
}

// ---- Networks. ----

// The IP networks with ports (Go's TCPAddr and UDPAddr kinds).
enum class Network : uint8_t { kTCP, kTCP4, kTCP6, kUDP, kUDP4, kUDP6 };
// "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6" (case-sensitive, as Go). Networks
// Go accepts that are not IP-with-port ("ip", "ip4", "ip6" with an optional
// ":proto", which gonet does not implement, and "unix", "unixgram", "unixpacket",
// which have their own addresses) fail with MakeUnsupportedNetwork; anything else
// with "unknown network <network>".
absl::StatusOr<Network> ParseNetwork(std::string_view network);
std::string_view NetworkName(Network net);
inline bool IsUDP(Network n) { return n == Network::kUDP || n == Network::kUDP4 || n == Network::kUDP6; }
inline bool Only4(Network n) { return n == Network::kTCP4 || n == Network::kUDP4; }
inline bool Only6(Network n) { return n == Network::kTCP6 || n == Network::kUDP6; }
// The Addr kind for an address on `n` (TCP or UDP).
inline net::Addr::Kind AddrKind(Network n) {
  return IsUDP(n) ? net::Addr::Kind::kUDP : net::Addr::Kind::kTCP;
}
// "unix", "unixgram", "unixpacket": the socket type (SOCK_STREAM, SOCK_DGRAM,
// SOCK_SEQPACKET) and Addr kind; nullopt for any other name.
struct UnixNetwork {
  int sotype;
  net::Addr::Kind kind;
};
std::optional<UnixNetwork> ParseUnixNetwork(std::string_view network);

// ---- Socket family (docs/behavior.md §5.3). ----

// What the kernel can do, probed once per process: AF_INET sockets exist;
// an AF_INET6 socket with V6ONLY=1 binds [::1]:0; one with V6ONLY=0 binds
// [::ffff:127.0.0.1]:0 (IPv4-mapped addresses work).
struct StackCaps {
  bool ipv4 = false;
  bool ipv6 = false;
  bool ipv4_mapped = false;
};
const StackCaps& ProbeStack();

enum class SockMode : uint8_t { kListen, kDial };
struct FamilyChoice {
  int family;   // AF_INET or AF_INET6
  bool v6only;  // the IPV6_V6ONLY value to set on an AF_INET6 socket
  friend bool operator==(const FamilyChoice& a, const FamilyChoice& b) {
    return a.family == b.family && a.v6only == b.v6only;
  }
};
// Go's favoriteAddrFamily. laddr/raddr may be null (= no address, as an Addr
// without IP). "tcp4" -> AF_INET; "tcp6" -> AF_INET6 v6only; listening on a
// wildcard -> dual-stack AF_INET6 when the stack maps IPv4 (or has no IPv4),
// else AF_INET; otherwise AF_INET when both addresses are IPv4 or absent,
// else AF_INET6 (v6only false).
FamilyChoice FavoriteAddrFamily(Network net, const net::Addr* laddr, const net::Addr* raddr,
                                SockMode mode, const StackCaps& caps);
inline FamilyChoice FavoriteAddrFamily(Network net, const net::Addr* laddr,
                                       const net::Addr* raddr, SockMode mode) {
  return FavoriteAddrFamily(net, laddr, raddr, mode, ProbeStack());
}

// ---- From address string to address list (7.4, 8.2). ----

// Resolves a host name that is not an IP literal (blocking is fine: the caller
// chose where this runs). Returns the addresses in preference order or a
// DNSError. See net/resolve.h for the standard one.
using LookupFn =
    absl::FunctionRef<absl::StatusOr<std::vector<IPAddr>>(Network net, std::string_view host)>;

// Steps 1-3 of Go's internetAddrList: split, parse the port, classify the host.
struct ParsedAddress {
  std::string host;               // without brackets; "" = none
  int port = 0;
  std::optional<IPAddr> literal;  // set when host is an IP literal
};
// An empty address is host "" port 0. Errors: SplitHostPort's, ParsePort's.
absl::StatusOr<ParsedAddress> ParseAddress(std::string_view address,
                                           const ServiceTable& services);
inline absl::StatusOr<ParsedAddress> ParseAddress(std::string_view address) {
  return ParseAddress(address, DefaultServices());
}

// Steps 5-6: `ips` (a literal, or what the resolver returned for `host`)
// becomes TCP addresses on `port`. Exactly [::] gets 0.0.0.0 appended; "tcp4"
// keeps IPv4 (v4-mapped included), "tcp6" only true IPv6; none left ->
// "address <host>: no suitable address found".
absl::StatusOr<std::vector<net::Addr>> FilterAddrList(Network net, std::vector<IPAddr> ips,
                                                      int port, std::string_view host);

// Go's internetAddrList: host "" -> one Addr without IP (never filtered); an
// IP literal -> that IP (no lookup); else lookup(net, host). Then FilterAddrList.
absl::StatusOr<std::vector<net::Addr>> InternetAddrList(Network net, std::string_view address,
                                                        LookupFn lookup,
                                                        const ServiceTable& services);
inline absl::StatusOr<std::vector<net::Addr>> InternetAddrList(Network net,
                                                               std::string_view address,
                                                               LookupFn lookup) {
  return InternetAddrList(net, address, lookup, DefaultServices(net));
}

// Go's resolveAddrList for TCP: parse the network, reject an empty dial
// address ("missing address"), InternetAddrList, then for a dial with a local
// address drop the remotes whose family cannot pair with it (a wildcard on
// either side pairs with all); none left -> "address <local>: no suitable
// address found". Every error is the inner one: wrap it in
// OpError(op, network, "", "", err).
struct AddrList {
  Network net;
  std::vector<net::Addr> addrs;  // never empty
};
absl::StatusOr<AddrList> ResolveAddrList(SockMode mode, std::string_view network,
                                         std::string_view address, const net::Addr* local,
                                         LookupFn lookup);

// Listen's choice (and Go's addrList.first(isIPv4)): the first IPv4 address,
// else the first. `addrs` must not be empty.
const net::Addr& FirstForListen(const std::vector<net::Addr>& addrs);
// Go's addrList.forResolve for ResolveTCPAddr: for "tcp", the first non-IPv4
// address if `address` contains '[', else the first IPv4 one; for tcp4/tcp6
// the first IPv4 one (all survivors share a family). Falls back to the first.
const net::Addr& FirstForResolve(Network net, std::string_view address,
                                 const std::vector<net::Addr>& addrs);

// Dial's split for the dual-stack fallback (8.4): the family (IPv4 or not) of
// the first address picks the primaries, in order; the rest are fallbacks.
struct Partitioned {
  std::vector<net::Addr> primaries;
  std::vector<net::Addr> fallbacks;
};
Partitioned PartitionAddrs(const std::vector<net::Addr>& addrs);

// ---- Config-file text (hosts, services, resolv.conf). ----

// ASCII lowercase.
std::string LowerASCII(std::string_view s);
// The whitespace-separated fields of `line` before any '#' comment.
std::vector<std::string_view> Fields(std::string_view line);

// ---- OpError with addresses. ----

// OpError (net/errors.h) printing `source` and `addr` (null or a nil Addr = none).
inline absl::Status OpError(std::string_view op, std::string_view net,
                            const net::Addr* source, const net::Addr* addr,
                            const absl::Status& inner) {
  return OpError(op, net, source && !source->IsNil() ? source->String() : std::string(),
                 addr && !addr->IsNil() ? addr->String() : std::string(), inner);
}

}  // namespace gonet::net_internal

#endif  // GONET_NET_ADDR_H_
