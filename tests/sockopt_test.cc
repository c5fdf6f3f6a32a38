// Go-conformance scenarios for socket defaults and options (docs/behavior.md
// §5, §5.2, §5.4, §5.5), read back with getsockopt through TCPConn::Control.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <string>

#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using testing_util::ConnPair;
using testing_util::GetSockoptInt;
using testing_util::MakeConnPair;
using testing_util::Pair;
using testing_util::RunChecked;

class SockoptTest : public testing::TestWithParam<int> {};

struct Opts {
  int nodelay, keepalive, keepidle, keepintvl, nonblock, cloexec;
};

template <class T>
Opts ReadOpts(T& c) {
  Opts o{};
  o.nodelay = GetSockoptInt(c, IPPROTO_TCP, TCP_NODELAY);
  o.keepalive = GetSockoptInt(c, SOL_SOCKET, SO_KEEPALIVE);
  o.keepidle = GetSockoptInt(c, IPPROTO_TCP, TCP_KEEPIDLE);
  o.keepintvl = GetSockoptInt(c, IPPROTO_TCP, TCP_KEEPINTVL);
  (void)c.Control([&](int fd) {
    o.nonblock = (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
    o.cloexec = (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0;
  });
  return o;
}

// [net.Dial] and [Listen+Accept (accepted side)]: NODELAY=1 KEEPALIVE=1 KEEPIDLE=15
// KEEPINTVL=15, O_NONBLOCK and FD_CLOEXEC.
TEST_P(SockoptTest, DialAndAcceptDefaults) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    for (net::TCPConn* c : {p.client.get(), p.server.get()}) {
      Opts o = ReadOpts(*c);
      const char* side = c == p.client.get() ? "dialed" : "accepted";
      EXPECT_EQ(o.nodelay, 1) << side;
      EXPECT_EQ(o.keepalive, 1) << side;
      EXPECT_EQ(o.keepidle, 15) << side;
      EXPECT_EQ(o.keepintvl, 15) << side;
      EXPECT_EQ(o.nonblock, 1) << side;
      EXPECT_EQ(o.cloexec, 1) << side;
      EXPECT_EQ(GetSockoptInt(*c, SOL_SOCKET, SO_DOMAIN), AF_INET) << side;
    }
    auto tl = std::dynamic_pointer_cast<net::TCPListener>(p.ln);
    ASSERT_NE(tl, nullptr);
    EXPECT_EQ(GetSockoptInt(*tl, SOL_SOCKET, SO_REUSEADDR), 1);
    EXPECT_EQ(GetSockoptInt(*tl, SOL_SOCKET, SO_REUSEPORT), 0);
    EXPECT_EQ(GetSockoptInt(*tl, SOL_SOCKET, SO_ACCEPTCONN), 1);
    int fl = 0, fd_fl = 0;
    (void)tl->Control([&](int fd) {
      fl = fcntl(fd, F_GETFL);
      fd_fl = fcntl(fd, F_GETFD);
    });
    EXPECT_TRUE(fl & O_NONBLOCK);
    EXPECT_TRUE(fd_fl & FD_CLOEXEC);
    // A dialer socket gets no SO_REUSEADDR.
    EXPECT_EQ(GetSockoptInt(*p.client, SOL_SOCKET, SO_REUSEADDR), 0);
    p.CloseAll();
  });
}

// [Dialer{KeepAlive:-1}] KEEPALIVE=0 (kernel defaults for the rest);
// [Dialer{KeepAlive:1.5s}] KEEPIDLE=2 KEEPINTVL=2.
TEST_P(SockoptTest, DialerKeepAlive) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    net::Dialer off;
    off.keep_alive = -absl::Seconds(1);
    auto c = off.Dial("tcp", (*ln)->Address().String());
    ASSERT_TRUE(c.ok()) << c.status();
    auto tc = std::dynamic_pointer_cast<net::TCPConn>(*c);
    Opts o = ReadOpts(*tc);
    EXPECT_EQ(o.nodelay, 1);
    EXPECT_EQ(o.keepalive, 0);
    EXPECT_EQ(o.keepidle, 7200);  // kernel default, untouched
    EXPECT_EQ(o.keepintvl, 75);

    net::Dialer d15;
    d15.keep_alive = absl::Milliseconds(1500);
    auto c2 = d15.Dial("tcp", (*ln)->Address().String());
    ASSERT_TRUE(c2.ok()) << c2.status();
    auto tc2 = std::dynamic_pointer_cast<net::TCPConn>(*c2);
    o = ReadOpts(*tc2);
    EXPECT_EQ(o.keepalive, 1);
    EXPECT_EQ(o.keepidle, 2);
    EXPECT_EQ(o.keepintvl, 2);
    (void)tc->Close();
    (void)tc2->Close();
    (void)(*ln)->Close();
  });
}

// [after SetKeepAlivePeriod(30s),SetNoDelay(false)]; SetKeepAlive(false) then the
// period is still applied.
TEST_P(SockoptTest, SettersTakeEffect) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    net::TCPConn& c = *p.client;
    ASSERT_TRUE(c.SetKeepAlive(false).ok());
    ASSERT_TRUE(c.SetKeepAlivePeriod(absl::Seconds(30)).ok());
    ASSERT_TRUE(c.SetNoDelay(false).ok());
    Opts o = ReadOpts(c);
    EXPECT_EQ(o.nodelay, 0);
    EXPECT_EQ(o.keepalive, 0);
    EXPECT_EQ(o.keepidle, 30);
    EXPECT_EQ(o.keepintvl, 30);
    // Rounded up to whole seconds.
    ASSERT_TRUE(c.SetKeepAlivePeriod(absl::Milliseconds(2001)).ok());
    EXPECT_EQ(GetSockoptInt(c, IPPROTO_TCP, TCP_KEEPIDLE), 3);
    ASSERT_TRUE(c.SetKeepAlive(true).ok());
    ASSERT_TRUE(c.SetNoDelay(true).ok());
    EXPECT_EQ(GetSockoptInt(c, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(GetSockoptInt(c, IPPROTO_TCP, TCP_NODELAY), 1);
    p.CloseAll();
  });
}

// [SetKeepAlivePeriod(0)] / [SetKeepAlivePeriod(-5s)]:
// "set tcp L->R: setsockopt: invalid argument".
TEST_P(SockoptTest, KeepAlivePeriodZeroIsInvalid) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    const std::string want = "set tcp " + Pair(*p.client) + ": setsockopt: invalid argument";
    absl::Status s = p.client->SetKeepAlivePeriod(absl::ZeroDuration());
    EXPECT_EQ(s.message(), want);
    EXPECT_EQ(net::Errno(s), EINVAL);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_FALSE(net::IsClosed(s));
    s = p.client->SetKeepAlivePeriod(-absl::Seconds(5));
    EXPECT_EQ(s.message(), want);
    p.CloseAll();
  });
}

// Section 5.4: SetLinger(0) -> {1,0}, SetLinger(5) -> {1,5}, SetLinger(-1) -> {0,0}.
TEST_P(SockoptTest, SetLinger) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    auto read_linger = [&] {
      linger l{-1, -1};
      (void)p.client->Control([&](int fd) {
        socklen_t len = sizeof l;
        getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
      });
      return std::make_pair(l.l_onoff, l.l_linger);
    };
    EXPECT_EQ(read_linger(), std::make_pair(0, 0));  // untouched by default
    ASSERT_TRUE(p.client->SetLinger(0).ok());
    EXPECT_EQ(read_linger(), std::make_pair(1, 0));
    ASSERT_TRUE(p.client->SetLinger(5).ok());
    EXPECT_EQ(read_linger(), std::make_pair(1, 5));
    // Off again: Linux clears only l_onoff and keeps reporting the old l_linger.
    ASSERT_TRUE(p.client->SetLinger(-1).ok());
    EXPECT_EQ(read_linger().first, 0);
    // [SetLinger(-1)] on a fresh conn: {0, 0}.
    ASSERT_TRUE(p.server->SetLinger(-1).ok());
    linger l{-1, -1};
    (void)p.server->Control([&](int fd) {
      socklen_t len = sizeof l;
      getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
    });
    EXPECT_EQ(l.l_onoff, 0);
    EXPECT_EQ(l.l_linger, 0);
    p.CloseAll();
  });
}

// Section 5.5: Linux stores double: 65536 -> 131072; negative values pass.
TEST_P(SockoptTest, BufferSizes) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p.client->SetReadBuffer(65536).ok());
    EXPECT_EQ(GetSockoptInt(*p.client, SOL_SOCKET, SO_RCVBUF), 131072);
    ASSERT_TRUE(p.client->SetWriteBuffer(65536).ok());
    EXPECT_EQ(GetSockoptInt(*p.client, SOL_SOCKET, SO_SNDBUF), 131072);
    EXPECT_TRUE(p.client->SetReadBuffer(-1).ok());
    EXPECT_TRUE(p.client->SetWriteBuffer(-1).ok());
    // The conn still works with tiny buffers.
    EXPECT_EQ(p.client->Write(std::string(100000, 'z')).n, 100000u);
    size_t got = 0;
    std::vector<char> buf(1 << 16);
    while (got < 100000) {
      net::IOResult r = p.server->Read(absl::MakeSpan(buf));
      ASSERT_TRUE(r.err.ok()) << r.err;
      got += r.n;
    }
    p.CloseAll();
  });
}

// ListenConfig: reuse_port sets SO_REUSEPORT; two listeners may then share a port.
TEST_P(SockoptTest, ListenConfigReusePort) {
  RunChecked(GetParam(), [] {
    net::ListenConfig lc;
    lc.reuse_port = true;
    auto a = lc.Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(a.ok()) << a.status();
    auto ta = std::dynamic_pointer_cast<net::TCPListener>(*a);
    EXPECT_EQ(GetSockoptInt(*ta, SOL_SOCKET, SO_REUSEPORT), 1);
    auto b = lc.Listen("tcp", (*a)->Address().String());
    ASSERT_TRUE(b.ok()) << b.status();
    EXPECT_EQ((*b)->Address().String(), (*a)->Address().String());
    (void)(*a)->Close();
    (void)(*b)->Close();
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, SockoptTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
