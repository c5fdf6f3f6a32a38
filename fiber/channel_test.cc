// Tests of fiber/channel.h (Go channels for fibers), at procs 1, 2 and 8.
#include "fiber/channel.h"

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using gonet::leak_check::RunChecked;

class ChannelTest : public testing::TestWithParam<int> {
 protected:
  RuntimeOptions Opts() { return {.procs = GetParam()}; }
};

// Yields until `pred` holds (for a fiber started on another worker to get going).
template <class Pred>
void YieldUntil(Pred pred) {
  while (!pred()) Yield();
}

TEST_P(ChannelTest, UnbufferedSendWaitsForReceiver) {
  std::atomic<bool> about_to_send{false};
  std::atomic<bool> sent{false};
  bool sent_before_recv = true;
  std::optional<int> got;
  RunChecked([&] {
    fiber::Channel<int> ch;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      about_to_send.store(true);
      bool ok = ch.Send(7);
      sent.store(ok);
      wg.Done();
    });
    YieldUntil([&] { return about_to_send.load(); });
    for (int i = 0; i < 50; ++i) Yield();  // the sender has every chance to run on
    sent_before_recv = sent.load();
    got = ch.Recv();
    wg.Wait();
  }, Opts());
  EXPECT_FALSE(sent_before_recv);
  EXPECT_TRUE(sent.load());
  EXPECT_EQ(got, 7);
}

TEST_P(ChannelTest, UnbufferedRecvWaitsForSender) {
  std::atomic<bool> received{false};
  bool received_early = true;
  RunChecked([&] {
    fiber::Channel<int> ch;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      std::optional<int> v = ch.Recv();
      EXPECT_EQ(v, 3);
      received.store(true);
      wg.Done();
    });
    for (int i = 0; i < 50; ++i) Yield();
    received_early = received.load();
    EXPECT_TRUE(ch.Send(3));
    wg.Wait();
  }, Opts());
  EXPECT_FALSE(received_early);
  EXPECT_TRUE(received.load());
}

TEST_P(ChannelTest, UnbufferedPreservesOrder) {
  constexpr int kN = 10000;
  std::vector<int> got;
  RunChecked([&] {
    fiber::Channel<int> ch;
    Go([&] {
      for (int i = 0; i < kN; ++i) ch.Send(i);
      ch.Close();
    });
    while (std::optional<int> v = ch.Recv()) got.push_back(*v);
  }, Opts());
  ASSERT_EQ(got.size(), static_cast<size_t>(kN));
  for (int i = 0; i < kN; ++i) ASSERT_EQ(got[i], i);
}

// Blocked senders are served first come, first served. With one worker the order in
// which they block is known: each runs (and parks) when main yields.
TEST_P(ChannelTest, BlockedSendersServedInArrivalOrder) {
  if (GetParam() != 1) GTEST_SKIP() << "arrival order is only known with one worker";
  std::vector<int> got;
  RunChecked([&] {
    fiber::Channel<int> ch;
    fiber::WaitGroup wg;
    std::atomic<int> blocked{0};
    for (int i = 0; i < 10; ++i) {
      wg.Add(1);
      Go([&, i] {
        blocked.fetch_add(1);
        ch.Send(i);
        wg.Done();
      });
      YieldUntil([&] { return blocked.load() == i + 1; });
      Yield();
    }
    for (int i = 0; i < 10; ++i) got.push_back(*ch.Recv());
    wg.Wait();
  }, Opts());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST_P(ChannelTest, BufferedHoldsCapacityValues) {
  std::atomic<bool> fourth_sent{false};
  bool fourth_sent_early = true;
  size_t size_when_full = 0;
  std::vector<int> got;
  RunChecked([&] {
    fiber::Channel<int> ch(3);
    EXPECT_EQ(ch.capacity(), 3u);
    // Three sends complete without a receiver.
    EXPECT_TRUE(ch.Send(1));
    EXPECT_TRUE(ch.Send(2));
    EXPECT_TRUE(ch.Send(3));
    size_when_full = ch.size();
    fiber::WaitGroup wg;
    wg.Add(1);
    std::atomic<bool> started{false};
    Go([&] {
      started.store(true);
      ch.Send(4);  // buffer full: blocks
      fourth_sent.store(true);
      wg.Done();
    });
    YieldUntil([&] { return started.load(); });
    for (int i = 0; i < 50; ++i) Yield();
    fourth_sent_early = fourth_sent.load();
    got.push_back(*ch.Recv());  // opens a slot: the blocked value moves into the buffer
    wg.Wait();
    EXPECT_EQ(ch.size(), 3u);
    for (int i = 0; i < 3; ++i) got.push_back(*ch.Recv());
    EXPECT_EQ(ch.size(), 0u);
  }, Opts());
  EXPECT_EQ(size_when_full, 3u);
  EXPECT_FALSE(fourth_sent_early);
  EXPECT_TRUE(fourth_sent.load());
  EXPECT_EQ(got, (std::vector<int>{1, 2, 3, 4}));
}

TEST(Channel, BufferedSendOutsideFiberDoesNotNeedRuntime) {
  fiber::Channel<int> ch(2);
  EXPECT_TRUE(ch.Send(1));
  EXPECT_TRUE(ch.Send(2));
  EXPECT_EQ(ch.Recv(), 1);
  EXPECT_EQ(ch.Recv(), 2);
  ch.Close();
  EXPECT_EQ(ch.Recv(), std::nullopt);
  EXPECT_FALSE(ch.Send(3));
}

TEST_P(ChannelTest, MoveOnlyValues) {
  std::vector<int> got;
  RunChecked([&] {
    for (size_t cap : {size_t{0}, size_t{1}, size_t{4}}) {
      fiber::Channel<std::unique_ptr<int>> ch(cap);
      fiber::WaitGroup wg;
      wg.Add(1);
      Go([&] {
        for (int i = 0; i < 5; ++i) EXPECT_TRUE(ch.Send(std::make_unique<int>(i)));
        ch.Close();
        wg.Done();
      });
      while (std::optional<std::unique_ptr<int>> v = ch.Recv()) {
        ASSERT_NE(*v, nullptr);
        got.push_back(**v);
      }
      wg.Wait();
    }
  }, Opts());
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1, 2, 3, 4}));
}

TEST_P(ChannelTest, CloseWakesBlockedReceivers) {
  constexpr int kReceivers = 20;
  std::atomic<int> got_nullopt{0};
  std::atomic<int> got_value{0};
  RunChecked([&] {
    fiber::Channel<int> ch;
    fiber::WaitGroup wg;
    std::atomic<int> started{0};
    for (int i = 0; i < kReceivers; ++i) {
      wg.Add(1);
      Go([&] {
        started.fetch_add(1);
        if (ch.Recv().has_value()) got_value.fetch_add(1); else got_nullopt.fetch_add(1);
        wg.Done();
      });
    }
    YieldUntil([&] { return started.load() == kReceivers; });
    for (int i = 0; i < 20; ++i) Yield();
    ch.Close();
    wg.Wait();
    EXPECT_EQ(ch.Recv(), std::nullopt);  // closed and drained: never blocks again
  }, Opts());
  EXPECT_EQ(got_nullopt.load(), kReceivers);
  EXPECT_EQ(got_value.load(), 0);
}

// Counts live instances, to see that a value a closed channel refused is destroyed.
struct Tracked {
  static std::atomic<int> live;
  int v;
  explicit Tracked(int v) : v(v) { live.fetch_add(1); }
  Tracked(Tracked&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Tracked& operator=(Tracked&& o) noexcept = default;
  ~Tracked() { live.fetch_sub(1); }
};
std::atomic<int> Tracked::live{0};

TEST_P(ChannelTest, CloseWakesBlockedSenders) {
  constexpr int kSenders = 20;
  std::atomic<int> failed{0};
  std::atomic<int> succeeded{0};
  std::optional<Tracked> after_close{Tracked(-1)};
  int live_after = -1;
  RunChecked([&] {
    {
      fiber::Channel<Tracked> ch;  // unbuffered: every sender blocks
      fiber::WaitGroup wg;
      std::atomic<int> started{0};
      for (int i = 0; i < kSenders; ++i) {
        wg.Add(1);
        Go([&, i] {
          started.fetch_add(1);
          if (ch.Send(Tracked(i))) succeeded.fetch_add(1); else failed.fetch_add(1);
          wg.Done();
        });
      }
      YieldUntil([&] { return started.load() == kSenders; });
      for (int i = 0; i < 20; ++i) Yield();
      ch.Close();
      wg.Wait();
      // The refused values were not delivered.
      after_close = ch.Recv();
    }
    live_after = Tracked::live.load();
  }, Opts());
  EXPECT_EQ(failed.load(), kSenders);
  EXPECT_EQ(succeeded.load(), 0);
  EXPECT_FALSE(after_close.has_value());
  EXPECT_EQ(live_after, 0);  // every refused value was destroyed
}

TEST_P(ChannelTest, BufferedValuesDeliveredAfterClose) {
  std::vector<int> got;
  bool send_after_close = true;
  RunChecked([&] {
    fiber::Channel<int> ch(5);
    for (int i = 0; i < 3; ++i) ch.Send(i);
    ch.Close();
    send_after_close = ch.Send(99);
    while (std::optional<int> v = ch.Recv()) got.push_back(*v);
    EXPECT_EQ(ch.Recv(), std::nullopt);
  }, Opts());
  EXPECT_FALSE(send_after_close);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2}));
}

// A sender blocked on a full buffer when Close comes: false, and its value is not
// added behind the buffered ones.
TEST_P(ChannelTest, CloseFailsSenderBlockedOnFullBuffer) {
  bool blocked_send = true;
  std::vector<int> got;
  RunChecked([&] {
    fiber::Channel<int> ch(2);
    ch.Send(1);
    ch.Send(2);
    fiber::WaitGroup wg;
    wg.Add(1);
    std::atomic<bool> started{false};
    Go([&] {
      started.store(true);
      blocked_send = ch.Send(3);
      wg.Done();
    });
    YieldUntil([&] { return started.load(); });
    for (int i = 0; i < 20; ++i) Yield();
    ch.Close();
    wg.Wait();
    while (std::optional<int> v = ch.Recv()) got.push_back(*v);
  }, Opts());
  EXPECT_FALSE(blocked_send);
  EXPECT_EQ(got, (std::vector<int>{1, 2}));
}

TEST(ChannelDeathTest, DoubleCloseIsFatal) {
  testing::FLAGS_gtest_death_test_style = "threadsafe";
  EXPECT_DEATH(
      {
        fiber::Channel<int> ch;
        ch.Close();
        ch.Close();
      },
      "close of closed channel");
  EXPECT_DEATH(gonet::Run([] {
                 fiber::Channel<int> ch(1);
                 ch.Close();
                 ch.Close();
               }, {.procs = 2}),
               "close of closed channel");
}

// 500 producers and 500 consumers over one channel: every value arrives exactly once.
void ProducersConsumers(int procs, size_t capacity) {
  constexpr int kProducers = 500;
  constexpr int kConsumers = 500;
  constexpr int kPerProducer = 100;
  constexpr int kTotal = kProducers * kPerProducer;
  std::vector<std::atomic<int>> seen(kTotal);
  std::atomic<int> received{0};
  std::atomic<int> send_failures{0};
  RunChecked([&] {
    fiber::Channel<int> ch(capacity);
    fiber::WaitGroup producers, consumers;
    for (int c = 0; c < kConsumers; ++c) {
      consumers.Add(1);
      Go([&] {
        while (std::optional<int> v = ch.Recv()) {
          if (*v >= 0 && *v < kTotal) seen[*v].fetch_add(1);
          received.fetch_add(1);
        }
        consumers.Done();
      });
    }
    for (int p = 0; p < kProducers; ++p) {
      producers.Add(1);
      Go([&, p] {
        for (int i = 0; i < kPerProducer; ++i) {
          if (!ch.Send(p * kPerProducer + i)) send_failures.fetch_add(1);
        }
        producers.Done();
      });
    }
    producers.Wait();
    ch.Close();
    consumers.Wait();
  }, {.procs = procs});
  EXPECT_EQ(send_failures.load(), 0);
  EXPECT_EQ(received.load(), kTotal);
  int wrong = 0;
  for (int i = 0; i < kTotal; ++i) wrong += seen[i].load() != 1;
  EXPECT_EQ(wrong, 0);
}

TEST_P(ChannelTest, ProducersConsumersUnbuffered) { ProducersConsumers(GetParam(), 0); }
TEST_P(ChannelTest, ProducersConsumersBuffered) { ProducersConsumers(GetParam(), 16); }

INSTANTIATE_TEST_SUITE_P(Procs, ChannelTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
