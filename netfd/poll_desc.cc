// Go's runtime pollDesc (netpoll.go), re-implemented for fibers (see poll_desc.h).
#include "netfd/poll_desc.h"

#include <limits>
#include <memory>
#include <vector>

#include <mutex>
#include "absl/base/internal/raw_logging.h"
#include "poller/poller.h"

namespace gonet::netfd {

using fiber_internal::Fiber;
using fiber_internal::FiberList;
using fiber_internal::SpinLockHolder;
using fiber_internal::Timer;

// Type-stable cache of descriptors (Go: pollcache). Never returns memory.
class PollDescCache {
 public:
  static PollDescCache& Get() {
    static PollDescCache* c = new PollDescCache;
    return *c;
  }
  PollDesc* Alloc() {
    SpinLockHolder l(&mu_);
    if (free_ == nullptr) {
      constexpr int kBlock = 64;
      auto* block = new PollDesc[kBlock];  // never freed: tokens hold raw pointers
      for (int i = 0; i < kBlock; ++i) {
        block[i].link_ = free_;
        free_ = &block[i];
        // The deadline timers' callback and context never change (the memory is
        // type-stable): written once here, so that ArmLocked does not write them while
        // a firing of the descriptor's previous incarnation is still reading them
        // (TimerHeap's RunFiring reads t->fn, DeadlineFired t->ctx, before any lock).
        for (Timer* t : {&block[i].rt_, &block[i].wt_}) {
          t->fn = &PollDesc::DeadlineFired;
          t->ctx = &block[i];
        }
      }
    }
    PollDesc* pd = free_;
    free_ = pd->link_;
    return pd;
  }
  void Free(PollDesc* pd) {
    SpinLockHolder l(&mu_);
    pd->link_ = free_;
    free_ = pd;
  }

 private:
  fiber_internal::SpinLock mu_;
  PollDesc* free_ ABSL_GUARDED_BY(mu_) = nullptr;
};

namespace {
constexpr int kTagShift = 48;
constexpr uintptr_t kPtrMask = (uintptr_t{1} << kTagShift) - 1;
}  // namespace

uintptr_t PollDesc::Token() const {
  return reinterpret_cast<uintptr_t>(this) |
         (static_cast<uintptr_t>(fdseq_.load(std::memory_order_relaxed) & 0xffff) << kTagShift);
}

absl::Status PollDesc::Open(int fd, PollDesc** out) {
  static std::once_flag once;
  std::call_once(once, [] { fiber_internal::SetNetpollHandler(&PollDesc::OnReady); });
  PollDesc* pd = PollDescCache::Get().Alloc();
  {
    SpinLockHolder l(&pd->mu_);
    uintptr_t r = pd->rg_.load(), w = pd->wg_.load();
    if (r > kWait || w > kWait) ABSL_RAW_LOG(FATAL, "runtime: blocked read on free polldesc");
    pd->fd_ = fd;
    pd->closing_ = false;
    pd->rseq_++;
    pd->wseq_++;
    pd->rg_.store(kIdle);
    pd->wg_.store(kIdle);
    pd->rd_ = 0;
    pd->wd_ = 0;
    // Timers of a descriptor closed after its runtime ended may still read "pending"
    // in a heap that no longer exists: start clean.
    for (Timer* t : {&pd->rt_, &pd->wt_}) {
      t->state.store(Timer::kIdle, std::memory_order_relaxed);
      t->heap_index = -1;
    }
    pd->rt_armed_ = pd->wt_armed_ = false;
    pd->read_drained_ = false;
    pd->hangup_.store(false, std::memory_order_relaxed);
    pd->fdseq_.fetch_add(1, std::memory_order_relaxed);
    pd->atomic_info_.store(0, std::memory_order_seq_cst);
    pd->runtime_generation_ = fiber_internal::CurrentRuntimeGeneration();
  }
  absl::Status s = fiber_internal::NetpollAdd(fd, pd->Token());
  if (!s.ok()) {
    PollDescCache::Get().Free(pd);
    return s;
  }
  *out = pd;
  return absl::OkStatus();
}

void PollDesc::Close() {
  {
    SpinLockHolder l(&mu_);
    if (!closing_) ABSL_RAW_LOG(FATAL, "runtime: close polldesc w/o unblock");
  }
  if (rg_.load() > kWait || wg_.load() > kWait) {
    ABSL_RAW_LOG(FATAL, "runtime: blocked read on closing polldesc");
  }
  // Only the runtime that registered the fd can (and needs to) unregister it; after
  // that Run returned its epoll instance is gone with all its registrations.
  (void)fiber_internal::NetpollRemove(fd_, runtime_generation_);
  fd_ = -1;
  PollDescCache::Get().Free(this);
}

void PollDesc::PublishInfo() {
  uint32_t info = atomic_info_.load(std::memory_order_relaxed) & kInfoEventErr;
  if (closing_) info |= kInfoClosing;
  if (rd_ < 0) info |= kInfoExpiredRead;
  if (wd_ < 0) info |= kInfoExpiredWrite;
  atomic_info_.store(info, std::memory_order_seq_cst);
}

PollError PollDesc::CheckErr(int mode) const {
  uint32_t info = atomic_info_.load(std::memory_order_seq_cst);
  if (info & kInfoClosing) return PollError::kClosing;
  if ((mode == 'r' && (info & kInfoExpiredRead)) || (mode == 'w' && (info & kInfoExpiredWrite))) {
    return PollError::kTimeout;
  }
  if (mode == 'r' && (info & kInfoEventErr)) return PollError::kNotPollable;
  return PollError::kOk;
}

PollError PollDesc::Prepare(int mode) {
  PollError e = CheckErr(mode);
  if (e != PollError::kOk) return e;
  (mode == 'r' ? rg_ : wg_).store(kIdle, std::memory_order_relaxed);
  return PollError::kOk;
}

PollError PollDesc::PrepareRead(bool* skip_syscall) {
  PollError e = CheckErr('r');
  if (e != PollError::kOk) return e;
  if (read_drained_ && !hangup_.load(std::memory_order_seq_cst) &&
      rg_.load(std::memory_order_seq_cst) == kIdle) {
    *skip_syscall = true;
    return PollError::kOk;
  }
  *skip_syscall = false;
  rg_.store(kIdle, std::memory_order_relaxed);
  return PollError::kOk;
}

PollError PollDesc::Wait(int mode) {
  PollError e = CheckErr(mode);
  if (e != PollError::kOk) return e;
  while (!Block(mode)) {
    e = CheckErr(mode);
    if (e != PollError::kOk) return e;
    // Woken with no error and no readiness: wait again (spurious).
  }
  return PollError::kOk;
}

bool PollDesc::Block(int mode) {
  std::atomic<uintptr_t>& g = mode == 'r' ? rg_ : wg_;
  for (;;) {
    uintptr_t old = g.load(std::memory_order_seq_cst);
    if (old == kReady) {
      if (g.compare_exchange_strong(old, kIdle, std::memory_order_seq_cst)) return true;
      continue;
    }
    if (old == kIdle) {
      if (g.compare_exchange_strong(old, kWait, std::memory_order_seq_cst)) break;
      continue;
    }
    ABSL_RAW_LOG(FATAL, "runtime: double wait");
  }
  // Re-check after publishing kWait (pairs with the unblocker's publish-then-unblock).
  if (CheckErr(mode) == PollError::kOk) {
    // Commit: CAS kWait -> this fiber; a waker that got there first fails it.
    fiber_internal::ParkInSlot(
        &g, kWait,
        fiber_internal::WaitInfo{fiber_internal::WaitReason::kIOWait, static_cast<char>(mode), fd_});
  }
  uintptr_t old = g.exchange(kIdle, std::memory_order_seq_cst);
  if (old > kWait) ABSL_RAW_LOG(FATAL, "runtime: corrupted polldesc");
  return old == kReady;
}

Fiber* PollDesc::Unblock(int mode, bool ioready) {
  std::atomic<uintptr_t>& g = mode == 'r' ? rg_ : wg_;
  for (;;) {
    uintptr_t old = g.load(std::memory_order_seq_cst);
    if (old == kReady) return nullptr;
    if (old == kIdle && !ioready) return nullptr;
    uintptr_t n = ioready ? kReady : kIdle;
    if (g.compare_exchange_strong(old, n, std::memory_order_seq_cst)) {
      if (old == kWait) return nullptr;  // not parked yet: its commit CAS will fail
      return old > kWait ? reinterpret_cast<Fiber*>(old) : nullptr;
    }
  }
}

void PollDesc::OnReady(uintptr_t token, uint32_t ready, FiberList* to_wake) {
  auto* pd = reinterpret_cast<PollDesc*>(token & kPtrMask);
  uint32_t tag = static_cast<uint32_t>(token >> kTagShift);
  if ((pd->fdseq_.load(std::memory_order_relaxed) & 0xffff) != tag) return;  // stale
  // eventErr reflects only the latest event (Go: set iff exactly EPOLLERR).
  uint32_t info = pd->atomic_info_.load(std::memory_order_relaxed);
  bool err = (ready & poller::kError) != 0;
  if (err != ((info & kInfoEventErr) != 0)) {
    SpinLockHolder l(&pd->mu_);
    uint32_t cur = pd->atomic_info_.load(std::memory_order_relaxed);
    pd->atomic_info_.store(err ? (cur | kInfoEventErr) : (cur & ~kInfoEventErr),
                           std::memory_order_seq_cst);
  }
  if (ready & poller::kHangup) pd->hangup_.store(true, std::memory_order_seq_cst);
  if (ready & poller::kRead) {
    if (Fiber* f = pd->Unblock('r', true)) to_wake->Push(f);
  }
  if (ready & poller::kWrite) {
    if (Fiber* f = pd->Unblock('w', true)) to_wake->Push(f);
  }
}

// Timer callback: t->ctx = the PollDesc, t->arg = the sequence it was armed with.
// Deadlines are extended lazily: moving a deadline later leaves the timer where it
// was, and when it fires early it re-arms itself at the current deadline instead of
// expiring (servers push the deadline forward on every request; this keeps that off
// the timer heap).
void PollDesc::DeadlineFired(Timer* t, FiberList* ready) {
  auto* pd = static_cast<PollDesc*>(t->ctx);
  const bool read = t == &pd->rt_;
  SpinLockHolder l(&pd->mu_);
  if (pd->closing_) return;
  if (t->arg != (read ? pd->rseq_ : pd->wseq_)) return;  // stale arming
  int64_t& d = read ? pd->rd_ : pd->wd_;
  bool& armed = read ? pd->rt_armed_ : pd->wt_armed_;
  int64_t& armed_at = read ? pd->rt_when_ : pd->wt_when_;
  if (d <= 0) {  // cleared (0) or already expired (< 0) since arming
    armed = false;
    return;
  }
  if (d > fiber_internal::MonoNanos()) {  // moved later since arming: follow it
    armed_at = d;
    fiber_internal::ResetTimer(t, d);
    return;
  }
  d = -1;
  armed = false;
  pd->PublishInfo();  // before unblocking (see header)
  if (Fiber* f = pd->Unblock(read ? 'r' : 'w', false)) ready->Push(f);
}

void PollDesc::ArmLocked(int mode) {
  const bool read = mode == 'r';
  Timer& t = read ? rt_ : wt_;
  const int64_t d = read ? rd_ : wd_;
  bool& armed = read ? rt_armed_ : wt_armed_;
  int64_t& armed_at = read ? rt_when_ : wt_when_;
  uintptr_t& seq = read ? rseq_ : wseq_;
  if (d <= 0) return;  // none: an armed timer disarms itself lazily when it fires
  if (armed && armed_at <= d) return;  // fires first and then follows d (lazy)
  if (armed) seq++;  // invalidate a callback already running for the old arming
  t.arg = seq;  // t.fn and t.ctx were set once, by PollDescCache::Alloc
  armed = true;
  armed_at = d;
  fiber_internal::ResetTimer(&t, d);
}

void PollDesc::SetDeadline(int64_t d, int mode) {
  FiberList wake;
  {
    SpinLockHolder l(&mu_);
    if (closing_) return;
    if (runtime_generation_ != fiber_internal::CurrentRuntimeGeneration()) {
      // The runtime that registered this fd is gone: record, arm nothing.
      if (mode == 'r' || mode == 'r' + 'w') rd_ = d;
      if (mode == 'w' || mode == 'r' + 'w') wd_ = d;
      PublishInfo();
      return;
    }
    if (mode == 'r' || mode == 'r' + 'w') rd_ = d;
    if (mode == 'w' || mode == 'r' + 'w') wd_ = d;
    PublishInfo();
    ArmLocked('r');
    ArmLocked('w');
    if (rd_ < 0) {
      if (Fiber* f = Unblock('r', false)) wake.Push(f);
    }
    if (wd_ < 0) {
      if (Fiber* f = Unblock('w', false)) wake.Push(f);
    }
  }
  fiber_internal::ReadyListOf(&wake, runtime_generation_);
}

void PollDesc::Evict() {
  FiberList wake;
  {
    SpinLockHolder l(&mu_);
    if (closing_) ABSL_RAW_LOG(FATAL, "runtime: unblock on closing polldesc");
    closing_ = true;
    rseq_++;
    wseq_++;
    PublishInfo();
    if (runtime_generation_ != fiber_internal::CurrentRuntimeGeneration()) {
      // Closed after its Run returned: any fiber recorded here was abandoned with that
      // runtime and no longer exists. Forget it; wake nobody.
      rg_.store(kIdle);
      wg_.store(kIdle);
      rt_armed_ = wt_armed_ = false;
      return;
    }
    if (Fiber* f = Unblock('r', false)) wake.Push(f);
    if (Fiber* f = Unblock('w', false)) wake.Push(f);
    if (rt_armed_) {
      fiber_internal::DeleteTimer(&rt_);
      rt_armed_ = false;
    }
    if (wt_armed_) {
      fiber_internal::DeleteTimer(&wt_);
      wt_armed_ = false;
    }
  }
  fiber_internal::ReadyListOf(&wake, runtime_generation_);
}

}  // namespace gonet::netfd
