// Tests of the runtime's timer heap on its own (no runtime running): ordering, Reset
// moving a timer earlier and later, Delete, and RunDue running only due timers.
#include "fiber/internal/timer_heap.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <cstdint>
#include <random>
#include <vector>

#include "fiber/internal/scheduler.h"
#include "gtest/gtest.h"

namespace gonet::fiber_internal {
namespace {

// Each fired timer appends its `arg` to the vector its ctx points at.
void Record(Timer* t, FiberList* ready) {
  (void)ready;
  static_cast<std::vector<uintptr_t>*>(t->ctx)->push_back(t->arg);
}

class Timers {
 public:
  Timers(size_t n, std::vector<uintptr_t>* fired) : timers_(n) {
    for (size_t i = 0; i < n; ++i) {
      timers_[i].fn = &Record;
      timers_[i].arg = i;
      timers_[i].ctx = fired;
    }
  }
  Timer* operator[](size_t i) { return &timers_[i]; }

 private:
  std::vector<Timer> timers_;
};

// Runs everything due at `now`, returning the number run.
int RunAt(TimerHeap* heap, int64_t now) {
  FiberList ready;
  int n = heap->RunDue(now, &ready);
  EXPECT_TRUE(ready.empty());  // Record readies nothing
  return n;
}

TEST(TimerHeap, EmptyHeapHasNoDeadline) {
  TimerHeap heap;
  EXPECT_EQ(heap.NextWhen(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(heap.size(), 0u);
  EXPECT_EQ(RunAt(&heap, std::numeric_limits<int64_t>::max()), 0);
}

TEST(TimerHeap, FiresInDeadlineOrder) {
  std::vector<uintptr_t> fired;
  Timers t(6, &fired);
  TimerHeap heap;
  // Insertion order unrelated to deadline order.
  const int64_t when[] = {50, 10, 40, 30, 60, 20};
  for (int i = 0; i < 6; ++i) heap.Reset(t[i], when[i]);
  EXPECT_EQ(heap.size(), 6u);
  EXPECT_EQ(heap.NextWhen(), 10);
  EXPECT_EQ(RunAt(&heap, 1000), 6);
  EXPECT_EQ(fired, (std::vector<uintptr_t>{1, 5, 3, 2, 0, 4}));
  EXPECT_EQ(heap.size(), 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t[i]->state.load(), Timer::kIdle) << i;
}

TEST(TimerHeap, ResetReportsWhetherTimerBecameEarliest) {
  std::vector<uintptr_t> fired;
  Timers t(3, &fired);
  TimerHeap heap;
  EXPECT_TRUE(heap.Reset(t[0], 100));
  EXPECT_FALSE(heap.Reset(t[1], 200));
  EXPECT_TRUE(heap.Reset(t[2], 50));
  EXPECT_EQ(heap.NextWhen(), 50);
}

TEST(TimerHeap, ResetMovesPendingTimerEarlier) {
  std::vector<uintptr_t> fired;
  Timers t(4, &fired);
  TimerHeap heap;
  for (int i = 0; i < 4; ++i) heap.Reset(t[i], 100 * (i + 1));  // 100 200 300 400
  EXPECT_TRUE(heap.Reset(t[3], 50));
  EXPECT_EQ(heap.size(), 4u);  // re-armed in place, not added twice
  EXPECT_EQ(heap.NextWhen(), 50);
  EXPECT_EQ(RunAt(&heap, 1000), 4);
  EXPECT_EQ(fired, (std::vector<uintptr_t>{3, 0, 1, 2}));
}

TEST(TimerHeap, ResetMovesPendingTimerLater) {
  std::vector<uintptr_t> fired;
  Timers t(4, &fired);
  TimerHeap heap;
  for (int i = 0; i < 4; ++i) heap.Reset(t[i], 100 * (i + 1));
  EXPECT_FALSE(heap.Reset(t[0], 1000));
  EXPECT_EQ(heap.NextWhen(), 200);
  EXPECT_EQ(RunAt(&heap, 500), 3);
  EXPECT_EQ(fired, (std::vector<uintptr_t>{1, 2, 3}));
  EXPECT_EQ(t[0]->state.load(), Timer::kPending);
  EXPECT_EQ(heap.NextWhen(), 1000);
  EXPECT_EQ(RunAt(&heap, 1000), 1);
  EXPECT_EQ(fired.back(), 0u);
}

TEST(TimerHeap, DeleteDisarms) {
  std::vector<uintptr_t> fired;
  Timers t(5, &fired);
  TimerHeap heap;
  for (int i = 0; i < 5; ++i) heap.Reset(t[i], 10 * (i + 1));
  EXPECT_TRUE(heap.Delete(t[0]));  // the root
  EXPECT_TRUE(heap.Delete(t[3]));  // an inner node
  EXPECT_FALSE(heap.Delete(t[3]));  // not pending any more
  EXPECT_EQ(t[3]->state.load(), Timer::kIdle);
  EXPECT_EQ(heap.size(), 3u);
  EXPECT_EQ(heap.NextWhen(), 20);
  EXPECT_EQ(RunAt(&heap, 1000), 3);
  EXPECT_EQ(fired, (std::vector<uintptr_t>{1, 2, 4}));
  // A fired timer is idle: deleting it reports false and changes nothing.
  EXPECT_FALSE(heap.Delete(t[1]));
  EXPECT_FALSE(heap.DeleteSync(t[1]));
  EXPECT_EQ(heap.NextWhen(), std::numeric_limits<int64_t>::max());
}

TEST(TimerHeap, DeletedTimerCanBeReArmed) {
  std::vector<uintptr_t> fired;
  Timers t(1, &fired);
  TimerHeap heap;
  heap.Reset(t[0], 10);
  ASSERT_TRUE(heap.Delete(t[0]));
  heap.Reset(t[0], 30);
  EXPECT_EQ(RunAt(&heap, 20), 0);
  EXPECT_EQ(RunAt(&heap, 30), 1);
  EXPECT_EQ(fired, (std::vector<uintptr_t>{0}));
}

TEST(TimerHeap, RunDueRunsOnlyDueTimers) {
  std::vector<uintptr_t> fired;
  Timers t(4, &fired);
  TimerHeap heap;
  heap.Reset(t[0], 100);
  heap.Reset(t[1], 200);
  heap.Reset(t[2], 200);
  heap.Reset(t[3], 300);
  EXPECT_EQ(RunAt(&heap, 99), 0);
  EXPECT_TRUE(fired.empty());
  EXPECT_EQ(RunAt(&heap, 100), 1);  // due means when <= now
  EXPECT_EQ(RunAt(&heap, 250), 2);
  EXPECT_EQ(heap.NextWhen(), 300);
  EXPECT_EQ(heap.size(), 1u);
  EXPECT_EQ(fired.size(), 3u);
  EXPECT_EQ(fired[0], 0u);
  EXPECT_EQ(t[3]->state.load(), Timer::kPending);
}

// A callback that re-arms its own timer while firing (kFiring -> kPending): the timer
// must stay pending and fire again, not be left idle by the runner.
void ReArmOnce(Timer* t, FiberList* ready) {
  (void)ready;
  auto* heap = static_cast<TimerHeap*>(t->ctx);
  if (t->arg++ == 0) heap->Reset(t, t->when + 10);
}

TEST(TimerHeap, CallbackMayReArmItsTimer) {
  TimerHeap heap;
  Timer t;
  t.fn = &ReArmOnce;
  t.ctx = &heap;
  heap.Reset(&t, 10);
  FiberList ready;
  EXPECT_EQ(heap.RunDue(10, &ready), 1);
  EXPECT_EQ(t.state.load(), Timer::kPending);
  EXPECT_EQ(heap.NextWhen(), 20);
  EXPECT_EQ(heap.RunDue(20, &ready), 1);
  EXPECT_EQ(t.state.load(), Timer::kIdle);
  EXPECT_EQ(t.arg, 2u);
}

// A callback that re-armed its timer while it runs: DeleteSync must still wait for that
// run to end (the timer is pending again, so Delete alone reports it disarmed).
TEST(TimerHeap, DeleteSyncWaitsForRunOfReArmedTimer) {
  struct State {
    TimerHeap* heap;
    std::atomic<bool> in_fn{false};
    std::atomic<bool> release{false};
    std::atomic<bool> finished{false};
  };
  TimerHeap heap;
  State st{&heap};
  Timer t;
  t.ctx = &st;
  t.fn = [](Timer* tm, FiberList*) {
    auto* s = static_cast<State*>(tm->ctx);
    s->heap->Reset(tm, int64_t{1} << 60);  // re-armed far away while still running
    s->in_fn = true;
    while (!s->release.load()) std::this_thread::yield();
    s->finished = true;
  };
  heap.Reset(&t, 10);
  std::thread runner([&] {
    FiberList ready;
    heap.RunDue(10, &ready);
  });
  while (!st.in_fn.load()) std::this_thread::yield();
  std::atomic<bool> deleted{false};
  bool was_pending = false;
  std::thread deleter([&] {
    was_pending = heap.DeleteSync(&t);
    deleted = true;
  });
  // DeleteSync cannot return while fn runs: release fn only after checking that.
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  EXPECT_FALSE(deleted.load());
  st.release = true;
  deleter.join();
  runner.join();
  EXPECT_TRUE(st.finished.load());
  EXPECT_TRUE(was_pending);  // the re-arming was disarmed
  EXPECT_EQ(heap.size(), 0u);
  EXPECT_EQ(t.running.load(), 0);
}

TEST(TimerHeap, HundredThousandRandomTimersPopInOrder) {
  constexpr size_t kN = 100'000;
  std::vector<uintptr_t> fired;
  fired.reserve(kN);
  Timers t(kN, &fired);
  std::vector<int64_t> when(kN);
  std::mt19937_64 rng(42);
  TimerHeap heap;
  for (size_t i = 0; i < kN; ++i) {
    when[i] = static_cast<int64_t>(rng() % 1'000'000);
    heap.Reset(t[i], when[i]);
  }
  // Move a tenth of them, delete another tenth.
  std::vector<bool> deleted(kN, false);
  for (size_t i = 0; i < kN; i += 10) {
    when[i] = static_cast<int64_t>(rng() % 1'000'000);
    heap.Reset(t[i], when[i]);
    ASSERT_TRUE(heap.Delete(t[i + 5]));
    deleted[i + 5] = true;
  }
  EXPECT_EQ(heap.size(), kN - kN / 10);
  // Pop in several slices of time, each slice running exactly the due ones.
  for (int64_t now = 0; now <= 1'000'000; now += 50'000) {
    size_t before = fired.size();
    RunAt(&heap, now);
    for (size_t k = before; k < fired.size(); ++k) ASSERT_LE(when[fired[k]], now);
    if (heap.size() > 0) {
      ASSERT_GT(heap.NextWhen(), now);
    }
  }
  ASSERT_EQ(fired.size(), kN - kN / 10);
  for (size_t k = 1; k < fired.size(); ++k) {
    ASSERT_LE(when[fired[k - 1]], when[fired[k]]) << "at " << k;
  }
  for (uintptr_t id : fired) ASSERT_FALSE(deleted[id]) << id;
  std::vector<bool> seen(kN, false);
  for (uintptr_t id : fired) {
    ASSERT_FALSE(seen[id]) << "fired twice: " << id;
    seen[id] = true;
  }
}

}  // namespace
}  // namespace gonet::fiber_internal
