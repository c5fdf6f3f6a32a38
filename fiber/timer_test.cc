// Tests of fiber/timer.h (Go's time.Timer, time.Ticker, time.AfterFunc), at procs 1
// and 2. Expected return values are Go 1.19's, as printed by
// tests/go_observed/timer_context (its output: tests/go_observed/timer_context.out).
#include "fiber/timer.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using fiber::AfterFunc;
using fiber::Channel;
using fiber::Ticker;
using fiber::Timer;
using leak_check::RunChecked;

class TimerTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// Fiber only: sleeps 1 ms at a time until pred() holds; false once `limit` has passed.
template <class Pred>
bool WaitFor(Pred pred, absl::Duration limit = absl::Seconds(5)) {
  const absl::Time end = absl::Now() + limit;
  while (!pred()) {
    if (absl::Now() > end) return false;
    Sleep(absl::Milliseconds(1));
  }
  return true;
}

// ---------------------------------------------------------------- Timer

TEST_P(TimerTest, FiresOnceAndSendsTheTime) {
  RunChecked([] {
    const absl::Time start = absl::Now();
    Timer t(absl::Milliseconds(50));
    std::optional<absl::Time> v = t.C().Recv();
    const absl::Time end = absl::Now();
    ASSERT_TRUE(v.has_value());
    EXPECT_GE(end - start, absl::Milliseconds(40));
    EXPECT_LE(end - start, absl::Seconds(2));
    EXPECT_GE(*v - start, absl::Milliseconds(40));  // the time it fired
    EXPECT_LE(*v, end);
    EXPECT_EQ(t.C().capacity(), 1u);  // Go: cap(C) 1
    Sleep(absl::Milliseconds(100));   // a second value would have arrived by now
    EXPECT_FALSE(t.C().TryRecv().has_value());
    EXPECT_FALSE(t.Stop());  // Go: "Stop after fire (received): false"
  }, Opts());
}

TEST_P(TimerTest, StopBeforeFireReturnsTrueAndNothingArrives) {
  RunChecked([] {
    Timer t(absl::Milliseconds(30));
    EXPECT_TRUE(t.Stop());   // Go: "Stop on pending: true"
    EXPECT_FALSE(t.Stop());  // Go: "Stop again: false"
    Sleep(absl::Milliseconds(100));
    EXPECT_FALSE(t.C().TryRecv().has_value());
  }, Opts());
}

// Go's sequence on NewTimer(time.Hour).
TEST_P(TimerTest, StopAndResetReturnValuesAsGo) {
  RunChecked([] {
    Timer t(absl::Hours(1));
    EXPECT_TRUE(t.Stop());                   // Stop on pending: true
    EXPECT_FALSE(t.Stop());                  // Stop again: false
    EXPECT_FALSE(t.Reset(absl::Hours(1)));   // Reset on stopped: false
    EXPECT_TRUE(t.Reset(absl::Hours(1)));    // Reset on pending: true
    EXPECT_TRUE(t.Stop());                   // Stop after Reset: true
  }, Opts());
}

TEST_P(TimerTest, AfterFireStopAndResetReturnFalseAndResetRearms) {
  RunChecked([] {
    Timer t(absl::Milliseconds(1));
    ASSERT_TRUE(t.C().Recv().has_value());
    EXPECT_FALSE(t.Stop());                         // Stop after fire (received): false
    EXPECT_FALSE(t.Reset(absl::Milliseconds(1)));  // Reset after fire: false
    ASSERT_TRUE(WaitFor([&] { return t.C().size() == 1; }));  // re-armed: fires again
    EXPECT_FALSE(t.Stop());  // Stop after fire (not received): false, len(C): 1
    EXPECT_EQ(t.C().size(), 1u);  // Stop does not drain
    EXPECT_TRUE(t.C().Recv().has_value());  // so Go's `if !t.Stop() { <-t.C }` works
  }, Opts());
}

TEST_P(TimerTest, ZeroAndNegativeDurationsFireAtOnce) {
  RunChecked([] {
    Timer zero(absl::ZeroDuration());
    EXPECT_TRUE(zero.C().Recv().has_value());
    EXPECT_FALSE(zero.Stop());  // NewTimer(0) fired; Stop: false
    Timer negative(-absl::Seconds(1));
    EXPECT_TRUE(negative.C().Recv().has_value());
    EXPECT_FALSE(negative.Stop());  // NewTimer(-1s) fired; Stop: false
  }, Opts());
}

// Stop racing the firing: whenever Stop says the timer had fired, the value is (or
// will be) in C, so the drain idiom never blocks; when it says it stopped it, no value
// ever comes.
TEST_P(TimerTest, DrainIdiomNeverBlocksWhenStopRacesTheFiring) {
  int stopped = 0, expired = 0;
  RunChecked([&] {
    for (int i = 0; i < 400; ++i) {
      Timer t(absl::Microseconds(i % 40));
      if (i % 3 == 0) Yield();
      if (t.Stop()) {
        ++stopped;
        EXPECT_FALSE(t.C().TryRecv().has_value());
      } else {
        ++expired;
        EXPECT_TRUE(t.C().Recv().has_value());
      }
    }
  }, Opts());
  EXPECT_EQ(stopped + expired, 400);
}

// Reset, Stop and destruction from several fibers and a plain thread at once, on timers
// that keep firing: nothing may run after the timer is gone (ASan, TSan).
TEST_P(TimerTest, ConcurrentResetStopAndDestroy) {
  RunChecked([] {
    for (int round = 0; round < 20; ++round) {
      auto t = std::make_unique<Timer>(absl::Microseconds(10));
      fiber::WaitGroup wg;
      for (int f = 0; f < 3; ++f) {
        wg.Add(1);
        Go([&, f] {
          for (int i = 0; i < 50; ++i) {
            if ((i + f) % 2 == 0) {
              t->Reset(absl::Microseconds(i % 7));
            } else {
              t->Stop();
            }
            t->C().TryRecv();
            if (i % 5 == 0) Yield();
          }
          wg.Done();
        });
      }
      std::thread th([&] {
        for (int i = 0; i < 50; ++i) {
          t->Reset(absl::Microseconds(i % 5));
          t->Stop();
        }
      });
      wg.Wait();
      Blocking([&] { th.join(); });
      t->Reset(absl::ZeroDuration());  // probably firing while we destroy it
      if (round % 2 == 0) Yield();
      t.reset();
    }
  }, Opts());
}

TEST(TimerDeathTest, OutsideRunIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(Timer t(absl::Milliseconds(1)), "needs an active gonet::Run");
  EXPECT_DEATH(AfterFunc(absl::Milliseconds(1), [] {}), "needs an active gonet::Run");
}

TEST(TimerAfterRunTest, StopAndDestroyAreHarmless) {
  std::unique_ptr<Timer> t;
  gonet::Run([&] { t = std::make_unique<Timer>(absl::Hours(1)); }, {.procs = 1});
  EXPECT_FALSE(t->Stop());  // its Run (and heap) are gone: nothing to stop
  t.reset();
}

TEST(TimerDeathTest, ResetOutsideItsRunIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        std::unique_ptr<Timer> t;
        gonet::Run([&] { t = std::make_unique<Timer>(absl::Hours(1)); }, {.procs = 1});
        t->Reset(absl::Milliseconds(1));
      },
      "gonet::fiber::Timer::Reset needs an active gonet::Run");
}

// A plain thread may create and use a timer while a Run is active.
TEST_P(TimerTest, WorksFromAPlainThreadInsideARun) {
  RunChecked([] {
    std::optional<absl::Time> got;
    bool stopped = false;
    std::thread th([&] {
      Timer t(absl::Milliseconds(5));
      const absl::Time end = absl::Now() + absl::Seconds(5);
      while (!(got = t.C().TryRecv()) && absl::Now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      Timer u(absl::Hours(1));
      stopped = u.Stop();
    });
    Blocking([&] { th.join(); });
    EXPECT_TRUE(got.has_value());
    EXPECT_TRUE(stopped);
  }, Opts());
}

// ---------------------------------------------------------------- Ticker

TEST_P(TimerTest, TickerTicksUntilStopped) {
  RunChecked([] {
    const absl::Time start = absl::Now();
    Ticker tk(absl::Milliseconds(10));
    EXPECT_EQ(tk.C().capacity(), 1u);
    for (int i = 0; i < 3; ++i) ASSERT_TRUE(tk.C().Recv().has_value());
    const absl::Duration took = absl::Now() - start;
    EXPECT_GE(took, absl::Milliseconds(25));
    EXPECT_LE(took, absl::Seconds(2));
    tk.Stop();
    tk.C().TryRecv();  // a tick sent before Stop returned may be there
    Sleep(absl::Milliseconds(60));
    EXPECT_FALSE(tk.C().TryRecv().has_value());  // none after Stop
  }, Opts());
}

TEST_P(TimerTest, TickerDropsTicksForASlowReceiver) {
  RunChecked([] {
    Ticker tk(absl::Milliseconds(5));
    Sleep(absl::Milliseconds(100));
    EXPECT_EQ(tk.C().size(), 1u);  // Go: len(C) 1 after 100 ms unread at 5 ms
    // A receiver that takes 20 ms per tick, for 300 ms, of a 1 ms ticker: it gets about
    // 15 ticks of the 300 sent; the rest are dropped, none queue up.
    tk.Reset(absl::Milliseconds(1));
    const absl::Time end = absl::Now() + absl::Milliseconds(300);
    int received = 0;
    while (absl::Now() < end) {
      ASSERT_TRUE(tk.C().Recv().has_value());
      ++received;
      Sleep(absl::Milliseconds(20));
    }
    EXPECT_GE(received, 2);
    EXPECT_LE(received, 17);
    EXPECT_LE(tk.C().size(), 1u);
    tk.Stop();
  }, Opts());
}

TEST_P(TimerTest, TickerResetChangesPeriodAndRestartsAStoppedTicker) {
  RunChecked([] {
    Ticker tk(absl::Hours(1));
    const absl::Time start = absl::Now();
    tk.Reset(absl::Milliseconds(20));
    ASSERT_TRUE(tk.C().Recv().has_value());
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(15));
    EXPECT_LE(absl::Now() - start, absl::Seconds(2));
    tk.Stop();
    tk.C().TryRecv();
    tk.Reset(absl::Milliseconds(5));  // Go: Reset restarts a stopped ticker
    ASSERT_TRUE(tk.C().Recv().has_value());
    ASSERT_TRUE(tk.C().Recv().has_value());
  }, Opts());
}

// Reset, Stop and destruction racing ticks at a 1 us period (ASan, TSan).
TEST_P(TimerTest, TickerConcurrentResetStopAndDestroy) {
  RunChecked([] {
    for (int round = 0; round < 20; ++round) {
      auto tk = std::make_unique<Ticker>(absl::Microseconds(1));
      fiber::WaitGroup wg;
      for (int f = 0; f < 2; ++f) {
        wg.Add(1);
        Go([&, f] {
          for (int i = 0; i < 50; ++i) {
            if ((i + f) % 3 == 0) {
              tk->Stop();
            } else {
              tk->Reset(absl::Microseconds(1 + i % 3));
            }
            tk->C().TryRecv();
            if (i % 4 == 0) Yield();
          }
          wg.Done();
        });
      }
      wg.Wait();
      tk->Reset(absl::Nanoseconds(1));
      for (int i = 0; i < round % 3; ++i) Yield();
      tk.reset();
    }
  }, Opts());
}

TEST(TickerDeathTest, NonPositiveIntervalIsFatalWithGosText) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  // Go: panic("non-positive interval for NewTicker") / ("... for Ticker.Reset").
  EXPECT_DEATH(Ticker tk(absl::ZeroDuration()), "non-positive interval for NewTicker");
  EXPECT_DEATH(Ticker tk(-absl::Nanoseconds(1)), "non-positive interval for NewTicker");
  EXPECT_DEATH(gonet::Run([] {
                 Ticker tk(absl::Hours(1));
                 tk.Reset(absl::ZeroDuration());
               }, {.procs = 1}),
               "non-positive interval for Ticker.Reset");
}

// ---------------------------------------------------------------- AfterFunc

TEST_P(TimerTest, AfterFuncRunsFInAFiberOfItsOwn) {
  RunChecked([] {
    const fiber_internal::Fiber* main_fiber = fiber_internal::CurrentFiber();
    Channel<const fiber_internal::Fiber*> ran(1);
    const absl::Time start = absl::Now();
    std::unique_ptr<Timer> t = AfterFunc(absl::Milliseconds(20), [&] {
      Sleep(absl::Milliseconds(1));  // a fiber may park
      ran.Send(fiber_internal::CurrentFiber());
    });
    EXPECT_EQ(&t->C(), &Channel<absl::Time>::Nil());  // Go: C is nil
    std::optional<const fiber_internal::Fiber*> f = ran.Recv();
    ASSERT_TRUE(f.has_value());
    EXPECT_NE(*f, nullptr);
    EXPECT_NE(*f, main_fiber);
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(15));
    EXPECT_FALSE(t->Stop());  // Go: "Stop after f ran: false"
    // Difference from Go (timer.h): f runs at most once; Reset arms nothing.
    EXPECT_FALSE(t->Reset(absl::Milliseconds(1)));
    Sleep(absl::Milliseconds(50));
    EXPECT_FALSE(ran.TryRecv().has_value());
  }, Opts());
}

TEST_P(TimerTest, AfterFuncStopPreventsF) {
  std::atomic<bool> ran{false};
  RunChecked([&] {
    std::unique_ptr<Timer> t = AfterFunc(absl::Milliseconds(30), [&] { ran.store(true); });
    EXPECT_TRUE(t->Stop());  // Go: "Stop on pending: true"
    Sleep(absl::Milliseconds(100));
    EXPECT_FALSE(ran.load());
    // Go: Reset of a stopped AfterFunc timer runs f later.
    EXPECT_FALSE(t->Reset(absl::Milliseconds(1)));
    EXPECT_TRUE(WaitFor([&] { return ran.load(); }));
  }, Opts());
}

TEST_P(TimerTest, DestroyingTheAfterFuncTimerPreventsF) {
  std::atomic<bool> ran{false};
  RunChecked([&] {
    std::unique_ptr<Timer> t = AfterFunc(absl::Milliseconds(30), [&] { ran.store(true); });
    t.reset();
    Sleep(absl::Milliseconds(100));
  }, Opts());
  EXPECT_FALSE(ran.load());
}

// f owns what it captured and may outlive its Timer: destroying the Timer while f runs
// (or from f) is fine.
TEST_P(TimerTest, AfterFuncMayDestroyItsOwnTimer) {
  RunChecked([] {
    for (int i = 0; i < 50; ++i) {
      std::unique_ptr<Timer> t;
      Channel<int> done(1);
      auto owned = std::make_unique<int>(i);
      t = AfterFunc(absl::Hours(1), [&, owned = std::move(owned)] {
        t.reset();
        done.Send(*owned);
      });
      t->Reset(absl::Microseconds(i % 5));  // t is set before f can run
      EXPECT_EQ(done.Recv(), i);
      EXPECT_EQ(t, nullptr);
    }
  }, Opts());
}

INSTANTIATE_TEST_SUITE_P(Procs, TimerTest, testing::Values(1, 2));

}  // namespace
}  // namespace gonet
