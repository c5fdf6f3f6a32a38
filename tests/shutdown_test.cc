// Shutdown, plain threads and user callbacks (fiber.h "Shutdown with parked fibers",
// net.h): Run ending with Accept, Read, Write or Dial parked; Close from plain threads
// blocking instead of spinning; exceptions thrown from Control callbacks.
#include <pthread.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "testing/fiber_wait.h"
#include "tests/test_util.h"

#if defined(GONET_ASAN)
// What the fibers these tests abandon own is deliberately never destroyed (fiber.h:
// "objects owned by them are NOT destroyed"): LeakSanitizer would report it. Only the
// tests that abandon fibers on purpose are named; every other leak still fails.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:ParkedAtRunEndTest_CloseAfterRunNeverWaitsForAbandonedFibers\n"
         "leak:CloseFromLaterRunDoesNotWaitForEarlierRun\n"
         "leak:PlainThreadBlockedInCloseIsReleasedWhenRunEnds\n"
         "leak:PipeAfterRunWakesNoAbandonedWaiter\n";
}
#endif

namespace gonet {
namespace {

using testing_util::CountOpenFds;
using testing_util::DescribeOpenFds;

// Runs fn on a helper thread; if it has not returned within `limit`, the process dies
// with `what` (a hang is the defect under test, and a hung test would say nothing).
template <class F>
void MustReturnWithin(absl::Duration limit, const char* what, F fn) {
  std::packaged_task<void()> task(std::move(fn));
  std::future<void> done = task.get_future();
  std::thread t(std::move(task));
  if (done.wait_for(std::chrono::milliseconds(absl::ToInt64Milliseconds(limit))) !=
      std::future_status::ready) {
    fprintf(stderr, "HANG: %s did not return within %s\n", what,
            absl::FormatDuration(limit).c_str());
    std::abort();
  }
  t.join();
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

enum class ParkedOp { kAccept, kRead, kWrite, kDial };

std::string OpName(ParkedOp op) {
  switch (op) {
    case ParkedOp::kAccept: return "Accept";
    case ParkedOp::kRead: return "Read";
    case ParkedOp::kWrite: return "Write";
    case ParkedOp::kDial: return "Dial";
  }
  return "?";
}

class ParkedAtRunEndTest : public ::testing::TestWithParam<std::tuple<int, ParkedOp>> {};

// Main returns while another fiber is parked in the operation; afterwards the test
// thread closes (or just drops) what it kept. Before the fix Close spun forever on
// the reference the abandoned fiber held. Repeated across Run calls; no fd may leak
// (the Dial's half-open socket is closed by Run's teardown).
TEST_P(ParkedAtRunEndTest, CloseAfterRunNeverWaitsForAbandonedFibers) {
  const int procs = std::get<0>(GetParam());
  const ParkedOp op = std::get<1>(GetParam());
  const int fds_before = CountOpenFds();
  testing_util::FullBacklogListener full(1);
  if (op == ParkedOp::kDial) {
    ASSERT_TRUE(full.Fill());
  }
  const int fds_with_backlog = CountOpenFds();
  for (int round = 0; round < 8; ++round) {
    std::shared_ptr<net::Listener> ln;
    std::shared_ptr<net::Conn> client, server;
    // Plain Run, no fiber leak check: the fiber parked in the operation is abandoned
    // when main returns, on purpose (that is the case under test).
    gonet::Run(
        [&] {
          auto l = net::Listen("tcp", "127.0.0.1:0");
          ASSERT_TRUE(l.ok()) << l.status();
          ln = *l;
          auto c = net::Dial("tcp", ln->Address().String());
          ASSERT_TRUE(c.ok()) << c.status();
          client = *c;
          auto s = ln->Accept();
          ASSERT_TRUE(s.ok()) << s.status();
          server = *s;
          if (op == ParkedOp::kWrite) testing_util::FillSendPath(*client);
          std::atomic<bool> started{false};
          gonet::Go([&, op] {
            started.store(true);
            static char buf[1 << 16];
            // More than any socket buffer autotuning takes: the Write must park.
            static std::vector<char> big(64 << 20);
            switch (op) {
              case ParkedOp::kAccept: (void)ln->Accept(); break;
              case ParkedOp::kRead: (void)client->Read(absl::MakeSpan(buf)); break;
              case ParkedOp::kWrite: (void)client->Write(absl::MakeConstSpan(big)); break;
              case ParkedOp::kDial: (void)net::Dial("tcp", full.Address()); break;
            }
            ADD_FAILURE() << OpName(op) << " returned before the Run ended";
          });
          while (!started.load()) gonet::Yield();
          // Give the fiber time to reach its park (a fiber that has not parked yet is
          // abandoned as runnable, which only makes this round easier).
          gonet::Sleep(absl::Milliseconds(5));
        },
        {.procs = procs});
    // After Run: Close from this plain thread, and the destructors, must return.
    MustReturnWithin(absl::Seconds(10), "Close after Run", [&] {
      if (round % 2 == 0) {
        EXPECT_TRUE(ln->Close().ok());
        EXPECT_TRUE(client->Close().ok());
        EXPECT_TRUE(server->Close().ok());
        // A second Close reports the closed connection, as in Go.
        EXPECT_TRUE(net::IsClosed(client->Close()));
      }
      ln.reset();
      client.reset();
      server.reset();
    });
    EXPECT_EQ(CountOpenFds(), fds_with_backlog)
        << "round " << round << ": fd leak; open now: " << DescribeOpenFds();
  }
  (void)fds_before;
}

INSTANTIATE_TEST_SUITE_P(
    ProcsAndOps, ParkedAtRunEndTest,
    ::testing::Combine(::testing::Values(1, 2),
                       ::testing::Values(ParkedOp::kAccept, ParkedOp::kRead, ParkedOp::kWrite,
                                         ParkedOp::kDial)),
    [](const ::testing::TestParamInfo<std::tuple<int, ParkedOp>>& info) {
      return OpName(std::get<1>(info.param)) + "_procs" + std::to_string(std::get<0>(info.param));
    });

// A conn kept from one Run and closed by a fiber of the next Run: the old Run's
// abandoned reader must not make that fiber park forever.
TEST(ShutdownTest, CloseFromLaterRunDoesNotWaitForEarlierRun) {
  const int fds_before = CountOpenFds();
  std::shared_ptr<net::Conn> client, server;
  std::shared_ptr<net::Listener> ln;
  // Plain Run, no fiber leak check: the reader is abandoned parked, on purpose.
  gonet::Run(
      [&] {
        testing_util::ConnPair p = testing_util::MakeConnPair();
        ASSERT_TRUE(p.ok());
        ln = p.ln;
        client = p.client;
        server = p.server;
        std::atomic<bool> started{false};
        gonet::Go([&] {
          started.store(true);
          char b[16];
          (void)client->Read(absl::MakeSpan(b));
        });
        while (!started.load()) gonet::Yield();
        gonet::Sleep(absl::Milliseconds(5));
      },
      {.procs = 2});
  MustReturnWithin(absl::Seconds(10), "Close from the next Run", [&] {
    // Plain Run with the fiber check only: the fds were opened by the earlier Run.
    gonet::Run(
        [&] {
          EXPECT_TRUE(client->Close().ok());
          EXPECT_TRUE(server->Close().ok());
          EXPECT_TRUE(ln->Close().ok());
          testing_util::ExpectNoFibersLeftOver();
        },
        {.procs = 1});
  });
  client.reset();
  server.reset();
  ln.reset();
  EXPECT_EQ(CountOpenFds(), fds_before) << DescribeOpenFds();
}

// Close on a plain thread while a fiber holds a reference (inside Control, parked):
// the thread blocks until the callback returns, and burns no CPU meanwhile (before
// the fix it busy-waited with yield, a whole core).
TEST(ShutdownTest, PlainThreadCloseBlocksWithoutSpinning) {
  const int fds_before = CountOpenFds();
  leak_check::RunChecked(
      [] {
        testing_util::ConnPair p = testing_util::MakeConnPair();
        ASSERT_TRUE(p.ok());
        std::atomic<bool> in_control{false}, callback_done{false}, close_done{false};
        std::atomic<double> close_cpu{-1}, close_wall{-1};
        gonet::Go([&] {
          auto st = p.client->Control([&](int) {
            in_control.store(true);
            gonet::Sleep(absl::Milliseconds(300));  // parks holding the reference
            callback_done.store(true);
          });
          EXPECT_TRUE(st.ok()) << st;
        });
        while (!in_control.load()) gonet::Yield();
        std::thread closer([&] {
          const double cpu0 = ThreadCpuSeconds();
          const absl::Time t0 = absl::Now();
          EXPECT_TRUE(p.client->Close().ok());
          EXPECT_TRUE(callback_done.load()) << "Close returned while Control was running";
          close_cpu.store(ThreadCpuSeconds() - cpu0);
          close_wall.store(absl::ToDoubleSeconds(absl::Now() - t0));
          close_done.store(true);
        });
        while (!close_done.load()) gonet::Sleep(absl::Milliseconds(1));
        closer.join();
        EXPECT_GT(close_wall.load(), 0.1);
        // Generous: a spinning wait costs about the whole 300 ms.
        EXPECT_LT(close_cpu.load(), 0.1) << "the closing thread spun";
        p.CloseAll();
      },
      {.procs = 2});
  EXPECT_EQ(CountOpenFds(), fds_before) << DescribeOpenFds();
}

// A plain thread blocked in Close when Run ends (the reference holder is a fiber that
// will never run again) is released by the end of Run.
TEST(ShutdownTest, PlainThreadBlockedInCloseIsReleasedWhenRunEnds) {
  const int fds_before = CountOpenFds();
  std::thread closer;
  std::atomic<bool> close_returned{false};
  std::shared_ptr<net::TCPConn> kept;
  // Plain Run, no fiber leak check: the fiber parked in Control is abandoned when main
  // returns, on purpose (its release of the closer is the case under test).
  gonet::Run(
      [&] {
        testing_util::ConnPair p = testing_util::MakeConnPair();
        ASSERT_TRUE(p.ok());
        kept = p.client;
        p.server.reset();
        p.ln.reset();
        auto never = std::make_shared<fiber::Channel<int>>();
        std::atomic<bool> in_control{false};
        gonet::Go([&, never] {
          (void)kept->Control([&](int) {
            in_control.store(true);
            (void)never->Recv();  // parked holding the reference until Run ends
          });
        });
        while (!in_control.load()) gonet::Yield();
        closer = std::thread([&] {
          EXPECT_TRUE(kept->Close().ok());
          close_returned.store(true);
        });
        gonet::Sleep(absl::Milliseconds(20));  // let the closer block (or not: either way)
        EXPECT_FALSE(close_returned.load()) << "Close did not wait for Control";
      },
      {.procs = 2});
  MustReturnWithin(absl::Seconds(10), "the blocked Close", [&] { closer.join(); });
  EXPECT_TRUE(close_returned.load());
  kept.reset();
  EXPECT_EQ(CountOpenFds(), fds_before) << DescribeOpenFds();
}

struct ControlError : std::runtime_error {
  ControlError() : std::runtime_error("from Control") {}
};

// A Control callback that throws: the exception reaches the caller, the reference is
// released, and Close does not wait forever (Go releases it with defer).
// fiber.h's "Shutdown with parked fibers" for net::Pipe: a Read and a Write still
// waiting when Run returns are abandoned; setting deadlines on, closing and destroying
// the ends afterwards (from this plain thread) must not touch their waiters (it did:
// a use-after-free of their freed stacks). What the abandoned fibers hold (their wait's
// channel references) is never released: suppressed for LeakSanitizer above.
TEST(ShutdownTest, PipeAfterRunWakesNoAbandonedWaiter) {
  for (int procs : {1, 2}) {
    std::shared_ptr<net::Conn> x, y;
    gonet::Run([&] {
      std::tie(x, y) = net::Pipe();
      // A raw pointer: the abandoned fibers' captures are never destroyed.
      net::Conn* xr = x.get();
      std::atomic<uint64_t> reader{0}, writer{0};
      Go([xr, &reader] {
        reader.store(leak_check::CurrentFiberId());
        char buf[4];
        (void)xr->Read(absl::MakeSpan(buf));  // nobody writes to x: parked when Run ends
      });
      Go([xr, &writer] {
        writer.store(leak_check::CurrentFiberId());
        (void)xr->Write(absl::string_view("never read"));  // nobody reads y: parked too
      });
      ASSERT_TRUE(leak_check::WaitParkedInfo(&reader).has_value());
      ASSERT_TRUE(leak_check::WaitParkedInfo(&writer).has_value());
    }, {.procs = procs});
    // Each of these would wake (touch) an abandoned waiter if the pipe did not know that
    // its Run has ended.
    EXPECT_TRUE(x->SetDeadline(absl::Now()).ok());
    EXPECT_TRUE(y->SetWriteDeadline(absl::Now()).ok());
    EXPECT_TRUE(x->Close().ok());
    EXPECT_TRUE(y->Close().ok());
    x.reset();
    y.reset();
  }
}

TEST(ShutdownTest, ThrowingControlReleasesItsReference) {
  const int fds_before = CountOpenFds();
  for (int procs : {1, 2}) {
    leak_check::RunChecked(
        [] {
          testing_util::ConnPair p = testing_util::MakeConnPair();
          ASSERT_TRUE(p.ok());
          auto tl = std::dynamic_pointer_cast<net::TCPListener>(p.ln);
          ASSERT_NE(tl, nullptr);
          EXPECT_THROW((void)p.client->Control([](int) { throw ControlError(); }), ControlError);
          EXPECT_THROW((void)tl->Control([](int) { throw ControlError(); }), ControlError);
          // From a plain thread too.
          std::thread t([&] {
            EXPECT_THROW((void)p.server->Control([](int) { throw ControlError(); }), ControlError);
          });
          t.join();
          // Still usable, then closable without waiting.
          char b = 'x';
          EXPECT_TRUE(p.client->Write(absl::MakeConstSpan(&b, 1)).err.ok());
          char r;
          EXPECT_EQ(p.server->Read(absl::MakeSpan(&r, 1)).n, 1u);
          EXPECT_TRUE(p.client->Close().ok());
          EXPECT_TRUE(p.server->Close().ok());
          EXPECT_TRUE(p.ln->Close().ok());
        },
        {.procs = procs});
  }
  EXPECT_EQ(CountOpenFds(), fds_before) << DescribeOpenFds();
}

}  // namespace
}  // namespace gonet
