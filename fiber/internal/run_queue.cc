// Go's runqput/runqputslow/runqget/runqgrab (runtime/proc.go), re-implemented.
#include "fiber/internal/run_queue.h"

#include "fiber/internal/spinlock.h"

namespace gonet::fiber_internal {

int RunQueue::Put(Fiber* f, FiberList* overflow) {
  uint32_t t = tail_.load(std::memory_order_relaxed);
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    if (t - h < kSize) {
      ring_[t % kSize].store(f, std::memory_order_relaxed);
      tail_.store(t + 1, std::memory_order_release);
      return 0;
    }
    if (PutSlow(f, h, overflow)) return kSize / 2 + 1;
  }
}

// Ring full: half of it plus f go to *overflow (Go: runqputslow). No batch array on
// the stack (this runs on fiber stacks): once the CAS on head succeeds the slots
// [h, h+n) are ours, and only the owner ever overwrites slots, so they stay readable.
bool RunQueue::PutSlow(Fiber* f, uint32_t h, FiberList* overflow) {
  constexpr uint32_t n = kSize / 2;
  if (!head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return false;
  for (uint32_t i = 0; i < n; ++i) overflow->Push(ring_[(h + i) % kSize].load(std::memory_order_relaxed));
  overflow->Push(f);
  return true;
}

int RunQueue::PutNext(Fiber* f, FiberList* overflow) {
  Fiber* old;
  if (solo_) {
    old = runnext_.load(std::memory_order_relaxed);
    runnext_.store(f, std::memory_order_relaxed);
  } else {
    old = runnext_.exchange(f, std::memory_order_acq_rel);
  }
  return old != nullptr ? Put(old, overflow) : 0;
}

Fiber* RunQueue::SoloRotate(Fiber* self, FiberList* overflow) {
  Fiber* next = runnext_.load(std::memory_order_relaxed);
  if (next != nullptr) {
    runnext_.store(nullptr, std::memory_order_relaxed);
    Put(self, overflow);
    return next;
  }
  const uint32_t h = head_.load(std::memory_order_relaxed);
  const uint32_t t = tail_.load(std::memory_order_relaxed);
  if (h == t) return nullptr;
  next = ring_[h % kSize].load(std::memory_order_relaxed);
  ring_[t % kSize].store(self, std::memory_order_relaxed);
  head_.store(h + 1, std::memory_order_relaxed);
  tail_.store(t + 1, std::memory_order_relaxed);
  return next;
}

Fiber* RunQueue::Get() {
  Fiber* next = runnext_.load(std::memory_order_relaxed);
  if (solo_) {
    if (next != nullptr) {
      runnext_.store(nullptr, std::memory_order_relaxed);
      return next;
    }
    uint32_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_relaxed)) return nullptr;
    Fiber* f = ring_[h % kSize].load(std::memory_order_relaxed);
    head_.store(h + 1, std::memory_order_relaxed);
    return f;
  }
  if (next != nullptr && runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    return next;
  }
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    Fiber* f = ring_[h % kSize].load(std::memory_order_relaxed);
    if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release)) return f;
  }
}

int RunQueue::Grab(Fiber** batch, bool steal_next) {
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (!steal_next) return 0;
      Fiber* next = runnext_.load(std::memory_order_acquire);
      if (next == nullptr) return 0;
      // The owner is probably about to run it; give it a moment (Go sleeps 3us).
      for (int i = 0; i < 200; ++i) CpuRelax();
      if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) continue;
      batch[0] = next;
      return 1;
    }
    if (n > kSize / 2) continue;  // inconsistent snapshot
    for (uint32_t i = 0; i < n; ++i) batch[i] = ring_[(h + i) % kSize].load(std::memory_order_relaxed);
    if (head_.compare_exchange_strong(h, h + n, std::memory_order_release)) return static_cast<int>(n);
  }
}

}  // namespace gonet::fiber_internal
