// context.h: Go's context package (Go 1.19) for fibers: cancellation, deadlines and
// request-scoped values carried down a call tree.
//
//   auto [ctx, cancel] = gonet::WithTimeout(gonet::Background(), absl::Seconds(1));
//   gonet::Go([ctx = ctx] { ctx.Done().Recv(); /* canceled or timed out */ });
//   ...
//   cancel();   // always call it (or let it be destroyed): frees the registration
//
// Context is a cheap copyable handle (one shared_ptr) to an immutable chain of nodes;
// a default-constructed Context is Background().
//   Done()     -> a Channel<std::monostate> that is closed when the context is canceled
//                 or its deadline passes; receive on it (Recv() returns nullopt) or
//                 TryRecv(&closed). Background's is Channel::Nil() (Go's nil channel:
//                 never ready).
//   Err()      -> OK until Done() is closed, then absl::CancelledError("context canceled")
//                 or absl::DeadlineExceededError("context deadline exceeded") (Go's
//                 context.Canceled and context.DeadlineExceeded texts), never changing.
//   Deadline() -> the earliest deadline of the chain, or nullopt.
//   Value(k)   -> the value of the nearest WithValue with key k up the chain, or nullptr.
//                 (Go keys are any comparable value; here they are strings.)
// WithCancel, WithDeadline and WithTimeout derive a child: canceling a parent cancels
// every child at once (with the parent's error); canceling a child leaves its parent
// alone and removes the child's registration from the parent (Go's removeChild), so a
// long-lived parent does not accumulate dead children. A child of an already-canceled
// parent is canceled at once with the parent's error. WithDeadline under a parent whose
// deadline is earlier is WithCancel (as Go); a deadline already past cancels at once
// with DeadlineExceeded. CancelFunc is idempotent and safe to call from anywhere.
//
// Lifetime (differs from Go, which has a garbage collector): a context lives while a
// handle to it (a Context copy, its CancelFunc, or a child's context) exists. When the
// last one goes, its registration with the parent is removed and its deadline timer is
// stopped; nothing can observe that context any more, so this matches Go's behaviour.
// Calling the CancelFunc releases the registration early, as in Go.
//
// Runtime: a deadline needs the timers of an active gonet::Run. WithDeadline and
// WithTimeout called while no Run is active are a fatal error when they would have to
// arm a timer (a future, finite deadline not preempted by the parent's); a deadline
// already past, an infinite one, Background, WithCancel and WithValue work anywhere.
// Contexts with a pending deadline belong to the Run that armed them: don't keep them
// past its end (a leftover one never fires; destroying it afterwards is fine).
//
// Thread safety: every operation (copying, Done, Err, Deadline, Value, the CancelFunc)
// may be used from any fiber or plain thread, concurrently. Receiving on Done() parks
// a fiber; from a plain thread use TryRecv (a blocking Recv there is a fatal error).
#ifndef GONET_FIBER_CONTEXT_H_
#define GONET_FIBER_CONTEXT_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <any>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fiber/channel.h"

namespace gonet {

namespace context_internal {
class Node;  // context.cc
}  // namespace context_internal

class Context {
 public:
  Context() = default;  // Background()

  fiber::Channel<std::monostate>& Done() const;
  absl::Status Err() const;
  std::optional<absl::Time> Deadline() const;
  const std::any* Value(std::string_view key) const;

 private:
  friend class context_internal::Node;
  explicit Context(std::shared_ptr<context_internal::Node> node) : node_(std::move(node)) {}
  std::shared_ptr<context_internal::Node> node_;  // nullptr: Background
};

using CancelFunc = std::function<void()>;

Context Background();
std::pair<Context, CancelFunc> WithCancel(const Context& parent);
std::pair<Context, CancelFunc> WithDeadline(const Context& parent, absl::Time deadline);
std::pair<Context, CancelFunc> WithTimeout(const Context& parent, absl::Duration timeout);
Context WithValue(const Context& parent, std::string key, std::any value);

namespace context_internal {
// For tests: how many live, uncanceled child contexts are registered with the nearest
// cancelable context of `ctx` (ctx itself, or its nearest WithCancel/WithDeadline
// ancestor through WithValue); 0 for Background.
size_t NumChildrenForTest(const Context& ctx);
}  // namespace context_internal

}  // namespace gonet

#endif  // GONET_FIBER_CONTEXT_H_
