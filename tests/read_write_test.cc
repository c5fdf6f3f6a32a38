// Go-conformance scenarios for Conn.Read / Conn.Write (docs/behavior.md §1.8,
// §2.6, §4.7-4.9, §4.12, §6.5), asserted on what Linux does over loopback.
#include <errno.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using testing_util::ConnPair;
using testing_util::Event;
using testing_util::MakeConnPair;
using testing_util::Pair;
using testing_util::RunChecked;

class ReadTest : public testing::TestWithParam<int> {};
class WriteTest : public testing::TestWithParam<int> {};
class ConcurrentIOTest : public testing::TestWithParam<int> {};

std::string ReadString(net::Conn& c, size_t max) {
  std::string buf(max, '\0');
  net::IOResult r = c.Read(absl::MakeSpan(buf));
  EXPECT_TRUE(r.err.ok()) << r.err;
  buf.resize(r.n);
  return buf;
}

// No data: Read parks until its deadline, then (0, "read tcp L->R: i/o timeout").
TEST_P(ReadTest, NoDataBlocksUntilDeadline) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    char buf[16];
    absl::Time start = absl::Now();  // before the deadline is computed from it
    ASSERT_TRUE(p.client->SetReadDeadline(start + absl::Milliseconds(100)).ok());
    net::IOResult r = p.client->Read(absl::MakeSpan(buf));
    absl::Duration took = absl::Now() - start;
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.err.message(), "read tcp " + Pair(*p.client) + ": i/o timeout");
    EXPECT_TRUE(net::IsTimeout(r.err));
    EXPECT_EQ(r.err.code(), absl::StatusCode::kDeadlineExceeded);
    EXPECT_EQ(net::Errno(r.err), 0);
    EXPECT_GE(took, absl::Milliseconds(90));
    EXPECT_LT(took, absl::Seconds(2));
    p.CloseAll();
  });
}

// Less data than the buffer: Read returns what is there, at once.
TEST_P(ReadTest, PartialData) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.server->Write(std::string("abc")).n, 3u);
    EXPECT_EQ(ReadString(*p.client, 100), "abc");
    p.CloseAll();
  });
}

// 15 bytes written, 10-byte buffer: 10, then 5.
TEST_P(ReadTest, MoreDataThanBuffer) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    net::IOResult w = p.server->Write(std::string("0123456789abcde"));
    EXPECT_EQ(w.n, 15u);
    EXPECT_TRUE(w.err.ok());
    // Both segments are on the loopback queue once Write returned.
    EXPECT_EQ(ReadString(*p.client, 10), "0123456789");
    EXPECT_EQ(ReadString(*p.client, 10), "abcde");
    p.CloseAll();
  });
}

// [read after peer close #1..#3]: data first, then EOF, EOF again; and a zero-length
// read after FIN is (0, ok).
TEST_P(ReadTest, PeerClosesAfterSending) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.server->Write(std::string("abc")).n, 3u);
    EXPECT_TRUE(p.server->Close().ok());
    // A hang must fail, not time out the target.
    ASSERT_TRUE(p.client->SetReadDeadline(absl::Now() + absl::Seconds(5)).ok());
    char buf[16];
    net::IOResult r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "abc");
    for (int i = 0; i < 2; ++i) {
      r = p.client->Read(absl::MakeSpan(buf));
      EXPECT_EQ(r.n, 0u);
      EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
      EXPECT_EQ(r.err.message(), "EOF");  // never wrapped
      EXPECT_EQ(r.err.code(), absl::StatusCode::kOutOfRange);
      EXPECT_FALSE(net::IsClosed(r.err));
      EXPECT_FALSE(net::IsTimeout(r.err));
      EXPECT_EQ(net::Errno(r.err), 0);
    }
    r = p.client->Read(absl::Span<char>());
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(r.err.ok()) << r.err;
    p.CloseAll();
  });
}

// As PeerClosesAfterSending, but the runtime polls (and records the readiness of
// the data and the FIN) before the first Read: Read #1 gets "abc" (a short read),
// Read #2 must still see EOF. A 2 s read deadline turns a hang into a failure.
// Regression: netfd's drained-read shortcut once skipped read(2) here and parked
// although the FIN was queued (its epoll edge consumed before Read #1); a peer hang-up
// now turns the shortcut off for the fd (PollDesc::hangup_).
TEST_P(ReadTest, PeerClosesAfterSendingPolledFirst) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.server->Write(std::string("abc")).n, 3u);
    EXPECT_TRUE(p.server->Close().ok());
    Event never;
    EXPECT_FALSE(never.WaitFor(absl::Milliseconds(20)));  // lets the idle worker poll
    ASSERT_TRUE(p.client->SetReadDeadline(absl::Now() + absl::Seconds(2)).ok());
    char buf[16];
    net::IOResult r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "abc");
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    p.CloseAll();
  });
}

// Peer closes with nothing sent: a Read parked before the FIN wakes with EOF.
TEST_P(ReadTest, PeerClosesWithNothingSent) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    Event done;
    net::IOResult r;
    gonet::Go([&] {
      char buf[16];
      r = p.client->Read(absl::MakeSpan(buf));
      done.Notify();
    });
    EXPECT_FALSE(done.WaitFor(absl::Milliseconds(50))) << "Read returned with no data: " << r.err;
    EXPECT_TRUE(p.server->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    EXPECT_EQ(r.err.message(), "EOF");
    p.CloseAll();
  });
}

// Read deadline: timeout with n == 0; sticky even with data buffered; the conn reads
// again once the deadline is moved (cleared, or set in the future).
TEST_P(ReadTest, DeadlineStickyThenUsableAfterMove) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    const std::string want_timeout = "read tcp " + Pair(*p.client) + ": i/o timeout";
    ASSERT_TRUE(p.client->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    char buf[16];
    net::IOResult r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.err.message(), want_timeout);
    // [read expired deadline with data buffered]
    EXPECT_EQ(p.server->Write(std::string("hello")).n, 5u);
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.err.message(), want_timeout);
    // [Write with only read deadline expired] n=1
    EXPECT_EQ(p.client->Write(std::string("x")).n, 1u);
    // [read after clearing deadline] n=5 "hello"
    ASSERT_TRUE(p.client->SetReadDeadline(absl::InfiniteFuture()).ok());
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "hello");
    // Moved into the future: usable again.
    ASSERT_TRUE(p.client->SetReadDeadline(absl::Now() + absl::Milliseconds(20)).ok());
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
    ASSERT_TRUE(p.client->SetReadDeadline(absl::Now() + absl::Hours(1)).ok());
    EXPECT_EQ(p.server->Write(std::string("again")).n, 5u);
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "again");
    p.CloseAll();
  });
}

// [blocked read woken by past deadline] and [blocked read, deadline extended].
TEST_P(ReadTest, DeadlineChangedWhileBlocked) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    // Past deadline wakes a parked Read at once.
    {
      Event done;
      net::IOResult r;
      gonet::Go([&] {
        char buf[16];
        r = p.client->Read(absl::MakeSpan(buf));
        done.Notify();
      });
      EXPECT_FALSE(done.WaitFor(absl::Milliseconds(50)));
      ASSERT_TRUE(p.client->SetReadDeadline(absl::InfinitePast()).ok());
      ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
      EXPECT_EQ(r.n, 0u);
      EXPECT_EQ(r.err.message(), "read tcp " + Pair(*p.client) + ": i/o timeout");
    }
    // A deadline extended while parked: the read ends at the new deadline.
    {
      ASSERT_TRUE(p.client->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
      Event done;
      net::IOResult r;
      absl::Time start = absl::Now();
      absl::Duration took;
      gonet::Go([&] {
        char buf[16];
        r = p.client->Read(absl::MakeSpan(buf));
        took = absl::Now() - start;
        done.Notify();
      });
      ASSERT_TRUE(p.client->SetReadDeadline(start + absl::Milliseconds(300)).ok());
      ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
      EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
      EXPECT_GE(took, absl::Milliseconds(280));
    }
    p.CloseAll();
  });
}

// Deadlines far in the past (1970, InfinitePast, "now") expire at once; far in the
// future behaves as none.
TEST_P(ReadTest, DeadlinesFarPastAndFarFuture) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    char buf[16];
    for (absl::Time t : {absl::UnixEpoch() + absl::Seconds(1), absl::InfinitePast(), absl::Now()}) {
      ASSERT_TRUE(p.client->SetDeadline(t).ok());
      absl::Time start = absl::Now();
      net::IOResult r = p.client->Read(absl::MakeSpan(buf));
      EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
      net::IOResult w = p.client->Write(std::string("x"));
      EXPECT_EQ(w.n, 0u);
      EXPECT_EQ(w.err.message(), "write tcp " + Pair(*p.client) + ": i/o timeout");
      EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
    }
    ASSERT_TRUE(p.client->SetDeadline(absl::Now() + absl::Hours(24 * 365 * 100)).ok());
    EXPECT_EQ(p.server->Write(std::string("far")).n, 3u);
    EXPECT_EQ(ReadString(*p.client, 16), "far");
    EXPECT_EQ(p.client->Write(std::string("ok")).n, 2u);
    EXPECT_EQ(ReadString(*p.server, 16), "ok");
    p.CloseAll();
  });
}

// Zero-length Read and Write: (0, ok) at once.
TEST_P(ReadTest, ZeroLengthReadAndWrite) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    net::IOResult r = p.client->Read(absl::Span<char>());
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(r.err.ok()) << r.err;
    net::IOResult w = p.client->Write(absl::Span<const char>());
    EXPECT_EQ(w.n, 0u);
    EXPECT_TRUE(w.err.ok()) << w.err;
    p.CloseAll();
  });
}

// A 64 MiB buffer: one Read returns what one read(2) gives (n > 0), no error.
TEST_P(ReadTest, HugeBuffer) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    std::string msg(100000, 'h');
    EXPECT_EQ(p.server->Write(msg).n, msg.size());
    std::vector<char> buf(64 << 20);
    size_t got = 0;
    while (got < msg.size()) {
      net::IOResult r = p.client->Read(absl::MakeSpan(buf));
      ASSERT_TRUE(r.err.ok()) << r.err;
      ASSERT_GT(r.n, 0u);
      EXPECT_TRUE(std::all_of(buf.begin(), buf.begin() + r.n, [](char c) { return c == 'h'; }));
      got += r.n;
    }
    EXPECT_EQ(got, msg.size());
    p.CloseAll();
  });
}

// A Write the peer reads: returns len(p), ok.
TEST_P(WriteTest, Succeeds) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    std::string msg(1 << 20, 'w');
    Event done;
    size_t got = 0;
    gonet::Go([&] {
      std::vector<char> buf(64 << 10);
      while (got < msg.size()) {
        net::IOResult r = p.server->Read(absl::MakeSpan(buf));
        if (!r.err.ok()) break;
        got += r.n;
      }
      done.Notify();
    });
    net::IOResult w = p.client->Write(msg);
    EXPECT_EQ(w.n, msg.size());
    EXPECT_TRUE(w.err.ok()) << w.err;
    ASSERT_TRUE(done.WaitFor(absl::Seconds(10)));
    EXPECT_EQ(got, msg.size());
    p.CloseAll();
  });
}

// [write deadline partial]: the peer does not read, the kernel buffers fill, the
// Write blocks until its deadline and returns 0 < n < len with
// "write tcp L->R: i/o timeout"; [write after expired write deadline] n=0.
TEST_P(WriteTest, BlocksWhenPeerDoesNotReadDeadlinePartial) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    const std::string want = "write tcp " + Pair(*p.client) + ": i/o timeout";
    std::string big(64 << 20, 'b');
    absl::Time start = absl::Now();  // before the deadline is computed from it
    ASSERT_TRUE(p.client->SetWriteDeadline(start + absl::Milliseconds(200)).ok());
    net::IOResult w = p.client->Write(big);
    absl::Duration took = absl::Now() - start;
    EXPECT_GT(w.n, 0u);
    EXPECT_LT(w.n, big.size());
    EXPECT_EQ(w.err.message(), want);
    EXPECT_TRUE(net::IsTimeout(w.err));
    EXPECT_GE(took, absl::Milliseconds(180));
    EXPECT_LT(took, absl::Seconds(3));
    w = p.client->Write(std::string("x"));
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), want);
    // A read deadline is independent: Read still parks (shown with its own deadline).
    ASSERT_TRUE(p.client->SetReadDeadline(absl::Now() + absl::Milliseconds(20)).ok());
    char c;
    net::IOResult r = p.client->Read(absl::MakeSpan(&c, 1));
    EXPECT_EQ(r.err.message(), "read tcp " + Pair(*p.client) + ": i/o timeout");
    p.CloseAll();
  });
}

// Once the kernel buffers are full (FillSendPath) a 64 MiB Write parks (it has not
// returned 50 ms later); when the peer starts reading it completes with the full count.
TEST_P(WriteTest, BlockedWriteResumesWhenPeerReads) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    const size_t filled = testing_util::FillSendPath(*p.client);
    EXPECT_GT(filled, 0u);
    Event done;
    net::IOResult w;
    std::string msg(64 << 20, 'm');
    gonet::Go([&] {
      w = p.client->Write(msg);
      done.Notify();
    });
    EXPECT_FALSE(done.WaitFor(absl::Milliseconds(50))) << "Write did not block: " << w.err;
    size_t got = 0;
    std::vector<char> buf(1 << 20);
    while (got < filled + msg.size()) {
      net::IOResult r = p.server->Read(absl::MakeSpan(buf));
      ASSERT_TRUE(r.err.ok()) << r.err;
      got += r.n;
    }
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
    EXPECT_EQ(w.n, msg.size());
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(got, filled + msg.size());
    p.CloseAll();
  });
}

// The peer goes away (closing with unread data: RST) while a Write is parked: the
// Write returns the partial count and "write: connection reset by peer" (or
// "write: broken pipe", whichever errno the kernel reports first).
TEST_P(WriteTest, PeerGoesAwayMidWrite) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    Event done;
    net::IOResult w;
    std::string big(64 << 20, 'p');
    gonet::Go([&] {
      w = p.client->Write(big);
      done.Notify();
    });
    EXPECT_FALSE(done.WaitFor(absl::Milliseconds(100))) << "Write did not block: " << w.err;
    EXPECT_TRUE(p.server->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
    EXPECT_GT(w.n, 0u);
    EXPECT_LT(w.n, big.size());
    const int e = net::Errno(w.err);
    EXPECT_TRUE(e == ECONNRESET || e == EPIPE) << w.err;
    const std::string prefix = "write tcp " + Pair(*p.client) + ": write: ";
    EXPECT_EQ(w.err.message(), prefix + (e == EPIPE ? "broken pipe" : "connection reset by peer"));
    EXPECT_EQ(w.err.code(), absl::StatusCode::kUnavailable);
    // Later writes: broken pipe.
    net::IOResult w2 = p.client->Write(std::string("x"));
    EXPECT_EQ(w2.n, 0u);
    EXPECT_EQ(w2.err.message(), prefix + "broken pipe");
    EXPECT_EQ(net::Errno(w2.err), EPIPE);
    p.CloseAll();
  });
}

// Section 4.12: with SIGPIPE at its default disposition (terminate), writing to a
// reset conn returns ECONNRESET then EPIPE and the process lives on.
TEST_P(WriteTest, SigpipeDefaultDispositionProcessLives) {
  struct sigaction old{};
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ASSERT_EQ(sigaction(SIGPIPE, &dfl, &old), 0);
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p.server->SetLinger(0).ok());
    ASSERT_TRUE(p.server->Close().ok());  // RST
    const std::string prefix = "write tcp " + Pair(*p.client) + ": write: ";
    net::IOResult w = p.client->Write(std::string("y"));
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), prefix + "connection reset by peer");
    EXPECT_EQ(net::Errno(w.err), ECONNRESET);
    for (int i = 0; i < 3; ++i) {
      w = p.client->Write(std::string("y"));
      EXPECT_EQ(w.n, 0u);
      EXPECT_EQ(w.err.message(), prefix + "broken pipe");
      EXPECT_EQ(net::Errno(w.err), EPIPE);
    }
    // [read after that] EOF.
    char c;
    net::IOResult r = p.client->Read(absl::MakeSpan(&c, 1));
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    p.CloseAll();
  });
  sigaction(SIGPIPE, &old, nullptr);
}

// Section 1.8: 8 fibers x 4 Writes of 256 KiB (a distinct byte per writer) on one
// conn; the reader sees 32 chunks, each homogeneous and 256 KiB-aligned.
TEST_P(ConcurrentIOTest, WritersNeverInterleave) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    constexpr int kWriters = 8, kWrites = 4;
    constexpr size_t kChunk = 256 << 10, kTotal = kWriters * kWrites * kChunk;
    fiber::WaitGroup wg;
    wg.Add(kWriters);
    for (int i = 0; i < kWriters; ++i) {
      gonet::Go([&, i] {
        std::string block(kChunk, static_cast<char>('A' + i));
        for (int k = 0; k < kWrites; ++k) {
          net::IOResult w = p.client->Write(block);
          EXPECT_EQ(w.n, kChunk);
          EXPECT_TRUE(w.err.ok()) << w.err;
        }
        wg.Done();
      });
    }
    std::string got(kTotal, '\0');
    size_t n = 0;
    while (n < kTotal) {
      net::IOResult r = p.server->Read(absl::MakeSpan(got.data() + n, kTotal - n));
      ASSERT_TRUE(r.err.ok()) << r.err;
      n += r.n;
    }
    wg.Wait();
    int per_writer[kWriters] = {};
    bool homogeneous = true;
    for (size_t off = 0; off < kTotal; off += kChunk) {
      const char b = got[off];
      homogeneous &= std::all_of(got.begin() + off, got.begin() + off + kChunk,
                                 [b](char c) { return c == b; });
      if (b >= 'A' && b < 'A' + kWriters) per_writer[b - 'A']++;
    }
    EXPECT_TRUE(homogeneous) << "writes interleaved";
    for (int i = 0; i < kWriters; ++i) EXPECT_EQ(per_writer[i], kWrites) << "writer " << i;
    p.CloseAll();
  });
}

// Section 1.8: one 1 MiB Write read by 4 concurrent readers: every byte delivered
// exactly once, in disjoint contiguous pieces. (The readers end when the conn is
// closed once every byte arrived; see PeerClosesAfterSendingPolledFirst for EOF.)
TEST_P(ConcurrentIOTest, ReadersGetDisjointPieces) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    // The stream is consecutive little-endian uint32 counters, so a piece of 8+
    // bytes tells its own offset.
    constexpr size_t kWords = (1 << 20) / 4, kTotal = kWords * 4;
    std::string stream(kTotal, '\0');
    for (uint32_t i = 0; i < kWords; ++i) memcpy(&stream[i * 4], &i, 4);
    constexpr int kReaders = 4;
    std::vector<std::string> pieces[kReaders];
    std::atomic<size_t> received{0};
    Event all_in;
    // A lost wakeup must fail the test, not hang it.
    ASSERT_TRUE(p.server->SetReadDeadline(absl::Now() + absl::Seconds(10)).ok());
    fiber::WaitGroup wg;
    wg.Add(kReaders);
    for (int i = 0; i < kReaders; ++i) {
      gonet::Go([&, i] {
        std::vector<char> buf(16 << 10);
        for (;;) {
          net::IOResult r = p.server->Read(absl::MakeSpan(buf));
          if (!r.err.ok()) {
            EXPECT_TRUE(net::IsClosed(r.err)) << r.err;
            break;
          }
          pieces[i].emplace_back(buf.data(), r.n);
          if (received.fetch_add(r.n) + r.n >= kTotal) all_in.Notify();
        }
        wg.Done();
      });
    }
    net::IOResult w = p.client->Write(stream);
    EXPECT_EQ(w.n, kTotal);
    EXPECT_TRUE(all_in.WaitFor(absl::Seconds(10)));
    ASSERT_TRUE(p.server->Close().ok());  // wakes the readers still parked
    wg.Wait();
    std::vector<char> covered(kTotal, 0);
    std::vector<const std::string*> small;
    size_t total = 0;
    bool overlap = false, mismatch = false;
    for (auto& v : pieces) {
      for (const std::string& s : v) {
        total += s.size();
        if (s.size() < 8) {
          small.push_back(&s);
          continue;
        }
        bool placed = false;
        for (size_t a = 0; a < 4 && !placed; ++a) {
          uint32_t word;
          memcpy(&word, s.data() + a, 4);
          const int64_t off = int64_t{word} * 4 - static_cast<int64_t>(a);
          if (off < 0 || off + s.size() > kTotal) continue;
          if (memcmp(stream.data() + off, s.data(), s.size()) != 0) continue;
          placed = true;
          for (size_t k = 0; k < s.size(); ++k) overlap |= covered[off + k]++ != 0;
        }
        mismatch |= !placed;
      }
    }
    for (const std::string* s : small) {  // rare: fit them into the gaps
      bool placed = false;
      for (size_t off = 0; off + s->size() <= kTotal && !placed; ++off) {
        bool fits = memcmp(stream.data() + off, s->data(), s->size()) == 0;
        for (size_t k = 0; fits && k < s->size(); ++k) fits = covered[off + k] == 0;
        if (!fits) continue;
        placed = true;
        for (size_t k = 0; k < s->size(); ++k) covered[off + k] = 1;
      }
      mismatch |= !placed;
    }
    EXPECT_EQ(total, kTotal);
    EXPECT_FALSE(overlap) << "a byte was delivered twice";
    EXPECT_FALSE(mismatch) << "a piece is not a slice of the stream";
    EXPECT_TRUE(std::all_of(covered.begin(), covered.end(), [](char c) { return c == 1; }));
    p.CloseAll();
  });
}

// Full duplex: one fiber reading and one writing the same conn at once (through an
// echo on the other side); each side stops after kN bytes, not at EOF.
TEST_P(ConcurrentIOTest, ReadAndWriteAtOnce) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    constexpr size_t kN = 4 << 20;
    ASSERT_TRUE(p.server->SetDeadline(absl::Now() + absl::Seconds(20)).ok());
    ASSERT_TRUE(p.client->SetDeadline(absl::Now() + absl::Seconds(20)).ok());
    fiber::WaitGroup wg;
    wg.Add(3);
    size_t echoed = 0;
    gonet::Go([&] {
      std::vector<char> buf(64 << 10);
      while (echoed < kN) {
        net::IOResult r = p.server->Read(absl::MakeSpan(buf));
        EXPECT_TRUE(r.err.ok()) << r.err;
        if (!r.err.ok()) break;
        net::IOResult w = p.server->Write(absl::MakeConstSpan(buf.data(), r.n));
        EXPECT_TRUE(w.err.ok()) << w.err;
        if (!w.err.ok()) break;
        echoed += r.n;
      }
      wg.Done();
    });
    std::string msg(kN, '\0');
    for (size_t i = 0; i < kN; ++i) msg[i] = static_cast<char>(i * 13 + (i >> 10));
    gonet::Go([&] {
      net::IOResult w = p.client->Write(msg);
      EXPECT_EQ(w.n, kN);
      EXPECT_TRUE(w.err.ok()) << w.err;
      wg.Done();
    });
    std::string got(kN, '\0');
    size_t n = 0;
    gonet::Go([&] {
      while (n < kN) {
        net::IOResult r = p.client->Read(absl::MakeSpan(got.data() + n, kN - n));
        EXPECT_TRUE(r.err.ok()) << r.err;
        if (!r.err.ok()) break;
        n += r.n;
      }
      wg.Done();
    });
    wg.Wait();
    EXPECT_EQ(echoed, kN);
    EXPECT_EQ(n, kN);
    EXPECT_TRUE(got == msg) << "echo differs";
    p.CloseAll();
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, ReadTest, testing::Values(1, 2, 8));
INSTANTIATE_TEST_SUITE_P(Procs, WriteTest, testing::Values(1, 2, 8));
INSTANTIATE_TEST_SUITE_P(Procs, ConcurrentIOTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
