// Deadlines on every transport (TCP, Unix stream, connected UDP, Pipe), each held to the
// texts Go 1.19 prints (tests/go_observed/{udp,unix,pipe}.out; TCP as read_write_test):
// sockets fail with an OpError naming the conn ("read udp L->R: i/o timeout"), net.Pipe
// with one naming no address ("read pipe: i/o timeout"); all are Timeout().
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "testing/fiber_wait.h"
#include "tests/test_util.h"
#include "tests/transport_pair.h"

namespace gonet {
namespace {

using std::string_view_literals::operator""sv;

using testing_util::GoOpText;
using testing_util::MakeConnPair;
using testing_util::RunChecked;
using testing_util::TempSocketDir;
using testing_util::Transport;

class TransportDeadlineTest : public testing::TestWithParam<std::tuple<Transport, int>> {
 protected:
  Transport transport() const { return std::get<0>(GetParam()); }
  int procs() const { return std::get<1>(GetParam()); }
};

// Checks that r is Go's timeout for `op` on c.
void ExpectTimeout(Transport t, const char* op, const net::Conn& c, const net::IOResult& r) {
  EXPECT_EQ(r.n, 0u);
  EXPECT_EQ(r.err.message(), GoOpText(t, op, c, "i/o timeout"));
  EXPECT_EQ(r.err.code(), absl::StatusCode::kDeadlineExceeded) << r.err;
  EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
  EXPECT_FALSE(net::IsClosed(r.err)) << r.err;
  EXPECT_FALSE(net::IsEOF(r.err)) << r.err;
  EXPECT_EQ(net::Errno(r.err), 0) << r.err;
}

// go_observed/udp.out: [udp connected read deadline]
// go_observed/unix.out: [unix dialed read deadline]
// go_observed/pipe.out: [pipe read deadline]
// A 50 ms read deadline fires after about 50 ms (between 40 ms and 2 s here).
TEST_P(TransportDeadlineTest, ReadDeadlineFires) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    const absl::Time start = absl::Now();
    ASSERT_TRUE(a->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    char buf[16];
    net::IOResult r = a->Read(absl::MakeSpan(buf));
    const absl::Duration took = absl::Now() - start;
    ExpectTimeout(t, "read", *a, r);
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LT(took, absl::Seconds(2));
    // go_observed/pipe.out: [pipe read after deadline (sticky)]
    r = a->Read(absl::MakeSpan(buf));
    ExpectTimeout(t, "read", *a, r);
    (void)a->Close();
    (void)b->Close();
  });
}

// go_observed/udp.out: [udp connected read past deadline]
// go_observed/unix.out: [unix accepted read past deadline]
// go_observed/pipe.out: [pipe read past deadline]
// A deadline already passed fails the Read at once, even with data waiting.
TEST_P(TransportDeadlineTest, PastReadDeadlineFailsAtOnce) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    if (t != Transport::kPipe) {  // a Pipe's Write would wait for the Read
      net::IOResult w = b->Write("queued"sv);
      ASSERT_TRUE(w.err.ok()) << w.err;
    }
    ASSERT_TRUE(a->SetReadDeadline(absl::Now() - absl::Seconds(1)).ok());
    char buf[16];
    const absl::Time start = absl::Now();
    net::IOResult r = a->Read(absl::MakeSpan(buf));
    EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
    ExpectTimeout(t, "read", *a, r);
    (void)a->Close();
    (void)b->Close();
  });
}

// go_observed/udp.out: [udp readfrom deadline cleared]
// go_observed/pipe.out: [pipe read deadline cleared]
// After a timeout, absl::InfiniteFuture() clears the deadline: the next Read waits for
// data and gets it.
TEST_P(TransportDeadlineTest, ClearedDeadlineReadsAgain) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->SetReadDeadline(absl::Now() - absl::Seconds(1)).ok());
    char buf[16];
    ExpectTimeout(t, "read", *a, a->Read(absl::MakeSpan(buf)));
    ASSERT_TRUE(a->SetReadDeadline(absl::InfiniteFuture()).ok());
    fiber::WaitGroup wg;
    wg.Add(1);
    net::IOResult w;
    gonet::Go([&, b = b] {
      w = b->Write("later"sv);
      wg.Done();
    });
    net::IOResult r = a->Read(absl::MakeSpan(buf));
    wg.Wait();
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "later");
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 5u);
    (void)a->Close();
    (void)b->Close();
  });
}

// go_observed/pipe.out: [pipe deadline set while parked]
// A deadline set while a Read is parked applies to that Read.
TEST_P(TransportDeadlineTest, DeadlineSetWhileParked) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    std::atomic<uint64_t> id{0};
    net::IOResult r;
    testing_util::Event done;
    gonet::Go([&, a = a] {
      id = leak_check::CurrentFiberId();
      char buf[16];
      r = a->Read(absl::MakeSpan(buf));
      done.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value()) << "the Read never parked";
    EXPECT_FALSE(done.IsSet());
    const absl::Time start = absl::Now();
    ASSERT_TRUE(a->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5))) << "the new deadline did not wake the Read";
    EXPECT_GE(absl::Now() - start, absl::Milliseconds(40));
    ExpectTimeout(t, "read", *a, r);
    (void)a->Close();
    (void)b->Close();
  });
}

// go_observed/udp.out: [udp connected write past deadline]
// go_observed/unix.out: [unix dialed write past deadline]
// go_observed/pipe.out: [pipe write past deadline]
TEST_P(TransportDeadlineTest, PastWriteDeadlineFailsAtOnce) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->SetWriteDeadline(absl::Now() - absl::Seconds(1)).ok());
    ExpectTimeout(t, "write", *a, a->Write("x"sv));
    // Reading is not affected.
    ASSERT_TRUE(a->SetWriteDeadline(absl::InfiniteFuture()).ok());
    fiber::WaitGroup wg;
    wg.Add(1);
    gonet::Go([&, b = b] {
      (void)b->Write("y"sv);
      wg.Done();
    });
    char buf[4];
    ASSERT_TRUE(a->SetReadDeadline(absl::Now() + absl::Seconds(10)).ok());
    net::IOResult r = a->Read(absl::MakeSpan(buf));
    wg.Wait();
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(r.n, 1u);
    (void)a->Close();
    (void)b->Close();
  });
}

// go_observed/unix.out: [unix write deadline when full]
// go_observed/pipe.out: [pipe write deadline], [pipe write deadline after partial read]
// A Write that blocks (a socket whose send path is full; a Pipe nobody reads) fails at
// its deadline. UDP writes never block: skipped.
TEST_P(TransportDeadlineTest, WriteDeadlineFiresWhenBlocked) {
  const Transport t = transport();
  if (!testing_util::WriteCanBlock(t)) GTEST_SKIP() << "UDP writes do not block";
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    testing_util::MakeWritesBlock(t, *a);
    const absl::Time start = absl::Now();
    ASSERT_TRUE(a->SetWriteDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    const std::string chunk(t == Transport::kPipe ? 12 : 1 << 20, 'w');
    net::IOResult r = a->Write(chunk);
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(r.err.message(), GoOpText(t, "write", *a, "i/o timeout"));
    EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
    EXPECT_EQ(r.err.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LT(took, absl::Seconds(2));
    if (t == Transport::kPipe) {
      EXPECT_EQ(r.n, 0u);  // [pipe write deadline] n=0: nothing was read
      // [pipe write deadline after partial read]: n counts what the reader took.
      ASSERT_TRUE(a->SetWriteDeadline(absl::Now() + absl::Milliseconds(100)).ok());
      net::IOResult w;
      testing_util::Event wrote;
      gonet::Go([&, a = a] {
        w = a->Write("0123456789"sv);
        wrote.Notify();
      });
      char small[4];
      net::IOResult rd = b->Read(absl::MakeSpan(small));
      EXPECT_EQ(rd.n, 4u);
      ASSERT_TRUE(wrote.WaitFor(absl::Seconds(5)));
      EXPECT_EQ(w.n, 4u);
      EXPECT_EQ(w.err.message(), "write pipe: i/o timeout");
      EXPECT_TRUE(net::IsTimeout(w.err));
    }
    (void)a->Close();
    (void)b->Close();
  });
}

// go_observed/pipe.out: [pipe setdeadline past]
// SetDeadline sets both deadlines.
TEST_P(TransportDeadlineTest, SetDeadlineSetsBoth) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->SetDeadline(absl::Now() - absl::Seconds(1)).ok());
    char buf[4];
    ExpectTimeout(t, "read", *a, a->Read(absl::MakeSpan(buf)));
    ExpectTimeout(t, "write", *a, a->Write("x"sv));
    ASSERT_TRUE(a->SetDeadline(absl::InfiniteFuture()).ok());
    (void)a->Close();
    (void)b->Close();
  });
}

INSTANTIATE_TEST_SUITE_P(
    Transports, TransportDeadlineTest,
    testing::Combine(testing::Values(Transport::kTCP, Transport::kUnix, Transport::kUDP,
                                     Transport::kPipe),
                     testing::Values(1, 2)),
    testing_util::TransportParamName());

}  // namespace
}  // namespace gonet
