// Select, and the type-independent waits of channel.h (Go's runtime/select.go and the
// blocking half of chan.go, re-implemented over ChanWaiter queues).
#include "fiber/channel.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>

#include "absl/base/internal/raw_logging.h"
#include "absl/container/inlined_vector.h"
#include "absl/time/clock.h"
#include "fiber/internal/chan_waiter.h"
#include "fiber/internal/scheduler.h"

namespace gonet::fiber_internal {

void ParkForever(WaitReason why) {
  // Nothing holds this fiber: it stays parked until its Run ends and abandons it.
  Park([](Fiber*) { return true; }, WaitInfo{why});
  ABSL_RAW_LOG(FATAL, "runtime: a fiber parked forever (%s) was resumed", WaitReasonName(why));
  std::abort();
}

int64_t MonoDeadline(absl::Time deadline) {
  if (deadline == absl::InfiniteFuture()) return std::numeric_limits<int64_t>::max();
  if (deadline == absl::InfinitePast()) return std::numeric_limits<int64_t>::min();
  const absl::Duration left = deadline - absl::Now();
  const int64_t now = MonoNanos();
  // Saturate: a deadline centuries away is "never" (no overflow in now + left).
  if (left >= absl::Hours(24 * 365 * 100)) return std::numeric_limits<int64_t>::max();
  if (left <= -absl::Hours(24 * 365 * 100)) return std::numeric_limits<int64_t>::min();
  return now + absl::ToInt64Nanoseconds(left);
}

bool WaitWithTimeout(ChannelCore* core, void* elem, int64_t when) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  // Called with core->mu held; the receiver and a timer race for the fiber through one
  // claim. The timer's callback only flips the claim (no channel lock), so it may run
  // anywhere, Park's search for the next fiber included.
  std::atomic<bool> claim{false};
  ChanWaiter me;
  me.fiber = CurrentFiber();
  me.elem = elem;
  me.claim = &claim;
  core->recvq.Push(&me);
  Timer timer;
  timer.ctx = &me;
  timer.fn = [](Timer* t, FiberList* ready) {
    auto* w = static_cast<ChanWaiter*>(t->ctx);
    if (!w->claim->exchange(true, std::memory_order_acq_rel)) ready->Push(w->fiber);
  };
  Park(
      [core, &timer, when](Fiber*) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        // Copied first: once the timer is armed it may fire and resume this fiber,
        // whose frame holds this closure.
        ChannelCore* const c = core;
        // Armed only now that this fiber is off its stack: a firing timer may ready it.
        ResetTimer(&timer, when);
        c->mu.Unlock();  // a resumed fiber waits for this before it touches the queue
        return true;
      },
      WaitInfo{WaitReason::kChanReceive});
  // Either a sender or Close took us (me.taken), or the timer won the claim. The timer
  // lives on this stack: make sure its callback is done before it goes.
  DeleteTimerSync(&timer);
  if (me.taken) return false;
  SpinLockHolder l(&core->mu);
  core->recvq.Remove(&me);  // still queued unless a waker dropped it (claim lost)
  return true;
}

namespace {

// A cheap per-thread generator for Select's random order (wyrand). Not used across a
// park: the thread may change there.
__attribute__((noinline)) uint64_t FastRand() {
  thread_local uint64_t state =
      static_cast<uint64_t>(reinterpret_cast<uintptr_t>(&state)) ^ static_cast<uint64_t>(MonoNanos());
  state += 0xa0761d6478bd642fULL;
  const __uint128_t m = static_cast<__uint128_t>(state) * (state ^ 0xe7037ed1a0b428dbULL);
  return static_cast<uint64_t>(m >> 64) ^ static_cast<uint64_t>(m);
}

// A uniform integer in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for the
// case counts of a select).
uint32_t RandBelow(uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(FastRand())) * n) >> 32);
}

using CoreList = absl::InlinedVector<ChannelCore*, 8>;

void LockAll(const CoreList& cores) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (ChannelCore* c : cores) c->mu.Lock();
}
void UnlockAll(const CoreList& cores) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  for (auto it = cores.rbegin(); it != cores.rend(); ++it) (*it)->mu.Unlock();
}

}  // namespace

}  // namespace gonet::fiber_internal

namespace gonet::fiber {

using fiber_internal::ChannelCore;
using fiber_internal::ChanWaiter;
using fiber_internal::CoreList;
using fiber_internal::Fiber;

int SelectImpl(const SelectCase* cases, size_t n, bool block) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (n > std::numeric_limits<uint16_t>::max()) {
    ABSL_RAW_LOG(FATAL, "gonet::fiber::Select: %zu cases (at most 65535)", n);
  }
  // Poll order: a uniform random permutation (Go's pollorder), so that every ready case
  // is equally likely to be taken. Lock order: by channel address, each channel once
  // (Go's lockorder), so that selects over the same channels never deadlock.
  absl::InlinedVector<uint16_t, 8> order(n);
  CoreList cores;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t j = fiber_internal::RandBelow(static_cast<uint32_t>(i + 1));
    order[i] = order[j];
    order[j] = static_cast<uint16_t>(i);
    if (!cases[i].core_->nil) cores.push_back(cases[i].core_);
  }
  std::sort(cores.begin(), cores.end());
  cores.erase(std::unique(cores.begin(), cores.end()), cores.end());

  fiber_internal::LockAll(cores);
  for (uint16_t i : order) {
    const SelectCase& c = cases[i];
    if (c.core_->nil) continue;
    Fiber* wake = nullptr;
    const ChannelCore::Op r = c.try_now_(c, &wake);
    if (r == ChannelCore::Op::kWouldBlock) continue;
    fiber_internal::UnlockAll(cores);
    if (wake != nullptr) fiber_internal::Ready(wake);
    if (c.is_send_ && c.sent_ != nullptr) *c.sent_ = r == ChannelCore::Op::kDone;
    return i;
  }
  if (!block) {
    fiber_internal::UnlockAll(cores);
    return -1;
  }
  Fiber* self = fiber_internal::CurrentFiber();
  if (self == nullptr) {
    fiber_internal::UnlockAll(cores);
    ABSL_RAW_LOG(FATAL, "gonet::fiber::Select would block outside a fiber");
  }
  if (cores.empty()) fiber_internal::ParkForever(fiber_internal::WaitReason::kSelectNoCases);

  // Wait on every case at once; the first waker to win `claim` takes this fiber.
  std::atomic<bool> claim{false};
  absl::InlinedVector<ChanWaiter, 4> waiters(n);
  for (size_t i = 0; i < n; ++i) {
    const SelectCase& c = cases[i];
    if (c.core_->nil) continue;
    ChanWaiter& w = waiters[i];
    w.fiber = self;
    w.elem = c.elem_;
    w.claim = &claim;
    (c.is_send_ ? c.core_->sendq : c.core_->recvq).Push(&w);
  }
  fiber_internal::Park(
      [&cores](Fiber*) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        // Copied first: once the first lock goes, a waker may resume this fiber, whose
        // frame holds `cores`.
        const CoreList held = cores;
        fiber_internal::UnlockAll(held);
        return true;
      },
      fiber_internal::WaitInfo{fiber_internal::WaitReason::kSelect});

  // One waiter was taken (and dequeued) by its waker; take the others off their queues.
  fiber_internal::LockAll(cores);
  int taken = -1;
  for (size_t i = 0; i < n; ++i) {
    if (cases[i].core_->nil) continue;
    ChanWaiter& w = waiters[i];
    if (w.taken) {
      taken = static_cast<int>(i);
      continue;
    }
    (cases[i].is_send_ ? cases[i].core_->sendq : cases[i].core_->recvq).Remove(&w);
  }
  fiber_internal::UnlockAll(cores);
  if (taken < 0) ABSL_RAW_LOG(FATAL, "runtime: select woken with no case taken");
  const SelectCase& c = cases[taken];
  if (c.is_send_ && c.sent_ != nullptr) *c.sent_ = waiters[taken].delivered;
  return taken;
}

}  // namespace gonet::fiber
