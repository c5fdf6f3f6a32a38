// Go-conformance scenarios for Close, CloseRead and CloseWrite (docs/behavior.md
// §1.5-1.6, §4.10, §4.11, §5.4, §6.5.5 "Use after local close", §6.5.6 "Peer closes").
#include <errno.h>

#include <string>
#include <thread>

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

class CloseTest : public testing::TestWithParam<int> {};

// [read/write after local close], [close twice], [SetDeadline after close],
// [SetNoDelay after close], [CloseWrite after close], addresses after close.
TEST_P(CloseTest, UseAfterLocalCloseTexts) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    net::TCPConn& c = *p.client;
    const std::string lr = Pair(c);
    const std::string l = c.LocalAddr().String();
    const std::string r_addr = c.RemoteAddr().String();
    ASSERT_TRUE(c.Close().ok());
    const std::string closed = ": use of closed network connection";
    char buf[8];
    net::IOResult r = c.Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.err.message(), "read tcp " + lr + closed);
    EXPECT_TRUE(net::IsClosed(r.err));
    EXPECT_EQ(r.err.code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_FALSE(net::IsTimeout(r.err));
    EXPECT_FALSE(net::IsEOF(r.err));
    EXPECT_EQ(net::Errno(r.err), 0);
    net::IOResult w = c.Write(std::string("x"));
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), "write tcp " + lr + closed);
    EXPECT_TRUE(net::IsClosed(w.err));
    absl::Status s = c.Close();
    EXPECT_EQ(s.message(), "close tcp " + lr + closed);
    EXPECT_TRUE(net::IsClosed(s));
    EXPECT_EQ(c.SetDeadline(absl::Now()).message(), "set tcp " + l + closed);
    EXPECT_EQ(c.SetReadDeadline(absl::Now()).message(), "set tcp " + l + closed);
    EXPECT_EQ(c.SetWriteDeadline(absl::Now()).message(), "set tcp " + l + closed);
    EXPECT_EQ(c.SetReadBuffer(4096).message(), "set tcp " + l + closed);
    EXPECT_EQ(c.SetWriteBuffer(4096).message(), "set tcp " + l + closed);
    EXPECT_EQ(c.SetNoDelay(true).message(), "set tcp " + lr + closed);
    EXPECT_EQ(c.SetKeepAlive(true).message(), "set tcp " + lr + closed);
    EXPECT_EQ(c.SetKeepAlivePeriod(absl::Seconds(1)).message(), "set tcp " + lr + closed);
    EXPECT_EQ(c.SetLinger(1).message(), "set tcp " + lr + closed);
    EXPECT_EQ(c.CloseWrite().message(), "close tcp " + lr + closed);
    EXPECT_EQ(c.CloseRead().message(), "close tcp " + lr + closed);
    EXPECT_TRUE(net::IsClosed(c.CloseWrite()));
    bool called = false;
    absl::Status cs = c.Control([&](int) { called = true; });
    EXPECT_TRUE(net::IsClosed(cs)) << cs;
    EXPECT_FALSE(called);
    // Zero-length Read on a closed conn: the lock fails first.
    EXPECT_TRUE(net::IsClosed(c.Read(absl::Span<char>()).err));
    EXPECT_EQ(c.LocalAddr().String(), l);
    EXPECT_EQ(c.RemoteAddr().String(), r_addr);
    p.CloseAll();
  });
}

// Peer closed (FIN, nothing unread on its side): Read gives EOF; the first Write
// succeeds (the kernel learns of the dead peer from its RST), later ones fail with
// "write: broken pipe".
TEST_P(CloseTest, PeerClosedReadEOFWriteLaterEPIPE) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p.server->Close().ok());
    char buf[8];
    net::IOResult r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    net::IOResult w = p.client->Write(std::string("hello"));
    EXPECT_EQ(w.n, 5u);
    EXPECT_TRUE(w.err.ok()) << w.err;
    // Over loopback the RST arrives synchronously, so the next write already fails
    // (Go: [write after peer close, no pause #2]); allow a few in case it doesn't.
    int tries = 0;
    do {
      w = p.client->Write(std::string("hello"));
    } while (w.err.ok() && ++tries < 100);
    EXPECT_EQ(tries, 0) << "the second write did not fail at once";
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), "write tcp " + Pair(*p.client) + ": write: broken pipe");
    EXPECT_EQ(net::Errno(w.err), EPIPE);
    EXPECT_FALSE(net::IsClosed(w.err));
    // [read after peer close + RST] EOF.
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    p.CloseAll();
  });
}

// Section 5.4: the peer's SetLinger(0)+Close resets: [read after peer SetLinger(0)+Close]
// "read tcp L->R: read: connection reset by peer", then writes get EPIPE.
TEST_P(CloseTest, PeerLingerZeroResets) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p.server->SetLinger(0).ok());
    ASSERT_TRUE(p.server->Close().ok());
    char buf[8];
    net::IOResult r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.err.message(), "read tcp " + Pair(*p.client) + ": read: connection reset by peer");
    EXPECT_EQ(net::Errno(r.err), ECONNRESET);
    EXPECT_EQ(r.err.code(), absl::StatusCode::kUnavailable);
    net::IOResult w = p.client->Write(std::string("x"));
    EXPECT_EQ(w.err.message(), "write tcp " + Pair(*p.client) + ": write: broken pipe");
    p.CloseAll();
  });
}

// [read after peer closed with unread data (RST)]: closing with unread input resets.
TEST_P(CloseTest, PeerClosesWithUnreadDataResets) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.client->Write(std::string("unread")).n, 6u);
    // Make sure the bytes sit in the server's receive queue: a round trip after them.
    EXPECT_EQ(p.server->Write(std::string("k")).n, 1u);
    char buf[8];
    EXPECT_TRUE(p.client->Read(absl::MakeSpan(buf)).err.ok());
    ASSERT_TRUE(p.server->Close().ok());
    net::IOResult r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.err.message(), "read tcp " + Pair(*p.client) + ": read: connection reset by peer");
    net::IOResult w = p.client->Write(std::string("x"));
    EXPECT_EQ(w.err.message(), "write tcp " + Pair(*p.client) + ": write: broken pipe");
    p.CloseAll();
  });
}

// [blocked read, concurrent Close]: the parked Read wakes with IsClosed.
TEST_P(CloseTest, CloseUnblocksBlockedRead) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    const std::string lr = Pair(*p.client);
    Event done;
    net::IOResult r;
    gonet::Go([&] {
      char buf[8];
      r = p.client->Read(absl::MakeSpan(buf));
      done.Notify();
    });
    EXPECT_FALSE(done.WaitFor(absl::Milliseconds(50))) << "Read did not block: " << r.err;
    absl::Time start = absl::Now();
    EXPECT_TRUE(p.client->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
    EXPECT_LT(absl::Now() - start, absl::Seconds(1));
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(net::IsClosed(r.err)) << r.err;
    EXPECT_EQ(r.err.message(), "read tcp " + lr + ": use of closed network connection");
    p.CloseAll();
  });
}

// [blocked Write, concurrent Close]: partial count plus IsClosed.
TEST_P(CloseTest, CloseUnblocksBlockedWrite) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    const std::string lr = Pair(*p.client);
    Event done;
    net::IOResult w;
    std::string big(64 << 20, 'c');
    gonet::Go([&] {
      w = p.client->Write(big);
      done.Notify();
    });
    EXPECT_FALSE(done.WaitFor(absl::Milliseconds(100))) << "Write did not block: " << w.err;
    EXPECT_TRUE(p.client->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
    EXPECT_GT(w.n, 0u);
    EXPECT_LT(w.n, big.size());
    EXPECT_TRUE(net::IsClosed(w.err)) << w.err;
    EXPECT_EQ(w.err.message(), "write tcp " + lr + ": use of closed network connection");
    p.CloseAll();
  });
}

// [blocked accept, concurrent Close], [accept after close], [listener close twice],
// [listener SetDeadline after close].
TEST_P(CloseTest, CloseUnblocksBlockedAccept) {
  RunChecked(GetParam(), [] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    const std::string la = (*ln)->Address().String();
    Event done;
    absl::Status st;
    gonet::Go([&] {
      auto c = (*ln)->Accept();
      st = c.status();
      done.Notify();
    });
    EXPECT_FALSE(done.WaitFor(absl::Milliseconds(50))) << "Accept did not block: " << st;
    EXPECT_TRUE((*ln)->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
    const std::string closed = ": use of closed network connection";
    EXPECT_TRUE(net::IsClosed(st)) << st;
    EXPECT_EQ(st.message(), "accept tcp " + la + closed);
    auto again = (*ln)->Accept();
    EXPECT_EQ(again.status().message(), "accept tcp " + la + closed);
    EXPECT_EQ((*ln)->Close().message(), "close tcp " + la + closed);
    auto tl = std::dynamic_pointer_cast<net::TCPListener>(*ln);
    ASSERT_NE(tl, nullptr);
    EXPECT_EQ(tl->SetDeadline(absl::Now()).message(), "set tcp " + la + closed);
    bool called = false;
    EXPECT_TRUE(net::IsClosed(tl->Control([&](int) { called = true; })));
    EXPECT_FALSE(called);
  });
}

// A listener Close does not affect the conns it accepted.
TEST_P(CloseTest, ListenerCloseKeepsAcceptedConns) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p.ln->Close().ok());
    EXPECT_EQ(p.client->Write(std::string("still")).n, 5u);
    char buf[8];
    net::IOResult r = p.server->Read(absl::MakeSpan(buf));
    ASSERT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "still");
    p.CloseAll();
  });
}

// Section 4.10: CloseWrite / CloseRead.
TEST_P(CloseTest, CloseWriteAndCloseRead) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    char buf[16];
    ASSERT_TRUE(p.client->CloseWrite().ok());
    // [write after CloseWrite]
    net::IOResult w = p.client->Write(std::string("x"));
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), "write tcp " + Pair(*p.client) + ": write: broken pipe");
    EXPECT_EQ(net::Errno(w.err), EPIPE);
    // [peer read after CloseWrite] / [read after peer CloseWrite]
    net::IOResult r = p.server->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    // [CloseWrite twice]
    EXPECT_TRUE(p.client->CloseWrite().ok());
    // [write after peer CloseWrite]: the other direction still works.
    w = p.server->Write(std::string("8 bytes!"));
    EXPECT_EQ(w.n, 8u);
    EXPECT_TRUE(w.err.ok()) << w.err;
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_EQ(std::string(buf, r.n), "8 bytes!");
    // [read after CloseRead]
    ASSERT_TRUE(p.client->CloseRead().ok());
    r = p.client->Read(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    p.CloseAll();
  });
}

// [blocked Read, concurrent CloseRead] EOF; [blocked Write, concurrent CloseWrite]
// partial count and "write: broken pipe".
TEST_P(CloseTest, ShutdownWakesBlockedOps) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    {
      Event done;
      net::IOResult r;
      gonet::Go([&] {
        char buf[8];
        r = p.client->Read(absl::MakeSpan(buf));
        done.Notify();
      });
      EXPECT_FALSE(done.WaitFor(absl::Milliseconds(50)));
      ASSERT_TRUE(p.client->CloseRead().ok());
      ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
      EXPECT_EQ(r.n, 0u);
      EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    }
    {
      Event done;
      net::IOResult w;
      std::string big(64 << 20, 's');
      gonet::Go([&] {
        w = p.client->Write(big);
        done.Notify();
      });
      EXPECT_FALSE(done.WaitFor(absl::Milliseconds(100)));
      ASSERT_TRUE(p.client->CloseWrite().ok());
      ASSERT_TRUE(done.WaitFor(absl::Seconds(5)));
      EXPECT_GT(w.n, 0u);
      EXPECT_LT(w.n, big.size());
      EXPECT_EQ(w.err.message(), "write tcp " + Pair(*p.client) + ": write: broken pipe");
    }
    p.CloseAll();
  });
}

// Close twice from different fibers at once: exactly one succeeds.
TEST_P(CloseTest, ConcurrentDoubleClose) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    std::atomic<int> ok{0}, closed{0};
    fiber::WaitGroup wg;
    wg.Add(4);
    for (int i = 0; i < 4; ++i) {
      gonet::Go([&] {
        absl::Status s = p.client->Close();
        if (s.ok()) ok++;
        else if (net::IsClosed(s)) closed++;
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(closed.load(), 3);
    p.CloseAll();
  });
}

// Close, the setters and Control work outside a fiber (a plain thread); Read, Write
// and Accept there fail with kFailedPrecondition.
TEST_P(CloseTest, CloseWorksOutsideAFiber) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    absl::Status read_st, write_st, accept_st, nodelay_st, control_st, close_st, close_ln_st;
    std::thread t([&] {
      char buf[4];
      read_st = p.client->Read(absl::MakeSpan(buf)).err;
      write_st = p.client->Write(std::string("x")).err;
      accept_st = p.ln->Accept().status();
      nodelay_st = p.client->SetNoDelay(false);
      control_st = p.client->Control([](int) {});
      close_st = p.client->Close();
      close_ln_st = p.ln->Close();
    });
    t.join();
    EXPECT_EQ(read_st.code(), absl::StatusCode::kFailedPrecondition) << read_st;
    EXPECT_EQ(write_st.code(), absl::StatusCode::kFailedPrecondition) << write_st;
    EXPECT_EQ(accept_st.code(), absl::StatusCode::kFailedPrecondition) << accept_st;
    EXPECT_FALSE(net::IsClosed(read_st));
    EXPECT_TRUE(nodelay_st.ok()) << nodelay_st;
    EXPECT_TRUE(control_st.ok()) << control_st;
    EXPECT_TRUE(close_st.ok()) << close_st;
    EXPECT_TRUE(close_ln_st.ok()) << close_ln_st;
    // The peer sees the close.
    char buf[4];
    net::IOResult r = p.server->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    p.CloseAll();
  });
}

// Destroying an open Conn/Listener closes its fd (Go's finalizer); RunChecked
// verifies no fd is left.
TEST_P(CloseTest, DestructorClosesFd) {
  RunChecked(GetParam(), [] {
    ConnPair p = MakeConnPair();
    ASSERT_TRUE(p.ok());
    auto server = p.server;
    p.client.reset();  // the last reference to the dialed conn: closes it
    char buf[4];
    net::IOResult r = server->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsEOF(r.err)) << r.err;
    // Leave the others to their destructors.
  });
}

INSTANTIATE_TEST_SUITE_P(Procs, CloseTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
