#include "poller/poller.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace gonet::poller {
namespace {

std::unique_ptr<Poller> MakePoller() {
  auto p = Poller::Create();
  EXPECT_TRUE(p.ok()) << p.status();
  return std::move(*p);
}

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int p[2];
    EXPECT_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    r = p[0];
    w = p[1];
  }
  ~Pipe() {
    close(r);
    close(w);
  }
};

// Collects events for `token` over one Wait.
uint32_t ReadyFor(Poller& p, uintptr_t token, int64_t timeout_ns) {
  Event evs[kMaxEvents];
  int n = p.Wait(timeout_ns, absl::MakeSpan(evs));
  uint32_t ready = 0;
  for (int i = 0; i < n; ++i) {
    if (evs[i].token == token) ready |= evs[i].ready;
  }
  return ready;
}

TEST(Poller, PipeReadReadiness) {
  auto p = MakePoller();
  Pipe pp;
  ASSERT_TRUE(p->Add(pp.r, 0x1000).ok());
  EXPECT_EQ(ReadyFor(*p, 0x1000, 0) & kRead, 0u);  // nothing written yet
  ASSERT_EQ(write(pp.w, "x", 1), 1);
  EXPECT_NE(ReadyFor(*p, 0x1000, 1'000'000'000) & kRead, 0u);
}

TEST(Poller, EdgeTriggeredNoRepeatWithoutNewData) {
  auto p = MakePoller();
  Pipe pp;
  ASSERT_TRUE(p->Add(pp.r, 0x2000).ok());
  ASSERT_EQ(write(pp.w, "ab", 2), 2);
  EXPECT_NE(ReadyFor(*p, 0x2000, 1'000'000'000) & kRead, 0u);
  // Data is still unread, but the edge was consumed: no second event.
  EXPECT_EQ(ReadyFor(*p, 0x2000, 0), 0u);
  // New data makes a new edge.
  ASSERT_EQ(write(pp.w, "c", 1), 1);
  EXPECT_NE(ReadyFor(*p, 0x2000, 1'000'000'000) & kRead, 0u);
}

TEST(Poller, SocketWriteReadinessAndHangupIsBoth) {
  auto p = MakePoller();
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_TRUE(p->Add(sv[0], 0x3000).ok());
  // A fresh socket is writable at once.
  EXPECT_NE(ReadyFor(*p, 0x3000, 1'000'000'000) & kWrite, 0u);
  // Fill the send buffer until EAGAIN.
  std::vector<char> buf(1 << 16, 'z');
  while (write(sv[0], buf.data(), buf.size()) > 0) {
  }
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(ReadyFor(*p, 0x3000, 0) & kWrite, 0u);
  // Peer closes: hang-up wakes both directions.
  close(sv[1]);
  uint32_t r = ReadyFor(*p, 0x3000, 1'000'000'000);
  EXPECT_NE(r & kRead, 0u);
  EXPECT_NE(r & kWrite, 0u);
  close(sv[0]);
}

TEST(Poller, WakeFromAnotherThreadInterruptsBlockedWait) {
  auto p = MakePoller();
  absl::Time start = absl::Now();
  std::thread t([&] { p->Wake(); });
  Event evs[4];
  int n = p->Wait(-1, absl::MakeSpan(evs));  // would block forever without the wake
  t.join();
  EXPECT_EQ(n, 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST(Poller, WakesCoalesceAndNonBlockingPollKeepsThem) {
  auto p = MakePoller();
  for (int i = 0; i < 100; ++i) p->Wake();
  Event evs[4];
  EXPECT_EQ(p->Wait(0, absl::MakeSpan(evs)), 0);  // non-blocking: must not drain
  absl::Time start = absl::Now();
  EXPECT_EQ(p->Wait(5'000'000'000, absl::MakeSpan(evs)), 0);  // drains the pending wake
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  // Drained: the next blocking wait times out.
  start = absl::Now();
  EXPECT_EQ(p->Wait(20'000'000, absl::MakeSpan(evs)), 0);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(15));
}

TEST(Poller, TimeoutBounds) {
  auto p = MakePoller();
  Event evs[4];
  absl::Time start = absl::Now();
  EXPECT_EQ(p->Wait(50'000'000, absl::MakeSpan(evs)), 0);
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(40));
  EXPECT_LT(took, absl::Seconds(2));
  // A sub-millisecond timeout rounds up to 1 ms, never a busy poll of 0.
  start = absl::Now();
  EXPECT_EQ(p->Wait(1000, absl::MakeSpan(evs)), 0);
  EXPECT_GE(absl::Now() - start, absl::Microseconds(900));
}

TEST(Poller, TenThousandFdsRegistered) {
  // 10k registered read ends plus their write ends: 20k fds. Raise the soft limit to
  // the hard one (as the runtime does), and the hard one too when we may (root).
  constexpr rlim_t kNeed = 20100;
  rlimit rl;
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_max < kNeed) {
    rlimit raised{kNeed, kNeed};
    setrlimit(RLIMIT_NOFILE, &raised);  // needs CAP_SYS_RESOURCE; checked below
  } else if (rl.rlim_cur < kNeed) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &rl), 0);
  if (rl.rlim_cur < kNeed) GTEST_SKIP() << "RLIMIT_NOFILE " << rl.rlim_cur << " < " << kNeed;
  auto p = MakePoller();
  constexpr int kPipes = 10000;
  std::vector<int> fds;
  fds.reserve(2 * kPipes);
  for (int i = 0; i < kPipes; ++i) {
    int pp[2];
    ASSERT_EQ(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0) << i;
    fds.push_back(pp[0]);
    fds.push_back(pp[1]);
    ASSERT_TRUE(p->Add(pp[0], static_cast<uintptr_t>(i + 1) << 4).ok());
  }
  // Make every 7th pipe readable; exactly those tokens come back.
  std::vector<bool> expect(kPipes, false);
  int want = 0;
  for (int i = 0; i < kPipes; i += 7) {
    ASSERT_EQ(write(fds[2 * i + 1], "x", 1), 1);
    expect[i] = true;
    ++want;
  }
  int got = 0;
  Event evs[kMaxEvents];
  while (got < want) {
    int n = p->Wait(1'000'000'000, absl::MakeSpan(evs));
    ASSERT_GT(n, 0) << "missing events: got " << got << " of " << want;
    for (int k = 0; k < n; ++k) {
      size_t i = (evs[k].token >> 4) - 1;
      ASSERT_LT(i, expect.size());
      ASSERT_TRUE(expect[i]) << "unexpected event for pipe " << i;
      expect[i] = false;
      ++got;
    }
  }
  EXPECT_EQ(p->Wait(0, absl::MakeSpan(evs)), 0);
  for (int fd : fds) close(fd);
}

TEST(Poller, AddBadFdFailsWithContext) {
  auto p = MakePoller();
  absl::Status s = p->Add(-1, 1);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("epoll_ctl"), std::string::npos) << s;
}

}  // namespace
}  // namespace gonet::poller
