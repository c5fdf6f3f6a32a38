// Go-conformance scenarios for Dial, DialTimeout and Dialer (docs/behavior.md
// §4.2-4.4, §5.1, §6.5.1 "Dial", §7.5, §8.1), asserted on what Linux does over loopback.
#include <errno.h>

#include <string>

#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using testing_util::Event;
using testing_util::FullBacklogListener;
using testing_util::RunChecked;

class DialTest : public testing::TestWithParam<int> {};

// A port nothing listens on: bind a raw socket to get a free port, then close it.
int FreePort() {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  socklen_t len = sizeof sa;
  getsockname(s, reinterpret_cast<sockaddr*>(&sa), &len);
  close(s);
  return ntohs(sa.sin_port);
}

// [dial refused]: "dial tcp 127.0.0.1:PORT: connect: connection refused".
TEST_P(DialTest, RefusedHasGoTextAndErrno) {
  RunChecked(GetParam(), [] {
    const std::string addr = "127.0.0.1:" + std::to_string(FreePort());
    auto c = net::Dial("tcp", addr);
    ASSERT_FALSE(c.ok());
    const absl::Status& s = c.status();
    EXPECT_EQ(s.message(), "dial tcp " + addr + ": connect: connection refused");
    EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
    EXPECT_EQ(net::Errno(s), ECONNREFUSED);
    EXPECT_FALSE(net::IsTimeout(s));
    EXPECT_FALSE(net::IsClosed(s));
    EXPECT_FALSE(net::IsEOF(s));

    auto c1 = net::Dial("tcp", "127.0.0.1:1");
    ASSERT_FALSE(c1.ok());
    EXPECT_EQ(c1.status().message(), "dial tcp 127.0.0.1:1: connect: connection refused");
  });
}

// [dial refused with LocalAddr]: the Source is printed before "->".
TEST_P(DialTest, RefusedWithLocalAddressPrintsSource) {
  RunChecked(GetParam(), [] {
    net::Dialer d;
    d.local_address = "127.0.0.1:0";
    auto c = d.Dial("tcp", "127.0.0.1:1");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp 127.0.0.1:0->127.0.0.1:1: connect: connection refused");
    EXPECT_EQ(net::Errno(c.status()), ECONNREFUSED);
  });
}

// [dial6 refused]: "dial tcp6 [::1]:1: connect: connection refused".
TEST_P(DialTest, Tcp6RefusedOnV6Loopback) {
  if (!testing_util::HasIPv6Loopback()) GTEST_SKIP() << "no [::1] on this machine";
  RunChecked(GetParam(), [] {
    auto c = net::Dial("tcp6", "[::1]:1");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp6 [::1]:1: connect: connection refused");
    EXPECT_EQ(net::Errno(c.status()), ECONNREFUSED);
  });
}

// DialTimeout to a listening address connects; the conn works both ways.
TEST_P(DialTest, DialTimeoutConnects) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    auto c = net::DialTimeout("tcp", (*ln)->Address().String(), absl::Seconds(5));
    ASSERT_TRUE(c.ok()) << c.status();
    auto s = (*ln)->Accept();
    ASSERT_TRUE(s.ok()) << s.status();
    EXPECT_EQ((*c)->RemoteAddr().String(), (*ln)->Address().String());
    EXPECT_EQ((*s)->RemoteAddr().String(), (*c)->LocalAddr().String());
    EXPECT_EQ((*c)->LocalAddr().Network(), "tcp");
    EXPECT_EQ((*c)->Write(std::string("ping")).n, 4u);
    char buf[8];
    net::IOResult r = (*s)->Read(absl::MakeSpan(buf));
    ASSERT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "ping");
    EXPECT_TRUE((*c)->Close().ok());
    EXPECT_TRUE((*s)->Close().ok());
    EXPECT_TRUE((*ln)->Close().ok());
  });
}

// Section 5.1 backlog: with listen(fd, 1) and nobody accepting, backlog+1 = 2 dials
// complete at once; the third SYN is dropped and DialTimeout expires with
// "dial tcp 127.0.0.1:PORT: i/o timeout".
TEST_P(DialTest, BacklogFullDialTimeoutExpires) {
  RunChecked(GetParam(), [] {
    FullBacklogListener raw(1);
    const std::string addr = raw.Address();
    std::vector<std::shared_ptr<net::Conn>> queued;  // held open: they fill the queue
    for (int i = 0; i < 2; ++i) {
      absl::Time start = absl::Now();
      auto c = net::DialTimeout("tcp", addr, absl::Milliseconds(300));
      ASSERT_TRUE(c.ok()) << "dial #" << i + 1 << ": " << c.status();
      EXPECT_LT(absl::Now() - start, absl::Milliseconds(250)) << "dial #" << i + 1;
      // Go: a queued, never-accepted conn is writable.
      EXPECT_EQ((*c)->Write(std::string("hello")).n, 5u);
      queued.push_back(*c);
    }
    absl::Time start = absl::Now();
    auto c = net::DialTimeout("tcp", addr, absl::Milliseconds(300));
    absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp " + addr + ": i/o timeout");
    EXPECT_TRUE(net::IsTimeout(c.status())) << c.status();
    EXPECT_EQ(c.status().code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(net::Errno(c.status()), 0);
    EXPECT_GE(took, absl::Milliseconds(280));
    EXPECT_LT(took, absl::Seconds(3));
    for (auto& q : queued) EXPECT_TRUE(q->Close().ok());
  });
}

// A plain Dial (no deadline) to a full backlog blocks; once the server accepts one,
// the client's SYN retransmit (about 1 s later) gets in and Dial returns a conn.
TEST_P(DialTest, BacklogFullDialBlocksUntilAccept) {
  RunChecked(GetParam(), [] {
    FullBacklogListener raw(1);
    ASSERT_TRUE(raw.Fill());
    Event done;
    absl::Status result = absl::UnknownError("not done");
    gonet::Go([&] {
      auto c = net::Dial("tcp", raw.Address());
      result = c.status();
      if (c.ok()) (void)(*c)->Close();
      done.Notify();
    });
    EXPECT_FALSE(done.WaitFor(absl::Milliseconds(300))) << "Dial did not block: " << result;
    ASSERT_TRUE(raw.AcceptOne());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(10))) << "Dial still blocked after an accept";
    EXPECT_TRUE(result.ok()) << result;
  });
}

// [dial deadline in past]: "dial tcp 127.0.0.1:1: i/o timeout", at once.
TEST_P(DialTest, DeadlineInPastFailsAtOnce) {
  RunChecked(GetParam(), [] {
    absl::Time start = absl::Now();
    net::Dialer d;
    d.deadline = absl::Now() - absl::Seconds(1);
    auto c = d.Dial("tcp", "127.0.0.1:1");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp 127.0.0.1:1: i/o timeout");
    EXPECT_TRUE(net::IsTimeout(c.status()));
    auto c2 = net::DialTimeout("tcp", "127.0.0.1:1", -absl::Seconds(1));
    ASSERT_FALSE(c2.ok());
    EXPECT_EQ(c2.status().message(), "dial tcp 127.0.0.1:1: i/o timeout");
    EXPECT_TRUE(net::IsTimeout(c2.status()));
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(200));
  });
}

// Section 8.1: the earliest of Timeout and Deadline wins.
TEST_P(DialTest, DialerEarliestDeadlineWins) {
  RunChecked(GetParam(), [] {
    FullBacklogListener raw(1);
    ASSERT_TRUE(raw.Fill());
    net::Dialer d;
    d.timeout = absl::Seconds(5);
    absl::Time start = absl::Now();  // before the deadline is computed from it
    d.deadline = start + absl::Milliseconds(300);
    auto c = d.Dial("tcp", raw.Address());
    absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp " + raw.Address() + ": i/o timeout");
    EXPECT_GE(took, absl::Milliseconds(250));
    EXPECT_LT(took, absl::Seconds(3));
  });
}

// Section 7.5: Dial(":port") and Dial("0.0.0.0:port") reach the local host over IPv4;
// Dial("[::]:port") reaches it over ::1.
TEST_P(DialTest, WildcardHostGoesToLoopback) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", ":0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    const int port = (*ln)->Address().Port();
    const std::string p = std::to_string(port);
    std::vector<std::string> targets = {":" + p, "0.0.0.0:" + p};
    if (testing_util::HasIPv6Loopback()) targets.push_back("[::]:" + p);
    for (const std::string& t : targets) {
      auto c = net::Dial("tcp", t);
      ASSERT_TRUE(c.ok()) << t << ": " << c.status();
      auto s = (*ln)->Accept();
      ASSERT_TRUE(s.ok()) << s.status();
      const bool v6 = t[0] == '[';
      EXPECT_EQ((*c)->RemoteAddr().String(), (v6 ? "[::1]:" : "127.0.0.1:") + p) << t;
      const std::string local = (*c)->LocalAddr().String();
      EXPECT_EQ(local.rfind(v6 ? "[::1]:" : "127.0.0.1:", 0), 0u) << t << " local=" << local;
      EXPECT_EQ((*s)->RemoteAddr().String(), local);
      (void)(*c)->Close();
      (void)(*s)->Close();
    }
    EXPECT_TRUE((*ln)->Close().ok());
  });
}

// Dialing "localhost:port" (from /etc/hosts) connects to a 127.0.0.1 listener.
TEST_P(DialTest, LocalhostName) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "localhost:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    EXPECT_EQ((*ln)->Address().String().rfind("127.0.0.1:", 0), 0u) << (*ln)->Address().String();
    auto c = net::Dial("tcp", "localhost:" + std::to_string((*ln)->Address().Port()));
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->RemoteAddr().String(), (*ln)->Address().String());
    auto s = (*ln)->Accept();
    ASSERT_TRUE(s.ok());
    (void)(*c)->Close();
    (void)(*s)->Close();
    (void)(*ln)->Close();
  });
}

// Section 8.5: a Dialer's local address is bound before connect and shows up as the
// conn's LocalAddr; binding the listener's own port fails with EADDRINUSE.
TEST_P(DialTest, LocalAddressBindAndInUse) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    const std::string la = (*ln)->Address().String();
    net::Dialer d;
    d.local_address = "127.0.0.1:0";
    auto c = d.Dial("tcp", la);
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_EQ((*c)->LocalAddr().String().rfind("127.0.0.1:", 0), 0u);
    EXPECT_NE((*c)->LocalAddr().Port(), 0);
    auto s = (*ln)->Accept();
    ASSERT_TRUE(s.ok());
    EXPECT_EQ((*s)->RemoteAddr().String(), (*c)->LocalAddr().String());

    net::Dialer busy;
    busy.local_address = la;
    auto c2 = busy.Dial("tcp", la);
    ASSERT_FALSE(c2.ok());
    EXPECT_EQ(c2.status().message(), "dial tcp " + la + "->" + la + ": bind: address already in use");
    EXPECT_EQ(net::Errno(c2.status()), EADDRINUSE);
    (void)(*c)->Close();
    (void)(*s)->Close();
    (void)(*ln)->Close();
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, DialTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
