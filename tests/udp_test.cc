// Go-conformance scenarios for UDP: ListenPacket("udp"), Dial("udp") (a connected
// UDPConn), ReadFrom/WriteTo, ReadMsgUDP/WriteMsgUDP, deadlines, Close, ICMP errors and
// the wrong-network errors, asserted on loopback. Every text is Go 1.19's, as printed by
// tests/go_observed/udp (its output: tests/go_observed/udp.out, where PORT is the
// listening socket's port, CPORT a second socket's, DPORT a dialed conn's, DEAD a port
// nobody listens on); each assertion names its line there.
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
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

class UDPTest : public testing::TestWithParam<int> {};

// A ListenPacket("udp", "127.0.0.1:0") socket as its UDPConn. Fiber only.
std::shared_ptr<net::UDPConn> ListenUDP() {
  auto pc = net::ListenPacket("udp", "127.0.0.1:0");
  EXPECT_TRUE(pc.ok()) << pc.status();
  if (!pc.ok()) return nullptr;
  auto u = std::dynamic_pointer_cast<net::UDPConn>(*pc);
  EXPECT_NE(u, nullptr) << "ListenPacket(\"udp\") did not hand out a UDPConn";
  return u;
}

std::string Str(absl::Span<const char> b, size_t n) { return std::string(b.data(), n); }

// Go's "read udp 127.0.0.1:PORT: <what>" style text: op, the socket's local address, and
// "->remote" when there is one.
std::string OpText(const char* op, const std::string& local, const std::string& remote,
                   const std::string& what) {
  return absl::StrCat(op, " udp ", local, remote.empty() ? "" : "->", remote, ": ", what);
}

void ExpectTimeoutStatus(const absl::Status& s, const std::string& text) {
  EXPECT_EQ(s.message(), text);
  EXPECT_TRUE(net::IsTimeout(s)) << s;
  EXPECT_FALSE(net::IsClosed(s)) << s;
  EXPECT_FALSE(net::IsEOF(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
}

void ExpectClosedStatus(const absl::Status& s, const std::string& text) {
  EXPECT_EQ(s.message(), text);
  EXPECT_TRUE(net::IsClosed(s)) << s;
  EXPECT_FALSE(net::IsTimeout(s)) << s;
  EXPECT_FALSE(net::IsEOF(s)) << s;
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
}

// go_observed/udp.out: [udp listen addr], [udp writeto], [udp readfrom], [udp writeto
// empty], [udp readfrom empty datagram]
TEST_P(UDPTest, ListenPacketWriteToReadFrom) {
  RunChecked(GetParam(), [] {
    auto pc = ListenUDP();
    auto other = ListenUDP();
    ASSERT_TRUE(pc && other);
    // [udp listen addr] type=*net.UDPConn local=udp/127.0.0.1:PORT
    EXPECT_EQ(pc->LocalAddr().Network(), "udp");
    EXPECT_EQ(pc->LocalAddr().String(), absl::StrCat("127.0.0.1:", pc->LocalAddr().Port()));
    EXPECT_NE(pc->LocalAddr().Port(), 0);
    // [udp writeto] n=5 err=<nil>
    net::IOResult w = other->WriteTo("hello"sv, pc->LocalAddr());
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 5u);
    // [udp readfrom] n=5 data="hello" from=udp/127.0.0.1:CPORT
    char buf[100];
    net::PacketResult r = pc->ReadFrom(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(Str(buf, r.n), "hello");
    EXPECT_EQ(r.addr.Network(), "udp");
    EXPECT_EQ(r.addr.String(), other->LocalAddr().String());
    // [udp writeto empty] n=0 err=<nil>; [udp readfrom empty datagram] n=0 from=CPORT
    w = other->WriteTo(absl::Span<const char>(), pc->LocalAddr());
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 0u);
    (void)pc->SetReadDeadline(absl::Now() + absl::Seconds(10));
    r = pc->ReadFrom(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(r.n, 0u);
    EXPECT_EQ(r.addr.String(), other->LocalAddr().String());
    (void)pc->Close();
    (void)other->Close();
  });
}

// go_observed/udp.out: [udp readfrom truncated], [udp readmsgudp truncated], [udp
// readmsgudp], [udp writemsgudp], [udp writemsgudp received]
TEST_P(UDPTest, TruncationAndMsgCalls) {
  RunChecked(GetParam(), [] {
    auto pc = ListenUDP();
    auto other = ListenUDP();
    ASSERT_TRUE(pc && other);
    (void)pc->SetReadDeadline(absl::Now() + absl::Seconds(10));
    // [udp readfrom truncated] n=4 data="0123" err=<nil>: the tail is dropped silently.
    ASSERT_TRUE(other->WriteTo("0123456789"sv, pc->LocalAddr()).err.ok());
    char small[4];
    net::PacketResult r = pc->ReadFrom(absl::MakeSpan(small));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(Str(small, r.n), "0123");
    EXPECT_EQ(r.addr.String(), other->LocalAddr().String());
    // [udp readmsgudp truncated] n=4 oobn=0 flags=0x20 trunc=true
    ASSERT_TRUE(other->WriteTo("0123456789"sv, pc->LocalAddr()).err.ok());
    char oob[64];
    net::MsgResult m = pc->ReadMsgUDP(absl::MakeSpan(small), absl::MakeSpan(oob));
    EXPECT_TRUE(m.err.ok()) << m.err;
    EXPECT_EQ(m.n, 4u);
    EXPECT_EQ(m.oobn, 0u);
    EXPECT_EQ(m.flags, 0x20);
    EXPECT_EQ(m.flags, MSG_TRUNC);
    EXPECT_EQ(m.addr.String(), other->LocalAddr().String());
    // [udp readmsgudp] n=3 data="abc" oobn=0 flags=0x0
    ASSERT_TRUE(other->WriteTo("abc"sv, pc->LocalAddr()).err.ok());
    char buf[100];
    m = pc->ReadMsgUDP(absl::MakeSpan(buf), absl::MakeSpan(oob));
    EXPECT_TRUE(m.err.ok()) << m.err;
    EXPECT_EQ(Str(buf, m.n), "abc");
    EXPECT_EQ(m.oobn, 0u);
    EXPECT_EQ(m.flags, 0);
    EXPECT_EQ(m.addr.Network(), "udp");
    EXPECT_EQ(m.addr.String(), other->LocalAddr().String());
    // [udp writemsgudp] n=3 oobn=0; [udp writemsgudp received] data="msg" from=CPORT
    const net::Addr to = pc->LocalAddr();
    net::IOResult w = other->WriteMsgUDP("msg"sv, absl::Span<const char>(), &to);
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 3u);
    net::PacketResult got = pc->ReadFrom(absl::MakeSpan(buf));
    EXPECT_TRUE(got.err.ok()) << got.err;
    EXPECT_EQ(Str(buf, got.n), "msg");
    EXPECT_EQ(got.addr.String(), other->LocalAddr().String());
    (void)pc->Close();
    (void)other->Close();
  });
}

// go_observed/udp.out: [udp readfrom deadline], [udp readfrom past deadline], [udp
// readmsgudp past deadline], [udp readfrom deadline cleared], [udp writeto past deadline]
TEST_P(UDPTest, Deadlines) {
  RunChecked(GetParam(), [] {
    auto pc = ListenUDP();
    auto other = ListenUDP();
    ASSERT_TRUE(pc && other);
    const std::string local = pc->LocalAddr().String();
    char buf[100];
    // [udp readfrom deadline] n=0 err="read udp 127.0.0.1:PORT: i/o timeout" timeout=true
    const absl::Time start = absl::Now();
    ASSERT_TRUE(pc->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    net::PacketResult r = pc->ReadFrom(absl::MakeSpan(buf));
    const absl::Duration took = absl::Now() - start;
    EXPECT_EQ(r.n, 0u);
    ExpectTimeoutStatus(r.err, OpText("read", local, "", "i/o timeout"));
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LT(took, absl::Seconds(2));
    // [udp readfrom past deadline]
    ASSERT_TRUE(pc->SetReadDeadline(absl::Now() - absl::Seconds(1)).ok());
    r = pc->ReadFrom(absl::MakeSpan(buf));
    ExpectTimeoutStatus(r.err, OpText("read", local, "", "i/o timeout"));
    // [udp readmsgudp past deadline] n=0 oobn=0 flags=0
    char oob[64];
    net::MsgResult m = pc->ReadMsgUDP(absl::MakeSpan(buf), absl::MakeSpan(oob));
    EXPECT_EQ(m.n, 0u);
    EXPECT_EQ(m.oobn, 0u);
    EXPECT_EQ(m.flags, 0);
    ExpectTimeoutStatus(m.err, OpText("read", local, "", "i/o timeout"));
    // [udp readfrom deadline cleared] n=5 data="after"
    ASSERT_TRUE(pc->SetReadDeadline(absl::InfiniteFuture()).ok());
    ASSERT_TRUE(other->WriteTo("after"sv, pc->LocalAddr()).err.ok());
    r = pc->ReadFrom(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(Str(buf, r.n), "after");
    // [udp writeto past deadline] "write udp 127.0.0.1:PORT->127.0.0.1:CPORT: i/o timeout"
    ASSERT_TRUE(pc->SetWriteDeadline(absl::Now() - absl::Seconds(1)).ok());
    net::IOResult w = pc->WriteTo("x"sv, other->LocalAddr());
    EXPECT_EQ(w.n, 0u);
    ExpectTimeoutStatus(w.err,
                        OpText("write", local, other->LocalAddr().String(), "i/o timeout"));
    (void)pc->Close();
    (void)other->Close();
  });
}

// go_observed/udp.out: [udp write unconnected], [udp writeto oversized], [udp writeto tcp
// addr], [udp writeto v6 addr from v4 socket], [udp set buffers]
TEST_P(UDPTest, WriteErrorsOnUnconnectedSocket) {
  RunChecked(GetParam(), [] {
    auto pc = ListenUDP();
    auto other = ListenUDP();
    ASSERT_TRUE(pc && other);
    const std::string local = pc->LocalAddr().String();
    const std::string to = other->LocalAddr().String();
    // [udp write unconnected] "write udp 127.0.0.1:PORT: write: destination address required"
    net::IOResult w = static_cast<net::Conn&>(*pc).Write("x"sv);
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, "", "write: destination address required"));
    EXPECT_EQ(net::Errno(w.err), EDESTADDRREQ);
    EXPECT_FALSE(net::IsTimeout(w.err));
    // [udp writeto oversized] "write udp PORT->CPORT: sendto: message too long"
    w = pc->WriteTo(std::string(70000, 'x'), other->LocalAddr());
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, to, "sendto: message too long"));
    EXPECT_EQ(net::Errno(w.err), EMSGSIZE);
    // [udp writeto tcp addr] "write udp PORT->127.0.0.1:CPORT: invalid argument"
    auto tcp_addr = net::ResolveTCPAddr("tcp", to);
    ASSERT_TRUE(tcp_addr.ok()) << tcp_addr.status();
    w = pc->WriteTo("x"sv, *tcp_addr);
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, to, "invalid argument"));
    EXPECT_EQ(w.err.code(), absl::StatusCode::kInvalidArgument);
    // [udp writeto v6 addr from v4 socket] "write udp PORT->[::1]:CPORT: address ::1:
    // non-IPv4 address"
    auto v6 = net::ResolveUDPAddr("udp", absl::StrCat("[::1]:", other->LocalAddr().Port()));
    ASSERT_TRUE(v6.ok()) << v6.status();
    w = pc->WriteTo("x"sv, *v6);
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, v6->String(), "address ::1: non-IPv4 address"));
    // [udp set buffers] read: err=<nil> write: err=<nil>
    EXPECT_TRUE(pc->SetReadBuffer(1 << 16).ok());
    EXPECT_TRUE(pc->SetWriteBuffer(1 << 16).ok());
    int rcvbuf = 0;
    ASSERT_TRUE(pc->Control([&](int fd) {
                    socklen_t len = sizeof rcvbuf;
                    getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
                  }).ok());
    EXPECT_GE(rcvbuf, 1 << 16);  // Linux doubles it
    (void)pc->Close();
    (void)other->Close();
  });
}

// go_observed/udp.out: [udp dial], [udp dial local addr], [udp connected write], [udp
// connected write received], [udp connected read], [udp connected filters senders], [udp
// writeto on connected], [udp writemsgudp on connected], [udp readfrom on connected],
// [udp connected read deadline], [udp connected read past deadline], [udp connected write
// past deadline], [udp connected write oversized]
TEST_P(UDPTest, ConnectedUDP) {
  RunChecked(GetParam(), [] {
    auto pc = ListenUDP();
    auto other = ListenUDP();
    ASSERT_TRUE(pc && other);
    const std::string peer = pc->LocalAddr().String();
    auto conn = net::Dial("udp", peer);
    ASSERT_TRUE(conn.ok()) << conn.status();
    // [udp dial] type=*net.UDPConn remote=udp/127.0.0.1:PORT
    auto c = std::dynamic_pointer_cast<net::UDPConn>(*conn);
    ASSERT_NE(c, nullptr) << "Dial(\"udp\") did not hand out a UDPConn";
    EXPECT_EQ(c->RemoteAddr().Network(), "udp");
    EXPECT_EQ(c->RemoteAddr().String(), peer);
    // [udp dial local addr] local=udp/127.0.0.1:DPORT
    EXPECT_EQ(c->LocalAddr().Network(), "udp");
    const std::string local = static_cast<net::Conn&>(*c).LocalAddr().String();
    EXPECT_EQ(local, absl::StrCat("127.0.0.1:", c->LocalAddr().Port()));
    // [udp connected write] n=4; [udp connected write received] data="ping" from=DPORT
    net::IOResult w = c->Write("ping"sv);
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 4u);
    char buf[100];
    (void)pc->SetReadDeadline(absl::Now() + absl::Seconds(10));
    net::PacketResult r = pc->ReadFrom(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(Str(buf, r.n), "ping");
    EXPECT_EQ(r.addr.String(), local);
    // [udp connected read] n=4 data="pong"
    ASSERT_TRUE(pc->WriteTo("pong"sv, r.addr).err.ok());
    (void)c->SetReadDeadline(absl::Now() + absl::Seconds(10));
    net::IOResult rd = c->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(rd.err.ok()) << rd.err;
    EXPECT_EQ(Str(buf, rd.n), "pong");
    // [udp connected filters senders] data="peer": the stranger's datagram never arrives.
    ASSERT_TRUE(other->WriteTo("stranger"sv, c->LocalAddr()).err.ok());
    ASSERT_TRUE(pc->WriteTo("peer"sv, c->LocalAddr()).err.ok());
    rd = c->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(rd.err.ok()) << rd.err;
    EXPECT_EQ(Str(buf, rd.n), "peer");
    // [udp writeto on connected] "write udp 127.0.0.1:DPORT->127.0.0.1:PORT: use of
    // WriteTo with pre-connected connection"
    const std::string pre = "use of WriteTo with pre-connected connection";
    w = c->WriteTo("x"sv, pc->LocalAddr());
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, peer, pre));
    EXPECT_FALSE(net::IsClosed(w.err));
    // [udp writemsgudp on connected] the same text
    const net::Addr to = pc->LocalAddr();
    w = c->WriteMsgUDP("x"sv, absl::Span<const char>(), &to);
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, peer, pre));
    // [udp readfrom on connected] n=12 data="via readfrom" from=udp/127.0.0.1:PORT
    ASSERT_TRUE(pc->WriteTo("via readfrom"sv, c->LocalAddr()).err.ok());
    r = c->ReadFrom(absl::MakeSpan(buf));
    EXPECT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(Str(buf, r.n), "via readfrom");
    EXPECT_EQ(r.addr.String(), peer);
    // [udp connected read deadline] "read udp 127.0.0.1:DPORT->127.0.0.1:PORT: i/o timeout"
    ASSERT_TRUE(c->SetReadDeadline(absl::Now() + absl::Milliseconds(50)).ok());
    rd = c->Read(absl::MakeSpan(buf));
    EXPECT_EQ(rd.n, 0u);
    ExpectTimeoutStatus(rd.err, OpText("read", local, peer, "i/o timeout"));
    // [udp connected read past deadline]
    ASSERT_TRUE(c->SetReadDeadline(absl::Now() - absl::Seconds(1)).ok());
    rd = c->Read(absl::MakeSpan(buf));
    ExpectTimeoutStatus(rd.err, OpText("read", local, peer, "i/o timeout"));
    ASSERT_TRUE(c->SetReadDeadline(absl::InfiniteFuture()).ok());
    // [udp connected write past deadline]
    ASSERT_TRUE(c->SetWriteDeadline(absl::Now() - absl::Seconds(1)).ok());
    w = c->Write("x"sv);
    EXPECT_EQ(w.n, 0u);
    ExpectTimeoutStatus(w.err, OpText("write", local, peer, "i/o timeout"));
    ASSERT_TRUE(c->SetWriteDeadline(absl::InfiniteFuture()).ok());
    // [udp connected write oversized] "write udp DPORT->PORT: write: message too long"
    w = c->Write(std::string(70000, 'x'));
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, peer, "write: message too long"));
    EXPECT_EQ(net::Errno(w.err), EMSGSIZE);
    (void)c->Close();
    (void)pc->Close();
    (void)other->Close();
  });
}

// go_observed/udp.out: [udp dial dead port], [udp write to dead port], [udp read after
// icmp refused], [udp write after refused read], [udp write with pending icmp error]
// A connected socket learns of ICMP port unreachable: the next Read fails with
// ECONNREFUSED ("read: connection refused"); the error is consumed by that call.
TEST_P(UDPTest, ConnectionRefusedThroughICMP) {
  RunChecked(GetParam(), [] {
    auto dead = ListenUDP();
    ASSERT_TRUE(dead);
    const std::string dead_addr = dead->LocalAddr().String();
    ASSERT_TRUE(dead->Close().ok());
    auto conn = net::Dial("udp", dead_addr);
    ASSERT_TRUE(conn.ok()) << conn.status();  // [udp dial dead port] err=<nil>
    auto& r = **conn;
    EXPECT_EQ(r.RemoteAddr().String(), dead_addr);
    const std::string local = r.LocalAddr().String();
    // [udp write to dead port] n=7 err=<nil>
    net::IOResult w = r.Write("anyone?"sv);
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 7u);
    // [udp read after icmp refused] "read udp 127.0.0.1:RPORT->127.0.0.1:DEAD: read:
    // connection refused" errno=111
    ASSERT_TRUE(r.SetReadDeadline(absl::Now() + absl::Seconds(2)).ok());
    char buf[16];
    net::IOResult rd = r.Read(absl::MakeSpan(buf));
    EXPECT_EQ(rd.n, 0u);
    EXPECT_EQ(rd.err.message(), OpText("read", local, dead_addr, "read: connection refused"));
    EXPECT_EQ(net::Errno(rd.err), ECONNREFUSED);
    EXPECT_EQ(rd.err.code(), absl::StatusCode::kUnavailable);
    EXPECT_FALSE(net::IsTimeout(rd.err));
    // [udp write after refused read] n=5 err=<nil>: the read consumed the error.
    w = r.Write("again"sv);
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 5u);
    // [udp write with pending icmp error] "write udp RPORT->DEAD: write: connection
    // refused": the ICMP error of "again" is pending (on loopback it arrives before
    // sendmsg returns; Go's program waited 50 ms, this polls for the pending error).
    bool pending = false;
    auto u = std::dynamic_pointer_cast<net::UDPConn>(*conn);
    ASSERT_NE(u, nullptr);
    for (int i = 0; i < 200 && !pending; ++i) {
      ASSERT_TRUE(u->Control([&](int fd) {
                     pollfd p{fd, 0, 0};  // POLLERR is always reported
                     pending = ::poll(&p, 1, 0) == 1 && (p.revents & POLLERR) != 0;
                   }).ok());
      if (!pending) gonet::Sleep(absl::Milliseconds(1));
    }
    EXPECT_TRUE(pending) << "no ICMP error pending after 200 ms";
    w = r.Write("third"sv);
    EXPECT_EQ(w.n, 0u);
    EXPECT_EQ(w.err.message(), OpText("write", local, dead_addr, "write: connection refused"));
    EXPECT_EQ(net::Errno(w.err), ECONNREFUSED);
    (void)r.Close();
  });
}

// go_observed/udp.out: [udp close unblocks readfrom], [udp close unblocks connected read],
// [udp connected read after close], [udp connected write after close], [udp connected
// second close], [udp readfrom after close], [udp writeto after close], [udp readmsgudp
// after close], [udp setreaddeadline after close], [udp setreadbuffer after close], [udp
// second close], [udp local addr after close]
TEST_P(UDPTest, Close) {
  RunChecked(GetParam(), [] {
    auto pc = ListenUDP();
    auto other = ListenUDP();
    ASSERT_TRUE(pc && other);
    const std::string local = pc->LocalAddr().String();
    const std::string to = other->LocalAddr().String();
    const std::string closed = "use of closed network connection";
    // [udp close unblocks readfrom] close=<nil> readfrom: n=0 "read udp
    // 127.0.0.1:CPORT: use of closed network connection" closed=true
    std::atomic<uint64_t> id{0};
    net::PacketResult parked;
    Event done;
    gonet::Go([&] {
      id = leak_check::CurrentFiberId();
      char buf[16];
      parked = other->ReadFrom(absl::MakeSpan(buf));
      done.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value());
    EXPECT_FALSE(done.IsSet());
    EXPECT_TRUE(other->Close().ok());
    ASSERT_TRUE(done.WaitFor(absl::Seconds(5))) << "Close did not wake ReadFrom";
    EXPECT_EQ(parked.n, 0u);
    ExpectClosedStatus(parked.err, OpText("read", to, "", closed));

    // The connected side: [udp close unblocks connected read], [udp connected read after
    // close], [udp connected write after close], [udp connected second close]
    auto conn = net::Dial("udp", local);
    ASSERT_TRUE(conn.ok()) << conn.status();
    auto c = *conn;
    const std::string clocal = c->LocalAddr().String();
    id = 0;
    net::IOResult rd;
    Event done2;
    gonet::Go([&] {
      id = leak_check::CurrentFiberId();
      char buf[16];
      rd = c->Read(absl::MakeSpan(buf));
      done2.Notify();
    });
    ASSERT_TRUE(leak_check::WaitParked(&id).has_value());
    EXPECT_TRUE(c->Close().ok());
    ASSERT_TRUE(done2.WaitFor(absl::Seconds(5))) << "Close did not wake Read";
    ExpectClosedStatus(rd.err, OpText("read", clocal, local, closed));
    char buf[16];
    rd = c->Read(absl::MakeSpan(buf));
    ExpectClosedStatus(rd.err, OpText("read", clocal, local, closed));
    net::IOResult w = c->Write("x"sv);
    EXPECT_EQ(w.n, 0u);
    ExpectClosedStatus(w.err, OpText("write", clocal, local, closed));
    ExpectClosedStatus(c->Close(), OpText("close", clocal, local, closed));

    // The unconnected side.
    ASSERT_TRUE(pc->Close().ok());
    net::PacketResult r = pc->ReadFrom(absl::MakeSpan(buf));
    EXPECT_EQ(r.n, 0u);
    ExpectClosedStatus(r.err, OpText("read", local, "", closed));
    w = pc->WriteTo("x"sv, other->LocalAddr());
    ExpectClosedStatus(w.err, OpText("write", local, to, closed));
    char oob[32];
    net::MsgResult m = pc->ReadMsgUDP(absl::MakeSpan(buf), absl::MakeSpan(oob));
    EXPECT_EQ(m.n, 0u);
    EXPECT_EQ(m.oobn, 0u);
    ExpectClosedStatus(m.err, OpText("read", local, "", closed));
    // [udp setreaddeadline after close] "set udp 127.0.0.1:PORT: use of closed network
    // connection"; [udp setreadbuffer after close] the same
    ExpectClosedStatus(pc->SetReadDeadline(absl::Now()), OpText("set", local, "", closed));
    ExpectClosedStatus(pc->SetReadBuffer(1 << 16), OpText("set", local, "", closed));
    // [udp second close] "close udp 127.0.0.1:PORT: use of closed network connection"
    ExpectClosedStatus(pc->Close(), OpText("close", local, "", closed));
    // [udp local addr after close] local=udp/127.0.0.1:PORT
    EXPECT_EQ(pc->LocalAddr().String(), local);
    EXPECT_EQ(pc->LocalAddr().Network(), "udp");
  });
}

// go_observed/udp.out: [listenpacket udp4 [::1]:0], [listenpacket udp6 127.0.0.1:0],
// [listen udp], [listenpacket tcp], [listenpacket missing port], [listenpacket bad port],
// [dial udp6 127.0.0.1:1], [dial udp4 [::1]:1], [dial udp port 0], [listenpacket address
// in use]
TEST_P(UDPTest, WrongNetworksAndAddresses) {
  RunChecked(GetParam(), [] {
    struct Case {
      const char* scenario;
      absl::Status status;
      std::string text;
      absl::StatusCode code;
    };
    auto status_of = [](const auto& r) { return r.ok() ? absl::OkStatus() : r.status(); };
    std::vector<Case> cases = {
        {"[listenpacket udp4 [::1]:0]", status_of(net::ListenPacket("udp4", "[::1]:0")),
         "listen udp4: address ::1: no suitable address found", absl::StatusCode::kInvalidArgument},
        {"[listenpacket udp6 127.0.0.1:0]", status_of(net::ListenPacket("udp6", "127.0.0.1:0")),
         "listen udp6: address 127.0.0.1: no suitable address found",
         absl::StatusCode::kInvalidArgument},
        {"[listen udp]", status_of(net::Listen("udp", "127.0.0.1:0")),
         "listen udp 127.0.0.1:0: address 127.0.0.1:0: unexpected address type",
         absl::StatusCode::kInvalidArgument},
        {"[listenpacket tcp]", status_of(net::ListenPacket("tcp", "127.0.0.1:0")),
         "listen tcp 127.0.0.1:0: address 127.0.0.1:0: unexpected address type",
         absl::StatusCode::kInvalidArgument},
        {"[listenpacket missing port]", status_of(net::ListenPacket("udp", "127.0.0.1")),
         "listen udp: address 127.0.0.1: missing port in address",
         absl::StatusCode::kInvalidArgument},
        {"[listenpacket bad port]", status_of(net::ListenPacket("udp", "127.0.0.1:99999")),
         "listen udp: address 99999: invalid port", absl::StatusCode::kInvalidArgument},
        {"[dial udp6 127.0.0.1:1]", status_of(net::Dial("udp6", "127.0.0.1:1")),
         "dial udp6: address 127.0.0.1: no suitable address found",
         absl::StatusCode::kInvalidArgument},
        {"[dial udp4 [::1]:1]", status_of(net::Dial("udp4", "[::1]:1")),
         "dial udp4: address ::1: no suitable address found", absl::StatusCode::kInvalidArgument},
    };
    for (const Case& c : cases) {
      EXPECT_EQ(c.status.message(), c.text) << c.scenario;
      EXPECT_EQ(c.status.code(), c.code) << c.scenario << " " << c.status;
      EXPECT_FALSE(net::IsTimeout(c.status)) << c.scenario;
      EXPECT_EQ(net::Errno(c.status), 0) << c.scenario;
    }
    // [dial udp port 0] err=<nil>
    auto zero = net::Dial("udp", "127.0.0.1:0");
    EXPECT_TRUE(zero.ok()) << zero.status();
    if (zero.ok()) (void)(*zero)->Close();
    // [listenpacket address in use] "listen udp 127.0.0.1:HPORT: bind: address already in use"
    auto held = ListenUDP();
    ASSERT_TRUE(held);
    const std::string addr = held->LocalAddr().String();
    auto again = net::ListenPacket("udp", addr);
    ASSERT_FALSE(again.ok());
    EXPECT_EQ(again.status().message(), "listen udp " + addr + ": bind: address already in use");
    EXPECT_EQ(net::Errno(again.status()), EADDRINUSE);
    (void)held->Close();
  });
}

// go_observed/udp.out: [resolveudpaddr], [resolveudpaddr udp6], [resolveudpaddr missing
// port], [resolveudpaddr tcp], [resolvetcpaddr]
TEST(UDPAddrTest, Resolve) {
  auto a = net::ResolveUDPAddr("udp", "127.0.0.1:53");
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->Network(), "udp");
  EXPECT_EQ(a->String(), "127.0.0.1:53");
  EXPECT_EQ(a->Port(), 53);
  auto v6 = net::ResolveUDPAddr("udp6", "[::1]:53");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->Network(), "udp");
  EXPECT_EQ(v6->String(), "[::1]:53");
  auto missing = net::ResolveUDPAddr("udp", "127.0.0.1");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "address 127.0.0.1: missing port in address");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  auto tcp = net::ResolveUDPAddr("tcp", "127.0.0.1:53");
  ASSERT_FALSE(tcp.ok());
  EXPECT_EQ(tcp.status().message(), "unknown network tcp");
  auto t = net::ResolveTCPAddr("tcp", "127.0.0.1:53");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->Network(), "tcp");
  EXPECT_EQ(t->String(), "127.0.0.1:53");
}

INSTANTIATE_TEST_SUITE_P(Procs, UDPTest, testing::Values(1, 2));

}  // namespace
}  // namespace gonet
