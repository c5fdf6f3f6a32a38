// channel.h: Go channels for fibers. Channel<T>(0) is unbuffered (a send waits for a
// receiver and hands the value over directly); Channel<T>(n) buffers n values.
// T may be move-only. Blocking parks the fiber, never the thread; a Send or Recv that
// would block outside a fiber is a fatal error.
//   Send(v)  -> false if the channel is closed (also when closed while blocked); v is
//               then destroyed, never delivered.
//   Recv()   -> the next value; nullopt once closed and drained (buffered values are
//               still delivered after Close, as in Go).
//   Close()  -> wakes every blocked sender (false) and receiver (nullopt). Closing twice
//               is a fatal error ("close of closed channel", as Go panics).
// Waiters are served FIFO. A receiver readied by a send runs next on the sender's
// worker (Go's run-next hand-off), which is what makes ping-pong cheap.
#ifndef GONET_FIBER_CHANNEL_H_
#define GONET_FIBER_CHANNEL_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <cstddef>
#include <cstdlib>
#include <deque>
#include <optional>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/base/thread_annotations.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"
#include "fiber/internal/wait_queue.h"

namespace gonet::fiber {

template <class T>
class Channel {
 public:
  explicit Channel(size_t capacity = 0) : cap_(capacity) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  bool Send(T v) {
    using fiber_internal::Fiber;
    mu_.Lock();
    if (closed_) {
      mu_.Unlock();
      return false;
    }
    if (Fiber* r = recvq_.WakeOne(kDelivered)) {
      // Hand the value straight to a parked receiver.
      *fiber_internal::WaitQueue::Data<std::optional<T>>(r) = std::move(v);
      mu_.Unlock();
      fiber_internal::Ready(r);
      return true;
    }
    if (buf_.size() < cap_) {
      buf_.push_back(std::move(v));
      mu_.Unlock();
      return true;
    }
    if (!fiber_internal::InFiber()) {
      mu_.Unlock();
      DieOutsideFiber("Send");
    }
    return sendq_.ParkUnlock(&mu_, fiber_internal::WaitInfo{fiber_internal::WaitReason::kChanSend},
                             &v) == kDelivered;
  }

  std::optional<T> Recv() {
    using fiber_internal::Fiber;
    mu_.Lock();
    if (!buf_.empty()) {
      std::optional<T> v(std::move(buf_.front()));
      buf_.pop_front();
      Fiber* s = sendq_.WakeOne(kDelivered);
      if (s != nullptr) {
        // A slot opened: move the oldest blocked sender's value into the buffer.
        buf_.push_back(std::move(*fiber_internal::WaitQueue::Data<T>(s)));
      }
      mu_.Unlock();
      if (s != nullptr) fiber_internal::Ready(s);
      return v;
    }
    if (Fiber* s = sendq_.WakeOne(kDelivered)) {
      std::optional<T> v(std::move(*fiber_internal::WaitQueue::Data<T>(s)));
      mu_.Unlock();
      fiber_internal::Ready(s);
      return v;
    }
    if (closed_) {
      mu_.Unlock();
      return std::nullopt;
    }
    if (!fiber_internal::InFiber()) {
      mu_.Unlock();
      DieOutsideFiber("Recv");
    }
    std::optional<T> slot;
    recvq_.ParkUnlock(&mu_, fiber_internal::WaitInfo{fiber_internal::WaitReason::kChanReceive},
                      &slot);
    return slot;
  }

  // Sends without blocking: true = sent (v moved from); false = it would block, or the
  // channel is closed (v kept either way). Any thread.
  bool TrySend(T& v) {
    using fiber_internal::Fiber;
    mu_.Lock();
    if (closed_ || nil_) {
      mu_.Unlock();
      return false;
    }
    if (Fiber* r = recvq_.WakeOne(kDelivered)) {
      *fiber_internal::WaitQueue::Data<std::optional<T>>(r) = std::move(v);
      mu_.Unlock();
      fiber_internal::Ready(r);
      return true;
    }
    if (buf_.size() < cap_) {
      buf_.push_back(std::move(v));
      mu_.Unlock();
      return true;
    }
    mu_.Unlock();
    return false;
  }

  // Receives without blocking: the next value, or nullopt when none is ready (then
  // *closed, if given, says whether that is because the channel is closed and drained).
  std::optional<T> TryRecv(bool* closed = nullptr) {
    if (closed != nullptr) *closed = false;
    mu_.Lock();
    if (nil_) {
      mu_.Unlock();
      return std::nullopt;
    }
    if (!buf_.empty() || !sendq_.empty()) {
      mu_.Unlock();
      return Recv();  // ready: Recv takes it without parking (one receiver may race us)
    }
    if (closed_ && closed != nullptr) *closed = true;
    mu_.Unlock();
    return std::nullopt;
  }

  // Go's nil channel: never ready. Send and Recv on it block forever; Select never takes
  // it; Close is fatal. One per element type, never destroyed.
  static Channel& Nil() {
    static Channel* const nil = new Channel(NilTag{});
    return *nil;
  }

  void Close() {
    fiber_internal::FiberList wake;
    {
      fiber_internal::SpinLockHolder l(&mu_);
      if (closed_) ABSL_RAW_LOG(FATAL, "close of closed channel (gonet::fiber::Channel)");
      closed_ = true;
      recvq_.WakeAll(kClosed, &wake);
      sendq_.WakeAll(kClosed, &wake);
    }
    fiber_internal::ReadyList(&wake);
  }

  // Snapshot helpers (racy by nature, like Go's len/cap on channels).
  size_t capacity() const { return cap_; }
  size_t size() {
    fiber_internal::SpinLockHolder l(&mu_);
    return buf_.size();
  }

 private:
  // ABSL_RAW_LOG(FATAL) is not known to the analysis as the end of the path.
  [[noreturn]] static void DieOutsideFiber(const char* op) {
    ABSL_RAW_LOG(FATAL, "gonet::fiber::Channel::%s would block outside a fiber", op);
    std::abort();
  }
  struct NilTag {};
  explicit Channel(NilTag) : cap_(0), nil_(true) {}
  static constexpr uintptr_t kClosed = 0;
  static constexpr uintptr_t kDelivered = 1;
  const size_t cap_;
  const bool nil_ = false;
  fiber_internal::SpinLock mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<T> buf_ ABSL_GUARDED_BY(mu_);
  // Parked senders (WaitReason::kChanSend; slot -> their T) and receivers
  // (kChanReceive; slot -> an optional<T>), each woken with kDelivered or kClosed.
  fiber_internal::WaitQueue sendq_ ABSL_GUARDED_BY(mu_);
  fiber_internal::WaitQueue recvq_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gonet::fiber

#endif  // GONET_FIBER_CHANNEL_H_
