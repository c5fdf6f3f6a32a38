// sync.h: fiber synchronization: Mutex, CondVar, WaitGroup (Go's sync package).
// They park fibers, never threads: a fiber waiting here lets its worker run others.
// Each must be used from fibers of one running gonet::Run (Unlock, Signal/SignalAll,
// Add/Done also work from plain threads, since they never wait).
#ifndef GONET_FIBER_SYNC_H_
#define GONET_FIBER_SYNC_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"
#include "fiber/internal/wait_queue.h"

namespace gonet::fiber {

// A mutual exclusion lock (Go's sync.Mutex), checked by clang's -Wthread-safety.
// Normal mode: a woken waiter competes with newly arriving fibers (which usually win:
// they are already running), which maximizes throughput. Starvation bound (Go's
// starvation mode): a waiter that has waited over 1 ms switches the mutex to hand-off
// mode, where Unlock() passes ownership straight to the oldest waiter and newcomers
// queue behind; the mode ends when the queue drains. Not reentrant. Unlock of an
// unlocked Mutex is a fatal error.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true);
  void Unlock() ABSL_UNLOCK_FUNCTION();
  // For std::scoped_lock / std::unique_lock.
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { Lock(); }
  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return TryLock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { Unlock(); }

 private:
  void LockSlow();
  void UnlockSlow();
  static constexpr uint32_t kLocked = 1;
  static constexpr uint32_t kStarving = 2;    // hand-off mode
  static constexpr uint32_t kHasWaiters = 4;  // waiters_ is non-empty
  // state_: kLocked is set and cleared by CAS by the owner / acquirer; kStarving and
  // kHasWaiters change only under wait_mu_ (by CAS, since kLocked may change beside).
  // INVARIANT: kHasWaiters == !waiters_.empty() whenever wait_mu_ is free.
  // Waiters park with WaitReason::kMutex; Unlock's result is kHandedOff or 0.
  std::atomic<uint32_t> state_{0};
  fiber_internal::SpinLock wait_mu_;
  fiber_internal::WaitQueue waiters_ ABSL_GUARDED_BY(wait_mu_);
};

class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

// A condition variable (Go's sync.Cond / absl::CondVar). Wait atomically unlocks mu and
// parks; it relocks mu before returning. Spurious wake-ups are allowed by contract:
// always wait in a loop over the condition.
class CondVar {
 public:
  CondVar() = default;
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;

  void Wait(Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Returns true if it timed out (absl's meaning), false if signaled.
  bool WaitWithTimeout(Mutex* mu, absl::Duration d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Signal();
  void SignalAll();

 private:
  friend struct CondVarTimeout;
  // waiters_ for WaitQueue::ParkThenQueue, which touches it only under mu_, inside
  // Park's commit: beyond the analysis' reach.
  fiber_internal::WaitQueue* UnlockedQueue() ABSL_NO_THREAD_SAFETY_ANALYSIS { return &waiters_; }
  // Waiters park with WaitReason::kCondVar; their result is kSignaled or kTimedOut.
  fiber_internal::SpinLock mu_;
  fiber_internal::WaitQueue waiters_ ABSL_GUARDED_BY(mu_);
};

// Waits for a collection of fibers to finish (Go's sync.WaitGroup). Add with a
// negative result is a fatal error ("sync: negative WaitGroup counter").
class WaitGroup {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  void Add(int n);
  void Done() { Add(-1); }
  void Wait();

 private:
  // state_ (Go's WaitGroup state word): counter in the high 32 bits, the number of
  // fibers that announced a Wait in the low 32. Add() touches the WaitGroup after its
  // atomic update only when it brought the counter to zero with waiters announced;
  // it then, under mu_, resets state_ to 0 and wakes the queued waiters. An announced
  // waiter leaves without being woken only if it sees state_ == 0 under mu_, i.e.
  // after that Add's critical section: so no Add ever touches a WaitGroup whose Wait
  // has returned. Wait() without an announcement returns on a zero counter at once.
  // Waiters park with WaitReason::kWaitGroup.
  std::atomic<uint64_t> state_{0};
  fiber_internal::SpinLock mu_;
  fiber_internal::WaitQueue waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gonet::fiber

#endif  // GONET_FIBER_SYNC_H_
