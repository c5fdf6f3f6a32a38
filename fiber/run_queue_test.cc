// Unit tests of a proc's run queue (fiber/internal/run_queue.h), without a runtime:
// Fiber objects here are only tokens (never switched to).
#include "fiber/internal/run_queue.h"

#include <atomic>
#include <memory>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace gonet::fiber_internal {
namespace {

std::vector<std::unique_ptr<Fiber>> MakeFibers(int n) {
  std::vector<std::unique_ptr<Fiber>> v;
  for (int i = 0; i < n; ++i) {
    v.push_back(std::make_unique<Fiber>());
    v.back()->id = static_cast<uint64_t>(i + 1);
  }
  return v;
}

int Count(const FiberList& l) {
  int n = 0;
  for (Fiber* f = l.front(); f; f = f->next) ++n;
  return n;
}

class RunQueueTest : public testing::TestWithParam<bool> {};  // param: solo

TEST_P(RunQueueTest, FifoWithRunNextFirst) {
  RunQueue q(GetParam());
  auto f = MakeFibers(4);
  FiberList overflow;
  EXPECT_TRUE(q.Empty());
  EXPECT_EQ(q.Get(), nullptr);
  EXPECT_EQ(q.Put(f[0].get(), &overflow), 0);
  EXPECT_EQ(q.Put(f[1].get(), &overflow), 0);
  EXPECT_EQ(q.PutNext(f[2].get(), &overflow), 0);
  // A second PutNext displaces the first to the tail.
  EXPECT_EQ(q.PutNext(f[3].get(), &overflow), 0);
  EXPECT_FALSE(q.Empty());
  EXPECT_EQ(q.Get(), f[3].get());
  EXPECT_EQ(q.Get(), f[0].get());
  EXPECT_EQ(q.Get(), f[1].get());
  EXPECT_EQ(q.Get(), f[2].get());
  EXPECT_EQ(q.Get(), nullptr);
  EXPECT_TRUE(q.Empty());
  EXPECT_TRUE(overflow.empty());
}

TEST_P(RunQueueTest, FullRingMovesHalfPlusOneToOverflowInOrder) {
  RunQueue q(GetParam());
  auto f = MakeFibers(RunQueue::kSize + 1);
  FiberList overflow;
  for (uint32_t i = 0; i < RunQueue::kSize; ++i) ASSERT_EQ(q.Put(f[i].get(), &overflow), 0);
  EXPECT_EQ(q.SizeHint(), RunQueue::kSize);
  EXPECT_EQ(q.Put(f[RunQueue::kSize].get(), &overflow), static_cast<int>(RunQueue::kSize / 2 + 1));
  ASSERT_EQ(Count(overflow), static_cast<int>(RunQueue::kSize / 2 + 1));
  // The overflow holds the oldest half, then the new fiber.
  for (uint32_t i = 0; i < RunQueue::kSize / 2; ++i) EXPECT_EQ(overflow.Pop(), f[i].get());
  EXPECT_EQ(overflow.Pop(), f[RunQueue::kSize].get());
  // The ring keeps the newer half, in order.
  for (uint32_t i = RunQueue::kSize / 2; i < RunQueue::kSize; ++i) EXPECT_EQ(q.Get(), f[i].get());
  EXPECT_EQ(q.Get(), nullptr);
}

TEST(RunQueue, SoloRotateQueuesSelfBehindTheNext) {
  RunQueue q(/*solo=*/true);
  auto f = MakeFibers(3);
  FiberList overflow;
  Fiber* self = f[0].get();
  EXPECT_EQ(q.SoloRotate(self, &overflow), nullptr);  // empty: self keeps running
  EXPECT_TRUE(q.Empty());
  q.Put(f[1].get(), &overflow);
  q.PutNext(f[2].get(), &overflow);
  EXPECT_EQ(q.SoloRotate(self, &overflow), f[2].get());  // run-next first
  EXPECT_EQ(q.SoloRotate(f[2].get(), &overflow), f[1].get());
  EXPECT_EQ(q.Get(), self);
  EXPECT_EQ(q.Get(), f[2].get());
  EXPECT_EQ(q.Get(), nullptr);
}

TEST(RunQueue, GrabTakesHalfAndThenTheRunNextSlot) {
  RunQueue q(/*solo=*/false);
  auto f = MakeFibers(11);
  FiberList overflow;
  for (int i = 0; i < 10; ++i) q.Put(f[i].get(), &overflow);
  q.PutNext(f[10].get(), &overflow);
  Fiber* batch[RunQueue::kSize / 2 + 1];
  ASSERT_EQ(q.Grab(batch, false), 5);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(batch[i], f[i].get());
  ASSERT_EQ(q.Grab(batch, false), 3);  // 5 left: takes 3
  ASSERT_EQ(q.Grab(batch, false), 1);
  ASSERT_EQ(q.Grab(batch, false), 1);
  EXPECT_EQ(q.Grab(batch, false), 0);   // ring empty, run-next not taken
  ASSERT_EQ(q.Grab(batch, true), 1);    // ...unless asked
  EXPECT_EQ(batch[0], f[10].get());
  EXPECT_TRUE(q.Empty());
}

// The owner puts and gets while thieves grab: every fiber comes out exactly once.
TEST(RunQueue, ConcurrentStealsLoseAndDuplicateNothing) {
  constexpr int kFibers = 200000;
  auto f = MakeFibers(kFibers);
  RunQueue q(/*solo=*/false);
  std::vector<std::atomic<int>> seen(kFibers);
  std::atomic<bool> done{false};
  auto note = [&](Fiber* x) { seen[x->id - 1].fetch_add(1, std::memory_order_relaxed); };
  std::vector<std::thread> thieves;
  for (int t = 0; t < 2; ++t) {
    thieves.emplace_back([&, t] {
      Fiber* batch[RunQueue::kSize / 2 + 1];
      while (!done.load(std::memory_order_acquire)) {
        int n = q.Grab(batch, /*steal_next=*/t == 0);
        for (int i = 0; i < n; ++i) note(batch[i]);
      }
    });
  }
  FiberList overflow;
  for (int i = 0; i < kFibers; ++i) {
    if (i % 7 == 0) {
      q.PutNext(f[i].get(), &overflow);
    } else {
      q.Put(f[i].get(), &overflow);
    }
    if (i % 3 == 0) {
      if (Fiber* x = q.Get()) note(x);
    }
    while (Fiber* x = overflow.Pop()) note(x);
  }
  while (Fiber* x = q.Get()) note(x);
  done.store(true, std::memory_order_release);
  for (auto& t : thieves) t.join();
  Fiber* batch[RunQueue::kSize / 2 + 1];
  while (int n = q.Grab(batch, true)) {
    for (int i = 0; i < n; ++i) note(batch[i]);
  }
  for (int i = 0; i < kFibers; ++i) ASSERT_EQ(seen[i].load(), 1) << "fiber " << i + 1;
}

INSTANTIATE_TEST_SUITE_P(SoloAndShared, RunQueueTest, testing::Bool());

}  // namespace
}  // namespace gonet::fiber_internal
