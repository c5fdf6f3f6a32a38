// annotated_mutex.h: std::mutex and std::condition_variable with clang's
// thread-safety annotations, for the few places where the runtime blocks a *thread*
// (not a fiber) on a lock.
//
// Why not absl::Mutex: Debian's Abseil is not built with TSan, so its synchronization
// is invisible to --config=tsan and every structure it guards would be reported as a
// race. Why not a bare std::mutex: libstdc++ carries no capability annotations, so
// -Wthread-safety cannot check ABSL_GUARDED_BY against it (the attribute is rejected
// and nothing is checked). These wrappers are std::mutex underneath (TSan intercepts
// pthread_mutex_* and pthread_cond_*) and annotated on top.
//
//   ThreadMutex      Lock/Unlock/TryLock, AssertHeld; also lock()/unlock() so the
//                    std:: lock helpers work, though ThreadMutexLock is the one the
//                    analysis understands.
//   ThreadMutexLock  scoped lock (ABSL_SCOPED_LOCKABLE).
//   ThreadCondVar    Wait/WaitUntil on a held ThreadMutex; Signal/SignalAll.
//
// Writing predicates: the analysis checks a lambda as a function of its own that holds
// no lock, so a predicate reading ABSL_GUARDED_BY state fails to compile. Loop instead:
//   ThreadMutexLock l(&mu_);
//   while (!done_) cv_.Wait(&mu_);
//
// They block the calling thread: never use them where a fiber could park holding them,
// or on a path a fiber takes while other fibers of its worker must keep running (use
// fiber::Mutex / SpinLock there).
#ifndef GONET_FIBER_INTERNAL_ANNOTATED_MUTEX_H_
#define GONET_FIBER_INTERNAL_ANNOTATED_MUTEX_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"

namespace gonet::fiber_internal {

class ABSL_LOCKABLE ThreadMutex {
 public:
  constexpr ThreadMutex() = default;
  ThreadMutex(const ThreadMutex&) = delete;
  ThreadMutex& operator=(const ThreadMutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { m_.lock(); }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return m_.try_lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { m_.unlock(); }
  // Tells the analysis the caller holds it (checks nothing at run time).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

  // BasicLockable / Lockable, for std::scoped_lock and friends.
  void lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { m_.lock(); }
  bool try_lock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) { return m_.try_lock(); }
  void unlock() ABSL_UNLOCK_FUNCTION() { m_.unlock(); }

 private:
  friend class ThreadCondVar;
  std::mutex m_;
};

class ABSL_SCOPED_LOCKABLE ThreadMutexLock {
 public:
  explicit ThreadMutexLock(ThreadMutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~ThreadMutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  ThreadMutexLock(const ThreadMutexLock&) = delete;
  ThreadMutexLock& operator=(const ThreadMutexLock&) = delete;

 private:
  ThreadMutex* const mu_;
};

// std::condition_variable over a ThreadMutex's std::mutex (no condition_variable_any
// overhead). Spurious wake-ups happen: always wait in a loop over the condition.
class ThreadCondVar {
 public:
  ThreadCondVar() = default;
  ThreadCondVar(const ThreadCondVar&) = delete;
  ThreadCondVar& operator=(const ThreadCondVar&) = delete;

  // Atomically releases *mu and blocks; holds *mu again when it returns.
  void Wait(ThreadMutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> l(mu->m_, std::adopt_lock);
    cv_.wait(l);
    l.release();  // still locked: the caller's hold continues
  }
  // As Wait, giving up at `deadline`. Returns false if it timed out (the condition
  // may still have become true meanwhile: re-check it), true if woken.
  template <class Clock, class Duration>
  bool WaitUntil(ThreadMutex* mu, const std::chrono::time_point<Clock, Duration>& deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::unique_lock<std::mutex> l(mu->m_, std::adopt_lock);
    const bool woken = cv_.wait_until(l, deadline) == std::cv_status::no_timeout;
    l.release();
    return woken;
  }
  void Signal() { cv_.notify_one(); }
  void SignalAll() { cv_.notify_all(); }

 private:
  std::condition_variable cv_;
};

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_ANNOTATED_MUTEX_H_
