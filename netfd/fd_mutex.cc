// Go's internal/poll fdMutex, re-implemented for fibers (see fd_mutex.h).
#include "netfd/fd_mutex.h"

#include "absl/base/internal/raw_logging.h"

namespace gonet::netfd {

using fiber_internal::Fiber;
using fiber_internal::SpinLockHolder;
using fiber_internal::WaitInfo;
using fiber_internal::WaitReason;

namespace {
constexpr const char* kOverflow =
    "too many concurrent operations on a single file or socket (max 1048575)";
}

void FiberSema::Acquire() { (void)AcquireUnlessAbandoned(0); }

bool FiberSema::AcquireUnlessAbandoned(uint64_t holders_generation) {
  Fiber* self = fiber_internal::CurrentFiber();
  mu_.Lock();
  if (count_ > 0) {
    --count_;
    mu_.Unlock();
    return true;
  }
  // A fiber of another Run must not park here: the releasers belong to the Run of
  // holders_generation, and a wake-up from them would name a fiber of the wrong Run.
  if (self != nullptr && (holders_generation == 0 ||
                          holders_generation == fiber_internal::CurrentRuntimeGeneration())) {
    waiters_generation_ = fiber_internal::CurrentRuntimeGeneration();
    waiters_.ParkUnlock(&mu_, WaitInfo{WaitReason::kSemacquire});
    return true;
  }
  // A plain thread (e.g. Close() from outside Run): block until a Release hands us a
  // token, or until the holders' Run has ended (then nobody will ever release).
  thread_waiters_.fetch_add(1, std::memory_order_acq_rel);
  mu_.Unlock();
  bool abandoned = false;
  auto take_token = [this] {
    uint32_t t = thread_tokens_.load(std::memory_order_acquire);
    while (t > 0) {
      if (thread_tokens_.compare_exchange_weak(t, t - 1, std::memory_order_acq_rel)) return true;
    }
    return false;
  };
  fiber_internal::ThreadWaitUntil([&] {
    if (take_token()) return true;
    abandoned = holders_generation != 0 && !fiber_internal::RuntimeRunning(holders_generation);
    return abandoned;
  });
  if (!abandoned) return true;
  {
    SpinLockHolder l(&mu_);
    if (thread_waiters_.load(std::memory_order_relaxed) > 0) {
      // Still registered: no Release picked us, so none will; leave.
      thread_waiters_.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
  }
  // A Release already claimed us and is about to publish the token: take it.
  fiber_internal::ThreadWaitUntil(take_token);
  return true;
}

void FiberSema::Release() {
  Fiber* wake = nullptr;
  bool thread_token = false;
  uint64_t generation = 0;
  {
    SpinLockHolder l(&mu_);
    if (!waiters_.empty() && waiters_generation_ != fiber_internal::CurrentRuntimeGeneration()) {
      waiters_.Abandon();  // abandoned with their runtime
    }
    wake = waiters_.WakeOne();
    generation = waiters_generation_;
    if (wake == nullptr) {
      uint32_t tw = thread_waiters_.load(std::memory_order_acquire);
      if (tw > 0) {
        thread_waiters_.fetch_sub(1, std::memory_order_acq_rel);
        thread_token = true;
      } else {
        ++count_;
      }
    }
  }
  if (thread_token) {
    // The token is the very last access to *this: the thread it releases may destroy
    // the object (Close() then delete) at once. The notification touches only
    // process-wide state.
    thread_tokens_.fetch_add(1, std::memory_order_acq_rel);
    fiber_internal::NotifyThreadWaiters();
  }
  if (wake != nullptr) {
    fiber_internal::FiberList l;
    l.Push(wake);
    fiber_internal::ReadyListOf(&l, generation);
  }
}

bool FdMutex::IncRef() {
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    uint64_t n = old + kRef;
    if ((n & kRefMask) == 0) ABSL_RAW_LOG(FATAL, "%s", kOverflow);
    if (state_.compare_exchange_weak(old, n, std::memory_order_acq_rel)) return true;
  }
}

bool FdMutex::IncRefAndClose() {
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if (old & kClosed) return false;
    uint64_t n = (old | kClosed) + kRef;
    if ((n & kRefMask) == 0) ABSL_RAW_LOG(FATAL, "%s", kOverflow);
    n &= ~(kRMask | kWMask);  // the waiters are removed here and woken below
    if (state_.compare_exchange_weak(old, n, std::memory_order_acq_rel)) {
      for (uint64_t r = (old & kRMask) / kRWait; r > 0; --r) rsema_.Release();
      for (uint64_t w = (old & kWMask) / kWWait; w > 0; --w) wsema_.Release();
      return true;
    }
  }
}

bool FdMutex::DecRef() {
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((old & kRefMask) == 0) ABSL_RAW_LOG(FATAL, "inconsistent poll.fdMutex");
    uint64_t n = old - kRef;
    if (state_.compare_exchange_weak(old, n, std::memory_order_acq_rel)) {
      return (n & (kClosed | kRefMask)) == kClosed;
    }
  }
}

bool FdMutex::RWLock(bool read) {
  const uint64_t bit = read ? kRLock : kWLock;
  const uint64_t wait = read ? kRWait : kWWait;
  const uint64_t mask = read ? kRMask : kWMask;
  FiberSema& sema = read ? rsema_ : wsema_;
  for (;;) {
    uint64_t old = state_.load(std::memory_order_relaxed);
    if (old & kClosed) return false;
    uint64_t n;
    if ((old & bit) == 0) {
      n = (old | bit) + kRef;
      if ((n & kRefMask) == 0) ABSL_RAW_LOG(FATAL, "%s", kOverflow);
    } else {
      n = old + wait;
      if ((n & mask) == 0) ABSL_RAW_LOG(FATAL, "%s", kOverflow);
    }
    if (state_.compare_exchange_weak(old, n, std::memory_order_acq_rel)) {
      if ((old & bit) == 0) return true;
      sema.Acquire();  // the releaser already removed our wait unit; re-contend
    }
  }
}

bool FdMutex::RWUnlock(bool read) {
  const uint64_t bit = read ? kRLock : kWLock;
  const uint64_t wait = read ? kRWait : kWWait;
  const uint64_t mask = read ? kRMask : kWMask;
  FiberSema& sema = read ? rsema_ : wsema_;
  uint64_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    if ((old & bit) == 0 || (old & kRefMask) == 0) {
      ABSL_RAW_LOG(FATAL, "inconsistent poll.fdMutex");
    }
    uint64_t n = (old & ~bit) - kRef;
    if (old & mask) n -= wait;
    if (state_.compare_exchange_weak(old, n, std::memory_order_acq_rel)) {
      if (old & mask) sema.Release();
      return (n & (kClosed | kRefMask)) == kClosed;
    }
  }
}

}  // namespace gonet::netfd
