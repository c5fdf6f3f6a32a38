// parked_fibers: a program with fibers parked in known functions, for
// ci/gdb_core_check.sh (tools/gdb/gonet_fibers.py on a core file). Prints "ready <pid>"
// once they are parked and published, then waits to be killed (or for 10 minutes).
#include <unistd.h>

#include <cstdint>
#include <cstdio>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/internal/debug_layout.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/stack.h"
#include "fiber/sync.h"

namespace {

ABSL_ATTRIBUTE_NOINLINE void GdbCheckSleeper() {
  gonet::Sleep(absl::Hours(1));
  ABSL_BLOCK_TAIL_CALL_OPTIMIZATION();
}

ABSL_ATTRIBUTE_NOINLINE void GdbCheckWaiter(gonet::fiber::WaitGroup* wg) {
  wg->Wait();
  ABSL_BLOCK_TAIL_CALL_OPTIMIZATION();
}

}  // namespace

int main() {
  // gcore reads memory through /proc/PID/mem, and a read that touches a guard region
  // (MADV_GUARD_INSTALL, Linux >= 6.13: the guards inside stack slabs) fails, so gdb
  // writes the whole slab as zeros. Per-stack mappings keep the stacks in the core.
  gonet::fiber_internal::SetStackGuardForTesting(gonet::fiber_internal::StackGuardKind::kAuto,
                                                 SIZE_MAX, /*guard_regions=*/false);
  // Plain Run: the process is killed with its fibers parked (that is the point).
  gonet::Run([] {
    gonet::fiber::WaitGroup never;
    never.Add(1);
    for (int i = 0; i < 3; ++i) gonet::Go([] { GdbCheckSleeper(); });
    for (int i = 0; i < 2; ++i) gonet::Go([&never] { GdbCheckWaiter(&never); });
    for (;;) {
      int parked = 0;
      gonet::fiber_internal::VisitFibers([&](const gonet::fiber_internal::Fiber& f) {
        parked += f.status.load() == gonet::fiber_internal::FiberStatus::kWaiting;
      });
      if (parked >= 5) break;
      gonet::Yield();
    }
    std::printf("ready %d\n", static_cast<int>(getpid()));
    std::fflush(stdout);
    gonet::Sleep(absl::Minutes(10));
  }, {.procs = 2});
}
