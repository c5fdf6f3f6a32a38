// Exceptions and fibers: the C++ exception state travels with the fiber across parks
// (fiber.h, "Exceptions"); an exception escaping a fiber is reported, not silent; and
// Go() from plain threads racing the end of Run never crashes.
#include <atomic>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check_gtest.h"

namespace {

using gonet::leak_check::RunChecked;

struct TaggedError : std::runtime_error {
  explicit TaggedError(int tag) : std::runtime_error("tagged " + std::to_string(tag)), tag(tag) {}
  int tag;
};

// The tag of the exception `throw;` rethrows here, or -1.
int RethrowTag() {
  try {
    throw;
  } catch (const TaggedError& e) {
    return e.tag;
  } catch (...) {
    return -1;
  }
}

int CurrentTag() {
  std::exception_ptr p = std::current_exception();
  if (!p) return -2;
  try {
    std::rethrow_exception(p);
  } catch (const TaggedError& e) {
    return e.tag;
  } catch (...) {
    return -1;
  }
}

class FiberExceptionTest : public ::testing::TestWithParam<int> {};

// Several fibers park inside their catch blocks, interleaved: each must still see its
// own exception afterwards (before the fix they saw the last one thrown on the thread,
// and the interleaved end-of-catch freed an exception another fiber still used).
TEST_P(FiberExceptionTest, ParkInsideCatchKeepsOwnException) {
  constexpr int kFibers = 16;
  std::atomic<int> mismatches{0};
  std::atomic<int> finished{0};
  RunChecked(
      [&] {
        gonet::fiber::WaitGroup wg;
        for (int i = 0; i < kFibers; ++i) {
          wg.Add(1);
          gonet::Go([&, i] {
            try {
              throw TaggedError(i);
            } catch (const TaggedError& e) {
              for (int round = 0; round < 5; ++round) {
                if (round % 2 == 0) gonet::Yield(); else gonet::Sleep(absl::Microseconds(200));
                if (e.tag != i) mismatches.fetch_add(1);
                if (CurrentTag() != i) mismatches.fetch_add(1);
                if (RethrowTag() != i) mismatches.fetch_add(1);
                if (std::uncaught_exceptions() != 0) mismatches.fetch_add(1);
              }
            }
            // Out of the catch block: no exception is current any more.
            if (std::current_exception()) mismatches.fetch_add(1);
            finished.fetch_add(1);
            wg.Done();
          });
        }
        wg.Wait();
      },
      {.procs = GetParam()});
  EXPECT_EQ(finished.load(), kFibers);
  EXPECT_EQ(mismatches.load(), 0);
}

// A destructor that parks while an exception unwinds through it: the unwinding
// fiber's std::uncaught_exceptions() stays 1, and other fibers see 0.
TEST_P(FiberExceptionTest, ParkDuringUnwindKeepsUncaughtCount) {
  std::atomic<int> bad{0};
  RunChecked(
      [&] {
        gonet::fiber::WaitGroup wg;
        for (int i = 0; i < 8; ++i) {
          wg.Add(2);
          gonet::Go([&, i] {
            struct ParksInDestructor {
              std::atomic<int>* bad;
              ~ParksInDestructor() {
                for (int k = 0; k < 3; ++k) {
                  gonet::Yield();
                  if (std::uncaught_exceptions() != 1) bad->fetch_add(1);
                }
              }
            };
            try {
              ParksInDestructor d{&bad};
              throw TaggedError(i);
            } catch (const TaggedError& e) {
              if (e.tag != i) bad.fetch_add(1);
            }
            wg.Done();
          });
          gonet::Go([&] {
            for (int k = 0; k < 6; ++k) {
              if (std::uncaught_exceptions() != 0) bad.fetch_add(1);
              gonet::Yield();
            }
            wg.Done();
          });
        }
        wg.Wait();
      },
      {.procs = GetParam()});
  EXPECT_EQ(bad.load(), 0);
}

// A fiber that parks in a catch block and rethrows afterwards, caught further up.
TEST_P(FiberExceptionTest, RethrowAfterParkReachesOuterHandler) {
  std::atomic<int> caught_right{0};
  RunChecked(
      [&] {
        gonet::fiber::WaitGroup wg;
        for (int i = 0; i < 8; ++i) {
          wg.Add(1);
          gonet::Go([&, i] {
            try {
              try {
                throw TaggedError(100 + i);
              } catch (...) {
                gonet::Sleep(absl::Microseconds(100));
                throw;
              }
            } catch (const TaggedError& e) {
              if (e.tag == 100 + i) caught_right.fetch_add(1);
            }
            wg.Done();
          });
        }
        wg.Wait();
      },
      {.procs = GetParam()});
  EXPECT_EQ(caught_right.load(), 8);
}

INSTANTIATE_TEST_SUITE_P(Procs, FiberExceptionTest, ::testing::Values(1, 2));

TEST(FiberExceptionDeathTest, UncaughtExceptionNamesTheFiber) {
  EXPECT_DEATH(gonet::Run([] {
                 gonet::Go([] { throw std::runtime_error("boom from a fiber"); });
                 gonet::Sleep(absl::Seconds(10));
               },
                          {.procs = 1}),
               "fiber [0-9]+: uncaught exception: boom from a fiber");
}

// Go() from plain threads while Run is ending: before the fix the foreign path read
// the runtime pointer without the teardown lock and sometimes crashed (SIGSEGV) on a
// runtime being freed. TrySpawn is Go without the fatal error, so the threads can keep
// trying across the end of each Run.
TEST(ForeignThreadSpawnTest, GoRacingRunEndNeverCrashes) {
#if defined(GONET_TSAN)
  constexpr int kRuns = 60;
#else
  constexpr int kRuns = 300;
#endif
  std::atomic<int64_t> spawned{0};
  std::atomic<int64_t> refused{0};
  std::atomic<int64_t> ran{0};
  for (int run = 0; run < kRuns; ++run) {
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    // Plain Run, no leak check: the threads keep spawning fibers until the Run ends
    // under them, and those fibers are abandoned (the race is the point of this test).
    gonet::Run(
        [&] {
          for (int t = 0; t < 2; ++t) {
            threads.emplace_back([&] {
              while (!stop.load(std::memory_order_acquire)) {
                absl::AnyInvocable<void() &&> fn = [&ran] { ran.fetch_add(1); };
                if (gonet::fiber_internal::TrySpawn(fn)) spawned.fetch_add(1);
                else refused.fetch_add(1);
              }
            });
          }
          // Let the threads get going, then end the Run under them.
          while (spawned.load() + refused.load() == 0) gonet::Yield();
        },
        {.procs = 1 + run % 2});
    // The threads keep trying after the end of Run: they must be refused cleanly.
    const int64_t refused_at_end = refused.load();
    while (refused.load() < refused_at_end + 10) std::this_thread::yield();
    stop.store(true, std::memory_order_release);
    for (auto& t : threads) t.join();
    EXPECT_EQ(gonet::NumFibers(), 0);
  }
  EXPECT_GT(spawned.load(), 0);
  EXPECT_GT(refused.load(), 0);
  EXPECT_LE(ran.load(), spawned.load());
}

TEST(ForeignThreadSpawnDeathTest, GoAfterRunIsAClearError) {
  RunChecked([] {}, {.procs = 1});
  EXPECT_DEATH(
      {
        std::thread t([] { gonet::Go([] {}); });
        t.join();
      },
      "gonet::Go called outside gonet::Run");
}

TEST(NumFibersTest, CountsLiveFibersAndZeroOutside) {
  EXPECT_EQ(gonet::NumFibers(), 0);
  RunChecked(
      [] {
        EXPECT_EQ(gonet::NumFibers(), 1);
        gonet::fiber::WaitGroup started, release;
        release.Add(1);
        for (int i = 0; i < 5; ++i) {
          started.Add(1);
          gonet::Go([&] {
            started.Done();
            release.Wait();
          });
        }
        started.Wait();
        EXPECT_EQ(gonet::NumFibers(), 6);
        release.Done();
        while (gonet::NumFibers() > 1) gonet::Yield();
        EXPECT_EQ(gonet::NumFibers(), 1);
      },
      {.procs = 2});
  EXPECT_EQ(gonet::NumFibers(), 0);
}

}  // namespace
