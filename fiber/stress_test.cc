// Stress tests of the fiber runtime: many fibers, many timers, many parked fibers,
// cross-worker ping-pong, and Run() in a loop. Size large, tagged exclusive (timing).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/timer_heap.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using gonet::leak_check::RunChecked;

using fiber_internal::MonoNanos;

// Under ThreadSanitizer every fiber stack mapping also gets shadow and metadata
// mappings of TSan's own, and with tens of thousands of stacks the process runs into
// vm.max_map_count (mprotect / TSan's allocator fail with ENOMEM). TSan does not give
// those mappings back when a Run unmaps its stacks, so the count grows with every
// stack ever mapped in the process (~40k stacks in all were enough to fail). The big
// counts are scaled down there; the other builds run them in full.
#if defined(GONET_TSAN)
constexpr int kScaleDown = 100;
#else
constexpr int kScaleDown = 1;
#endif

class StressTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// 100k fibers spawned without a break (all live at once at procs 1), then joined.
TEST_P(StressTest, HundredThousandFibersSpawnedAndJoined) {
  constexpr int kFibers = 100'000 / kScaleDown;
  std::vector<uint8_t> ran(kFibers, 0);
  std::atomic<int> count{0};
  RunChecked([&] {
    fiber::WaitGroup wg;
    wg.Add(kFibers);
    for (int i = 0; i < kFibers; ++i) {
      Go([&, i] {
        ran[i] += 1;  // each slot written by one fiber only
        count.fetch_add(1, std::memory_order_relaxed);
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(count.load(), kFibers);
  EXPECT_EQ(std::count(ran.begin(), ran.end(), 1), kFibers);
}

// Two fibers bounce a counter over two unbuffered channels, 100k round trips.
TEST_P(StressTest, PingPongAcrossWorkers) {
  if (GetParam() == 1) GTEST_SKIP() << "across procs";
  constexpr int kRoundTrips = 100'000;
  int last = -1;
  bool in_order = true;
  RunChecked([&] {
    fiber::Channel<int> ping, pong;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      while (std::optional<int> v = ping.Recv()) pong.Send(*v + 1);
      wg.Done();
    });
    for (int i = 0; i < kRoundTrips; ++i) {
      ping.Send(2 * i);
      std::optional<int> r = pong.Recv();
      if (!r || *r != 2 * i + 1) in_order = false;
      last = r.value_or(-1);
      // Let the partner be stolen by another worker now and then.
      if (i % 1000 == 0) Yield();
    }
    ping.Close();
    wg.Wait();
  }, Opts());
  EXPECT_TRUE(in_order);
  EXPECT_EQ(last, 2 * (kRoundTrips - 1) + 1);
}

// 100k fibers each sleep until a random deadline within 300 ms of their own start.
// Each must wake at or after its deadline; lateness is bounded; wake order follows
// deadline order up to fibers due at about the same time. Lateness includes waiting
// in the run queue behind fibers not yet started (all 100k are runnable at once).
TEST_P(StressTest, HundredThousandTimersFireInOrder) {
  constexpr int kFibers = 100'000 / kScaleDown;
  constexpr int64_t kSpreadNs = 300'000'000;
  struct Record {
    int64_t deadline = 0;
    int64_t woke = 0;
    int64_t seq = -1;
  };
  std::vector<Record> rec(kFibers);
  std::atomic<int64_t> seq{0};
  RunChecked([&] {
    fiber::WaitGroup wg;
    wg.Add(kFibers);
    for (int i = 0; i < kFibers; ++i) {
      Go([&, i] {
        uint64_t h = (static_cast<uint64_t>(i) + 1) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 29;
        int64_t deadline = MonoNanos() + static_cast<int64_t>(h % kSpreadNs);
        rec[i].deadline = deadline;
        fiber_internal::SleepUntilMono(deadline);
        rec[i].woke = MonoNanos();
        rec[i].seq = seq.fetch_add(1);
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  ASSERT_EQ(seq.load(), kFibers);
  std::vector<int64_t> lateness(kFibers);
  int early = 0;
  for (int i = 0; i < kFibers; ++i) {
    if (rec[i].woke < rec[i].deadline) ++early;
    lateness[i] = rec[i].woke - rec[i].deadline;
  }
  EXPECT_EQ(early, 0) << "fibers woke before their deadline";
  std::sort(lateness.begin(), lateness.end());
  int64_t p50 = lateness[kFibers / 2], p99 = lateness[kFibers * 99 / 100];
  int64_t max = lateness.back();
  // Order: a fiber woken after another one with a later deadline is "inverted" by
  // the difference. A heap popping out of order, or woken fibers queued LIFO, make
  // many fibers inverted by much; a correct runtime only reorders fibers due together.
  std::vector<const Record*> by_seq(kFibers);
  for (const Record& r : rec) by_seq[r.seq] = &r;
  std::vector<int64_t> inversion(kFibers);
  int64_t prefix_max = INT64_MIN;
  for (int k = 0; k < kFibers; ++k) {
    prefix_max = std::max(prefix_max, by_seq[k]->deadline);
    inversion[k] = prefix_max - by_seq[k]->deadline;
  }
  std::sort(inversion.begin(), inversion.end());
  int64_t inv_p99 = inversion[kFibers * 99 / 100], inv_max = inversion.back();
  std::printf("procs %d: lateness p50 %.3f ms, p99 %.3f ms, max %.3f ms; "
              "order inversion p99 %.3f ms, max %.3f ms\n",
              GetParam(), p50 / 1e6, p99 / 1e6, max / 1e6, inv_p99 / 1e6, inv_max / 1e6);
  // Generous: all 100k fibers are runnable at once on 2 shared cores, so lateness
  // includes queueing behind the ones not yet started (p99 ~200 ms at procs 1 on a
  // loaded machine, 1.5 s seen with other builds running); sanitizers slow every
  // wake-up several times. Timing claims live
  // in the benchmarks; this checks that timers neither fire early nor starve.
  const int64_t bound = fiber_internal::kUnderSanitizer ? 6'000'000'000 : 3'000'000'000;
  EXPECT_LT(p99, bound);
  EXPECT_LT(inv_p99, bound);
}


// 50k fibers parked at once on a channel (more than fit with a guard page each at the
// default vm.max_map_count), then each released by one value.
TEST_P(StressTest, FiftyThousandParkedFibers) {
  constexpr int kFibers = 50'000 / kScaleDown;
  std::atomic<int> parked{0};
  std::atomic<int64_t> sum{0};
  std::atomic<int> got{0};
  int max_mappings = 0;
  RunChecked([&] {
    fiber::Channel<int> ch;
    fiber::WaitGroup wg;
    wg.Add(kFibers);
    for (int i = 0; i < kFibers; ++i) {
      Go([&] {
        parked.fetch_add(1);
        if (std::optional<int> v = ch.Recv()) {
          sum.fetch_add(*v);
          got.fetch_add(1);
        }
        wg.Done();
      });
    }
    while (parked.load() < kFibers) Yield();
    max_mappings = leak_check::CountMappings();
    for (int i = 1; i <= kFibers; ++i) ASSERT_TRUE(ch.Send(i));
    wg.Wait();
  }, Opts());
  int limit = 0;
  std::ifstream("/proc/sys/vm/max_map_count") >> limit;
  std::printf("procs %d: %d mappings with %d fibers live (vm.max_map_count %d)\n", GetParam(),
              max_mappings, kFibers, limit);
  EXPECT_EQ(got.load(), kFibers);
  EXPECT_EQ(sum.load(), int64_t{kFibers} * (kFibers + 1) / 2);
  if (limit > 0) EXPECT_LT(max_mappings, limit);
}

// Runs a small program 1000 times. `main_owns_wg`: the WaitGroup lives in the main
// fiber's frame (as any Go program would have it) instead of outliving the Run.
void RunThousandTimes(int procs, bool main_owns_wg) {
  // TSan counts every fiber and thread it ever saw against a fixed id space; a
  // thousand Runs at procs 8 exhaust it (it crashes inside its own runtime).
  const int kRuns = kScaleDown > 1 ? 100 : 1000;
  int ok_runs = 0;
  for (int r = 0; r < kRuns; ++r) {
    int total = 0;
    fiber::WaitGroup outer_wg;
    RunChecked([&] {
      fiber::WaitGroup inner_wg;
      fiber::WaitGroup& wg = main_owns_wg ? inner_wg : outer_wg;
      fiber::Channel<int> ch(4);
      for (int i = 1; i <= 8; ++i) {
        wg.Add(1);
        Go([&, i] {
          ch.Send(i);
          wg.Done();
        });
      }
      for (int i = 0; i < 8; ++i) total += *ch.Recv();
      wg.Wait();
    }, {.procs = procs});
    if (total == 36) ++ok_runs;
  }
  EXPECT_EQ(ok_runs, kRuns);
}

TEST_P(StressTest, RunThousandTimesWithWork) { RunThousandTimes(GetParam(), false); }

// Regression (found by ASan at procs 8): the last Done() used to take the WaitGroup's
// lock after bringing the counter to zero, while Wait() could already have returned and
// the WaitGroup (here on main's stack) be gone. Add() now touches the object after its
// atomic update only when waiters are announced, and those cannot have left yet.
TEST_P(StressTest, WaitGroupInMainFrameDestroyedAfterWait) {
  RunThousandTimes(GetParam(), true);
}

// A WaitGroup reused at once after Wait returned: the previous round's last Done must
// not wake the next round's Wait early (it may still be inside Add when Wait sees 0).
TEST_P(StressTest, WaitGroupReuseNeverWakesEarly) {
  if (GetParam() == 1) GTEST_SKIP() << "needs parallel workers";
  constexpr int kRounds = 100'000;
  int early = 0;
  RunChecked([&] {
    fiber::WaitGroup wg;
    std::atomic<int> finished{0};
    for (int r = 0; r < kRounds; ++r) {
      finished.store(0, std::memory_order_relaxed);
      wg.Add(2);
      for (int k = 0; k < 2; ++k) {
        Go([&] {
          finished.fetch_add(1, std::memory_order_relaxed);
          wg.Done();
        });
      }
      wg.Wait();
      if (finished.load(std::memory_order_relaxed) != 2) ++early;
    }
  }, Opts());
  EXPECT_EQ(early, 0);
}

INSTANTIATE_TEST_SUITE_P(Procs, StressTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
