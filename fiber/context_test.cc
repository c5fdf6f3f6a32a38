// Tests of fiber/context.h (Go's context package), at procs 1 and 2. Expected texts
// and results are Go 1.19's, as printed by tests/go_observed/timer_context (its output:
// tests/go_observed/timer_context.out).
#include "fiber/context.h"

#include <any>
#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using context_internal::NumChildrenForTest;
using leak_check::RunChecked;

class ContextTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

bool IsDone(const Context& ctx) {
  bool closed = false;
  return !ctx.Done().TryRecv(&closed).has_value() && closed;
}

void ExpectCanceled(const Context& ctx) {
  EXPECT_TRUE(IsDone(ctx));
  EXPECT_EQ(ctx.Err().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(ctx.Err().message(), "context canceled");  // Go: context.Canceled
}

void ExpectDeadlineExceeded(const Context& ctx) {
  EXPECT_TRUE(IsDone(ctx));
  EXPECT_EQ(ctx.Err().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(ctx.Err().message(), "context deadline exceeded");  // Go: context.DeadlineExceeded
}

void ExpectLive(const Context& ctx) {
  EXPECT_FALSE(IsDone(ctx));
  EXPECT_TRUE(ctx.Err().ok()) << ctx.Err();
}

TEST(ContextBackgroundTest, NeverCanceledNoDeadlineNoValues) {
  // Go: "background: Done is nil: true Err: <nil> has deadline: false Value(k): <nil>"
  for (const Context& ctx : {Background(), Context()}) {
    EXPECT_EQ(&ctx.Done(), &fiber::Channel<std::monostate>::Nil());
    EXPECT_TRUE(ctx.Err().ok());
    EXPECT_FALSE(ctx.Deadline().has_value());
    EXPECT_EQ(ctx.Value("k"), nullptr);
    EXPECT_FALSE(IsDone(ctx));
    EXPECT_EQ(NumChildrenForTest(ctx), 0u);
  }
  Context v = WithValue(Background(), "k", 1);
  EXPECT_EQ(&v.Done(), &fiber::Channel<std::monostate>::Nil());  // a value node passes it on
}

TEST_P(ContextTest, CancelClosesDoneAndWakesWaiters) {
  RunChecked([] {
    auto [ctx, cancel] = WithCancel(Background());
    ExpectLive(ctx);  // Go: "Err before: <nil>"
    EXPECT_NE(&ctx.Done(), &fiber::Channel<std::monostate>::Nil());
    fiber::WaitGroup wg;
    std::atomic<int> woken{0};
    for (int i = 0; i < 3; ++i) {
      wg.Add(1);
      Go([&, ctx = ctx] {
        EXPECT_FALSE(ctx.Done().Recv().has_value());  // closed: nullopt
        ExpectCanceled(ctx);
        woken.fetch_add(1);
        wg.Done();
      });
    }
    Yield();
    EXPECT_EQ(woken.load(), 0);
    cancel();
    wg.Wait();
    EXPECT_EQ(woken.load(), 3);
    ExpectCanceled(ctx);  // Go: "Err after cancel: context canceled"
    cancel();             // idempotent
    ExpectCanceled(ctx);  // Go: "Err after second cancel: context canceled"
  }, Opts());
}

TEST_P(ContextTest, ParentCancelCancelsEveryDescendant) {
  RunChecked([] {
    auto [parent, pcancel] = WithCancel(Background());
    auto [child, ccancel] = WithCancel(parent);
    Context vchild = WithValue(parent, "k", std::string("v"));
    auto [grandchild, gcancel] = WithCancel(vchild);  // registers with `parent`
    auto [timed, tcancel] = WithTimeout(child, absl::Hours(1));
    EXPECT_EQ(NumChildrenForTest(parent), 2u);  // child and grandchild
    EXPECT_EQ(NumChildrenForTest(vchild), 2u);  // the same set: parent's
    EXPECT_EQ(NumChildrenForTest(child), 1u);   // timed
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&wg, timed = timed] {
      timed.Done().Recv();
      wg.Done();
    });
    pcancel();
    wg.Wait();
    // Go: "parent cancel: child Err: context canceled grandchild via value Err: context canceled"
    ExpectCanceled(parent);
    ExpectCanceled(child);
    ExpectCanceled(vchild);
    ExpectCanceled(grandchild);
    ExpectCanceled(timed);  // the parent's error, not DeadlineExceeded
    EXPECT_EQ(NumChildrenForTest(parent), 0u);
    EXPECT_EQ(NumChildrenForTest(child), 0u);
    ccancel();
    gcancel();
    tcancel();
    ExpectCanceled(child);
    // Go: "child of canceled parent: Err: context canceled"
    auto [late, lcancel] = WithCancel(parent);
    ExpectCanceled(late);
    EXPECT_EQ(NumChildrenForTest(parent), 0u);
    auto [late_timed, ltcancel] = WithTimeout(parent, absl::Hours(1));
    ExpectCanceled(late_timed);
  }, Opts());
}

TEST_P(ContextTest, ChildCancelLeavesParentAndDeregisters) {
  RunChecked([] {
    auto [parent, pcancel] = WithCancel(Background());
    {
      auto [child, ccancel] = WithCancel(parent);
      EXPECT_EQ(NumChildrenForTest(parent), 1u);
      ccancel();
      // Go: "child cancel: child Err: context canceled parent Err: <nil>"
      ExpectCanceled(child);
      ExpectLive(parent);
      EXPECT_EQ(NumChildrenForTest(parent), 0u);
    }
    // A long-lived parent does not accumulate children: canceled ones leave at once,
    // dropped ones (every handle gone, cancel never called) when the last handle goes.
    for (int i = 0; i < 1000; ++i) {
      auto [c, cancel] = WithCancel(parent);
      auto [d, dcancel] = WithTimeout(WithValue(parent, "i", i), absl::Hours(1));
      if (i % 2 == 0) {
        cancel();
        dcancel();
      }
    }
    EXPECT_EQ(NumChildrenForTest(parent), 0u);
    ExpectLive(parent);
    pcancel();
  }, Opts());
}

TEST_P(ContextTest, DeadlineFiresWithDeadlineExceeded) {
  RunChecked([] {
    auto [parent, pcancel] = WithCancel(Background());
    const absl::Time start = absl::Now();
    auto [ctx, cancel] = WithTimeout(parent, absl::Milliseconds(50));
    ASSERT_TRUE(ctx.Deadline().has_value());
    EXPECT_GE(*ctx.Deadline(), start + absl::Milliseconds(50));
    EXPECT_LE(*ctx.Deadline(), absl::Now() + absl::Milliseconds(50));
    ExpectLive(ctx);
    EXPECT_FALSE(ctx.Done().Recv().has_value());
    const absl::Duration took = absl::Now() - start;
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LE(took, absl::Seconds(2));
    ExpectDeadlineExceeded(ctx);  // Go: "withtimeout(50ms): Err: context deadline exceeded"
    ExpectLive(parent);
    EXPECT_EQ(NumChildrenForTest(parent), 0u);  // the expired child left its parent
    cancel();
    ExpectDeadlineExceeded(ctx);  // Go: "Err after cancel of expired: context deadline exceeded"
    pcancel();
  }, Opts());
}

TEST_P(ContextTest, DeadlineInThePastCancelsAtOnce) {
  RunChecked([] {
    auto [parent, pcancel] = WithCancel(Background());
    auto [ctx, cancel] = WithDeadline(parent, absl::Now() - absl::Seconds(1));
    ExpectDeadlineExceeded(ctx);  // Go: "withdeadline(past): Err at once: ..."
    EXPECT_EQ(NumChildrenForTest(parent), 0u);
    cancel();
    ExpectDeadlineExceeded(ctx);  // Go: "Err after cancel: context deadline exceeded"
    auto [zero, zcancel] = WithTimeout(parent, absl::ZeroDuration());
    ExpectDeadlineExceeded(zero);
    ExpectLive(parent);
  }, Opts());
}

TEST_P(ContextTest, DeadlineIsTheEarliestOfTheChain) {
  RunChecked([] {
    const absl::Time early = absl::Now() + absl::Hours(1);
    auto [ectx, ecancel] = WithDeadline(Background(), early);
    // Go: "later deadline under earlier parent: Deadline == parent's: true"
    auto [lctx, lcancel] = WithDeadline(ectx, early + absl::Hours(1));
    EXPECT_EQ(lctx.Deadline(), early);
    // Go: "earlier deadline under later parent: Deadline == own: true"
    auto [sctx, scancel] = WithDeadline(ectx, early - absl::Minutes(1));
    EXPECT_EQ(sctx.Deadline(), early - absl::Minutes(1));
    EXPECT_EQ(WithValue(sctx, "k", 1).Deadline(), early - absl::Minutes(1));
    auto [cctx, ccancel] = WithCancel(sctx);
    EXPECT_EQ(cctx.Deadline(), early - absl::Minutes(1));
    auto [inf, icancel] = WithDeadline(Background(), absl::InfiniteFuture());
    EXPECT_EQ(inf.Deadline(), absl::InfiniteFuture());
    ExpectLive(inf);
    EXPECT_EQ(NumChildrenForTest(ectx), 2u);
    ecancel();
    ExpectCanceled(lctx);
    ExpectCanceled(sctx);
    ExpectCanceled(cctx);
  }, Opts());
}

TEST_P(ContextTest, ChildOfExpiredParentGetsDeadlineExceeded) {
  RunChecked([] {
    auto [x, xcancel] = WithTimeout(Background(), absl::Milliseconds(1));
    x.Done().Recv();
    auto [under, ucancel] = WithCancel(x);
    ExpectDeadlineExceeded(under);  // Go: "child of deadline-exceeded parent: Err: ..."
    ucancel();
    ExpectDeadlineExceeded(under);
  }, Opts());
}

TEST(ContextValueTest, LooksUpTheChain) {
  // Go: "value: v4 a: 3 b: 2 missing: <nil> c3 a: 1"
  Context v1 = WithValue(Background(), "a", 1);
  Context v2 = WithValue(v1, "b", 2);
  auto [c3, c3cancel] = WithCancel(v2);
  Context v4 = WithValue(c3, "a", 3);
  ASSERT_NE(v4.Value("a"), nullptr);
  EXPECT_EQ(std::any_cast<int>(*v4.Value("a")), 3);
  ASSERT_NE(v4.Value("b"), nullptr);
  EXPECT_EQ(std::any_cast<int>(*v4.Value("b")), 2);
  EXPECT_EQ(v4.Value("z"), nullptr);
  ASSERT_NE(c3.Value("a"), nullptr);
  EXPECT_EQ(std::any_cast<int>(*c3.Value("a")), 1);
  c3cancel();
  EXPECT_EQ(std::any_cast<int>(*v4.Value("a")), 3);  // values outlive cancellation
  ExpectCanceled(v4);
}

// Without a Run: WithCancel, WithValue and an already-past deadline work.
TEST(ContextNoRunTest, CancelAndPastDeadlineWork) {
  auto [ctx, cancel] = WithCancel(Background());
  auto [child, ccancel] = WithCancel(ctx);
  ExpectLive(child);
  cancel();
  ExpectCanceled(child);
  auto [past, pcancel] = WithTimeout(Background(), -absl::Seconds(1));
  ExpectDeadlineExceeded(past);
  auto [inf, icancel] = WithDeadline(Background(), absl::InfiniteFuture());
  ExpectLive(inf);
}

TEST(ContextDeathTest, FutureDeadlineOutsideRunIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(WithTimeout(Background(), absl::Seconds(1)), "need an active gonet::Run");
}

TEST_P(ContextTest, CancelFuncFromAPlainThread) {
  RunChecked([] {
    auto [ctx, cancel] = WithCancel(Background());
    auto [child, ccancel] = WithTimeout(ctx, absl::Hours(1));
    fiber::WaitGroup wg;
    for (int i = 0; i < 4; ++i) {
      wg.Add(1);
      Go([&wg, child = child] {
        child.Done().Recv();
        ExpectCanceled(child);
        wg.Done();
      });
    }
    std::thread th([ctx = ctx, cancel = cancel] {
      EXPECT_TRUE(ctx.Err().ok());  // Err from a plain thread too
      cancel();
      EXPECT_EQ(ctx.Err().message(), "context canceled");
    });
    wg.Wait();
    Blocking([&] { th.join(); });
    ExpectCanceled(ctx);
  }, Opts());
}

// Many children with tiny timeouts, created, canceled, dropped and canceled by their
// parent at once, from fibers and a plain thread (ASan, TSan): every registration goes.
TEST_P(ContextTest, ConcurrentChildrenCancelsAndDeadlines) {
  RunChecked([] {
    auto [root, rcancel] = WithCancel(Background());
    for (int round = 0; round < 4; ++round) {
      auto [parent, pcancel] = WithCancel(root);
      fiber::WaitGroup wg;
      std::atomic<int> expired{0};
      for (int f = 0; f < 4; ++f) {
        wg.Add(1);
        Go([&, f, parent = parent] {
          for (int i = 0; i < 200; ++i) {
            auto [c, cancel] = WithTimeout(parent, absl::Microseconds((i * 7 + f) % 50));
            auto [g, gcancel] = WithCancel(WithValue(c, "i", i));
            if (i % 4 == 0) {
              g.Done().Recv();  // the deadline, or the parent's cancel
              if (c.Err().code() == absl::StatusCode::kDeadlineExceeded) expired.fetch_add(1);
            }
            if (i % 3 == 0) cancel();
            if (i % 5 == 0) Yield();
          }
          wg.Done();
        });
      }
      std::thread th([parent = parent, pcancel = pcancel] {
        for (int i = 0; i < 200; ++i) {
          auto [c, cancel] = WithTimeout(parent, absl::Microseconds(i % 30));
          if (i % 2 == 0) cancel();
        }
        if (parent.Err().ok()) pcancel();  // races the fibers' children
      });
      wg.Wait();
      Blocking([&] { th.join(); });
      ExpectCanceled(parent);
      EXPECT_EQ(NumChildrenForTest(parent), 0u);
      EXPECT_EQ(NumChildrenForTest(root), 0u);
    }
    ExpectLive(root);
  }, Opts());
}

// Dropping every handle of a context whose deadline is pending stops its timer; the
// timer never runs on freed memory (ASan).
TEST_P(ContextTest, DroppingAPendingDeadlineContextStopsItsTimer) {
  RunChecked([] {
    auto [parent, pcancel] = WithCancel(Background());
    for (int i = 0; i < 200; ++i) {
      auto [c, cancel] = WithTimeout(parent, absl::Microseconds(i % 20));
      if (i % 7 == 0) Yield();
    }
    Sleep(absl::Milliseconds(20));
    EXPECT_EQ(NumChildrenForTest(parent), 0u);
    ExpectLive(parent);
  }, Opts());
}

INSTANTIATE_TEST_SUITE_P(Procs, ContextTest, testing::Values(1, 2));

}  // namespace
}  // namespace gonet
