// Go's sync.Mutex (normal + starvation modes), sync.RWMutex, sync.Cond,
// sync.WaitGroup and sync.Once, and golang.org/x/sync's semaphore.Weighted and
// errgroup.Group, re-implemented on fiber parking. Differences: waiters
// queue on a WaitQueue (fiber/internal/wait_queue.h) under a spin lock per object
// instead of Go's semaphore table; RWMutex's two semaphores are such queues with a
// count (RWMutex::Sema).
#include "fiber/sync.h"

#include "absl/base/internal/raw_logging.h"
#include "fiber/fiber.h"

namespace gonet::fiber {

using fiber_internal::Fiber;
using fiber_internal::FiberList;
using fiber_internal::SpinLockHolder;
using fiber_internal::WaitInfo;
using fiber_internal::WaitQueue;
using fiber_internal::WaitReason;

namespace {
constexpr uintptr_t kHandedOff = 1;   // Mutex: ownership passed by Unlock
constexpr uintptr_t kSignaled = 1;    // CondVar
constexpr uintptr_t kTimedOut = 2;
constexpr int64_t kStarvationNs = 1'000'000;
}  // namespace

void Mutex::Lock() {
  uint32_t expected = 0;
  if (state_.compare_exchange_strong(expected, kLocked, std::memory_order_acquire)) return;
  LockSlow();
}

bool Mutex::TryLock() {
  uint32_t s = state_.load(std::memory_order_relaxed);
  while ((s & (kLocked | kStarving)) == 0) {
    if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire)) return true;
  }
  return false;
}

void Mutex::LockSlow() {
  if (!fiber_internal::InFiber()) {
    ABSL_RAW_LOG(FATAL, "gonet::fiber::Mutex::Lock would block outside a fiber");
  }
  int64_t wait_start = 0;
  bool waited = false;
  for (int iter = 0;; ++iter) {
    uint32_t s = state_.load(std::memory_order_relaxed);
    if ((s & (kLocked | kStarving)) == 0) {
      if (state_.compare_exchange_weak(s, s | kLocked, std::memory_order_acquire)) return;
      continue;
    }
    // Brief active spin while the holder runs on another worker (Go: sync_runtime_canSpin).
    if (iter < 4 && (s & kStarving) == 0 && fiber_internal::Procs() > 1) {
      for (int i = 0; i < 30; ++i) fiber_internal::CpuRelax();
      continue;
    }
    wait_mu_.Lock();
    s = state_.load(std::memory_order_relaxed);
    if ((s & (kLocked | kStarving)) == 0) {
      wait_mu_.Unlock();
      continue;
    }
    if (wait_start == 0) wait_start = fiber_internal::MonoNanos();
    bool starve = waited && fiber_internal::MonoNanos() - wait_start > kStarvationNs;
    uint32_t want = s | kHasWaiters | (starve ? kStarving : 0);
    if (!state_.compare_exchange_strong(s, want, std::memory_order_relaxed)) {
      wait_mu_.Unlock();
      continue;
    }
    // A fiber that already waited goes back to the front (Go: LIFO for re-waiters).
    const uintptr_t r =
        waiters_.ParkUnlock(&wait_mu_, WaitInfo{WaitReason::kMutex}, nullptr,
                            waited ? WaitQueue::Order::kFront : WaitQueue::Order::kBack);
    if (r == kHandedOff) return;  // Unlock passed ownership to us
    waited = true;
    iter = 0;
  }
}

void Mutex::Unlock() {
  uint32_t expected = kLocked;
  if (state_.compare_exchange_strong(expected, 0, std::memory_order_release)) return;
  UnlockSlow();
}

void Mutex::UnlockSlow() {
  Fiber* wake = nullptr;
  {
    SpinLockHolder l(&wait_mu_);
    uint32_t s = state_.load(std::memory_order_relaxed);
    if ((s & kLocked) == 0) ABSL_RAW_LOG(FATAL, "sync: unlock of unlocked gonet::fiber::Mutex");
    // Starving: ownership passes to the woken fiber; else it re-contends.
    wake = waiters_.WakeOne((s & kStarving) ? kHandedOff : 0);
    // Only the owner changes kLocked now, and the other bits change under wait_mu_,
    // which we hold: the state is stable, a plain store is exact.
    if (wake == nullptr) {
      state_.store(0, std::memory_order_release);
    } else if (s & kStarving) {
      state_.store(waiters_.empty() ? kLocked : (kLocked | kStarving | kHasWaiters),
                   std::memory_order_release);
    } else {
      state_.store(waiters_.empty() ? 0 : kHasWaiters, std::memory_order_release);
    }
  }
  if (wake != nullptr) fiber_internal::Ready(wake);
}

// ---------------------------------------------------------------- RWMutex

void RWMutex::Sema::Acquire(const char* who) {
  mu_.Lock();
  if (count_ > 0) {
    --count_;
    mu_.Unlock();
    return;
  }
  if (!fiber_internal::InFiber()) {
    mu_.Unlock();
    ABSL_RAW_LOG(FATAL, "gonet::fiber::RWMutex::%s would block outside a fiber", who);
    return;  // not reached
  }
  // Release hands its unit to us directly (it does not bank it in count_).
  waiters_.ParkUnlock(&mu_, WaitInfo{WaitReason::kMutex});
}

void RWMutex::Sema::Release() {
  Fiber* wake;
  {
    SpinLockHolder l(&mu_);
    wake = waiters_.WakeOne();
    if (wake == nullptr) ++count_;
  }
  if (wake != nullptr) fiber_internal::Ready(wake);
}

void RWMutex::RLockSlow() {
  // A writer is pending or holds the lock; we are counted in reader_count_, so its
  // Unlock releases reader_sem_ once for us.
  reader_sem_.Acquire("RLock");
}

bool RWMutex::TryRLock() {
  int32_t c = reader_count_.load(std::memory_order_relaxed);
  while (c >= 0) {
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire,
                                            std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

void RWMutex::RUnlockSlow(int32_t r) {
  // r + 1 == 0: no reader held it; r + 1 == -kMaxReaders: only a writer holds it.
  if (r + 1 == 0 || r + 1 == -kMaxReaders) {
    ABSL_RAW_LOG(FATAL, "fatal error: sync: RUnlock of unlocked RWMutex");
  }
  // A writer is pending: the last of the readers it waits for wakes it.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) writer_sem_.Release();
}

// w_ is held from Lock to Unlock: writers queue on it one at a time.
void RWMutex::Lock() {
  if (!w_.TryLock()) {
    if (!fiber_internal::InFiber()) {
      ABSL_RAW_LOG(FATAL, "gonet::fiber::RWMutex::Lock would block outside a fiber");
    }
    w_.Lock();  // behind other writers
  }
  // Announce the writer (new readers now wait), then wait for the active ones to leave.
  const int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0) {
    writer_sem_.Acquire("Lock");
  }
}

bool RWMutex::TryLock() {
  if (!w_.TryLock()) return false;
  int32_t zero = 0;
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    w_.Unlock();
    return false;
  }
  return true;
}

void RWMutex::Unlock() {
  // Announce to readers there is no active writer; r readers queued meanwhile.
  const int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) ABSL_RAW_LOG(FATAL, "fatal error: sync: Unlock of unlocked RWMutex");
  for (int32_t i = 0; i < r; ++i) reader_sem_.Release();
  w_.Unlock();  // let the next writer in
}

// ---------------------------------------------------------------- CondVar

void CondVar::Wait(Mutex* mu) {
  if (!fiber_internal::InFiber()) ABSL_RAW_LOG(FATAL, "gonet::fiber::CondVar::Wait outside a fiber");
  // Queued under mu_ (which Signal needs to find us) once this fiber is off its stack;
  // then the user's mu is released.
  UnlockedQueue()->ParkThenQueue(&mu_, mu, WaitInfo{WaitReason::kCondVar}, [] {});
  mu->Lock();
}

struct CondVarTimeout {
  CondVar* cv;
  Fiber* fiber;
  static void Fire(fiber_internal::Timer* t, FiberList* ready) {
    auto* self = static_cast<CondVarTimeout*>(t->ctx);
    SpinLockHolder l(&self->cv->mu_);
    if (self->cv->waiters_.Remove(self->fiber, kTimedOut)) ready->Push(self->fiber);
  }
};

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration d) {
  Fiber* self = fiber_internal::CurrentFiber();
  if (self == nullptr) ABSL_RAW_LOG(FATAL, "gonet::fiber::CondVar::WaitWithTimeout outside a fiber");
  if (d <= absl::ZeroDuration()) return true;
  int64_t ns = d >= absl::Hours(24 * 365 * 100) ? int64_t{1} << 62 : absl::ToInt64Nanoseconds(d);
  int64_t when = fiber_internal::MonoNanos() + ns;
  CondVarTimeout to{this, self};
  fiber_internal::Timer timer;
  timer.fn = &CondVarTimeout::Fire;
  timer.ctx = &to;
  // Queued and armed under mu_ on the far side of the switch (Fire takes mu_ and may
  // run on this thread while Park looks for the next fiber); the closure and the timer
  // live on this stack, which a Signal may resume once mu_ is released.
  const uintptr_t r =
      UnlockedQueue()->ParkThenQueue(&mu_, mu, WaitInfo{WaitReason::kCondVar},
                             [&timer, when] { fiber_internal::ResetTimer(&timer, when); });
  // The timer lives on this stack: make sure its callback is not running before return.
  fiber_internal::DeleteTimerSync(&timer);
  mu->Lock();
  return r == kTimedOut;
}

void CondVar::Signal() {
  Fiber* f;
  {
    SpinLockHolder l(&mu_);
    f = waiters_.WakeOne(kSignaled);
  }
  if (f) fiber_internal::Ready(f);
}

void CondVar::SignalAll() {
  FiberList all;
  {
    SpinLockHolder l(&mu_);
    waiters_.WakeAll(kSignaled, &all);
  }
  fiber_internal::ReadyList(&all);
}

// ---------------------------------------------------------------- WaitGroup

void WaitGroup::Add(int n) {
  const uint64_t delta = static_cast<uint64_t>(static_cast<int64_t>(n)) << 32;
  const uint64_t s = state_.fetch_add(delta, std::memory_order_acq_rel) + delta;
  const int32_t counter = static_cast<int32_t>(s >> 32);
  const uint32_t waiters = static_cast<uint32_t>(s);
  if (counter < 0) ABSL_RAW_LOG(FATAL, "sync: negative WaitGroup counter");
  if (counter > 0 || waiters == 0) return;
  // Counter reached zero with waiters announced: reset and wake them all.
  FiberList all;
  {
    SpinLockHolder l(&mu_);
    state_.store(0, std::memory_order_release);
    waiters_.WakeAll(0, &all);
  }
  fiber_internal::ReadyList(&all);
}

void WaitGroup::Wait() {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if ((s >> 32) == 0) return;
    if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) break;
  }
  if (!fiber_internal::InFiber()) ABSL_RAW_LOG(FATAL, "gonet::fiber::WaitGroup::Wait outside a fiber");
  mu_.Lock();
  // state_ == 0 (no counter, no waiters) means the zeroing Add already finished its
  // critical section, which it runs under mu_: nothing will touch *this for us any
  // more, so return. A zero counter with waiters still counted means that Add has
  // not reached mu_ yet: queue up and let it wake us, or it would touch a
  // WaitGroup we may already have destroyed.
  if (state_.load(std::memory_order_acquire) == 0) {
    mu_.Unlock();
    return;
  }
  waiters_.ParkUnlock(&mu_, WaitInfo{WaitReason::kWaitGroup});
}

// ---------------------------------------------------------------- Once

// m_ is released by Finish's destructor (also when f throws), which the analysis
// cannot follow.
void Once::DoSlow(absl::FunctionRef<void()> f) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (!m_.TryLock()) {
    if (!fiber_internal::InFiber()) {
      ABSL_RAW_LOG(FATAL, "gonet::fiber::Once::Do would block outside a fiber");
    }
    m_.Lock();  // the first caller's f is running
  }
  // Marks done before releasing m_, so a waiter that gets m_ next never runs f again;
  // on the normal path and while an exception from f unwinds alike (Go: defer
  // o.done.Store(1) inside doSlow's deferred Unlock).
  struct Finish {
    Once* once;
    bool ran = false;
    ~Finish() {
      if (ran) once->done_.store(1, std::memory_order_release);
      once->m_.Unlock();
    }
  } finish{this};
  if (done_.load(std::memory_order_relaxed) == 0) {
    finish.ran = true;
    f();
  }
}

}  // namespace gonet::fiber

namespace gonet::fiber {

// ---------------------------------------------------------------- Semaphore

absl::Status Semaphore::Acquire(const Context& ctx, int64_t n) {
  Channel<std::monostate>& done = ctx.Done();
  mu_.Lock();
  // ctx ending "happened before" the acquire, even if the units are free now (x/sync
  // after v0.1.0, which took them).
  bool closed = false;
  if (!done.TryRecv(&closed).has_value() && closed) {
    mu_.Unlock();
    return ctx.Err();
  }
  if (size_ - cur_ >= n && waiters_.empty()) {
    cur_ += n;
    mu_.Unlock();
    return absl::OkStatus();
  }
  if (n > size_) {
    // Doomed: don't make other acquirers queue behind it.
    mu_.Unlock();
    done.Recv();
    return ctx.Err();
  }
  Channel<std::monostate> ready;
  auto it = waiters_.insert(waiters_.end(), Waiter{n, &ready});
  mu_.Unlock();
  if (Select({OnRecv<std::monostate>(done, nullptr), OnRecv<std::monostate>(ready, nullptr)}) == 1) {
    return absl::OkStatus();
  }
  absl::Status err = ctx.Err();
  fiber_internal::SpinLockHolder l(&mu_);
  bool granted = false;
  ready.TryRecv(&granted);
  if (granted) {
    // Granted while ctx ended: keep the units rather than repair the queue (x/sync
    // v0.1.0; later versions give them back and fail).
    return absl::OkStatus();
  }
  const bool front = it == waiters_.begin();
  waiters_.erase(it);
  // Leaving the front may let the ones behind through.
  if (front && size_ > cur_) NotifyWaiters();
  return err;
}

bool Semaphore::TryAcquire(int64_t n) {
  fiber_internal::SpinLockHolder l(&mu_);
  if (size_ - cur_ >= n && waiters_.empty()) {
    cur_ += n;
    return true;
  }
  return false;
}

void Semaphore::Release(int64_t n) {
  fiber_internal::SpinLockHolder l(&mu_);
  cur_ -= n;
  if (cur_ < 0) ABSL_RAW_LOG(FATAL, "semaphore: released more than held");
  NotifyWaiters();
}

void Semaphore::NotifyWaiters() {
  while (!waiters_.empty()) {
    Waiter& w = waiters_.front();
    // Not enough for the front one: keep the rest waiting too (FIFO, no starvation of
    // large requests).
    if (size_ - cur_ < w.n) break;
    cur_ += w.n;
    Channel<std::monostate>* ready = w.ready;
    waiters_.pop_front();
    ready->Close();
  }
}

// ---------------------------------------------------------------- Group

Group::Group(const Context& parent) {
  auto [ctx, cancel] = WithCancel(parent);
  ctx_ = std::move(ctx);
  cancel_ = std::move(cancel);
}

Group::~Group() {
  // The fibers reference *this until their wg_.Done(). Outside a fiber, Wait is fatal
  // if it would have to park (fibers still running).
  wg_.Wait();
  cancel_();
}

void Group::Go(absl::AnyInvocable<absl::Status() &&> fn) {
  wg_.Add(1);
  ::gonet::Go([this, fn = std::move(fn)]() mutable {
    {
      // fn's captures are destroyed here, before Done: once Wait returns, every fn has
      // run and is gone (Go's garbage collector makes the difference invisible there).
      absl::Status s = absl::AnyInvocable<absl::Status() &&>(std::move(fn))();
      if (!s.ok()) {
        bool first = false;
        {
          fiber_internal::SpinLockHolder l(&mu_);
          if (err_.ok()) {
            err_ = std::move(s);
            first = true;
          }
        }
        if (first) cancel_();
      }
    }
    wg_.Done();  // last: *this may be gone after it
  });
}

absl::Status Group::Wait() {
  wg_.Wait();
  cancel_();
  fiber_internal::SpinLockHolder l(&mu_);
  return err_;
}

}  // namespace gonet::fiber
