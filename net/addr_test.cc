// Tests for net/addr.h and the address half of net/net.h. The golden tables
// marked "observed" were printed by go1.19.8 (net.ParseIP(s).String(),
// net.SplitHostPort, net.LookupPort("tcp", s)) on linux/amd64.

#include "net/addr.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/errors.h"
#include "net/net.h"

namespace gonet::net_internal {
namespace {

using ::absl::StatusCode;
using ::testing::ElementsAre;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

constexpr absl::Span<const uint8_t> kNoIP;

IPAddr MustParse(std::string_view s) {
  std::optional<IPAddr> ip = ParseIPZone(s);
  EXPECT_TRUE(ip.has_value()) << s;
  return ip.value_or(IPAddr{});
}

// ---- IP parsing and printing. ----

struct IPRow {
  const char* in;
  const char* printed;  // nullptr: not an IP
};

// Observed: net.ParseIP(in).String() (nil -> not an IP).
constexpr IPRow kIPRows[] = {
    {"1.2.3.4", "1.2.3.4"},
    {"0.0.0.0", "0.0.0.0"},
    {"255.255.255.255", "255.255.255.255"},
    {"256.1.1.1", nullptr},
    {"1.2.3", nullptr},
    {"1.2.3.4.5", nullptr},
    {"01.2.3.4", nullptr},
    {"1.2.3.04", nullptr},
    {"1.2.3.0", "1.2.3.0"},
    {"00.1.2.3", nullptr},
    {"1..2.3", nullptr},
    {".1.2.3", nullptr},
    {"1.2.3.", nullptr},
    {"1.2.3.-4", nullptr},
    {"1.2.3.+4", nullptr},
    {" 1.2.3.4", nullptr},
    {"1.2.3.4 ", nullptr},
    {"1.2.3.4%eth0", nullptr},
    {"1.2.3.1000", nullptr},
    {"::", "::"},
    {"::1", "::1"},
    {"1::", "1::"},
    {"::ffff:1.2.3.4", "1.2.3.4"},
    {"::ffff:0.0.0.0", "0.0.0.0"},
    {"::1.2.3.4", "::102:304"},
    {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
    {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
    {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
    {"1:2:3:4:5:6:7:8:9", nullptr},
    {"1:2:3:4:5:6:7", nullptr},
    {"1::2::3", nullptr},
    {":::", nullptr},
    {"1:::2", nullptr},
    {"fe80::1", "fe80::1"},
    {"FE80::ABCD", "fe80::abcd"},
    {"2001:db8::", "2001:db8::"},
    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
    {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
    {"0:0:0:0:0:0:0:0", "::"},
    {"0:0:0:0:0:0:0:1", "::1"},
    {"00000::1", "::1"},
    {"12345::1", nullptr},
    {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
    {"1:2:3:4:5:6:7:1.2.3.4", nullptr},
    {"1:2:3:4:5:1.2.3.4", nullptr},
    {"::1.2.3.4:5", nullptr},
    {"1.2.3.4::", nullptr},
    {"::ffff:1.2.3", nullptr},
    {"::ffff:01.2.3.4", nullptr},
    {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
    {"1:0:0:0:2:0:0:3", "1::2:0:0:3"},
    {"0:1:0:0:0:0:0:0", "0:1::"},
    {"1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"},
    {":1::", nullptr},
    {"1:", nullptr},
    {":1", nullptr},
    {"fe80::1%eth0", nullptr},
    {"g::1", nullptr},
    {"::g", nullptr},
    {"::ffff:ffff:ffff", "255.255.255.255"},
    {"64:ff9b::1.2.3.4", "64:ff9b::102:304"},
    {"::ffff:192.168.1.1", "192.168.1.1"},
    {"0::ffff:1.2.3.4", "1.2.3.4"},
    {"0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"},
    {"", nullptr},
    {"a", nullptr},
    {"1", nullptr},
    {"::0:0:0:0:0:0:0", "::"},
    {"1:2:3:4:5:6:7:8::", nullptr},
    {"::1:2:3:4:5:6:7", "0:1:2:3:4:5:6:7"},
    {"1:2:3:4::5:6:7:8", nullptr},
    {"abcd:ef01:2345:6789:abcd:ef01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"},
    {"0001:0002::", "1:2::"},
    {"1.2.3.4:80", nullptr},
    {"[::1]", nullptr},
};

TEST(ParseIP, MatchesGo) {
  for (const IPRow& row : kIPRows) {
    std::optional<IPAddr> ip = ParseIP(row.in);
    if (row.printed == nullptr) {
      EXPECT_FALSE(ip.has_value()) << "\"" << row.in << "\" parsed as " << IPString(ip->bytes());
      continue;
    }
    ASSERT_TRUE(ip.has_value()) << row.in;
    EXPECT_EQ(IPString(ip->bytes()), row.printed) << row.in;
    // parse(print(ip)) == ip, comparing 4-byte and v4-mapped forms alike.
    std::optional<IPAddr> again = ParseIP(IPString(ip->bytes()));
    ASSERT_TRUE(again.has_value()) << row.in;
    EXPECT_TRUE(IPEqual(again->bytes(), ip->bytes())) << row.in;
  }
}

TEST(ParseIP, StorageForms) {
  EXPECT_EQ(MustParse("1.2.3.4").len, 4);
  EXPECT_EQ(MustParse("::ffff:1.2.3.4").len, 16);
  EXPECT_TRUE(IsIPv4(MustParse("::ffff:1.2.3.4").bytes()));
  EXPECT_FALSE(IsIPv4(MustParse("::1.2.3.4").bytes()));
  EXPECT_TRUE(IPEqual(MustParse("1.2.3.4").bytes(), MustParse("::ffff:1.2.3.4").bytes()));
  EXPECT_FALSE(IPEqual(MustParse("1.2.3.4").bytes(), MustParse("::1.2.3.4").bytes()));
  const std::array<uint8_t, 16> mapped = To16(MustParse("127.0.0.1").bytes());
  EXPECT_EQ(IPString(mapped), "127.0.0.1");
}

TEST(ParseIP, Predicates) {
  EXPECT_TRUE(IsUnspecified(MustParse("0.0.0.0").bytes()));
  EXPECT_TRUE(IsUnspecified(MustParse("::").bytes()));
  EXPECT_TRUE(IsUnspecified(MustParse("::ffff:0.0.0.0").bytes()));
  EXPECT_FALSE(IsUnspecified(MustParse("::1").bytes()));
  EXPECT_FALSE(IsUnspecified({}));
  EXPECT_TRUE(IsLoopback(MustParse("127.3.2.1").bytes()));
  EXPECT_TRUE(IsLoopback(MustParse("::ffff:127.0.0.1").bytes()));
  EXPECT_TRUE(IsLoopback(MustParse("::1").bytes()));
  EXPECT_FALSE(IsLoopback(MustParse("::2").bytes()));
}

TEST(ParseIPZone, Zones) {
  IPAddr ip = MustParse("fe80::1%eth0");
  EXPECT_EQ(IPString(ip.bytes()), "fe80::1");
  EXPECT_EQ(ip.zone, "eth0");
  EXPECT_EQ(MustParse("fe80::1%").zone, "");            // empty zone
  EXPECT_FALSE(ParseIPZone("fe80::1%a%b").has_value());  // split at the last %: "fe80::1%a" is no IP
  EXPECT_FALSE(ParseIPZone("1.2.3.4%eth0").has_value());  // IPv4 takes no zone
  EXPECT_FALSE(ParseIPZone("%eth0").has_value());
  EXPECT_FALSE(ParseIP("fe80::1%eth0").has_value());       // ParseIP takes no zone
  EXPECT_EQ(MustParse("::1").zone, "");
}

TEST(IPString, OddLengths) {
  EXPECT_EQ(IPString({}), "<nil>");
  const uint8_t three[] = {1, 2, 3};
  EXPECT_EQ(IPString(three), "?010203");  // observed: TCPAddr{IP: {1,2,3}} prints "?010203:5"
}

// ---- SplitHostPort / JoinHostPort (7.1, 7.2). ----

struct SplitRow {
  const char* in;
  const char* host;
  const char* port;
  const char* err;  // nullptr: ok
};

// Observed: net.SplitHostPort(in). Includes every row of docs/behavior.md §7.1.
constexpr SplitRow kSplitRows[] = {
    {"host:80", "host", "80", nullptr},
    {"[::1]:80", "::1", "80", nullptr},
    {"[fe80::1%eth0]:80", "fe80::1%eth0", "80", nullptr},
    {":80", "", "80", nullptr},
    {"host:", "host", "", nullptr},
    {":", "", "", nullptr},
    {"[::1]:", "::1", "", nullptr},
    {"[]:80", "", "80", nullptr},
    {"[host]:80", "host", "80", nullptr},
    {"host:http", "host", "http", nullptr},
    {"host:80:90", "", "", "address host:80:90: too many colons in address"},
    {"host", "", "", "address host: missing port in address"},
    {"", "", "", "missing port in address"},
    {"::1", "", "", "address ::1: too many colons in address"},
    {"::1:80", "", "", "address ::1:80: too many colons in address"},
    {"[::1]", "", "", "address [::1]: missing port in address"},
    {"[::1]80", "", "", "address [::1]80: missing port in address"},
    {"[::1]x:80", "", "", "address [::1]x:80: missing port in address"},
    {"[::1]:80:90", "", "", "address [::1]:80:90: too many colons in address"},
    {"[::1]]:80", "", "", "address [::1]]:80: missing port in address"},
    {"[[::1]:80", "", "", "address [[::1]:80: unexpected '[' in address"},
    {"[host:80", "", "", "address [host:80: missing ']' in address"},
    {"[::1:80", "", "", "address [::1:80: missing ']' in address"},
    {"host]:80", "", "", "address host]:80: unexpected ']' in address"},
    {"a[b]:80", "", "", "address a[b]:80: unexpected '[' in address"},
    {"a]b:80", "", "", "address a]b:80: unexpected ']' in address"},
    {"host:8[0", "", "", "address host:8[0: unexpected '[' in address"},
    {"host:8]0", "", "", "address host:8]0: unexpected ']' in address"},
    {"[", "", "", "address [: missing port in address"},
    {"]", "", "", "address ]: missing port in address"},
    {"[:", "", "", "address [:: missing ']' in address"},
    {"[]", "", "", "address []: missing port in address"},
    {"[]:", "", "", nullptr},
    {"]:", "", "", "address ]:: unexpected ']' in address"},
    {":[", "", "", "address :[: unexpected '[' in address"},
    {"[a]:b]", "", "", "address [a]:b]: unexpected ']' in address"},
    {"[a]:[b", "", "", "address [a]:[b: unexpected '[' in address"},
    {"[:]:", ":", "", nullptr},
    {"[::1]:80]", "", "", "address [::1]:80]: unexpected ']' in address"},
    {"x:]", "", "", "address x:]: unexpected ']' in address"},
};

TEST(SplitHostPort, MatchesGo) {
  for (const SplitRow& row : kSplitRows) {
    absl::StatusOr<std::pair<std::string, std::string>> r = net::SplitHostPort(row.in);
    if (row.err != nullptr) {
      ASSERT_FALSE(r.ok()) << row.in;
      EXPECT_EQ(r.status().message(), row.err) << row.in;
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      EXPECT_EQ(InfoOf(r.status()).kind, ErrorKind::kAddr);
      continue;
    }
    ASSERT_TRUE(r.ok()) << row.in << ": " << r.status();
    EXPECT_EQ(r->first, row.host) << row.in;
    EXPECT_EQ(r->second, row.port) << row.in;
    // JoinHostPort(SplitHostPort(x)) splits back to the same pair.
    absl::StatusOr<std::pair<std::string, std::string>> again =
        net::SplitHostPort(net::JoinHostPort(r->first, r->second));
    ASSERT_TRUE(again.ok()) << row.in;
    EXPECT_EQ(*again, *r) << row.in;
  }
}

TEST(JoinHostPort, MatchesGo) {
  // docs/behavior.md §7.2, observed.
  EXPECT_EQ(net::JoinHostPort("::1", "80"), "[::1]:80");
  EXPECT_EQ(net::JoinHostPort("fe80::1%eth0", "80"), "[fe80::1%eth0]:80");
  EXPECT_EQ(net::JoinHostPort("", "80"), ":80");
  EXPECT_EQ(net::JoinHostPort("[::1]", "80"), "[[::1]]:80");
  EXPECT_EQ(net::JoinHostPort("1.2.3.4", ""), "1.2.3.4:");
  EXPECT_EQ(net::JoinHostPort("host", "http"), "host:http");
}

// ---- net::Addr. ----

net::Addr AddrOf(std::string_view ip, int port) {
  IPAddr p = MustParse(ip);
  return net::Addr(p.bytes(), port, p.zone);
}

TEST(Addr, StringAsGoTCPAddr) {
  // docs/behavior.md §7.2, observed.
  EXPECT_EQ(net::Addr().String(), ":0");
  EXPECT_EQ(net::Addr(kNoIP, 80).String(), ":80");
  EXPECT_EQ(AddrOf("0.0.0.0", 0).String(), "0.0.0.0:0");
  EXPECT_EQ(AddrOf("::", 0).String(), "[::]:0");
  EXPECT_EQ(AddrOf("fe80::1%eth0", 80).String(), "[fe80::1%eth0]:80");
  EXPECT_EQ(AddrOf("::ffff:1.2.3.4", 80).String(), "1.2.3.4:80");
  EXPECT_EQ(AddrOf("127.0.0.1", 8888).String(), "127.0.0.1:8888");
  EXPECT_EQ(AddrOf("::1", 8888).String(), "[::1]:8888");
  EXPECT_EQ(AddrOf("fe80::1", 5).String(), "[fe80::1]:5");
  EXPECT_EQ(net::Addr().Network(), "tcp");
  EXPECT_EQ(AddrOf("::1", 7).Port(), 7);
  const uint8_t bad[] = {1, 2, 3};
  EXPECT_EQ(net::Addr(bad, 1).String(), ":1");  // bad lengths keep no IP
}

TEST(Addr, Predicates) {
  EXPECT_TRUE(net::Addr().IsWildcard());
  EXPECT_TRUE(AddrOf("0.0.0.0", 1).IsWildcard());
  EXPECT_TRUE(AddrOf("::", 1).IsWildcard());
  EXPECT_FALSE(AddrOf("::1", 1).IsWildcard());
  EXPECT_TRUE(AddrOf("::ffff:10.0.0.1", 1).IsIPv4());
  EXPECT_FALSE(AddrOf("::1", 1).IsIPv4());
  EXPECT_FALSE(net::Addr().IsIPv4());
  EXPECT_EQ(AddrOf("::1", 1), AddrOf("::1", 1));
  EXPECT_NE(AddrOf("::1", 1), AddrOf("::1", 2));
  EXPECT_NE(AddrOf("fe80::1%a", 1), AddrOf("fe80::1%b", 1));
}

TEST(Addr, FromSockaddr) {
  sockaddr_in in{};
  in.sin_family = AF_INET;
  in.sin_port = htons(8080);
  inet_pton(AF_INET, "127.0.0.1", &in.sin_addr);
  net::Addr a = net::Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&in), sizeof(in));
  EXPECT_EQ(a.String(), "127.0.0.1:8080");
  EXPECT_EQ(a.IP().size(), 4u);

  sockaddr_storage ss{};
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  in6->sin6_family = AF_INET6;
  in6->sin6_port = htons(443);
  inet_pton(AF_INET6, "::ffff:127.0.0.1", &in6->sin6_addr);
  EXPECT_EQ(net::Addr(ss).String(), "127.0.0.1:443");  // accepted v4 peer of a dual-stack socket
  inet_pton(AF_INET6, "fe80::1", &in6->sin6_addr);
  in6->sin6_scope_id = 1;
  char name[IF_NAMESIZE];
  const std::string zone = if_indextoname(1, name) != nullptr ? name : "1";
  EXPECT_EQ(net::Addr(ss).String(), "[fe80::1%" + zone + "]:443");
  in6->sin6_scope_id = 0;
  EXPECT_EQ(net::Addr(ss).String(), "[fe80::1]:443");

  sockaddr_storage unix_ss{};
  unix_ss.ss_family = AF_UNIX;
  EXPECT_EQ(net::Addr(unix_ss), net::Addr::Unix("unix", "@"));  // unnamed (see UnixAddr)
  EXPECT_EQ(net::Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&in), 4), net::Addr());  // short
  EXPECT_EQ(net::Addr::FromSockaddr(nullptr, 0), net::Addr());
}

TEST(Addr, ToSockaddrRoundTrip) {
  for (const char* text : {"127.0.0.1", "::1", "fe80::1%7", "::ffff:10.1.2.3", "2001:db8::5"}) {
    net::Addr a = AddrOf(text, 1234);
    const int family = a.IsIPv4() ? AF_INET : AF_INET6;
    sockaddr_storage ss;
    absl::StatusOr<socklen_t> len = a.ToSockaddr(family, &ss);
    ASSERT_TRUE(len.ok()) << len.status();
    net::Addr back = net::Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), *len);
    EXPECT_EQ(back.String(), a.String()) << text;
    EXPECT_TRUE(IPEqual(back.IP(), a.IP())) << text;
  }
}

TEST(Addr, ToSockaddrGoRules) {
  sockaddr_storage ss;
  // AF_INET: no IP -> 0.0.0.0; IPv6 -> error.
  ASSERT_TRUE(net::Addr(kNoIP, 80).ToSockaddr(AF_INET, &ss).ok());
  auto* in = reinterpret_cast<sockaddr_in*>(&ss);
  EXPECT_EQ(in->sin_addr.s_addr, htonl(INADDR_ANY));
  EXPECT_EQ(ntohs(in->sin_port), 80);
  absl::StatusOr<socklen_t> bad = AddrOf("::1", 80).ToSockaddr(AF_INET, &ss);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "address ::1: non-IPv4 address");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  // AF_INET6: no IP and 0.0.0.0 both become ::; IPv4 becomes v4-mapped.
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
  for (const net::Addr& wild : {net::Addr(kNoIP, 1), AddrOf("0.0.0.0", 1)}) {
    ASSERT_TRUE(wild.ToSockaddr(AF_INET6, &ss).ok());
    EXPECT_TRUE(IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr)) << wild.String();
  }
  ASSERT_TRUE(AddrOf("127.0.0.1", 1).ToSockaddr(AF_INET6, &ss).ok());
  EXPECT_TRUE(IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr));
  // Zones: a decimal index is used as is; an unknown name gives 0.
  ASSERT_TRUE(AddrOf("fe80::1%42", 1).ToSockaddr(AF_INET6, &ss).ok());
  EXPECT_EQ(in6->sin6_scope_id, 42u);
  ASSERT_TRUE(AddrOf("fe80::1%no-such-if0", 1).ToSockaddr(AF_INET6, &ss).ok());
  EXPECT_EQ(in6->sin6_scope_id, 0u);
  EXPECT_FALSE(AddrOf("::1", 1).ToSockaddr(AF_UNIX, &ss).ok());
}

// ---- Ports (7.3). ----

constexpr char kServices[] =
    "# test services(5) file\n"
    "domain\t\t53/tcp\t\t\t\t# Domain Name Server\n"
    "domain\t\t53/udp\n"
    "http\t\t80/tcp\t\twww\t\t# WorldWideWeb HTTP\n"
    "http-alt\t8080/tcp\twebcache\n"
    "udponly\t\t999/udp\n"
    "zero\t\t0/tcp\n"
    "junk\t\tabc/tcp\n"
    "noslash\t\t77\n"
    "Mixed\t\t4242/tcp\n"
    "ssh\t\t2222/tcp\n";  // later entries override the built-in table

struct PortRow {
  const char* in;
  int port;         // when err == nullptr
  const char* err;  // nullptr: ok
};

// Observed: net.LookupPort("tcp", in), with the services above.
constexpr PortRow kPortRows[] = {
    {"", 0, nullptr},
    {"0", 0, nullptr},
    {"80", 80, nullptr},
    {"+80", 80, nullptr},
    {"-1", -1, "address -1: invalid port"},
    {"-0", 0, nullptr},
    {"+", 0, nullptr},
    {"-", 0, nullptr},
    {"65535", 65535, nullptr},
    {"65536", -1, "address 65536: invalid port"},
    {"99999", -1, "address 99999: invalid port"},
    {"4294967296", -1, "address 4294967296: invalid port"},
    {"99999999999999999999", -1, "address 99999999999999999999: invalid port"},
    {"999999999999999999x", -1, "address 999999999999999999x: invalid port"},
    {"http", 80, nullptr},
    {"HTTP", 80, nullptr},
    {"Https", 443, nullptr},
    {"ssh", 2222, nullptr},  // 22 built in, overridden by kServices
    {"nosuchservice", -1, "address tcp/nosuchservice: unknown port"},
    {"8o", -1, "address tcp/8o: unknown port"},
    {"80 ", -1, "address tcp/80 : unknown port"},
    {" 80", -1, "address tcp/ 80: unknown port"},
    {"+-1", -1, "address tcp/+-1: unknown port"},
    {"--1", -1, "address tcp/--1: unknown port"},
    {"0080", 80, nullptr},
    {"domain", 53, nullptr},
    {"www", 80, nullptr},
    {"http-alt", 8080, nullptr},
    {"1073741823", -1, "address 1073741823: invalid port"},
    {"1073741824", -1, "address 1073741824: invalid port"},
    {"-1073741824", -1, "address -1073741824: invalid port"},
    {"-1073741825", -1, "address -1073741825: invalid port"},
    {"-99999999999999", -1, "address -99999999999999: invalid port"},
};

TEST(ParsePort, MatchesGo) {
  const ServiceTable services = ServiceTable::ForTCP(kServices);
  for (const PortRow& row : kPortRows) {
    absl::StatusOr<int> p = ParsePort(row.in, services);
    if (row.err != nullptr) {
      ASSERT_FALSE(p.ok()) << row.in << " -> " << *p;
      EXPECT_EQ(p.status().message(), row.err);
      EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_TRUE(p.ok()) << row.in << ": " << p.status();
    EXPECT_EQ(*p, row.port) << row.in;
  }
}

TEST(ParsePort, ServicesFileRules) {
  const ServiceTable services = ServiceTable::ForTCP(kServices);
  EXPECT_EQ(services.Lookup("webcache"), 8080);  // aliases count
  EXPECT_EQ(services.Lookup("WebCache"), 8080);
  EXPECT_EQ(services.Lookup("udponly"), std::nullopt);
  EXPECT_EQ(services.Lookup("zero"), std::nullopt);  // port must be > 0
  EXPECT_EQ(services.Lookup("junk"), std::nullopt);
  EXPECT_EQ(services.Lookup("noslash"), std::nullopt);
  // Keys are kept as written and the query is lowercased, as in Go: an
  // uppercase entry never matches.
  EXPECT_EQ(services.Lookup("Mixed"), std::nullopt);
  EXPECT_EQ(services.Lookup("gopher"), 70);
  EXPECT_EQ(services.Lookup(std::string(33, 'a')), std::nullopt);
  EXPECT_EQ(ServiceTable::ForTCP("").Lookup("https"), 443);
  EXPECT_EQ(ServiceTable::ForTCP("").Lookup("www"), std::nullopt);
}

TEST(ParsePort, DefaultTableHasTheBuiltIns) {
  const std::pair<const char*, int> builtins[] = {
      {"ftp", 21},    {"ftps", 990},  {"gopher", 70}, {"http", 80},  {"https", 443},
      {"imap2", 143}, {"imap3", 220}, {"imaps", 993}, {"pop3", 110}, {"pop3s", 995},
      {"smtp", 25},   {"ssh", 22},    {"telnet", 23}};
  for (const auto& [name, port] : builtins) {
    absl::StatusOr<int> p = ParsePort(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(*p, port) << name;
  }
  EXPECT_EQ(ParsePort("nosuchservice").status().message(),
            "address tcp/nosuchservice: unknown port");
  EXPECT_EQ(&DefaultServices(), &DefaultServices());
}

// ---- Networks. ----

TEST(ParseNetwork, TcpAndUdp) {
  EXPECT_EQ(*ParseNetwork("tcp"), Network::kTCP);
  EXPECT_EQ(*ParseNetwork("tcp4"), Network::kTCP4);
  EXPECT_EQ(*ParseNetwork("tcp6"), Network::kTCP6);
  EXPECT_EQ(*ParseNetwork("udp"), Network::kUDP);
  EXPECT_EQ(*ParseNetwork("udp4"), Network::kUDP4);
  EXPECT_EQ(*ParseNetwork("udp6"), Network::kUDP6);
  for (const char* n : {"foo", "TCP", "tcp:6", "", "ip4:", "udp:1", "tcp7"}) {
    absl::StatusOr<Network> r = ParseNetwork(n);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().message(), std::string("unknown network ") + n);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  }
  for (const char* n : {"ip", "ip4", "ip6:tcp", "ip4:1", "unix", "unixgram", "unixpacket"}) {
    absl::StatusOr<Network> r = ParseNetwork(n);
    ASSERT_FALSE(r.ok()) << n;
    EXPECT_EQ(r.status().message(), std::string("unsupported network ") + n);
    EXPECT_EQ(r.status().code(), StatusCode::kUnimplemented);
  }
  EXPECT_EQ(NetworkName(Network::kTCP6), "tcp6");
  EXPECT_EQ(NetworkName(Network::kUDP4), "udp4");
}

TEST(UnixAddr, SockaddrRoundTripAndGoNames) {
  using net::Addr;
  sockaddr_storage ss{};
  auto len = Addr::Unix("unix", "/tmp/x.sock").ToSockaddr(AF_UNIX, &ss);
  ASSERT_TRUE(len.ok());
  EXPECT_EQ(*len, offsetof(sockaddr_un, sun_path) + 12);  // name and its NUL
  Addr back = Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), *len);
  EXPECT_EQ(back, Addr::Unix("unix", "/tmp/x.sock"));
  EXPECT_EQ(back.String(), "/tmp/x.sock");
  EXPECT_EQ(back.Network(), "unix");
  // Abstract: '@' is the leading NUL, which the length does not count twice.
  len = Addr::Unix("unixgram", "@gonet").ToSockaddr(AF_UNIX, &ss);
  ASSERT_TRUE(len.ok());
  EXPECT_EQ(*len, offsetof(sockaddr_un, sun_path) + 6);
  EXPECT_EQ(reinterpret_cast<sockaddr_un*>(&ss)->sun_path[0], '\0');
  back = Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), *len).WithKind(Addr::Kind::kUnixgram);
  EXPECT_EQ(back.String(), "@gonet");
  EXPECT_EQ(back.Network(), "unixgram");
  // An unnamed socket (family only) reads "@", as Go's syscall package shows it.
  sockaddr_un unnamed{};
  unnamed.sun_family = AF_UNIX;
  EXPECT_EQ(Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&unnamed),
                               offsetof(sockaddr_un, sun_path)).String(),
            "@");
  // Longer than sun_path: EINVAL, as Go.
  auto too_long = Addr::Unix("unix", std::string(sizeof(sockaddr_un{}.sun_path), 'a'))
                      .ToSockaddr(AF_UNIX, &ss);
  ASSERT_FALSE(too_long.ok());
  EXPECT_EQ(too_long.status().message(), "invalid argument");
  EXPECT_EQ(Addr::Pipe().String(), "pipe");
  EXPECT_EQ(Addr::Nil().String(), "<nil>");
  EXPECT_NE(Addr::UDP({}, 53), Addr({}, 53));
  EXPECT_EQ(Addr::UDP({}, 53).Network(), "udp");
}

// ---- favoriteAddrFamily (5.3). ----

TEST(FavoriteAddrFamily, ObservedListenTable) {
  const StackCaps dual{true, true, true};
  const FamilyChoice v6dual{AF_INET6, false}, v6only{AF_INET6, true}, v4{AF_INET, false};
  auto listen = [&](Network net, std::optional<net::Addr> laddr, const StackCaps& caps) {
    return FavoriteAddrFamily(net, laddr ? &*laddr : nullptr, nullptr, SockMode::kListen, caps);
  };
  // docs/behavior.md §5.3's table.
  EXPECT_EQ(listen(Network::kTCP, net::Addr(kNoIP, 0), dual), v6dual);        // ":0"
  EXPECT_EQ(listen(Network::kTCP, AddrOf("0.0.0.0", 0), dual), v6dual);    // "0.0.0.0:0"
  EXPECT_EQ(listen(Network::kTCP, AddrOf("::", 0), dual), v6dual);         // "[::]:0"
  EXPECT_EQ(listen(Network::kTCP, AddrOf("127.0.0.1", 0), dual), v4);      // "127.0.0.1:0"
  EXPECT_EQ(listen(Network::kTCP, AddrOf("::1", 0), dual), v6dual);        // "[::1]:0"
  EXPECT_EQ(listen(Network::kTCP4, net::Addr(kNoIP, 0), dual), v4);          // tcp4 ":0"
  EXPECT_EQ(listen(Network::kTCP6, net::Addr(kNoIP, 0), dual), v6only);      // tcp6 ":0"
  EXPECT_EQ(listen(Network::kTCP6, AddrOf("::", 0), dual), v6only);       // tcp6 "[::]:0"
  EXPECT_EQ(listen(Network::kTCP, std::nullopt, dual), v6dual);
  // A stack without IPv4-mapped support listens on the laddr's own family.
  const StackCaps no_map{true, true, false};
  EXPECT_EQ(listen(Network::kTCP, net::Addr(kNoIP, 0), no_map), v4);
  EXPECT_EQ(listen(Network::kTCP, std::nullopt, no_map), v4);
  EXPECT_EQ(listen(Network::kTCP, AddrOf("::", 0), no_map), v6dual);
  // No IPv4 at all: AF_INET6.
  const StackCaps v6_only_stack{false, true, false};
  EXPECT_EQ(listen(Network::kTCP, net::Addr(kNoIP, 0), v6_only_stack), v6dual);
}

TEST(FavoriteAddrFamily, Dial) {
  const StackCaps dual{true, true, true};
  auto dial = [&](Network net, const net::Addr* l, const net::Addr& r) {
    return FavoriteAddrFamily(net, l, &r, SockMode::kDial, dual);
  };
  const net::Addr v4r = AddrOf("127.0.0.1", 1), v6r = AddrOf("::1", 1), nor = net::Addr(kNoIP, 1);
  const net::Addr v4l = AddrOf("127.0.0.1", 0), v6l = AddrOf("::1", 0);
  EXPECT_EQ(dial(Network::kTCP, nullptr, v4r), (FamilyChoice{AF_INET, false}));
  EXPECT_EQ(dial(Network::kTCP, nullptr, nor), (FamilyChoice{AF_INET, false}));  // ":port"
  EXPECT_EQ(dial(Network::kTCP, nullptr, v6r), (FamilyChoice{AF_INET6, false}));
  EXPECT_EQ(dial(Network::kTCP, nullptr, AddrOf("::", 1)), (FamilyChoice{AF_INET6, false}));
  EXPECT_EQ(dial(Network::kTCP, &v4l, v4r), (FamilyChoice{AF_INET, false}));
  EXPECT_EQ(dial(Network::kTCP, &v6l, v4r), (FamilyChoice{AF_INET6, false}));
  EXPECT_EQ(dial(Network::kTCP, &v4l, AddrOf("::ffff:127.0.0.1", 1)), (FamilyChoice{AF_INET, false}));
  EXPECT_EQ(dial(Network::kTCP6, nullptr, v6r), (FamilyChoice{AF_INET6, true}));
  EXPECT_EQ(dial(Network::kTCP4, nullptr, v4r), (FamilyChoice{AF_INET, false}));
  // A specific listen address follows the dial rule.
  EXPECT_EQ(FavoriteAddrFamily(Network::kTCP, &v4l, nullptr, SockMode::kListen, dual),
            (FamilyChoice{AF_INET, false}));
}

TEST(ProbeStack, OncePerProcess) {
  const StackCaps& caps = ProbeStack();
  EXPECT_EQ(&caps, &ProbeStack());
  EXPECT_TRUE(caps.ipv4);  // every supported machine has IPv4 loopback
}

// ---- Address lists (7.4, 8.2). ----

absl::StatusOr<std::vector<IPAddr>> FakeLookup(Network, std::string_view host) {
  if (host == "localhost") return std::vector<IPAddr>{MustParse("127.0.0.1")};
  if (host == "dual.test") return std::vector<IPAddr>{MustParse("::1"), MustParse("127.0.0.1")};
  if (host == "three.test") {
    return std::vector<IPAddr>{MustParse("127.0.0.2"), MustParse("127.0.0.3"),
                               MustParse("127.0.0.4")};
  }
  if (host == "he.test") {
    return std::vector<IPAddr>{MustParse("::1"), MustParse("127.0.0.1"), MustParse("::2"),
                               MustParse("127.0.0.2")};
  }
  if (host == "zero6.test") return std::vector<IPAddr>{MustParse("::")};
  return MakeDNSError({kNoSuchHost, host, "10.255.255.53:53", false, false, true});
}

std::vector<std::string> Strings(const std::vector<net::Addr>& addrs) {
  std::vector<std::string> out;
  for (const net::Addr& a : addrs) out.push_back(a.String());
  return out;
}

// Go's ResolveTCPAddr(network, address), or its error text.
std::string ResolveTCPAddr(std::string_view network, std::string_view address) {
  absl::StatusOr<AddrList> r =
      ResolveAddrList(SockMode::kListen, network, address, nullptr, FakeLookup);
  if (!r.ok()) return "error: " + Msg(r.status());
  return FirstForResolve(r->net, address, r->addrs).String();
}

TEST(InternetAddrList, ResolveTCPAddrObserved) {
  // Observed: net.ResolveTCPAddr(network, address) (7.4).
  EXPECT_EQ(ResolveTCPAddr("tcp", ":80"), ":80");
  EXPECT_EQ(ResolveTCPAddr("tcp", ""), ":0");
  EXPECT_EQ(ResolveTCPAddr("tcp6", ":80"), ":80");
  EXPECT_EQ(ResolveTCPAddr("tcp4", "[::]:80"), "0.0.0.0:80");
  EXPECT_EQ(ResolveTCPAddr("tcp6", "0.0.0.0:80"), "error: address 0.0.0.0: no suitable address found");
  EXPECT_EQ(ResolveTCPAddr("tcp", "[::ffff:127.0.0.1]:1"), "127.0.0.1:1");
  EXPECT_EQ(ResolveTCPAddr("tcp", "localhost:80"), "127.0.0.1:80");
  EXPECT_EQ(ResolveTCPAddr("tcp6", "localhost:80"), "error: address localhost: no suitable address found");
  EXPECT_EQ(ResolveTCPAddr("tcp", "[::]:0"), "[::]:0");
  EXPECT_EQ(ResolveTCPAddr("tcp4", "[::1]:1"), "error: address ::1: no suitable address found");
  EXPECT_EQ(ResolveTCPAddr("tcp6", "127.0.0.1:1"), "error: address 127.0.0.1: no suitable address found");
  EXPECT_EQ(ResolveTCPAddr("tcp", "[fe80::1%lo]:1"), "[fe80::1%lo]:1");
  EXPECT_EQ(ResolveTCPAddr("tcp", "[fe80::1%1]:5"), "[fe80::1%1]:5");
  EXPECT_EQ(ResolveTCPAddr("foo", "1.2.3.4:1"), "error: unknown network foo");
  EXPECT_EQ(ResolveTCPAddr("tcp", "[::1]:99999"), "error: address 99999: invalid port");
  EXPECT_EQ(ResolveTCPAddr("tcp", "localhost"), "error: address localhost: missing port in address");
  EXPECT_EQ(ResolveTCPAddr("tcp:6", "x:1"), "error: unknown network tcp:6");
  EXPECT_EQ(ResolveTCPAddr("TCP", "x:1"), "error: unknown network TCP");
  // forResolve: "tcp" with '[' prefers IPv6, else IPv4.
  EXPECT_EQ(ResolveTCPAddr("tcp", "dual.test:1"), "127.0.0.1:1");
  EXPECT_EQ(ResolveTCPAddr("tcp", "[dual.test]:1"), "[::1]:1");
  EXPECT_EQ(ResolveTCPAddr("tcp", "nx.test:1"),
            "error: lookup nx.test on 10.255.255.53:53: no such host");
}

TEST(InternetAddrList, Steps) {
  // Wildcard: one Addr without IP, never filtered.
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP6, ":80", FakeLookup)), ElementsAre(":80"));
  // Exactly [::] gets 0.0.0.0 appended (literal or resolved).
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP, "[::]:7", FakeLookup)),
              ElementsAre("[::]:7", "0.0.0.0:7"));
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP, "zero6.test:7", FakeLookup)),
              ElementsAre("[::]:7", "0.0.0.0:7"));
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP6, "[::]:7", FakeLookup)),
              ElementsAre("[::]:7"));
  // Literals never reach the resolver; names keep the resolver's order.
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP, "he.test:9", FakeLookup)),
              ElementsAre("[::1]:9", "127.0.0.1:9", "[::2]:9", "127.0.0.2:9"));
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP4, "he.test:9", FakeLookup)),
              ElementsAre("127.0.0.1:9", "127.0.0.2:9"));
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP6, "he.test:9", FakeLookup)),
              ElementsAre("[::1]:9", "[::2]:9"));
  // v4-mapped counts as IPv4 for the filter.
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP4, "[::ffff:127.0.0.1]:1", FakeLookup)),
              ElementsAre("127.0.0.1:1"));
  EXPECT_FALSE(InternetAddrList(Network::kTCP6, "[::ffff:127.0.0.1]:1", FakeLookup).ok());
  // Service names.
  EXPECT_THAT(Strings(*InternetAddrList(Network::kTCP, "127.0.0.1:http", FakeLookup)),
              ElementsAre("127.0.0.1:80"));
  // An IPv4 literal with a zone is a host name (Go: "lookup 1.2.3.4%lo: ...").
  absl::StatusOr<std::vector<net::Addr>> zoned =
      InternetAddrList(Network::kTCP, "1.2.3.4%lo:1", FakeLookup);
  ASSERT_FALSE(zoned.ok());
  EXPECT_THAT(Msg(zoned.status()), ::testing::StartsWith("lookup 1.2.3.4%lo"));
}

TEST(ParseAddress, Pieces) {
  absl::StatusOr<ParsedAddress> p = ParseAddress("[fe80::1%eth0]:https");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->host, "fe80::1%eth0");
  EXPECT_EQ(p->port, 443);
  ASSERT_TRUE(p->literal.has_value());
  EXPECT_EQ(p->literal->zone, "eth0");
  p = ParseAddress("example.test:0");
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->literal.has_value());
  p = ParseAddress("");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->host, "");
  EXPECT_EQ(p->port, 0);
}

// Dial/Listen's resolution step, wrapped as Dial/Listen wrap it.
std::string DialError(std::string_view network, std::string_view address,
                      const net::Addr* local = nullptr, SockMode mode = SockMode::kDial) {
  absl::StatusOr<AddrList> r = ResolveAddrList(mode, network, address, local, FakeLookup);
  if (r.ok()) return "ok: " + ::testing::PrintToString(Strings(r->addrs));
  return Msg(OpError(mode == SockMode::kDial ? "dial" : "listen", network, "", "", r.status()));
}

TEST(ResolveAddrList, ObservedDialAndListenErrors) {
  // docs/behavior.md §6.5.2, "Resolution and parameter errors".
  EXPECT_EQ(DialError("tcp", ""), "dial tcp: missing address");
  EXPECT_EQ(DialError("foo", "127.0.0.1:1"), "dial foo: unknown network foo");
  EXPECT_EQ(DialError("foo", ""), "dial foo: unknown network foo");  // network first
  EXPECT_EQ(DialError("tcp", "127.0.0.1"), "dial tcp: address 127.0.0.1: missing port in address");
  EXPECT_EQ(DialError("tcp", "127.0.0.1:99999"), "dial tcp: address 99999: invalid port");
  EXPECT_EQ(DialError("tcp", "127.0.0.1:-1"), "dial tcp: address -1: invalid port");
  EXPECT_EQ(DialError("tcp", "127.0.0.1:nosuchservice"),
            "dial tcp: address tcp/nosuchservice: unknown port");
  EXPECT_EQ(DialError("tcp4", "[::1]:1"), "dial tcp4: address ::1: no suitable address found");
  EXPECT_EQ(DialError("tcp6", "127.0.0.1:1"),
            "dial tcp6: address 127.0.0.1: no suitable address found");
  EXPECT_EQ(DialError("tcp", "no-such-host.invalid:80"),
            "dial tcp: lookup no-such-host.invalid on 10.255.255.53:53: no such host");
  EXPECT_EQ(DialError("tcp", "127.0.0.1:99999", nullptr, SockMode::kListen),
            "listen tcp: address 99999: invalid port");
  EXPECT_EQ(DialError("tcp", "", nullptr, SockMode::kListen), "ok: { \":0\" }");
  EXPECT_EQ(DialError("udp", "127.0.0.1:1"), "ok: { \"127.0.0.1:1\" }");
  EXPECT_EQ(DialError("udp", "127.0.0.1:tcpmux"), "dial udp: address udp/tcpmux: unknown port");
  EXPECT_EQ(DialError("unix", "/tmp/x"), "dial unix: unsupported network unix");
  EXPECT_EQ(DialError("tcp4", "127.0.0.1:tcp"), "dial tcp4: address tcp/tcp: unknown port");
}

TEST(ResolveAddrList, LocalAddressFilter) {
  const net::Addr v6l = AddrOf("::1", 0), v4l = AddrOf("127.0.0.1", 0), wild = net::Addr(kNoIP, 0);
  // Observed: LocalAddr=[::1]:0 dialing 127.0.0.1.
  EXPECT_EQ(DialError("tcp", "127.0.0.1:1", &v6l),
            "dial tcp: address [::1]:0: no suitable address found");
  EXPECT_EQ(DialError("tcp", "he.test:1", &v4l), "ok: { \"127.0.0.1:1\", \"127.0.0.2:1\" }");
  EXPECT_EQ(DialError("tcp", "he.test:1", &v6l), "ok: { \"[::1]:1\", \"[::2]:1\" }");
  EXPECT_EQ(DialError("tcp", "he.test:1", &wild),
            "ok: { \"[::1]:1\", \"127.0.0.1:1\", \"[::2]:1\", \"127.0.0.2:1\" }");
  // A wildcard remote pairs with any local address.
  EXPECT_EQ(DialError("tcp", ":1", &v6l), "ok: { \":1\" }");
  // Listen ignores the local hint.
  EXPECT_EQ(DialError("tcp", "127.0.0.1:1", &v6l, SockMode::kListen), "ok: { \"127.0.0.1:1\" }");
}

TEST(AddrList, ListenAndDialChoices) {
  std::vector<net::Addr> he = *InternetAddrList(Network::kTCP, "he.test:9", FakeLookup);
  // Listen("tcp", "localhost:0") binds 127.0.0.1 even when ::1 comes first.
  EXPECT_EQ(FirstForListen(he).String(), "127.0.0.1:9");
  std::vector<net::Addr> v6 = {AddrOf("::1", 1), AddrOf("::2", 1)};
  EXPECT_EQ(FirstForListen(v6).String(), "[::1]:1");
  // Happy Eyeballs split: the first address's family is primary.
  Partitioned p = PartitionAddrs(he);
  EXPECT_THAT(Strings(p.primaries), ElementsAre("[::1]:9", "[::2]:9"));
  EXPECT_THAT(Strings(p.fallbacks), ElementsAre("127.0.0.1:9", "127.0.0.2:9"));
  std::vector<net::Addr> three = *InternetAddrList(Network::kTCP, "three.test:5", FakeLookup);
  p = PartitionAddrs(three);
  EXPECT_EQ(p.primaries.size(), 3u);
  EXPECT_TRUE(p.fallbacks.empty());
  EXPECT_TRUE(PartitionAddrs({}).primaries.empty());
}

TEST(OpError, WithAddrs) {
  const net::Addr l = AddrOf("127.0.0.1", 34044), r = AddrOf("127.0.0.1", 41211);
  EXPECT_EQ(Msg(OpError("read", "tcp", &l, &r, MakeClosed())),
            "read tcp 127.0.0.1:34044->127.0.0.1:41211: use of closed network connection");
  EXPECT_EQ(Msg(OpError("set", "tcp", nullptr, &l, MakeClosed())),
            "set tcp 127.0.0.1:34044: use of closed network connection");
  const net::Addr any = net::Addr(kNoIP, 0);
  EXPECT_EQ(Msg(OpError("dial", "tcp", &any, &r, MakeSyscallError("connect", ECONNREFUSED))),
            "dial tcp :0->127.0.0.1:41211: connect: connection refused");
}

}  // namespace
}  // namespace gonet::net_internal
