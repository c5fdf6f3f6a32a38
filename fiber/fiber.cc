#include "fiber/fiber.h"

#include <algorithm>
#include <thread>

#include "absl/time/clock.h"
#include "fiber/internal/dump.h"
#include "fiber/internal/scheduler.h"

namespace gonet {

void Run(absl::AnyInvocable<void() &&> main, RuntimeOptions opts) {
  fiber_internal::RuntimeConfig c;
  c.procs = opts.procs;
  c.stack_size = opts.stack_size;
  c.max_threads = opts.max_threads;
  c.dump_on_sigquit = opts.dump_on_sigquit;
  c.stall_report_ns = opts.stall_report <= absl::ZeroDuration()
                          ? 0
                          : absl::ToInt64Nanoseconds(std::min(opts.stall_report, absl::Hours(1)));
  fiber_internal::RunRuntime(std::move(main), c);
}

void Go(absl::AnyInvocable<void() &&> fn, FiberSite site) {
  fiber_internal::Spawn(std::move(fn), fiber_internal::SpawnSite{site.file, site.function, site.line});
}

namespace fiber_detail {
void* EnterBlocking() { return fiber_internal::EnterBlockingCall(); }
void ExitBlocking(void* token) { fiber_internal::ExitBlockingCall(token); }
}  // namespace fiber_detail

void DumpFibers(std::ostream& out) { fiber_internal::WriteFiberDump(out); }

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
