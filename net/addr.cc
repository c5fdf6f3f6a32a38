// Go's IP parsing/printing (net/ip.go), SplitHostPort/JoinHostPort
// (net/ipsock.go), LookupPort (net/port.go, port_unix.go), favoriteAddrFamily
// and the stack probe (net/ipsock_posix.go), internetAddrList and
// resolveAddrList (net/ipsock.go, net/dial.go), re-implemented in our own
// code. Differences: only TCP networks are implemented; services(5) is read
// once and never re-read; IPs parsed from IPv4 text are 4 bytes, not Go's 16.

#include "net/addr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/errors.h"
#include "net/net.h"

namespace gonet::net_internal {
namespace {

constexpr uint8_t kV4MappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

constexpr char kHex[] = "0123456789abcdef";

bool IsDigit(char c) { return c >= '0' && c <= '9'; }


int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Dotted IPv4 that must consume all of `s`.
bool ParseIPv4Into(std::string_view s, uint8_t out[4]) {
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (s.empty() || s[0] != '.') return false;
      s.remove_prefix(1);
    }
    size_t n = 0;
    int value = 0;
    while (n < s.size() && IsDigit(s[n])) {
      value = value * 10 + (s[n] - '0');
      if (value > 255) return false;
      ++n;
    }
    if (n == 0) return false;
    if (n > 1 && s[0] == '0') return false;  // Go 1.17+: no leading zeros
    out[part] = static_cast<uint8_t>(value);
    s.remove_prefix(n);
  }
  return s.empty();
}

bool ParseIPv6Into(std::string_view s, uint8_t ip[16]) {
  std::memset(ip, 0, 16);
  int ellipsis = -1;  // byte offset where "::" stands, or -1
  if (s.size() >= 2 && s[0] == ':' && s[1] == ':') {
    ellipsis = 0;
    s.remove_prefix(2);
    if (s.empty()) return true;
  }
  int i = 0;
  while (i < 16) {
    // One hex group: any number of digits, value <= 0xffff.
    size_t c = 0;
    uint32_t value = 0;
    while (c < s.size() && HexValue(s[c]) >= 0) {
      value = value * 16 + static_cast<uint32_t>(HexValue(s[c]));
      if (value > 0xffff) return false;
      ++c;
    }
    if (c == 0) return false;
    if (c < s.size() && s[c] == '.') {
      // An IPv4 tail: only in the last 32 bits, or anywhere after a "::".
      if (ellipsis < 0 && i != 12) return false;
      if (i + 4 > 16) return false;
      if (!ParseIPv4Into(s, ip + i)) return false;
      i += 4;
      s = {};
      break;
    }
    ip[i] = static_cast<uint8_t>(value >> 8);
    ip[i + 1] = static_cast<uint8_t>(value);
    i += 2;
    s.remove_prefix(c);
    if (s.empty()) break;
    if (s[0] != ':' || s.size() == 1) return false;
    s.remove_prefix(1);
    if (s[0] == ':') {
      if (ellipsis >= 0) return false;
      ellipsis = i;
      s.remove_prefix(1);
      if (s.empty()) break;
    }
  }
  if (!s.empty()) return false;
  if (i < 16) {
    if (ellipsis < 0) return false;
    const int tail = i - ellipsis;  // bytes after the "::"
    std::memmove(ip + 16 - tail, ip + ellipsis, tail);
    std::memset(ip + ellipsis, 0, 16 - i);
  } else if (ellipsis >= 0) {
    return false;  // "::" must stand for at least one group
  }
  return true;
}

// Go's zone cache: scope id <-> interface name.
std::string ZoneName(uint32_t index) {
  if (index == 0) return "";
  char name[IF_NAMESIZE];
  if (if_indextoname(index, name) != nullptr) return name;
  return std::to_string(index);
}

uint32_t ZoneIndex(const std::string& zone) {
  if (zone.empty()) return 0;
  if (unsigned idx = if_nametoindex(zone.c_str()); idx != 0) return idx;
  // A decimal index (Go's dtoi: digits only, else 0).
  uint64_t n = 0;
  for (char c : zone) {
    if (!IsDigit(c) || n > 0xffffffffu) return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n > 0xffffffffu ? 0 : static_cast<uint32_t>(n);
}

std::string ReadFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool ProbeBind(int v6only, const char* literal) {
  const int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return false;
  bool ok = setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == 0;
  if (ok) {
    sockaddr_in6 sa{};
    sa.sin6_family = AF_INET6;
    ok = inet_pton(AF_INET6, literal, &sa.sin6_addr) == 1 &&
         bind(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  close(fd);
  return ok;
}

StackCaps DoProbeStack() {
  StackCaps caps;
  if (int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP); fd >= 0) {
    caps.ipv4 = true;
    close(fd);
  }
  caps.ipv6 = ProbeBind(1, "::1");
  caps.ipv4_mapped = ProbeBind(0, "::ffff:127.0.0.1");
  return caps;
}

bool IsIPv4Addr(const net::Addr& a) { return IsIPv4(a.IP()); }

// Go's TCPAddr.family(): no IP or an IPv4 one -> AF_INET.
int AddrFamily(const net::Addr* a) {
  if (a == nullptr || a->IP().size() <= 4 || a->IsIPv4()) return AF_INET;
  return AF_INET6;
}

// Go's IP.matchAddrFamily.
bool SameFamily(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b) {
  if (IsIPv4(a) && IsIPv4(b)) return true;
  return a.size() == 16 && !IsIPv4(a) && b.size() == 16 && !IsIPv4(b);
}

}  // namespace

// ---- Config-file text. ----

std::string LowerASCII(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::vector<std::string_view> Fields(std::string_view line) {
  if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
  std::vector<std::string_view> out;
  size_t i = 0;
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; };
  while (i < line.size()) {
    while (i < line.size() && space(line[i])) ++i;
    size_t j = i;
    while (j < line.size() && !space(line[j])) ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

// ---- IP. ----

bool IsIPv4(absl::Span<const uint8_t> ip) {
  if (ip.size() == 4) return true;
  return ip.size() == 16 && std::equal(ip.begin(), ip.begin() + 12, kV4MappedPrefix);
}

bool IsUnspecified(absl::Span<const uint8_t> ip) {
  if (ip.size() == 4 || IsIPv4(ip)) {
    const uint8_t* v4 = ip.data() + ip.size() - 4;
    return v4[0] == 0 && v4[1] == 0 && v4[2] == 0 && v4[3] == 0;
  }
  return ip.size() == 16 && std::all_of(ip.begin(), ip.end(), [](uint8_t b) { return b == 0; });
}

bool IsLoopback(absl::Span<const uint8_t> ip) {
  if (IsIPv4(ip)) return ip[ip.size() - 4] == 127;
  if (ip.size() != 16) return false;
  return std::all_of(ip.begin(), ip.begin() + 15, [](uint8_t b) { return b == 0; }) && ip[15] == 1;
}

std::array<uint8_t, 16> To16(absl::Span<const uint8_t> ip) {
  std::array<uint8_t, 16> out{};
  if (ip.size() == 4) {
    std::copy(kV4MappedPrefix, kV4MappedPrefix + 12, out.begin());
    std::copy(ip.begin(), ip.end(), out.begin() + 12);
  } else if (ip.size() == 16) {
    std::copy(ip.begin(), ip.end(), out.begin());
  }
  return out;
}

bool IPEqual(absl::Span<const uint8_t> a, absl::Span<const uint8_t> b) {
  if (a.size() == b.size()) return a == b;
  if ((a.size() != 4 && a.size() != 16) || (b.size() != 4 && b.size() != 16)) return false;
  return To16(a) == To16(b);
}

std::optional<IPAddr> ParseIP(std::string_view s) {
  for (char c : s) {
    if (c == '.') {
      IPAddr out;
      if (!ParseIPv4Into(s, out.ip.data())) return std::nullopt;
      out.len = 4;
      return out;
    }
    if (c == ':') {
      IPAddr out;
      if (!ParseIPv6Into(s, out.ip.data())) return std::nullopt;
      out.len = 16;
      return out;
    }
  }
  return std::nullopt;
}

std::optional<IPAddr> ParseIPZone(std::string_view s) {
  for (char c : s) {
    if (c == '.') return ParseIP(s);
    if (c == ':') {
      std::string_view zone;
      if (size_t pct = s.rfind('%'); pct != std::string_view::npos && pct > 0) {
        zone = s.substr(pct + 1);
        s = s.substr(0, pct);
      }
      IPAddr out;
      if (!ParseIPv6Into(s, out.ip.data())) return std::nullopt;
      out.len = 16;
      out.zone = std::string(zone);
      return out;
    }
  }
  return std::nullopt;
}

std::string IPString(absl::Span<const uint8_t> ip) {
  if (ip.empty()) return "<nil>";
  if (IsIPv4(ip)) {
    const uint8_t* v4 = ip.data() + ip.size() - 4;
    std::string out;
    out.reserve(15);
    for (int i = 0; i < 4; ++i) {
      if (i > 0) out.push_back('.');
      out.append(std::to_string(v4[i]));
    }
    return out;
  }
  if (ip.size() != 16) {
    std::string out = "?";
    for (uint8_t b : ip) {
      out.push_back(kHex[b >> 4]);
      out.push_back(kHex[b & 15]);
    }
    return out;
  }
  // The first longest run of >= 2 zero groups becomes "::".
  int best_start = -1, best_len = 0;
  for (int g = 0; g < 8;) {
    int end = g;
    while (end < 8 && ip[2 * end] == 0 && ip[2 * end + 1] == 0) ++end;
    if (end - g > best_len && end - g >= 2) {
      best_start = g;
      best_len = end - g;
    }
    g = end == g ? g + 1 : end;
  }
  std::string out;
  out.reserve(39);
  for (int g = 0; g < 8; ++g) {
    if (g == best_start) {
      out.append("::");
      g += best_len - 1;
      continue;
    }
    if (g > 0 && !(best_start >= 0 && g == best_start + best_len)) out.push_back(':');
    const unsigned v = (unsigned{ip[2 * g]} << 8) | ip[2 * g + 1];
    bool started = false;
    for (int shift = 12; shift >= 0; shift -= 4) {
      const unsigned nibble = (v >> shift) & 15;
      if (nibble == 0 && !started && shift > 0) continue;
      started = true;
      out.push_back(kHex[nibble]);
    }
  }
  return out;
}

// ---- host:port. ----

absl::Status SplitHostPortView(std::string_view s, std::string_view* host,
                               std::string_view* port) {
  auto fail = [s](std::string_view reason) { return MakeAddrError(reason, s); };
  constexpr std::string_view kMissingPort = "missing port in address";
  constexpr std::string_view kTooManyColons = "too many colons in address";
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos) return fail(kMissingPort);
  size_t j = 0, k = 0;  // where to start looking for stray '[' and ']'
  std::string_view h;
  if (!s.empty() && s[0] == '[') {
    const size_t end = s.find(']');
    if (end == std::string_view::npos) return fail("missing ']' in address");
    if (end + 1 == s.size()) return fail(kMissingPort);
    if (end + 1 != colon) {
      // Either "[host]:port:more" or "[host]junk...".
      return fail(s[end + 1] == ':' ? kTooManyColons : kMissingPort);
    }
    h = s.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    h = s.substr(0, colon);
    if (h.find(':') != std::string_view::npos) return fail(kTooManyColons);
  }
  if (s.find('[', j) != std::string_view::npos) return fail("unexpected '[' in address");
  if (s.find(']', k) != std::string_view::npos) return fail("unexpected ']' in address");
  *host = h;
  *port = s.substr(colon + 1);
  return absl::OkStatus();
}

std::string JoinHostPortString(std::string_view host, std::string_view port) {
  if (host.find(':') != std::string_view::npos) return Concat({"[", host, "]:", port});
  return Concat({host, ":", port});
}

// ---- Ports. ----

ServiceTable ServiceTable::ForTCP(std::string_view contents) {
  ServiceTable t =
      ForProto("tcp", {{"ftp", 21},    {"ftps", 990},  {"gopher", 70}, {"http", 80},
                       {"https", 443}, {"imap2", 143}, {"imap3", 220}, {"imaps", 993},
                       {"pop3", 110},  {"pop3s", 995}, {"smtp", 25},   {"ssh", 22},
                       {"telnet", 23}},
               contents);
  return t;
}

ServiceTable ServiceTable::ForUDP(std::string_view contents) {
  return ForProto("udp", {{"domain", 53}}, contents);
}

ServiceTable ServiceTable::ForProto(std::string_view proto,
                                    std::initializer_list<std::pair<const char*, int>> builtin,
                                    std::string_view contents) {
  ServiceTable t;
  t.proto_ = std::string(proto);
  for (const auto& [name, port] : builtin) t.ports_[name] = port;
  for (size_t start = 0; start < contents.size();) {
    size_t end = contents.find('\n', start);
    if (end == std::string_view::npos) end = contents.size();
    std::vector<std::string_view> f = Fields(contents.substr(start, end - start));
    start = end + 1;
    if (f.size() < 2) continue;
    // "<port>/<proto>": a positive decimal port, then '/'.
    std::string_view portnet = f[1];
    size_t d = 0;
    int port = 0;
    while (d < portnet.size() && IsDigit(portnet[d]) && port < 0xffffff) {
      port = port * 10 + (portnet[d] - '0');
      ++d;
    }
    if (d == 0 || port <= 0 || d >= portnet.size() || portnet[d] != '/') continue;
    if (portnet.substr(d + 1) != proto) continue;
    for (size_t i = 0; i < f.size(); ++i) {
      if (i != 1) t.ports_[std::string(f[i])] = port;
    }
  }
  return t;
}

std::optional<int> ServiceTable::Lookup(std::string_view name) const {
  if (name.size() > 32) return std::nullopt;
  auto it = ports_.find(LowerASCII(name));
  if (it == ports_.end()) return std::nullopt;
  return it->second;
}

const ServiceTable& DefaultServices() {
  static const ServiceTable* const table =
      new ServiceTable(ServiceTable::ForTCP(ReadFile("/etc/services")));
  return *table;
}

const ServiceTable& DefaultUDPServices() {
  static const ServiceTable* const table =
      new ServiceTable(ServiceTable::ForUDP(ReadFile("/etc/services")));
  return *table;
}

const ServiceTable& DefaultServices(Network net) {
  return IsUDP(net) ? DefaultUDPServices() : DefaultServices();
}

absl::StatusOr<int> ParsePort(std::string_view service, const ServiceTable& services) {
  if (service.empty()) return 0;
  // Numeric: [+-]digits, saturating at 2^30 (so it can never pass the range
  // check); once saturated the rest is not looked at, as in Go.
  constexpr int64_t kCutoff = int64_t{1} << 30;
  std::string_view digits = service;
  bool neg = false;
  if (digits[0] == '+' || digits[0] == '-') {
    neg = digits[0] == '-';
    digits.remove_prefix(1);
  }
  bool numeric = true;
  int64_t n = 0;
  for (char c : digits) {
    if (!IsDigit(c)) {
      numeric = false;
      break;
    }
    if (n >= kCutoff) break;
    n = n * 10 + (c - '0');
  }
  int64_t port;
  if (numeric) {
    port = neg ? -std::min(n, kCutoff) : std::min(n, kCutoff - 1);
  } else {
    std::optional<int> p = services.Lookup(service);
    if (!p.has_value()) return MakeAddrError("unknown port", Concat({services.proto(), "/", service}));
    port = *p;
  }
  if (port < 0 || port > 65535) return MakeAddrError("invalid port", service);
  return static_cast<int>(port);
}

// ---- Networks. ----

absl::StatusOr<Network> ParseNetwork(std::string_view network) {
  if (network == "tcp") return Network::kTCP;
  if (network == "tcp4") return Network::kTCP4;
  if (network == "tcp6") return Network::kTCP6;
  if (network == "udp") return Network::kUDP;
  if (network == "udp4") return Network::kUDP4;
  if (network == "udp6") return Network::kUDP6;
  static constexpr std::string_view kKnownButUnsupported[] = {
      "ip", "ip4", "ip6", "unix", "unixgram", "unixpacket"};
  std::string_view base = network;
  const size_t colon = network.rfind(':');
  if (colon != std::string_view::npos) {
    // Only the ip networks take ":proto" (a number or a protocol name); Go
    // checks the protocol too, and an empty one is unknown.
    base = network.substr(0, colon);
    if (base != "ip" && base != "ip4" && base != "ip6") return MakeUnknownNetwork(network);
    if (colon + 1 == network.size()) return MakeUnknownNetwork(network);
  }
  for (std::string_view known : kKnownButUnsupported) {
    if (base == known) return MakeUnsupportedNetwork(network);
  }
  return MakeUnknownNetwork(network);
}

std::string_view NetworkName(Network net) {
  switch (net) {
    case Network::kTCP:
      return "tcp";
    case Network::kTCP4:
      return "tcp4";
    case Network::kTCP6:
      return "tcp6";
    case Network::kUDP:
      return "udp";
    case Network::kUDP4:
      return "udp4";
    case Network::kUDP6:
      return "udp6";
  }
  return "tcp";
}

std::optional<UnixNetwork> ParseUnixNetwork(std::string_view network) {
  if (network == "unix") return UnixNetwork{SOCK_STREAM, net::Addr::Kind::kUnix};
  if (network == "unixgram") return UnixNetwork{SOCK_DGRAM, net::Addr::Kind::kUnixgram};
  if (network == "unixpacket") return UnixNetwork{SOCK_SEQPACKET, net::Addr::Kind::kUnixpacket};
  return std::nullopt;
}

// ---- Socket family. ----

const StackCaps& ProbeStack() {
  static const StackCaps caps = DoProbeStack();
  return caps;
}

FamilyChoice FavoriteAddrFamily(Network net, const net::Addr* laddr, const net::Addr* raddr,
                                SockMode mode, const StackCaps& caps) {
  if (Only4(net)) return {AF_INET, false};
  if (Only6(net)) return {AF_INET6, true};
  if (mode == SockMode::kListen && (laddr == nullptr || laddr->IsWildcard())) {
    if (caps.ipv4_mapped || !caps.ipv4) return {AF_INET6, false};
    return {AddrFamily(laddr), false};
  }
  if (AddrFamily(laddr) == AF_INET && AddrFamily(raddr) == AF_INET) return {AF_INET, false};
  return {AF_INET6, false};
}

// ---- Address lists. ----

absl::StatusOr<ParsedAddress> ParseAddress(std::string_view address,
                                           const ServiceTable& services) {
  ParsedAddress out;
  if (address.empty()) return out;
  std::string_view host, port;
  if (absl::Status s = SplitHostPortView(address, &host, &port); !s.ok()) return s;
  absl::StatusOr<int> p = ParsePort(port, services);
  if (!p.ok()) return p.status();
  out.host = std::string(host);
  out.port = *p;
  if (!host.empty()) out.literal = ParseIPZone(host);
  return out;
}

absl::StatusOr<std::vector<net::Addr>> FilterAddrList(Network net, std::vector<IPAddr> ips,
                                                      int port, std::string_view host) {
  if (ips.size() == 1 && ips[0].len == 16 && IsUnspecified(ips[0].bytes())) {
    IPAddr v4zero;
    v4zero.len = 4;
    ips.push_back(std::move(v4zero));
  }
  std::vector<net::Addr> out;
  out.reserve(ips.size());
  for (const IPAddr& ip : ips) {
    const bool v4 = IsIPv4(ip.bytes());
    if (Only4(net) && !v4) continue;
    if (Only6(net) && (ip.len != 16 || v4)) continue;
    out.push_back(net::Addr(ip.bytes(), port, ip.zone).WithKind(AddrKind(net)));
  }
  if (out.empty()) return MakeAddrError("no suitable address found", host);
  return out;
}

absl::StatusOr<std::vector<net::Addr>> InternetAddrList(Network net, std::string_view address,
                                                        LookupFn lookup,
                                                        const ServiceTable& services) {
  absl::StatusOr<ParsedAddress> parsed = ParseAddress(address, services);
  if (!parsed.ok()) return parsed.status();
  if (parsed->host.empty()) {
    return std::vector<net::Addr>{
        net::Addr(absl::Span<const uint8_t>(), parsed->port).WithKind(AddrKind(net))};
  }
  std::vector<IPAddr> ips;
  if (parsed->literal.has_value()) {
    ips.push_back(*std::move(parsed->literal));
  } else {
    absl::StatusOr<std::vector<IPAddr>> found = lookup(net, parsed->host);
    if (!found.ok()) return found.status();
    ips = *std::move(found);
  }
  return FilterAddrList(net, std::move(ips), parsed->port, parsed->host);
}

absl::StatusOr<AddrList> ResolveAddrList(SockMode mode, std::string_view network,
                                         std::string_view address, const net::Addr* local,
                                         LookupFn lookup) {
  absl::StatusOr<Network> net = ParseNetwork(network);
  if (!net.ok()) return net.status();
  if (mode == SockMode::kDial && address.empty()) return MakeMissingAddress();
  absl::StatusOr<std::vector<net::Addr>> addrs = InternetAddrList(*net, address, lookup);
  if (!addrs.ok()) return addrs.status();
  if (mode != SockMode::kDial || local == nullptr) return AddrList{*net, *std::move(addrs)};
  const bool local_wildcard = local->IsWildcard();
  std::vector<net::Addr> kept;
  for (net::Addr& a : *addrs) {
    if (!local_wildcard && !a.IsWildcard() && !SameFamily(a.IP(), local->IP())) continue;
    kept.push_back(std::move(a));
  }
  if (kept.empty()) return MakeAddrError("no suitable address found", local->String());
  return AddrList{*net, std::move(kept)};
}

const net::Addr& FirstForListen(const std::vector<net::Addr>& addrs) {
  for (const net::Addr& a : addrs) {
    if (IsIPv4Addr(a)) return a;
  }
  return addrs.front();
}

const net::Addr& FirstForResolve(Network net, std::string_view address,
                                 const std::vector<net::Addr>& addrs) {
  const bool want6 = (net == Network::kTCP || net == Network::kUDP) &&
                     address.find('[') != std::string_view::npos;
  for (const net::Addr& a : addrs) {
    if (IsIPv4Addr(a) != want6) return a;
  }
  return addrs.front();
}

Partitioned PartitionAddrs(const std::vector<net::Addr>& addrs) {
  Partitioned out;
  if (addrs.empty()) return out;
  const bool primary_v4 = IsIPv4Addr(addrs.front());
  for (const net::Addr& a : addrs) {
    (IsIPv4Addr(a) == primary_v4 ? out.primaries : out.fallbacks).push_back(a);
  }
  return out;
}

}  // namespace gonet::net_internal

// ---- net::Addr and the public helpers. ----

namespace gonet::net {

using net_internal::IPString;

Addr::Addr(absl::Span<const uint8_t> ip, int port, std::string_view zone)
    : port_(port), zone_(zone) {
  if (ip.size() == 4 || ip.size() == 16) {
    std::copy(ip.begin(), ip.end(), ip_.begin());
    ip_len_ = static_cast<uint8_t>(ip.size());
  }
}

Addr Addr::UDP(absl::Span<const uint8_t> ip, int port, std::string_view zone) {
  Addr a(ip, port, zone);
  a.kind_ = Kind::kUDP;
  return a;
}

Addr Addr::Unix(std::string_view network, std::string_view name) {
  Addr a;
  a.kind_ = network == "unixgram"     ? Kind::kUnixgram
            : network == "unixpacket" ? Kind::kUnixpacket
                                      : Kind::kUnix;
  a.zone_ = std::string(name);
  return a;
}

Addr Addr::Pipe() {
  Addr a;
  a.kind_ = Kind::kPipe;
  return a;
}

Addr Addr::Nil() {
  Addr a;
  a.kind_ = Kind::kNil;
  return a;
}

Addr Addr::WithKind(Kind k) const {
  Addr a = *this;
  a.kind_ = k;
  return a;
}

Addr Addr::FromSockaddr(const sockaddr* sa, socklen_t len) {
  Addr out;
  if (sa != nullptr) out.AssignSockaddr(sa, len);
  return out;
}

void Addr::AssignSockaddr(const sockaddr* sa, socklen_t len) {
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(ip_.data(), &in->sin_addr, 4);
    ip_len_ = 4;
    port_ = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6 &&
             len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(ip_.data(), &in6->sin6_addr, 16);
    ip_len_ = 16;
    port_ = ntohs(in6->sin6_port);
    zone_ = net_internal::ZoneName(in6->sin6_scope_id);
  } else if (sa->sa_family == AF_UNIX) {
    // Go's syscall.anyToSockaddr: a leading NUL (the abstract namespace, or an
    // unnamed socket's empty path) reads '@'; the name ends at the first NUL.
    const auto* un = reinterpret_cast<const sockaddr_un*>(sa);
    const size_t max = sizeof(un->sun_path);
    size_t avail = len > static_cast<socklen_t>(offsetof(sockaddr_un, sun_path))
                       ? std::min<size_t>(len - offsetof(sockaddr_un, sun_path), max)
                       : 0;
    std::string name;
    size_t i = 0;
    if (avail == 0 || un->sun_path[0] == '\0') {
      name.push_back('@');
      i = 1;
    }
    for (; i < avail && un->sun_path[i] != '\0'; ++i) name.push_back(un->sun_path[i]);
    kind_ = Kind::kUnix;
    zone_ = std::move(name);
  }
}

std::string Addr::Network() const {
  switch (kind_) {
    case Kind::kTCP:
      return "tcp";
    case Kind::kUDP:
      return "udp";
    case Kind::kUnix:
      return "unix";
    case Kind::kUnixgram:
      return "unixgram";
    case Kind::kUnixpacket:
      return "unixpacket";
    case Kind::kPipe:
      return "pipe";
    case Kind::kNil:
      return "";
  }
  return "";
}

std::string Addr::String() const {
  if (IsUnix()) return zone_;
  if (kind_ == Kind::kPipe) return "pipe";
  if (kind_ == Kind::kNil) return "<nil>";
  std::string host = ip_len_ == 0 ? std::string() : IPString(IP());
  if (!zone_.empty()) {
    host.push_back('%');
    host.append(zone_);
  }
  return net_internal::JoinHostPortString(host, std::to_string(port_));
}

bool Addr::IsIPv4() const { return net_internal::IsIPv4(IP()); }

bool Addr::IsWildcard() const { return ip_len_ == 0 || net_internal::IsUnspecified(IP()); }

absl::StatusOr<socklen_t> Addr::ToSockaddr(int family, sockaddr_storage* out) const {
  std::memset(out, 0, sizeof(*out));
  if (family == AF_UNIX && IsUnix()) {
    // Go's SockaddrUnix.sockaddr: family, the name, a NUL; '@' -> the abstract
    // namespace (no trailing NUL counted).
    auto* un = reinterpret_cast<sockaddr_un*>(out);
    const size_t n = zone_.size();
    const size_t max = sizeof(un->sun_path);
    if (n > max || (n == max && zone_[0] != '@')) return net_internal::MakeErrno(EINVAL);
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, zone_.data(), n);
    socklen_t sl = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path));
    if (n > 0) sl += static_cast<socklen_t>(n) + 1;
    if (n > 0 && un->sun_path[0] == '@') {
      un->sun_path[0] = '\0';
      --sl;
    }
    if (sl > static_cast<socklen_t>(sizeof(sockaddr_un))) sl = sizeof(sockaddr_un);
    return sl;
  }
  if (family == AF_INET) {
    if (ip_len_ != 0 && !IsIPv4()) {
      return net_internal::MakeAddrError("non-IPv4 address", IPString(IP()));
    }
    auto* in = reinterpret_cast<sockaddr_in*>(out);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port_));
    if (ip_len_ != 0) std::memcpy(&in->sin_addr, ip_.data() + ip_len_ - 4, 4);
    return static_cast<socklen_t>(sizeof(sockaddr_in));
  }
  if (family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(out);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port_));
    // No IP and 0.0.0.0 both mean "::" (so "tcp" on 0.0.0.0 listens dual-stack).
    if (ip_len_ != 0 && !(IsIPv4() && net_internal::IsUnspecified(IP()))) {
      const std::array<uint8_t, 16> ip16 = net_internal::To16(IP());
      std::memcpy(&in6->sin6_addr, ip16.data(), 16);
    }
    in6->sin6_scope_id = net_internal::ZoneIndex(zone_);
    return static_cast<socklen_t>(sizeof(sockaddr_in6));
  }
  return net_internal::MakeAddrError("unexpected socket family", std::to_string(family));
}

bool operator==(const Addr& a, const Addr& b) {
  return a.kind_ == b.kind_ && a.IP() == b.IP() && a.port_ == b.port_ && a.zone_ == b.zone_;
}

absl::StatusOr<std::pair<std::string, std::string>> SplitHostPort(std::string_view hostport) {
  std::string_view host, port;
  if (absl::Status s = net_internal::SplitHostPortView(hostport, &host, &port); !s.ok()) {
    return s;
  }
  return std::make_pair(std::string(host), std::string(port));
}

std::string JoinHostPort(std::string_view host, std::string_view port) {
  return net_internal::JoinHostPortString(host, port);
}

}  // namespace gonet::net
