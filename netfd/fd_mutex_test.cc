// Tests of netfd/fd_mutex.h (Go's fdMutex, docs/behavior.md §1): the state
// word layout, reference counting and close, read/write lock exclusion, close waking
// queued fibers, and the fatal misuse errors. Fiber tests run at procs 1, 2 and 8.
#include "netfd/fd_mutex.h"

#include <atomic>
#include <cstdint>
#include <optional>
#include <thread>

#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "netfd/test_util.h"
#include "testing/leak_check_gtest.h"

namespace gonet::netfd {
namespace {

using gonet::leak_check::RunChecked;

constexpr uint64_t kCount = 1048575;  // 2^20 - 1: the largest value of each counter

uint64_t Refs(uint64_t s) { return (s & FdMutex::kRefMask) / FdMutex::kRef; }
uint64_t RWaiters(uint64_t s) { return (s & FdMutex::kRMask) / FdMutex::kRWait; }
uint64_t WWaiters(uint64_t s) { return (s & FdMutex::kWMask) / FdMutex::kWWait; }

// Spins (yielding the worker to other fibers) until pred() holds. Used to wait until
// fibers have queued on the mutex, which is only visible in its state word.
template <class Pred>
void YieldUntil(Pred pred) {
  while (!pred()) gonet::Yield();
}

// ---------------------------------------------------------------- single-threaded

TEST(FdMutexLayout, ConstantsMatchGoLayout) {
  EXPECT_EQ(FdMutex::kClosed, uint64_t{1} << 0);
  EXPECT_EQ(FdMutex::kRLock, uint64_t{1} << 1);
  EXPECT_EQ(FdMutex::kWLock, uint64_t{1} << 2);
  EXPECT_EQ(FdMutex::kRef, uint64_t{1} << 3);
  EXPECT_EQ(FdMutex::kRefMask, kCount << 3);
  EXPECT_EQ(FdMutex::kRWait, uint64_t{1} << 23);
  EXPECT_EQ(FdMutex::kRMask, kCount << 23);
  EXPECT_EQ(FdMutex::kWWait, uint64_t{1} << 43);
  EXPECT_EQ(FdMutex::kWMask, kCount << 43);
  // The fields are disjoint and cover bits 0..62; bit 63 is unused.
  const uint64_t fields[] = {FdMutex::kClosed, FdMutex::kRLock, FdMutex::kWLock,
                             FdMutex::kRefMask, FdMutex::kRMask, FdMutex::kWMask};
  uint64_t all = 0;
  for (uint64_t f : fields) {
    EXPECT_EQ(all & f, 0u) << std::hex << f;
    all |= f;
  }
  EXPECT_EQ(all, (uint64_t{1} << 63) - 1);
}

TEST(FdMutexRefs, IncRefDecRefReturnValues) {
  FdMutex mu;
  EXPECT_EQ(mu.state_for_test(), 0u);
  EXPECT_TRUE(mu.IncRef());
  EXPECT_TRUE(mu.IncRef());
  EXPECT_EQ(mu.state_for_test(), 2 * FdMutex::kRef);
  // Not closed: dropping references never asks the caller to destroy.
  EXPECT_FALSE(mu.DecRef());
  EXPECT_FALSE(mu.DecRef());
  EXPECT_EQ(mu.state_for_test(), 0u);
}

TEST(FdMutexRefs, CloseIsOnceAndLastDecRefDestroys) {
  FdMutex mu;
  ASSERT_TRUE(mu.IncRef());  // an in-flight operation
  EXPECT_TRUE(mu.IncRefAndClose());
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed | 2 * FdMutex::kRef);
  // A second close fails and changes nothing.
  EXPECT_FALSE(mu.IncRefAndClose());
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed | 2 * FdMutex::kRef);
  // New references and locks are refused once closed.
  EXPECT_FALSE(mu.IncRef());
  EXPECT_FALSE(mu.RWLock(true));
  EXPECT_FALSE(mu.RWLock(false));
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed | 2 * FdMutex::kRef);
  // Close's own reference goes first: not the last one.
  EXPECT_FALSE(mu.DecRef());
  // The in-flight operation drops the last one and must destroy.
  EXPECT_TRUE(mu.DecRef());
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed);
}

TEST(FdMutexRefs, CloseWithNoOtherHolderDestroysAtOnce) {
  FdMutex mu;
  EXPECT_TRUE(mu.IncRefAndClose());
  EXPECT_TRUE(mu.DecRef());
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed);
}

TEST(FdMutexLocks, LockBitsAndRefs) {
  FdMutex mu;
  // Uncontended locks never park, so they work outside a fiber.
  ASSERT_TRUE(mu.RWLock(true));
  EXPECT_EQ(mu.state_for_test(), FdMutex::kRLock | FdMutex::kRef);
  // The write lock is independent of the read lock.
  ASSERT_TRUE(mu.RWLock(false));
  EXPECT_EQ(mu.state_for_test(), FdMutex::kRLock | FdMutex::kWLock | 2 * FdMutex::kRef);
  EXPECT_FALSE(mu.RWUnlock(true));
  EXPECT_EQ(mu.state_for_test(), FdMutex::kWLock | FdMutex::kRef);
  EXPECT_FALSE(mu.RWUnlock(false));
  EXPECT_EQ(mu.state_for_test(), 0u);
}

TEST(FdMutexLocks, CloseKeepsHeldLockBitsAndLastUnlockDestroys) {
  FdMutex mu;
  ASSERT_TRUE(mu.RWLock(true));
  ASSERT_TRUE(mu.RWLock(false));
  ASSERT_TRUE(mu.IncRefAndClose());
  // Close does not clear lock bits: their holders do, in their own unlock.
  EXPECT_EQ(mu.state_for_test(),
            FdMutex::kClosed | FdMutex::kRLock | FdMutex::kWLock | 3 * FdMutex::kRef);
  EXPECT_FALSE(mu.DecRef());  // Close's reference
  EXPECT_FALSE(mu.RWUnlock(false));
  EXPECT_TRUE(mu.RWUnlock(true));  // last reference, closed: destroy
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed);
}

TEST(FdMutexRefs, MaxRefsFitThenNoneLeak) {
  FdMutex mu;
  for (uint64_t i = 0; i < kCount; ++i) ASSERT_TRUE(mu.IncRef());
  EXPECT_EQ(Refs(mu.state_for_test()), kCount);
  EXPECT_EQ(mu.state_for_test() & ~FdMutex::kRefMask, 0u);  // no carry into other fields
  for (uint64_t i = 0; i < kCount; ++i) ASSERT_FALSE(mu.DecRef());
  EXPECT_EQ(mu.state_for_test(), 0u);
}

// ---------------------------------------------------------------- death tests

TEST(FdMutexDeathTest, ReadUnlockWithoutLockIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        FdMutex mu;
        mu.RWUnlock(true);
      },
      "inconsistent poll.fdMutex");
}

TEST(FdMutexDeathTest, WriteUnlockWhileOnlyReadLockedIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        FdMutex mu;
        if (mu.RWLock(true)) mu.RWUnlock(false);
      },
      "inconsistent poll.fdMutex");
}

TEST(FdMutexDeathTest, DecRefAtZeroIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        FdMutex mu;
        mu.DecRef();
      },
      "inconsistent poll.fdMutex");
}

TEST(FdMutexDeathTest, DecRefAfterLastDestroyIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        FdMutex mu;
        if (mu.IncRefAndClose() && mu.DecRef()) mu.DecRef();
      },
      "inconsistent poll.fdMutex");
}

TEST(FdMutexDeathTest, RefOverflowIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        FdMutex mu;
        for (uint64_t i = 0; i <= kCount; ++i) mu.IncRef();
      },
      "too many concurrent operations on a single file or socket \\(max 1048575\\)");
}

// ---------------------------------------------------------------- with fibers

class FdMutexFiberTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// Many fibers take the same lock (read or write) in a loop, holding it across
// scheduling points; nobody may ever be inside together with another holder.
void CheckSerializes(bool read, RuntimeOptions opts) {
  constexpr int kFibers = 16;
  constexpr int kIters = 300;
  FdMutex mu;
  int64_t counter = 0;  // deliberately not atomic: only the lock protects it
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  std::atomic<uint64_t> max_queued{0};
  std::atomic<int> failures{0};
  RunChecked([&] {
    fiber::WaitGroup wg;
    for (int f = 0; f < kFibers; ++f) {
      wg.Add(1);
      gonet::Go([&, f] {
        for (int i = 0; i < kIters; ++i) {
          if (!mu.RWLock(read)) {
            failures.fetch_add(1);
            break;
          }
          if (inside.fetch_add(1) != 0) overlaps.fetch_add(1);
          int64_t v = counter;
          if ((i + f) % 3 == 0) gonet::Yield();  // let others run into the held lock
          counter = v + 1;
          uint64_t s = mu.state_for_test();
          uint64_t q = read ? RWaiters(s) : WWaiters(s);
          uint64_t m = max_queued.load();
          while (q > m && !max_queued.compare_exchange_weak(m, q)) {
          }
          inside.fetch_sub(1);
          if (mu.RWUnlock(read)) failures.fetch_add(1);  // never "destroy": not closed
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, opts);
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(counter, int64_t{kFibers} * kIters);
  if (opts.procs == 1) {
    // With one worker, a holder that yields always lets another fiber queue.
    EXPECT_GT(max_queued.load(), 0u);
  }
  EXPECT_EQ(mu.state_for_test(), 0u);
}

TEST_P(FdMutexFiberTest, ReadersSerializeWithReaders) { CheckSerializes(true, Opts()); }
TEST_P(FdMutexFiberTest, WritersSerializeWithWriters) { CheckSerializes(false, Opts()); }

// A fiber queued on one lock neither blocks nor is blocked by the other lock; queued
// fibers are counted in the state word and each gets the lock after an unlock.
void CheckQueueAndOtherLockFree(bool read, RuntimeOptions opts) {
  constexpr int kWaiters = 5;
  FdMutex mu;
  std::atomic<int> got{0};
  bool other_lock_ok = false;
  uint64_t queued_state = 0;
  RunChecked([&] {
    fiber::WaitGroup wg;
    ASSERT_TRUE(mu.RWLock(read));
    for (int i = 0; i < kWaiters; ++i) {
      wg.Add(1);
      gonet::Go([&] {
        if (mu.RWLock(read)) {
          got.fetch_add(1);
          mu.RWUnlock(read);
        }
        wg.Done();
      });
    }
    YieldUntil([&] {
      uint64_t s = mu.state_for_test();
      return (read ? RWaiters(s) : WWaiters(s)) == kWaiters;
    });
    queued_state = mu.state_for_test();
    // The other direction's lock is free although this one has a queue: a reader and
    // a writer run in parallel. (A hang here would mean the directions share a lock.)
    other_lock_ok = mu.RWLock(!read);
    if (other_lock_ok) mu.RWUnlock(!read);
    EXPECT_EQ(got.load(), 0);  // nobody got past the held lock meanwhile
    mu.RWUnlock(read);
    wg.Wait();
  }, opts);
  const uint64_t bit = read ? FdMutex::kRLock : FdMutex::kWLock;
  const uint64_t unit = read ? FdMutex::kRWait : FdMutex::kWWait;
  EXPECT_EQ(queued_state, bit | FdMutex::kRef | kWaiters * unit);
  EXPECT_TRUE(other_lock_ok);
  EXPECT_EQ(got.load(), kWaiters);
  EXPECT_EQ(mu.state_for_test(), 0u);
}

TEST_P(FdMutexFiberTest, ReadQueueLeavesWriteLockFree) { CheckQueueAndOtherLockFree(true, Opts()); }
TEST_P(FdMutexFiberTest, WriteQueueLeavesReadLockFree) {
  CheckQueueAndOtherLockFree(false, Opts());
}

TEST_P(FdMutexFiberTest, ReaderAndWriterHoldLocksConcurrently) {
  // The reader holds its lock until it hears from the writer, which needs the write lock
  // to speak: this completes only if both locks are held at the same time.
  FdMutex mu;
  bool writer_got = false, reader_saw = false;
  RunChecked([&] {
    fiber::WaitGroup wg;
    fiber::Mutex m;
    fiber::CondVar cv;
    bool said = false;
    ASSERT_TRUE(mu.RWLock(true));
    wg.Add(1);
    gonet::Go([&] {
      writer_got = mu.RWLock(false);
      {
        fiber::MutexLock l(&m);
        said = true;
      }
      cv.Signal();
      if (writer_got) mu.RWUnlock(false);
      wg.Done();
    });
    {
      fiber::MutexLock l(&m);
      while (!said) cv.Wait(&m);
    }
    reader_saw = (mu.state_for_test() & FdMutex::kRLock) != 0;
    mu.RWUnlock(true);
    wg.Wait();
  }, Opts());
  EXPECT_TRUE(writer_got);
  EXPECT_TRUE(reader_saw);
  EXPECT_EQ(mu.state_for_test(), 0u);
}

TEST_P(FdMutexFiberTest, CloseWakesQueuedFibersAndTheyFail) {
  constexpr int kReaders = 4;
  constexpr int kWriters = 3;
  FdMutex mu;
  std::atomic<int> lock_true{0}, lock_false{0};
  uint64_t before_close = 0, after_close = 0;
  bool unlock_r = true, unlock_w = true, decref = false;
  RunChecked([&] {
    fiber::WaitGroup wg;
    ASSERT_TRUE(mu.RWLock(true));
    ASSERT_TRUE(mu.RWLock(false));
    for (int i = 0; i < kReaders + kWriters; ++i) {
      const bool read = i < kReaders;
      wg.Add(1);
      gonet::Go([&, read] {
        if (mu.RWLock(read)) {
          lock_true.fetch_add(1);
          mu.RWUnlock(read);
        } else {
          lock_false.fetch_add(1);
        }
        wg.Done();
      });
    }
    YieldUntil([&] {
      uint64_t s = mu.state_for_test();
      return RWaiters(s) == kReaders && WWaiters(s) == kWriters;
    });
    before_close = mu.state_for_test();
    EXPECT_TRUE(mu.IncRefAndClose());
    after_close = mu.state_for_test();
    wg.Wait();  // every queued fiber woke up and left
    unlock_r = mu.RWUnlock(true);
    unlock_w = mu.RWUnlock(false);
    decref = mu.DecRef();
  }, Opts());
  EXPECT_EQ(before_close, FdMutex::kRLock | FdMutex::kWLock | 2 * FdMutex::kRef |
                              kReaders * FdMutex::kRWait | kWriters * FdMutex::kWWait);
  // Waiter counts cleared in the same step that set kClosed.
  EXPECT_EQ(after_close,
            FdMutex::kClosed | FdMutex::kRLock | FdMutex::kWLock | 3 * FdMutex::kRef);
  EXPECT_EQ(lock_true.load(), 0);
  EXPECT_EQ(lock_false.load(), kReaders + kWriters);
  EXPECT_FALSE(unlock_r);
  EXPECT_FALSE(unlock_w);
  EXPECT_TRUE(decref);
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed);
}

TEST_P(FdMutexFiberTest, ConcurrentClosersExactlyOneWins) {
  constexpr int kClosers = 8;
  FdMutex mu;
  std::atomic<int> wins{0}, destroys{0};
  RunChecked([&] {
    fiber::WaitGroup wg;
    ASSERT_TRUE(mu.IncRef());  // keeps the fd alive until everyone tried
    for (int i = 0; i < kClosers; ++i) {
      wg.Add(1);
      gonet::Go([&] {
        if (mu.IncRefAndClose()) {
          wins.fetch_add(1);
          if (mu.DecRef()) destroys.fetch_add(1);
        }
        wg.Done();
      });
    }
    wg.Wait();
    if (mu.DecRef()) destroys.fetch_add(1);
  }, Opts());
  EXPECT_EQ(wins.load(), 1);
  EXPECT_EQ(destroys.load(), 1);
  EXPECT_EQ(mu.state_for_test(), FdMutex::kClosed);
}

// FiberSema: a thread (not a fiber) waiting in Acquire is released by a fiber.
TEST_P(FdMutexFiberTest, FiberSemaReleasesPlainThreadWaiter) {
  FiberSema sema;
  std::atomic<bool> acquired{false};
  RunChecked([&] {
    // The waiting thread is started from the fiber: Acquire() outside a fiber yields
    // the thread until a token arrives.
    std::atomic<bool> started{false};
    std::thread t([&] {
      started.store(true);
      sema.Acquire();
      acquired.store(true);
    });
    YieldUntil([&] { return started.load(); });
    sema.Release();
    t.join();  // blocks this worker briefly; the thread needs no fiber to proceed
  }, Opts());
  EXPECT_TRUE(acquired.load());
}

// A fiber queued for a held lock shows "semacquire" (DumpFibers' view).
TEST_P(FdMutexFiberTest, QueuedFiberShowsSemacquire) {
  std::optional<fiber_internal::WaitInfo> info;
  RunChecked([&] {
    FdMutex mu;
    ASSERT_TRUE(mu.RWLock(true));
    std::atomic<uint64_t> waiter{0};
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&] {
      waiter.store(test::CurrentFiberId());
      EXPECT_TRUE(mu.RWLock(true));
      EXPECT_FALSE(mu.RWUnlock(true));
      wg.Done();
    });
    info = test::WaitParked(&waiter);
    EXPECT_FALSE(mu.RWUnlock(true));
    wg.Wait();
  }, Opts());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->reason, fiber_internal::WaitReason::kSemacquire);
}

INSTANTIATE_TEST_SUITE_P(Procs, FdMutexFiberTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet::netfd
