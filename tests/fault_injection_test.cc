// Go's error texts and retry counts for system call failures the kernel rarely
// produces, injected through netfd's syscall table (netfd/fault_injection.h) and seen
// through //net: TCPListener.Accept (EMFILE, ENFILE, ECONNABORTED, the accept4
// fallback), Conn Read/Write (EINTR, short writes, errors), Close (close(2)'s error),
// Dial/Listen (socket, connect, SO_ERROR, getsockopt, EADDRNOTAVAIL retries), and the
// option setters. Plus one real EMFILE: the soft RLIMIT_NOFILE lowered for a moment.
// Texts as Go 1.19 prints them on Linux (GO_NET_SEMANTICS.md section 6).
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <memory>
#include <string>

#include "fiber/fiber.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "netfd/fault_injection.h"
#include "netfd/syscalls.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using netfd::ScopedSyscallOverride;
using netfd::fault::ConnectMode;
using netfd::fault::Faults;
using netfd::fault::FakeSyscalls;

class NetFaultTest : public testing::Test {
 protected:
  void SetUp() override { Faults::Get().Reset(); }
  void TearDown() override { Faults::Get().Reset(); }
  // The scripted table for one Run (2 workers), with the fd leak check.
  void RunFaulty(absl::AnyInvocable<void() &&> body) {
    ScopedSyscallOverride o(FakeSyscalls());
    testing_util::RunChecked(2, std::move(body));
  }
  Faults& f() { return Faults::Get(); }
};

struct Server {
  std::shared_ptr<net::TCPListener> ln;
  std::string addr;  // "127.0.0.1:PORT"
};

Server ListenLoopback() {
  Server s;
  auto ln = net::Listen("tcp", "127.0.0.1:0");
  EXPECT_TRUE(ln.ok()) << ln.status();
  if (!ln.ok()) return s;
  s.ln = std::dynamic_pointer_cast<net::TCPListener>(*ln);
  s.addr = s.ln->Address().String();
  return s;
}

std::string Text(const absl::Status& s) { return std::string(s.message()); }

// A dialed conn and its accepted peer.
struct ConnPair {
  std::shared_ptr<net::TCPConn> client, server;
  // "L->R" of the client and of the server, as OpError prints them.
  std::string client_addrs() const {
    return client->LocalAddr().String() + "->" + client->RemoteAddr().String();
  }
  std::string server_addrs() const {
    return server->LocalAddr().String() + "->" + server->RemoteAddr().String();
  }
};

ConnPair Connect(const Server& s) {
  ConnPair p;
  auto c = net::Dial("tcp", s.addr);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return p;
  p.client = std::dynamic_pointer_cast<net::TCPConn>(*c);
  auto a = s.ln->AcceptTCP();
  EXPECT_TRUE(a.ok()) << a.status();
  if (a.ok()) p.server = *a;
  return p;
}

// ---------------------------------------------------------------- Accept

// EMFILE and ENFILE: returned to the caller (no retry), Go's text, the listener and
// the queued connection stay usable.
TEST_F(NetFaultTest, AcceptEmfileEnfileTexts) {
  f().accept4.Push({EMFILE, ENFILE});
  RunFaulty([&] {
    Server s = ListenLoopback();
    auto c = net::Dial("tcp", s.addr);
    ASSERT_TRUE(c.ok()) << c.status();
    auto a = s.ln->Accept();
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(Text(a.status()), "accept tcp " + s.addr + ": accept4: too many open files");
    EXPECT_EQ(net::Errno(a.status()), EMFILE);
    EXPECT_FALSE(net::IsTimeout(a.status()));
    EXPECT_FALSE(net::IsClosed(a.status()));
    a = s.ln->Accept();
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(Text(a.status()),
              "accept tcp " + s.addr + ": accept4: too many open files in system");
    EXPECT_EQ(net::Errno(a.status()), ENFILE);
    EXPECT_EQ(f().accept4.calls(), 2);
    a = s.ln->Accept();
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->RemoteAddr().String(), (*c)->LocalAddr().String());
    (void)(*a)->Close();
    (void)(*c)->Close();
    (void)s.ln->Close();
  });
}

// ECONNABORTED (a queued connection reset before accept): Accept tries the next one.
TEST_F(NetFaultTest, AcceptSkipsAbortedConnections) {
  f().accept4.Push({ECONNABORTED, EINTR, ECONNABORTED});
  RunFaulty([&] {
    Server s = ListenLoopback();
    auto c = net::Dial("tcp", s.addr);
    ASSERT_TRUE(c.ok()) << c.status();
    auto a = s.ln->Accept();
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ(f().accept4.calls(), 4);
    EXPECT_EQ((*a)->RemoteAddr().String(), (*c)->LocalAddr().String());
    (void)(*a)->Close();
    (void)(*c)->Close();
    (void)s.ln->Close();
  });
}

// The accept + fcntl fallback: its errors name "accept" and "setnonblock"; when it
// works, the conn is a normal non-blocking conn.
TEST_F(NetFaultTest, AcceptFallbackTexts) {
  f().accept4.Always(ENOSYS);
  f().accept.Push({EMFILE});
  f().setfl.Push({EBADF});
  RunFaulty([&] {
    Server s = ListenLoopback();
    auto c = net::Dial("tcp", s.addr);
    ASSERT_TRUE(c.ok()) << c.status();
    auto a = s.ln->Accept();
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(Text(a.status()), "accept tcp " + s.addr + ": accept: too many open files");
    // setnonblock fails after accept took the connection: it is closed, so dial again.
    a = s.ln->Accept();
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(Text(a.status()), "accept tcp " + s.addr + ": setnonblock: bad file descriptor");
    EXPECT_EQ(net::Errno(a.status()), EBADF);
    auto c2 = net::Dial("tcp", s.addr);
    ASSERT_TRUE(c2.ok()) << c2.status();
    a = s.ln->Accept();
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->RemoteAddr().String(), (*c2)->LocalAddr().String());
    int fl = 0;
    (void)std::dynamic_pointer_cast<net::TCPConn>(*a)->Control(
        [&](int fd) { fl = fcntl(fd, F_GETFL); });
    EXPECT_NE(fl & O_NONBLOCK, 0);
    // It works: a round trip.
    ASSERT_TRUE((*c2)->Write({"hi", 2}).err.ok());
    char buf[2];
    net::IOResult r = (*a)->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "hi");
    EXPECT_EQ(f().accept4.calls(), 3);
    EXPECT_EQ(f().accept.calls(), 3);
    (void)(*a)->Close();
    (void)(*c)->Close();
    (void)(*c2)->Close();
    (void)s.ln->Close();
  });
}

// Restores RLIMIT_NOFILE when it goes out of scope.
class FileLimit {
 public:
  FileLimit() { ok_ = getrlimit(RLIMIT_NOFILE, &saved_) == 0; }
  ~FileLimit() {
    if (ok_) setrlimit(RLIMIT_NOFILE, &saved_);
  }
  // Soft limit = the lowest free fd number: the next fd allocation fails with EMFILE.
  bool Exhaust() {
    if (!ok_) return false;
    int lowest = 0;
    while (fcntl(lowest, F_GETFD) >= 0 || errno != EBADF) ++lowest;
    rlimit rl = saved_;
    rl.rlim_cur = static_cast<rlim_t>(lowest);
    return setrlimit(RLIMIT_NOFILE, &rl) == 0;
  }
  void Restore() {
    if (ok_) setrlimit(RLIMIT_NOFILE, &saved_);
  }

 private:
  bool ok_ = false;
  rlimit saved_{};
};

// A real EMFILE (no injection): the soft fd limit lowered to what is open. Dial's
// socket(2) and Accept's accept4(2) fail with Go's texts; with the limit restored the
// queued connection is accepted.
TEST_F(NetFaultTest, RealEmfileFromRlimit) {
  RunFaulty([&] {
    Server s = ListenLoopback();
    auto c = net::Dial("tcp", s.addr);
    ASSERT_TRUE(c.ok()) << c.status();
    absl::StatusOr<std::shared_ptr<net::Conn>> a, d;
    {
      FileLimit limit;
      if (!limit.Exhaust()) {
        GTEST_SKIP() << "cannot lower RLIMIT_NOFILE here";
      }
      d = net::Dial("tcp", s.addr);
      a = s.ln->Accept();
      limit.Restore();
    }
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(Text(d.status()), "dial tcp " + s.addr + ": socket: too many open files");
    ASSERT_FALSE(a.ok());
    EXPECT_EQ(Text(a.status()), "accept tcp " + s.addr + ": accept4: too many open files");
    EXPECT_EQ(net::Errno(a.status()), EMFILE);
    a = s.ln->Accept();
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->RemoteAddr().String(), (*c)->LocalAddr().String());
    (void)(*a)->Close();
    (void)(*c)->Close();
    (void)s.ln->Close();
  });
}

// ---------------------------------------------------------------- Read / Write

TEST_F(NetFaultTest, ReadWriteEintrAndShortWritesAreInvisible) {
  RunFaulty([&] {
    Server s = ListenLoopback();
    ConnPair p = Connect(s);
    ASSERT_TRUE(p.client && p.server);
    f().send_cap = 3;
    f().send.Push({EINTR, netfd::fault::kPass, EINTR});
    f().read.Push({EINTR, EINTR});
    const std::string msg = "0123456789abcdef";
    net::IOResult w = p.client->Write({msg.data(), msg.size()});
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, msg.size());
    EXPECT_EQ(f().send.calls(), 2 + 6);  // two EINTRs, 6 short writes of <= 3 bytes
    f().send_cap = 0;
    std::string got;
    char buf[64];
    while (got.size() < msg.size()) {
      net::IOResult r = p.server->Read(absl::MakeSpan(buf));
      ASSERT_TRUE(r.err.ok()) << r.err;
      got.append(buf, r.n);
    }
    EXPECT_EQ(got, msg);
    EXPECT_EQ(f().read.pending(), 0);
    (void)p.client->Close();
    (void)p.server->Close();
    (void)s.ln->Close();
  });
}

TEST_F(NetFaultTest, ReadWriteErrorTexts) {
  RunFaulty([&] {
    Server s = ListenLoopback();
    ConnPair p = Connect(s);
    ASSERT_TRUE(p.client && p.server);
    char buf[16];
    f().read.Push({ECONNRESET});
    net::IOResult r = p.server->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(Text(r.err), "read tcp " + p.server_addrs() + ": read: connection reset by peer");
    EXPECT_EQ(net::Errno(r.err), ECONNRESET);
    // A short write, then EPIPE: the count written and the error.
    f().send_cap = 4;
    f().send.Push({netfd::fault::kPass, EPIPE});
    net::IOResult w = p.client->Write({"0123456789", 10});
    EXPECT_EQ(w.n, 4u);
    EXPECT_EQ(Text(w.err), "write tcp " + p.client_addrs() + ": write: broken pipe");
    EXPECT_EQ(net::Errno(w.err), EPIPE);
    // Nothing written and no error: io.ErrUnexpectedEOF.
    f().send.Push({netfd::fault::kReturnZero});
    w = p.client->Write({"x", 1});
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(Text(w.err), "write tcp " + p.client_addrs() + ": unexpected EOF");
    (void)p.client->Close();
    (void)p.server->Close();
    (void)s.ln->Close();
  });
}

// ---------------------------------------------------------------- Close

// close(2)'s error: "close tcp L->R: input/output error" (a bare errno, as Go's
// poll.FD.Close returns it); the fd is gone, and the second Close is ErrClosed.
TEST_F(NetFaultTest, CloseErrorTexts) {
  RunFaulty([&] {
    Server s = ListenLoopback();
    ConnPair p = Connect(s);
    ASSERT_TRUE(p.client && p.server);
    const std::string addrs = p.client_addrs();
    f().close.Push({EIO});
    absl::Status e = p.client->Close();
    EXPECT_EQ(Text(e), "close tcp " + addrs + ": input/output error");
    EXPECT_EQ(net::Errno(e), EIO);
    e = p.client->Close();
    EXPECT_EQ(Text(e), "close tcp " + addrs + ": use of closed network connection");
    EXPECT_TRUE(net::IsClosed(e));
    // The peer sees EOF: the socket was really closed.
    char buf[4];
    net::IOResult r = p.server->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    (void)p.server->Close();
    f().close.Push({EBADF});
    e = s.ln->Close();
    EXPECT_EQ(Text(e), "close tcp " + s.addr + ": bad file descriptor");
    EXPECT_EQ(f().close.calls(), 3);
  });
}

// ---------------------------------------------------------------- Dial / Listen

TEST_F(NetFaultTest, DialAndListenSyscallErrorTexts) {
  RunFaulty([&] {
    f().socket.Push({EMFILE});
    auto l = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_FALSE(l.ok());
    EXPECT_EQ(Text(l.status()), "listen tcp 127.0.0.1:0: socket: too many open files");
    Server s = ListenLoopback();
    f().socket.Push({ENFILE});
    auto d = net::Dial("tcp", s.addr);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(Text(d.status()), "dial tcp " + s.addr + ": socket: too many open files in system");
    // SO_ERROR is connect's error; a failing getsockopt names itself.
    f().so_error.Push({ECONNREFUSED});
    d = net::Dial("tcp", s.addr);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(Text(d.status()), "dial tcp " + s.addr + ": connect: connection refused");
    EXPECT_EQ(net::Errno(d.status()), ECONNREFUSED);
    f().getsockopt.Push({ENOBUFS});
    d = net::Dial("tcp", s.addr);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(Text(d.status()), "dial tcp " + s.addr + ": getsockopt: no buffer space available");
    (void)s.ln->Close();  // also drops the two connections the kernel completed
  });
}

// EINTR from connect(2): Dial waits for the handshake and succeeds.
TEST_F(NetFaultTest, DialConnectEintrSucceeds) {
  f().connect_mode = ConnectMode::kEintrAfterStart;
  RunFaulty([&] {
    Server s = ListenLoopback();
    ConnPair p = Connect(s);
    ASSERT_TRUE(p.client && p.server);
    EXPECT_EQ(p.server->RemoteAddr().String(), p.client->LocalAddr().String());
    (void)p.client->Close();
    (void)p.server->Close();
    (void)s.ln->Close();
  });
}

// Go's doDialTCP retries a spurious EADDRNOTAVAIL twice (three attempts, each with a
// fresh socket), then reports it.
TEST_F(NetFaultTest, DialRetriesEaddrnotavailTwice) {
  RunFaulty([&] {
    Server s = ListenLoopback();
    f().connect.Push({EADDRNOTAVAIL, EADDRNOTAVAIL});
    ConnPair p = Connect(s);
    ASSERT_TRUE(p.client && p.server);
    EXPECT_EQ(f().socket.calls(), 1 + 3);  // the listener's, then three attempts
    f().connect.Push({EADDRNOTAVAIL, EADDRNOTAVAIL, EADDRNOTAVAIL});
    auto d = net::Dial("tcp", s.addr);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(Text(d.status()), "dial tcp " + s.addr + ": connect: cannot assign requested address");
    EXPECT_EQ(f().socket.calls(), 1 + 3 + 3);
    (void)p.client->Close();
    (void)p.server->Close();
    (void)s.ln->Close();
  });
}

// ---------------------------------------------------------------- options, shutdown

TEST_F(NetFaultTest, ShutdownAndSetsockoptErrorTexts) {
  RunFaulty([&] {
    Server s = ListenLoopback();
    ConnPair p = Connect(s);
    ASSERT_TRUE(p.client && p.server);
    const std::string addrs = p.client_addrs();
    const std::string local = p.client->LocalAddr().String();
    f().shutdown.Push({ENOTCONN});
    EXPECT_EQ(Text(p.client->CloseWrite()),
              "close tcp " + addrs + ": shutdown: transport endpoint is not connected");
    f().setsockopt.Push({ENOPROTOOPT, ENOPROTOOPT});
    EXPECT_EQ(Text(p.client->SetNoDelay(false)),
              "set tcp " + addrs + ": setsockopt: protocol not available");
    // Buffer sizes: Source nil, Addr = the local address (Go's quirk).
    EXPECT_EQ(Text(p.client->SetReadBuffer(4096)),
              "set tcp " + local + ": setsockopt: protocol not available");
    EXPECT_TRUE(p.client->SetNoDelay(true).ok());
    (void)p.client->Close();
    (void)p.server->Close();
    (void)s.ln->Close();
  });
}

}  // namespace
}  // namespace gonet
