// Tests of Select, TrySelect, TrySend, TryRecv, RecvUntil and Nil (fiber/channel.h), at
// procs 1 and 2.
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/fiber_wait.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using fiber::Channel;
using fiber::OnRecv;
using fiber::OnSend;
using fiber::Select;
using fiber::TrySelect;
using fiber_internal::WaitReason;
using leak_check::CurrentFiberId;
using leak_check::RunChecked;
using leak_check::WaitParked;

class SelectTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// Counts live instances, to see values dropped (never leaked, never delivered twice).
struct Tracked {
  static std::atomic<int> live;
  int v = 0;
  explicit Tracked(int x) : v(x) { ++live; }
  Tracked(Tracked&& o) noexcept : v(o.v) { ++live; }
  Tracked& operator=(Tracked&&) noexcept = default;
  ~Tracked() { --live; }
};
std::atomic<int> Tracked::live{0};

// Go: "If one or more of the communications can proceed, a single one that can proceed
// is chosen via a uniform pseudo-random selection." 100k selects on two always-ready
// channels: each case 50 +- 2%.
TEST_P(SelectTest, ReadyCasesAreChosenUniformly) {
  constexpr int kRounds = 100000;
  int first = 0, second = 0;
  RunChecked([&] {
    Channel<int> a(1), b(1);
    a.Send(1);
    b.Send(2);
    for (int i = 0; i < kRounds; ++i) {
      std::optional<int> x, y;
      const int k = Select({OnRecv(a, &x), OnRecv(b, &y)});
      if (k == 0) {
        ASSERT_EQ(x, 1);
        ++first;
        a.Send(1);
      } else {
        ASSERT_EQ(k, 1);
        ASSERT_EQ(y, 2);
        ++second;
        b.Send(2);
      }
    }
  }, Opts());
  EXPECT_EQ(first + second, kRounds);
  EXPECT_NEAR(first, kRounds / 2, kRounds * 0.02) << "case 0 taken " << first << " times";
  EXPECT_NEAR(second, kRounds / 2, kRounds * 0.02) << "case 1 taken " << second << " times";
}

// The same for three cases of different kinds: a receive, a send, a closed channel.
TEST_P(SelectTest, MixedReadyCasesAreChosenUniformly) {
  constexpr int kRounds = 30000;
  int count[3] = {0, 0, 0};
  RunChecked([&] {
    Channel<std::string> in(1);
    Channel<int> out(1);
    Channel<double> closed;
    closed.Close();
    in.Send("x");
    for (int i = 0; i < kRounds; ++i) {
      std::optional<std::string> s;
      std::optional<double> d = 1.0;
      bool sent = false;
      const int k = Select({OnRecv(in, &s), OnSend(out, i, &sent), OnRecv(closed, &d)});
      ASSERT_GE(k, 0);
      ASSERT_LE(k, 2);
      ++count[k];
      if (k == 0) {
        ASSERT_EQ(s, "x");
        in.Send("x");
      } else if (k == 1) {
        ASSERT_TRUE(sent);
        ASSERT_EQ(out.Recv(), i);
      } else {
        ASSERT_EQ(d, std::nullopt);
      }
    }
  }, Opts());
  for (int k = 0; k < 3; ++k) {
    EXPECT_NEAR(count[k], kRounds / 3, kRounds * 0.02) << "case " << k;
  }
}

TEST_P(SelectTest, TrySelectReturnsMinusOneOnlyWhenNothingIsReady) {
  RunChecked([&] {
    Channel<int> a, b(1);
    std::optional<int> x, y;
    EXPECT_EQ(TrySelect({OnRecv(a, &x), OnRecv(b, &y)}), -1);
    EXPECT_EQ(TrySelect({}), -1);
    EXPECT_EQ(TrySelect({OnRecv(Channel<int>::Nil(), &x)}), -1);
    // A full buffer: a send case is not ready either.
    ASSERT_TRUE(b.Send(5));
    EXPECT_EQ(TrySelect({OnSend(b, 6), OnRecv(a, &x)}), -1);
    EXPECT_EQ(TrySelect({OnRecv(a, &x), OnRecv(b, &y)}), 1);
    EXPECT_EQ(y, 5);
    bool sent = false;
    EXPECT_EQ(TrySelect({OnRecv(a, &x), OnSend(b, 7, &sent)}), 1);
    EXPECT_TRUE(sent);
    EXPECT_EQ(b.Recv(), 7);
    // A closed channel is ready for both directions.
    a.Close();
    EXPECT_EQ(TrySelect({OnRecv(a, &x)}), 0);
    EXPECT_EQ(x, std::nullopt);
    sent = true;
    EXPECT_EQ(TrySelect({OnSend(a, 1, &sent)}), 0);
    EXPECT_FALSE(sent);
  }, Opts());
}

TEST_P(SelectTest, ClosedChannelIsAlwaysReady) {
  RunChecked([&] {
    Channel<int> never, closed;
    closed.Close();
    for (int i = 0; i < 1000; ++i) {
      std::optional<int> x = 1, y = 1;
      ASSERT_EQ(Select({OnRecv(never, &x), OnRecv(closed, &y)}), 1);
      ASSERT_EQ(y, std::nullopt);
    }
  }, Opts());
}

TEST_P(SelectTest, BlockedSelectIsWokenBySendRecvAndClose) {
  RunChecked([&] {
    Channel<int> a, b;
    Channel<std::string> c;
    std::atomic<uint64_t> id{0};
    fiber::WaitGroup wg;
    int taken = -2;
    std::optional<int> x;
    std::optional<std::string> s;
    bool sent = false;

    // Woken by a sender (a receive case).
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      taken = Select({OnRecv(a, &x), OnRecv(c, &s), OnSend(b, 9, &sent)});
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    ASSERT_TRUE(c.Send("hello"));
    wg.Wait();
    EXPECT_EQ(taken, 1);
    EXPECT_EQ(s, "hello");
    EXPECT_FALSE(sent);

    // Woken by a receiver (a send case).
    id = 0;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      taken = Select({OnRecv(a, &x), OnSend(b, 9, &sent)});
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    EXPECT_EQ(b.Recv(), 9);
    wg.Wait();
    EXPECT_EQ(taken, 1);
    EXPECT_TRUE(sent);

    // Woken by Close, on a send case: sent = false, as a failed Send.
    id = 0;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      taken = Select({OnRecv(a, &x), OnSend(b, 9, &sent)});
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    b.Close();
    wg.Wait();
    EXPECT_EQ(taken, 1);
    EXPECT_FALSE(sent);

    // Woken by Close, on a receive case: nullopt.
    id = 0;
    x = 3;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      taken = Select({OnRecv(a, &x), OnRecv(c, &s)});
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    a.Close();
    wg.Wait();
    EXPECT_EQ(taken, 0);
    EXPECT_EQ(x, std::nullopt);
  }, Opts());
}

// The value of a send case that is not taken is dropped (destroyed once, never
// delivered later); move-only values work.
TEST_P(SelectTest, UntakenSendValueIsDropped) {
  RunChecked([&] {
    {
      Channel<Tracked> full(1);
      Channel<int> ready(1);
      ASSERT_TRUE(full.Send(Tracked(1)));
      ASSERT_TRUE(ready.Send(4));
      std::optional<int> x;
      EXPECT_EQ(Select({OnSend(full, Tracked(2)), OnRecv(ready, &x)}), 1);
      EXPECT_EQ(Tracked::live.load(), 1);  // only the buffered one
      std::optional<Tracked> t = full.Recv();
      ASSERT_TRUE(t.has_value());
      EXPECT_EQ(t->v, 1);
      EXPECT_FALSE(full.TryRecv().has_value());
    }
    EXPECT_EQ(Tracked::live.load(), 0);
    Channel<std::unique_ptr<int>> p(1);
    bool sent = false;
    EXPECT_EQ(Select({OnSend(p, std::make_unique<int>(8), &sent)}), 0);
    EXPECT_TRUE(sent);
    std::optional<std::unique_ptr<int>> got = p.Recv();
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(**got, 8);
  }, Opts());
}

// A select that waits on both ends of one unbuffered channel never matches itself.
TEST_P(SelectTest, SendAndRecvOnOneChannelDoNotMatchEachOther) {
  RunChecked([&] {
    Channel<int> ch;
    std::atomic<uint64_t> id{0};
    int taken = -2;
    std::optional<int> x;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      taken = Select({OnRecv(ch, &x), OnSend(ch, 1)});
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    EXPECT_EQ(ch.Recv(), 1);
    wg.Wait();
    EXPECT_EQ(taken, 1);
  }, Opts());
}

TEST_P(SelectTest, NilChannelIsNeverTaken) {
  RunChecked([&] {
    Channel<int>& nil = Channel<int>::Nil();
    Channel<int> ch(1);
    ASSERT_TRUE(ch.Send(1));
    std::optional<int> x, y;
    for (int i = 0; i < 100; ++i) {
      ASSERT_EQ(Select({OnRecv(nil, &x), OnSend(nil, 3), OnRecv(ch, &y)}), 2);
      ASSERT_TRUE(ch.Send(1));
    }
    int v = 1;
    EXPECT_FALSE(nil.TrySend(v));
    EXPECT_FALSE(nil.TryRecv().has_value());
    bool timed_out = false;
    EXPECT_FALSE(nil.RecvUntil(absl::Now() + absl::Milliseconds(5), &timed_out).has_value());
    EXPECT_TRUE(timed_out);
  }, Opts());
}

// Selects with only nil channels, or none, block forever (Go: "select (no cases)");
// their fibers are abandoned with the Run.
TEST_P(SelectTest, EmptySelectBlocksForever) {
  std::optional<WaitReason> why_empty, why_nil, why_recv;
  gonet::Run([&] {  // abandons the three fibers on purpose
    std::atomic<uint64_t> a{0}, b{0}, c{0};
    Go([&] {
      a = CurrentFiberId();
      Select({});
    });
    Go([&] {
      b = CurrentFiberId();
      std::optional<int> x;
      Select({OnRecv(Channel<int>::Nil(), &x)});
    });
    Go([&] {
      c = CurrentFiberId();
      Channel<int>::Nil().Recv();
    });
    why_empty = WaitParked(&a);
    why_nil = WaitParked(&b);
    why_recv = WaitParked(&c);
  }, Opts());
  EXPECT_EQ(why_empty, WaitReason::kSelectNoCases);
  EXPECT_EQ(why_nil, WaitReason::kSelectNoCases);
  EXPECT_EQ(why_recv, WaitReason::kChanReceiveNil);
}

// Many selecting receivers and senders over shared channels: every value sent is
// received exactly once (no lost or duplicated wake-ups between competing wakers).
TEST_P(SelectTest, CompetingSelectsLoseNothing) {
  constexpr int kSenders = 4, kReceivers = 4, kPerSender = 5000;
  std::atomic<int64_t> sum_received{0};
  std::atomic<int> received{0};
  RunChecked([&] {
    Channel<int> a, b(3);
    Channel<int> quit;
    fiber::WaitGroup senders, receivers;
    senders.Add(kSenders);
    for (int s = 0; s < kSenders; ++s) {
      Go([&, s] {
        for (int i = 1; i <= kPerSender; ++i) {
          const int v = s * kPerSender + i;
          if (Select({OnSend(a, v), OnSend(b, v)}) < 0) std::abort();
        }
        senders.Done();
      });
    }
    receivers.Add(kReceivers);
    for (int r = 0; r < kReceivers; ++r) {
      Go([&] {
        for (;;) {
          std::optional<int> x, y, q;
          const int k = Select({OnRecv(a, &x), OnRecv(b, &y), OnRecv(quit, &q)});
          if (k == 2) break;
          sum_received += k == 0 ? *x : *y;
          ++received;
        }
        receivers.Done();
      });
    }
    senders.Wait();
    // Drain what is buffered before telling the receivers to stop.
    while (received.load() < kSenders * kPerSender) Yield();
    quit.Close();
    receivers.Wait();
  }, Opts());
  const int64_t n = int64_t{kSenders} * kPerSender;
  EXPECT_EQ(received.load(), n);
  EXPECT_EQ(sum_received.load(), n * (n + 1) / 2);
}

TEST_P(SelectTest, SelectWokenFromPlainThread) {
  RunChecked([&] {
    Channel<int> a, b;
    std::atomic<uint64_t> id{0};
    std::optional<int> x, y;
    int taken = -2;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      taken = Select({OnRecv(a, &x), OnRecv(b, &y)});
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kSelect);
    std::thread t([&] { b.Send(42); });
    wg.Wait();
    t.join();
    EXPECT_EQ(taken, 1);
    EXPECT_EQ(y, 42);
  }, Opts());
}

// T comes from the channel alone: a null out, and a value of another integer type.
TEST_P(SelectTest, CaseTypesComeFromTheChannel) {
  RunChecked([&] {
    Channel<int64_t> ch(2);
    bool sent = false;
    EXPECT_EQ(Select({OnSend(ch, 1, &sent)}), 0);  // an int literal into Channel<int64_t>
    EXPECT_TRUE(sent);
    EXPECT_EQ(TrySelect({OnRecv(ch, nullptr)}), 0);  // received and dropped
    EXPECT_FALSE(ch.TryRecv().has_value());
  }, Opts());
}

TEST_P(SelectTest, TrySendTryRecv) {
  RunChecked([&] {
    Channel<std::unique_ptr<int>> ch(1);
    auto p = std::make_unique<int>(1);
    EXPECT_TRUE(ch.TrySend(p));
    EXPECT_EQ(p, nullptr);  // moved from
    auto q = std::make_unique<int>(2);
    EXPECT_FALSE(ch.TrySend(q));  // full: kept
    ASSERT_NE(q, nullptr);
    bool closed = true;
    std::optional<std::unique_ptr<int>> got = ch.TryRecv(&closed);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(**got, 1);
    EXPECT_FALSE(closed);
    EXPECT_FALSE(ch.TryRecv(&closed).has_value());
    EXPECT_FALSE(closed);
    ch.Close();
    EXPECT_FALSE(ch.TrySend(q));  // closed: kept
    EXPECT_NE(q, nullptr);
    EXPECT_FALSE(ch.TryRecv(&closed).has_value());
    EXPECT_TRUE(closed);

    // Unbuffered: TrySend succeeds only into a parked receiver.
    Channel<int> u;
    int v = 5;
    EXPECT_FALSE(u.TrySend(v));
    std::atomic<uint64_t> id{0};
    std::optional<int> r;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      r = u.Recv();
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kChanReceive);
    EXPECT_TRUE(u.TrySend(v));
    wg.Wait();
    EXPECT_EQ(r, 5);
  }, Opts());
}

TEST_P(SelectTest, RecvUntil) {
  RunChecked([&] {
    Channel<int> ch(1);
    bool timed_out = false;
    // Times out: a 50 ms deadline fires between 40 ms and 2 s.
    const absl::Time start = absl::Now();
    EXPECT_EQ(ch.RecvUntil(start + absl::Milliseconds(50), &timed_out), std::nullopt);
    const absl::Duration took = absl::Now() - start;
    EXPECT_TRUE(timed_out);
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LT(took, absl::Seconds(2));
    // A value ready: no wait.
    ASSERT_TRUE(ch.Send(3));
    EXPECT_EQ(ch.RecvUntil(absl::InfinitePast(), &timed_out), 3);
    EXPECT_FALSE(timed_out);
    // A value arriving before the deadline.
    std::atomic<uint64_t> id{0};
    std::optional<int> got;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      bool t = true;
      got = ch.RecvUntil(absl::Now() + absl::Seconds(30), &t);
      EXPECT_FALSE(t);
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kChanReceive);
    ASSERT_TRUE(ch.Send(7));
    wg.Wait();
    EXPECT_EQ(got, 7);
    // Closed while waiting: nullopt, not a timeout.
    id = 0;
    wg.Add(1);
    Go([&] {
      id = CurrentFiberId();
      bool t = true;
      got = ch.RecvUntil(absl::Now() + absl::Seconds(30), &t);
      EXPECT_FALSE(t);
      wg.Done();
    });
    ASSERT_EQ(WaitParked(&id), WaitReason::kChanReceive);
    ch.Close();
    wg.Wait();
    EXPECT_EQ(got, std::nullopt);
  }, Opts());
}

// Timeouts racing sends: every value is either received or still in the channel.
TEST_P(SelectTest, RecvUntilRacingSendsLosesNothing) {
  constexpr int kValues = 3000;
  int received = 0, left = 0;
  RunChecked([&] {
    Channel<int> ch;
    Channel<int> done(1);
    Go([&] {
      for (int i = 0; i < kValues; ++i) ch.Send(i);
      done.Send(0);
    });
    int expect = 0;
    for (;;) {
      std::optional<int> v = ch.RecvUntil(absl::Now() + absl::Microseconds(20));
      if (v.has_value()) {
        ASSERT_EQ(*v, expect);
        ++expect;
        ++received;
        if (received == kValues) break;
      }
    }
    done.Recv();
    while (ch.TryRecv().has_value()) ++left;
  }, Opts());
  EXPECT_EQ(received, kValues);
  EXPECT_EQ(left, 0);
}

INSTANTIATE_TEST_SUITE_P(Procs, SelectTest, testing::Values(1, 2),
                         [](const testing::TestParamInfo<int>& p) {
                           return "procs" + std::to_string(p.param);
                         });

}  // namespace
}  // namespace gonet
