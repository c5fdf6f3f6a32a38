#include "fiber/fiber.h"

#include <thread>

#include "absl/time/clock.h"
#include "fiber/internal/scheduler.h"

namespace gonet {

void Run(absl::AnyInvocable<void() &&> main, RuntimeOptions opts) {
  fiber_internal::RunRuntime(std::move(main), opts.procs, opts.stack_size);
}

void Go(absl::AnyInvocable<void() &&> fn) { fiber_internal::Spawn(std::move(fn)); }

int NumFibers() { return fiber_internal::NumFibers(); }

void Yield() { fiber_internal::YieldFiber(); }

void Sleep(absl::Duration d) {
  if (!fiber_internal::InFiber()) {
    if (d > absl::ZeroDuration()) absl::SleepFor(d);
    return;
  }
  if (d <= absl::ZeroDuration()) {
    fiber_internal::YieldFiber();
    return;
  }
  int64_t ns = d >= absl::Hours(24 * 365 * 100) ? int64_t{1} << 62 : absl::ToInt64Nanoseconds(d);
  fiber_internal::SleepUntilMono(fiber_internal::MonoNanos() + ns);
}

void SleepUntil(absl::Time t) { Sleep(t - absl::Now()); }

}  // namespace gonet
