// One round trip over each network beyond TCP (UDP, Unix stream, unixgram,
// unixpacket, net::Pipe), WriteBuffers, and TCPConn's sendfile/splice ReadFrom, at
// procs 1 and 2: the quick check that every kind works end to end. The Go-observed texts are in udp_test, unix_test and
// pipe_test.
#include <unistd.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"

namespace gonet::net {
namespace {

class NetworksSmoke : public testing::TestWithParam<int> {};

std::string TempPath(std::string_view name) {
  // Not TempDir(): a socket path must fit in sun_path (108 bytes), and Bazel's is longer.
  return absl::StrCat("/tmp/gonet-smoke-", getpid(), "-", std::string(name));
}

TEST_P(NetworksSmoke, UdpRoundTrip) {
  gonet::Run([] {
    auto srv = ListenPacket("udp", "127.0.0.1:0");
    ASSERT_TRUE(srv.ok()) << srv.status();
    EXPECT_EQ((*srv)->LocalAddr().Network(), "udp");
    auto cli = Dial("udp", (*srv)->LocalAddr().String());
    ASSERT_TRUE(cli.ok()) << cli.status();
    ASSERT_TRUE((*cli)->Write(absl::string_view("ping")).err.ok());
    char buf[16];
    PacketResult r = (*srv)->ReadFrom(absl::MakeSpan(buf));
    ASSERT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), "ping");
    EXPECT_EQ(r.addr, (*cli)->LocalAddr());
    ASSERT_TRUE((*srv)->WriteTo(absl::string_view("pong"), r.addr).err.ok());
    IOResult rr = (*cli)->Read(absl::MakeSpan(buf));
    ASSERT_TRUE(rr.err.ok()) << rr.err;
    EXPECT_EQ(std::string(buf, rr.n), "pong");
    EXPECT_TRUE((*srv)->Close().ok());
    EXPECT_TRUE((*cli)->Close().ok());
  }, {.procs = GetParam()});
}

TEST_P(NetworksSmoke, UnixStreamAndPacket) {
  for (const char* network : {"unix", "unixpacket"}) {
    const std::string path = TempPath(network);
    gonet::Run([&] {
      auto ln = Listen(network, path);
      ASSERT_TRUE(ln.ok()) << ln.status();
      EXPECT_EQ((*ln)->Address().String(), path);
      EXPECT_EQ((*ln)->Address().Network(), network);
      fiber::WaitGroup wg;
      wg.Add(1);
      Go([&] {
        auto c = (*ln)->Accept();
        ASSERT_TRUE(c.ok()) << c.status();
        char buf[16];
        IOResult r = (*c)->Read(absl::MakeSpan(buf));
        ASSERT_TRUE(r.err.ok()) << r.err;
        (void)(*c)->Write(absl::MakeConstSpan(buf, r.n));
        wg.Done();
      });
      auto c = Dial(network, path);
      ASSERT_TRUE(c.ok()) << c.status();
      EXPECT_EQ((*c)->RemoteAddr().String(), path);
      ASSERT_TRUE((*c)->Write(absl::string_view("hello")).err.ok());
      char buf[16];
      IOResult r = (*c)->Read(absl::MakeSpan(buf));
      ASSERT_TRUE(r.err.ok()) << r.err;
      EXPECT_EQ(std::string(buf, r.n), "hello");
      wg.Wait();
      EXPECT_TRUE((*ln)->Close().ok());
      EXPECT_NE(access(path.c_str(), F_OK), 0) << "Close removes the socket file";
    }, {.procs = GetParam()});
  }
}

TEST_P(NetworksSmoke, UnixgramAndRights) {
  const std::string a = TempPath("gram-a"), b = TempPath("gram-b");
  gonet::Run([&] {
    auto pa = ListenPacket("unixgram", a);
    ASSERT_TRUE(pa.ok()) << pa.status();
    auto pb = ListenPacket("unixgram", b);
    ASSERT_TRUE(pb.ok()) << pb.status();
    auto* ua = dynamic_cast<UnixConn*>(pa->get());
    auto* ub = dynamic_cast<UnixConn*>(pb->get());
    ASSERT_NE(ua, nullptr);
    int p[2];
    ASSERT_EQ(pipe(p), 0);
    const std::string oob = UnixRights({p[1]});
    const Addr to = Addr::Unix("unixgram", b);
    IOResult w = ua->WriteMsgUnix(absl::string_view("fd"), oob, &to);
    ASSERT_TRUE(w.err.ok()) << w.err;
    close(p[1]);
    char buf[8], cbuf[64];
    MsgResult m = ub->ReadMsgUnix(absl::MakeSpan(buf), absl::MakeSpan(cbuf));
    ASSERT_TRUE(m.err.ok()) << m.err;
    EXPECT_EQ(std::string(buf, m.n), "fd");
    EXPECT_EQ(m.addr.String(), a);
    auto fds = ParseUnixRights(absl::MakeConstSpan(cbuf, m.oobn));
    ASSERT_TRUE(fds.ok()) << fds.status();
    ASSERT_EQ(fds->size(), 1u);
    ASSERT_EQ(write((*fds)[0], "x", 1), 1);  // writes through the received descriptor
    close((*fds)[0]);
    char got;
    ASSERT_EQ(read(p[0], &got, 1), 1);
    EXPECT_EQ(got, 'x');
    close(p[0]);
    EXPECT_TRUE((*pa)->Close().ok());
    EXPECT_TRUE((*pb)->Close().ok());
  }, {.procs = GetParam()});
  unlink(a.c_str());
  unlink(b.c_str());
}

TEST_P(NetworksSmoke, PipeAndBuffers) {
  gonet::Run([] {
    auto [x, y] = Pipe();
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&, y = y] {
      std::string got;
      char buf[3];
      while (got.size() < 11) {
        IOResult r = y->Read(absl::MakeSpan(buf));
        if (!r.err.ok()) break;
        got.append(buf, r.n);
      }
      EXPECT_EQ(got, "hello world");
      wg.Done();
    });
    IOResult w = WriteBuffers(*x, {absl::string_view("hello"), absl::string_view(" world")});
    EXPECT_TRUE(w.err.ok()) << w.err;
    EXPECT_EQ(w.n, 11u);
    wg.Wait();
    EXPECT_TRUE(x->Close().ok());
    char buf[4];
    IOResult r = y->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(IsEOF(r.err)) << r.err;
    EXPECT_EQ(x->LocalAddr().String(), "pipe");
  }, {.procs = GetParam()});
}

// A connected TCP pair on loopback.
std::pair<std::shared_ptr<TCPConn>, std::shared_ptr<Conn>> TcpPair() {
  auto ln = Listen("tcp", "127.0.0.1:0");
  if (!ln.ok()) return {};
  std::shared_ptr<Conn> accepted;
  fiber::WaitGroup wg;
  wg.Add(1);
  Go([&] {
    auto c = (*ln)->Accept();
    if (c.ok()) accepted = *c;
    wg.Done();
  });
  auto d = Dial("tcp", (*ln)->Address().String());
  wg.Wait();
  (void)(*ln)->Close();
  if (!d.ok()) return {};
  return {std::dynamic_pointer_cast<TCPConn>(*d), accepted};
}

// Reads until EOF.
std::string ReadAll(Conn& c) {
  std::string out;
  char buf[4096];
  for (;;) {
    IOResult r = c.Read(absl::MakeSpan(buf));
    out.append(buf, r.n);
    if (!r.err.ok()) return out;
  }
}

// TCPConn::ReadFromFile (sendfile) and ReadFrom (splice from a TCP conn; copy from a
// Pipe): the bytes arrive whole, limits are honored, the file offset advances.
TEST_P(NetworksSmoke, SendfileAndSplice) {
  gonet::Run([] {
    std::string content;
    for (int i = 0; i < 20000; ++i) content += absl::StrCat(i % 10);
    char path[] = "/tmp/gonet-sendfile-XXXXXX";
    const int file = mkstemp(path);
    ASSERT_GE(file, 0);
    unlink(path);
    ASSERT_EQ(write(file, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    ASSERT_EQ(lseek(file, 0, SEEK_SET), 0);

    auto [out, in] = TcpPair();
    ASSERT_TRUE(out && in);
    IOResult part = out->ReadFromFile(file, 1000);
    ASSERT_TRUE(part.err.ok()) << part.err;
    EXPECT_EQ(part.n, 1000u);
    EXPECT_EQ(lseek(file, 0, SEEK_CUR), 1000);
    IOResult rest = out->ReadFromFile(file);
    ASSERT_TRUE(rest.err.ok()) << rest.err;
    EXPECT_EQ(rest.n, content.size() - 1000);
    close(file);
    ASSERT_TRUE(out->CloseWrite().ok());
    EXPECT_EQ(ReadAll(*in), content);

    // Splice: from a TCP conn into another.
    auto [src_w, src_r] = TcpPair();
    auto [dst, sink] = TcpPair();
    ASSERT_TRUE(src_w && src_r && dst && sink);
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&, src_w = src_w] {
      EXPECT_TRUE(src_w->Write(content).err.ok());
      EXPECT_TRUE(src_w->CloseWrite().ok());
      wg.Done();
    });
    IOResult sp = dst->ReadFrom(*src_r);
    EXPECT_TRUE(sp.err.ok()) << sp.err;
    EXPECT_EQ(sp.n, content.size());
    wg.Wait();
    ASSERT_TRUE(dst->CloseWrite().ok());
    EXPECT_EQ(ReadAll(*sink), content);

    // The generic copy, from a Pipe, with a limit.
    auto [px, py] = Pipe();
    auto [dst2, sink2] = TcpPair();
    ASSERT_TRUE(dst2 && sink2);
    wg.Add(1);
    Go([&, px = px] {
      (void)px->Write(absl::string_view("0123456789"));
      wg.Done();
    });
    IOResult cp = dst2->ReadFrom(*py, 6);
    EXPECT_TRUE(cp.err.ok()) << cp.err;
    EXPECT_EQ(cp.n, 6u);
    (void)py->Close();
    wg.Wait();
    ASSERT_TRUE(dst2->CloseWrite().ok());
    EXPECT_EQ(ReadAll(*sink2), "012345");
  }, {.procs = GetParam()});
}

INSTANTIATE_TEST_SUITE_P(Procs, NetworksSmoke, testing::Values(1, 2));

}  // namespace
}  // namespace gonet::net
