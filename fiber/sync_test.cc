// Tests of fiber/sync.h: Mutex, CondVar, WaitGroup, at procs 1, 2 and 8.
#include "fiber/sync.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "gtest/gtest.h"
#include "testing/fiber_wait.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using gonet::leak_check::RunChecked;
using fiber_internal::WaitReason;

using leak_check::CurrentFiberId;
using leak_check::WaitParked;

class SyncTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// ---------------------------------------------------------------- Mutex

TEST_P(SyncTest, MutexExcludesUnderContention) {
  constexpr int kFibers = 64;
  constexpr int kIters = 2000;
  int64_t counter = 0;  // deliberately not atomic: only the mutex protects it
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::WaitGroup wg;
    for (int f = 0; f < kFibers; ++f) {
      wg.Add(1);
      Go([&, f] {
        for (int i = 0; i < kIters; ++i) {
          mu.Lock();
          if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
          int64_t v = counter;
          // Hold the lock across a scheduling point now and then so waiters queue up.
          if ((i + f) % 64 == 0) Yield();
          counter = v + 1;
          inside.fetch_sub(1);
          mu.Unlock();
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, int64_t{kFibers} * kIters);
}

TEST_P(SyncTest, MutexWorksWithScopedLock) {
  int counter = 0;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::WaitGroup wg;
    for (int f = 0; f < 16; ++f) {
      wg.Add(1);
      Go([&] {
        for (int i = 0; i < 500; ++i) {
          std::scoped_lock l(mu);
          int v = counter;
          if (i % 50 == 0) Yield();
          counter = v + 1;
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(counter, 16 * 500);
}

// The analysis cannot follow ASSERT_TRUE(mu.TryLock()): this test drives the lock
// API by hand.
TEST_P(SyncTest, TryLock) {
  RunChecked([]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    fiber::Mutex mu;
    ASSERT_TRUE(mu.TryLock());
    EXPECT_FALSE(mu.TryLock());  // not reentrant
    bool other_got_it = true;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      other_got_it = false;
      if (mu.TryLock()) {
        other_got_it = true;
        mu.Unlock();
      }
      wg.Done();
    });
    wg.Wait();
    EXPECT_FALSE(other_got_it);
    mu.Unlock();
    EXPECT_TRUE(mu.TryLock());
    mu.Unlock();
    // A fiber blocked in Lock() gets the mutex once it is released.
    bool locked_by_fiber = false;
    mu.Lock();
    wg.Add(1);
    Go([&] {
      mu.Lock();
      locked_by_fiber = true;
      mu.Unlock();
      wg.Done();
    });
    for (int i = 0; i < 10; ++i) Yield();
    EXPECT_FALSE(locked_by_fiber);
    mu.Unlock();
    wg.Wait();
    EXPECT_TRUE(locked_by_fiber);
  }, Opts());
}

// Go's TestMutexFairness, measured: hammer fibers re-take the lock as soon as they drop
// it (and hold it across a scheduling point), while one victim fiber takes it now and
// then. Without the starvation bound (hand-off mode) the victim would keep losing.
// The hammers give up after kGiveUp, so a broken bound fails instead of hanging.
TEST_P(SyncTest, MutexStarvationIsBounded) {
  constexpr int kHammers = 3;
  constexpr int kVictimRounds = 20;
  const absl::Duration kGiveUp = absl::Seconds(10);
  absl::Duration max_wait;
  int victim_rounds = 0;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::WaitGroup wg;
    std::atomic<bool> stop{false};
    absl::Time give_up = absl::Now() + kGiveUp;
    for (int h = 0; h < kHammers; ++h) {
      wg.Add(1);
      Go([&, h] {
        while (!stop.load() && absl::Now() < give_up) {
          mu.Lock();
          // Work inside the critical section (not synchronization): a hammer parks
          // holding the lock, so the victim always finds it held, as in Go's test.
          if (h == 0) {
            Yield();
          } else {
            Sleep(absl::Microseconds(100));
          }
          mu.Unlock();
        }
        wg.Done();
      });
    }
    wg.Add(1);
    Go([&] {
      for (int i = 0; i < kVictimRounds && absl::Now() < give_up; ++i) {
        Yield();
        absl::Time start = absl::Now();
        mu.Lock();
        max_wait = std::max(max_wait, absl::Now() - start);
        ++victim_rounds;
        mu.Unlock();
      }
      stop.store(true);
      wg.Done();
    });
    wg.Wait();
  }, Opts());
  EXPECT_EQ(victim_rounds, kVictimRounds);
  EXPECT_LT(max_wait, absl::Seconds(1));
}

// Misuse on purpose: hidden from the thread-safety analysis.
void UnlockUnlocked(fiber::Mutex* mu) ABSL_NO_THREAD_SAFETY_ANALYSIS { mu->Unlock(); }

TEST(SyncDeathTest, UnlockOfUnlockedMutexIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        fiber::Mutex mu;
        UnlockUnlocked(&mu);
      },
      "sync: unlock of unlocked");
  EXPECT_DEATH(gonet::Run([]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
                 fiber::Mutex mu;
                 mu.Lock();
                 mu.Unlock();
                 mu.Unlock();
               }, {.procs = 1}),
               "sync: unlock of unlocked");
}

// ---------------------------------------------------------------- CondVar

TEST_P(SyncTest, CondVarSignalWakesAWaiter) {
  constexpr int kWaiters = 8;
  int tokens = 0;
  int consumed = 0;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::CondVar cv;       // tokens > 0
    fiber::CondVar done_cv;  // consumed changed
    fiber::WaitGroup wg;
    for (int i = 0; i < kWaiters; ++i) {
      wg.Add(1);
      Go([&] {
        mu.Lock();
        while (tokens == 0) cv.Wait(&mu);
        --tokens;
        ++consumed;
        done_cv.Signal();
        mu.Unlock();
        wg.Done();
      });
    }
    // One token at a time: each Signal must let exactly one more waiter through.
    for (int i = 1; i <= kWaiters; ++i) {
      mu.Lock();
      ++tokens;
      cv.Signal();
      while (consumed < i) done_cv.Wait(&mu);
      EXPECT_EQ(consumed, i);
      EXPECT_EQ(tokens, 0);
      mu.Unlock();
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(consumed, kWaiters);
}

TEST_P(SyncTest, CondVarSignalAllWakesEveryWaiter) {
  constexpr int kWaiters = 100;
  bool go = false;
  int waiting = 0;
  int woke = 0;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::CondVar cv;
    fiber::CondVar all_waiting;
    fiber::WaitGroup wg;
    for (int i = 0; i < kWaiters; ++i) {
      wg.Add(1);
      Go([&] {
        mu.Lock();
        ++waiting;
        all_waiting.Signal();
        while (!go) cv.Wait(&mu);
        ++woke;
        mu.Unlock();
        wg.Done();
      });
    }
    mu.Lock();
    while (waiting < kWaiters) all_waiting.Wait(&mu);
    // Every waiter is now inside cv.Wait (it released mu only there).
    go = true;
    cv.SignalAll();
    mu.Unlock();
    wg.Wait();
  }, Opts());
  EXPECT_EQ(woke, kWaiters);
}

TEST_P(SyncTest, CondVarSignalWithoutWaitersIsANoOp) {
  bool returned = false;
  RunChecked([&] {
    fiber::CondVar cv;
    cv.Signal();
    cv.SignalAll();
    // The earlier signals are not remembered: a later wait times out.
    fiber::Mutex mu;
    mu.Lock();
    returned = cv.WaitWithTimeout(&mu, absl::Milliseconds(10));
    mu.Unlock();
  }, Opts());
  EXPECT_TRUE(returned);
}

TEST_P(SyncTest, WaitWithTimeoutTimesOut) {
  bool timed_out = false;
  absl::Duration took;
  bool relocked = false;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::CondVar cv;
    mu.Lock();
    absl::Time start = absl::Now();
    timed_out = cv.WaitWithTimeout(&mu, absl::Milliseconds(50));
    took = absl::Now() - start;
    relocked = !mu.TryLock();  // still held by us after the wait
    mu.Unlock();
  }, Opts());
  EXPECT_TRUE(timed_out);
  EXPECT_TRUE(relocked);
  EXPECT_GE(took, absl::Milliseconds(40));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST_P(SyncTest, WaitWithTimeoutNonPositiveReturnsAtOnce) {
  bool zero = false, negative = false;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::CondVar cv;
    mu.Lock();
    zero = cv.WaitWithTimeout(&mu, absl::ZeroDuration());
    negative = cv.WaitWithTimeout(&mu, -absl::Seconds(1));
    mu.Unlock();
  }, Opts());
  EXPECT_TRUE(zero);
  EXPECT_TRUE(negative);
}

TEST_P(SyncTest, WaitWithTimeoutSignaledReturnsFalse) {
  bool timed_out = true;
  absl::Duration took;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::CondVar cv;
    bool flag = false;
    bool waiting = false;
    fiber::CondVar waiting_cv;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      mu.Lock();
      waiting = true;
      waiting_cv.Signal();
      absl::Time start = absl::Now();
      while (!flag) timed_out = cv.WaitWithTimeout(&mu, absl::Seconds(30));
      took = absl::Now() - start;
      mu.Unlock();
      wg.Done();
    });
    mu.Lock();
    while (!waiting) waiting_cv.Wait(&mu);
    flag = true;
    cv.Signal();
    mu.Unlock();
    wg.Wait();
  }, Opts());
  EXPECT_FALSE(timed_out);
  EXPECT_LT(took, absl::Seconds(10));
}

// Timed waits racing with signals: each waiter either times out or is signaled, is never
// lost, and the timer on its stack never fires after it returned.
TEST_P(SyncTest, WaitWithTimeoutRacesWithSignal) {
  constexpr int kFibers = 200;
  int signaled = 0, timed_out = 0;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::CondVar cv;
    fiber::WaitGroup wg;
    for (int i = 0; i < kFibers; ++i) {
      wg.Add(1);
      Go([&, i] {
        mu.Lock();
        bool t = cv.WaitWithTimeout(&mu, absl::Microseconds(100 + 10 * (i % 50)));
        if (t) ++timed_out; else ++signaled;
        mu.Unlock();
        wg.Done();
      });
    }
    for (int i = 0; i < kFibers; ++i) {
      cv.Signal();
      if (i % 4 == 0) Yield();
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(signaled + timed_out, kFibers);
}

// ---------------------------------------------------------------- WaitGroup

TEST_P(SyncTest, WaitGroupWaitsForManyFibers) {
  constexpr int kFibers = 10000;
  std::atomic<int> done{0};
  int seen_at_wait = -1;
  RunChecked([&] {
    fiber::WaitGroup wg;
    wg.Add(kFibers);
    for (int i = 0; i < kFibers; ++i) {
      Go([&] {
        if (done.load() % 7 == 0) Yield();
        done.fetch_add(1);
        wg.Done();
      });
    }
    wg.Wait();
    seen_at_wait = done.load();
  }, Opts());
  EXPECT_EQ(seen_at_wait, kFibers);
}

TEST_P(SyncTest, WaitGroupReleasesEveryWaiter) {
  constexpr int kWaiters = 50;
  std::atomic<int> released{0};
  std::atomic<bool> opened{false};
  std::atomic<int> early{0};
  RunChecked([&] {
    fiber::WaitGroup gate;
    fiber::WaitGroup finished;
    gate.Add(1);
    for (int i = 0; i < kWaiters; ++i) {
      finished.Add(1);
      Go([&] {
        gate.Wait();
        if (!opened.load()) early.fetch_add(1);
        released.fetch_add(1);
        finished.Done();
      });
    }
    for (int i = 0; i < 20; ++i) Yield();
    EXPECT_EQ(released.load(), 0);
    opened.store(true);
    gate.Done();
    finished.Wait();
  }, Opts());
  EXPECT_EQ(released.load(), kWaiters);
  EXPECT_EQ(early.load(), 0);
}

TEST_P(SyncTest, WaitGroupIsReusable) {
  constexpr int kRounds = 200;
  constexpr int kPerRound = 20;
  int bad_rounds = 0;
  RunChecked([&] {
    fiber::WaitGroup wg;
    wg.Wait();  // zero counter: returns at once
    std::atomic<int> n{0};
    for (int r = 0; r < kRounds; ++r) {
      n.store(0);
      wg.Add(kPerRound);
      for (int i = 0; i < kPerRound; ++i) {
        Go([&] {
          n.fetch_add(1);
          wg.Done();
        });
      }
      wg.Wait();
      if (n.load() != kPerRound) ++bad_rounds;
    }
  }, Opts());
  EXPECT_EQ(bad_rounds, 0);
}

TEST(SyncDeathTest, NegativeWaitGroupCounterIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        fiber::WaitGroup wg;
        wg.Done();
      },
      "sync: negative WaitGroup counter");
  EXPECT_DEATH(gonet::Run([] {
                 fiber::WaitGroup wg;
                 wg.Add(2);
                 wg.Add(-3);
               }, {.procs = 2}),
               "sync: negative WaitGroup counter");
}

// ---------------------------------------------------------------- wait reasons

// A fiber parked in each kind of wait shows its reason (DumpFibers' view): Mutex,
// CondVar, WaitGroup, and a channel receive and send.
TEST_P(SyncTest, ParkedFibersShowTheirWaitReason) {
  std::optional<WaitReason> mutex, condvar, waitgroup, recv, send;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::Mutex cv_mu;
    fiber::CondVar cv;
    bool signaled = false;
    fiber::WaitGroup pending;
    fiber::Channel<int> to_recv;
    fiber::Channel<int> to_send;
    fiber::WaitGroup done;
    std::atomic<uint64_t> ids[5] = {};
    done.Add(5);
    pending.Add(1);
    mu.Lock();
    Go([&] {
      ids[0].store(CurrentFiberId());
      mu.Lock();
      mu.Unlock();
      done.Done();
    });
    Go([&] {
      ids[1].store(CurrentFiberId());
      fiber::MutexLock l(&cv_mu);
      while (!signaled) cv.Wait(&cv_mu);
      done.Done();
    });
    Go([&] {
      ids[2].store(CurrentFiberId());
      pending.Wait();
      done.Done();
    });
    Go([&] {
      ids[3].store(CurrentFiberId());
      EXPECT_EQ(to_recv.Recv(), 1);
      done.Done();
    });
    Go([&] {
      ids[4].store(CurrentFiberId());
      EXPECT_TRUE(to_send.Send(2));
      done.Done();
    });
    mutex = WaitParked(&ids[0]);
    condvar = WaitParked(&ids[1]);
    waitgroup = WaitParked(&ids[2]);
    recv = WaitParked(&ids[3]);
    send = WaitParked(&ids[4]);
    mu.Unlock();
    {
      fiber::MutexLock l(&cv_mu);
      signaled = true;
      cv.Signal();
    }
    pending.Done();
    EXPECT_TRUE(to_recv.Send(1));
    EXPECT_EQ(to_send.Recv(), 2);
    done.Wait();
  }, Opts());
  EXPECT_EQ(mutex, WaitReason::kMutex);
  EXPECT_EQ(condvar, WaitReason::kCondVar);
  EXPECT_EQ(waitgroup, WaitReason::kWaitGroup);
  EXPECT_EQ(recv, WaitReason::kChanReceive);
  EXPECT_EQ(send, WaitReason::kChanSend);
}

INSTANTIATE_TEST_SUITE_P(Procs, SyncTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
