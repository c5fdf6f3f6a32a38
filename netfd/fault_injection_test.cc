// Error paths of netfd/netfd.h that the kernel rarely takes, injected through the
// syscall table (syscalls.h, fault_injection.h) and checked against Go's
// internal/poll and net/fd_unix.go:
//   Accept  EINTR and ECONNABORTED retried; EMFILE/ENFILE/ENOBUFS returned at once
//           (syscall "accept4"); ENOSYS/EINVAL/EACCES/EFAULT fall back to accept +
//           fcntl (close-on-exec, non-blocking), whose errors name "accept" or
//           "setnonblock" (the accepted fd is then closed); EAGAIN waits.
//   Read    EINTR retried; other errors returned as "read".
//   Write   EINTR retried; short writes continue until everything is written; an
//           error after a short write returns the count with it; 0 bytes written
//           without an error is io.ErrUnexpectedEOF.
//   Close   close(2)'s error returned (bare errno), never retried; the fd is gone.
//   Connect EINTR from connect(2) waits for completion; 0 and EISCONN finish at
//           once; SO_ERROR EINPROGRESS/EALREADY/EINTR and a premature wake-up
//           (getpeername fails) wait again; getsockopt's and SO_ERROR's errors are
//           returned as "getsockopt" and "connect".
//   Socket, Shutdown, SetSockopt: errors named after their syscall.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "netfd/fault_injection.h"
#include "netfd/netfd.h"
#include "netfd/syscalls.h"
#include "netfd/test_util.h"

namespace gonet::netfd {
namespace {

using fault::ConnectMode;
using fault::Faults;
using fault::FakeSyscalls;
using test::CountOpenFds;
using test::Describe;
using test::S;

std::string ErrnoText(const char* call, int e) {
  return FdError::Errno(call, e).DebugString();
}

// Runs `body` in a Run of `procs` workers with the scripted table installed, and
// checks that no fd leaked.
class FaultTest : public testing::Test {
 protected:
  void SetUp() override { Faults::Get().Reset(); }
  void TearDown() override { Faults::Get().Reset(); }

  void RunFaulty(absl::AnyInvocable<void() &&> body, int procs = 2) {
    const int before = CountOpenFds();
    {
      ScopedSyscallOverride o(FakeSyscalls());
      gonet::Run(std::move(body), {.procs = procs});
    }
    EXPECT_EQ(CountOpenFds(), before) << "fd leak";
  }
  Faults& f() { return Faults::Get(); }
};

// A registered loopback TCP listener (127.0.0.1, ephemeral port). Fiber only.
std::unique_ptr<NetFD> Listen(sockaddr_in* addr) {
  std::unique_ptr<NetFD> fd;
  FdError e = NetFD::Socket(AF_INET, SOCK_STREAM, 0, "tcp", &fd);
  EXPECT_EQ(Describe(e), "ok");
  if (!e.ok()) return nullptr;
  *addr = {};
  addr->sin_family = AF_INET;
  addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int err = 0;
  (void)fd->Control([&](int s) {
    socklen_t len = sizeof *addr;
    if (bind(s, reinterpret_cast<sockaddr*>(addr), sizeof *addr) != 0 || listen(s, 16) != 0 ||
        getsockname(s, reinterpret_cast<sockaddr*>(addr), &len) != 0) {
      err = errno;
    }
  });
  EXPECT_EQ(err, 0) << strerror(err);
  EXPECT_EQ(Describe(fd->Init()), "ok");
  return fd;
}

// A raw blocking client connected to addr, outside the syscall table (its calls are
// not counted). Loopback: connect(2) completes without anybody accepting.
int RawDial(const sockaddr_in& addr) {
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_GE(c, 0);
  EXPECT_EQ(connect(c, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
      << strerror(errno);
  return c;
}

bool IsNonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }
bool IsCloexec(int fd) { return (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0; }

// Accepts one connection; returns the new fd (-1 on error, *err set).
int AcceptOne(NetFD* ln, FdError* err) {
  int nfd = -1;
  sockaddr_storage rsa{};
  socklen_t rlen = sizeof rsa;
  *err = ln->Accept(&nfd, &rsa, &rlen);
  if (err->ok()) {
    EXPECT_EQ(rsa.ss_family, AF_INET);
    EXPECT_EQ(rlen, sizeof(sockaddr_in));
  }
  return err->ok() ? nfd : -1;
}

// ---------------------------------------------------------------- Accept

TEST_F(FaultTest, AcceptRetriesEintrAndEconnaborted) {
  f().accept4.Push({EINTR, ECONNABORTED, ECONNABORTED});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    int c = RawDial(a);
    FdError err;
    int s = AcceptOne(ln.get(), &err);
    EXPECT_EQ(Describe(err), "ok");
    // Three injected failures, then the real accept4: nothing in between.
    EXPECT_EQ(f().accept4.calls(), 4);
    EXPECT_EQ(f().accept.calls(), 0);
    EXPECT_TRUE(IsNonblocking(s));
    EXPECT_TRUE(IsCloexec(s));
    close(s);
    close(c);
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

class AcceptNoRetryTest : public FaultTest, public testing::WithParamInterface<int> {};

// EMFILE, ENFILE, ENOBUFS...: returned to the caller at once (Go: no retry, the
// listener stays usable and the connection stays queued).
TEST_P(AcceptNoRetryTest, ReturnedWithoutRetry) {
  const int e = GetParam();
  f().accept4.Push({e});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    int c = RawDial(a);
    FdError err;
    EXPECT_EQ(AcceptOne(ln.get(), &err), -1);
    EXPECT_EQ(Describe(err), ErrnoText("accept4", e));
    EXPECT_EQ(err.kind, FdError::Kind::kErrno);
    EXPECT_EQ(err.err, e);
    EXPECT_STREQ(err.syscall, "accept4");
    EXPECT_EQ(f().accept4.calls(), 1);
    EXPECT_EQ(f().accept.calls(), 0);
    // The connection is still queued: the next Accept gets it.
    int s = AcceptOne(ln.get(), &err);
    EXPECT_EQ(Describe(err), "ok");
    EXPECT_EQ(f().accept4.calls(), 2);
    close(s);
    close(c);
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

INSTANTIATE_TEST_SUITE_P(Errnos, AcceptNoRetryTest,
                         testing::Values(EMFILE, ENFILE, ENOBUFS, ENOMEM, EPERM));

class AcceptFallbackTest : public FaultTest, public testing::WithParamInterface<int> {};

// accept4 missing (ENOSYS; EINVAL/EACCES/EFAULT on some kernels): accept + fcntl makes
// the fd close-on-exec and non-blocking, as accept4's flags would have.
TEST_P(AcceptFallbackTest, FallsBackToAcceptAndFcntl) {
  f().accept4.Always(GetParam());
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    int c = RawDial(a);
    FdError err;
    int s = AcceptOne(ln.get(), &err);
    EXPECT_EQ(Describe(err), "ok");
    EXPECT_EQ(f().accept4.calls(), 1);
    EXPECT_EQ(f().accept.calls(), 1);
    EXPECT_EQ(f().setfl.calls(), 1);
    EXPECT_TRUE(IsNonblocking(s));
    EXPECT_TRUE(IsCloexec(s));
    close(s);
    close(c);
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

INSTANTIATE_TEST_SUITE_P(Errnos, AcceptFallbackTest,
                         testing::Values(ENOSYS, EINVAL, EACCES, EFAULT));

// The fallback's accept retries EINTR and ECONNABORTED too, and its EAGAIN parks until
// a connection arrives (each round starts again with accept4).
TEST_F(FaultTest, AcceptFallbackRetriesAndWaits) {
  f().accept4.Always(ENOSYS);
  f().accept.Push({EINTR, ECONNABORTED});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    fiber::WaitGroup wg;
    int c = -1;
    wg.Add(1);
    gonet::Go([&] {
      // Connect only once the Accept has seen the real EAGAIN (so it waits).
      while (f().accept_eagain.load() == 0) gonet::Sleep(absl::Milliseconds(1));
      c = RawDial(a);
      wg.Done();
    });
    FdError err;
    int s = AcceptOne(ln.get(), &err);
    EXPECT_EQ(Describe(err), "ok");
    wg.Wait();
    // EINTR, ECONNABORTED, EAGAIN (wait), success.
    EXPECT_EQ(f().accept.calls(), 4);
    EXPECT_EQ(f().accept4.calls(), 4);
    EXPECT_EQ(f().accept_eagain.load(), 1);
    EXPECT_TRUE(IsNonblocking(s));
    EXPECT_TRUE(IsCloexec(s));
    close(s);
    close(c);
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

// The fallback's own errors name "accept"; EMFILE is not retried there either.
TEST_F(FaultTest, AcceptFallbackErrorNamesAccept) {
  f().accept4.Always(ENOSYS);
  f().accept.Push({EMFILE});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    int c = RawDial(a);
    FdError err;
    EXPECT_EQ(AcceptOne(ln.get(), &err), -1);
    EXPECT_EQ(Describe(err), ErrnoText("accept", EMFILE));
    EXPECT_EQ(f().accept.calls(), 1);
    close(c);
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

// fcntl(F_SETFL, O_NONBLOCK) failing: "setnonblock", and the accepted fd is closed.
TEST_F(FaultTest, AcceptFallbackSetNonblockFailureClosesTheConn) {
  f().accept4.Always(ENOSYS);
  f().setfl.Push({EBADF});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    int c = RawDial(a);
    const int open_before = CountOpenFds();
    FdError err;
    EXPECT_EQ(AcceptOne(ln.get(), &err), -1);
    EXPECT_EQ(Describe(err), ErrnoText("setnonblock", EBADF));
    EXPECT_EQ(f().accept.calls(), 1);
    EXPECT_EQ(f().close.calls(), 1);  // the accepted fd
    EXPECT_EQ(CountOpenFds(), open_before);
    close(c);
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

// ---------------------------------------------------------------- Read / Write

TEST_F(FaultTest, ReadRetriesEintr) {
  f().read.Push({EINTR, EINTR});
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    ASSERT_EQ(::send(p.b->sysfd_for_test(), "hello", 5, 0), 5);
    char buf[16];
    FdResult r = p.a->Read(absl::MakeSpan(buf));
    EXPECT_EQ(Describe(r.err), "ok");
    EXPECT_EQ(std::string(buf, r.n), "hello");
    EXPECT_EQ(f().read.calls(), 3);
    test::ClosePair(p);
  });
}

TEST_F(FaultTest, ReadErrorIsReturnedAndTheFdStaysUsable) {
  f().read.Push({ECONNRESET});
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    ASSERT_EQ(::send(p.b->sysfd_for_test(), "x", 1, 0), 1);
    char buf[16];
    FdResult r = p.a->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(Describe(r.err), ErrnoText("read", ECONNRESET));
    EXPECT_EQ(f().read.calls(), 1);
    r = p.a->Read(absl::MakeSpan(buf));
    EXPECT_EQ(Describe(r.err), "ok");
    EXPECT_EQ(std::string(buf, r.n), "x");
    test::ClosePair(p);
  });
}

// Reads everything the peer has sent (raw, outside the table) until `want` bytes.
std::string RawReadN(int fd, size_t want) {
  std::string out;
  char buf[4096];
  while (out.size() < want) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EAGAIN) {
      break;
    } else {
      gonet::Sleep(absl::Milliseconds(1));
    }
  }
  return out;
}

TEST_F(FaultTest, WriteRetriesEintr) {
  f().send.Push({EINTR, EINTR});
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    FdResult r = p.a->Write(S("hello"));
    EXPECT_EQ(Describe(r.err), "ok");
    EXPECT_EQ(r.n, 5u);
    EXPECT_EQ(f().send.calls(), 3);
    EXPECT_EQ(RawReadN(p.b->sysfd_for_test(), 5), "hello");
    test::ClosePair(p);
  });
}

// Go's write loop: a short count is not an error; it continues from where it stopped
// until all bytes are written, in order.
TEST_F(FaultTest, ShortWritesContinueUntilAllIsWritten) {
  f().send_cap = 7;
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    std::string data(1000, '\0');
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    FdResult r = p.a->Write(S(data));
    EXPECT_EQ(Describe(r.err), "ok");
    EXPECT_EQ(r.n, data.size());
    EXPECT_EQ(f().send.calls(), (1000 + 6) / 7);
    EXPECT_EQ(RawReadN(p.b->sysfd_for_test(), data.size()), data);
    test::ClosePair(p);
  });
}

// EINTR between short writes is retried without losing the position.
TEST_F(FaultTest, ShortWritesAndEintrInterleaved) {
  f().send_cap = 3;
  f().send.Push({fault::kPass, EINTR, fault::kPass, EINTR, EINTR});
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    FdResult r = p.a->Write(S("0123456789"));
    EXPECT_EQ(Describe(r.err), "ok");
    EXPECT_EQ(r.n, 10u);
    EXPECT_EQ(f().send.calls(), 4 + 3);  // 3+3+3+1 bytes, three EINTRs
    EXPECT_EQ(RawReadN(p.b->sysfd_for_test(), 10), "0123456789");
    test::ClosePair(p);
  });
}

// An error after a short write: the bytes written so far come back with the error.
TEST_F(FaultTest, ErrorAfterShortWriteReturnsCountAndError) {
  f().send_cap = 5;
  f().send.Push({fault::kPass, EPIPE});
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    FdResult r = p.a->Write(S("0123456789"));
    EXPECT_EQ(r.n, 5u);
    EXPECT_EQ(Describe(r.err), ErrnoText("write", EPIPE));
    EXPECT_EQ(f().send.calls(), 2);
    EXPECT_EQ(RawReadN(p.b->sysfd_for_test(), 5), "01234");
    test::ClosePair(p);
  });
}

// send returning 0 for a non-empty buffer without an error: io.ErrUnexpectedEOF, no
// endless loop.
TEST_F(FaultTest, WriteOfNothingIsUnexpectedEof) {
  f().send.Push({fault::kPass, fault::kReturnZero});
  f().send_cap = 4;
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    FdResult r = p.a->Write(S("0123456789"));
    EXPECT_EQ(r.n, 4u);
    EXPECT_EQ(Describe(r.err), "unexpectedeof");
    EXPECT_EQ(f().send.calls(), 2);
    test::ClosePair(p);
  });
}

// ---------------------------------------------------------------- Close

// close(2)'s error comes back from Close (bare errno, no syscall name, as Go's
// FD.Close); the fd is closed anyway and a second Close says "closing".
TEST_F(FaultTest, CloseReturnsCloseErrorOnce) {
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    f().close.Push({EIO});
    FdError e = p.a->Close();
    EXPECT_EQ(e.kind, FdError::Kind::kErrno);
    EXPECT_EQ(e.err, EIO);
    EXPECT_EQ(e.syscall, nullptr);
    EXPECT_EQ(f().close.calls(), 1);
    EXPECT_EQ(Describe(p.a->Close()), "closing");
    EXPECT_EQ(f().close.calls(), 1);  // never retried
    // The peer sees the hang-up: the fd really was closed.
    char buf[4];
    FdResult r = p.b->Read(absl::MakeSpan(buf));
    EXPECT_EQ(Describe(r.err), "eof");
    EXPECT_EQ(Describe(p.b->Close()), "ok");
  });
}

// EINTR from close is not retried either (Linux has closed the fd).
TEST_F(FaultTest, CloseEintrIsNotRetried) {
  RunFaulty([&] {
    test::Pair p = test::NewPair();
    f().close.Push({EINTR});
    FdError e = p.a->Close();
    EXPECT_EQ(e.err, EINTR);
    EXPECT_EQ(f().close.calls(), 1);
    EXPECT_EQ(Describe(p.b->Close()), "ok");
  });
}

// ---------------------------------------------------------------- Connect / Socket

// Connects a new TCP NetFD to addr with the given deadline (0: none).
FdError DialFd(const sockaddr_in& addr, std::unique_ptr<NetFD>* out, int64_t deadline = 0) {
  FdError e = NetFD::Socket(AF_INET, SOCK_STREAM, 0, "tcp", out);
  if (!e.ok()) return e;
  return (*out)->Connect(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, deadline);
}

// Checks that fd is connected to the listener: accepts the peer and echoes a byte.
void ExpectConnected(NetFD* fd, NetFD* ln) {
  FdError err;
  int s = AcceptOne(ln, &err);
  ASSERT_EQ(Describe(err), "ok");
  FdResult w = fd->Write(S("z"));
  EXPECT_EQ(Describe(w.err), "ok");
  char c = 0;
  pollfd pfd{s, POLLIN, 0};
  EXPECT_EQ(poll(&pfd, 1, 5000), 1);
  EXPECT_EQ(::recv(s, &c, 1, 0), 1);
  EXPECT_EQ(c, 'z');
  close(s);
}

// connect(2) interrupted after it started: Go treats EINTR like EINPROGRESS and waits
// for writability, then SO_ERROR.
TEST_F(FaultTest, ConnectEintrWaitsForCompletion) {
  f().connect_mode = ConnectMode::kEintrAfterStart;
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    std::unique_ptr<NetFD> fd;
    EXPECT_EQ(Describe(DialFd(a, &fd)), "ok");
    EXPECT_EQ(f().connect.calls(), 1);
    EXPECT_GE(f().getsockopt.calls(), 1);
    ExpectConnected(fd.get(), ln.get());
    EXPECT_EQ(Describe(fd->Close()), "ok");
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

class ConnectSyncTest : public FaultTest, public testing::WithParamInterface<ConnectMode> {};

// connect(2) returning 0 or EISCONN: connected, registered, no wait and no SO_ERROR.
TEST_P(ConnectSyncTest, ImmediateSuccessSkipsTheWait) {
  f().connect_mode = GetParam();
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    std::unique_ptr<NetFD> fd;
    EXPECT_EQ(Describe(DialFd(a, &fd)), "ok");
    EXPECT_EQ(f().getsockopt.calls(), 0);
    EXPECT_EQ(f().getpeername.calls(), 0);
    ExpectConnected(fd.get(), ln.get());  // and registered: Write works
    EXPECT_EQ(Describe(fd->Close()), "ok");
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, ConnectSyncTest,
                         testing::Values(ConnectMode::kSyncSuccess, ConnectMode::kSyncIsConn));

// An immediate connect(2) error is returned as "connect" without registering.
TEST_F(FaultTest, ConnectImmediateErrorIsReturned) {
  f().connect.Push({ENETUNREACH});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    std::unique_ptr<NetFD> fd;
    EXPECT_EQ(Describe(DialFd(a, &fd)), ErrnoText("connect", ENETUNREACH));
    EXPECT_EQ(f().getsockopt.calls(), 0);
    EXPECT_EQ(Describe(fd->Close()), "ok");
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

class ConnectSoErrorRetryTest : public FaultTest, public testing::WithParamInterface<int> {};

// SO_ERROR saying EINPROGRESS, EALREADY or EINTR after a wake-up: wait again. Here the
// first wake-up comes before the handshake even started (kDeferred), the second from
// its completion.
TEST_P(ConnectSoErrorRetryTest, WaitsAgain) {
  f().connect_mode = ConnectMode::kDeferred;
  f().so_error.Push({GetParam()});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    std::unique_ptr<NetFD> fd;
    EXPECT_EQ(Describe(DialFd(a, &fd, DeadlineToMono(absl::Now() + absl::Seconds(10)))), "ok");
    // One premature wake-up answered with the injected value, then the real one. (A
    // third round is possible if the kernel wakes the socket before the handshake is
    // done; what matters is that the injected value was consumed without failing.)
    EXPECT_EQ(f().so_error.pending(), 0);
    EXPECT_GE(f().getsockopt.calls(), 2);
    EXPECT_GE(f().getpeername.calls(), 1);
    ExpectConnected(fd.get(), ln.get());
    EXPECT_EQ(Describe(fd->Close()), "ok");
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

INSTANTIATE_TEST_SUITE_P(Errnos, ConnectSoErrorRetryTest,
                         testing::Values(EINPROGRESS, EALREADY, EINTR));

// A spurious wake-up (Go issues 14548, 19289): SO_ERROR is 0 but getpeername says not
// connected: wait again instead of returning a socket that is not connected.
TEST_F(FaultTest, ConnectSpuriousWakeupWaitsAgain) {
  f().connect_mode = ConnectMode::kDeferred;
  f().getpeername.Push({ENOTCONN});
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    std::unique_ptr<NetFD> fd;
    EXPECT_EQ(Describe(DialFd(a, &fd, DeadlineToMono(absl::Now() + absl::Seconds(10)))), "ok");
    EXPECT_EQ(f().getpeername.pending(), 0);
    EXPECT_GE(f().getsockopt.calls(), 2);
    EXPECT_GE(f().getpeername.calls(), 2);
    ExpectConnected(fd.get(), ln.get());
    EXPECT_EQ(Describe(fd->Close()), "ok");
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

// SO_ERROR's error is connect's error; getsockopt's own failure is "getsockopt".
TEST_F(FaultTest, ConnectSoErrorAndGetsockoptFailure) {
  RunFaulty([&] {
    sockaddr_in a;
    auto ln = Listen(&a);
    std::unique_ptr<NetFD> fd;
    f().so_error.Push({ECONNREFUSED});
    EXPECT_EQ(Describe(DialFd(a, &fd)), ErrnoText("connect", ECONNREFUSED));
    EXPECT_EQ(Describe(fd->Close()), "ok");
    f().getsockopt.Push({ENOBUFS});
    EXPECT_EQ(Describe(DialFd(a, &fd)), ErrnoText("getsockopt", ENOBUFS));
    EXPECT_EQ(Describe(fd->Close()), "ok");
    // Both attempts did connect in the kernel: drain them.
    FdError err;
    for (int i = 0; i < 2; ++i) {
      int s = AcceptOne(ln.get(), &err);
      EXPECT_EQ(Describe(err), "ok");
      close(s);
    }
    EXPECT_EQ(Describe(ln->Close()), "ok");
  });
}

TEST_F(FaultTest, SocketShutdownSetsockoptErrorsNameTheirSyscall) {
  f().socket.Push({EMFILE});
  RunFaulty([&] {
    std::unique_ptr<NetFD> fd;
    EXPECT_EQ(Describe(NetFD::Socket(AF_INET, SOCK_STREAM, 0, "tcp", &fd)),
              ErrnoText("socket", EMFILE));
    EXPECT_EQ(fd, nullptr);
    test::Pair p = test::NewPair();
    f().shutdown.Push({ENOTCONN});
    EXPECT_EQ(Describe(p.a->Shutdown(SHUT_WR)), ErrnoText("shutdown", ENOTCONN));
    f().setsockopt.Push({ENOPROTOOPT});
    EXPECT_EQ(Describe(p.a->SetSockoptInt(SOL_SOCKET, SO_SNDBUF, 4096)),
              ErrnoText("setsockopt", ENOPROTOOPT));
    EXPECT_EQ(Describe(p.a->SetSockoptInt(SOL_SOCKET, SO_SNDBUF, 4096)), "ok");
    test::ClosePair(p);
  });
}

// The default table is the real one, and an override is undone by its destructor.
TEST(SyscallTable, OverrideIsScoped) {
  const Syscalls before = Sys();
  EXPECT_EQ(before.read, DefaultSyscalls().read);
  EXPECT_EQ(before.close, DefaultSyscalls().close);
  {
    ScopedSyscallOverride o(FakeSyscalls());
    EXPECT_NE(Sys().read, DefaultSyscalls().read);
    EXPECT_NE(Sys().accept4, DefaultSyscalls().accept4);
  }
  EXPECT_EQ(Sys().read, DefaultSyscalls().read);
  EXPECT_EQ(Sys().accept4, DefaultSyscalls().accept4);
}

}  // namespace
}  // namespace gonet::netfd
