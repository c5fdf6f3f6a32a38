// Tests of netfd/netfd.h (Go's internal/poll.FD, docs/behavior.md §1, §2 and §4)
// on AF_UNIX stream socketpairs: parking reads and writes, EOF, close while blocked,
// EPIPE without SIGPIPE, double close, contiguous concurrent writes, fd reuse, and fd
// leaks. Fiber tests run at procs 1, 2 and 8.
//
// "Parked": at procs 1 a fiber the main fiber spawned and then yielded to has certainly
// reached its park before main continues; at procs 2 and 8 it may not have yet, and
// the same assertions then cover the not-yet-parked path.
#include "netfd/netfd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "netfd/test_util.h"
#include "testing/leak_check_gtest.h"

namespace gonet::netfd {
namespace {

using gonet::leak_check::RunChecked;

using test::ClosePair;
using test::CountOpenFds;
using test::Describe;
using test::NewPair;
using test::Pair;
using test::RawPair;
using test::S;
using test::ShrinkSendBuffer;




bool FdIsOpen(int fd) { return fcntl(fd, F_GETFD) >= 0 || errno != EBADF; }

// Reads until EOF or an error; returns the bytes and the final error.
std::string ReadAll(NetFD* fd, FdError* last) {
  std::string out;
  std::vector<char> buf(64 << 10);
  for (;;) {
    FdResult r = fd->Read(absl::MakeSpan(buf));
    out.append(buf.data(), r.n);
    if (!r.err.ok()) {
      *last = r.err;
      return out;
    }
  }
}

class NetFDTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

TEST_P(NetFDTest, ReadParksUntilPeerWrites) {
  FdResult r;
  std::string got;
  std::atomic<bool> returned_early{false};
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fiber::WaitGroup wg;
    std::atomic<bool> written{false};
    wg.Add(1);
    gonet::Go([&] {
      char buf[16];
      r = p.a->Read(absl::MakeSpan(buf));
      if (!written.load()) returned_early.store(true);
      got.assign(buf, r.n);
      wg.Done();
    });
    gonet::Yield();
    written.store(true);
    ASSERT_EQ(p.b->Write(S("ping")).n, 4u);
    wg.Wait();
    ClosePair(p);
  }, Opts());
  EXPECT_FALSE(returned_early.load());
  EXPECT_EQ(Describe(r.err), "ok");
  EXPECT_EQ(got, "ping");
}

TEST_P(NetFDTest, ReadReturnsOneChunkNotAFullBuffer) {
  FdResult r;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ASSERT_EQ(p.b->Write(S("abc")).n, 3u);
    char buf[100];
    r = p.a->Read(absl::MakeSpan(buf));
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(r.err), "ok");
  EXPECT_EQ(r.n, 3u);
}

TEST_P(NetFDTest, EofOnPeerCloseIsRepeatedAndZeroLengthReadStaysOk) {
  FdResult data, eof1, eof2, zero_at_eof, zero_expired;
  std::string got;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ASSERT_EQ(p.b->Write(S("bye")).n, 3u);
    EXPECT_EQ(Describe(p.b->Close()), "ok");
    char buf[16];
    data = p.a->Read(absl::MakeSpan(buf));
    got.assign(buf, data.n);
    eof1 = p.a->Read(absl::MakeSpan(buf));
    eof2 = p.a->Read(absl::MakeSpan(buf));
    // Zero-length reads return before any syscall or poller check: (0, ok) even at
    // EOF and even with an expired read deadline.
    zero_at_eof = p.a->Read(absl::Span<char>());
    ASSERT_EQ(Describe(p.a->SetDeadline(-1, 'r')), "ok");
    zero_expired = p.a->Read(absl::Span<char>(buf, 0));
    EXPECT_EQ(Describe(p.a->Close()), "ok");
  }, Opts());
  EXPECT_EQ(got, "bye");
  EXPECT_EQ(Describe(eof1.err), "eof");
  EXPECT_EQ(eof1.n, 0u);
  EXPECT_EQ(Describe(eof2.err), "eof");
  EXPECT_EQ(Describe(zero_at_eof.err), "ok");
  EXPECT_EQ(zero_at_eof.n, 0u);
  EXPECT_EQ(Describe(zero_expired.err), "ok");
  EXPECT_EQ(zero_expired.n, 0u);
}

TEST_P(NetFDTest, EofAfterShortReadIsNotMissed) {
  // A reader is parked; the peer writes and closes at once, so one readiness edge
  // covers both the data and the hang-up, and the parked reader consumes it. Its short
  // read of the data must not make the next Read skip its syscall and wait for an
  // edge that never comes. A 2 s read deadline turns such a hang into a failure
  // ("timeout" instead of "eof"). Deterministic at procs 1 (the reader is parked
  // before the peer acts, and write + close run without a scheduling point between).
  FdResult data, eof;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ASSERT_EQ(Describe(p.a->SetDeadline(fiber_internal::MonoNanos() + 2000000000, 'r')), "ok");
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {
      char buf[64];
      data = p.a->Read(absl::MakeSpan(buf));
      eof = p.a->Read(absl::MakeSpan(buf));
      wg.Done();
    });
    gonet::Yield();
    ASSERT_EQ(p.b->Write(S("tail")).n, 4u);
    EXPECT_EQ(Describe(p.b->Close()), "ok");
    wg.Wait();
    EXPECT_EQ(Describe(p.a->Close()), "ok");
  }, Opts());
  EXPECT_EQ(Describe(data.err), "ok");
  EXPECT_EQ(data.n, 4u);
  EXPECT_EQ(Describe(eof.err), "eof");
}

TEST_P(NetFDTest, BlockedReadWokenByPeerClose) {
  FdResult r;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {
      char buf[4];
      r = p.a->Read(absl::MakeSpan(buf));
      wg.Done();
    });
    gonet::Yield();
    EXPECT_EQ(Describe(p.b->Close()), "ok");
    wg.Wait();
    EXPECT_EQ(Describe(p.a->Close()), "ok");
  }, Opts());
  EXPECT_EQ(Describe(r.err), "eof");
  EXPECT_EQ(r.n, 0u);
}

TEST_P(NetFDTest, WriteParksUntilPeerDrainsAndReturnsFullCount) {
  constexpr size_t kBig = 2 << 20;
  FdResult w;
  std::string got;
  std::string sent(kBig, '\0');
  for (size_t i = 0; i < kBig; ++i) sent[i] = static_cast<char>('a' + i % 23);
  FdError last;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ShrinkSendBuffer(p.a.get());
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {
      w = p.a->Write(sent);
      EXPECT_EQ(Describe(p.a->Shutdown(SHUT_WR)), "ok");  // lets the reader see EOF
      wg.Done();
    });
    got = ReadAll(p.b.get(), &last);
    wg.Wait();
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(w.err), "ok");
  EXPECT_EQ(w.n, kBig);
  EXPECT_EQ(Describe(last), "eof");
  EXPECT_TRUE(got == sent) << "got " << got.size() << " bytes";
}

TEST_P(NetFDTest, ZeroLengthWriteIsOk) {
  FdResult w;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    w = p.a->Write(absl::Span<const char>());
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(w.err), "ok");
  EXPECT_EQ(w.n, 0u);
}

TEST_P(NetFDTest, CloseUnblocksBlockedReadAndWrite) {
  constexpr size_t kBig = 4 << 20;
  FdResult r, w;
  FdError close_err, last;
  size_t peer_got = 0;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ShrinkSendBuffer(p.a.get());
    fiber::WaitGroup wg;
    wg.Add(2);
    gonet::Go([&] {
      char buf[4];
      r = p.a->Read(absl::MakeSpan(buf));  // the peer never writes
      wg.Done();
    });
    gonet::Go([&] {
      w = p.a->Write(std::string(kBig, 'q'));  // the peer never reads
      wg.Done();
    });
    gonet::Yield();
    gonet::Yield();
    close_err = p.a->Close();  // returns once both have left and close(2) ran
    wg.Wait();
    peer_got = ReadAll(p.b.get(), &last).size();
    EXPECT_EQ(Describe(p.b->Close()), "ok");
  }, Opts());
  EXPECT_EQ(Describe(close_err), "ok");
  EXPECT_EQ(Describe(r.err), "closing");
  EXPECT_EQ(r.n, 0u);
  EXPECT_EQ(Describe(w.err), "closing");
  EXPECT_LT(w.n, kBig);
  EXPECT_EQ(Describe(last), "eof");
  EXPECT_EQ(peer_got, w.n) << "a partial Write must report exactly what was sent";
}

TEST_P(NetFDTest, CloseWaitsForInFlightControl) {
  // Control holds a reference: Close must not close(2) under it.
  bool fd_open_inside = false;
  FdError close_err;
  int sysfd = -1;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fiber::WaitGroup wg;
    fiber::Mutex mu;
    fiber::CondVar cv;
    bool inside = false, release = false;
    wg.Add(1);
    gonet::Go([&] {
      EXPECT_EQ(Describe(p.a->Control([&](int fd) {
        sysfd = fd;
        fiber::MutexLock l(&mu);
        inside = true;
        cv.SignalAll();
        while (!release) cv.Wait(&mu);
        fd_open_inside = FdIsOpen(fd);
      })), "ok");
      wg.Done();
    });
    {
      fiber::MutexLock l(&mu);
      while (!inside) cv.Wait(&mu);
    }
    wg.Add(1);
    gonet::Go([&] {
      close_err = p.a->Close();
      wg.Done();
    });
    gonet::Yield();
    {
      fiber::MutexLock l(&mu);
      release = true;
      cv.SignalAll();
    }
    wg.Wait();
    EXPECT_FALSE(FdIsOpen(sysfd));
    EXPECT_EQ(Describe(p.b->Close()), "ok");
  }, Opts());
  EXPECT_TRUE(fd_open_inside);
  EXPECT_EQ(Describe(close_err), "ok");
}

TEST_P(NetFDTest, DoubleCloseAndUseAfterCloseReturnClosing) {
  FdError first, second, deadline, shut, sockopt, control;
  FdResult r, w;
  int sysfd = -1;
  bool open_after = true;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    sysfd = p.a->sysfd_for_test();
    first = p.a->Close();
    open_after = FdIsOpen(sysfd);
    second = p.a->Close();
    char buf[4];
    r = p.a->Read(absl::MakeSpan(buf));
    w = p.a->Write(S("x"));
    deadline = p.a->SetDeadline(0, 'r' + 'w');
    shut = p.a->Shutdown(SHUT_WR);
    sockopt = p.a->SetSockoptInt(SOL_SOCKET, SO_SNDBUF, 4096);
    control = p.a->Control([](int) { ADD_FAILURE() << "Control ran after Close"; });
    EXPECT_EQ(Describe(p.b->Close()), "ok");
  }, Opts());
  EXPECT_EQ(Describe(first), "ok");
  EXPECT_FALSE(open_after);
  EXPECT_EQ(Describe(second), "closing");
  EXPECT_EQ(Describe(r.err), "closing");
  EXPECT_EQ(Describe(w.err), "closing");
  EXPECT_EQ(w.n, 0u);
  EXPECT_EQ(Describe(deadline), "closing");
  EXPECT_EQ(Describe(shut), "closing");
  EXPECT_EQ(Describe(sockopt), "closing");
  EXPECT_EQ(Describe(control), "closing");
}

TEST_P(NetFDTest, WriteAfterPeerCloseIsEpipeWithoutSigpipe) {
  // SIGPIPE at its default disposition kills the process; Write must not raise it.
  struct sigaction old_sa;
  struct sigaction sa = {};
  sa.sa_handler = SIG_DFL;
  ASSERT_EQ(sigaction(SIGPIPE, &sa, &old_sa), 0);
  FdResult w1, w2;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    EXPECT_EQ(Describe(p.b->Close()), "ok");
    w1 = p.a->Write(S("y"));
    w2 = p.a->Write(std::string(1 << 20, 'z'));
    EXPECT_EQ(Describe(p.a->Close()), "ok");
  }, Opts());
  sigaction(SIGPIPE, &old_sa, nullptr);
  EXPECT_EQ(Describe(w1.err), absl::StrCat("errno:write:", strerror(EPIPE)));
  EXPECT_EQ(w1.n, 0u);
  EXPECT_EQ(Describe(w2.err), absl::StrCat("errno:write:", strerror(EPIPE)));
}

TEST_P(NetFDTest, ShutdownWriteGivesPeerEofAndOwnWriteEpipe) {
  FdResult peer_read, own_write, peer_write;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ASSERT_EQ(Describe(p.a->Shutdown(SHUT_WR)), "ok");
    EXPECT_EQ(Describe(p.a->Shutdown(SHUT_WR)), "ok");  // twice is fine
    char buf[4];
    peer_read = p.b->Read(absl::MakeSpan(buf));
    own_write = p.a->Write(S("n"));
    peer_write = p.b->Write(S("m"));  // the other direction still works
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(peer_read.err), "eof");
  EXPECT_EQ(Describe(own_write.err), absl::StrCat("errno:write:", strerror(EPIPE)));
  EXPECT_EQ(Describe(peer_write.err), "ok");
}

TEST_P(NetFDTest, ConcurrentWritesAreContiguous) {
  // Each Write holds the write lock across all its waits: chunks never interleave.
  constexpr int kWriters = 6;
  constexpr int kWrites = 3;
  constexpr size_t kChunk = 256 << 10;
  std::string got;
  FdError last;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ShrinkSendBuffer(p.a.get());
    fiber::WaitGroup wg;
    for (int i = 0; i < kWriters; ++i) {
      wg.Add(1);
      gonet::Go([&, i] {
        const std::string chunk(kChunk, static_cast<char>('A' + i));
        for (int k = 0; k < kWrites; ++k) {
          FdResult w = p.a->Write(chunk);
          EXPECT_EQ(Describe(w.err), "ok");
          EXPECT_EQ(w.n, kChunk);
        }
        wg.Done();
      });
    }
    fiber::WaitGroup reader;
    reader.Add(1);
    gonet::Go([&] {
      got = ReadAll(p.b.get(), &last);
      reader.Done();
    });
    wg.Wait();
    EXPECT_EQ(Describe(p.a->Close()), "ok");
    reader.Wait();
    EXPECT_EQ(Describe(p.b->Close()), "ok");
  }, Opts());
  EXPECT_EQ(Describe(last), "eof");
  ASSERT_EQ(got.size(), kWriters * kWrites * kChunk);
  int per_writer[kWriters] = {};
  for (size_t off = 0; off < got.size(); off += kChunk) {
    const char c = got[off];
    ASSERT_GE(c, 'A');
    ASSERT_LT(c, 'A' + kWriters);
    ++per_writer[c - 'A'];
    // Aligned and homogeneous: one whole Write (the same writer may come twice in a row).
    ASSERT_EQ(got.compare(off, kChunk, std::string(kChunk, c)), 0)
        << "chunk at " << off << " is not one whole Write";
  }
  for (int i = 0; i < kWriters; ++i) EXPECT_EQ(per_writer[i], kWrites);
}

TEST_P(NetFDTest, ConcurrentReadersGetDisjointBytes) {
  constexpr int kReaders = 4;
  constexpr size_t kTotal = 1 << 20;
  std::atomic<size_t> total{0};
  std::vector<int> counts(256);
  std::atomic<int> eofs{0};
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fiber::WaitGroup wg;
    fiber::Mutex mu;
    for (int i = 0; i < kReaders; ++i) {
      wg.Add(1);
      gonet::Go([&] {
        char buf[4096];
        for (;;) {
          FdResult r = p.a->Read(absl::MakeSpan(buf));
          {
            fiber::MutexLock l(&mu);
            for (size_t k = 0; k < r.n; ++k) ++counts[static_cast<unsigned char>(buf[k])];
          }
          total.fetch_add(r.n);
          if (!r.err.ok()) {
            if (r.err.kind == FdError::Kind::kEOF) eofs.fetch_add(1);
            break;
          }
        }
        wg.Done();
      });
    }
    std::string data(kTotal, '\0');
    for (size_t i = 0; i < kTotal; ++i) data[i] = static_cast<char>(i % 256);
    FdResult w = p.b->Write(data);
    EXPECT_EQ(w.n, kTotal);
    EXPECT_EQ(Describe(p.b->Close()), "ok");
    wg.Wait();
    EXPECT_EQ(Describe(p.a->Close()), "ok");
  }, Opts());
  EXPECT_EQ(total.load(), kTotal);
  EXPECT_EQ(eofs.load(), kReaders);
  for (int c = 0; c < 256; ++c) EXPECT_EQ(counts[c], static_cast<int>(kTotal / 256)) << c;
}

TEST_P(NetFDTest, ReusedFdNumberDoesNotWakeNewReaderEarly) {
  // A reader parked on A; A closed (reader fails with closing); B reuses A's fd number
  // (and, from the LIFO cache, likely A's PollDesc). Activity left over from A must not
  // make B's reader return before B has data.
  constexpr int kRounds = 20;
  int reused = 0, early = 0, a_not_closing = 0, b_bad = 0;
  RunChecked([&] {
    for (int round = 0; round < kRounds; ++round) {
      Pair a = NewPair();
      ASSERT_TRUE(a.a && a.b);
      const int a_fd = a.a->sysfd_for_test();
      fiber::WaitGroup wg;
      FdResult ra;
      wg.Add(1);
      gonet::Go([&] {
        char buf[4];
        ra = a.a->Read(absl::MakeSpan(buf));
        wg.Done();
      });
      gonet::Yield();
      // Readiness for A races with its close: the peer writes, then A closes.
      (void)a.b->Write(S("stale"));
      EXPECT_EQ(Describe(a.a->Close()), "ok");
      wg.Wait();
      if (ra.err.kind != FdError::Kind::kClosing && !(ra.err.ok() && ra.n > 0)) {
        ++a_not_closing;
      }
      Pair b = NewPair();  // a.b still open, so b.a takes A's number
      ASSERT_TRUE(b.a && b.b);
      if (b.a->sysfd_for_test() == a_fd) ++reused;
      std::atomic<bool> sent{false};
      FdResult rb;
      std::string got;
      wg.Add(1);
      gonet::Go([&] {
        char buf[16];
        rb = b.a->Read(absl::MakeSpan(buf));
        if (!sent.load()) ++early;
        got.assign(buf, rb.n);
        wg.Done();
      });
      gonet::Yield();
      // A round trip on A's peer side lets the poller deliver whatever is pending.
      EXPECT_EQ(Describe(a.b->Close()), "ok");
      Pair c = NewPair();
      ASSERT_TRUE(c.a && c.b);
      ASSERT_EQ(c.b->Write(S("c")).n, 1u);
      char cc;
      EXPECT_EQ(c.a->Read(absl::MakeSpan(&cc, 1)).n, 1u);
      ClosePair(c);
      sent.store(true);
      ASSERT_EQ(b.b->Write(S("fresh")).n, 5u);
      wg.Wait();
      if (!rb.err.ok() || got != "fresh") ++b_bad;
      ClosePair(b);
    }
  }, Opts());
  EXPECT_EQ(reused, kRounds) << "fd numbers were not reused; scenario not exercised";
  EXPECT_EQ(a_not_closing, 0);
  EXPECT_EQ(early, 0);
  EXPECT_EQ(b_bad, 0);
}

TEST_P(NetFDTest, NoFdLeaks) {
  const int before = CountOpenFds();
  ASSERT_GT(before, 0);
  RunChecked([&] {
    for (int i = 0; i < 50; ++i) {
      Pair p = NewPair();
      ASSERT_TRUE(p.a && p.b);
      fiber::WaitGroup wg;
      wg.Add(1);
      gonet::Go([&] {  // Close with a reader in flight: the reader runs destroy
        char buf[4];
        (void)p.a->Read(absl::MakeSpan(buf));
        wg.Done();
      });
      if (i % 2 == 0) gonet::Yield();
      EXPECT_EQ(Describe(p.a->Close()), "ok");
      wg.Wait();
      if (i % 3 == 0) {
        p.b.reset();  // the destructor closes an unclosed NetFD
      } else {
        EXPECT_EQ(Describe(p.b->Close()), "ok");
      }
    }
  }, Opts());
  EXPECT_EQ(CountOpenFds(), before);
}

TEST_P(NetFDTest, DestructorClosesUnclosedFd) {
  int fa = -1, fb = -1;
  bool a_open = true, b_open = true;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fa = p.a->sysfd_for_test();
    fb = p.b->sysfd_for_test();
    p.a.reset();
    p.b.reset();
    a_open = FdIsOpen(fa);
    b_open = FdIsOpen(fb);
  }, Opts());
  EXPECT_FALSE(a_open);
  EXPECT_FALSE(b_open);
}

TEST(NetFDPlainThread, OpsOutsideAFiberFailCleanly) {
  // Read/Write need a fiber; outside one they report kNotFiber instead of blocking.
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  NetFD a(sv[0], AF_UNIX, SOCK_STREAM, "unix");
  char buf[4];
  EXPECT_EQ(Describe(a.Init()), "notfiber");
  EXPECT_EQ(Describe(a.Read(absl::MakeSpan(buf)).err), "notfiber");
  EXPECT_EQ(Describe(a.Write(S("x")).err), "notfiber");
  EXPECT_EQ(Describe(a.Close()), "ok");
  EXPECT_FALSE(FdIsOpen(sv[0]));
  close(sv[1]);
}

// Regression: an fd never registered (Init not called or failed) used to crash on a
// null PollDesc. As in Go it is "not pollable": the syscall runs, only a wait fails.
TEST_P(NetFDTest, ReadWriteOnUnregisteredFdDoNotCrash) {
  FdResult r, w;
  std::string got;
  RunChecked([&] {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    NetFD a(sv[0], AF_UNIX, SOCK_STREAM, "unix");  // no Init()
    ASSERT_EQ(write(sv[1], "data", 4), 4);
    char buf[8];
    r = a.Read(absl::MakeSpan(buf));
    got.assign(buf, r.n);
    w = a.Write(S("x"));
    EXPECT_EQ(Describe(a.Close()), "ok");
    close(sv[1]);
  }, Opts());
  EXPECT_EQ(Describe(r.err), "ok");
  EXPECT_EQ(got, "data");
  EXPECT_EQ(Describe(w.err), "ok");
}

// Close from a plain thread (not a fiber) while a fiber is blocked in Read: Close
// waits on its semaphore in thread mode; the reader's unlock closes the fd and
// releases it. delete_at_once: the thread frees the NetFD as soon as Close returned,
// which Close's contract allows.
void CloseFromPlainThread(RuntimeOptions opts, bool delete_at_once) {
  constexpr int kRounds = 30;
  const int fds_before = CountOpenFds();
  int closing = 0;
  for (int round = 0; round < kRounds; ++round) {
    // Plain atomics, not absl::Notification: the system Abseil is not built with TSan,
    // so TSan would not see the hand-off through its Mutex.
    std::atomic<NetFD*> a{nullptr};
    std::atomic<bool> ready{false};
    FdResult r;
    std::thread runner([&] {
      // Plain Run with the fiber check only: `a` is closed by the test thread, which
      // may still be closing it when this Run returns (fds are counted per test below).
      gonet::Run([&] {
        Pair p = NewPair();
        if (!p.a || !p.b) {
          ready.store(true);
          return;
        }
        a.store(p.a.release());
        fiber::WaitGroup wg;
        wg.Add(1);
        std::atomic<uint64_t> reader{0};
        gonet::Go([&] {
          reader.store(test::CurrentFiberId());
          char buf[4];
          r = a.load()->Read(absl::MakeSpan(buf));
          wg.Done();
        });
        // The reader must be parked inside Read before the plain thread closes (and
        // maybe deletes) the fd: at procs > 1 a Yield does not ensure it has started.
        EXPECT_TRUE(test::WaitParked(&reader).has_value());
        ready.store(true);
        wg.Wait();
        EXPECT_EQ(Describe(p.b->Close()), "ok");
        leak_check::ExpectNoFibersLeftOver();
      }, opts);
    });
    while (!ready.load()) std::this_thread::yield();
    NetFD* fd = a.load();
    if (fd != nullptr) {
      EXPECT_EQ(Describe(fd->Close()), "ok");
    }
    if (delete_at_once) delete fd;
    runner.join();
    if (!delete_at_once) delete fd;
    if (r.err.kind == FdError::Kind::kClosing) ++closing;
  }
  EXPECT_EQ(closing, kRounds);
  EXPECT_EQ(CountOpenFds(), fds_before);
}

TEST_P(NetFDTest, CloseFromPlainThreadWhileReadBlocked) { CloseFromPlainThread(Opts(), false); }

// Regression (TSan): FiberSema::Release used to hand the token to the waiting thread
// while still holding its lock; the thread could return from Close() and free the
// NetFD before the unlock wrote to it. The token is now the last access.
TEST_P(NetFDTest, CloseFromPlainThreadThenDeleteAtOnce) {
  CloseFromPlainThread(Opts(), true);
}

INSTANTIATE_TEST_SUITE_P(Procs, NetFDTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet::netfd
