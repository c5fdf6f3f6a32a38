// Go's runtime guarantees (issue: a blocked or busy fiber never stalls the others):
// gonet::Blocking hands the proc off, the monitor moves the proc of a thread stuck in
// an unmarked blocking call or a CPU-bound fiber, and reports each stall once.
// Bounds are generous (a loaded 2-core CI machine); the measured figures are printed,
// and the timing claims live in benchmarks/fiber_benchmark.cc.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"

namespace gonet {
namespace {

// A thread-blocking call the runtime cannot see: poll(2) with no fds.
void BlockThreadFor(absl::Duration d) { poll(nullptr, 0, static_cast<int>(absl::ToInt64Milliseconds(d))); }

// Spins on the CPU for d, never reaching a scheduling point.
void SpinFor(absl::Duration d) {
  const absl::Time end = absl::Now() + d;
  volatile uint64_t x = 0;
  while (absl::Now() < end) x = x + 1;
}

// Starts fn as a fiber created "by StartCulprit": stall reports name that function,
// which tells them apart from reports about other fibers (on a loaded machine the OS
// may deschedule any thread for 10 ms, which the monitor cannot tell from a stall).
void StartCulprit(absl::AnyInvocable<void() &&> fn) { Go(std::move(fn)); }

int CountReportsAboutCulprit(const std::string& err) {
  int n = 0;
  for (size_t at = err.find("Created by StartCulprit at"); at != std::string::npos;
       at = err.find("Created by StartCulprit at", at + 1)) {
    ++n;
  }
  return n;
}

struct PingPongStats {
  int round_trips = 0;
  absl::Duration max = absl::ZeroDuration();
  absl::Duration p99 = absl::ZeroDuration();
};

// Two fibers ping-pong one byte over a loopback TCP connection until `stop` is set;
// after 200 round trips (so that the ping-pong is under way) it calls start() once.
// Runs inside Run; returns when both are done. Only round trips after start() count.
PingPongStats PingPongWhile(std::atomic<bool>* stop, absl::FunctionRef<void()> start) {
  auto ln = net::Listen("tcp", "127.0.0.1:0");
  EXPECT_TRUE(ln.ok()) << ln.status();
  if (!ln.ok()) return {};
  fiber::WaitGroup wg;
  wg.Add(1);
  Go([&] {
    auto c = (*ln)->Accept();
    EXPECT_TRUE(c.ok()) << c.status();
    char b[1];
    while (c.ok() && (*c)->Read(absl::MakeSpan(b)).n == 1) {
      if (!(*c)->Write(absl::MakeConstSpan(b)).err.ok()) break;
    }
    wg.Done();
  });
  auto c = net::Dial("tcp", (*ln)->Address().String());
  EXPECT_TRUE(c.ok()) << c.status();
  std::vector<absl::Duration> rtts;
  char b[1] = {'x'};
  int warmup = 200;
  while (c.ok() && !stop->load()) {
    absl::Time t0 = absl::Now();
    if (!(*c)->Write(absl::MakeConstSpan(b)).err.ok()) break;
    if ((*c)->Read(absl::MakeSpan(b)).n != 1) break;
    if (warmup > 0) {
      if (--warmup == 0) start();
      continue;
    }
    rtts.push_back(absl::Now() - t0);
  }
  if (c.ok()) EXPECT_TRUE((*c)->Close().ok());
  wg.Wait();
  EXPECT_TRUE((*ln)->Close().ok());
  PingPongStats s;
  s.round_trips = static_cast<int>(rtts.size());
  if (!rtts.empty()) {
    std::sort(rtts.begin(), rtts.end());
    s.max = rtts.back();
    s.p99 = rtts[rtts.size() * 99 / 100];
  }
  return s;
}

TEST(Blocking, ReturnsTheResultAndPropagatesExceptions) {
  EXPECT_EQ(Blocking([] { return 7; }), 7);  // outside a fiber: a plain call
  gonet::Run([] {
    int x = 0;
    EXPECT_EQ(Blocking([&] { x = 41; return x + 1; }), 42);
    std::string s = Blocking([] { return std::string("moved"); });
    EXPECT_EQ(s, "moved");
    Blocking([&] { ++x; });  // void
    EXPECT_EQ(x, 42);
    EXPECT_THROW(Blocking([]() -> int { throw std::runtime_error("boom"); }), std::runtime_error);
    // After an exception the fiber still schedules normally.
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] { wg.Done(); });
    wg.Wait();
  }, {.procs = 1});
}

// At procs=1, a fiber inside Blocking(1 s) must not stall a ping-pong between two
// others: the monitor hands the proc to another thread.
TEST(Blocking, OneProcKeepsRunningWhileAFiberBlocks) {
  PingPongStats s;
  int64_t handoffs = 0;
  gonet::Run([&] {
    std::atomic<bool> stop{false};
    fiber::WaitGroup wg;
    wg.Add(1);
    s = PingPongWhile(&stop, [&] {
      Go([&] {
        Blocking([] { BlockThreadFor(absl::Seconds(1)); });
        stop = true;
        wg.Done();
      });
    });
    wg.Wait();
    handoffs = fiber_internal::GetRuntimeStats().handoffs;
  }, {.procs = 1});
  std::printf("procs=1, Blocking(1 s) beside a ping-pong: %d round trips, p99 %s, max %s, %lld hand-offs\n",
              s.round_trips, absl::FormatDuration(s.p99).c_str(), absl::FormatDuration(s.max).c_str(),
              static_cast<long long>(handoffs));
  EXPECT_GT(s.round_trips, 100);
  EXPECT_GE(handoffs, 1);
  // Without the hand-off one round trip takes the whole second.
  EXPECT_LT(s.max, absl::Milliseconds(500));
}

// The same with a blocking call the runtime was not told about: the monitor sees a
// proc that made no switch for stall_report and moves its other fibers.
TEST(Blocking, UnmarkedBlockingCallStallsOthersOnlyBriefly) {
  PingPongStats s;
  int64_t reported = 0;
  testing::internal::CaptureStderr();
  gonet::Run([&] {
    std::atomic<bool> stop{false};
    fiber::WaitGroup wg;
    wg.Add(1);
    s = PingPongWhile(&stop, [&] {
      StartCulprit([&] {
        BlockThreadFor(absl::Seconds(1));
        stop = true;
        wg.Done();
      });
    });
    wg.Wait();
    reported = fiber_internal::GetRuntimeStats().stalls_reported;
  }, {.procs = 1});
  std::string err = testing::internal::GetCapturedStderr();
  std::printf("procs=1, unmarked 1 s block beside a ping-pong: %d round trips, p99 %s, max %s\n",
              s.round_trips, absl::FormatDuration(s.p99).c_str(), absl::FormatDuration(s.max).c_str());
  EXPECT_GT(s.round_trips, 100);
  EXPECT_LT(s.max, absl::Milliseconds(500));  // about 20 ms expected
  EXPECT_GE(reported, 1) << err;
  EXPECT_EQ(CountReportsAboutCulprit(err), 1) << err;
}

// Runs a 50 ms spin (StartCulprit) beside a fiber that sleeps 1 ms at a time until the
// spin ends; returns the stall reports counted, stderr, and the sleeps meanwhile.
struct SpinResult {
  int64_t reported = -1;
  int ticks = 0;
  std::string err;
};
SpinResult SpinBesideSleeper(RuntimeOptions opts) {
  SpinResult r;
  std::atomic<int> ticks{0};
  testing::internal::CaptureStderr();
  gonet::Run([&] {
    fiber::WaitGroup wg;
    wg.Add(1);
    std::atomic<bool> spinning{true};
    StartCulprit([&] {
      SpinFor(absl::Milliseconds(50));
      spinning = false;
      wg.Done();
    });
    // Sleepers on the same proc must keep waking while it spins.
    while (spinning) {
      Sleep(absl::Milliseconds(1));
      ++ticks;
    }
    wg.Wait();
    r.reported = fiber_internal::GetRuntimeStats().stalls_reported;
  }, opts);
  r.err = testing::internal::GetCapturedStderr();
  r.ticks = ticks.load();
  return r;
}

// A CPU-bound fiber is reported exactly once, naming where it was created, and the
// other fibers of its proc keep running meanwhile.
TEST(Stall, SpinningFiberIsReportedOnceWithItsCreationSite) {
  for (int procs : {1, 2}) {
    SpinResult r = SpinBesideSleeper({.procs = procs});
    std::printf("procs=%d: 50 ms spin: %lld report(s), %d sleeps meanwhile\n", procs,
                static_cast<long long>(r.reported), r.ticks);
    EXPECT_GE(r.reported, 1) << r.err;
    EXPECT_EQ(CountReportsAboutCulprit(r.err), 1) << r.err;
    EXPECT_NE(r.err.find("Created by StartCulprit at tests/blocking_test.cc:"), std::string::npos)
        << r.err;
    EXPECT_GT(r.ticks, 5) << "the spinning fiber stalled its proc's sleepers";
  }
}

TEST(Stall, ZeroStallReportStillMovesTheProcButStaysSilent) {
  SpinResult r = SpinBesideSleeper({.procs = 1, .stall_report = absl::ZeroDuration()});
  EXPECT_EQ(r.reported, 0) << r.err;
  EXPECT_EQ(r.err.find("without a scheduling point"), std::string::npos) << r.err;
  EXPECT_GT(r.ticks, 5);
}

// Many fibers blocking at once each get a thread: 40 x Blocking(100 ms) at procs=2
// take about 100 ms, not 2 s.
TEST(Blocking, ManyConcurrentBlockingCallsRunInParallel) {
  absl::Duration took;
  int64_t threads = 0;
  gonet::Run([&] {
    fiber::WaitGroup wg;
    absl::Time t0 = absl::Now();
    for (int i = 0; i < 40; ++i) {
      wg.Add(1);
      Go([&] {
        Blocking([] { BlockThreadFor(absl::Milliseconds(100)); });
        wg.Done();
      });
    }
    wg.Wait();
    took = absl::Now() - t0;
    threads = fiber_internal::GetRuntimeStats().threads;
  }, {.procs = 2});
  std::printf("40 x Blocking(100 ms) at procs=2: %s, %lld threads\n", absl::FormatDuration(took).c_str(),
              static_cast<long long>(threads));
  EXPECT_LT(took, absl::Milliseconds(1500));
  EXPECT_LE(threads, 2 + 40);
}

// Spare threads are reused: rounds of blocking calls do not add threads forever.
TEST(Blocking, SpareThreadsAreReused) {
  int64_t after_first = 0, after_all = 0;
  gonet::Run([&] {
    for (int round = 0; round < 5; ++round) {
      fiber::WaitGroup wg;
      for (int i = 0; i < 8; ++i) {
        wg.Add(1);
        Go([&] {
          Blocking([] { BlockThreadFor(absl::Milliseconds(30)); });
          wg.Done();
        });
      }
      wg.Wait();
      if (round == 0) after_first = fiber_internal::GetRuntimeStats().threads;
    }
    after_all = fiber_internal::GetRuntimeStats().threads;
  }, {.procs = 1});
  std::printf("threads after one round: %lld, after five: %lld\n", static_cast<long long>(after_first),
              static_cast<long long>(after_all));
  EXPECT_LE(after_all, after_first + 2);
}

TEST(Blocking, RunWaitsForAFiberInsideBlocking) {
  std::atomic<bool> finished{false};
  absl::Time t0 = absl::Now();
  gonet::Run([&] {
    Go([&] {
      Blocking([] { BlockThreadFor(absl::Milliseconds(200)); });
      finished = true;
    });
    Sleep(absl::Milliseconds(20));  // main returns while the other fiber blocks
  }, {.procs = 1});
  // Run joined the blocked thread: the call completed (the fiber is abandoned at its
  // next scheduling point, after setting `finished`, or before if it had one).
  EXPECT_GE(absl::Now() - t0, absl::Milliseconds(150));
}

// Name lookups run inside Blocking, not on a thread each: 3,000 concurrent dials to
// "localhost" (answered from /etc/hosts, a short call) add few threads, if any.
TEST(Blocking, ConcurrentLookupsAddFewThreads) {
  int64_t threads = 0;
  int ok = 0;
  gonet::Run([&] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    const std::string addr = "localhost:" + std::to_string((*ln)->Address().Port());
    std::atomic<int> accepted{0};
    fiber::WaitGroup acceptor;
    acceptor.Add(1);
    std::vector<std::shared_ptr<net::Conn>> server_side;
    Go([&] {
      for (;;) {
        auto c = (*ln)->Accept();
        if (!c.ok()) break;
        server_side.push_back(*c);
        ++accepted;
      }
      acceptor.Done();
    });
    constexpr int kDials = 3000;
    std::vector<std::shared_ptr<net::Conn>> conns(kDials);
    std::atomic<int> dialed{0};
    fiber::WaitGroup wg;
    for (int i = 0; i < kDials; ++i) {
      wg.Add(1);
      Go([&, i] {
        auto c = net::Dial("tcp4", addr);
        if (c.ok()) {
          conns[i] = *c;
          ++dialed;
        }
        wg.Done();
      });
    }
    wg.Wait();
    ok = dialed.load();
    threads = fiber_internal::GetRuntimeStats().threads;
    for (auto& c : conns) {
      if (c) EXPECT_TRUE(c->Close().ok());
    }
    EXPECT_TRUE((*ln)->Close().ok());
    acceptor.Wait();
    for (auto& c : server_side) EXPECT_TRUE(c->Close().ok());
  }, {.procs = 2});
  std::printf("3000 concurrent dials to localhost at procs=2: %d connected, %lld threads\n", ok,
              static_cast<long long>(threads));
  EXPECT_EQ(ok, 3000);
  // The old lookup path started a detached thread per lookup (88 extra threads seen).
  EXPECT_LT(threads, 2 + 64);
}

TEST(BlockingDeathTest, PastMaxThreadsDiesWithGosMessage) {
  EXPECT_DEATH(
      gonet::Run([] {
        fiber::WaitGroup wg;
        for (int i = 0; i < 8; ++i) {
          wg.Add(1);
          Go([&] {
            Blocking([] { BlockThreadFor(absl::Seconds(2)); });
            wg.Done();
          });
        }
        wg.Wait();
      }, {.procs = 1, .max_threads = 3}),
      "program exceeds 3-thread limit");
}

}  // namespace
}  // namespace gonet
