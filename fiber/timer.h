// timer.h: Go's time.Timer, time.Ticker and time.AfterFunc for fibers, with Go 1.19's
// (pre-1.23) semantics, on the runtime's timers (fiber/internal/timer_heap.h).
//
//   gonet::fiber::Timer t(absl::Milliseconds(50));
//   std::optional<absl::Time> fired_at = t.C().Recv();   // parks this fiber ~50 ms
//
// Timer fires once: it sends absl::Now() on C(), a Channel<absl::Time> of capacity 1,
// without blocking (Channel::TrySend; a value nobody received stays there).
//   Stop()   -> true if this call stopped the timer; false if it had already fired (or
//               was firing: the value is then in C() when Stop returns) or was stopped.
//               It does not drain C(), so Go's idiom works: `if (!t.Stop()) t.C().Recv();`
//   Reset(d) -> re-arms for d from now; true if the timer had been active (as Stop).
//               As in Go, stop and drain first when it may have fired, or a stale value
//               stays in C().
// Ticker sends absl::Now() every d on its own capacity-1 channel; a tick is dropped
// while the previous one has not been received, and the period catches up (no burst
// after a slow receiver), as Go. A non-positive d is a fatal error printing Go's panic
// ("panic: non-positive interval for NewTicker", "... for Ticker.Reset").
// Reset restarts a stopped Ticker. Stop does not close C() (Go neither).
// AfterFunc(d, f) runs f in a fiber of its own after d. Its Timer's C() is
// Channel::Nil() (Go: nil). Stop() before f started prevents it; destroying the Timer
// stops it too (Go has no destructor). Difference from Go: f is called at most once
// (it is an rvalue-callable AnyInvocable): a Reset once f has been started returns
// false and arms nothing, where Go would run f again.
//
// After Stop() (or Reset()) returns, no firing of an earlier arming is in progress or
// will ever send; the destructor stops the timer and waits for a firing in progress, so
// a Timer or Ticker may be destroyed at any time, also right after Stop.
//
// Runtime: these timers live in the active gonet::Run's timer heap. Constructing one
// while no Run is active, or calling Reset outside the Run that constructed it, is a
// fatal error ("... needs an active gonet::Run"): nothing would ever fire. Inside its
// Run a timer works from fibers and from plain threads. Stop() and the destructor work
// anywhere; once the Run has ended the timer is dead (Stop returns false).
//
// Thread safety: every member may be called from any fiber or thread of the Run,
// concurrently too; Stop and Reset are serialized per object and may briefly wait
// (spinning, a few instructions long) for a firing in progress to finish.
#ifndef GONET_FIBER_TIMER_H_
#define GONET_FIBER_TIMER_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <memory>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"
#include "fiber/channel.h"

namespace gonet::fiber_internal {
class TimerCore;  // timer.cc
}  // namespace gonet::fiber_internal

namespace gonet::fiber {

class Timer {
 public:
  explicit Timer(absl::Duration d);
  ~Timer();
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;

  Channel<absl::Time>& C();
  bool Stop();
  bool Reset(absl::Duration d);

 private:
  friend std::unique_ptr<Timer> AfterFunc(absl::Duration d, absl::AnyInvocable<void() &&> f);
  explicit Timer(std::unique_ptr<fiber_internal::TimerCore> core);
  std::unique_ptr<fiber_internal::TimerCore> core_;
};

class Ticker {
 public:
  explicit Ticker(absl::Duration d);
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

  Channel<absl::Time>& C();
  void Stop();
  void Reset(absl::Duration d);

 private:
  std::unique_ptr<fiber_internal::TimerCore> core_;
};

std::unique_ptr<Timer> AfterFunc(absl::Duration d, absl::AnyInvocable<void() &&> f);

}  // namespace gonet::fiber

#endif  // GONET_FIBER_TIMER_H_
