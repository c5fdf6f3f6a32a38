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
// TODO(issue 9): hand-off of the proc; for now Blocking() only marks the fiber.
void* EnterBlocking() {
  fiber_internal::Fiber* f = fiber_internal::CurrentFiber();
  if (f == nullptr) return nullptr;
  f->wait_since_ns = fiber_internal::CoarseMonoNanos();
  f->status.store(fiber_internal::FiberStatus::kBlocking, std::memory_order_relaxed);
  return f;
}
void ExitBlocking(void* token) {
  if (token == nullptr) return;
  static_cast<fiber_internal::Fiber*>(token)->status.store(fiber_internal::FiberStatus::kRunning,
                                                           std::memory_order_relaxed);
}
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
