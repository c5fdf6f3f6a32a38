// test_util.h: small helpers shared by the Go-conformance scenario tests in tests/.
//
//   CountOpenFds()        open fds, pipes excluded (testing/leak_check.h).
//   RunChecked(procs, f)  gonet::Run(f) between two fd counts that must match, with
//                         f ending in ExpectNoFibersLeftOver() (no fiber left over).
//   Event                 a one-shot fiber event with a bounded wait, to assert that
//                         something is (still) blocked without sleeping for sync.
//   FillSendPath(c)       writes into a conn whose peer does not read, until the
//                         kernel buffers are full (observed with a write deadline).
//   FullBacklogListener   a raw loopback listener, listen(fd, N), that never accepts,
//                         with its accept queue filled: later dials hang (SYNs dropped).
//   HasIPv6Loopback()     whether [::1] can be bound here.
//
// Everything here is test-only and header-only.

#ifndef GONET_TESTS_TEST_UTIL_H_
#define GONET_TESTS_TEST_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "testing/leak_check_gtest.h"

namespace gonet::testing_util {

// The shared leak checks (testing/leak_check.h), under the names these tests use.
using leak_check::CountOpenFds;
using leak_check::DescribeOpenFds;
using leak_check::ExpectNoFibersLeftOver;

// Runs `main` inside gonet::Run with `procs` workers and checks that the process has
// as many open fds afterwards as before (every Conn/Listener of the scenario must be
// closed or destroyed by then; the runtime's own poller fds go with the Run), and
// that no fiber the scenario started is still alive at the end of main.
inline void RunChecked(int procs, absl::AnyInvocable<void() &&> main,
                       size_t stack_size = 256 << 10) {
  leak_check::RunChecked(std::move(main), {.procs = procs, .stack_size = stack_size});
}

// A one-shot event for fibers. WaitFor() returns whether it was notified within d.
class Event {
 public:
  void Notify() {
    fiber::MutexLock l(&mu_);
    set_ = true;
    cv_.SignalAll();
  }
  bool WaitFor(absl::Duration d) {
    const absl::Time deadline = absl::Now() + d;
    fiber::MutexLock l(&mu_);
    while (!set_) {
      absl::Duration left = deadline - absl::Now();
      if (left <= absl::ZeroDuration()) return false;
      cv_.WaitWithTimeout(&mu_, left);
    }
    return true;
  }
  void Wait() {
    fiber::MutexLock l(&mu_);
    while (!set_) cv_.Wait(&mu_);
  }
  bool IsSet() {
    fiber::MutexLock l(&mu_);
    return set_;
  }

 private:
  fiber::Mutex mu_;
  fiber::CondVar cv_;
  bool set_ = false;
};

// Writes into `c` (whose peer does not read) until the kernel's send and receive
// buffers are full: each round writes `chunk` bytes under a short write deadline; the
// first round that times out means the path is full. Clears the write deadline and
// returns the bytes the kernel took. Fiber only.
inline size_t FillSendPath(net::Conn& c, size_t chunk = 1 << 20,
                           absl::Duration round = absl::Milliseconds(100)) {
  std::string buf(chunk, 'f');
  size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    (void)c.SetWriteDeadline(absl::Now() + round);
    net::IOResult r = c.Write(buf);
    total += r.n;
    if (!r.err.ok()) {
      EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
      break;
    }
  }
  (void)c.SetWriteDeadline(absl::InfiniteFuture());
  return total;
}

// A raw loopback listener (socket + bind 127.0.0.1:0 + listen(fd, backlog)) that never
// accepts. Fill() connects backlog+1 raw clients, which fills Linux's accept queue
// (it holds backlog+1 established connections); a further SYN is dropped, so a dial
// to Address() hangs until its deadline. Works anywhere (no fibers needed).
class FullBacklogListener {
 public:
  explicit FullBacklogListener(int backlog) : backlog_(backlog) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
        listen(fd_, backlog) != 0) {
      ADD_FAILURE() << "raw listener: " << strerror(errno);
      return;
    }
    socklen_t len = sizeof sa;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~FullBacklogListener() {
    for (int c : clients_) close(c);
    if (fd_ >= 0) close(fd_);
  }
  FullBacklogListener(const FullBacklogListener&) = delete;
  FullBacklogListener& operator=(const FullBacklogListener&) = delete;

  int port() const { return port_; }
  int fd() const { return fd_; }
  std::string Address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Connects one raw client, waiting up to `timeout`; true when it connected.
  bool ConnectOne(absl::Duration timeout = absl::Seconds(2)) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c < 0) return false;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port_);
    int r = connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    if (r != 0 && errno == EINPROGRESS) {
      pollfd p{c, POLLOUT, 0};
      r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1 ? 0 : -1;
      int so = 0;
      socklen_t sl = sizeof so;
      if (r == 0 && (getsockopt(c, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 || so != 0)) r = -1;
    }
    if (r != 0) {
      close(c);
      return false;
    }
    clients_.push_back(c);
    return true;
  }
  // Fills the accept queue: backlog+1 raw clients.
  bool Fill() {
    for (int i = 0; i <= backlog_; ++i) {
      if (!ConnectOne()) return false;
    }
    return true;
  }
  // Accepts (and closes) one queued connection with the raw accept(2), making room
  // for one more.
  bool AcceptOne() {
    int s = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (s < 0) return false;
    close(s);
    return true;
  }

 private:
  int backlog_;
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> clients_;
};

// Whether an AF_INET6 socket can bind [::1]:0 (Go's IPv6 probe).
inline bool HasIPv6Loopback() {
  int s = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_addr = in6addr_loopback;
  bool ok = bind(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  close(s);
  return ok;
}

// getsockopt(level, opt) as an int through TCPConn/TCPListener::Control; -1000 when
// Control failed, -errno when getsockopt did.
template <class T>
int GetSockoptInt(T& conn, int level, int opt) {
  int v = -1000;
  absl::Status s = conn.Control([&](int fd) {
    socklen_t len = sizeof v;
    if (getsockopt(fd, level, opt, &v, &len) != 0) v = -errno;
  });
  EXPECT_TRUE(s.ok()) << s;
  return v;
}

// A listener plus one dialed conn and its accepted peer, as TCPConns.
struct ConnPair {
  std::shared_ptr<net::Listener> ln;
  std::shared_ptr<net::TCPConn> client;  // the dialed side
  std::shared_ptr<net::TCPConn> server;  // the accepted side
  bool ok() const { return ln && client && server; }
  void CloseAll() {
    if (client) (void)client->Close();
    if (server) (void)server->Close();
    if (ln) (void)ln->Close();
  }
};

// Listen on 127.0.0.1:0, Dial it, Accept. Fiber only.
inline ConnPair MakeConnPair(std::string_view listen_addr = "127.0.0.1:0") {
  ConnPair p;
  auto ln = net::Listen("tcp", listen_addr);
  EXPECT_TRUE(ln.ok()) << ln.status();
  if (!ln.ok()) return p;
  p.ln = *ln;
  auto c = net::Dial("tcp", p.ln->Address().String());
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return p;
  p.client = std::dynamic_pointer_cast<net::TCPConn>(*c);
  auto s = std::dynamic_pointer_cast<net::TCPListener>(p.ln)->AcceptTCP();
  EXPECT_TRUE(s.ok()) << s.status();
  if (s.ok()) p.server = *s;
  return p;
}

// "L->R" as Go prints a conn's Source->Addr.
inline std::string Pair(const net::Conn& c) {
  return c.LocalAddr().String() + "->" + c.RemoteAddr().String();
}

}  // namespace gonet::testing_util

#endif  // GONET_TESTS_TEST_UTIL_H_
