// fiber_wait.h: tests that must know a fiber has parked (not just that it will) look
// it up through fiber_internal::VisitFibers, with a deadline instead of a fixed sleep.
//   CurrentFiberId()      the running fiber's id, to publish for WaitParked*
//   WaitParkedInfo(&id)   waits until that fiber is parked; why it waits, or nullopt
//   WaitParked(&id)       the same, only the reason
#ifndef GONET_TESTING_FIBER_WAIT_H_
#define GONET_TESTING_FIBER_WAIT_H_

#include <atomic>
#include <cstdint>
#include <optional>

#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"

namespace gonet::leak_check {

inline uint64_t CurrentFiberId() { return fiber_internal::CurrentFiber()->id; }

// f's wait reason. Racy by design, as the runtime's own dump (fiber/internal/dump.cc,
// Snapshot): a fiber about to park writes it while running, and a reader that saw
// kWaiting from an earlier park may read it then; the caller re-checks the status.
// Exempt from TSan for that reason.
__attribute__((no_sanitize("thread"))) inline fiber_internal::WaitInfo ReadWaitInfo(
    const fiber_internal::Fiber& f) {
  return f.wait;
}

// Waits (up to 10 s, sleeping 1 ms between looks) until the fiber whose id *id holds
// (0: not known yet) is parked; returns why it waits, nullopt on timeout. Fiber only.
inline std::optional<fiber_internal::WaitInfo> WaitParkedInfo(const std::atomic<uint64_t>* id) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    std::optional<fiber_internal::WaitInfo> info;
    const uint64_t want = id->load();
    if (want != 0) {
      fiber_internal::VisitFibers([&](const fiber_internal::Fiber& f) {
        if (f.id == want &&
            f.status.load(std::memory_order_acquire) == fiber_internal::FiberStatus::kWaiting) {
          fiber_internal::WaitInfo w = ReadWaitInfo(f);
          // Still parked in the same wait: the read was not torn by a re-park.
          if (f.status.load(std::memory_order_acquire) == fiber_internal::FiberStatus::kWaiting) {
            info = w;
          }
        }
      });
    }
    if (info.has_value()) return info;
    gonet::Sleep(absl::Milliseconds(1));
  }
  return std::nullopt;
}

inline std::optional<fiber_internal::WaitReason> WaitParked(const std::atomic<uint64_t>* id) {
  std::optional<fiber_internal::WaitInfo> info = WaitParkedInfo(id);
  if (!info.has_value()) return std::nullopt;
  return info->reason;
}

}  // namespace gonet::leak_check

#endif  // GONET_TESTING_FIBER_WAIT_H_
