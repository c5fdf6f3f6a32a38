// timer_heap.h: the runtime's timers (Go: runtime timers in per-P heaps; here one
// 4-ary min-heap per runtime under a spin lock). Add, reset and delete are O(log n).
// Timers drive Sleep, timed waits and netfd deadlines; the idle worker blocked in the
// poller sleeps until the earliest one (NextWhen()).
#ifndef GONET_FIBER_INTERNAL_TIMER_HEAP_H_
#define GONET_FIBER_INTERNAL_TIMER_HEAP_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <atomic>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "fiber/internal/spinlock.h"

namespace gonet::fiber_internal {

class FiberList;

// A timer lives in memory its owner keeps valid until the timer is idle (see states).
struct Timer {
  // Runs on a worker thread, outside any lock of the heap. Must be short and never
  // park; it appends the fibers it wants woken to `ready` (readied after it returns).
  using Fn = void (*)(Timer* t, FiberList* ready);
  Fn fn = nullptr;
  uintptr_t arg = 0;   // free for the owner (e.g. a sequence number)
  void* ctx = nullptr; // free for the owner (e.g. a PollDesc or a Fiber)
  // Set by owners whose fn takes a lock that a parking fiber may hold (a channel's: a
  // fiber::Timer sends on its channel, a context closes its Done channel). Park looks
  // for the next fiber, running due timers, while the parking fiber's lock is still
  // held (it is released after the switch); such a timer found due there is not run
  // but handed to RunDue's `deferred` list, and runs right after the switch, once the
  // lock is free (still kFiring meanwhile, so DeleteSync waits for it).
  bool after_switch = false;

  // Written under the heap lock only.
  int64_t when = 0;  // monotonic ns (MonoNanos())
  int32_t heap_index = -1;
  // kIdle: not in the heap. kPending: in the heap. kFiring: popped, fn running or about
  // to run; the runner CASes kFiring -> kIdle after fn returns, unless Reset() re-armed
  // it meanwhile (kFiring -> kPending under the lock), in which case it stays pending.
  enum State : int { kIdle = 0, kPending = 1, kFiring = 2 };
  std::atomic<int> state{kIdle};
  // Runs of fn begun (popped, under the heap lock) and not yet finished, deferred ones
  // included. Usually 0 or 1; 2 when fn re-armed t and another thread ran it again
  // before the first run returned (owners tolerate overlapping runs, or don't re-arm
  // from fn). DeleteSync waits for it to drop to 0.
  std::atomic<int> running{0};
};

// Monotonic clock in ns (CLOCK_MONOTONIC).
int64_t MonoNanos();

class TimerHeap {
 public:
  // Arms t at `when` (re-arms it if pending or firing). Returns true when t became the
  // earliest timer (the caller should wake a poller sleeping past it). Any thread.
  bool Reset(Timer* t, int64_t when) ABSL_LOCKS_EXCLUDED(mu_);
  // Disarms t. Returns true if it was pending (fn will not run for this arming).
  // If fn is running right now it keeps running: callers tolerate that (seq numbers).
  bool Delete(Timer* t) ABSL_LOCKS_EXCLUDED(mu_);
  // As Delete, then waits until no run of fn is in progress (also one whose timer was
  // re-armed while it ran), so t may be destroyed after. Never call it while holding a
  // lock that fn takes, nor from fn itself.
  bool DeleteSync(Timer* t) ABSL_LOCKS_EXCLUDED(mu_);

  // Pops every timer due at `now` and runs it, appending woken fibers to `ready`.
  // With `deferred`, after_switch timers are not run but appended to *deferred (a
  // timer re-armed and due again may be there twice: two runs); the caller runs them
  // later with RunDeferred. Returns the number of timers run or deferred.
  int RunDue(int64_t now, FiberList* ready, std::vector<Timer*>* deferred = nullptr)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Runs timers that RunDue deferred (in order), appending woken fibers; clears *list.
  static void RunDeferred(std::vector<Timer*>* list, FiberList* ready);

  // Earliest pending deadline, or INT64_MAX; read without the lock.
  int64_t NextWhen() const { return next_when_.load(std::memory_order_acquire); }
  size_t size() const { return count_.load(std::memory_order_relaxed); }

 private:
  void Push(Timer* t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveAt(int32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SiftUp(int32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SiftDown(int32_t i) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  SpinLock mu_;
  // INVARIANT: heap_[i]->heap_index == i and heap_[i]->state == kPending; heap_[0] is
  // the earliest; every parent's `when` <= its 4 children's.
  std::vector<Timer*> heap_ ABSL_GUARDED_BY(mu_);
  // Written under mu_, read without it by schedulers deciding whether to look.
  std::atomic<int64_t> next_when_{std::numeric_limits<int64_t>::max()};
  std::atomic<size_t> count_{0};
};

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_TIMER_HEAP_H_
