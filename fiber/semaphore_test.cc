// Tests of fiber::Semaphore (fiber/sync.h), at procs 1 and 2.
//
// Semantics follow golang.org/x/sync/semaphore's source at v0.1.0 (FIFO waiters, a
// large request at the front holds back smaller ones, a request over the size waits
// for ctx only, a waiter at the front that gives up lets the next ones through, units
// granted as ctx ends are kept), plus one rule of later x/sync releases: a ctx already
// done fails even when the units are free. x/sync is not available offline, so there
// is no Go-observed output for it; the only texts here that Go prints are the context
// errors ("context canceled", "context deadline exceeded"), which
// tests/go_observed/timer_context checks against go1.19 (see //fiber:context_test),
// and the panic text "semaphore: released more than held", quoted from the source.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/context.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/fiber_wait.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using fiber::Channel;
using fiber::Semaphore;
using fiber::WaitGroup;
using fiber_internal::WaitReason;
using leak_check::CurrentFiberId;
using leak_check::RunChecked;
using leak_check::WaitParked;

class SemaphoreTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

void ExpectCanceled(const absl::Status& s) {
  EXPECT_EQ(s.code(), absl::StatusCode::kCancelled) << s;
  EXPECT_EQ(s.message(), "context canceled");
}

// A fiber that calls s->Acquire(ctx, n) and reports the result on `result`; its id
// goes to *id so the test can wait until it is parked (queued).
void GoAcquire(Semaphore* s, Context ctx, int64_t n, Channel<absl::Status>* result,
               std::atomic<uint64_t>* id) {
  Go([=] {
    id->store(CurrentFiberId());
    result->Send(s->Acquire(ctx, n));
  });
}

// Nothing on `ch` yet (checked without waiting).
template <class T>
bool Empty(Channel<T>& ch) {
  bool closed = false;
  return !ch.TryRecv(&closed).has_value() && !closed;
}

TEST_P(SemaphoreTest, TryAcquireAndReleaseAccounting) {
  RunChecked([] {
    Semaphore s(10);
    EXPECT_TRUE(s.TryAcquire(3));
    EXPECT_TRUE(s.TryAcquire(7));
    EXPECT_FALSE(s.TryAcquire(1));  // full
    EXPECT_TRUE(s.TryAcquire(0));   // zero always fits an empty queue (as Go)
    s.Release(5);
    EXPECT_FALSE(s.TryAcquire(6));
    EXPECT_TRUE(s.TryAcquire(5));
    s.Release(10);
    EXPECT_FALSE(s.TryAcquire(11));  // more than the size: never
    EXPECT_TRUE(s.TryAcquire(10));
    s.Release(4);
    s.Release(6);
    // Free again: Acquire takes it without waiting.
    EXPECT_TRUE(s.Acquire(Background(), 10).ok());
    EXPECT_FALSE(s.TryAcquire(1));
    s.Release(10);
    EXPECT_TRUE(s.TryAcquire(10));
    s.Release(10);
  }, Opts());
}

// A waiter for 5 at the front holds back a later request for 1, though 1 would fit;
// TryAcquire fails too while anyone queues.
TEST_P(SemaphoreTest, BigRequestAtFrontBlocksLaterSmallOne) {
  RunChecked([] {
    Semaphore s(10);
    ASSERT_TRUE(s.TryAcquire(8));  // 2 free
    Channel<absl::Status> big_done(1), small_done(1);
    std::atomic<uint64_t> big_id{0}, small_id{0};
    GoAcquire(&s, Background(), 5, &big_done, &big_id);
    ASSERT_EQ(WaitParked(&big_id), WaitReason::kSelect);
    GoAcquire(&s, Background(), 1, &small_done, &small_id);
    ASSERT_EQ(WaitParked(&small_id), WaitReason::kSelect);
    EXPECT_TRUE(Empty(small_done));  // 2 free, yet it waits behind the 5
    EXPECT_FALSE(s.TryAcquire(1));

    s.Release(3);  // 5 free: the big one gets them, none left for the small one
    std::optional<absl::Status> r = big_done.Recv();
    ASSERT_TRUE(r.has_value() && r->ok()) << (r ? r->ToString() : "closed");
    EXPECT_TRUE(Empty(small_done));
    EXPECT_EQ(WaitParked(&small_id), WaitReason::kSelect);

    s.Release(5);  // our remaining 5: now the small one
    r = small_done.Recv();
    ASSERT_TRUE(r.has_value() && r->ok());
    s.Release(5);  // the big one's
    s.Release(1);  // the small one's
    EXPECT_TRUE(s.TryAcquire(10));
    s.Release(10);
  }, Opts());
}

// Waiters queued one after the other get the units in that order.
TEST_P(SemaphoreTest, WaitersAreServedFifo) {
  RunChecked([] {
    constexpr int kWaiters = 6;
    Semaphore s(1);
    ASSERT_TRUE(s.TryAcquire(1));
    Channel<int> order(kWaiters);
    std::atomic<uint64_t> ids[kWaiters] = {};
    WaitGroup wg;
    for (int i = 0; i < kWaiters; ++i) {
      wg.Add(1);
      Go([&, i] {
        ids[i].store(CurrentFiberId());
        EXPECT_TRUE(s.Acquire(Background(), 1).ok());
        order.Send(i);  // one holder at a time: sends come in grant order
        s.Release(1);
        wg.Done();
      });
      ASSERT_EQ(WaitParked(&ids[i]), WaitReason::kSelect);  // queued before the next
    }
    s.Release(1);
    for (int i = 0; i < kWaiters; ++i) EXPECT_EQ(order.Recv(), i);
    wg.Wait();
    EXPECT_TRUE(s.TryAcquire(1));
    s.Release(1);
  }, Opts());
}

TEST_P(SemaphoreTest, CancelWhileWaitingReturnsCanceled) {
  RunChecked([] {
    Semaphore s(1);
    ASSERT_TRUE(s.TryAcquire(1));
    auto [ctx, cancel] = WithCancel(Background());
    Channel<absl::Status> done(1);
    std::atomic<uint64_t> id{0};
    GoAcquire(&s, ctx, 1, &done, &id);
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    cancel();
    std::optional<absl::Status> r = done.Recv();
    ASSERT_TRUE(r.has_value());
    ExpectCanceled(*r);
    // It left the queue and took nothing: ours is the only unit held.
    s.Release(1);
    EXPECT_TRUE(s.TryAcquire(1));
    s.Release(1);
  }, Opts());
}

// The front waiter gives up: the ones behind it that now fit proceed at once, FIFO.
TEST_P(SemaphoreTest, CanceledFrontWaiterLetsTheNextThrough) {
  RunChecked([] {
    Semaphore s(10);
    ASSERT_TRUE(s.TryAcquire(6));  // 4 free
    auto [ctx, cancel] = WithCancel(Background());
    Channel<absl::Status> a_done(1), b_done(1), c_done(1);
    std::atomic<uint64_t> a_id{0}, b_id{0}, c_id{0};
    GoAcquire(&s, ctx, 5, &a_done, &a_id);  // front: 5 > 4
    ASSERT_EQ(WaitParked(&a_id), WaitReason::kSelect);
    GoAcquire(&s, Background(), 3, &b_done, &b_id);  // fits, but queues behind a
    ASSERT_EQ(WaitParked(&b_id), WaitReason::kSelect);
    GoAcquire(&s, Background(), 2, &c_done, &c_id);
    ASSERT_EQ(WaitParked(&c_id), WaitReason::kSelect);

    cancel();
    std::optional<absl::Status> r = a_done.Recv();
    ASSERT_TRUE(r.has_value());
    ExpectCanceled(*r);
    r = b_done.Recv();  // 3 of the 4 free
    ASSERT_TRUE(r.has_value() && r->ok());
    EXPECT_EQ(WaitParked(&c_id), WaitReason::kSelect);  // 1 free < 2: still waits
    EXPECT_TRUE(Empty(c_done));

    s.Release(6);
    r = c_done.Recv();
    ASSERT_TRUE(r.has_value() && r->ok());
    s.Release(3);
    s.Release(2);
    EXPECT_TRUE(s.TryAcquire(10));
    s.Release(10);
  }, Opts());
}

// A waiter in the middle gives up: the queue around it stays in order.
TEST_P(SemaphoreTest, CanceledMiddleWaiterLeavesQueueConsistent) {
  RunChecked([] {
    Semaphore s(4);
    ASSERT_TRUE(s.TryAcquire(4));
    auto [ctx, cancel] = WithCancel(Background());
    Channel<absl::Status> a_done(1), b_done(1), c_done(1);
    std::atomic<uint64_t> a_id{0}, b_id{0}, c_id{0};
    GoAcquire(&s, Background(), 3, &a_done, &a_id);
    ASSERT_EQ(WaitParked(&a_id), WaitReason::kSelect);
    GoAcquire(&s, ctx, 2, &b_done, &b_id);
    ASSERT_EQ(WaitParked(&b_id), WaitReason::kSelect);
    GoAcquire(&s, Background(), 1, &c_done, &c_id);
    ASSERT_EQ(WaitParked(&c_id), WaitReason::kSelect);

    cancel();
    std::optional<absl::Status> r = b_done.Recv();
    ASSERT_TRUE(r.has_value());
    ExpectCanceled(*r);
    EXPECT_TRUE(Empty(a_done));  // b was not at the front: nothing moves
    EXPECT_TRUE(Empty(c_done));

    s.Release(4);  // a (3) then c (1)
    r = a_done.Recv();
    ASSERT_TRUE(r.has_value() && r->ok());
    r = c_done.Recv();
    ASSERT_TRUE(r.has_value() && r->ok());
    EXPECT_FALSE(s.TryAcquire(1));
    s.Release(3);
    s.Release(1);
    EXPECT_TRUE(s.TryAcquire(4));
    s.Release(4);
  }, Opts());
}

// ctx ends, then the units are granted before the waiter runs again: it keeps them
// and returns OK (x/sync v0.1.0: "pretend we didn't notice the cancelation"). At procs
// 1 the waiter cannot run between the two steps; at procs 2 another worker may run it
// first (then it gives up, holding nothing): either way the accounting agrees.
TEST_P(SemaphoreTest, GrantedAfterCancelKeepsTheUnits) {
  RunChecked([] {
    Semaphore s(4);
    ASSERT_TRUE(s.TryAcquire(4));
    auto [ctx, cancel] = WithCancel(Background());
    Channel<absl::Status> done(1);
    std::atomic<uint64_t> id{0};
    GoAcquire(&s, ctx, 3, &done, &id);
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    cancel();      // readies the waiter (its Done case)...
    s.Release(4);  // ...which is still queued here, unless it already ran
    std::optional<absl::Status> r = done.Recv();
    ASSERT_TRUE(r.has_value());
    if (GetParam() == 1) EXPECT_TRUE(r->ok()) << *r;
    if (r->ok()) {
      EXPECT_FALSE(s.TryAcquire(2));  // it holds 3 of 4
      s.Release(3);
    } else {
      ExpectCanceled(*r);
    }
    EXPECT_TRUE(s.TryAcquire(4));
    s.Release(4);
  }, Opts());
}

TEST_P(SemaphoreTest, DeadlineWhileWaitingReturnsDeadlineExceeded) {
  RunChecked([] {
    Semaphore s(2);
    ASSERT_TRUE(s.TryAcquire(2));
    auto [ctx, cancel] = WithTimeout(Background(), absl::Milliseconds(50));
    const absl::Time start = absl::Now();
    absl::Status err = s.Acquire(ctx, 1);
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(err.code(), absl::StatusCode::kDeadlineExceeded) << err;
    EXPECT_EQ(err.message(), "context deadline exceeded");
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LT(took, absl::Seconds(2));
    cancel();
    s.Release(1);
    EXPECT_TRUE(s.TryAcquire(1));  // nobody left queued
    s.Release(2);
  }, Opts());
}

// ctx done before the call "happened before" it: fail although the units are free.
TEST_P(SemaphoreTest, AlreadyDoneContextFailsEvenWithFreeUnits) {
  RunChecked([] {
    Semaphore s(10);
    auto [ctx, cancel] = WithCancel(Background());
    cancel();
    ExpectCanceled(s.Acquire(ctx, 1));
    auto [past, cancel_past] = WithDeadline(Background(), absl::Now() - absl::Seconds(1));
    absl::Status err = s.Acquire(past, 1);
    EXPECT_EQ(err.code(), absl::StatusCode::kDeadlineExceeded) << err;
    EXPECT_EQ(err.message(), "context deadline exceeded");
    ExpectCanceled(s.Acquire(ctx, 11));  // over the size: fails at once too
    EXPECT_TRUE(s.TryAcquire(10));       // nothing was taken
    s.Release(10);
  }, Opts());
}

// A request over the size can never be met: it waits for ctx, without queuing (others
// are not held back behind it).
TEST_P(SemaphoreTest, RequestOverSizeWaitsForContextOnly) {
  RunChecked([] {
    Semaphore s(5);
    auto [ctx, cancel] = WithCancel(Background());
    Channel<absl::Status> done(1);
    std::atomic<uint64_t> id{0};
    GoAcquire(&s, ctx, 6, &done, &id);
    ASSERT_EQ(WaitParked(&id), WaitReason::kChanReceive);  // on ctx.Done(), not queued
    EXPECT_TRUE(s.TryAcquire(2));                          // the queue is empty
    EXPECT_TRUE(s.Acquire(Background(), 3).ok());
    s.Release(5);  // all free: still not enough for 6
    EXPECT_TRUE(Empty(done));
    cancel();
    std::optional<absl::Status> r = done.Recv();
    ASSERT_TRUE(r.has_value());
    ExpectCanceled(*r);
    EXPECT_TRUE(s.TryAcquire(5));
    s.Release(5);
  }, Opts());
}

TEST_P(SemaphoreTest, ReleaseFromPlainThreadWakesFiberWaiter) {
  RunChecked([] {
    Semaphore s(3);
    ASSERT_TRUE(s.TryAcquire(3));
    Channel<absl::Status> done(1);
    std::atomic<uint64_t> id{0};
    GoAcquire(&s, Background(), 2, &done, &id);
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    std::thread t([&] {
      EXPECT_FALSE(s.TryAcquire(1));  // a waiter queues
      s.Release(3);                   // grants it 2 (from this thread)
      EXPECT_TRUE(s.TryAcquire(1));   // the third unit
    });
    Blocking([&] { t.join(); });
    std::optional<absl::Status> r = done.Recv();
    ASSERT_TRUE(r.has_value() && r->ok());
    s.Release(3);
    EXPECT_TRUE(s.TryAcquire(3));
    s.Release(3);
  }, Opts());
}

// Many fibers acquire random weights with contexts that end at random moments (some
// already done, some canceled by another fiber, some timing out); the units held never
// exceed the size, and at the end nothing is held and nobody queues.
TEST_P(SemaphoreTest, StressRandomWeightsAndCancels) {
#if defined(GONET_TSAN) || defined(GONET_ASAN)
  static constexpr int kFibers = 60, kIters = 200;
#else
  static constexpr int kFibers = 100, kIters = 500;
#endif
  static constexpr int64_t kSize = 8;
  std::atomic<int64_t> held{0}, max_held{0}, acquired{0}, failed{0};
  RunChecked([&] {
    Semaphore s(kSize);
    WaitGroup wg;
    for (int f = 0; f < kFibers; ++f) {
      wg.Add(1);
      Go([&, f] {
        std::mt19937 rng(static_cast<uint32_t>(f) * 7919u + 1);
        // Holds n units for a moment (maybe across a yield), then releases them.
        auto hold = [&](int64_t n) {
          const int64_t h = held.fetch_add(n) + n;
          int64_t m = max_held.load();
          while (h > m && !max_held.compare_exchange_weak(m, h)) {
          }
          acquired.fetch_add(1);
          if (rng() % 2 == 0) Yield();
          held.fetch_sub(n);
          s.Release(n);
        };
        for (int i = 0; i < kIters; ++i) {
          const int64_t n = std::uniform_int_distribution<int64_t>(1, kSize)(rng);
          Context ctx;  // Background: waits as long as it takes
          CancelFunc cancel = [] {};
          switch (rng() % 4) {
            case 0:
              break;
            case 1: {  // canceled by another fiber after a few yields
              std::tie(ctx, cancel) = WithCancel(Background());
              const int yields = static_cast<int>(rng() % 4);
              wg.Add(1);
              Go([&wg, cancel, yields] {
                for (int y = 0; y < yields; ++y) Yield();
                cancel();
                wg.Done();
              });
              break;
            }
            case 2:  // times out soon (0 us: already past)
              std::tie(ctx, cancel) = WithTimeout(Background(), absl::Microseconds(rng() % 300));
              break;
            case 3:  // already canceled, or TryAcquire instead
              if (rng() % 2 == 0) {
                std::tie(ctx, cancel) = WithCancel(Background());
                cancel();
                break;
              }
              if (s.TryAcquire(n)) hold(n);
              continue;
          }
          if (s.Acquire(ctx, n).ok()) {
            hold(n);
          } else {
            failed.fetch_add(1);
          }
          cancel();
        }
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(held.load(), 0);
    EXPECT_TRUE(s.TryAcquire(kSize)) << "units leaked or a waiter left queued";
    s.Release(kSize);
  }, Opts());
  EXPECT_LE(max_held.load(), kSize);
  EXPECT_GT(max_held.load(), 0);
  EXPECT_GT(acquired.load(), 0);
  EXPECT_GT(failed.load(), 0);  // the already-canceled contexts at least
}

INSTANTIATE_TEST_SUITE_P(Procs, SemaphoreTest, testing::Values(1, 2));

// Go panics with this text; here it is a fatal error.
TEST(SemaphoreDeathTest, ReleaseMoreThanHeldIsFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Semaphore s(1);
        s.Release(1);
      },
      "semaphore: released more than held");
  EXPECT_DEATH(gonet::Run([] {
                 Semaphore s(4);
                 if (s.TryAcquire(2)) s.Release(3);
               }, {.procs = 1}),
               "semaphore: released more than held");
}

}  // namespace
}  // namespace gonet
