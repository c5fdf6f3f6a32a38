// Go-conformance scenarios for net::Pipe (Go's net.Pipe: synchronous, in memory, full
// duplex; no fd). Every value is Go 1.19's, as printed by tests/go_observed/pipe (its
// output: tests/go_observed/pipe.out); each assertion names its line there. In Go a
// Write returns only once readers took all of it (or it failed), an empty Write or Read
// is a rendezvous too, deadlines fail with the OpError "read pipe: i/o timeout", the side
// that closed gets the bare io.ErrClosedPipe ("io: read/write on closed pipe", not
// net.ErrClosed), its peer reads io.EOF, and Close always returns nil.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "testing/fiber_wait.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using std::string_view_literals::operator""sv;

using testing_util::Event;
using testing_util::RunChecked;

constexpr char kClosedPipe[] = "io: read/write on closed pipe";

class PipeTest : public testing::TestWithParam<int> {};

void ExpectTimeout(const absl::Status& s, const char* text) {
  EXPECT_EQ(s.message(), text);
  EXPECT_TRUE(net::IsTimeout(s)) << s;  // timeout=true deadline=true
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_FALSE(net::IsClosed(s)) << s;
  EXPECT_FALSE(net::IsEOF(s)) << s;
}

// closed=false eof=false closedpipe=true timeout=false
void ExpectClosedPipe(const absl::Status& s) {
  EXPECT_EQ(s.message(), kClosedPipe);
  EXPECT_FALSE(net::IsClosed(s)) << "Go: errors.Is(io.ErrClosedPipe, net.ErrClosed) is false";
  EXPECT_FALSE(net::IsTimeout(s)) << s;
  EXPECT_FALSE(net::IsEOF(s)) << s;
  EXPECT_EQ(net::Errno(s), 0) << s;
}

// closed=false eof=true: the text is "EOF"
void ExpectEOF(const absl::Status& s) {
  EXPECT_EQ(s.message(), "EOF");
  EXPECT_TRUE(net::IsEOF(s)) << s;
  EXPECT_FALSE(net::IsClosed(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange) << s;
}

// A Write on its own fiber; Wait() returns its result.
class AsyncWrite {
 public:
  AsyncWrite(std::shared_ptr<net::Conn> c, std::string data) {
    gonet::Go([this, c = std::move(c), data = std::move(data)] {
      id_ = leak_check::CurrentFiberId();
      result_ = c->Write(data);
      done_.Notify();
    });
  }
  bool Parked() { return leak_check::WaitParked(&id_).has_value(); }
  bool Done() { return done_.IsSet(); }
  net::IOResult Wait() {
    EXPECT_TRUE(done_.WaitFor(absl::Seconds(10))) << "the Write never returned";
    return result_;
  }

 private:
  std::atomic<uint64_t> id_{0};
  net::IOResult result_;
  Event done_;
};

// go_observed/pipe.out: [pipe addrs] local=pipe/pipe remote=pipe/pipe
TEST_P(PipeTest, Addrs) {
  RunChecked(GetParam(), [] {
    auto [a, b] = net::Pipe();
    ASSERT_TRUE(a && b);
    for (const auto& c : {a, b}) {
      EXPECT_EQ(c->LocalAddr().Network(), "pipe");
      EXPECT_EQ(c->LocalAddr().String(), "pipe");
      EXPECT_EQ(c->RemoteAddr().Network(), "pipe");
      EXPECT_EQ(c->RemoteAddr().String(), "pipe");
    }
    EXPECT_EQ(std::dynamic_pointer_cast<net::TCPConn>(a), nullptr);
    EXPECT_TRUE(a->Close().ok());
    EXPECT_TRUE(b->Close().ok());
  });
}

// go_observed/pipe.out: [pipe write read], [pipe partial reads], [pipe write waits for
// the rest]
TEST_P(PipeTest, WriteReturnsWhenAllIsRead) {
  RunChecked(GetParam(), [] {
    auto [a, b] = net::Pipe();
    char buf[100];
    {
      // [pipe write read] read n=5 data="hello"; write n=5
      AsyncWrite w(a, "hello");
      net::IOResult r = b->Read(absl::MakeSpan(buf));
      EXPECT_TRUE(r.err.ok()) << r.err;
      EXPECT_EQ(std::string(buf, r.n), "hello");
      net::IOResult wr = w.Wait();
      EXPECT_TRUE(wr.err.ok()) << wr.err;
      EXPECT_EQ(wr.n, 5u);
    }
    {
      // [pipe partial reads] reads=[4:"0123" 4:"4567" 2:"89"] write n=10
      AsyncWrite w(a, "0123456789");
      char small[4];
      std::vector<std::string> parts;
      for (size_t got = 0; got < 10;) {
        net::IOResult r = b->Read(absl::MakeSpan(small));
        ASSERT_TRUE(r.err.ok()) << r.err;
        parts.emplace_back(small, r.n);
        got += r.n;
      }
      EXPECT_EQ(parts, (std::vector<std::string>{"0123", "4567", "89"}));
      net::IOResult wr = w.Wait();
      EXPECT_TRUE(wr.err.ok()) << wr.err;
      EXPECT_EQ(wr.n, 10u);
    }
    {
      // [pipe write waits for the rest] first read 4, write still blocked, second read 2,
      // write n=6
      AsyncWrite w(a, "abcdef");
      char small[4];
      net::IOResult r = b->Read(absl::MakeSpan(small));
      EXPECT_EQ(r.n, 4u);
      EXPECT_TRUE(w.Parked()) << "the Write must wait for the unread rest";
      EXPECT_FALSE(w.Done());
      r = b->Read(absl::MakeSpan(buf));
      EXPECT_EQ(r.n, 2u);
      EXPECT_EQ(std::string(buf, r.n), "ef");
      net::IOResult wr = w.Wait();
      EXPECT_TRUE(wr.err.ok()) << wr.err;
      EXPECT_EQ(wr.n, 6u);
    }
    EXPECT_TRUE(a->Close().ok());
    EXPECT_TRUE(b->Close().ok());
  });
}

// go_observed/pipe.out: [pipe empty write], [pipe empty read without a writer]
// An empty Write blocks until a Read takes it (the Read returns 0, nil); an empty Read
// waits for a Write (here until its deadline: "read pipe: i/o timeout").
TEST_P(PipeTest, EmptyWriteAndReadAreRendezvous) {
  RunChecked(GetParam(), [] {
    auto [a, b] = net::Pipe();
    AsyncWrite w(a, "");
    EXPECT_TRUE(w.Parked()) << "an empty Write returned without a reader";
    EXPECT_FALSE(w.Done());
    char buf[8];
    net::IOResult r = b->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(r.n, 0u);
    net::IOResult wr = w.Wait();
    EXPECT_TRUE(wr.err.ok()) << wr.err;
    EXPECT_EQ(wr.n, 0u);

    ASSERT_TRUE(b->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    r = b->Read(absl::Span<char>());
    EXPECT_EQ(r.n, 0u);
    ExpectTimeout(r.err, "read pipe: i/o timeout");
    EXPECT_TRUE(a->Close().ok());
    EXPECT_TRUE(b->Close().ok());
  });
}

// go_observed/pipe.out: [pipe read deadline], [pipe read after deadline (sticky)], [pipe
// read deadline cleared], [pipe read past deadline], [pipe write deadline], [pipe write
// past deadline], [pipe write deadline after partial read], [pipe setdeadline past],
// [pipe deadline set while parked]
TEST_P(PipeTest, Deadlines) {
  RunChecked(GetParam(), [] {
    auto [a, b] = net::Pipe();
    char buf[100];
    // [pipe read deadline] n=0 "read pipe: i/o timeout" (*net.OpError) after>=40ms
    const absl::Time start = absl::Now();
    ASSERT_TRUE(b->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    net::IOResult r = b->Read(absl::MakeSpan(buf));
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(r.n, 0u);
    ExpectTimeout(r.err, "read pipe: i/o timeout");
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LT(took, absl::Seconds(2));
    // [pipe read after deadline (sticky)]
    ExpectTimeout(b->Read(absl::MakeSpan(buf)).err, "read pipe: i/o timeout");
    // [pipe read deadline cleared] n=5 data="later"
    ASSERT_TRUE(b->SetReadDeadline(absl::InfiniteFuture()).ok());
    {
      AsyncWrite w(a, "later");
      r = b->Read(absl::MakeSpan(buf));
      EXPECT_TRUE(r.err.ok()) << r.err;
      EXPECT_EQ(std::string(buf, r.n), "later");
      EXPECT_EQ(w.Wait().n, 5u);
    }
    // [pipe read past deadline]
    ASSERT_TRUE(b->SetReadDeadline(absl::Now() - absl::Seconds(1)).ok());
    ExpectTimeout(b->Read(absl::MakeSpan(buf)).err, "read pipe: i/o timeout");
    ASSERT_TRUE(b->SetReadDeadline(absl::InfiniteFuture()).ok());
    // [pipe write deadline] n=0 "write pipe: i/o timeout"
    ASSERT_TRUE(a->SetWriteDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    net::IOResult w = a->Write("nobody reads"sv);
    EXPECT_EQ(w.n, 0u);
    ExpectTimeout(w.err, "write pipe: i/o timeout");
    // [pipe write past deadline]
    ASSERT_TRUE(a->SetWriteDeadline(absl::Now() - absl::Seconds(1)).ok());
    w = a->Write("x"sv);
    EXPECT_EQ(w.n, 0u);
    ExpectTimeout(w.err, "write pipe: i/o timeout");
    // [pipe write deadline after partial read] read n=4; write n=4 "write pipe: i/o timeout"
    ASSERT_TRUE(a->SetWriteDeadline(absl::Now() + absl::Milliseconds(100)).ok());
    {
      AsyncWrite aw(a, "0123456789");
      char small[4];
      r = b->Read(absl::MakeSpan(small));
      EXPECT_EQ(r.n, 4u);
      net::IOResult wr = aw.Wait();
      EXPECT_EQ(wr.n, 4u);
      ExpectTimeout(wr.err, "write pipe: i/o timeout");
    }
    ASSERT_TRUE(a->SetWriteDeadline(absl::InfiniteFuture()).ok());
    // [pipe setdeadline past] read and write both time out
    ASSERT_TRUE(a->SetDeadline(absl::Now() - absl::Seconds(1)).ok());
    ExpectTimeout(a->Read(absl::MakeSpan(buf)).err, "read pipe: i/o timeout");
    ExpectTimeout(a->Write("x"sv).err, "write pipe: i/o timeout");
    ASSERT_TRUE(a->SetDeadline(absl::InfiniteFuture()).ok());
    // [pipe deadline set while parked] n=0 "read pipe: i/o timeout"
    std::atomic<uint64_t> id{0};
    net::IOResult parked;
    Event done;
    gonet::Go([&, b = b] {
      id = leak_check::CurrentFiberId();
      char pbuf[8];
      parked = b->Read(absl::MakeSpan(pbuf));
      done.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value());
    ASSERT_TRUE(b->SetReadDeadline(absl::Now() + absl::Milliseconds(20)).ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5))) << "the new deadline did not wake the Read";
    EXPECT_EQ(parked.n, 0u);
    ExpectTimeout(parked.err, "read pipe: i/o timeout");
    EXPECT_TRUE(a->Close().ok());
    EXPECT_TRUE(b->Close().ok());
  });
}

// go_observed/pipe.out: [pipe close unblocks own read], [pipe read after own close],
// [pipe write after own close], [pipe read after peer close], [pipe write after peer
// close], [pipe second close], [pipe close other end], [pipe close other end again],
// [pipe setdeadline after close], [pipe setreaddeadline after close], [pipe addrs after
// close]
TEST_P(PipeTest, Close) {
  RunChecked(GetParam(), [] {
    auto [a, b] = net::Pipe();
    // [pipe close unblocks own read] close err=<nil>; read n=0 "io: read/write on closed pipe"
    std::atomic<uint64_t> id{0};
    net::IOResult parked;
    Event done;
    gonet::Go([&, b = b] {
      id = leak_check::CurrentFiberId();
      char pbuf[8];
      parked = b->Read(absl::MakeSpan(pbuf));
      done.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value());
    EXPECT_TRUE(b->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5))) << "Close did not wake the Read";
    EXPECT_EQ(parked.n, 0u);
    ExpectClosedPipe(parked.err);
    char buf[8];
    // [pipe read after own close], [pipe write after own close]
    net::IOResult r = b->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    ExpectClosedPipe(r.err);
    net::IOResult w = b->Write("x"sv);
    EXPECT_EQ(w.n, 0u);
    ExpectClosedPipe(w.err);
    // [pipe read after peer close] n=0 "EOF"; [pipe write after peer close] n=0 closed pipe
    r = a->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    ExpectEOF(r.err);
    w = a->Write("x"sv);
    EXPECT_EQ(w.n, 0u);
    ExpectClosedPipe(w.err);
    // [pipe second close] err=<nil>; [pipe close other end] <nil>; [... again] <nil>
    EXPECT_TRUE(b->Close().ok());
    EXPECT_TRUE(a->Close().ok());
    EXPECT_TRUE(a->Close().ok());
    // [pipe setdeadline after close], [pipe setreaddeadline after close]: closed pipe
    ExpectClosedPipe(b->SetDeadline(absl::Now()));
    ExpectClosedPipe(b->SetReadDeadline(absl::Now()));
    // [pipe addrs after close] pipe/pipe
    EXPECT_EQ(b->LocalAddr().Network(), "pipe");
    EXPECT_EQ(b->LocalAddr().String(), "pipe");
  });
}

// go_observed/pipe.out: [pipe peer close unblocks read], [pipe peer close unblocks
// write], [pipe close unblocks own write], [pipe read after peer closed before any write]
TEST_P(PipeTest, CloseWakesTheOtherSide) {
  RunChecked(GetParam(), [] {
    {
      // [pipe peer close unblocks read] n=0 EOF
      auto [a, b] = net::Pipe();
      std::atomic<uint64_t> id{0};
      net::IOResult parked;
      Event done;
      gonet::Go([&, a = a] {
        id = leak_check::CurrentFiberId();
        char pbuf[8];
        parked = a->Read(absl::MakeSpan(pbuf));
        done.Notify();
      });
      ASSERT_TRUE(leak_check::WaitParked(&id).has_value());
      EXPECT_TRUE(b->Close().ok());
      ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
      EXPECT_EQ(parked.n, 0u);
      ExpectEOF(parked.err);
      EXPECT_TRUE(a->Close().ok());
    }
    {
      // [pipe peer close unblocks write] read n=4; write n=4 closed pipe
      auto [a, b] = net::Pipe();
      AsyncWrite w(a, "0123456789");
      char small[4];
      EXPECT_EQ(b->Read(absl::MakeSpan(small)).n, 4u);
      EXPECT_TRUE(b->Close().ok());
      net::IOResult wr = w.Wait();
      EXPECT_EQ(wr.n, 4u);
      ExpectClosedPipe(wr.err);
      EXPECT_TRUE(a->Close().ok());
    }
    {
      // [pipe close unblocks own write] n=0 closed pipe
      auto [a, b] = net::Pipe();
      AsyncWrite w(a, "blocked");
      ASSERT_TRUE(w.Parked());
      EXPECT_TRUE(a->Close().ok());
      net::IOResult wr = w.Wait();
      EXPECT_EQ(wr.n, 0u);
      ExpectClosedPipe(wr.err);
      EXPECT_TRUE(b->Close().ok());
    }
    {
      // [pipe read after peer closed before any write] n=0 EOF
      auto [a, b] = net::Pipe();
      EXPECT_TRUE(a->Close().ok());
      char buf[8];
      net::IOResult r = b->Read(absl::MakeSpan(buf));
      EXPECT_EQ(r.n, 0u);
      ExpectEOF(r.err);
      EXPECT_TRUE(b->Close().ok());
    }
  });
}

// Full duplex: both directions at once, many messages, from several fibers; a Pipe
// holds no fd (RunChecked counts them) and leaves no fiber behind.
TEST_P(PipeTest, FullDuplexPingPong) {
  RunChecked(GetParam(), [] {
    auto [a, b] = net::Pipe();
    constexpr int kRounds = 1000;
    fiber::WaitGroup wg;
    wg.Add(2);
    // Each side closes its end when it stops, so a failed ASSERT cannot strand the other.
    gonet::Go([&, a = a] {
      absl::Cleanup done = [&] {
        (void)a->Close();
        wg.Done();
      };
      char buf[16];
      for (int i = 0; i < kRounds; ++i) {
        const std::string msg = std::to_string(i);
        ASSERT_TRUE(a->Write(msg).err.ok());
        net::IOResult r = a->Read(absl::MakeSpan(buf));
        ASSERT_TRUE(r.err.ok()) << r.err;
        ASSERT_EQ(std::string(buf, r.n), "ack" + msg);
      }
    });
    gonet::Go([&, b = b] {
      absl::Cleanup done = [&] {
        (void)b->Close();
        wg.Done();
      };
      char buf[16];
      for (int i = 0; i < kRounds; ++i) {
        net::IOResult r = b->Read(absl::MakeSpan(buf));
        ASSERT_TRUE(r.err.ok()) << r.err;
        ASSERT_TRUE(b->Write("ack" + std::string(buf, r.n)).err.ok());
      }
    });
    wg.Wait();
    EXPECT_TRUE(a->Close().ok());
    EXPECT_TRUE(b->Close().ok());
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, PipeTest, testing::Values(1, 2));

}  // namespace
}  // namespace gonet
