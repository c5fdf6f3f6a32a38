// sync.h: fiber synchronization: Mutex, RWMutex, CondVar, WaitGroup, Once (Go's sync
// package). They park fibers, never threads: a fiber waiting here lets its worker run
// others. Each must be used from fibers of one running gonet::Run. From plain threads:
// Unlock, RUnlock, Signal/SignalAll, Add/Done and the Try* calls always work (they never
// wait); Lock, RLock and Once::Do work while they need not wait, and waiting outside a
// fiber is a fatal error ("... would block outside a fiber").
#ifndef GONET_FIBER_SYNC_H_
#define GONET_FIBER_SYNC_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <atomic>
#include <cstdint>
#include <list>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/context.h"
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

// A reader/writer mutual exclusion lock (Go's sync.RWMutex), checked by clang's
// -Wthread-safety (RLock is a shared acquire, Lock an exclusive one). Any number of
// readers or one writer. Writer preference, as Go: once a writer waits in Lock(), new
// RLock() calls block until that writer has had the lock and released it; readers that
// already hold it finish first. So a reader must not RLock recursively (a writer
// arriving between the two calls deadlocks them). Uncontended RLock/RUnlock are one
// atomic read-modify-write each. Any fiber may unlock, not only the locker (as Go).
// Misuse is fatal with Go's texts: "fatal error: sync: RUnlock of unlocked RWMutex",
// "fatal error: sync: Unlock of unlocked RWMutex".
class ABSL_LOCKABLE RWMutex {
 public:
  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION();
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true);
  void Unlock() ABSL_UNLOCK_FUNCTION();
  void RLock() ABSL_SHARED_LOCK_FUNCTION() {
    if (reader_count_.fetch_add(1, std::memory_order_acquire) < 0) RLockSlow();
  }
  bool TryRLock() ABSL_SHARED_TRYLOCK_FUNCTION(true);
  void RUnlock() ABSL_UNLOCK_FUNCTION() {
    const int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (r < 0) RUnlockSlow(r);
  }
  // For std::scoped_lock / std::unique_lock / std::shared_lock.
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { Lock(); }
  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return TryLock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { Unlock(); }
  void lock_shared() ABSL_SHARED_LOCK_FUNCTION() { RLock(); }
  bool try_lock_shared() ABSL_SHARED_TRYLOCK_FUNCTION(true) { return TryRLock(); }
  void unlock_shared() ABSL_UNLOCK_FUNCTION() { RUnlock(); }

 private:
  // A counting semaphore (Go's runtime semacquire/semrelease on one word): Release
  // hands its unit straight to the oldest waiter, else banks it in count. Waiters park
  // with WaitReason::kMutex. Acquire: fiber only when it must wait (fatal outside one,
  // naming `who`); Release: any thread.
  class Sema {
   public:
    void Acquire(const char* who);
    void Release();

   private:
    fiber_internal::SpinLock mu_;
    uint32_t count_ ABSL_GUARDED_BY(mu_) = 0;
    fiber_internal::WaitQueue waiters_ ABSL_GUARDED_BY(mu_);
  };

  void RLockSlow();
  void RUnlockSlow(int32_t r);

  static constexpr int32_t kMaxReaders = 1 << 30;  // Go's rwmutexMaxReaders
  // Go's RWMutex words, same protocol:
  // reader_count_: readers holding or waiting for the lock; a writer that owns or is
  //   acquiring it subtracts kMaxReaders (negative = a writer is pending or holds it:
  //   RLock then waits on reader_sem_). Unlock adds kMaxReaders back; the value it
  //   returns is the number of readers that queued meanwhile, and it releases
  //   reader_sem_ that many times.
  // reader_wait_: readers that held the lock when the pending writer arrived and have
  //   not left yet; the writer adds their number, each of them (RUnlock seeing a
  //   negative count) subtracts one, and whoever brings it to 0 while the writer waits
  //   (the last reader) releases writer_sem_.
  // w_: held by the writer from the start of Lock to the end of Unlock: writers queue
  //   on it, one at a time.
  // Ordering: RLock's acquire RMW pairs with Unlock's release RMW (or the reader_sem_
  //   hand-off, under its spin lock); RUnlock's release RMW pairs with Lock's acq_rel
  //   RMW on reader_count_, or via reader_wait_'s RMW chain / writer_sem_ for readers
  //   that leave after the writer arrived.
  std::atomic<int32_t> reader_count_{0};
  std::atomic<int32_t> reader_wait_{0};
  Mutex w_;
  Sema writer_sem_;
  Sema reader_sem_;
};

class ABSL_SCOPED_LOCKABLE ReaderMutexLock {
 public:
  explicit ReaderMutexLock(RWMutex* mu) ABSL_SHARED_LOCK_FUNCTION(mu) : mu_(mu) { mu_->RLock(); }
  ~ReaderMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->RUnlock(); }
  ReaderMutexLock(const ReaderMutexLock&) = delete;
  ReaderMutexLock& operator=(const ReaderMutexLock&) = delete;

 private:
  RWMutex* const mu_;
};

class ABSL_SCOPED_LOCKABLE WriterMutexLock {
 public:
  explicit WriterMutexLock(RWMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) { mu_->Lock(); }
  ~WriterMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  WriterMutexLock(const WriterMutexLock&) = delete;
  WriterMutexLock& operator=(const WriterMutexLock&) = delete;

 private:
  RWMutex* const mu_;
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

// Runs a function exactly once (Go's sync.Once). Do(f) calls f only if no Do call on
// this Once has called one before; concurrent callers wait (parking the fiber, with
// WaitReason::kMutex) until that first f has returned, so every Do returns after it.
// If f throws, the Once counts as done (as Go, where a panicking f has "returned") and
// the exception propagates to that caller only; later Do calls do nothing. f calling
// Do on the same Once deadlocks (as Go). After completion Do is one acquire load.
class Once {
 public:
  Once() = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  void Do(absl::FunctionRef<void()> f) {
    if (done_.load(std::memory_order_acquire) == 0) DoSlow(f);
  }

 private:
  void DoSlow(absl::FunctionRef<void()> f);
  // done_: 0 until the first f has returned or thrown, then 1 for good; stored with
  // release under m_ after f, loaded with acquire by the fast path (so f's effects are
  // visible to every Do that returns).
  std::atomic<uint32_t> done_{0};
  Mutex m_;
};

// Go's golang.org/x/sync/semaphore.Weighted: a counting semaphore of `n` units, whose
// acquirers wait FIFO (a large request at the front holds back smaller ones behind it,
// so it is never starved). Acquire parks the fiber (never the thread) until the units
// are free or ctx ends, whichever comes first; a ctx already done fails even when the
// units are free (as later x/sync; v0.1.0 took them). A waiter whose ctx ends just as
// its units are granted keeps them and returns OK (x/sync v0.1.0). A waiter that gives
// up at the front of the queue lets the ones behind it through. A request larger than
// the whole semaphore waits for ctx only, without queuing. TryAcquire never waits and
// fails while anyone queues. Release of more than is held is a fatal error (Go panics:
// "semaphore: released more than held"). TryAcquire and Release work on any thread
// (a plain thread's Release wakes fiber waiters); Acquire parks, so it is fiber only
// when it must wait.
class Semaphore {
 public:
  explicit Semaphore(int64_t n) : size_(n) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  absl::Status Acquire(const Context& ctx, int64_t n);  // ctx's Err() if it ends first
  bool TryAcquire(int64_t n);
  void Release(int64_t n);

 private:
  struct Waiter {
    int64_t n;
    Channel<std::monostate>* ready;  // closed (under mu_) once the units are granted
  };
  // Grants units to waiters from the front while they fit.
  void NotifyWaiters() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int64_t size_;
  fiber_internal::SpinLock mu_;
  // INVARIANT: 0 <= cur_ <= size_ (units held); a waiter is in waiters_ until it is
  // granted (removed and its `ready` closed, under mu_) or it gives up (removes itself
  // under mu_, after checking `ready` is still open).
  int64_t cur_ ABSL_GUARDED_BY(mu_) = 0;
  std::list<Waiter> waiters_ ABSL_GUARDED_BY(mu_);
};

// Go's golang.org/x/sync/errgroup.Group, made with WithContext: Go runs fn in a new
// fiber; the first fn to return a non-OK status cancels context() and is what Wait
// returns; Wait waits for every fn (and for the destruction of what it captured, which
// a garbage collector makes moot in Go), then cancels context() too (as Go). Canceling
// the parent cancels context(). Go and Wait are fiber only. Destroying a Group waits
// for its fibers first (they reference it), as Wait does; outside a fiber, with fibers
// still running, that is a fatal error.
class Group {
 public:
  explicit Group(const Context& parent = Background());
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;
  ~Group();

  const Context& context() const { return ctx_; }
  void Go(absl::AnyInvocable<absl::Status() &&> fn);
  absl::Status Wait();  // the first non-OK status, or OK

 private:
  Context ctx_;
  CancelFunc cancel_;
  WaitGroup wg_;
  fiber_internal::SpinLock mu_;
  absl::Status err_ ABSL_GUARDED_BY(mu_);  // the first error; set once
};

}  // namespace gonet::fiber

#endif  // GONET_FIBER_SYNC_H_
