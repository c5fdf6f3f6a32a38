// Go's time.Timer, time.Ticker and time.AfterFunc (time/sleep.go, time/tick.go and the
// runtime's timer code of Go 1.19), re-implemented on the runtime's timers.
// Differences: a Ticker re-arms from its callback onto a second runtime timer instead
// of a periodic runtime timer (see TimerCore); AfterFunc's f runs at most once.
#include "fiber/timer.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/inlined_vector.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"

namespace gonet::fiber_internal {
namespace {

// Saturating a + b for b >= 0 (a timer at INT64_MAX never fires).
int64_t AddSat(int64_t a, int64_t b) {
  return b > std::numeric_limits<int64_t>::max() - a ? std::numeric_limits<int64_t>::max()
                                                     : a + b;
}

// Monotonic ns of now + d (now for d <= 0, as Go's when()).
int64_t WhenFromNow(absl::Duration d) {
  const int64_t now = MonoNanos();
  if (d <= absl::ZeroDuration()) return now;
  return AddSat(now, absl::ToInt64Nanoseconds(d));  // saturates for huge d
}

// A generation's Run is the one whose timer heap holds our runtime timers.
uint64_t RunGenerationOrDie(const char* who) {
  const uint64_t gen = CurrentRuntimeGeneration();
  if (gen == 0) ABSL_RAW_LOG(FATAL, "%s needs an active gonet::Run (timers live in its heap)", who);
  return gen;
}

}  // namespace

// The state behind Timer, Ticker and AfterFunc's Timer.
//
// A plain Timer (one runtime timer whose Fire is a TrySend) takes no lock at all: see
// StopOneShot. For the others, the runtime timers (`pool_`) obey one rule: a runtime
// timer is armed (ResetTimer) only while it is idle, never while its callback runs. (The heap allows re-arming a firing timer, but then DeleteSync may return while
// that callback is still finishing, and a second pop may even run concurrently with it;
// nothing could then tell when the memory may be freed.) Hence:
//  - Reset first stops and waits (DeleteSync) for every runtime timer, then arms one;
//  - a Ticker's callback never re-arms its own runtime timer but an idle one of the
//    pool (a second one, rarely a third while the previous tick's callback finishes);
//  - Stop, Reset and the destructor are serialized by arm_mu_, which Fire never takes,
//    so that they may DeleteSync while holding it.
// Once DeleteSync has returned for every timer of the pool, no callback is running and
// none will run until the next arming: that is what makes Stop's "no stale firing ever
// sends after Stop/Reset returned" and the destructor's safety.
class TimerCore {
 public:
  enum class Kind { kTimer, kTicker, kFunc };

  TimerCore(Kind kind, const char* who, absl::AnyInvocable<void() &&> f = nullptr)
      : kind_(kind), generation_(RunGenerationOrDie(who)) {
    SpinLockHolder l(&mu_);
    f_ = std::move(f);
    primary_ = NewPoolTimer();
    if (kind_ == Kind::kTicker) NewPoolTimer();
  }

  ~TimerCore() {
    SpinLockHolder a(&arm_mu_);
    StopAll(/*suppress_in_flight=*/true);
  }

  fiber::Channel<absl::Time>& C() {
    return kind_ == Kind::kFunc ? fiber::Channel<absl::Time>::Nil() : c_;
  }

  // Returns whether an arming was pending (Go's Stop result; Ticker ignores it).
  bool Stop() {
    if (kind_ == Kind::kTimer) return StopOneShot();
    SpinLockHolder a(&arm_mu_);
    // A Timer's firing in progress completes its send (Go's `if !t.Stop() { <-t.C }`
    // relies on it); a Ticker's is cut short.
    return StopAll(/*suppress_in_flight=*/kind_ == Kind::kTicker);
  }

  // Stops, then arms for d from now (a Ticker: every `period_ns`, > 0). Returns what
  // Stop would have returned.
  bool Reset(absl::Duration d, int64_t period_ns, const char* who) {
    if (CurrentRuntimeGeneration() != generation_) {
      ABSL_RAW_LOG(FATAL, "%s needs an active gonet::Run (the one that created the timer)", who);
    }
    if (kind_ == Kind::kTimer) {
      const bool was_active = StopOneShot();
      ResetTimer(primary_, WhenFromNow(d));
      return was_active;
    }
    SpinLockHolder a(&arm_mu_);
    const bool was_active = StopAll(/*suppress_in_flight=*/kind_ == Kind::kTicker);
    Arm(WhenFromNow(d), period_ns);
    return was_active;
  }

  // The first arming, from the constructor of Timer/Ticker/AfterFunc.
  void Start(absl::Duration d, int64_t period_ns) {
    SpinLockHolder a(&arm_mu_);
    Arm(WhenFromNow(d), period_ns);
  }

 private:
  // Runs on a worker thread, after the switch (after_switch: c_.TrySend takes the
  // channel's lock, Spawn enters the scheduler). Never parks.
  static void Fire(Timer* t, FiberList* /*ready*/) {
    auto* self = static_cast<TimerCore*>(t->ctx);
    if (self->kind_ == Kind::kTimer) {
      // One runtime timer, armed only while idle after a DeleteSync: no firing of it
      // can be stale (seq_ is a Ticker's and AfterFunc's concern).
      absl::Time now = absl::Now();
      self->c_.TrySend(now);  // full: nobody drained the last value; dropped (Go)
      return;
    }
    absl::AnyInvocable<void() &&> f;
    {
      SpinLockHolder l(&self->mu_);
      if (t->arg != self->seq_) return;  // stale: a Ticker's Stop/Reset came first
      switch (self->kind_) {
        case Kind::kTimer: break;
        case Kind::kFunc: f = std::exchange(self->f_, nullptr); break;
        case Kind::kTicker: self->ArmNextTick(t); break;
      }
    }
    if (self->kind_ == Kind::kFunc) {
      if (f) TrySpawn(f, SpawnSite{__FILE__, "gonet::fiber::AfterFunc", __LINE__});
      return;
    }
    absl::Time now = absl::Now();
    self->c_.TrySend(now);  // full: the receiver is slow, the value is dropped (Go)
  }

  // A Ticker's next tick, on an idle runtime timer other than `firing` (see the class
  // comment). Go's catch-up: the next multiple of the period after now, so a tick
  // delayed past several periods yields one tick, not a burst.
  void ArmNextTick(Timer* firing) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    const int64_t late = std::max<int64_t>(0, MonoNanos() - next_when_);
    const __int128 n = static_cast<__int128>(next_when_) +
                       static_cast<__int128>(period_ns_) * (1 + late / period_ns_);  // > now
    const int64_t next = n > std::numeric_limits<int64_t>::max()
                             ? std::numeric_limits<int64_t>::max()
                             : static_cast<int64_t>(n);
    Timer* idle = nullptr;
    for (auto& u : pool_) {
      if (u.get() != firing && u->state.load(std::memory_order_acquire) == Timer::kIdle) {
        idle = u.get();
        break;
      }
    }
    if (idle == nullptr) idle = NewPoolTimer();
    next_when_ = next;
    idle->arg = seq_;
    ResetTimer(idle, next);
  }

  void Arm(int64_t when, int64_t period_ns) ABSL_EXCLUSIVE_LOCKS_REQUIRED(arm_mu_) {
    if (kind_ == Kind::kTimer) {
      ResetTimer(primary_, when);  // idle: StopAll ran, or it was never armed
      return;
    }
    SpinLockHolder l(&mu_);
    if (kind_ == Kind::kFunc && !f_) return;  // f already started: nothing left to run
    ++seq_;
    period_ns_ = period_ns;
    next_when_ = when;
    // Every pool timer is idle here (StopAll ran, or none was ever armed).
    Timer* t = pool_.front().get();
    t->arg = seq_;
    ResetTimer(t, when);
  }

  // A Timer's Stop, lock-free: its one runtime timer's Fire is only a TrySend, so
  // concurrent Stop/Reset calls may interleave freely (each heap operation is atomic,
  // and DeleteSync waits for every Fire in progress, also one of a timer that another
  // Reset re-armed meanwhile). A Fire in progress completes its send, as Go's does.
  bool StopOneShot() {
    if (!RuntimeRunning(generation_)) return false;  // its Run ended: nothing can fire
    return DeleteTimerSync(primary_);
  }

  // Disarms every runtime timer and waits for callbacks in progress. With
  // suppress_in_flight the arming is retired first (seq_), so a callback in progress
  // neither sends nor re-arms; without it (a Timer's Stop), it completes as Go's does.
  // A one-shot timer never re-arms itself, so its single runtime timer stays idle after
  // DeleteSync either way. Returns whether some timer was pending.
  bool StopAll(bool suppress_in_flight) ABSL_EXCLUSIVE_LOCKS_REQUIRED(arm_mu_) {
    if (kind_ == Kind::kFunc && !suppress_in_flight) {
      // One runtime timer that never re-arms itself.
      if (!RuntimeRunning(generation_)) return false;
      return DeleteTimerSync(primary_);
    }
    absl::InlinedVector<Timer*, 4> timers;
    {
      SpinLockHolder l(&mu_);
      if (suppress_in_flight) ++seq_;
      for (auto& u : pool_) timers.push_back(u.get());
    }
    // The Run that armed them has ended: its heap is gone, nothing can fire.
    // (From a plain thread, a Run ending and the next one starting between this check
    // and DeleteTimerSync would be missed; Timers are not carried across Runs.)
    if (!RuntimeRunning(generation_)) return false;
    bool was_pending = false;
    for (Timer* t : timers) was_pending |= DeleteTimerSync(t);
    return was_pending;
  }

  Timer* NewPoolTimer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto t = std::make_unique<Timer>();
    t->fn = &TimerCore::Fire;
    t->ctx = this;
    t->after_switch = true;  // Fire takes c_'s lock (TrySend) or spawns: timer_heap.h
    pool_.push_back(std::move(t));
    return pool_.back().get();
  }

  const Kind kind_;
  const uint64_t generation_;  // the Run whose timer heap pool_'s timers go into
  // pool_[0], set by the constructor and never changed: the only runtime timer of a
  // Timer or AfterFunc, read without mu_.
  Timer* primary_ = nullptr;
  fiber::Channel<absl::Time> c_{1};

  // Serializes Stop, Reset and the destructor (they DeleteSync under it). Never taken
  // by Fire. Lock order: arm_mu_, then mu_, then the heap's lock (inside ResetTimer).
  SpinLock arm_mu_;
  // Fire's lock. Taken under arm_mu_ by the owner's calls, alone by Fire.
  SpinLock mu_;
  // The current arming. Bumped by Arm and by StopAll(suppress_in_flight); copied into
  // the runtime timer's `arg` when armed. A Fire whose arg differs is stale and does
  // nothing. INVARIANT: only a timer whose arg == seq_ may be pending.
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  // A Ticker's period (> 0) and the due time of its pending tick; 0 for a Timer.
  int64_t period_ns_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_when_ ABSL_GUARDED_BY(mu_) = 0;
  // AfterFunc's function until its firing takes it (then empty for good).
  absl::AnyInvocable<void() &&> f_ ABSL_GUARDED_BY(mu_);
  // The runtime timers; pool_[0] is armed by Arm, others only by ArmNextTick. Grows
  // (under mu_) only while an arming is current; entries live as long as this object.
  // INVARIANT: a timer here is armed (ResetTimer) only when its state is kIdle.
  std::vector<std::unique_ptr<Timer>> pool_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gonet::fiber_internal

namespace gonet::fiber {

using fiber_internal::TimerCore;

Timer::Timer(absl::Duration d)
    : core_(std::make_unique<TimerCore>(TimerCore::Kind::kTimer, "gonet::fiber::Timer")) {
  core_->Start(d, 0);
}

Timer::Timer(std::unique_ptr<TimerCore> core) : core_(std::move(core)) {}

Timer::~Timer() = default;

Channel<absl::Time>& Timer::C() { return core_->C(); }

bool Timer::Stop() { return core_->Stop(); }

bool Timer::Reset(absl::Duration d) { return core_->Reset(d, 0, "gonet::fiber::Timer::Reset"); }

namespace {
int64_t TickerPeriodOrDie(absl::Duration d, const char* go_panic) {
  if (d <= absl::ZeroDuration()) ABSL_RAW_LOG(FATAL, "panic: %s", go_panic);  // Go panics
  return std::max<int64_t>(1, absl::ToInt64Nanoseconds(d));
}
}  // namespace

Ticker::Ticker(absl::Duration d) {
  const int64_t period = TickerPeriodOrDie(d, "non-positive interval for NewTicker");
  core_ = std::make_unique<TimerCore>(TimerCore::Kind::kTicker, "gonet::fiber::Ticker");
  core_->Start(d, period);
}

Ticker::~Ticker() = default;

Channel<absl::Time>& Ticker::C() { return core_->C(); }

void Ticker::Stop() { core_->Stop(); }

void Ticker::Reset(absl::Duration d) {
  const int64_t period = TickerPeriodOrDie(d, "non-positive interval for Ticker.Reset");
  core_->Reset(d, period, "gonet::fiber::Ticker::Reset");
}

std::unique_ptr<Timer> AfterFunc(absl::Duration d, absl::AnyInvocable<void() &&> f) {
  auto core = std::make_unique<TimerCore>(TimerCore::Kind::kFunc, "gonet::fiber::AfterFunc",
                                          std::move(f));
  core->Start(d, 0);
  return std::unique_ptr<Timer>(new Timer(std::move(core)));
}

}  // namespace gonet::fiber
