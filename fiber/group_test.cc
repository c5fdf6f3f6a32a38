// Tests of fiber::Group (fiber/sync.h), Go's errgroup.Group made WithContext, at procs
// 1 and 2. Semantics follow golang.org/x/sync/errgroup's source at v0.1.0: the first
// error wins and cancels the group's context, Wait waits for every function, then
// cancels the context and returns that first error. x/sync is not available offline,
// so there is no Go-observed output for it; the only Go text here is "context
// canceled", which tests/go_observed/timer_context checks against go1.19 (see
// //fiber:context_test).
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
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
using fiber::Group;
using fiber_internal::WaitReason;
using leak_check::CurrentFiberId;
using leak_check::RunChecked;
using leak_check::WaitParked;

class GroupTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

bool IsDone(const Context& ctx) {
  bool closed = false;
  return !ctx.Done().TryRecv(&closed).has_value() && closed;
}

void ExpectCanceled(const Context& ctx) {
  EXPECT_TRUE(IsDone(ctx));
  EXPECT_EQ(ctx.Err().code(), absl::StatusCode::kCancelled) << ctx.Err();
  EXPECT_EQ(ctx.Err().message(), "context canceled");
}

TEST_P(GroupTest, WaitReturnsOkWhenAllSucceed) {
  RunChecked([] {
    Group g;
    std::atomic<int> ran{0};
    for (int i = 0; i < 10; ++i) {
      g.Go([&] {
        ran.fetch_add(1);
        Yield();
        return absl::OkStatus();
      });
    }
    EXPECT_TRUE(g.Wait().ok());
    EXPECT_EQ(ran.load(), 10);
    ExpectCanceled(g.context());  // Wait cancels it, as Go's
    EXPECT_TRUE(g.Wait().ok());   // again: nothing to wait for, same result
  }, Opts());
}

TEST_P(GroupTest, EmptyGroupWaitReturnsOk) {
  RunChecked([] {
    Group g;
    EXPECT_FALSE(IsDone(g.context()));
    EXPECT_TRUE(g.Wait().ok());
    ExpectCanceled(g.context());
  }, Opts());
}

// Two functions fail, b before a (the test orders them with channels): Wait returns
// b's error, and a, which fails later, sees the context already canceled.
TEST_P(GroupTest, FirstErrorIsReturned) {
  RunChecked([] {
    Group g;
    Channel<int> go_a, go_b;
    std::atomic<bool> a_saw_canceled{false};
    g.Go([&] {
      go_a.Recv();
      a_saw_canceled.store(IsDone(g.context()));
      return absl::InternalError("a");
    });
    g.Go([&] {
      go_b.Recv();
      return absl::NotFoundError("b");
    });
    g.Go([] { return absl::OkStatus(); });
    EXPECT_FALSE(IsDone(g.context()));
    go_b.Send(1);
    g.context().Done().Recv();  // b's error canceled it
    go_a.Send(1);
    absl::Status err = g.Wait();
    EXPECT_EQ(err.code(), absl::StatusCode::kNotFound) << err;
    EXPECT_EQ(err.message(), "b");
    EXPECT_TRUE(a_saw_canceled.load());
    ExpectCanceled(g.context());  // canceled, not the functions' error
  }, Opts());
}

// The first error cancels context(): a fiber of the group blocked on Done() wakes.
TEST_P(GroupTest, FirstErrorCancelsContext) {
  RunChecked([] {
    Group g;
    std::atomic<uint64_t> watcher_id{0};
    std::atomic<bool> watcher_saw_canceled{false};
    Channel<int> fail;
    g.Go([&] {
      watcher_id.store(CurrentFiberId());
      g.context().Done().Recv();
      watcher_saw_canceled.store(g.context().Err().code() == absl::StatusCode::kCancelled &&
                                 g.context().Err().message() == "context canceled");
      return absl::OkStatus();
    });
    g.Go([&] {
      fail.Recv();
      return absl::UnavailableError("boom");
    });
    ASSERT_EQ(WaitParked(&watcher_id), WaitReason::kChanReceive);
    EXPECT_FALSE(IsDone(g.context()));
    fail.Send(1);
    absl::Status err = g.Wait();
    EXPECT_EQ(err.code(), absl::StatusCode::kUnavailable) << err;
    EXPECT_EQ(err.message(), "boom");
    EXPECT_TRUE(watcher_saw_canceled.load());
    ExpectCanceled(g.context());
  }, Opts());
}

// Canceling the parent cancels context(); a function returning ctx.Err() makes that
// the group's error.
TEST_P(GroupTest, ParentCancelPropagates) {
  RunChecked([] {
    auto [parent, cancel] = WithCancel(Background());
    Group g(parent);
    std::atomic<uint64_t> id{0};
    g.Go([&] {
      id.store(CurrentFiberId());
      g.context().Done().Recv();
      return g.context().Err();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kChanReceive);
    EXPECT_FALSE(IsDone(g.context()));
    cancel();
    absl::Status err = g.Wait();
    EXPECT_EQ(err.code(), absl::StatusCode::kCancelled) << err;
    EXPECT_EQ(err.message(), "context canceled");
    ExpectCanceled(g.context());
  }, Opts());
}

// Group's end never cancels the parent.
TEST_P(GroupTest, ErrorLeavesParentAlone) {
  RunChecked([] {
    auto [parent, cancel] = WithCancel(Background());
    {
      Group g(parent);
      g.Go([] { return absl::InternalError("x"); });
      EXPECT_EQ(g.Wait().message(), "x");
    }
    EXPECT_FALSE(IsDone(parent));
    cancel();
  }, Opts());
}

// The destructor waits for running functions (they reference the Group).
TEST_P(GroupTest, DestructorWaitsForRunningFibers) {
  RunChecked([] {
    std::atomic<bool> finished{false};
    std::atomic<uint64_t> main_id{CurrentFiberId()};
    Channel<int> release;
    std::optional<WaitReason> main_waited;
    fiber::WaitGroup helper;
    helper.Add(1);
    Go([&] {
      main_waited = WaitParked(&main_id);  // main is in ~Group
      release.Send(1);
      helper.Done();
    });
    {
      Group g;
      g.Go([&] {
        release.Recv();
        Yield();
        finished.store(true);
        return absl::OkStatus();
      });
    }
    EXPECT_TRUE(finished.load());
    helper.Wait();
    EXPECT_EQ(main_waited, WaitReason::kWaitGroup);
  }, Opts());
}

// What a function captured is destroyed before Wait returns (Go's collector makes this
// moot there; here a capture may point into the caller's frame).
TEST_P(GroupTest, CapturesAreDestroyedBeforeWaitReturns) {
  RunChecked([] {
    struct YieldsThenMarks {
      std::atomic<int>* destroyed;
      ~YieldsThenMarks() {
        if (destroyed == nullptr) return;  // moved from
        for (int i = 0; i < 3; ++i) Yield();  // lets a waiter run if it was woken early
        destroyed->fetch_add(1);
      }
      YieldsThenMarks(std::atomic<int>* d) : destroyed(d) {}
      YieldsThenMarks(YieldsThenMarks&& o) : destroyed(o.destroyed) { o.destroyed = nullptr; }
    };
    std::atomic<int> destroyed{0};
    Group g;
    for (int i = 0; i < 4; ++i) {
      g.Go([m = YieldsThenMarks(&destroyed)] { return absl::OkStatus(); });
    }
    EXPECT_TRUE(g.Wait().ok());
    EXPECT_EQ(destroyed.load(), 4);
  }, Opts());
}

// Go after the first error still runs the function (as errgroup).
TEST_P(GroupTest, GoAfterErrorStillRuns) {
  RunChecked([] {
    Group g;
    g.Go([] { return absl::InternalError("first"); });
    g.context().Done().Recv();
    std::atomic<bool> ran{false};
    g.Go([&] {
      ran.store(true);
      return absl::InternalError("later");
    });
    EXPECT_EQ(g.Wait().message(), "first");
    EXPECT_TRUE(ran.load());
  }, Opts());
}

TEST_P(GroupTest, ManyFibers) {
#if defined(GONET_TSAN) || defined(GONET_ASAN)
  static constexpr int kFibers = 1000;
#else
  static constexpr int kFibers = 5000;
#endif
  RunChecked([] {
    std::atomic<int> ran{0};
    {
      Group g;
      for (int i = 0; i < kFibers; ++i) {
        g.Go([&, i] {
          ran.fetch_add(1);
          if (i % 2 == 0) Yield();
          return absl::OkStatus();
        });
      }
      EXPECT_TRUE(g.Wait().ok());
      EXPECT_EQ(ran.load(), kFibers);
    }
    // Every 100th fails: Wait returns one of those errors, after all have run.
    ran.store(0);
    Group g;
    for (int i = 0; i < kFibers; ++i) {
      g.Go([&, i]() -> absl::Status {
        ran.fetch_add(1);
        Yield();
        if (i % 100 == 7) return absl::AbortedError(absl::StrCat("fiber ", i));
        return absl::OkStatus();
      });
    }
    absl::Status err = g.Wait();
    EXPECT_EQ(err.code(), absl::StatusCode::kAborted) << err;
    EXPECT_TRUE(err.message().rfind("fiber ", 0) == 0) << err;
    EXPECT_EQ(ran.load(), kFibers);
    ExpectCanceled(g.context());
  }, Opts());
}

INSTANTIATE_TEST_SUITE_P(Procs, GroupTest, testing::Values(1, 2));

}  // namespace
}  // namespace gonet
