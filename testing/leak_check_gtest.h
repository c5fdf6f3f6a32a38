// leak_check_gtest.h: the gtest side of leak_check.h, for tests.
//
//   ExpectNoFibersLeftOver()  at the end of a Run's main fiber: a test failure when
//                             other fibers of the Run are still alive after 2 s.
//   RunChecked(main, opts)    gonet::Run(main, opts) that ends main with
//                             ExpectNoFibersLeftOver() and checks that the process has
//                             as many open fds after the Run as before it.
//
// A test that abandons fibers on purpose (fiber.h "Shutdown with parked fibers") uses
// plain gonet::Run and says why next to it.

#ifndef GONET_TESTING_LEAK_CHECK_GTEST_H_
#define GONET_TESTING_LEAK_CHECK_GTEST_H_

#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "gtest/gtest.h"
#include "testing/leak_check.h"

namespace gonet::leak_check {

// Fiber only (the end of a Run's main fiber). See FibersLeftOver.
inline void ExpectNoFibersLeftOver(absl::Duration patience = kFiberPatience) {
  const int left = FibersLeftOver(patience);
  if (left != 0) {
    ADD_FAILURE() << "fiber leak: " << left << " fiber(s) besides the Run's main one still "
                  << "alive " << absl::FormatDuration(patience)
                  << " after main finished (parked forever, or never joined)";
  }
}

// Every Conn/Listener/NetFD the scenario opened must be closed or destroyed by the time
// Run returns (the runtime's own poller fds go with the Run), and every fiber it
// started must have finished by the end of main.
inline void RunChecked(absl::AnyInvocable<void() &&> main, RuntimeOptions opts = {}) {
  const int before = CountOpenFds();
  gonet::Run(
      [&main] {
        std::move(main)();
        ExpectNoFibersLeftOver();
      },
      opts);
  const int after = CountOpenFds();
  EXPECT_EQ(after, before) << "fd leak; open now: " << DescribeOpenFds();
}

}  // namespace gonet::leak_check

#endif  // GONET_TESTING_LEAK_CHECK_GTEST_H_
