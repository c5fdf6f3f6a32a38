#include "fiber/fiber.h"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <fstream>
#include <set>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "fiber/channel.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using gonet::leak_check::RunChecked;

class FiberTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

TEST_P(FiberTest, RunExecutesMainAndReturns) {
  bool ran = false;
  RunChecked([&] { ran = fiber_internal::InFiber(); }, Opts());
  EXPECT_TRUE(ran);
  EXPECT_FALSE(fiber_internal::InFiber());
}

TEST_P(FiberTest, GoRunsEveryFiberOnce) {
  std::atomic<int> sum{0};
  RunChecked([&] {
    fiber::WaitGroup wg;
    for (int i = 1; i <= 1000; ++i) {
      wg.Add(1);
      Go([&, i] {
        sum.fetch_add(i);
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(sum.load(), 1000 * 1001 / 2);
}

TEST_P(FiberTest, YieldLetsOthersRun) {
  std::vector<int> order;
  RunChecked([&] {
    fiber::WaitGroup wg;
    fiber::Mutex mu;
    for (int id = 0; id < 2; ++id) {
      wg.Add(1);
      Go([&, id] {
        for (int i = 0; i < 3; ++i) {
          {
            fiber::MutexLock l(&mu);
            order.push_back(id);
          }
          Yield();
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  ASSERT_EQ(order.size(), 6u);
  if (GetParam() == 1) {
    // One worker: strict alternation, as Go with GOMAXPROCS=1.
    EXPECT_EQ(order, (std::vector<int>{1, 0, 1, 0, 1, 0}));
  }
}

TEST_P(FiberTest, SleepBounds) {
  absl::Duration took;
  RunChecked([&] {
    absl::Time start = absl::Now();
    Sleep(absl::Milliseconds(50));
    took = absl::Now() - start;
  }, Opts());
  EXPECT_GE(took, absl::Milliseconds(50));
  EXPECT_LT(took, absl::Seconds(2));
}

TEST_P(FiberTest, SleepUntilPastReturnsAtOnce) {
  absl::Duration took;
  RunChecked([&] {
    absl::Time start = absl::Now();
    SleepUntil(absl::Now() - absl::Seconds(1));
    Sleep(-absl::Seconds(1));
    took = absl::Now() - start;
  }, Opts());
  EXPECT_LT(took, absl::Seconds(1));
}

TEST_P(FiberTest, ManySleepersWakeInDeadlineOrder) {
  std::vector<int> order;
  RunChecked([&] {
    fiber::Mutex mu;
    fiber::WaitGroup wg;
    for (int i = 5; i >= 1; --i) {
      wg.Add(1);
      Go([&, i] {
        Sleep(absl::Milliseconds(20 * i));
        {
          fiber::MutexLock l(&mu);
          order.push_back(i);
        }
        wg.Done();  // outside the lock: main may return (and its stack go) right after
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3, 4, 5}));
}

TEST_P(FiberTest, FibersMigrateBetweenWorkers) {
  if (GetParam() == 1) GTEST_SKIP() << "one worker";
  std::mutex mu;
  std::set<std::thread::id> threads;
  RunChecked([&] {
    fiber::WaitGroup wg;
    for (int i = 0; i < 64; ++i) {
      wg.Add(1);
      Go([&] {
        for (int k = 0; k < 50; ++k) {
          {
            std::lock_guard<std::mutex> l(mu);
            threads.insert(std::this_thread::get_id());
          }
          Sleep(absl::Microseconds(100));
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_GE(threads.size(), 2u);
}

thread_local int t_marker = 0;

// The documented hazard: a thread_local read after a park must be re-read, and the
// runtime itself does so (this would crash or misbehave if it cached its worker).
TEST_P(FiberTest, ThreadLocalsAreReReadAfterPark) {
  std::atomic<int> mismatches{0};
  RunChecked([&] {
    fiber::WaitGroup wg;
    for (int i = 0; i < 32; ++i) {
      wg.Add(1);
      Go([&] {
        for (int k = 0; k < 100; ++k) {
          t_marker = static_cast<int>(std::hash<std::thread::id>()(std::this_thread::get_id()) & 0xffff);
          Yield();
          Sleep(absl::Microseconds(10));
          int now = static_cast<int>(std::hash<std::thread::id>()(std::this_thread::get_id()) & 0xffff);
          if (fiber_internal::CurrentFiber() == nullptr) mismatches.fetch_add(1);
          (void)now;
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(mismatches.load(), 0);
}

TEST_P(FiberTest, MainReturningAbandonsParkedFibers) {
  std::atomic<int> resumed{0};
  // Outlives the Run: the abandoned receivers stay queued on it, never woken.
  fiber::Channel<int> ch(0);
  // Plain Run, no leak check: the fibers are abandoned on purpose (the point of this test).
  gonet::Run([&] {
    for (int i = 0; i < 10; ++i) {
      Go([&] {
        ch.Recv();
        resumed.fetch_add(1);
      });
    }
    for (int i = 0; i < 10; ++i) {
      Go([] { Sleep(absl::Hours(1)); });
    }
    Sleep(absl::Milliseconds(5));
  }, Opts());
  EXPECT_EQ(resumed.load(), 0);
  // The runtime is gone and can be started again.
  bool again = false;
  RunChecked([&] { again = true; }, Opts());
  EXPECT_TRUE(again);
}

TEST_P(FiberTest, RunManyTimesInALoop) {
  int count = 0;
  for (int i = 0; i < 1000; ++i) {
    RunChecked([&] {
      fiber::WaitGroup wg;
      wg.Add(1);
      Go([&] {
        ++count;
        wg.Done();
      });
      wg.Wait();
    }, Opts());
  }
  EXPECT_EQ(count, 1000);
}

TEST_P(FiberTest, NoThreadLeftAfterRun) {
  auto threads = [] {
    int n = 0;
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) {
      if (line.rfind("Threads:", 0) == 0) n = std::stoi(line.substr(8));
    }
    return n;
  };
  int before = threads();
  // Plain Run, no leak check: the sleeper is abandoned on purpose (its worker must go).
  gonet::Run([] { Go([] { Sleep(absl::Seconds(100)); }); }, Opts());
  EXPECT_EQ(threads(), before);
}

TEST(FiberRuntime, RaisesFileLimitToHard) {
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  rlimit lowered{std::min<rlim_t>(rl.rlim_max, 256), rl.rlim_max};
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  rlim_t inside = 0;
  RunChecked([&] {
    rlimit now;
    getrlimit(RLIMIT_NOFILE, &now);
    inside = now.rlim_cur;
  }, {.procs = 1});
  EXPECT_EQ(inside, rl.rlim_max);
}

TEST(FiberRuntime, ContextBackendIsNamed) {
  std::string name = fiber_internal::ContextBackendName();
  EXPECT_TRUE(name == "asm" || name == "ucontext") << name;
}

void Recurse(volatile char* prev, int depth) {
  volatile char buf[1024];
  buf[0] = prev ? prev[0] : 1;
  if (depth > 0) Recurse(buf, depth - 1);
}

TEST(FiberDeathTest, StackOverflowNamesTheFiber) {
  if (fiber_internal::kUnderSanitizer) GTEST_SKIP() << "sanitizers own SIGSEGV";
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(gonet::Run([] { Go([] { Recurse(nullptr, 1 << 20); }); Sleep(absl::Seconds(10)); },
                   {.procs = 1, .stack_size = 64 << 10}),
               "fiber [0-9]+: stack overflow");
}

INSTANTIATE_TEST_SUITE_P(Procs, FiberTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
