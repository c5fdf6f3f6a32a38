// Tests of fiber/sync.h's RWMutex and Once, at procs 1, 2 and 4, and from plain
// threads.
#include <atomic>
#include <future>
#include <optional>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/fiber_wait.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using fiber_internal::WaitReason;
using gonet::leak_check::RunChecked;

using leak_check::CurrentFiberId;
using leak_check::WaitParked;

class RWMutexTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// ---------------------------------------------------------------- RWMutex

// Many readers and writers; readers and writers never overlap, writers never overlap
// each other, and every write lands.
TEST_P(RWMutexTest, ExcludesUnderContention) {
  constexpr int kReaders = 32;
  constexpr int kWriters = 8;
  constexpr int kIters = 1000;
  int64_t counter = 0;  // deliberately not atomic: only the lock protects it
  std::atomic<int> readers_inside{0};
  std::atomic<int> writers_inside{0};
  std::atomic<int> violations{0};
  std::atomic<int> max_readers{0};
  RunChecked([&] {
    fiber::RWMutex mu;
    fiber::WaitGroup wg;
    wg.Add(kReaders + kWriters);
    for (int f = 0; f < kReaders; ++f) {
      Go([&, f] {
        for (int i = 0; i < kIters; ++i) {
          fiber::ReaderMutexLock l(&mu);
          const int n = readers_inside.fetch_add(1) + 1;
          int m = max_readers.load();
          while (n > m && !max_readers.compare_exchange_weak(m, n)) {
          }
          if (writers_inside.load() != 0) violations.fetch_add(1);
          const int64_t seen = counter;
          if ((i + f) % 16 == 0) Yield();  // hold it across a scheduling point
          if (counter != seen) violations.fetch_add(1);
          readers_inside.fetch_sub(1);
        }
        wg.Done();
      });
    }
    for (int f = 0; f < kWriters; ++f) {
      Go([&, f] {
        for (int i = 0; i < kIters; ++i) {
          fiber::WriterMutexLock l(&mu);
          if (writers_inside.fetch_add(1) != 0) violations.fetch_add(1);
          if (readers_inside.load() != 0) violations.fetch_add(1);
          const int64_t v = counter;
          if ((i + f) % 8 == 0) Yield();
          counter = v + 1;
          writers_inside.fetch_sub(1);
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(violations.load(), 0);
  EXPECT_EQ(counter, int64_t{kWriters} * kIters);
  EXPECT_GT(max_readers.load(), 1);  // readers did share it (they yield while holding it)
}

TEST_P(RWMutexTest, WorksWithStdLocks) {
  int counter = 0;
  RunChecked([&] {
    fiber::RWMutex mu;
    fiber::WaitGroup wg;
    for (int f = 0; f < 8; ++f) {
      wg.Add(1);
      Go([&, f] {
        for (int i = 0; i < 300; ++i) {
          if (f % 2 == 0) {
            std::scoped_lock l(mu);
            int v = counter;
            if (i % 50 == 0) Yield();
            counter = v + 1;
          } else {
            std::shared_lock l(mu);
            (void)counter;
          }
        }
        wg.Done();
      });
    }
    wg.Wait();
  }, Opts());
  EXPECT_EQ(counter, 4 * 300);
}

// A writer waiting in Lock blocks new readers until it has had the lock; the reader
// that already held it finishes first.
TEST_P(RWMutexTest, WaitingWriterBlocksNewReaders) {
  std::optional<WaitReason> writer_wait, reader_wait;
  bool wrote_while_read_locked = true;
  bool try_rlock_with_writer_waiting = true;
  bool reader_saw_write = false;
  RunChecked([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    fiber::RWMutex mu;
    bool wrote = false;  // guarded by mu
    std::atomic<uint64_t> writer_id{0}, reader_id{0};
    fiber::WaitGroup done;
    mu.RLock();
    done.Add(2);
    Go([&] {
      writer_id.store(CurrentFiberId());
      mu.Lock();
      wrote = true;
      mu.Unlock();
      done.Done();
    });
    writer_wait = WaitParked(&writer_id);
    try_rlock_with_writer_waiting = mu.TryRLock();
    if (try_rlock_with_writer_waiting) mu.RUnlock();
    Go([&] {
      reader_id.store(CurrentFiberId());
      mu.RLock();  // only readers hold it, but a writer waits: queue behind it
      reader_saw_write = wrote;
      mu.RUnlock();
      done.Done();
    });
    reader_wait = WaitParked(&reader_id);
    wrote_while_read_locked = wrote;
    mu.RUnlock();  // the last old reader leaves: the writer goes, then the new reader
    done.Wait();
  }, Opts());
  EXPECT_EQ(writer_wait, WaitReason::kMutex);
  EXPECT_EQ(reader_wait, WaitReason::kMutex);
  EXPECT_FALSE(try_rlock_with_writer_waiting);
  EXPECT_FALSE(wrote_while_read_locked);
  EXPECT_TRUE(reader_saw_write);
}

// Several writers queue behind readers and each other; every reader blocked behind
// them gets in after the first writer's Unlock.
TEST_P(RWMutexTest, UnlockReleasesEveryQueuedReader) {
  constexpr int kNewReaders = 16;
  std::atomic<int> readers_done{0};
  RunChecked([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    fiber::RWMutex mu;
    std::vector<std::atomic<uint64_t>> reader_ids(kNewReaders);
    fiber::WaitGroup done;
    mu.Lock();
    done.Add(kNewReaders);
    for (int i = 0; i < kNewReaders; ++i) {
      Go([&, i] {
        reader_ids[i].store(CurrentFiberId());
        {
          fiber::ReaderMutexLock l(&mu);
          readers_done.fetch_add(1);
        }  // read lock released before Done: the main fiber's TryLock below needs it free
        done.Done();
      });
    }
    for (auto& id : reader_ids) EXPECT_EQ(WaitParked(&id), WaitReason::kMutex);
    EXPECT_EQ(readers_done.load(), 0);
    mu.Unlock();
    done.Wait();
    ASSERT_TRUE(mu.TryLock());
    mu.Unlock();
  }, Opts());
  EXPECT_EQ(readers_done.load(), kNewReaders);
}

// The analysis cannot follow ASSERT_TRUE(mu.TryLock()): this test drives the API by hand.
TEST_P(RWMutexTest, TryLockAndTryRLock) {
  RunChecked([]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    fiber::RWMutex mu;
    EXPECT_TRUE(mu.TryRLock());
    EXPECT_TRUE(mu.TryRLock());  // readers share it
    EXPECT_FALSE(mu.TryLock());
    mu.RUnlock();
    EXPECT_FALSE(mu.TryLock());  // one reader left
    mu.RUnlock();
    EXPECT_TRUE(mu.TryLock());
    EXPECT_FALSE(mu.TryLock());
    EXPECT_FALSE(mu.TryRLock());
    bool other_got_it = true;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      other_got_it = mu.TryRLock() || mu.TryLock();
      wg.Done();
    });
    wg.Wait();
    EXPECT_FALSE(other_got_it);
    mu.Unlock();
    EXPECT_TRUE(mu.TryRLock());
    mu.RUnlock();
    mu.Lock();
    mu.Unlock();
    mu.RLock();
    EXPECT_FALSE(mu.TryLock());
    mu.RUnlock();
    EXPECT_TRUE(mu.TryLock());
    mu.Unlock();
  }, Opts());
}

// Misuse on purpose: hidden from the thread-safety analysis.
void RUnlockOf(fiber::RWMutex* mu) ABSL_NO_THREAD_SAFETY_ANALYSIS { mu->RUnlock(); }
void UnlockOf(fiber::RWMutex* mu) ABSL_NO_THREAD_SAFETY_ANALYSIS { mu->Unlock(); }
void LockOf(fiber::RWMutex* mu) ABSL_NO_THREAD_SAFETY_ANALYSIS { mu->Lock(); }
void RLockOf(fiber::RWMutex* mu) ABSL_NO_THREAD_SAFETY_ANALYSIS { mu->RLock(); }

TEST(RWMutexDeathTest, RUnlockOfUnlockedIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        fiber::RWMutex mu;
        RUnlockOf(&mu);
      },
      "fatal error: sync: RUnlock of unlocked RWMutex");
  EXPECT_DEATH(gonet::Run([] {
                 fiber::RWMutex mu;
                 LockOf(&mu);
                 RUnlockOf(&mu);  // write-locked, not read-locked
               }, {.procs = 1}),
               "fatal error: sync: RUnlock of unlocked RWMutex");
}

TEST(RWMutexDeathTest, UnlockOfUnlockedIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        fiber::RWMutex mu;
        UnlockOf(&mu);
      },
      "fatal error: sync: Unlock of unlocked RWMutex");
  EXPECT_DEATH(gonet::Run([] {
                 fiber::RWMutex mu;
                 RLockOf(&mu);
                 UnlockOf(&mu);  // read-locked, not write-locked
               }, {.procs = 2}),
               "fatal error: sync: Unlock of unlocked RWMutex");
}

TEST(RWMutexDeathTest, WaitingOutsideAFiberIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        fiber::RWMutex mu;
        LockOf(&mu);
        RLockOf(&mu);
      },
      "RWMutex::RLock would block outside a fiber");
  EXPECT_DEATH(
      {
        fiber::RWMutex mu;
        RLockOf(&mu);
        LockOf(&mu);
      },
      "RWMutex::Lock would block outside a fiber");
}

// Uncontended calls never wait, so they work on a plain thread outside any Run; an
// Unlock from a plain thread wakes a fiber parked in RLock.
TEST(RWMutexThreadTest, PlainThreads) {
  fiber::RWMutex mu;
  int value = 0;
  std::thread([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    { fiber::WriterMutexLock l(&mu); value = 1; }
    { fiber::ReaderMutexLock l(&mu); EXPECT_EQ(value, 1); }
    EXPECT_TRUE(mu.TryLock());
    mu.Unlock();
  }).join();
  { fiber::ReaderMutexLock l(&mu); EXPECT_EQ(value, 1); }

  bool reader_saw = false;
  RunChecked([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    fiber::WaitGroup locked, read;
    std::promise<void> go_unlock;
    std::atomic<uint64_t> reader_id{0};
    locked.Add(1);
    std::thread writer([&] {
      mu.Lock();
      value = 2;
      locked.Done();  // WaitGroup::Done from a plain thread
      go_unlock.get_future().wait();
      mu.Unlock();  // wakes the parked reader fiber
    });
    locked.Wait();
    read.Add(1);
    Go([&] {
      reader_id.store(CurrentFiberId());
      fiber::ReaderMutexLock l(&mu);
      reader_saw = value == 2;
      read.Done();
    });
    EXPECT_EQ(WaitParked(&reader_id), WaitReason::kMutex);
    go_unlock.set_value();
    read.Wait();
    Blocking([&] { writer.join(); });
  }, {.procs = 2});
  EXPECT_TRUE(reader_saw);
}

// ---------------------------------------------------------------- Once

// Concurrent Do calls: f runs once, and every caller returns only after it finished
// (the others park meanwhile).
TEST_P(RWMutexTest, OnceRunsOnceAndCallersWaitForIt) {
  constexpr int kCallers = 16;
  std::atomic<int> calls{0};
  std::atomic<int> returned_early{0};
  std::atomic<int> returned{0};
  RunChecked([&] {
    fiber::Once once;
    std::atomic<bool> finished{false};
    std::atomic<uint64_t> runner_id{0};
    std::vector<std::atomic<uint64_t>> ids(kCallers);
    fiber::WaitGroup in_f, gate, arrived, done;
    in_f.Add(1);
    gate.Add(1);
    arrived.Add(kCallers);
    done.Add(kCallers);
    for (int i = 0; i < kCallers; ++i) {
      Go([&, i] {
        ids[i].store(CurrentFiberId());
        arrived.Done();
        once.Do([&] {
          calls.fetch_add(1);
          runner_id.store(CurrentFiberId());
          in_f.Done();
          gate.Wait();  // parks inside f while the others call Do
          finished.store(true);
        });
        if (!finished.load()) returned_early.fetch_add(1);
        returned.fetch_add(1);
        done.Done();
      });
    }
    arrived.Wait();
    in_f.Wait();
    for (auto& id : ids) {
      if (id.load() != runner_id.load()) {
        EXPECT_EQ(WaitParked(&id), WaitReason::kMutex);
      }
    }
    EXPECT_EQ(returned.load(), 0);
    gate.Done();
    done.Wait();
    once.Do([&] { calls.fetch_add(1); });  // done: a no-op
  }, Opts());
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(returned_early.load(), 0);
  EXPECT_EQ(returned.load(), kCallers);
}

// A throwing f counts as done (Go: a panicking f has returned): the exception reaches
// its caller only, a caller waiting meanwhile returns normally, and f never runs again.
TEST_P(RWMutexTest, OnceWithThrowingFunctionCountsAsDone) {
  int later_calls = 0;
  bool thrower_caught = false;
  bool waiter_threw = false;
  RunChecked([&] {
    fiber::Once once;
    fiber::WaitGroup in_f, gate, done;
    std::atomic<uint64_t> waiter_id{0};
    in_f.Add(1);
    gate.Add(1);
    done.Add(2);
    Go([&] {
      try {
        once.Do([&] {
          in_f.Done();
          gate.Wait();
          throw std::runtime_error("boom");
        });
      } catch (const std::runtime_error& e) {
        thrower_caught = std::string(e.what()) == "boom";
      }
      done.Done();
    });
    in_f.Wait();
    Go([&] {
      waiter_id.store(CurrentFiberId());
      try {
        once.Do([&] { ++later_calls; });
      } catch (...) {
        waiter_threw = true;
      }
      done.Done();
    });
    EXPECT_EQ(WaitParked(&waiter_id), WaitReason::kMutex);
    gate.Done();
    done.Wait();
    once.Do([&] { ++later_calls; });
  }, Opts());
  EXPECT_TRUE(thrower_caught);
  EXPECT_FALSE(waiter_threw);
  EXPECT_EQ(later_calls, 0);
}

TEST(OnceThreadTest, PlainThreads) {
  fiber::Once once;
  int calls = 0;
  std::thread([&] { once.Do([&] { ++calls; }); }).join();
  std::thread([&] { once.Do([&] { ++calls; }); }).join();
  once.Do([&] { ++calls; });
  EXPECT_EQ(calls, 1);

  fiber::Once throws;
  std::thread([&] {
    EXPECT_THROW(throws.Do([] { throw std::runtime_error("x"); }), std::runtime_error);
  }).join();
  throws.Do([&] { ++calls; });
  EXPECT_EQ(calls, 1);
}

INSTANTIATE_TEST_SUITE_P(Procs, RWMutexTest, testing::Values(1, 2, 4));

}  // namespace
}  // namespace gonet
