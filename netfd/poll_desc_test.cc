// Tests of netfd/poll_desc.h (Go's pollDesc, docs/behavior.md §2): parking
// for readiness, eviction, the sequence tag that drops readiness for a recycled
// descriptor, eventErr, and deadlines (through NetFD on AF_UNIX socketpairs). Fiber
// tests run at procs 1, 2 and 8.
//
// "Parked" in these tests: at procs 1 a fiber that the main fiber spawned and then
// yielded to has certainly reached its park before main continues; at procs 2 and 8 it
// may not have yet, and the same assertions then cover the not-yet-parked path.
#include "netfd/poll_desc.h"

#include <dirent.h>
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/timer_heap.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "netfd/test_util.h"
#include "netfd/netfd.h"
#include "poller/poller.h"
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

using fiber_internal::MonoNanos;

constexpr int64_t kMs = 1000 * 1000;



// The epoll token registered for `fd`, read from /proc/self/fdinfo of the runtime's
// epoll instance ("tfd: N events: X data: TOKEN"). 0 if not registered.
uintptr_t EpollTokenOf(int fd) {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return 0;
  uintptr_t token = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[256] = {};
    std::string path = absl::StrCat("/proc/self/fd/", e->d_name);
    if (readlink(path.c_str(), link, sizeof link - 1) < 0) continue;
    if (std::string(link) != "anon_inode:[eventpoll]") continue;
    FILE* f = fopen(absl::StrCat("/proc/self/fdinfo/", e->d_name).c_str(), "r");
    if (f == nullptr) continue;
    char line[512];
    while (fgets(line, sizeof line, f)) {
      int tfd = -1;
      unsigned events = 0;
      unsigned long long data = 0;
      if (sscanf(line, "tfd: %d events: %x data: %llx", &tfd, &events, &data) == 3 &&
          tfd == fd) {
        token = static_cast<uintptr_t>(data);
      }
    }
    fclose(f);
  }
  closedir(d);
  return token;
}




class PollDescTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// ---------------------------------------------------------------- PollDesc directly

TEST_P(PollDescTest, WaitParksUntilReadableThenEvictFailsWithClosing) {
  PollError wait1 = PollError::kTimeout, prep2 = PollError::kOk, wait2 = PollError::kOk;
  std::atomic<ssize_t> got{-1};
  RunChecked([&] {
    int sv[2];
    ASSERT_TRUE(RawPair(sv));
    PollDesc* pd = nullptr;
    ASSERT_TRUE(PollDesc::Open(sv[0], &pd).ok());
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {
      char c;
      EXPECT_EQ(pd->Prepare('r'), PollError::kOk);
      ssize_t n = recv(sv[0], &c, 1, 0);  // at procs > 1 the byte may already be here
      if (n < 0) {
        wait1 = pd->Wait('r');
        n = recv(sv[0], &c, 1, 0);
      } else {
        wait1 = PollError::kOk;
      }
      got.store(n);
      // Second wait: only eviction ends it.
      prep2 = pd->Prepare('r');
      wait2 = pd->Wait('r');
      wg.Done();
    });
    gonet::Yield();
    ASSERT_EQ(write(sv[1], "x", 1), 1);
    // Wait until the reader consumed the byte, then evict it out of its second wait.
    while (got < 0) gonet::Yield();
    pd->Evict();
    wg.Wait();
    EXPECT_EQ(pd->Prepare('r'), PollError::kClosing);
    EXPECT_EQ(pd->Prepare('w'), PollError::kClosing);
    EXPECT_EQ(pd->Wait('w'), PollError::kClosing);
    pd->Close();
    close(sv[0]);
    close(sv[1]);
  }, Opts());
  EXPECT_STREQ(Describe(wait1), "ok");
  EXPECT_EQ(got.load(), 1);
  EXPECT_STREQ(Describe(prep2), "ok");
  EXPECT_STREQ(Describe(wait2), "closing");
}

// A fiber parked in Wait shows "IO wait" with its fd and direction (DumpFibers' view).
TEST_P(PollDescTest, ParkedWaiterShowsIOWaitWithFdAndMode) {
  std::optional<fiber_internal::WaitInfo> rinfo, winfo;
  int fd = -1;
  RunChecked([&] {
    int sv[2];
    ASSERT_TRUE(RawPair(sv));
    fd = sv[0];
    // Fill sv[0]'s send path so that a write waits too.
    int small = 4096;
    ASSERT_EQ(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    char chunk[4096] = {};
    while (send(sv[0], chunk, sizeof chunk, 0) > 0) {
    }
    ASSERT_EQ(errno, EAGAIN);
    PollDesc* pd = nullptr;
    ASSERT_TRUE(PollDesc::Open(sv[0], &pd).ok());
    std::atomic<uint64_t> reader{0}, writer{0};
    PollError rerr = PollError::kOk, werr = PollError::kOk;
    fiber::WaitGroup wg;
    wg.Add(2);
    gonet::Go([&] {
      reader.store(test::CurrentFiberId());
      EXPECT_EQ(pd->Prepare('r'), PollError::kOk);
      rerr = pd->Wait('r');  // nothing is ever sent to sv[0]: only Evict ends it
      wg.Done();
    });
    gonet::Go([&] {
      writer.store(test::CurrentFiberId());
      EXPECT_EQ(pd->Prepare('w'), PollError::kOk);
      werr = pd->Wait('w');  // sv[1] never reads: only Evict ends it
      wg.Done();
    });
    rinfo = test::WaitParked(&reader);
    winfo = test::WaitParked(&writer);
    pd->Evict();
    wg.Wait();
    EXPECT_STREQ(Describe(rerr), "closing");
    EXPECT_STREQ(Describe(werr), "closing");
    pd->Close();
    close(sv[0]);
    close(sv[1]);
  }, Opts());
  ASSERT_TRUE(rinfo.has_value());
  EXPECT_EQ(rinfo->reason, fiber_internal::WaitReason::kIOWait);
  EXPECT_EQ(rinfo->mode, 'r');
  EXPECT_EQ(rinfo->fd, fd);
  ASSERT_TRUE(winfo.has_value());
  EXPECT_EQ(winfo->reason, fiber_internal::WaitReason::kIOWait);
  EXPECT_EQ(winfo->mode, 'w');
  EXPECT_EQ(winfo->fd, fd);
}

TEST_P(PollDescTest, StaleTokenOfRecycledDescriptorIsDropped) {
  // Readiness for fd A that arrives after A was closed and its number and descriptor
  // reused by B must not wake B's waiter (the 16-bit tag in the token).
  uintptr_t token_a = 0, token_b = 0;
  bool same_fd = false, same_pd = false, stale_woke = true, data_at_wake = false;
  PollError a_wait = PollError::kOk, b_wait = PollError::kTimeout;
  RunChecked([&] {
    int a[2], b[2];
    ASSERT_TRUE(RawPair(a));
    PollDesc* pda = nullptr;
    ASSERT_TRUE(PollDesc::Open(a[0], &pda).ok());
    token_a = EpollTokenOf(a[0]);
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {  // a reader parked on A; A's eviction ends it
      // At procs > 1 this may run only after the eviction: Prepare says closing then.
      a_wait = pda->Prepare('r');
      if (a_wait == PollError::kOk) a_wait = pda->Wait('r');
      wg.Done();
    });
    gonet::Yield();
    pda->Evict();
    wg.Wait();
    pda->Close();
    const int a_fd = a[0];
    close(a[0]);
    close(a[1]);

    ASSERT_TRUE(RawPair(b));
    same_fd = b[0] == a_fd;
    PollDesc* pdb = nullptr;
    ASSERT_TRUE(PollDesc::Open(b[0], &pdb).ok());
    same_pd = pdb == pda;
    token_b = EpollTokenOf(b[0]);
    std::atomic<bool> b_woke{false};
    wg.Add(1);
    gonet::Go([&] {
      EXPECT_EQ(pdb->Prepare('r'), PollError::kOk);
      b_wait = pdb->Wait('r');
      char c;
      data_at_wake = recv(b[0], &c, 1, MSG_DONTWAIT) == 1;
      b_woke.store(true);
      wg.Done();
    });
    gonet::Yield();
    // Deliver A's late readiness by hand, as the netpoll loop would.
    fiber_internal::FiberList to_wake;
    PollDesc::OnReady(token_a, poller::kRead | poller::kWrite, &to_wake);
    stale_woke = !to_wake.empty();
    fiber_internal::ReadyList(&to_wake);  // keep the runtime consistent if it did
    EXPECT_FALSE(b_woke.load());
    ASSERT_EQ(write(b[1], "y", 1), 1);  // now B's own readiness
    wg.Wait();
    pdb->Evict();
    pdb->Close();
    close(b[0]);
    close(b[1]);
  }, Opts());
  EXPECT_STREQ(Describe(a_wait), "closing");
  EXPECT_TRUE(same_fd) << "the kernel did not reuse the fd number; scenario not exercised";
  ASSERT_NE(token_a, 0u);
  ASSERT_NE(token_b, 0u);
  EXPECT_NE(token_a, token_b);
  if (same_pd) {
    // Same descriptor memory: only the tag tells the registrations apart.
    EXPECT_EQ(token_a & ((uintptr_t{1} << 48) - 1), token_b & ((uintptr_t{1} << 48) - 1));
  }
  EXPECT_FALSE(stale_woke);
  EXPECT_STREQ(Describe(b_wait), "ok");
  EXPECT_TRUE(data_at_wake) << "B's waiter woke before B had data (stale readiness)";
}

TEST_P(PollDescTest, EventErrReflectsOnlyTheLatestEvent) {
  PollError after_err_r = PollError::kOk, after_err_w = PollError::kNotPollable;
  PollError after_clear_r = PollError::kNotPollable;
  RunChecked([&] {
    int sv[2];
    ASSERT_TRUE(RawPair(sv));
    PollDesc* pd = nullptr;
    ASSERT_TRUE(PollDesc::Open(sv[0], &pd).ok());
    uintptr_t token = EpollTokenOf(sv[0]);
    ASSERT_NE(token, 0u);
    // Consume the write edge that registration itself raises (a writable socket), so
    // the real poller has no event left to deliver over the hand-made ones below.
    // No Prepare('w') first: it would drop that readiness if it already arrived.
    ASSERT_EQ(pd->Wait('w'), PollError::kOk);
    fiber_internal::FiberList to_wake;
    PollDesc::OnReady(token, poller::kRead | poller::kWrite | poller::kError, &to_wake);
    after_err_r = pd->Prepare('r');
    after_err_w = pd->Prepare('w');  // never reported for writes
    PollDesc::OnReady(token, poller::kRead, &to_wake);
    after_clear_r = pd->Prepare('r');
    EXPECT_TRUE(to_wake.empty());  // nobody was waiting
    pd->Evict();
    pd->Close();
    close(sv[0]);
    close(sv[1]);
  }, Opts());
  EXPECT_STREQ(Describe(after_err_r), "notpollable");
  EXPECT_STREQ(Describe(after_err_w), "ok");
  EXPECT_STREQ(Describe(after_clear_r), "ok");
}

TEST_P(PollDescTest, DeadlineStatesPerDirection) {
  std::vector<std::string> seen;
  RunChecked([&] {
    int sv[2];
    ASSERT_TRUE(RawPair(sv));
    PollDesc* pd = nullptr;
    ASSERT_TRUE(PollDesc::Open(sv[0], &pd).ok());
    auto both = [&] {
      seen.push_back(absl::StrCat(Describe(pd->Prepare('r')), "/", Describe(pd->Prepare('w'))));
    };
    both();                       // ok/ok
    pd->SetDeadline(-1, 'r');
    both();                       // timeout/ok
    pd->SetDeadline(-1, 'w');
    both();                       // timeout/timeout
    pd->SetDeadline(0, 'r');
    both();                       // ok/timeout
    pd->SetDeadline(0, 'r' + 'w');
    both();                       // ok/ok
    pd->SetDeadline(MonoNanos() + 3600 * 1000 * kMs, 'r' + 'w');
    both();                       // ok/ok: far future
    pd->SetDeadline(-1, 'r' + 'w');
    both();                       // timeout/timeout
    pd->Evict();
    both();                       // closing wins over timeout
    pd->SetDeadline(0, 'r' + 'w');  // ignored once closing
    both();
    pd->Close();
    close(sv[0]);
    close(sv[1]);
  }, Opts());
  EXPECT_EQ(seen, (std::vector<std::string>{"ok/ok", "timeout/ok", "timeout/timeout", "ok/timeout",
                                            "ok/ok", "ok/ok", "timeout/timeout", "closing/closing",
                                            "closing/closing"}));
}

TEST_P(PollDescTest, StaleDeadlineTimerNeverExpiresANewerDeadline) {
  // A deadline that is due is replaced by a far one while its timer may be firing.
  // Whatever the interleaving, once SetDeadline(far) has returned the read side must
  // not read as expired: the firing belongs to the replaced deadline (Go's rseq check
  // compares the sequence the timer was popped with). Each round waits a different
  // few microseconds between the two calls, sweeping the moment the timer pops.
  if (GetParam() == 1) GTEST_SKIP() << "needs a second worker to run timers";
  constexpr int kRounds = 20000;
  int expired_early = 0, rounds = 0;
  RunChecked([&] {
    int sv[2];
    ASSERT_TRUE(RawPair(sv));
    PollDesc* pd = nullptr;
    ASSERT_TRUE(PollDesc::Open(sv[0], &pd).ok());
    const int64_t far = MonoNanos() + 3600 * 1000 * kMs;
    for (int i = 0; i < kRounds; ++i) {
      pd->SetDeadline(MonoNanos() + 1000, 'r');  // due in 1 us
      const int64_t until = MonoNanos() + (i % 40) * 1000;
      while (MonoNanos() < until) {
      }
      pd->SetDeadline(far + (i & 1), 'r');  // a new value: bumps the sequence
      const int64_t settle = MonoNanos() + 20 * 1000;
      while (MonoNanos() < settle) {
      }
      if (pd->Prepare('r') == PollError::kTimeout) ++expired_early;
      ++rounds;
    }
    pd->Evict();
    pd->Close();
    close(sv[0]);
    close(sv[1]);
  }, Opts());
  EXPECT_EQ(rounds, kRounds);
  EXPECT_EQ(expired_early, 0) << "a stale deadline timer expired a newer, far deadline";
}

// ---------------------------------------------------------------- deadlines via NetFD

TEST_P(PollDescTest, ReadDeadlineExpiresAndIsStickyUntilReset) {
  FdResult first, with_data, zero_len, cleared;
  std::string data;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    char buf[16];
    ASSERT_TRUE(p.a->SetDeadline(MonoNanos() + 30 * kMs, 'r').ok());
    first = p.a->Read(absl::MakeSpan(buf));
    ASSERT_EQ(p.b->Write(S("hello")).n, 5u);
    with_data = p.a->Read(absl::MakeSpan(buf));  // data buffered, still expired
    zero_len = p.a->Read(absl::Span<char>());    // returns before the poller check
    ASSERT_TRUE(p.a->SetDeadline(0, 'r').ok());
    cleared = p.a->Read(absl::MakeSpan(buf));
    data.assign(buf, cleared.n);
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(first.err), "timeout");
  EXPECT_EQ(first.n, 0u);
  EXPECT_EQ(Describe(with_data.err), "timeout");
  EXPECT_EQ(with_data.n, 0u);
  EXPECT_EQ(Describe(zero_len.err), "ok");
  EXPECT_EQ(Describe(cleared.err), "ok");
  EXPECT_EQ(data, "hello");
}

TEST_P(PollDescTest, PastDeadlineWakesBlockedReaderAtOnce) {
  FdResult r;
  int64_t woke_after_ns = -1;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fiber::WaitGroup wg;
    int64_t set_at = 0;
    wg.Add(1);
    gonet::Go([&] {
      char buf[4];
      r = p.a->Read(absl::MakeSpan(buf));  // no deadline: only the past one ends this
      woke_after_ns = MonoNanos() - set_at;
      wg.Done();
    });
    gonet::Yield();
    set_at = MonoNanos();
    ASSERT_TRUE(p.a->SetDeadline(-1, 'r').ok());
    wg.Wait();
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(r.err), "timeout");
  EXPECT_EQ(r.n, 0u);
  EXPECT_LT(woke_after_ns, 1000 * kMs);
}

TEST_P(PollDescTest, DeadlineSetWhileBlockedTakesEffect) {
  FdResult r;
  int64_t elapsed = -1;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fiber::WaitGroup wg;
    const int64_t t0 = MonoNanos();
    wg.Add(1);
    gonet::Go([&] {
      char buf[4];
      r = p.a->Read(absl::MakeSpan(buf));
      elapsed = MonoNanos() - t0;
      wg.Done();
    });
    gonet::Yield();
    ASSERT_TRUE(p.a->SetDeadline(MonoNanos() + 30 * kMs, 'r').ok());
    wg.Wait();
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(r.err), "timeout");
  EXPECT_GE(elapsed, 30 * kMs);
  EXPECT_LT(elapsed, 2000 * kMs);
}

TEST_P(PollDescTest, ExtendingDeadlineWhileBlockedTakesEffect) {
  FdResult r;
  int64_t elapsed = -1;
  bool extended_in_time = false;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    fiber::WaitGroup wg;
    const int64_t t0 = MonoNanos();
    ASSERT_TRUE(p.a->SetDeadline(t0 + 100 * kMs, 'r').ok());
    wg.Add(1);
    gonet::Go([&] {
      char buf[4];
      r = p.a->Read(absl::MakeSpan(buf));
      elapsed = MonoNanos() - t0;
      wg.Done();
    });
    gonet::Yield();
    ASSERT_TRUE(p.a->SetDeadline(t0 + 400 * kMs, 'r').ok());
    // On a loaded machine the first deadline may already have passed: then the
    // scenario did not happen and elapsed proves nothing.
    extended_in_time = MonoNanos() - t0 < 90 * kMs;
    wg.Wait();
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(r.err), "timeout");
  if (!extended_in_time) GTEST_SKIP() << "extension came after the first deadline";
  EXPECT_GE(elapsed, 400 * kMs) << "the old 100 ms timer fired after the extension";
}

TEST_P(PollDescTest, ClearingDeadlineWhileBlockedTakesEffect) {
  // The reader's 40 ms deadline is cleared while it waits; it must then wait for data,
  // which arrives only after a 120 ms deadline on another socket has expired.
  FdResult r;
  bool cleared_in_time = false;
  std::string data;
  RunChecked([&] {
    Pair p = NewPair();
    Pair q = NewPair();
    ASSERT_TRUE(p.a && p.b && q.a && q.b);
    fiber::WaitGroup wg;
    const int64_t t0 = MonoNanos();
    ASSERT_TRUE(p.a->SetDeadline(t0 + 40 * kMs, 'r').ok());
    wg.Add(1);
    gonet::Go([&] {
      char buf[4];
      r = p.a->Read(absl::MakeSpan(buf));
      data.assign(buf, r.n);
      wg.Done();
    });
    gonet::Yield();
    ASSERT_TRUE(p.a->SetDeadline(0, 'r').ok());
    cleared_in_time = MonoNanos() - t0 < 35 * kMs;
    // Let the old deadline pass: block on a timer event of an unrelated socket.
    ASSERT_TRUE(q.a->SetDeadline(t0 + 120 * kMs, 'r').ok());
    char c;
    EXPECT_EQ(Describe(q.a->Read(absl::MakeSpan(&c, 1)).err), "timeout");
    ASSERT_EQ(p.b->Write(S("ok")).n, 2u);
    wg.Wait();
    ClosePair(p);
    ClosePair(q);
  }, Opts());
  if (!cleared_in_time) GTEST_SKIP() << "clear came after the first deadline";
  EXPECT_EQ(Describe(r.err), "ok");
  EXPECT_EQ(data, "ok");
}

TEST_P(PollDescTest, ReadDeadlineDoesNotAffectWritesAndViceVersa) {
  FdResult w_with_rd, r_with_rd, w_with_wd, r_with_wd, w_cleared;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    char buf[8];
    ASSERT_TRUE(p.a->SetDeadline(-1, 'r').ok());
    w_with_rd = p.a->Write(S("x"));
    r_with_rd = p.a->Read(absl::MakeSpan(buf));
    ASSERT_TRUE(p.a->SetDeadline(0, 'r').ok());
    ASSERT_TRUE(p.a->SetDeadline(-1, 'w').ok());
    ASSERT_EQ(p.b->Write(S("y")).n, 1u);
    w_with_wd = p.a->Write(S("z"));
    r_with_wd = p.a->Read(absl::MakeSpan(buf));
    ASSERT_TRUE(p.a->SetDeadline(0, 'w').ok());
    w_cleared = p.a->Write(S("z"));
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(w_with_rd.err), "ok");
  EXPECT_EQ(w_with_rd.n, 1u);
  EXPECT_EQ(Describe(r_with_rd.err), "timeout");
  EXPECT_EQ(Describe(w_with_wd.err), "timeout");
  EXPECT_EQ(w_with_wd.n, 0u);
  EXPECT_EQ(Describe(r_with_wd.err), "ok");
  EXPECT_EQ(r_with_wd.n, 1u);
  EXPECT_EQ(Describe(w_cleared.err), "ok");
  EXPECT_EQ(w_cleared.n, 1u);
}

TEST_P(PollDescTest, WriteDeadlineReturnsPartialCountThenSticks) {
  constexpr size_t kBig = 4 << 20;
  FdResult w, again;
  size_t peer_got = 0;
  bool peer_eof = false;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ShrinkSendBuffer(p.a.get());
    std::string big(kBig, 'w');
    ASSERT_TRUE(p.a->SetDeadline(MonoNanos() + 50 * kMs, 'w').ok());
    w = p.a->Write(big);  // nobody reads: fills the buffer, parks, times out
    again = p.a->Write(S("x"));
    EXPECT_EQ(Describe(p.a->Close()), "ok");
    // The peer receives exactly the bytes the partial Write reported, then EOF.
    std::vector<char> buf(64 << 10);
    for (;;) {
      FdResult r = p.b->Read(absl::MakeSpan(buf));
      peer_got += r.n;
      if (!r.err.ok()) {
        peer_eof = r.err.kind == FdError::Kind::kEOF;
        break;
      }
    }
    EXPECT_EQ(Describe(p.b->Close()), "ok");
  }, Opts());
  EXPECT_EQ(Describe(w.err), "timeout");
  EXPECT_GT(w.n, 0u);
  EXPECT_LT(w.n, kBig);
  EXPECT_EQ(Describe(again.err), "timeout");
  EXPECT_EQ(again.n, 0u);
  EXPECT_TRUE(peer_eof);
  EXPECT_EQ(peer_got, w.n);
}

TEST_P(PollDescTest, ComboDeadlineFiresBothDirections) {
  // The same value for both directions arms one (combo) timer; it must fire both.
  FdResult w, r;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ShrinkSendBuffer(p.a.get());
    const int64_t d = MonoNanos() + 40 * kMs;
    ASSERT_TRUE(p.a->SetDeadline(d, 'w').ok());  // write timer first ...
    ASSERT_TRUE(p.a->SetDeadline(d, 'r').ok());  // ... then becomes a combo
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {
      char buf[4];
      r = p.a->Read(absl::MakeSpan(buf));
      wg.Done();
    });
    w = p.a->Write(std::string(4 << 20, 'c'));
    wg.Wait();
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(w.err), "timeout");
  EXPECT_EQ(Describe(r.err), "timeout");
}

TEST_P(PollDescTest, SplittingComboKeepsWriteDeadline) {
  // A combo deadline, then the read side cleared: the write deadline must still fire
  // and the read side must no longer time out.
  FdResult w, r;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    ShrinkSendBuffer(p.a.get());
    ASSERT_TRUE(p.a->SetDeadline(MonoNanos() + 40 * kMs, 'r' + 'w').ok());
    ASSERT_TRUE(p.a->SetDeadline(0, 'r').ok());
    w = p.a->Write(std::string(4 << 20, 'c'));
    ASSERT_EQ(p.b->Write(S("k")).n, 1u);
    char c;
    r = p.a->Read(absl::MakeSpan(&c, 1));
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(w.err), "timeout");
  EXPECT_EQ(Describe(r.err), "ok");
  EXPECT_EQ(r.n, 1u);
}

TEST_P(PollDescTest, ReadDeadline50msFiresWithinBounds) {
  FdResult r;
  absl::Duration elapsed;
  RunChecked([&] {
    Pair p = NewPair();
    ASSERT_TRUE(p.a && p.b);
    const absl::Time start = absl::Now();
    ASSERT_TRUE(p.a->SetDeadline(DeadlineToMono(start + absl::Milliseconds(50)), 'r').ok());
    char buf[4];
    r = p.a->Read(absl::MakeSpan(buf));
    elapsed = absl::Now() - start;
    ClosePair(p);
  }, Opts());
  EXPECT_EQ(Describe(r.err), "timeout");
  EXPECT_EQ(r.n, 0u);
  EXPECT_GE(elapsed, absl::Milliseconds(40));
  EXPECT_LE(elapsed, absl::Seconds(2));
}

TEST(DeadlineToMono, Conversions) {
  EXPECT_EQ(DeadlineToMono(absl::InfiniteFuture()), 0);
  EXPECT_EQ(DeadlineToMono(absl::InfinitePast()), -1);
  EXPECT_EQ(DeadlineToMono(absl::Now() - absl::Seconds(1)), -1);
  EXPECT_EQ(DeadlineToMono(absl::Now()), -1);  // "now" must not read as "none"
  const int64_t before = MonoNanos();
  const int64_t d = DeadlineToMono(absl::Now() + absl::Seconds(10));
  EXPECT_GT(d, before + 9 * 1000 * kMs);
  EXPECT_LT(d, MonoNanos() + 11 * 1000 * kMs);
  // Too far to represent: saturates instead of overflowing.
  EXPECT_EQ(DeadlineToMono(absl::Now() + absl::Hours(24 * 365 * 1000)),
            std::numeric_limits<int64_t>::max());
}

INSTANTIATE_TEST_SUITE_P(Procs, PollDescTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet::netfd
