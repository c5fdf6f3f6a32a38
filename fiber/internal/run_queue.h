// run_queue.h: a proc's local run queue (Go's runqput/runqget/runqgrab and runnext),
// re-implemented for fibers. A bounded ring of 256 fibers that only the owning proc
// pushes to (at the tail) and pops from, and that any thread may steal half of (from
// the head), plus a "run next" slot: a fiber made runnable by the running fiber runs
// next, so a ping-pong between two fibers stays on one thread and hot in cache.
//
// Solo mode (procs == 1): no other thread ever steals, so the owner's operations skip
// their atomic read-modify-writes. Set before the queue is shared and never changed.
#ifndef GONET_FIBER_INTERNAL_RUN_QUEUE_H_
#define GONET_FIBER_INTERNAL_RUN_QUEUE_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <atomic>
#include <cstdint>

#include "fiber/internal/scheduler.h"

namespace gonet::fiber_internal {

class RunQueue {
 public:
  static constexpr uint32_t kSize = 256;

  explicit RunQueue(bool solo = false) : solo_(solo) {}
  RunQueue(const RunQueue&) = delete;
  RunQueue& operator=(const RunQueue&) = delete;

  // Owner only. Queues f at the tail. When the ring is full, half of it plus f move to
  // *overflow (in order) for the caller to put on the global queue; returns how many.
  int Put(Fiber* f, FiberList* overflow);
  // Owner only. Makes f the next to run; a fiber it displaces goes to the tail (with
  // Put's overflow rule).
  int PutNext(Fiber* f, FiberList* overflow);
  // Owner only. The next fiber to run (run-next slot first), or nullptr.
  Fiber* Get();
  // Owner only, solo mode only: pops the next fiber and queues `self` at the tail, in
  // one step without atomics (Yield with one proc). nullptr (self not queued) if empty.
  // Put's overflow rule applies when the run-next slot held the next fiber.
  Fiber* SoloRotate(Fiber* self, FiberList* overflow);
  // Any thread, never in solo mode: takes about half of the queue into batch (up to
  // kSize / 2 + 1 entries); if the ring is empty and steal_next, the run-next fiber.
  int Grab(Fiber** batch, bool steal_next);
  // Any thread; a snapshot.
  bool Empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire) &&
           runnext_.load(std::memory_order_acquire) == nullptr;
  }
  uint32_t SizeHint() const {
    return tail_.load(std::memory_order_acquire) - head_.load(std::memory_order_acquire);
  }
  bool solo() const { return solo_; }

 private:
  bool PutSlow(Fiber* f, uint32_t h, FiberList* overflow);

  const bool solo_;
  // Ring: slots written by the owner at tail_, read by anyone from head_ (CAS).
  // INVARIANT: 0 <= tail_ - head_ <= kSize. Slots are atomics so that a stealer reading
  // a slot the owner is overwriting (its CAS then fails) is not a data race.
  std::atomic<uint32_t> head_{0};
  std::atomic<uint32_t> tail_{0};
  std::atomic<Fiber*> ring_[kSize] = {};
  std::atomic<Fiber*> runnext_{nullptr};
};

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_RUN_QUEUE_H_
