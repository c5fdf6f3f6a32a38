#include "fiber/internal/timer_heap.h"

#include <time.h>

#include <thread>

#include "fiber/internal/scheduler.h"

namespace gonet::fiber_internal {

int64_t MonoNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t CoarseMonoNanos() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void TimerHeap::Publish() {
  next_when_.store(heap_.empty() ? std::numeric_limits<int64_t>::max() : heap_[0]->when,
                   std::memory_order_release);
  count_.store(heap_.size(), std::memory_order_relaxed);
}

void TimerHeap::SiftUp(int32_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    int32_t p = (i - 1) / 4;
    if (heap_[p]->when <= t->when) break;
    heap_[i] = heap_[p];
    heap_[i]->heap_index = i;
    i = p;
  }
  heap_[i] = t;
  t->heap_index = i;
}

void TimerHeap::SiftDown(int32_t i) {
  const int32_t n = static_cast<int32_t>(heap_.size());
  Timer* t = heap_[i];
  for (;;) {
    int32_t c = 4 * i + 1;
    if (c >= n) break;
    int32_t best = c;
    for (int32_t k = c + 1; k < c + 4 && k < n; ++k) {
      if (heap_[k]->when < heap_[best]->when) best = k;
    }
    if (heap_[best]->when >= t->when) break;
    heap_[i] = heap_[best];
    heap_[i]->heap_index = i;
    i = best;
  }
  heap_[i] = t;
  t->heap_index = i;
}

void TimerHeap::Push(Timer* t) {
  heap_.push_back(t);
  SiftUp(static_cast<int32_t>(heap_.size() - 1));
}

void TimerHeap::RemoveAt(int32_t i) {
  Timer* t = heap_[i];
  t->heap_index = -1;
  Timer* last = heap_.back();
  heap_.pop_back();
  if (t == last) return;
  heap_[i] = last;
  last->heap_index = i;
  SiftUp(i);
  SiftDown(last->heap_index);
}

bool TimerHeap::Reset(Timer* t, int64_t when) {
  SpinLockHolder l(&mu_);
  t->when = when;
  if (t->state.load(std::memory_order_relaxed) == Timer::kPending) {
    SiftUp(t->heap_index);
    SiftDown(t->heap_index);
  } else {
    t->state.store(Timer::kPending, std::memory_order_relaxed);
    Push(t);
  }
  bool earliest = heap_[0] == t;
  Publish();
  return earliest;
}

bool TimerHeap::Delete(Timer* t) {
  SpinLockHolder l(&mu_);
  if (t->state.load(std::memory_order_relaxed) != Timer::kPending) return false;
  RemoveAt(t->heap_index);
  t->state.store(Timer::kIdle, std::memory_order_relaxed);
  Publish();
  return true;
}

bool TimerHeap::DeleteSync(Timer* t) {
  const bool was_pending = Delete(t);
  // Wait out every run of fn that began before the Delete, also one whose timer was
  // re-armed meanwhile (its state is then pending again, or idle after Delete).
  while (t->running.load(std::memory_order_acquire) != 0) std::this_thread::yield();
  return was_pending;
}

namespace {
void RunFiring(Timer* t, FiberList* ready) {
  // Collect this timer's fibers separately: they may be readied only after the timer
  // is released, since a readied fiber may destroy the timer at once.
  FiberList mine;
  t->fn(t, &mine);
  int expected = Timer::kFiring;
  t->state.compare_exchange_strong(expected, Timer::kIdle, std::memory_order_acq_rel);
  ready->Append(&mine);
  // Last touch of t: once running is zero, DeleteSync's caller may free it.
  t->running.fetch_sub(1, std::memory_order_release);
}
}  // namespace

void TimerHeap::RunDeferred(std::vector<Timer*>* list, FiberList* ready) {
  // fn may not add to *list (it runs outside RunDue), so plain iteration is safe.
  for (Timer* t : *list) RunFiring(t, ready);
  list->clear();
}

int TimerHeap::RunDue(int64_t now, FiberList* ready, std::vector<Timer*>* deferred) {
  int ran = 0;
  for (;;) {
    Timer* t;
    {
      SpinLockHolder l(&mu_);
      if (heap_.empty() || heap_[0]->when > now) return ran;
      t = heap_[0];
      RemoveAt(0);
      t->state.store(Timer::kFiring, std::memory_order_relaxed);
      // Under mu_: a Delete that finds t no longer pending sees the run counted.
      t->running.fetch_add(1, std::memory_order_relaxed);
      Publish();
    }
    ++ran;
    if (deferred != nullptr && t->after_switch) {
      deferred->push_back(t);
      continue;
    }
    RunFiring(t, ready);
  }
}

}  // namespace gonet::fiber_internal
