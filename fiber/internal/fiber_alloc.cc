// Fiber objects (Go's malg/gfput/gfget and allgs): allocation with a per-proc cache of
// finished fibers and their stacks, and the registry of every fiber a Run made (for
// VisitFibers, the dump, and freeing at the end of Run).
#include <thread>

#include "fiber/internal/runtime.h"

namespace gonet::fiber_internal {

Fiber* Runtime::PopFree() {
  SpinLockHolder l(&free_mu);
  Fiber* f = free_fibers.Pop();
  if (f) free_size_hint.fetch_sub(1, std::memory_order_relaxed);
  return f;
}

// On a runtime thread, inside the runtime (it uses the proc's cache), or on a foreign
// thread holding g_runtime_mu.
Fiber* Runtime::NewFiber(absl::AnyInvocable<void() &&> fn) {
  Machine* m = CurrentMachine();
  Proc* p = m != nullptr && m->rt == this ? m->p : nullptr;
  Fiber* f = nullptr;
  if (p != nullptr && !p->fiber_cache.empty()) {
    f = p->fiber_cache.back();
    p->fiber_cache.pop_back();
  } else if (free_size_hint.load(std::memory_order_relaxed) > 0 && (f = PopFree()) != nullptr) {
  } else {
    f = new Fiber;
    f->rt = this;
    f->stack = stacks.Allocate();
    created.fetch_add(1, std::memory_order_relaxed);
    SpinLockHolder l(&all_mu);
    f->all_next = all_fibers;
    all_fibers = f;
  }
  f->id = next_id.fetch_add(1, std::memory_order_relaxed);
  f->fn = std::move(fn);
  f->next = nullptr;
  f->eh = ExceptionState{};
  f->wait = WaitInfo{};
  f->site = SpawnSite{};
  f->parent_id = 0;
  // The canary occupies the lowest word; the usable stack starts above it.
  MakeContext(&f->ctx, f->stack.lo + 64, f->stack.size - 64, &FiberMain, f);
  SanitizerCreateFiber(&f->san, f->stack.lo, f->stack.size);
  f->status.store(FiberStatus::kRunnable, std::memory_order_release);
  live.fetch_add(1, std::memory_order_relaxed);
  return f;
}

void Proc::ReleaseFiber(Fiber* f) {
  rt->live.fetch_sub(1, std::memory_order_relaxed);
  if (fiber_cache.size() < 256) {
    fiber_cache.push_back(f);
    return;
  }
  SpinLockHolder l(&rt->free_mu);
  rt->free_fibers.Push(f);
  rt->free_size_hint.fetch_add(1, std::memory_order_relaxed);
}

Runtime::~Runtime() {
  SpinLockHolder l(&all_mu);
  for (Fiber* f = all_fibers; f != nullptr;) {
    Fiber* n = f->all_next;
    SanitizerDestroyFiber(&f->san);
    if (f->fn) {
      // Abandoned before it ran: its captured state is deliberately not destroyed (a
      // Go program exiting runs nothing either); only the Fiber's own memory goes.
      ::operator delete(static_cast<void*>(f));
    } else {
      delete f;
    }
    f = n;
  }
}

// Holds switches into fibers off (Runtime::visiting, see SwitchTo) while fn reads the
// registry: a fiber not running when the barrier completes stays off its thread until
// `visiting` clears. Only one visitor at a time (a static lock; dumps are rare).
bool VisitFibers(absl::FunctionRef<void(const Fiber& f)> fn) {
  static ThreadMutex visit_mu;
  ThreadMutexLock vl(&visit_mu);
  return WithRuntime([&](Runtime* rt) {
    if (rt == nullptr) return false;
    rt->visiting.store(true, std::memory_order_seq_cst);
    ProcessWideBarrier();
    {
      SpinLockHolder l(&rt->all_mu);
      for (Fiber* f = rt->all_fibers; f != nullptr; f = f->all_next) {
        if (f->status.load(std::memory_order_acquire) != FiberStatus::kFree) fn(*f);
      }
    }
    rt->visiting.store(false, std::memory_order_release);
    return true;
  });
}

}  // namespace gonet::fiber_internal
