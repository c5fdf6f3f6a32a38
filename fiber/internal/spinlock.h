// spinlock.h: a tiny test-and-test-and-set lock for very short critical sections in
// the runtime (wait queues of fiber sync objects, channels, poll descriptors). It never
// parks a fiber; after a few hundred spins it yields the thread. Never park holding it.
#ifndef GONET_FIBER_INTERNAL_SPINLOCK_H_
#define GONET_FIBER_INTERNAL_SPINLOCK_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <sched.h>

#include <atomic>

#include "absl/base/thread_annotations.h"

namespace gonet::fiber_internal {

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

class ABSL_LOCKABLE SpinLock {
 public:
  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    LockSlow();
  }
  bool TryLock() ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(true) {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void Unlock() ABSL_UNLOCK_FUNCTION() { locked_.store(false, std::memory_order_release); }
  // Tells the thread-safety analysis that the caller holds it, for when it cannot see
  // that two lock expressions name the same lock (checks nothing at run time).
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {}

 private:
  void LockSlow() {
    for (int spins = 0;; ++spins) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins > 200) {
          sched_yield();
          spins = 0;
        } else {
          CpuRelax();
        }
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }
  std::atomic<bool> locked_{false};
};

class ABSL_SCOPED_LOCKABLE SpinLockHolder {
 public:
  explicit SpinLockHolder(SpinLock* l) ABSL_EXCLUSIVE_LOCK_FUNCTION(l) : l_(l) { l_->Lock(); }
  ~SpinLockHolder() ABSL_UNLOCK_FUNCTION() { l_->Unlock(); }
  SpinLockHolder(const SpinLockHolder&) = delete;
  SpinLockHolder& operator=(const SpinLockHolder&) = delete;

 private:
  SpinLock* l_;
};

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_SPINLOCK_H_
