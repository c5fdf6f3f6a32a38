// Go-conformance scenarios for Listen and Accept (docs/behavior.md §2.6
// accept deadline, §4.5, §4.6, §5.3, §6.5.3 "Listen and Accept").
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using testing_util::GetSockoptInt;
using testing_util::RunChecked;

class ListenTest : public testing::TestWithParam<int> {};

struct Variant {
  const char* network;
  const char* address;
  int family;
  int v6only;                 // -1: not an AF_INET6 socket
  const char* address_prefix; // Addr() without the port
  bool accepts_v4;
  bool accepts_v6;
};

// Table 5.3 (observed with Go 1.19 on Linux).
const Variant kVariants[] = {
    {"tcp", ":0", AF_INET6, 0, "[::]:", true, true},
    {"tcp", "0.0.0.0:0", AF_INET6, 0, "[::]:", true, true},
    {"tcp", "[::]:0", AF_INET6, 0, "[::]:", true, true},
    {"tcp", "127.0.0.1:0", AF_INET, -1, "127.0.0.1:", true, false},
    {"tcp", "[::1]:0", AF_INET6, 1, "[::1]:", false, true},  // 1: forced by the kernel's bind
    {"tcp4", ":0", AF_INET, -1, "0.0.0.0:", true, false},
    {"tcp6", ":0", AF_INET6, 1, "[::]:", false, true},
    {"tcp6", "[::]:0", AF_INET6, 1, "[::]:", false, true},
};

// Dials `host`:port and reports whether it connected (accepting the conn), or the
// error text.
std::string TryDial(net::Listener& ln, const std::string& host, int port) {
  const std::string target = net::JoinHostPort(host, std::to_string(port));
  auto c = net::DialTimeout("tcp", target, absl::Seconds(5));
  if (!c.ok()) return std::string(c.status().message());
  auto s = ln.Accept();
  std::string out = "ok";
  if (!s.ok()) {
    out = "accept: " + std::string(s.status().message());
  } else {
    // IPv4 peers of a dual-stack listener print as plain IPv4.
    if ((*s)->RemoteAddr().String() != (*c)->LocalAddr().String()) {
      out = "remote " + (*s)->RemoteAddr().String() + " != " + (*c)->LocalAddr().String();
    }
    (void)(*s)->Close();
  }
  (void)(*c)->Close();
  return out;
}

TEST_P(ListenTest, VariantsTable) {
  const bool v6 = testing_util::HasIPv6Loopback();
  RunChecked(GetParam(), [v6] {
    for (const Variant& v : kVariants) {
      const std::string name = std::string(v.network) + " " + v.address;
      const bool needs_v6 = v.family == AF_INET6;
      if (needs_v6 && !v6) {
        printf("skipping %s: no IPv6 loopback\n", name.c_str());
        continue;
      }
      auto ln = net::Listen(v.network, v.address);
      ASSERT_TRUE(ln.ok()) << name << ": " << ln.status();
      auto tl = std::dynamic_pointer_cast<net::TCPListener>(*ln);
      ASSERT_NE(tl, nullptr);
      const int port = (*ln)->Address().Port();
      EXPECT_NE(port, 0) << name;
      EXPECT_EQ((*ln)->Address().String(), v.address_prefix + std::to_string(port)) << name;
      EXPECT_EQ((*ln)->Address().Network(), "tcp") << name;
      EXPECT_EQ(GetSockoptInt(*tl, SOL_SOCKET, SO_DOMAIN), v.family) << name;
      if (v.v6only >= 0) {
        EXPECT_EQ(GetSockoptInt(*tl, IPPROTO_IPV6, IPV6_V6ONLY), v.v6only) << name;
      }
      const std::string port_s = std::to_string(port);
      std::string r4 = TryDial(**ln, "127.0.0.1", port);
      if (v.accepts_v4) {
        EXPECT_EQ(r4, "ok") << name << " from 127.0.0.1";
      } else {
        EXPECT_EQ(r4, "dial tcp 127.0.0.1:" + port_s + ": connect: connection refused") << name;
      }
      if (v6) {
        std::string r6 = TryDial(**ln, "::1", port);
        if (v.accepts_v6) {
          EXPECT_EQ(r6, "ok") << name << " from ::1";
        } else {
          EXPECT_EQ(r6, "dial tcp [::1]:" + port_s + ": connect: connection refused") << name;
        }
      }
      EXPECT_TRUE((*ln)->Close().ok()) << name;
    }
  });
}

// Table 5.3 row Listen("tcp", "localhost:0"): binds 127.0.0.1 only (a name lookup).
// Regression: the lookup used to run on a helper thread whose Ready() raced the
// Runtime's destruction (TSan: free vs. atomic read); it now runs inside
// gonet::Blocking on the fiber itself.
TEST_P(ListenTest, LocalhostBindsIPv4Only) {
  const bool v6 = testing_util::HasIPv6Loopback();
  RunChecked(GetParam(), [v6] {
    auto ln = net::Listen("tcp", "localhost:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    auto tl = std::dynamic_pointer_cast<net::TCPListener>(*ln);
    const int port = (*ln)->Address().Port();
    EXPECT_EQ((*ln)->Address().String(), "127.0.0.1:" + std::to_string(port));
    EXPECT_EQ(GetSockoptInt(*tl, SOL_SOCKET, SO_DOMAIN), AF_INET);
    EXPECT_EQ(TryDial(**ln, "127.0.0.1", port), "ok");
    if (v6) {
      EXPECT_EQ(TryDial(**ln, "::1", port),
                "dial tcp [::1]:" + std::to_string(port) + ": connect: connection refused");
    }
    EXPECT_TRUE((*ln)->Close().ok());
  });
}

// [listen addr in use]: "listen tcp 127.0.0.1:PORT: bind: address already in use".
TEST_P(ListenTest, AddressInUse) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    const std::string a = (*ln)->Address().String();
    auto ln2 = net::Listen("tcp", a);
    ASSERT_FALSE(ln2.ok());
    EXPECT_EQ(ln2.status().message(), "listen tcp " + a + ": bind: address already in use");
    EXPECT_EQ(net::Errno(ln2.status()), EADDRINUSE);
    EXPECT_FALSE(net::IsTimeout(ln2.status()));
    EXPECT_FALSE(net::IsClosed(ln2.status()));
    auto ln4 = net::Listen("tcp4", a);
    ASSERT_FALSE(ln4.ok());
    EXPECT_EQ(ln4.status().message(), "listen tcp4 " + a + ": bind: address already in use");
    EXPECT_TRUE((*ln)->Close().ok());
    // Free again after Close (SO_REUSEADDR, nothing in TIME_WAIT on a listener).
    auto ln3 = net::Listen("tcp", a);
    ASSERT_TRUE(ln3.ok()) << ln3.status();
    EXPECT_TRUE((*ln3)->Close().ok());
  });
}

// [listen on an address this host does not own]: 127.0.0.1 is ours, but a TEST-NET
// address is not: "bind: cannot assign requested address". (No packet is sent.)
TEST_P(ListenTest, AddressNotOwned) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "192.0.2.1:0");
    ASSERT_FALSE(ln.ok());
    EXPECT_EQ(ln.status().message(), "listen tcp 192.0.2.1:0: bind: cannot assign requested address");
    EXPECT_EQ(net::Errno(ln.status()), EADDRNOTAVAIL);
  });
}

// [accept deadline]: "accept tcp ADDR: i/o timeout"; the listener works after the
// deadline is cleared.
TEST_P(ListenTest, AcceptDeadline) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    auto tl = std::dynamic_pointer_cast<net::TCPListener>(*ln);
    ASSERT_NE(tl, nullptr);
    const std::string a = (*ln)->Address().String();
    absl::Time start = absl::Now();  // before the deadline is computed from it
    ASSERT_TRUE(tl->SetDeadline(start + absl::Milliseconds(100)).ok());
    auto c = tl->Accept();
    absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "accept tcp " + a + ": i/o timeout");
    EXPECT_TRUE(net::IsTimeout(c.status()));
    EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_GE(took, absl::Milliseconds(90));
    EXPECT_LT(took, absl::Seconds(2));
    // Sticky: a queued connection does not help while the deadline is expired.
    auto d = net::Dial("tcp", a);
    ASSERT_TRUE(d.ok()) << d.status();
    EXPECT_TRUE(net::IsTimeout(tl->AcceptTCP().status()));
    ASSERT_TRUE(tl->SetDeadline(absl::InfiniteFuture()).ok());
    auto s = tl->AcceptTCP();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*s)->RemoteAddr().String(), (*d)->LocalAddr().String());
    EXPECT_EQ((*s)->LocalAddr().String(), a);
    (void)(*s)->Close();
    (void)(*d)->Close();
    (void)(*ln)->Close();
  });
}

// Accept a burst: every dialed conn is accepted exactly once, with matching addresses.
TEST_P(ListenTest, AcceptBurst) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    constexpr int kN = 64;
    std::vector<std::shared_ptr<net::Conn>> dialed, accepted;
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {
      for (int i = 0; i < kN; ++i) {
        auto s = (*ln)->Accept();
        EXPECT_TRUE(s.ok()) << s.status();
        if (!s.ok()) break;
        accepted.push_back(*s);
      }
      wg.Done();
    });
    for (int i = 0; i < kN; ++i) {
      auto c = net::Dial("tcp", (*ln)->Address().String());
      ASSERT_TRUE(c.ok()) << c.status();
      dialed.push_back(*c);
    }
    wg.Wait();
    std::set<std::string> want, got;
    for (auto& c : dialed) want.insert(c->LocalAddr().String());
    for (auto& s : accepted) got.insert(s->RemoteAddr().String());
    EXPECT_EQ(want.size(), static_cast<size_t>(kN));
    EXPECT_EQ(got, want);
    for (auto& c : dialed) (void)c->Close();
    for (auto& s : accepted) (void)s->Close();
    (void)(*ln)->Close();
  });
}

// ListenConfig.backlog is passed to listen(2): with backlog 1 and nobody accepting,
// two dials complete and a third times out.
TEST_P(ListenTest, ListenConfigBacklog) {
  RunChecked(GetParam(), [] {
    net::ListenConfig lc;
    lc.backlog = 1;
    auto ln = lc.Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    const std::string a = (*ln)->Address().String();
    std::vector<std::shared_ptr<net::Conn>> queued;
    for (int i = 0; i < 2; ++i) {
      auto c = net::DialTimeout("tcp", a, absl::Milliseconds(300));
      ASSERT_TRUE(c.ok()) << "dial #" << i + 1 << ": " << c.status();
      queued.push_back(*c);
    }
    auto c = net::DialTimeout("tcp", a, absl::Milliseconds(300));
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp " + a + ": i/o timeout");
    for (auto& q : queued) (void)q->Close();
    (void)(*ln)->Close();
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, ListenTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
