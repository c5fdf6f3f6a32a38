// chan_waiter.h: how fibers wait on channels (Go's sudog and waitq, runtime/chan.go and
// select.go, re-implemented). A channel operation that must block puts a ChanWaiter on
// the channel's send or receive queue and parks. Unlike the runtime's WaitQueue (one
// queue per fiber, linked through Fiber::next), a fiber in a Select waits on several
// channels at once: it puts one ChanWaiter on each, all sharing one `claim` flag, and
// the first waker to win the claim takes the fiber; the others find it claimed, drop
// that waiter from their queue and look at the next one.
//
// Locking: a ChanWaiter's links and `queued` belong to the queue it is on and are
// guarded by that channel's lock. Its `elem`, `taken` and `delivered` are written by
// the one waker that dequeued it (under the channel's lock), before that waker readies
// the fiber; the fiber reads them after it resumes. A waiter lives on its fiber's
// stack: the fiber removes it from every queue (taking each lock) before returning.
#ifndef GONET_FIBER_INTERNAL_CHAN_WAITER_H_
#define GONET_FIBER_INTERNAL_CHAN_WAITER_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"

namespace gonet::fiber_internal {

struct ChanWaiter {
  Fiber* fiber = nullptr;
  // Send: the T to take (moved from by the receiver). Receive: the std::optional<T>
  // to fill (the value, or nullopt when the channel closes).
  void* elem = nullptr;
  // Non-null when this waiter is one of several ways to wake the fiber (a Select's
  // other cases, a receive's timeout): a waker must change it from false to true to
  // take the fiber, and leaves the waiter alone if it was already true.
  std::atomic<bool>* claim = nullptr;
  // Set by the waker that took the fiber through this waiter: taken = true, and
  // delivered = whether a value moved (false: the channel was closed).
  bool taken = false;
  bool delivered = false;
  // Queue links, guarded by the lock of the channel whose queue holds the waiter.
  ChanWaiter* next = nullptr;
  ChanWaiter* prev = nullptr;
  bool queued = false;
};

// A FIFO of ChanWaiters. Not thread-safe: guarded by its channel's lock.
class ChanWaitQueue {
 public:
  void Push(ChanWaiter* w) {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_ != nullptr) {
      tail_->next = w;
    } else {
      head_ = w;
    }
    tail_ = w;
    w->queued = true;
  }
  // Unlinks w if it is still queued (a waker may have dequeued it already).
  void Remove(ChanWaiter* w) {
    if (!w->queued) return;
    (w->prev != nullptr ? w->prev->next : head_) = w->next;
    (w->next != nullptr ? w->next->prev : tail_) = w->prev;
    w->next = w->prev = nullptr;
    w->queued = false;
  }
  // Takes the oldest waiter whose fiber can still be taken (Go's waitq.dequeue):
  // marks it taken and returns it; nullptr if none. Waiters whose claim another waker
  // (or a timeout) won are dropped on the way.
  ChanWaiter* Dequeue() {
    while (ChanWaiter* w = head_) {
      Remove(w);
      if (w->claim != nullptr && w->claim->exchange(true, std::memory_order_acq_rel)) continue;
      w->taken = true;
      return w;
    }
    return nullptr;
  }
  bool empty() const { return head_ == nullptr; }

 private:
  ChanWaiter* head_ = nullptr;
  ChanWaiter* tail_ = nullptr;
};

// A channel's buffer: a FIFO of at most `cap` values in one array, allocated by the
// first push (an unbuffered channel, or one never used, allocates nothing). Not
// thread-safe: guarded by its channel's lock.
template <class T>
class Ring {
 public:
  size_t size() const { return count_; }
  bool empty() const { return count_ == 0; }
  // Requires size() < cap (the same cap on every call).
  void push_back(T&& v, size_t cap) {
    if (slots_ == nullptr) slots_ = std::make_unique<std::optional<T>[]>(cap);
    slots_[(head_ + count_) % cap].emplace(std::move(v));
    ++count_;
    cap_ = cap;
  }
  T& front() { return *slots_[head_]; }
  void pop_front() {
    slots_[head_].reset();
    head_ = head_ + 1 == cap_ ? 0 : head_ + 1;
    --count_;
  }

 private:
  std::unique_ptr<std::optional<T>[]> slots_;
  size_t head_ = 0;
  size_t count_ = 0;
  size_t cap_ = 0;
};

// The type-independent half of a Channel<T>: its lock, state and queues, which Select
// needs without knowing T.
struct ChannelCore {
  enum class Op { kDone, kClosed, kWouldBlock };

  SpinLock mu;
  // Set once, by Close; a closed channel is always ready (receives drain the buffer
  // and then get nullopt; sends fail).
  bool closed ABSL_GUARDED_BY(mu) = false;
  // Go's nil channel: never ready, never queued on, never closed.
  const bool nil = false;
  ChanWaitQueue sendq ABSL_GUARDED_BY(mu);
  ChanWaitQueue recvq ABSL_GUARDED_BY(mu);

  explicit ChannelCore(bool is_nil) : nil(is_nil) {}
};

// A deadline as MonoNanos() time (saturating: InfiniteFuture is INT64_MAX).
int64_t MonoDeadline(absl::Time deadline);

// Called with core->mu held, which it releases: queues the running fiber as a receiver
// into *elem (a std::optional<T>) and parks until a sender or Close takes it (false)
// or MonoNanos() reaches `when` (true: timed out, *elem untouched). Fiber only.
bool WaitWithTimeout(ChannelCore* core, void* elem, int64_t when) ABSL_UNLOCK_FUNCTION(core->mu);

// (MonoDeadline, WaitWithTimeout and ParkForever are defined in fiber/channel.cc.)
// Parks the running fiber forever (an operation on a nil channel, an empty Select):
// nothing can wake it; it is abandoned when its Run ends.
[[noreturn]] void ParkForever(WaitReason why);

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_CHAN_WAITER_H_
