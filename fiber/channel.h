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
//   TrySend / TryRecv / RecvUntil: the same without blocking, or with a deadline.
//   Select / TrySelect (below): Go's select statement, over any mix of channels.
// Waiters are served FIFO. A receiver readied by a send runs next on the sender's
// worker (Go's run-next hand-off), which is what makes ping-pong cheap.
//
// Channel<T>::Nil() is Go's nil channel: never ready (operations on it block forever,
// Select never takes it). Context::Done() of Background() is one.
#ifndef GONET_FIBER_CHANNEL_H_
#define GONET_FIBER_CHANNEL_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <memory>
#include <initializer_list>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "absl/base/internal/raw_logging.h"
#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "fiber/internal/chan_waiter.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"
#include "fiber/internal/wait_queue.h"

namespace gonet::fiber {

class SelectCase;

template <class T>
class Channel {
  using Op = fiber_internal::ChannelCore::Op;
  using ChanWaiter = fiber_internal::ChanWaiter;
  using Fiber = fiber_internal::Fiber;

 public:
  explicit Channel(size_t capacity = 0) : core_(false), cap_(capacity) {}
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  bool Send(T v) {
    core_.mu.Lock();
    Fiber* wake = nullptr;
    const Op r = SendLocked(v, &wake);
    if (r != Op::kWouldBlock) {
      core_.mu.Unlock();
      if (wake != nullptr) fiber_internal::Ready(wake);
      return r == Op::kDone;
    }
    ChanWaiter me;
    BlockOn(&me, &v, &core_.sendq, fiber_internal::WaitReason::kChanSend,
            fiber_internal::WaitReason::kChanSendNil, "Send");
    return me.delivered;
  }

  std::optional<T> Recv() {
    std::optional<T> out;
    if (ReceivedOrLocked(&out)) return out;
    ChanWaiter me;
    BlockOn(&me, &out, &core_.recvq, fiber_internal::WaitReason::kChanReceive,
            fiber_internal::WaitReason::kChanReceiveNil, "Recv");
    return out;  // filled by the waker: a value, or nullopt once closed
  }

  // Sends without blocking: true = sent (v moved from); false = it would block, or the
  // channel is closed (v kept either way). Any thread.
  bool TrySend(T& v) {
    core_.mu.Lock();
    Fiber* wake = nullptr;
    const bool sent = !core_.closed && SendLocked(v, &wake) == Op::kDone;
    core_.mu.Unlock();
    if (wake != nullptr) fiber_internal::Ready(wake);
    return sent;
  }

  // Receives without blocking: the next value, or nullopt when none is ready; then
  // *closed (if given) says whether the channel is closed and drained. Any thread.
  std::optional<T> TryRecv(bool* closed = nullptr) {
    core_.mu.Lock();
    std::optional<T> out;
    Fiber* wake = nullptr;
    const Op r = RecvLocked(&out, &wake);
    core_.mu.Unlock();
    if (wake != nullptr) fiber_internal::Ready(wake);
    if (closed != nullptr) *closed = r == Op::kClosed;
    return out;
  }

  // Recv that gives up at `deadline`: nullopt when closed and drained, or when the
  // deadline passed first (then *timed_out, if given, is true). A deadline already
  // past makes it a TryRecv. Fiber only when it must wait.
  std::optional<T> RecvUntil(absl::Time deadline, bool* timed_out = nullptr) {
    if (timed_out != nullptr) *timed_out = false;
    std::optional<T> out;
    if (ReceivedOrLocked(&out)) return out;
    const int64_t when = fiber_internal::MonoDeadline(deadline);
    if (when <= fiber_internal::MonoNanos()) {
      core_.mu.Unlock();
      if (timed_out != nullptr) *timed_out = true;
      return out;
    }
    if (!fiber_internal::InFiber()) {
      core_.mu.Unlock();
      DieOutsideFiber("RecvUntil");
    }
    if (fiber_internal::WaitWithTimeout(&core_, &out, when)) {
      if (timed_out != nullptr) *timed_out = true;
    }
    return out;
  }

  void Close() {
    fiber_internal::FiberList wake;
    {
      fiber_internal::SpinLockHolder l(&core_.mu);
      if (core_.nil) ABSL_RAW_LOG(FATAL, "close of nil channel (gonet::fiber::Channel)");
      if (core_.closed) ABSL_RAW_LOG(FATAL, "close of closed channel (gonet::fiber::Channel)");
      core_.closed = true;
      while (ChanWaiter* w = core_.recvq.Dequeue()) {
        static_cast<std::optional<T>*>(w->elem)->reset();
        wake.Push(w->fiber);
      }
      while (ChanWaiter* w = core_.sendq.Dequeue()) wake.Push(w->fiber);
    }
    fiber_internal::ReadyList(&wake);
  }

  // Go's nil channel: never ready. Send and Recv on it block forever; Select never takes
  // it; Close is fatal. One per element type, never destroyed.
  static Channel& Nil() {
    static Channel* const nil = new Channel(NilTag{});
    return *nil;
  }

  // Snapshot helpers (racy by nature, like Go's len/cap on channels).
  size_t capacity() const { return cap_; }
  size_t size() {
    fiber_internal::SpinLockHolder l(&core_.mu);
    return buf_.size();
  }

 private:
  friend class SelectCase;
  struct NilTag {};
  explicit Channel(NilTag) : core_(true), cap_(0) {}

  // ABSL_RAW_LOG(FATAL) is not known to the analysis as the end of the path.
  [[noreturn]] static void DieOutsideFiber(const char* op) {
    ABSL_RAW_LOG(FATAL, "gonet::fiber::Channel::%s would block outside a fiber", op);
    std::abort();
  }

  // Under mu: sends v now if a receiver waits or the buffer has room (kDone; *wake is
  // the receiver to ready, if any); kClosed; else kWouldBlock. v is moved only on kDone.
  Op SendLocked(T& v, Fiber** wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_.mu) {
    if (core_.closed) return Op::kClosed;
    if (ChanWaiter* r = core_.recvq.Dequeue()) {
      // Hand the value straight to a parked receiver.
      static_cast<std::optional<T>*>(r->elem)->emplace(std::move(v));
      r->delivered = true;
      *wake = r->fiber;
      return Op::kDone;
    }
    if (buf_.size() < cap_) {
      buf_.push_back(std::move(v), cap_);
      return Op::kDone;
    }
    return Op::kWouldBlock;
  }

  // Under mu: receives into *out now if a value is buffered or a sender waits (kDone;
  // *wake is the sender to ready, if any); kClosed (closed and drained: *out stays
  // nullopt); else kWouldBlock.
  Op RecvLocked(std::optional<T>* out, Fiber** wake) ABSL_EXCLUSIVE_LOCKS_REQUIRED(core_.mu) {
    if (!buf_.empty()) {
      out->emplace(std::move(buf_.front()));
      buf_.pop_front();
      if (ChanWaiter* s = core_.sendq.Dequeue()) {
        // A slot opened: move the oldest blocked sender's value into the buffer.
        buf_.push_back(std::move(*static_cast<T*>(s->elem)), cap_);
        s->delivered = true;
        *wake = s->fiber;
      }
      return Op::kDone;
    }
    if (ChanWaiter* s = core_.sendq.Dequeue()) {
      out->emplace(std::move(*static_cast<T*>(s->elem)));
      s->delivered = true;
      *wake = s->fiber;
      return Op::kDone;
    }
    return core_.closed ? Op::kClosed : Op::kWouldBlock;
  }

  // Recv's first step: true when a value (or the closed state) was there, in *out, with
  // the lock released and the sender readied; false when it would block, with the lock
  // still held for the caller to park.
  bool ReceivedOrLocked(std::optional<T>* out) ABSL_EXCLUSIVE_TRYLOCK_FUNCTION(false, core_.mu) {
    core_.mu.Lock();
    Fiber* wake = nullptr;
    if (RecvLocked(out, &wake) == Op::kWouldBlock) return false;
    core_.mu.Unlock();
    if (wake != nullptr) fiber_internal::Ready(wake);
    return true;
  }

  // Under mu (released): queues `me` for `elem` on q and parks until a waker takes it.
  void BlockOn(ChanWaiter* me, void* elem, fiber_internal::ChanWaitQueue* q,
               fiber_internal::WaitReason why, fiber_internal::WaitReason why_nil,
               const char* op) ABSL_UNLOCK_FUNCTION(core_.mu) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Fiber* self = fiber_internal::CurrentFiber();
    if (self == nullptr) {
      core_.mu.Unlock();
      DieOutsideFiber(op);
    }
    if (core_.nil) {
      core_.mu.Unlock();
      fiber_internal::ParkForever(why_nil);
    }
    me->fiber = self;
    me->elem = elem;
    q->Push(me);
    fiber_internal::ParkUnlock(&core_.mu, fiber_internal::WaitInfo{why});
  }

  fiber_internal::ChannelCore core_;
  const size_t cap_;
  fiber_internal::Ring<T> buf_ ABSL_GUARDED_BY(core_.mu);
};

// (T is deduced from the channel alone: OnRecv(ch, nullptr) and OnSend(ch_of_int64, 1)
// work.)
template <class T>
SelectCase OnRecv(Channel<T>& ch, std::type_identity_t<std::optional<T>>* out);
template <class T>
SelectCase OnSend(Channel<T>& ch, std::type_identity_t<T> v, bool* sent = nullptr);

// One case of a Select: built only by OnRecv and OnSend, used once, in place (Select
// takes them as an initializer list).
class SelectCase {
  using Op = fiber_internal::ChannelCore::Op;

 public:
  SelectCase(const SelectCase&) = delete;
  SelectCase& operator=(const SelectCase&) = delete;
  ~SelectCase() {
    if (destroy_ != nullptr) destroy_(elem_);
  }

 private:
  template <class T>
  friend SelectCase OnRecv(Channel<T>& ch, std::type_identity_t<std::optional<T>>* out);
  template <class T>
  friend SelectCase OnSend(Channel<T>& ch, std::type_identity_t<T> v, bool* sent);
  friend int SelectImpl(const SelectCase* cases, size_t n, bool block);

  using TryFn = Op (*)(const SelectCase& c, fiber_internal::Fiber** wake);
  static constexpr size_t kInline = 48;

  // A receive case (see OnRecv).
  template <class T>
  SelectCase(Channel<T>& ch, std::optional<T>* out)
      : core_(&ch.core_), channel_(&ch), is_send_(false),
        // Called by Select with the channel's lock held (the analysis cannot see it).
        try_now_([](const SelectCase& c,
                    fiber_internal::Fiber** wake) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return static_cast<Channel<T>*>(c.channel_)
              ->RecvLocked(static_cast<std::optional<T>*>(c.elem_), wake);
        }) {
    if (out != nullptr) {
      out->reset();
      elem_ = out;
    } else {
      Emplace<std::optional<T>>();
    }
  }
  // A send case (see OnSend).
  struct SendTag {};
  template <class T>
  SelectCase(SendTag, Channel<T>& ch, T&& v, bool* sent)
      : core_(&ch.core_), channel_(&ch), is_send_(true),
        try_now_([](const SelectCase& c,
                    fiber_internal::Fiber** wake) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return static_cast<Channel<T>*>(c.channel_)->SendLocked(*static_cast<T*>(c.elem_), wake);
        }),
        sent_(sent) {
    Emplace<T>(std::move(v));
    if (sent != nullptr) *sent = false;
  }

  // Where a value of type V lives for this case: inline if it fits, else on the heap.
  template <class V, class... Args>
  void Emplace(Args&&... args) {
    if constexpr (sizeof(V) <= kInline && alignof(V) <= alignof(std::max_align_t)) {
      elem_ = new (storage_) V(std::forward<Args>(args)...);
      destroy_ = [](void* p) { static_cast<V*>(p)->~V(); };
    } else {
      elem_ = new V(std::forward<Args>(args)...);
      destroy_ = [](void* p) { delete static_cast<V*>(p); };
    }
  }

  fiber_internal::ChannelCore* core_;
  void* channel_;     // the Channel<T>
  bool is_send_;
  TryFn try_now_;     // under core_->mu: the operation now, if ready
  // Send: the T to send. Receive: the std::optional<T> to fill (the caller's, or one
  // of our own when the caller passed none).
  void* elem_ = nullptr;
  void (*destroy_)(void*) = nullptr;  // owns elem_ when set
  bool* sent_ = nullptr;
  alignas(std::max_align_t) unsigned char storage_[kInline];
};

// A case that receives from ch: taken when a value is ready (*out = it) or ch is closed
// and drained (*out = nullopt). out may be null (the value is dropped).
template <class T>
SelectCase OnRecv(Channel<T>& ch, std::type_identity_t<std::optional<T>>* out) {
  return SelectCase(ch, out);
}

// A case that sends v on ch: taken when a receiver or buffer slot is ready (*sent =
// true) or ch is closed (*sent = false: v dropped, as a failed Send). If another case
// is taken, v is dropped. sent may be null.
template <class T>
SelectCase OnSend(Channel<T>& ch, std::type_identity_t<T> v, bool* sent) {
  return SelectCase(SelectCase::SendTag{}, ch, std::move(v), sent);
}

int SelectImpl(const SelectCase* cases, size_t n, bool block);


// Go's select: waits until one of the cases can proceed, performs it and returns its
// index. When several are ready, picks one uniformly at random (as Go). A closed
// channel is always ready (a receive gets nullopt, a send fails). With no cases, or
// only nil channels, blocks forever. Fiber only, when it must wait.
inline int Select(std::initializer_list<SelectCase> cases) {
  return SelectImpl(cases.begin(), cases.size(), /*block=*/true);
}
// Select with a default case: performs a ready case (uniformly at random) and returns
// its index, or returns -1 at once when none is ready. Any thread.
inline int TrySelect(std::initializer_list<SelectCase> cases) {
  return SelectImpl(cases.begin(), cases.size(), /*block=*/false);
}

}  // namespace gonet::fiber

#endif  // GONET_FIBER_CHANNEL_H_
