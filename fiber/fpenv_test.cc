// The floating-point control state is per fiber: both context-switch backends save and
// restore it (asm: MXCSR and the x87 control word on x86-64, FPCR on aarch64; ucontext:
// glibc's swapcontext). The rounding mode, set with the portable fesetround(), is the
// observable part: a fiber that sets it keeps it across parks, yields and migrations
// between workers, and no other fiber (nor the scheduler, nor the thread that called
// Run) sees it.
//
// Not asserted: the mode a NEW fiber starts with. The asm backend starts every fiber in
// the default environment; ucontext copies the environment of the thread that calls
// Go() (getcontext). Both agree when Go() is called from a fiber in the default mode.
#include <cfenv>
#include <atomic>
#include <thread>

#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using leak_check::RunChecked;

// 1/3 in the current rounding mode. Volatile operands and noinline keep the compiler
// from folding the division at compile time or moving it across fesetround().
__attribute__((noinline)) double OneThird() {
  volatile double one = 1.0;
  volatile double three = 3.0;
  return one / three;
}

double OneThirdIn(int mode) {
  int old = std::fegetround();
  EXPECT_EQ(std::fesetround(mode), 0);
  double q = OneThird();
  std::fesetround(old);
  return q;
}

class FpEnvTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// Fiber `up` rounds upward and fiber `down` downward, each checking its own mode (and
// the arithmetic) after every switch, while main checks it still rounds to nearest.
TEST_P(FpEnvTest, RoundingModeIsPerFiber) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  const double up = OneThirdIn(FE_UPWARD);
  const double down = OneThirdIn(FE_DOWNWARD);
  const double nearest = OneThirdIn(FE_TONEAREST);
  ASSERT_LT(down, up) << "fesetround has no effect on this machine";

  constexpr int kRounds = 200;
  std::atomic<int> bad_up{0}, bad_down{0}, bad_main{0}, down_saw_other{0};
  std::atomic<bool> up_set{false};
  RunChecked([&] {
    fiber::WaitGroup wg;
    wg.Add(2);
    Go([&] {
      std::fesetround(FE_UPWARD);
      up_set.store(true);
      for (int i = 0; i < kRounds; ++i) {
        if (i % 2 == 0) {
          Yield();
        } else {
          Sleep(absl::Microseconds(50));  // parks: may resume on another worker
        }
        if (std::fegetround() != FE_UPWARD || OneThird() != up) bad_up.fetch_add(1);
      }
      wg.Done();
    });
    Go([&] {
      // Starts in the default mode, and `up` changing its own mode must not leak here.
      while (!up_set.load()) Yield();
      if (std::fegetround() != FE_TONEAREST || OneThird() != nearest) {
        down_saw_other.fetch_add(1);
      }
      std::fesetround(FE_DOWNWARD);
      for (int i = 0; i < kRounds; ++i) {
        if (i % 2 == 0) {
          Sleep(absl::Microseconds(50));
        } else {
          Yield();
        }
        if (std::fegetround() != FE_DOWNWARD || OneThird() != down) bad_down.fetch_add(1);
      }
      wg.Done();
    });
    while (!up_set.load()) Yield();
    for (int i = 0; i < kRounds; ++i) {
      Yield();
      if (std::fegetround() != FE_TONEAREST || OneThird() != nearest) bad_main.fetch_add(1);
    }
    wg.Wait();
    if (std::fegetround() != FE_TONEAREST) bad_main.fetch_add(1);
  }, Opts());
  EXPECT_EQ(bad_up.load(), 0) << "the upward fiber lost its rounding mode";
  EXPECT_EQ(bad_down.load(), 0) << "the downward fiber lost its rounding mode";
  EXPECT_EQ(down_saw_other.load(), 0) << "another fiber's rounding mode leaked";
  EXPECT_EQ(bad_main.load(), 0) << "main saw another fiber's rounding mode";
  // Nor does the thread that ran the scheduler.
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
  EXPECT_EQ(OneThird(), nearest);
}

// Many fibers, each with its own mode, interleaved on the same workers: after every
// switch each sees only its own.
TEST_P(FpEnvTest, ManyFibersKeepTheirOwnModes) {
  static constexpr int kModes[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
  constexpr int kFibers = 32;
  constexpr int kRounds = 50;
  std::atomic<int> bad{0};
  RunChecked([&] {
    fiber::WaitGroup wg;
    for (int f = 0; f < kFibers; ++f) {
      wg.Add(1);
      Go([&, f] {
        const int mode = kModes[f % 4];
        std::fesetround(mode);
        for (int i = 0; i < kRounds; ++i) {
          if ((i + f) % 3 == 0) {
            Sleep(absl::Microseconds(20));
          } else {
            Yield();
          }
          if (std::fegetround() != mode) bad.fetch_add(1);
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(std::fegetround(), FE_TONEAREST);
}

// A thread calling Run with a non-default mode gets it back when Run returns, whatever
// the fibers did meanwhile.
TEST_P(FpEnvTest, RunRestoresTheCallersMode) {
  ASSERT_EQ(std::fesetround(FE_TOWARDZERO), 0);
  RunChecked([&] {
    fiber::WaitGroup wg;
    for (int f = 0; f < 4; ++f) {
      wg.Add(1);
      Go([&] {
        std::fesetround(FE_UPWARD);
        Yield();
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(std::fegetround(), FE_TOWARDZERO);
  std::fesetround(FE_TONEAREST);
}

INSTANTIATE_TEST_SUITE_P(Procs, FpEnvTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
