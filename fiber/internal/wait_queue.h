// wait_queue.h: the runtime's one way to park a fiber until another wakes it: Go's
// goparkunlock plus the sudog queues of its semaphores and channels (runtime/sema.go,
// chan.go), re-implemented for fibers. Differences: a queue belongs to its object and
// is guarded by the object's own lock (no global semaphore table), and a fiber carries
// its hand-off slot itself (Fiber::wait_data / wait_result) instead of a sudog.
//
// Every sync object of //fiber (Mutex, CondVar, WaitGroup, Channel) and of //netfd
// (FdMutex's semaphores, PollDesc) parks through this header, never through Park()
// directly, so that every park names its WaitReason and follows one protocol:
//
//   waiter (fiber)                          waker (any thread)
//   mu.Lock()                               mu.Lock()
//   state says "wait"                       change state
//   r = q.ParkUnlock(&mu, why, &slot)       f = q.WakeOne(result)  (fills f's slot)
//     enqueue self, switch away, and on     mu.Unlock()
//     the far side of the switch unlock mu  Ready(f)  (or ReadyListOf: see below)
//   use r (the waker's result) and slot
//
// The lock is released only once the fiber is off its stack, inside Park's commit, so
// a waker that finds the fiber on the queue can Ready() it at once. The lock may be
// any type with Unlock() (a SpinLock, a fiber::Mutex); it must not be one that parks
// while held. It is held while Park looks for the next fiber to run, which may run due
// timers and poll on this thread: a lock that a timer callback or the netpoll handler
// takes must use ParkThenQueue instead (it takes the lock inside the commit).
//
// Hand-off: ParkUnlock stores `data` in the fiber's wait_data and zeroes wait_result;
// the waker reads Data<T>(f) and writes its result under the lock, before Ready(f);
// the woken fiber reads ParkUnlock's return value (the result) after it resumes.
//
// Wakers that may run outside the waiter's Run (plain threads, foreign helper threads,
// a later Run) use ReadyListOf(list, generation) rather than Ready (see scheduler.h):
// a queue whose Run has ended names abandoned fibers that must not be touched.
//
// Lock-free slots (PollDesc's rg/wg, Go's netpollblock) park with ParkInSlot instead:
// the commit publishes the fiber in an atomic word by CAS, and fails (the fiber runs
// again at once) if a waker changed the word first.
//
// Thread safety: a WaitQueue is guarded by its owner's lock; declare it
// ABSL_GUARDED_BY(that lock). ParkUnlock is annotated as releasing the lock(s).
#ifndef GONET_FIBER_INTERNAL_WAIT_QUEUE_H_
#define GONET_FIBER_INTERNAL_WAIT_QUEUE_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <atomic>
#include <cstdint>

#include "absl/base/internal/raw_logging.h"
#include "absl/base/thread_annotations.h"
#include "fiber/internal/scheduler.h"

namespace gonet::fiber_internal {

// Parks the running fiber and releases *mu once it is off its stack (Go's
// goparkunlock). Whoever wakes it must find it through state guarded by mu. Fiber only.
template <class Lock>
void ParkUnlock(Lock* mu, WaitInfo why) ABSL_UNLOCK_FUNCTION(mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  Park(
      [mu](Fiber*) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        mu->Unlock();
        return true;
      },
      why);
}

// Parks the running fiber and, inside the commit, publishes it in *slot by CAS from
// `expected` to the Fiber* (Go's netpollblockcommit). If the CAS fails (a waker moved
// the slot first) the fiber is runnable again at once. Returns whether the fiber was
// published (and so was woken by whoever took it out of the slot). Fiber only.
inline bool ParkInSlot(std::atomic<uintptr_t>* slot, uintptr_t expected, WaitInfo why) {
  bool published = false;
  Park(
      [slot, expected, &published](Fiber* self) {
        uintptr_t e = expected;
        // published lives on the parked fiber's stack: write it before the CAS makes
        // self visible to a waker (after which the stack may be running again).
        published = true;
        if (slot->compare_exchange_strong(e, reinterpret_cast<uintptr_t>(self),
                                          std::memory_order_seq_cst)) {
          return true;
        }
        published = false;  // still parked-but-unpublished: the stack is ours
        return false;
      },
      why);
  return published;
}

// A FIFO of parked fibers (linked through Fiber::next), each with its hand-off slot.
// Not thread-safe by itself: guarded by the owner's lock (see the header comment).
class WaitQueue {
 public:
  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  enum class Order { kBack, kFront };

  // Queues the running fiber (at the back, or at the front for a waiter that already
  // waited: Go's semacquire lifo), stores `data` as its hand-off slot, parks, and
  // releases *mu on the far side of the switch. Returns the result the waker passed
  // (0 if it passed none). Fiber only; fatal outside a fiber.
  template <class Lock>
  uintptr_t ParkUnlock(Lock* mu, WaitInfo why, void* data = nullptr, Order order = Order::kBack)
      ABSL_UNLOCK_FUNCTION(mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Fiber* self = Enqueue(data, order);
    fiber_internal::ParkUnlock(mu, why);
    return self->wait_result;
  }
  // For a queue whose lock a timer callback takes (CondVar's timeout): parks first,
  // then on the far side of the switch locks *mu, queues the fiber, runs on_queued()
  // (still under mu: arm the timeout there), unlocks *mu and then *outer (the user's
  // lock, for a condition variable). Park looks for the next fiber before it switches
  // and may run due timers then, on this thread: ParkUnlock would hold mu across that
  // and deadlock with such a callback. Returns the waker's result. Fiber only.
  template <class Lock, class Outer, class OnQueued>
  uintptr_t ParkThenQueue(Lock* mu, Outer* outer, WaitInfo why, OnQueued on_queued)
      ABSL_UNLOCK_FUNCTION(outer) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Fiber* self = CurrentFiber();
    if (self == nullptr) ABSL_RAW_LOG(FATAL, "runtime: WaitQueue::ParkThenQueue outside a fiber");
    self->wait_data = nullptr;
    self->wait_result = 0;
    Park(
        [this, mu, outer, &on_queued](Fiber* f) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          // Copied off the closure: once mu is free, a waker may resume the fiber.
          Outer* const o = outer;
          mu->Lock();
          waiters_.Push(f);
          on_queued();
          mu->Unlock();
          o->Unlock();
          return true;
        },
        why);
    return self->wait_result;
  }

  bool empty() const { return waiters_.empty(); }

  // Takes the oldest waiter off the queue and records `result` for it; nullptr if
  // none. The caller fills its slot (Data<T>) if needed, releases the lock, then
  // readies it (Ready or ReadyListOf).
  Fiber* WakeOne(uintptr_t result = 0) {
    Fiber* f = waiters_.Pop();
    if (f != nullptr) f->wait_result = result;
    return f;
  }
  // Takes every waiter off the queue into *out (in queue order), recording `result`
  // for each. The caller releases the lock, then readies *out.
  void WakeAll(uintptr_t result, FiberList* out) {
    for (Fiber* f = waiters_.front(); f != nullptr; f = f->next) f->wait_result = result;
    out->Append(&waiters_);
  }
  // Takes f off the queue if it is still there (a timeout racing the wakers), recording
  // `result`; returns whether it was there. O(n).
  bool Remove(Fiber* f, uintptr_t result) {
    if (!waiters_.Remove(f)) return false;
    f->wait_result = result;
    return true;
  }
  // Forgets every waiter without waking one (they were abandoned with their Run).
  void Abandon() { waiters_ = FiberList(); }

  // The hand-off slot a waiter passed to ParkUnlock.
  template <class T>
  static T* Data(Fiber* f) {
    return static_cast<T*>(f->wait_data);
  }

 private:
  Fiber* Enqueue(void* data, Order order) {
    Fiber* self = CurrentFiber();
    if (self == nullptr) ABSL_RAW_LOG(FATAL, "runtime: WaitQueue::ParkUnlock outside a fiber");
    self->wait_data = data;
    self->wait_result = 0;
    if (order == Order::kFront) {
      FiberList rest;
      rest.Append(&waiters_);
      waiters_.Push(self);
      waiters_.Append(&rest);
    } else {
      waiters_.Push(self);
    }
    return self;
  }

  FiberList waiters_;
};

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_WAIT_QUEUE_H_
