// libFuzzer target for the address parsers of net/addr.h: SplitHostPort,
// JoinHostPort, ParseIP/ParseIPZone/IPString and ParsePort. Besides "no crash,
// no sanitizer report" it checks round trips:
//   - JoinHostPort(SplitHostPort(x)) splits back to the same (host, port);
//   - ParseIP(IPString(ip)) is the same address (4-byte and v4-mapped alike),
//     and printing is stable: IPString(ParseIP(IPString(ip))) == IPString(ip);
//   - ParseIPZone keeps the zone and the same IP as ParseIP without it;
//   - ParsePort's answer is 0..65535, and "+<n>" parses as n.
// Build and run: net/fuzz/run_fuzz.sh [seconds].

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>

#include "net/addr.h"
#include "net/net.h"

namespace {

using gonet::net_internal::IPAddr;
using gonet::net_internal::IPEqual;
using gonet::net_internal::IPString;
using gonet::net_internal::ParseIP;
using gonet::net_internal::ParseIPZone;
using gonet::net_internal::ParsePort;
using gonet::net_internal::ServiceTable;

void Check(bool ok, const char* what, std::string_view input) {
  if (ok) return;
  std::fprintf(stderr, "round-trip property violated: %s; input (%zu bytes): \"%.*s\"\n", what,
               input.size(), static_cast<int>(input.size()), input.data());
  std::abort();
}

void CheckIP(std::string_view s) {
  std::optional<IPAddr> ip = ParseIP(s);
  if (ip.has_value()) {
    Check(ip->len == 4 || ip->len == 16, "ParseIP length", s);
    const std::string printed = IPString(ip->bytes());
    std::optional<IPAddr> again = ParseIP(printed);
    Check(again.has_value(), "ParseIP(IPString(ip)) parses", s);
    Check(IPEqual(again->bytes(), ip->bytes()), "ParseIP(IPString(ip)) == ip", s);
    Check(IPString(again->bytes()) == printed, "IPString stable", s);
  }
  std::optional<IPAddr> zoned = ParseIPZone(s);
  if (zoned.has_value()) {
    const size_t pct = s.rfind('%');
    const bool has_zone = zoned->len == 16 && pct != std::string_view::npos && pct > 0;
    std::optional<IPAddr> bare = ParseIP(has_zone ? s.substr(0, pct) : s);
    Check(bare.has_value() && IPEqual(bare->bytes(), zoned->bytes()), "ParseIPZone ip", s);
    Check(zoned->zone == (has_zone ? s.substr(pct + 1) : std::string_view()), "zone", s);
    // An Addr prints as host:port that splits back to "ip%zone". Two
    // exceptions Go shares (its TCPAddr.String() prints the same text): a zone
    // holding a bracket makes text SplitHostPort rejects, and a v4-mapped IP
    // with a zone prints dotted ("1.2.3.4%eth0"), which is no IP literal.
    if (zoned->zone.find_first_of("[]") != std::string::npos) return;
    if (!zoned->zone.empty() && gonet::net_internal::IsIPv4(zoned->bytes())) return;
    gonet::net::Addr a(zoned->bytes(), 80, zoned->zone);
    absl::StatusOr<std::pair<std::string, std::string>> hp = gonet::net::SplitHostPort(a.String());
    Check(hp.ok() && hp->second == "80", "Addr.String splits", s);
    std::optional<IPAddr> back = ParseIPZone(hp->first);
    Check(back.has_value() && IPEqual(back->bytes(), zoned->bytes()) && back->zone == zoned->zone,
          "Addr.String host parses back", s);
  } else {
    Check(!ip.has_value(), "ParseIP ok but ParseIPZone not", s);
  }
}

void CheckSplit(std::string_view s) {
  absl::StatusOr<std::pair<std::string, std::string>> r = gonet::net::SplitHostPort(s);
  if (!r.ok()) {
    Check(r.status().code() == absl::StatusCode::kInvalidArgument, "split error code", s);
    return;
  }
  const std::string joined = gonet::net::JoinHostPort(r->first, r->second);
  absl::StatusOr<std::pair<std::string, std::string>> again = gonet::net::SplitHostPort(joined);
  Check(again.ok(), "re-split of JoinHostPort(SplitHostPort(x)) succeeds", s);
  Check(*again == *r, "re-split gives the same pair", s);
}

void CheckPort(std::string_view s) {
  static const ServiceTable* const services =
      new ServiceTable(ServiceTable::ForTCP("http-alt 8080/tcp webcache\n"));
  absl::StatusOr<int> p = ParsePort(s, *services);
  if (p.ok()) {
    Check(*p >= 0 && *p <= 65535, "port range", s);
    if (!s.empty() && s[0] != '+' && s[0] != '-') {
      absl::StatusOr<int> plus = ParsePort("+" + std::string(s), *services);
      const bool numeric = s.find_first_not_of("0123456789") == std::string_view::npos;
      if (numeric) Check(plus.ok() && *plus == *p, "+n == n", s);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  CheckSplit(s);
  CheckIP(s);
  CheckPort(s);
  // Also the pieces of a host:port, as Dial would see them.
  std::string_view host, port;
  if (gonet::net_internal::SplitHostPortView(s, &host, &port).ok()) {
    CheckIP(host);
    CheckPort(port);
  }
  return 0;
}
