// transport_pair.h: one connected pair of net::Conn per kind of transport, for the suites
// that hold every transport to Go's behaviour (transport_deadline_test,
// transport_close_test).
//
//   Transport             kTCP, kUnix, kUDP, kPipe.
//   MakeConnPair(t)       two connected Conns: TCP (dialed, accepted), Unix stream in a
//                         fresh temp dir (dialed, accepted), two UDP sockets connected to
//                         each other, or net::Pipe().
//   GoOpText(t, op, c, e) Go's err.Error() for op ("read", "write", "close") failing on
//                         c with e ("i/o timeout"...), as the go_observed programs print:
//                         "read tcp 127.0.0.1:P->127.0.0.1:Q: i/o timeout",
//                         "read unix @->DIR/sock: ...", "read pipe: i/o timeout".
//
// Test-only and header-only. Fiber only (MakeConnPair dials).

#ifndef GONET_TESTS_TRANSPORT_PAIR_H_
#define GONET_TESTS_TRANSPORT_PAIR_H_

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "net/net.h"

namespace gonet::testing_util {

enum class Transport { kTCP, kUnix, kUDP, kPipe };

inline std::string TransportName(Transport t) {
  switch (t) {
    case Transport::kTCP:
      return "TCP";
    case Transport::kUnix:
      return "Unix";
    case Transport::kUDP:
      return "UDP";
    case Transport::kPipe:
      return "Pipe";
  }
  return "?";
}

// Go's network word in an OpError for t ("tcp", "unix", "udp"); Pipe has none.
inline std::string GoNet(Transport t) {
  switch (t) {
    case Transport::kTCP:
      return "tcp";
    case Transport::kUnix:
      return "unix";
    case Transport::kUDP:
      return "udp";
    case Transport::kPipe:
      return "pipe";
  }
  return "?";
}

// Go's text for `op` on c failing with `what`. For a socket, an OpError with the conn's
// Source->Addr ("read tcp L->R: what"); net.Pipe names no address ("read pipe: what").
// (Go's pipe reports close errors as the bare io.ErrClosedPipe, not through here.)
inline std::string GoOpText(Transport t, std::string_view op, const net::Conn& c,
                            std::string_view what) {
  if (t == Transport::kPipe) return std::string(op) + " pipe: " + std::string(what);
  return std::string(op) + " " + GoNet(t) + " " + c.LocalAddr().String() + "->" +
         c.RemoteAddr().String() + ": " + std::string(what);
}

// A unix socket path in a fresh directory; the directory is removed with the object
// (the listener's Close unlinks the socket file first).
class TempSocketDir {
 public:
  TempSocketDir() {
    char tmpl[] = "/tmp/gonet-pair-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      ADD_FAILURE() << "mkdtemp: " << strerror(errno);
      return;
    }
    dir_ = tmpl;
  }
  ~TempSocketDir() {
    if (dir_.empty()) return;
    unlink(Path("sock").c_str());  // in case a listener never closed
    rmdir(dir_.c_str());
  }
  TempSocketDir(const TempSocketDir&) = delete;
  TempSocketDir& operator=(const TempSocketDir&) = delete;
  const std::string& dir() const { return dir_; }
  std::string Path(std::string_view name) const { return dir_ + "/" + std::string(name); }

 private:
  std::string dir_;
};

using ConnPtrPair = std::pair<std::shared_ptr<net::Conn>, std::shared_ptr<net::Conn>>;

namespace transport_pair_internal {

// Listen on `network`/`address`, Dial it, Accept, close the listener: {dialed, accepted}.
inline ConnPtrPair StreamPair(std::string_view network, std::string_view address) {
  auto ln = net::Listen(network, address);
  EXPECT_TRUE(ln.ok()) << ln.status();
  if (!ln.ok()) return {};
  auto c = net::Dial(network, (*ln)->Address().String());
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) {
    (void)(*ln)->Close();
    return {};
  }
  auto s = (*ln)->Accept();
  EXPECT_TRUE(s.ok()) << s.status();
  (void)(*ln)->Close();  // unix: unlinks the socket file; the conns stay connected
  if (!s.ok()) {
    (void)(*c)->Close();
    return {};
  }
  return {*c, *s};
}

// Two UDP sockets connected to each other: b is dialed to a port just seen free, then a
// is bound to that port (Dialer::local_address) and dialed to b. Another process may take
// the port in between: try again then.
inline ConnPtrPair UDPPair() {
  for (int attempt = 0; attempt < 10; ++attempt) {
    auto probe = net::ListenPacket("udp", "127.0.0.1:0");
    EXPECT_TRUE(probe.ok()) << probe.status();
    if (!probe.ok()) return {};
    const std::string a_addr = (*probe)->LocalAddr().String();
    (void)(*probe)->Close();
    auto b = net::Dial("udp", a_addr);
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok()) return {};
    net::Dialer d;
    d.local_address = a_addr;
    auto a = d.Dial("udp", (*b)->LocalAddr().String());
    if (!a.ok()) {
      (void)(*b)->Close();
      continue;  // the port was taken meanwhile
    }
    return {*a, *b};
  }
  ADD_FAILURE() << "no free UDP port pair in 10 tries";
  return {};
}

}  // namespace transport_pair_internal

// Two connected Conns of kind t (empty pointers after a test failure). kUnix needs `dir`
// (where the socket file lives while the listener exists). Fiber only.
inline ConnPtrPair MakeConnPair(Transport t, const TempSocketDir* dir = nullptr) {
  switch (t) {
    case Transport::kTCP:
      return transport_pair_internal::StreamPair("tcp", "127.0.0.1:0");
    case Transport::kUnix: {
      EXPECT_NE(dir, nullptr) << "kUnix needs a TempSocketDir";
      if (dir == nullptr) return {};
      return transport_pair_internal::StreamPair("unix", dir->Path("sock"));
    }
    case Transport::kUDP:
      return transport_pair_internal::UDPPair();
    case Transport::kPipe:
      return net::Pipe();
  }
  return {};
}

// Whether a Write on t can block (a peer that does not read): not for UDP, whose
// datagrams the kernel drops when the receiver's buffer is full.
inline bool WriteCanBlock(Transport t) { return t != Transport::kUDP; }

// Makes the next Write on c (of kind t) block: fills the kernel's send path of a socket
// whose peer does not read. A Pipe's Write blocks until the peer reads anyway. Fiber only.
inline void MakeWritesBlock(Transport t, net::Conn& c) {
  if (t == Transport::kPipe || t == Transport::kUDP) return;
  std::string chunk(1 << 20, 'f');
  for (int i = 0; i < 1000; ++i) {
    (void)c.SetWriteDeadline(absl::Now() + absl::Milliseconds(100));
    net::IOResult r = c.Write(chunk);
    if (!r.err.ok()) {
      EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
      break;
    }
  }
  (void)c.SetWriteDeadline(absl::InfiniteFuture());
}

// For INSTANTIATE_TEST_SUITE_P over (transport, procs).
struct TransportParamName {
  template <class P>
  std::string operator()(const ::testing::TestParamInfo<P>& info) const {
    return TransportName(std::get<0>(info.param)) + "_procs" +
           std::to_string(std::get<1>(info.param));
  }
};

}  // namespace gonet::testing_util

#endif  // GONET_TESTS_TRANSPORT_PAIR_H_
