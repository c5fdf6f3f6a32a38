// The runtime as seen from plain threads (Go has none: every Go thread is the
// runtime's): which Run is active, waking its fibers and starting new ones from outside
// while it may be ending, waiting on a plain thread without spinning, and the hooks
// lower layers run when a Run ends.
#include "absl/base/internal/raw_logging.h"
#include "fiber/internal/runtime.h"

namespace gonet::fiber_internal {

std::atomic<NetpollHandler> g_netpoll_handler{nullptr};
std::atomic<uint64_t> g_generation{0};
// The generation of the active Run, 0 when none. Set before its threads start, cleared
// after they all stopped (so "not running" means none of its fibers can run again).
std::atomic<uint64_t> g_running_generation{0};
std::atomic<Runtime*> g_runtime{nullptr};
// Held while publishing or retracting g_runtime, and by foreign threads while they
// touch the runtime: a foreign thread never sees a runtime being freed.
ThreadMutex g_runtime_mu;

namespace {

// Plain-thread waiting (ThreadWaitUntil).
ThreadMutex g_thread_wait_mu;
ThreadCondVar g_thread_wait_cv;
// Threads inside ThreadWaitUntil. Ordering: a waiter increments it, then (seq_cst)
// evaluates its predicate; a notifier publishes its change, then (seq_cst) loads it.
// So either the notifier sees the waiter, or the waiter's predicate sees the change.
std::atomic<int> g_thread_waiters{0};

constexpr int kMaxTeardownHooks = 4;
std::atomic<TeardownHook> g_teardown_hooks[kMaxTeardownHooks] = {};

}  // namespace

void ReadyForeignLocked(Runtime* rt, Fiber* f) {
  f->status.store(FiberStatus::kRunnable, std::memory_order_release);
  FiberList l;
  l.Push(f);
  rt->InjectGlobal(&l, 1);
  rt->WakeIdle();
  // No proc idle-spinning may notice: make sure the poller owner re-checks.
  if (rt->poller_owned.load(std::memory_order_seq_cst)) rt->poller->Wake();
}

void ReadyListOf(FiberList* list, uint64_t generation) {
  Machine* m = CurrentMachine();
  if (m != nullptr && m->rt->generation == generation) {
    ReadyList(list);
    return;
  }
  ThreadMutexLock l(&g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr || rt->generation != generation) {
    *list = FiberList();  // abandoned with their Run
    return;
  }
  while (Fiber* f = list->Pop()) ReadyForeignLocked(rt, f);
}

bool ReadyFromForeignThread(Fiber* f, uint64_t generation) {
  ThreadMutexLock l(&g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr || rt->generation != generation) return false;  // f died with its Run
  ReadyForeignLocked(rt, f);
  return true;
}

bool RuntimeRunning(uint64_t generation) {
  return generation != 0 && g_running_generation.load(std::memory_order_acquire) == generation;
}

void AddTeardownHook(TeardownHook hook) {
  for (auto& h : g_teardown_hooks) {
    TeardownHook expected = nullptr;
    if (h.load(std::memory_order_acquire) == hook) return;
    if (h.compare_exchange_strong(expected, hook, std::memory_order_acq_rel)) return;
    if (expected == hook) return;
  }
  ABSL_RAW_LOG(FATAL, "runtime: too many teardown hooks");
}

void RunTeardownHooks(uint64_t generation) {
  for (auto& h : g_teardown_hooks) {
    if (TeardownHook hook = h.load(std::memory_order_acquire)) hook(generation);
  }
}

void ThreadWaitUntil(absl::FunctionRef<bool()> pred) {
  g_thread_waiters.fetch_add(1, std::memory_order_seq_cst);
  {
    ThreadMutexLock l(&g_thread_wait_mu);
    while (!pred()) g_thread_wait_cv.Wait(&g_thread_wait_mu);
  }
  g_thread_waiters.fetch_sub(1, std::memory_order_relaxed);
}

void NotifyThreadWaiters() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_thread_waiters.load(std::memory_order_relaxed) == 0) return;
  // Taking the lock orders this notify after a waiter's predicate check that missed
  // the change: that waiter is then inside Wait() and gets the notification.
  { ThreadMutexLock l(&g_thread_wait_mu); }
  g_thread_wait_cv.SignalAll();
}

}  // namespace gonet::fiber_internal
