// Go's host lookup for "hosts: files dns" (net/hosts.go, net/lookup.go,
// net/dnsclient_unix.go's isDomainName, net/addrselect.go) re-implemented in
// our own code. Differences: the DNS step is the system's getaddrinfo, not a
// built-in DNS client; the RFC 6724 sort is a documented subset (resolve.h)
// and also orders hosts-file results; no singleflight; the hosts file is
// re-read on change instead of every 5 s.

#include "net/resolve.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <initializer_list>
#include <mutex>
#include <optional>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "net/errors.h"

namespace gonet::net_internal {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lines of `s` (the last one may lack its '\n').
std::vector<std::string_view> Lines(std::string_view s) {
  std::vector<std::string_view> out;
  for (size_t start = 0; start < s.size();) {
    size_t end = s.find('\n', start);
    if (end == std::string_view::npos) end = s.size();
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

using HostsMap = absl::flat_hash_map<std::string, std::vector<IPAddr>>;

// A std::mutex that -Wthread-safety can check ABSL_GUARDED_BY against (libstdc++'s
// carries no annotations). Not absl::Mutex: Debian's Abseil is not TSan-instrumented.
// It blocks the thread: lookups run on plain threads or inside gonet::Blocking.
class ABSL_LOCKABLE HostsMutex {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

 private:
  std::mutex mu_;
};

class ABSL_SCOPED_LOCKABLE HostsMutexLock {
 public:
  explicit HostsMutexLock(HostsMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~HostsMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  HostsMutexLock(const HostsMutexLock&) = delete;
  HostsMutexLock& operator=(const HostsMutexLock&) = delete;

 private:
  HostsMutex* const mu_;
};

HostsMap ParseHosts(std::string_view contents) {
  HostsMap m;
  for (std::string_view line : Lines(contents)) {
    std::vector<std::string_view> f = Fields(line);
    if (f.size() < 2) continue;
    std::optional<IPAddr> ip = ParseIPZone(f[0]);
    if (!ip.has_value()) continue;
    for (size_t i = 1; i < f.size(); ++i) m[LowerASCII(f[i])].push_back(*ip);
  }
  return m;
}

// One parsed hosts file per path, re-read when stat() says it changed.
class HostsCache {
 public:
  std::vector<IPAddr> Lookup(const std::string& path, std::string_view host) {
    struct stat st {};
    const bool exists = stat(path.c_str(), &st) == 0;
    HostsMutexLock lock(&mu_);
    Entry& e = entries_[path];
    const bool fresh = e.loaded && e.exists == exists &&
                       (!exists || (e.mtime_sec == st.st_mtim.tv_sec &&
                                    e.mtime_nsec == st.st_mtim.tv_nsec &&
                                    e.size == st.st_size && e.ino == st.st_ino));
    if (!fresh) {
      e.loaded = true;
      e.exists = exists;
      e.mtime_sec = exists ? st.st_mtim.tv_sec : 0;
      e.mtime_nsec = exists ? st.st_mtim.tv_nsec : 0;
      e.size = exists ? st.st_size : 0;
      e.ino = exists ? st.st_ino : 0;
      e.hosts = exists ? ParseHosts(ReadFile(path)) : HostsMap();
    }
    auto it = e.hosts.find(LowerASCII(host));
    if (it == e.hosts.end()) return {};
    return it->second;
  }

 private:
  struct Entry {
    bool loaded = false;
    bool exists = false;
    int64_t mtime_sec = 0;
    int64_t mtime_nsec = 0;
    int64_t size = 0;
    uint64_t ino = 0;
    HostsMap hosts;
  };
  HostsMutex mu_;
  absl::flat_hash_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

HostsCache& Hosts() {
  static HostsCache* const cache = new HostsCache();
  return *cache;
}

SystemLookupResult GetAddrInfo(std::string_view host, int family) {
  SystemLookupResult r;
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string name(host);
  r.gai_error = getaddrinfo(name.c_str(), nullptr, &hints, &res);
  if (r.gai_error == EAI_SYSTEM) r.sys_errno = errno;
  if (r.gai_error != 0) return r;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
    const net::Addr a = net::Addr::FromSockaddr(ai->ai_addr, ai->ai_addrlen);
    IPAddr ip;
    ip.len = static_cast<uint8_t>(a.IP().size());
    std::copy(a.IP().begin(), a.IP().end(), ip.ip.begin());
    ip.zone = a.Zone();
    if (std::find(r.addrs.begin(), r.addrs.end(), ip) == r.addrs.end()) r.addrs.push_back(ip);
  }
  freeaddrinfo(res);
  return r;
}

// RFC 6724 section 2.1's default policy table: precedence by longest prefix.
int Precedence(const IPAddr& a) {
  const std::array<uint8_t, 16> ip = To16(a.bytes());
  auto prefix = [&ip](std::initializer_list<uint8_t> bytes, int bits) {
    int i = 0;
    for (uint8_t b : bytes) {
      const int left = bits - 8 * i;
      if (left <= 0) break;
      const uint8_t mask = left >= 8 ? 0xff : static_cast<uint8_t>(0xff << (8 - left));
      if ((ip[i] & mask) != (b & mask)) return false;
      ++i;
    }
    return true;
  };
  if (IsLoopback(a.bytes()) && !IsIPv4(a.bytes())) return 50;            // ::1/128
  if (IsIPv4(a.bytes())) return 35;                                      // ::ffff:0:0/96
  if (prefix({0x20, 0x02}, 16)) return 30;                               // 2002::/16
  if (prefix({0x20, 0x01, 0x00, 0x00}, 32)) return 5;                    // 2001::/32
  if (prefix({0xfc}, 7)) return 3;                                       // fc00::/7
  if (prefix({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 96)) return 1;         // ::/96
  if (prefix({0xfe, 0xc0}, 10)) return 1;                                // fec0::/10
  if (prefix({0x3f, 0xfe}, 16)) return 1;                                // 3ffe::/16
  return 40;                                                             // ::/0
}

// RFC 6724 section 3.1 scopes (smaller = narrower).
int Scope(const IPAddr& a) {
  const auto b = a.bytes();
  if (IsIPv4(b)) {
    const uint8_t* v4 = b.data() + b.size() - 4;
    if (v4[0] == 127 || (v4[0] == 169 && v4[1] == 254)) return 2;  // link-local scope
    return 14;
  }
  if (b[0] == 0xff) return b[1] & 0x0f;                 // multicast: its own scope
  if (IsLoopback(b)) return 2;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 2;  // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return 5;  // fec0::/10 site-local
  return 14;
}

}  // namespace

std::vector<IPAddr> LookupStaticHost(const std::string& path, std::string_view host) {
  return Hosts().Lookup(path, host);
}

std::vector<std::string> LookupStaticAddr(const std::string& path, const IPAddr& ip) {
  std::vector<std::string> names;
  const std::string contents = ReadFile(path);  // Lines() views into it
  for (std::string_view line : Lines(contents)) {
    std::vector<std::string_view> f = Fields(line);
    if (f.size() < 2) continue;
    std::optional<IPAddr> a = ParseIPZone(f[0]);
    if (!a.has_value() || !IPEqual(a->bytes(), ip.bytes()) || a->zone != ip.zone) continue;
    for (size_t i = 1; i < f.size(); ++i) names.emplace_back(f[i]);
  }
  return names;
}

bool IsDomainName(std::string_view s) {
  if (s == ".") return true;
  const size_t l = s.size();
  if (l == 0 || l > 254 || (l == 254 && s[l - 1] != '.')) return false;
  char last = '.';
  bool non_numeric = false;
  int label = 0;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
      non_numeric = true;
      ++label;
    } else if (c >= '0' && c <= '9') {
      ++label;
    } else if (c == '-') {
      if (last == '.') return false;
      non_numeric = true;
      ++label;
    } else if (c == '.') {
      if (last == '.' || last == '-') return false;
      if (label == 0 || label > 63) return false;
      label = 0;
    } else {
      return false;
    }
    last = c;
  }
  if (last == '-' || label > 63) return false;
  return non_numeric;
}

std::string DNSServer(const std::string& path) {
  const std::string contents = ReadFile(path);
  for (std::string_view line : Lines(contents)) {
    // resolv.conf comments start with '#' or ';'.
    if (size_t semi = line.find(';'); semi != std::string_view::npos) line = line.substr(0, semi);
    std::vector<std::string_view> f = Fields(line);
    if (f.size() >= 2 && f[0] == "nameserver" && ParseIPZone(f[1]).has_value()) {
      return JoinHostPortString(f[1], "53");
    }
  }
  return "127.0.0.1:53";
}

void SortByRFC6724(std::vector<IPAddr>* addrs, const StackCaps& caps) {
  auto usable = [&caps](const IPAddr& a) {
    return IsIPv4(a.bytes()) ? caps.ipv4 : caps.ipv6;
  };
  std::stable_sort(addrs->begin(), addrs->end(), [&](const IPAddr& a, const IPAddr& b) {
    const bool ua = usable(a), ub = usable(b);
    if (ua != ub) return ua;                     // rule 1
    const int pa = Precedence(a), pb = Precedence(b);
    if (pa != pb) return pa > pb;                // rule 6
    return Scope(a) < Scope(b);                  // rule 8; rule 10: stable
  });
}

absl::StatusOr<std::vector<IPAddr>> LookupIPAddr(Network net, std::string_view host,
                                                 const ResolverOptions& opts) {
  DNSErrorSpec not_found{kNoSuchHost, host, "", false, false, true};
  if (host.empty()) return MakeDNSError(not_found);
  if (std::optional<IPAddr> ip = ParseIPZone(host); ip.has_value()) {
    return std::vector<IPAddr>{*std::move(ip)};
  }
  if (!IsDomainName(host)) return MakeDNSError(not_found);
  const StackCaps& caps = opts.caps != nullptr ? *opts.caps : ProbeStack();

  std::vector<IPAddr> addrs = LookupStaticHost(opts.hosts_path, host);
  if (addrs.empty()) {
    const int family = Only4(net)   ? AF_INET
                       : Only6(net) ? AF_INET6
                                               : AF_UNSPEC;
    SystemLookupResult r =
        opts.system_lookup ? opts.system_lookup(host, family) : GetAddrInfo(host, family);
    if (r.gai_error != 0 || r.addrs.empty()) {
      const std::string server = DNSServer(opts.resolv_conf_path);
      switch (r.gai_error) {
        case 0:
        case EAI_NONAME:
#ifdef EAI_NODATA
        case EAI_NODATA:
#endif
          not_found.server = server;
          return MakeDNSError(not_found);
        case EAI_AGAIN:
          return MakeDNSError({"i/o timeout", host, "", true, true, false});
        case EAI_FAIL:
          return MakeDNSError({"server misbehaving", host, server, false, true, false});
        case EAI_SYSTEM: {
          const std::string text = ErrnoText(r.sys_errno);
          return MakeDNSError({text, host, "", false, false, false});
        }
        default:
          return MakeDNSError({gai_strerror(r.gai_error), host, "", false, false, false});
      }
    }
    addrs = std::move(r.addrs);
  }
  SortByRFC6724(&addrs, caps);
  return addrs;
}

absl::StatusOr<std::vector<IPAddr>> LookupIPAddr(Network net, std::string_view host) {
  static const ResolverOptions* const defaults = new ResolverOptions();
  return LookupIPAddr(net, host, *defaults);
}

}  // namespace gonet::net_internal
