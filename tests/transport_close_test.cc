// Close on every transport (TCP, Unix stream, connected UDP, Pipe), held to the texts Go
// 1.19 prints (tests/go_observed/{udp,unix,pipe}.out; TCP as close_test). Sockets:
// "read udp L->R: use of closed network connection" (net.ErrClosed: IsClosed), and a
// second Close fails the same way ("close udp L->R: ..."). net.Pipe differs: its Read and
// Write after Close fail with the bare io.ErrClosedPipe ("io: read/write on closed
// pipe", which is not net.ErrClosed in Go: errors.Is(err, net.ErrClosed) is false), the
// peer's Read gets io.EOF, and Close always returns nil.
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

using testing_util::Event;
using testing_util::GoOpText;
using testing_util::MakeConnPair;
using testing_util::RunChecked;
using testing_util::TempSocketDir;
using testing_util::Transport;

constexpr char kClosedPipe[] = "io: read/write on closed pipe";  // Go's io.ErrClosedPipe
constexpr char kUseOfClosed[] = "use of closed network connection";

class TransportCloseTest : public testing::TestWithParam<std::tuple<Transport, int>> {
 protected:
  Transport transport() const { return std::get<0>(GetParam()); }
  int procs() const { return std::get<1>(GetParam()); }
};

// Checks that s is Go's error for `op` on c after c was closed by this side.
void ExpectClosedByUs(Transport t, const char* op, const net::Conn& c, const absl::Status& s) {
  EXPECT_FALSE(net::IsTimeout(s)) << s;
  EXPECT_FALSE(net::IsEOF(s)) << s;
  EXPECT_EQ(net::Errno(s), 0) << s;
  if (t == Transport::kPipe) {
    // go_observed/pipe.out: closed=false closedpipe=true
    EXPECT_EQ(s.message(), kClosedPipe);
    EXPECT_FALSE(net::IsClosed(s)) << "Go: errors.Is(io.ErrClosedPipe, net.ErrClosed) is false";
    return;
  }
  EXPECT_EQ(s.message(), GoOpText(t, op, c, kUseOfClosed));
  EXPECT_TRUE(net::IsClosed(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

// go_observed/udp.out: [udp close unblocks connected read]
// go_observed/unix.out: [unix close unblocks read]
// go_observed/pipe.out: [pipe close unblocks own read]
TEST_P(TransportCloseTest, CloseUnblocksParkedRead) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    std::atomic<uint64_t> id{0};
    net::IOResult r;
    Event done;
    gonet::Go([&, a = a] {
      id = leak_check::CurrentFiberId();
      char buf[16];
      r = a->Read(absl::MakeSpan(buf));
      done.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value()) << "the Read never parked";
    EXPECT_FALSE(done.IsSet());
    absl::Status c = a->Close();
    EXPECT_TRUE(c.ok()) << c;
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5))) << "Close did not wake the Read";
    EXPECT_EQ(r.n, 0u);
    ExpectClosedByUs(t, "read", *a, r.err);
    (void)b->Close();
  });
}

// go_observed/unix.out: [unix close unblocks read] (write side: as TCP's close_test)
// go_observed/pipe.out: [pipe close unblocks own write]
// A Write blocked on a full send path (or on a Pipe nobody reads) is woken by Close.
TEST_P(TransportCloseTest, CloseUnblocksParkedWrite) {
  const Transport t = transport();
  if (!testing_util::WriteCanBlock(t)) GTEST_SKIP() << "UDP writes do not block";
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    testing_util::MakeWritesBlock(t, *a);
    std::atomic<uint64_t> id{0};
    net::IOResult w;
    Event done;
    gonet::Go([&, a = a] {
      id = leak_check::CurrentFiberId();
      w = a->Write(std::string(t == Transport::kPipe ? 7 : 1 << 20, 'w'));
      done.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value()) << "the Write never parked";
    EXPECT_FALSE(done.IsSet());
    EXPECT_TRUE(a->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5))) << "Close did not wake the Write";
    ExpectClosedByUs(t, "write", *a, w.err);
    if (t == Transport::kPipe) EXPECT_EQ(w.n, 0u);  // [pipe close unblocks own write] n=0
    (void)b->Close();
  });
}

// go_observed/udp.out: [udp connected read after close], [udp connected write after close]
// go_observed/unix.out: [unix read after close], [unix write after close]
// go_observed/pipe.out: [pipe read after own close], [pipe write after own close]
TEST_P(TransportCloseTest, ReadAndWriteAfterClose) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(a->Close().ok());
    char buf[8];
    net::IOResult r = a->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    ExpectClosedByUs(t, "read", *a, r.err);
    net::IOResult w = a->Write("x"sv);
    EXPECT_EQ(w.n, 0u);
    ExpectClosedByUs(t, "write", *a, w.err);
    (void)b->Close();
  });
}

// go_observed/udp.out: [udp connected second close]
// go_observed/unix.out: [unix second close accepted], [unix second close dialed]
// go_observed/pipe.out: [pipe second close] err=<nil>, [pipe close other end again] err=<nil>
TEST_P(TransportCloseTest, SecondClose) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    for (const auto& c : {a, b}) {
      ASSERT_TRUE(c->Close().ok());
      absl::Status again = c->Close();
      if (t == Transport::kPipe) {
        EXPECT_TRUE(again.ok()) << "Go's pipe.Close always returns nil: " << again;
        continue;
      }
      EXPECT_EQ(again.message(), GoOpText(t, "close", *c, kUseOfClosed));
      EXPECT_TRUE(net::IsClosed(again)) << again;
      EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
    }
  });
}

// go_observed/unix.out: [unix read from closed peer]
// go_observed/pipe.out: [pipe peer close unblocks read], [pipe read after peer close]
// A parked Read sees the peer's Close as io.EOF (streams and Pipe; UDP has no EOF).
TEST_P(TransportCloseTest, PeerCloseIsEOF) {
  const Transport t = transport();
  if (t == Transport::kUDP) GTEST_SKIP() << "a datagram socket has no EOF";
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    std::atomic<uint64_t> id{0};
    net::IOResult r;
    Event done;
    gonet::Go([&, a = a] {
      id = leak_check::CurrentFiberId();
      char buf[16];
      r = a->Read(absl::MakeSpan(buf));
      done.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value());
    ASSERT_TRUE(b->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5))) << "the peer's Close did not wake the Read";
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    EXPECT_EQ(r.err.message(), "EOF");
    EXPECT_EQ(r.err.code(), absl::StatusCode::kOutOfRange);
    EXPECT_FALSE(net::IsClosed(r.err));
    // Again, after the fact.
    char buf[4];
    net::IOResult again = a->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsEOF(again.err)) << again.err;
    (void)a->Close();
  });
}

// go_observed/pipe.out: [pipe write after peer close], [pipe peer close unblocks write]
// go_observed/unix.out: [unix write to closed peer]
// Writing to a closed peer: Pipe fails with io.ErrClosedPipe at once (n counts what the
// peer read before); a Unix stream with EPIPE "write unix @->DIR/sock: write: broken
// pipe" (TCP may need a round trip for the RST first: not checked here).
TEST_P(TransportCloseTest, WriteToClosedPeer) {
  const Transport t = transport();
  if (t == Transport::kUDP || t == Transport::kTCP) GTEST_SKIP() << "covered elsewhere";
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    if (t == Transport::kPipe) {
      net::IOResult w;
      Event done;
      gonet::Go([&, a = a] {
        w = a->Write("0123456789"sv);
        done.Notify();
      });
      char small[4];
      net::IOResult r = b->Read(absl::MakeSpan(small));
      EXPECT_EQ(r.n, 4u);
      ASSERT_TRUE(b->Close().ok());
      ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
      EXPECT_EQ(w.n, 4u);  // [pipe peer close unblocks write] read n=4; write n=4
      EXPECT_EQ(w.err.message(), kClosedPipe);
      EXPECT_FALSE(net::IsClosed(w.err));
      net::IOResult w2 = a->Write("x"sv);
      EXPECT_EQ(w2.n, 0u);  // [pipe write after peer close]
      EXPECT_EQ(w2.err.message(), kClosedPipe);
    } else {
      ASSERT_TRUE(b->Close().ok());
      net::IOResult w = a->Write("x"sv);
      EXPECT_EQ(w.n, 0u);
      EXPECT_EQ(w.err.message(), GoOpText(t, "write", *a, "write: broken pipe"));
      EXPECT_EQ(net::Errno(w.err), EPIPE);
      EXPECT_EQ(w.err.code(), absl::StatusCode::kUnavailable);
    }
    (void)a->Close();
  });
}

// Many Reads parked on one conn are all woken by one Close.
TEST_P(TransportCloseTest, CloseWakesEveryParkedReader) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    constexpr int kReaders = 4;
    std::atomic<uint64_t> ids[kReaders] = {};
    std::atomic<int> closed_errors{0};
    fiber::WaitGroup wg;
    for (int i = 0; i < kReaders; ++i) {
      wg.Add(1);
      gonet::Go([&, i, a = a] {
        ids[i] = leak_check::CurrentFiberId();
        char buf[8];
        net::IOResult r = a->Read(absl::MakeSpan(buf));
        if (r.n == 0 && (t == Transport::kPipe ? r.err.message() == kClosedPipe
                                               : net::IsClosed(r.err))) {
          ++closed_errors;
        } else {
          ADD_FAILURE() << "reader " << i << ": n=" << r.n << " " << r.err;
        }
        wg.Done();
      });
    }
    for (auto& id : ids) ASSERT_TRUE(leak_check::WaitParked(&id).has_value());
    EXPECT_TRUE(a->Close().ok());
    wg.Wait();
    EXPECT_EQ(closed_errors.load(), kReaders);
    (void)b->Close();
  });
}

// go_observed/udp.out: [udp local addr after close]; go_observed/pipe.out: [pipe addrs
// after close]. The addresses stay readable after Close.
TEST_P(TransportCloseTest, AddrsAfterClose) {
  const Transport t = transport();
  RunChecked(procs(), [t] {
    TempSocketDir dir;
    auto [a, b] = MakeConnPair(t, &dir);
    ASSERT_TRUE(a && b);
    const std::string local = a->LocalAddr().String(), remote = a->RemoteAddr().String();
    ASSERT_TRUE(a->Close().ok());
    EXPECT_EQ(a->LocalAddr().String(), local);
    EXPECT_EQ(a->RemoteAddr().String(), remote);
    EXPECT_EQ(a->LocalAddr().Network(), testing_util::GoNet(t));
    if (t == Transport::kPipe) EXPECT_EQ(local, "pipe");
    (void)b->Close();
  });
}

INSTANTIATE_TEST_SUITE_P(
    Transports, TransportCloseTest,
    testing::Combine(testing::Values(Transport::kTCP, Transport::kUnix, Transport::kUDP,
                                     Transport::kPipe),
                     testing::Values(1, 2)),
    testing_util::TransportParamName());

}  // namespace
}  // namespace gonet
