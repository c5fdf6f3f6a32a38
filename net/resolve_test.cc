// Tests for net/resolve.h. No test sends a DNS query: the hosts and
// resolv.conf files are written under the test's temp dir and the system
// lookup is a fake, except one lookup of "localhost", which /etc/hosts lists.

#include "net/resolve.h"

#include <netdb.h>
#include <sys/socket.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/addr.h"
#include "net/errors.h"
#include "net/net.h"

namespace gonet::net_internal {
namespace {

using ::absl::StatusCode;
using ::testing::ElementsAre;

std::string WriteTemp(const std::string& name, const std::string& contents) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream out(path, std::ios::trunc);
  out << contents;
  return path;
}

std::vector<std::string> Strings(const std::vector<IPAddr>& ips) {
  std::vector<std::string> out;
  for (const IPAddr& ip : ips) {
    out.push_back(IPString(ip.bytes()) + (ip.zone.empty() ? "" : "%" + ip.zone));
  }
  return out;
}

IPAddr IP(std::string_view s) { return ParseIPZone(s).value(); }

constexpr char kHosts[] =
    "# test hosts file\n"
    "127.0.0.1\tlocalhost myhost\n"
    "::1 localhost ip6-localhost  # trailing comment\n"
    "fe80::1%lo linklocal\n"
    "not-an-ip badentry\n"
    "10.0.0.1 MixedCase\n"
    "10.0.0.2\n"
    "10.0.0.3 dup\n"
    "10.0.0.4 dup\n"
    "01.2.3.4 leadingzero\n"
    "10.0.0.5 last-line-without-newline";

// Go's lookupStaticAddr: the names listed for an address, in file order, as written.
TEST(LookupStaticAddr, ReverseHostsFile) {
  const std::string path = WriteTemp("hosts_reverse", kHosts);
  EXPECT_THAT(LookupStaticAddr(path, IP("127.0.0.1")), ElementsAre("localhost", "myhost"));
  EXPECT_THAT(LookupStaticAddr(path, IP("::1")), ElementsAre("localhost", "ip6-localhost"));
  EXPECT_THAT(LookupStaticAddr(path, IP("::ffff:10.0.0.1")), ElementsAre("MixedCase"));
  EXPECT_THAT(LookupStaticAddr(path, IP("fe80::1%lo")), ElementsAre("linklocal"));
  EXPECT_TRUE(LookupStaticAddr(path, IP("fe80::1")).empty());  // the zone must match
  EXPECT_TRUE(LookupStaticAddr(path, IP("10.9.9.9")).empty());
  EXPECT_TRUE(LookupStaticAddr(::testing::TempDir() + "/no-such-hosts-file", IP("::1")).empty());
}

TEST(LookupStaticHost, HostsFileRules) {
  const std::string path = WriteTemp("hosts_rules", kHosts);
  EXPECT_THAT(Strings(LookupStaticHost(path, "localhost")), ElementsAre("127.0.0.1", "::1"));
  EXPECT_THAT(Strings(LookupStaticHost(path, "LocalHost")), ElementsAre("127.0.0.1", "::1"));
  EXPECT_THAT(Strings(LookupStaticHost(path, "myhost")), ElementsAre("127.0.0.1"));
  EXPECT_THAT(Strings(LookupStaticHost(path, "ip6-localhost")), ElementsAre("::1"));
  EXPECT_THAT(Strings(LookupStaticHost(path, "linklocal")), ElementsAre("fe80::1%lo"));
  EXPECT_THAT(Strings(LookupStaticHost(path, "mixedcase")), ElementsAre("10.0.0.1"));
  EXPECT_THAT(Strings(LookupStaticHost(path, "dup")), ElementsAre("10.0.0.3", "10.0.0.4"));
  EXPECT_THAT(Strings(LookupStaticHost(path, "last-line-without-newline")),
              ElementsAre("10.0.0.5"));
  // Go 1.19: "localhost." does not match "localhost" (observed).
  EXPECT_TRUE(LookupStaticHost(path, "localhost.").empty());
  EXPECT_TRUE(LookupStaticHost(path, "badentry").empty());
  EXPECT_TRUE(LookupStaticHost(path, "leadingzero").empty());
  EXPECT_TRUE(LookupStaticHost(path, "comment").empty());
  EXPECT_TRUE(LookupStaticHost(path, "nosuch").empty());
  EXPECT_TRUE(LookupStaticHost(::testing::TempDir() + "/no-such-hosts-file", "localhost").empty());
}

TEST(LookupStaticHost, RereadsWhenTheFileChanges) {
  const std::string path = WriteTemp("hosts_change", "10.1.1.1 box\n");
  EXPECT_THAT(Strings(LookupStaticHost(path, "box")), ElementsAre("10.1.1.1"));
  WriteTemp("hosts_change", "10.2.2.2 box\n10.3.3.3 box\n");  // new size
  EXPECT_THAT(Strings(LookupStaticHost(path, "box")), ElementsAre("10.2.2.2", "10.3.3.3"));
  std::remove(path.c_str());
  EXPECT_TRUE(LookupStaticHost(path, "box").empty());
}

TEST(IsDomainName, GoRules) {
  EXPECT_TRUE(IsDomainName("localhost"));
  EXPECT_TRUE(IsDomainName("localhost."));
  EXPECT_TRUE(IsDomainName("."));
  EXPECT_TRUE(IsDomainName("a_b.invalid"));  // observed: reaches DNS
  EXPECT_TRUE(IsDomainName("a-b.c"));
  EXPECT_TRUE(IsDomainName("1a"));
  EXPECT_TRUE(IsDomainName(std::string(63, 'a') + ".b"));
  // Observed: these fail with "lookup NAME: no such host" (no server).
  EXPECT_FALSE(IsDomainName(""));
  EXPECT_FALSE(IsDomainName("a..b"));
  EXPECT_FALSE(IsDomainName("-a"));
  EXPECT_FALSE(IsDomainName("123"));
  EXPECT_FALSE(IsDomainName("[::1]"));
  EXPECT_FALSE(IsDomainName("1.2.3.4%lo"));
  EXPECT_FALSE(IsDomainName("a-.b"));
  EXPECT_FALSE(IsDomainName("a.-b"));
  EXPECT_FALSE(IsDomainName("a-"));
  EXPECT_FALSE(IsDomainName("a b"));
  EXPECT_FALSE(IsDomainName(std::string(64, 'a')));
  EXPECT_FALSE(IsDomainName(std::string(64, 'a') + ".b"));
  std::string long_name;
  while (long_name.size() < 253) long_name += "abcdefghi.";
  long_name.resize(253);
  if (long_name.back() == '.') long_name.back() = 'x';
  EXPECT_TRUE(IsDomainName(long_name));
  EXPECT_FALSE(IsDomainName(long_name + "y"));   // 254 without a final dot
  EXPECT_TRUE(IsDomainName(long_name + "."));    // 254 with one
  EXPECT_FALSE(IsDomainName(long_name + "y."));  // 255
}

TEST(DNSServer, FromResolvConf) {
  EXPECT_EQ(DNSServer(WriteTemp("rc1", "# c\nsearch x\nnameserver 10.255.255.53\nnameserver 1.1.1.1\n")),
            "10.255.255.53:53");
  EXPECT_EQ(DNSServer(WriteTemp("rc2", "nameserver ::1\n")), "[::1]:53");
  EXPECT_EQ(DNSServer(WriteTemp("rc3", "nameserver bogus\n; nameserver 9.9.9.9\nnameserver 8.8.8.8")),
            "8.8.8.8:53");
  EXPECT_EQ(DNSServer(WriteTemp("rc4", "options ndots:2\n")), "127.0.0.1:53");
  EXPECT_EQ(DNSServer(::testing::TempDir() + "/no-such-resolv.conf"), "127.0.0.1:53");
}

TEST(SortByRFC6724, PrecedenceScopeAndStability) {
  std::vector<IPAddr> ips = {IP("1.2.3.4"),   IP("2001:db8::1"), IP("::1"),     IP("fe80::1"),
                             IP("127.0.0.1"), IP("2002::1"),     IP("fc00::1"), IP("2001::1"),
                             IP("5.6.7.8")};
  const StackCaps dual{true, true, true};
  SortByRFC6724(&ips, dual);
  EXPECT_THAT(Strings(ips), ElementsAre("::1", "fe80::1", "2001:db8::1", "127.0.0.1", "1.2.3.4",
                                        "5.6.7.8", "2002::1", "2001::1", "fc00::1"));
  // Rule 1: without IPv6, IPv6 destinations go last (their own order kept).
  const StackCaps v4only{true, false, false};
  SortByRFC6724(&ips, v4only);
  EXPECT_THAT(Strings(ips), ElementsAre("127.0.0.1", "1.2.3.4", "5.6.7.8", "::1", "fe80::1",
                                        "2001:db8::1", "2002::1", "2001::1", "fc00::1"));
  // Loopback: ::1 before 127.0.0.1, whichever comes first.
  std::vector<IPAddr> lo = {IP("127.0.0.1"), IP("::1")};
  SortByRFC6724(&lo, dual);
  EXPECT_THAT(Strings(lo), ElementsAre("::1", "127.0.0.1"));
}

// A fake system resolver that records its calls.
struct FakeSystem {
  SystemLookupResult result;
  std::vector<std::pair<std::string, int>> calls;
  std::function<SystemLookupResult(std::string_view, int)> Fn() {
    return [this](std::string_view host, int family) {
      calls.emplace_back(std::string(host), family);
      return result;
    };
  }
};

class LookupIPAddrTest : public ::testing::Test {
 protected:
  LookupIPAddrTest() {
    opts_.hosts_path = WriteTemp("hosts_lookup", kHosts);
    opts_.resolv_conf_path = WriteTemp("resolv_lookup", "nameserver 10.1.2.3\n");
    opts_.system_lookup = fake_.Fn();
    opts_.caps = &dual_;
  }
  std::string Err(Network net, std::string_view host) {
    absl::StatusOr<std::vector<IPAddr>> r = LookupIPAddr(net, host, opts_);
    return r.ok() ? "ok" : std::string(r.status().message());
  }

  const StackCaps dual_{true, true, true};
  FakeSystem fake_;
  ResolverOptions opts_;
};

TEST_F(LookupIPAddrTest, HostsFirstAndSorted) {
  absl::StatusOr<std::vector<IPAddr>> r = LookupIPAddr(Network::kTCP, "localhost", opts_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Strings(*r), ElementsAre("::1", "127.0.0.1"));
  EXPECT_TRUE(fake_.calls.empty());
  // The network does not filter here (internetAddrList does).
  r = LookupIPAddr(Network::kTCP4, "LOCALHOST", opts_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Strings(*r), ElementsAre("::1", "127.0.0.1"));
  EXPECT_TRUE(fake_.calls.empty());
}

TEST_F(LookupIPAddrTest, LiteralsNeverLookedUp) {
  absl::StatusOr<std::vector<IPAddr>> r = LookupIPAddr(Network::kTCP, "fe80::1%eth0", opts_);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Strings(*r), ElementsAre("fe80::1%eth0"));
  r = LookupIPAddr(Network::kTCP, "127.0.0.1", opts_);
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(Strings(*r), ElementsAre("127.0.0.1"));
  EXPECT_TRUE(fake_.calls.empty());
}

TEST_F(LookupIPAddrTest, InvalidNamesFailWithoutServer) {
  // Observed texts (go1.19 LookupHost).
  EXPECT_EQ(Err(Network::kTCP, ""), "lookup : no such host");
  EXPECT_EQ(Err(Network::kTCP, "a..b"), "lookup a..b: no such host");
  EXPECT_EQ(Err(Network::kTCP, "-a"), "lookup -a: no such host");
  EXPECT_EQ(Err(Network::kTCP, "123"), "lookup 123: no such host");
  EXPECT_EQ(Err(Network::kTCP, "[::1]"), "lookup [::1]: no such host");
  EXPECT_EQ(Err(Network::kTCP, "1.2.3.4%lo"), "lookup 1.2.3.4%lo: no such host");
  EXPECT_TRUE(fake_.calls.empty());
  absl::Status s = LookupIPAddr(Network::kTCP, "a..b", opts_).status();
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_TRUE(InfoOf(s).not_found);
}

TEST_F(LookupIPAddrTest, NotFoundNamesTheServer) {
  fake_.result.gai_error = EAI_NONAME;
  absl::Status s = LookupIPAddr(Network::kTCP, "no-such-host.invalid", opts_).status();
  EXPECT_EQ(s.message(), "lookup no-such-host.invalid on 10.1.2.3:53: no such host");
  EXPECT_EQ(s.code(), StatusCode::kNotFound);
  EXPECT_FALSE(net::IsTimeout(s));
  EXPECT_EQ(OpError("dial", "tcp", "", "", s).message(),
            "dial tcp: lookup no-such-host.invalid on 10.1.2.3:53: no such host");
  // "localhost." is not in the hosts file (Go 1.19), so it is asked for.
  EXPECT_EQ(Err(Network::kTCP, "localhost."), "lookup localhost. on 10.1.2.3:53: no such host");
  // An empty answer is "no such host" too.
  fake_.result.gai_error = 0;
  EXPECT_EQ(Err(Network::kTCP, "empty.test"), "lookup empty.test on 10.1.2.3:53: no such host");
  // Without a nameserver line: Go's default server.
  opts_.resolv_conf_path = ::testing::TempDir() + "/no-such-resolv.conf";
  fake_.result.gai_error = EAI_NONAME;
  EXPECT_EQ(Err(Network::kTCP, "x.test"), "lookup x.test on 127.0.0.1:53: no such host");
}

TEST_F(LookupIPAddrTest, OtherFailures) {
  fake_.result.gai_error = EAI_AGAIN;
  absl::Status s = LookupIPAddr(Network::kTCP, "silent.test", opts_).status();
  EXPECT_EQ(s.message(), "lookup silent.test: i/o timeout");
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(net::IsTimeout(s));
  EXPECT_TRUE(InfoOf(s).temporary);
  EXPECT_FALSE(InfoOf(s).not_found);

  fake_.result.gai_error = EAI_FAIL;
  s = LookupIPAddr(Network::kTCP, "broken.test", opts_).status();
  EXPECT_EQ(s.message(), "lookup broken.test on 10.1.2.3:53: server misbehaving");
  EXPECT_TRUE(InfoOf(s).temporary);
  EXPECT_FALSE(net::IsTimeout(s));

  fake_.result.gai_error = EAI_SYSTEM;
  fake_.result.sys_errno = EMFILE;
  EXPECT_EQ(Err(Network::kTCP, "sys.test"), "lookup sys.test: too many open files");
}

TEST_F(LookupIPAddrTest, SystemResultsSortedAndFamilyPassed) {
  fake_.result.addrs = {IP("127.0.0.1"), IP("::1")};
  absl::StatusOr<std::vector<IPAddr>> r = LookupIPAddr(Network::kTCP, "he.test", opts_);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Strings(*r), ElementsAre("::1", "127.0.0.1"));
  ASSERT_TRUE(LookupIPAddr(Network::kTCP4, "he.test", opts_).ok());
  ASSERT_TRUE(LookupIPAddr(Network::kTCP6, "he.test", opts_).ok());
  EXPECT_THAT(fake_.calls, ElementsAre(std::make_pair(std::string("he.test"), AF_UNSPEC),
                                       std::make_pair(std::string("he.test"), AF_INET),
                                       std::make_pair(std::string("he.test"), AF_INET6)));
}

TEST_F(LookupIPAddrTest, FeedsInternetAddrList) {
  auto lookup = [this](Network net, std::string_view host) {
    return LookupIPAddr(net, host, opts_);
  };
  absl::StatusOr<std::vector<net::Addr>> addrs =
      InternetAddrList(Network::kTCP, "localhost:8080", lookup);
  ASSERT_TRUE(addrs.ok()) << addrs.status();
  ASSERT_EQ(addrs->size(), 2u);
  EXPECT_EQ((*addrs)[0].String(), "[::1]:8080");
  EXPECT_EQ(FirstForListen(*addrs).String(), "127.0.0.1:8080");
  addrs = InternetAddrList(Network::kTCP6, "myhost:1", lookup);
  ASSERT_FALSE(addrs.ok());
  EXPECT_EQ(addrs.status().message(), "address myhost: no suitable address found");
}

TEST(LookupIPAddr, SystemLocalhostComesFromEtcHosts) {
  // /etc/hosts lists localhost, so this never reaches DNS.
  ASSERT_FALSE(LookupStaticHost("/etc/hosts", "localhost").empty());
  absl::StatusOr<std::vector<IPAddr>> r = LookupIPAddr(Network::kTCP, "localhost");
  ASSERT_TRUE(r.ok()) << r.status();
  bool has_v4_loopback = false;
  for (const IPAddr& ip : *r) {
    EXPECT_TRUE(IsLoopback(ip.bytes())) << IPString(ip.bytes());
    has_v4_loopback |= IPString(ip.bytes()) == "127.0.0.1";
  }
  EXPECT_TRUE(has_v4_loopback);
}

}  // namespace
}  // namespace gonet::net_internal
