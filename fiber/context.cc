// Go's context package (context/context.go of Go 1.19), re-implemented for fibers.
// Differences: nodes are reference counted instead of garbage collected (a canceled or
// dropped child leaves its parent's set at once; context.h "Lifetime"); a deadline is a
// runtime timer owned by its node, not a time.AfterFunc; keys are strings; every
// Context is one of ours, so Go's goroutine for foreign parents is never needed.
#include "fiber/context.h"

#include <cstdint>
#include <limits>

#include "absl/base/internal/raw_logging.h"
#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"

namespace gonet::context_internal {

using fiber_internal::SpinLock;
using fiber_internal::SpinLockHolder;

class CancelNode;

namespace {
// Go's context.Canceled and context.DeadlineExceeded.
// Made once: a copy is a reference count, not a new message (the cancel path is hot).
const absl::Status& Canceled() {
  static const absl::Status* const s = new absl::Status(absl::CancelledError("context canceled"));
  return *s;
}
const absl::Status& DeadlineExceeded() {
  static const absl::Status* const s =
      new absl::Status(absl::DeadlineExceededError("context deadline exceeded"));
  return *s;
}
}  // namespace

// One link of a context chain. Immutable after construction except for a CancelNode's
// cancellation state. A null Node* stands for Background.
class Node {
 public:
  explicit Node(std::shared_ptr<Node> parent) : parent_(std::move(parent)) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Background's answers for a null node; otherwise the node's.
  static fiber::Channel<std::monostate>& DoneOf(Node* n) {
    return n ? n->Done() : fiber::Channel<std::monostate>::Nil();
  }
  static absl::Status ErrOf(Node* n) { return n ? n->Err() : absl::OkStatus(); }
  static std::optional<absl::Time> DeadlineOf(Node* n) {
    return n ? n->Deadline() : std::nullopt;
  }
  static const std::any* ValueOf(Node* n, std::string_view key) {
    return n ? n->Value(key) : nullptr;
  }
  static CancelNode* NearestCancelOf(Node* n) { return n ? n->NearestCancel() : nullptr; }

  static const std::shared_ptr<Node>& Of(const Context& c) { return c.node_; }
  static Context Handle(std::shared_ptr<Node> n) { return Context(std::move(n)); }

  // By default a node answers as its parent (Go: the embedded parent Context).
  virtual fiber::Channel<std::monostate>& Done() { return DoneOf(parent_.get()); }
  virtual absl::Status Err() { return ErrOf(parent_.get()); }
  virtual std::optional<absl::Time> Deadline() { return DeadlineOf(parent_.get()); }
  virtual const std::any* Value(std::string_view key) { return ValueOf(parent_.get(), key); }
  // This node if it is cancelable, else the nearest cancelable ancestor, or nullptr when
  // the chain up to Background has none (Go's parentCancelCtx).
  virtual CancelNode* NearestCancel() { return NearestCancelOf(parent_.get()); }

 protected:
  // Keeps the whole chain above alive (for Value lookups and the parent's registration
  // set, which a child leaves in its destructor).
  const std::shared_ptr<Node> parent_;
};

// Go's valueCtx.
class ValueNode final : public Node {
 public:
  ValueNode(std::shared_ptr<Node> parent, std::string key, std::any value)
      : Node(std::move(parent)), key_(std::move(key)), value_(std::move(value)) {}
  const std::any* Value(std::string_view key) override {
    return key == key_ ? &value_ : ValueOf(parent_.get(), key);
  }

 private:
  const std::string key_;
  const std::any value_;
};

// Go's cancelCtx, and timerCtx when it has a deadline.
//
// Ownership. Handles (Context copies, the CancelFunc, children's parent_) own a node;
// the parent's children_ set and the deadline timer hold plain pointers. They stay
// valid because the destructor first leaves the parent's set (under the parent's lock,
// so a parent canceling concurrently is done with us or never sees us) and then stops
// the timer with DeleteTimerSync, which waits for OnDeadline if it is running. Nothing
// that runs inside a timer callback or under a node's lock drops a handle, so the
// destructor never runs there (where DeleteTimerSync could wait on itself).
class CancelNode final : public Node {
 public:
  CancelNode(std::shared_ptr<Node> parent, std::optional<absl::Time> deadline)
      : Node(std::move(parent)),
        deadline_(deadline),
        cancel_parent_(NearestCancelOf(parent_.get())) {
    timer_.fn = &CancelNode::OnDeadline;
    timer_.ctx = this;
    timer_.after_switch = true;  // OnDeadline closes channels: timer_heap.h
  }

  ~CancelNode() override {
    if (cancel_parent_ != nullptr) cancel_parent_->RemoveChild(this);
    uint64_t generation;
    {
      SpinLockHolder l(&mu_);
      generation = timer_generation_;
      // Every child holds a handle on us (through parent_): none is left.
      if (!children_.empty()) ABSL_RAW_LOG(FATAL, "context: node destroyed with live children");
    }
    // After the Run that armed the timer has ended its heap is gone: nothing to stop.
    if (generation != 0 && fiber_internal::RuntimeRunning(generation)) {
      fiber_internal::DeleteTimerSync(&timer_);
    }
  }

  fiber::Channel<std::monostate>& Done() override { return done_; }
  absl::Status Err() override {
    SpinLockHolder l(&mu_);
    return err_;
  }
  std::optional<absl::Time> Deadline() override {
    return deadline_ ? deadline_ : DeadlineOf(parent_.get());
  }
  CancelNode* NearestCancel() override { return this; }

  // Go's propagateCancel: registers with the nearest cancelable ancestor, or cancels at
  // once with its error if it is canceled already. Once, right after construction.
  void Propagate() ABSL_LOCKS_EXCLUDED(mu_) {
    CancelNode* p = cancel_parent_;
    if (p == nullptr) return;  // Background at the root: never canceled
    SpinLockHolder l(&p->mu_);
    if (!p->err_.ok()) {
      Cancel(/*remove_from_parent=*/false, p->err_);  // parent's lock, then ours
    } else {
      p->children_.insert(this);
    }
  }

  // Go's cancelCtx.cancel (and timerCtx.cancel): the first call sets err_, closes done_,
  // cancels the children and stops the timer; later calls do nothing. Any thread, and
  // from OnDeadline; never parks, never waits for a timer callback.
  void Cancel(bool remove_from_parent, const absl::Status& err) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      SpinLockHolder l(&mu_);
      if (!err_.ok()) return;  // already canceled
      err_ = err;
      done_.Close();
      for (CancelNode* child : children_) child->Cancel(/*remove_from_parent=*/false, err);
      children_.clear();
      // Not DeleteTimerSync: we may be inside OnDeadline (ours or an ancestor's, whose
      // deferred batch may hold our timer too). A firing in progress finds err_ set.
      if (timer_generation_ != 0 && fiber_internal::RuntimeRunning(timer_generation_)) {
        fiber_internal::DeleteTimer(&timer_);
      }
    }
    // Go's removeChild, after releasing our lock (lock order: parent, then child).
    if (remove_from_parent && cancel_parent_ != nullptr) cancel_parent_->RemoveChild(this);
  }

  // WithDeadline's timer: cancels with DeadlineExceeded `d` from now, unless canceled
  // already (by the parent, during Propagate). d > 0.
  void ArmDeadline(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_) {
    const int64_t now = fiber_internal::MonoNanos();
    const int64_t ns = absl::ToInt64Nanoseconds(d);  // saturates
    if (ns >= std::numeric_limits<int64_t>::max() - now) return;  // never comes
    SpinLockHolder l(&mu_);
    if (!err_.ok()) return;
    const uint64_t generation = fiber_internal::CurrentRuntimeGeneration();
    if (generation == 0) {
      ABSL_RAW_LOG(FATAL,
                   "gonet::WithDeadline/WithTimeout need an active gonet::Run to arm the "
                   "deadline's timer");
    }
    timer_generation_ = generation;
    fiber_internal::ResetTimer(&timer_, now + ns);
  }

  size_t NumChildren() ABSL_LOCKS_EXCLUDED(mu_) {
    SpinLockHolder l(&mu_);
    return children_.size();
  }

 private:
  void RemoveChild(CancelNode* child) ABSL_LOCKS_EXCLUDED(mu_) {
    SpinLockHolder l(&mu_);
    children_.erase(child);
  }

  // Runs on a worker thread after the switch (after_switch). The node is alive: its
  // destructor waits for us (DeleteTimerSync).
  static void OnDeadline(fiber_internal::Timer* t, fiber_internal::FiberList* /*ready*/) {
    static_cast<CancelNode*>(t->ctx)->Cancel(/*remove_from_parent=*/true, DeadlineExceeded());
  }

  const std::optional<absl::Time> deadline_;  // WithDeadline's; nullopt for WithCancel
  // The ancestor whose children_ holds us (owned through parent_), or nullptr.
  CancelNode* const cancel_parent_;
  // Closed exactly once, by the first Cancel, under mu_ (Go: closedchan / close(d)).
  fiber::Channel<std::monostate> done_;

  // Lock order: a parent's mu_ before its child's (Cancel recurses into children under
  // the parent's lock; Propagate cancels under the parent's lock); a child never takes
  // its parent's mu_ while holding its own. mu_ before the timer heap's lock.
  SpinLock mu_;
  // OK until the first Cancel sets it (Canceled or DeadlineExceeded); never changes after.
  absl::Status err_ ABSL_GUARDED_BY(mu_);
  // Registered, uncanceled children. INVARIANT: c is here iff c's Propagate inserted it
  // and none of these has happened since: our Cancel (clears the set), c's
  // Cancel(remove_from_parent), c's destructor. So every pointer here is alive.
  absl::flat_hash_set<CancelNode*> children_ ABSL_GUARDED_BY(mu_);
  // The deadline timer: armed at most once (ArmDeadline), never re-armed, so
  // DeleteTimerSync is exact for it. Its fields are written before it is armed.
  fiber_internal::Timer timer_;
  // The Run whose heap timer_ went into; 0 if never armed. Set once, under mu_.
  uint64_t timer_generation_ ABSL_GUARDED_BY(mu_) = 0;
};

size_t NumChildrenForTest(const Context& ctx) {
  CancelNode* c = Node::NearestCancelOf(Node::Of(ctx).get());
  return c ? c->NumChildren() : 0;
}

}  // namespace gonet::context_internal

namespace gonet {

using context_internal::CancelNode;
using context_internal::Node;

fiber::Channel<std::monostate>& Context::Done() const { return Node::DoneOf(node_.get()); }
absl::Status Context::Err() const { return Node::ErrOf(node_.get()); }
std::optional<absl::Time> Context::Deadline() const { return Node::DeadlineOf(node_.get()); }
const std::any* Context::Value(std::string_view key) const {
  return Node::ValueOf(node_.get(), key);
}

Context Background() { return Context(); }

namespace {
// Go's `func() { c.cancel(true, Canceled) }`: the CancelFunc of a registered context.
CancelFunc RemovingCancelFunc(std::shared_ptr<CancelNode> c) {
  return [c = std::move(c)] {
    c->Cancel(/*remove_from_parent=*/true, context_internal::Canceled());
  };
}
}  // namespace

std::pair<Context, CancelFunc> WithCancel(const Context& parent) {
  auto c = std::make_shared<CancelNode>(Node::Of(parent), std::nullopt);
  c->Propagate();
  return {Node::Handle(c), RemovingCancelFunc(c)};
}

std::pair<Context, CancelFunc> WithDeadline(const Context& parent, absl::Time deadline) {
  if (std::optional<absl::Time> cur = parent.Deadline(); cur && *cur < deadline) {
    return WithCancel(parent);  // the parent's earlier deadline cancels it first
  }
  auto c = std::make_shared<CancelNode>(Node::Of(parent), deadline);
  c->Propagate();
  const absl::Duration d = deadline - absl::Now();
  if (d <= absl::ZeroDuration()) {
    c->Cancel(/*remove_from_parent=*/true, context_internal::DeadlineExceeded());
    return {Node::Handle(c),
            [c] { c->Cancel(/*remove_from_parent=*/false, context_internal::Canceled()); }};
  }
  c->ArmDeadline(d);
  return {Node::Handle(c), RemovingCancelFunc(c)};
}

std::pair<Context, CancelFunc> WithTimeout(const Context& parent, absl::Duration timeout) {
  return WithDeadline(parent, absl::Now() + timeout);
}

Context WithValue(const Context& parent, std::string key, std::any value) {
  return Node::Handle(std::make_shared<context_internal::ValueNode>(
      Node::Of(parent), std::move(key), std::move(value)));
}

}  // namespace gonet
