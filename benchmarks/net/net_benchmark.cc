// Microbenchmarks of the hot read/write path (issue: hot-path performance, part 1).
// Names: BM_<Concept>_<Scenario>; every gonet figure has a BM_Thread_<same name>
// baseline in this binary. Google Benchmark from Debian is a DEBUG build: that affects
// its own bookkeeping only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "fiber/fiber.h"
#include "fiber/channel.h"
#include "fiber/sync.h"
#include "net/net.h"
#include "netfd/fd_mutex.h"
#include "netfd/netfd.h"

namespace gonet {
namespace {

// ---------------------------------------------------------------- FdMutex

void BM_FdMutex_RWLock_Uncontended(benchmark::State& state) {
  netfd::FdMutex mu;
  for (auto _ : state) {
    mu.RWLock(true);
    mu.RWUnlock(true);
  }
}
BENCHMARK(BM_FdMutex_RWLock_Uncontended);

void BM_Thread_FdMutex_RWLock_Uncontended(benchmark::State& state) {
  std::mutex mu;
  for (auto _ : state) {
    mu.lock();
    mu.unlock();
  }
}
BENCHMARK(BM_Thread_FdMutex_RWLock_Uncontended);

// Two fibers (procs workers) taking turns on the write lock; they yield while holding
// it so the other queues (parks) on the fdMutex semaphore.
void BM_FdMutex_RWLock_Contended(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  gonet::Run([&] {
    netfd::FdMutex mu;
    std::atomic<bool> stop{false};
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        mu.RWLock(false);
        Yield();
        mu.RWUnlock(false);
      }
      wg.Done();
    });
    for (auto _ : state) {
      mu.RWLock(false);
      Yield();
      mu.RWUnlock(false);
    }
    stop = true;
    wg.Wait();
  }, {.procs = procs});
}
BENCHMARK(BM_FdMutex_RWLock_Contended)->Arg(1)->Arg(2)->ArgName("procs")->UseRealTime();

// ---------------------------------------------------------------- NetFD ping-pong

std::pair<int, int> SocketPair() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) abort();
  return {sv[0], sv[1]};
}

// Reads exactly n bytes through a NetFD or a net::Conn (both: Read(span) -> {n, err}).
template <class Reader>
bool ReadFull(Reader& r, char* p, size_t n) {
  while (n > 0) {
    auto res = r.Read(absl::MakeSpan(p, n));
    if (!res.err.ok()) return false;
    p += res.n;
    n -= res.n;
  }
  return true;
}

// One round trip = `size` bytes each way between two fibers over a socketpair.
void BM_NetFD_PingPong(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  gonet::Run([&] {
    auto [a, b] = SocketPair();
    netfd::NetFD fa(a, AF_UNIX, SOCK_STREAM, "unix"), fb(b, AF_UNIX, SOCK_STREAM, "unix");
    if (!fa.Init().ok() || !fb.Init().ok()) abort();
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      std::vector<char> buf(size);
      while (ReadFull(fb, buf.data(), size)) {
        if (!fb.Write(absl::MakeConstSpan(buf)).err.ok()) break;
      }
      wg.Done();
    });
    std::vector<char> buf(size, 'x');
    for (auto _ : state) {
      fa.Write(absl::MakeConstSpan(buf));
      ReadFull(fa, buf.data(), size);
    }
    fa.Close();
    wg.Wait();
    fb.Close();
  }, {.procs = 1});
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size * 2));
}
BENCHMARK(BM_NetFD_PingPong)->Arg(64)->Arg(4096)->Arg(65536)->ArgName("bytes")->UseRealTime();

bool BlockingReadFull(int fd, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool BlockingWriteFull(int fd, const char* p, size_t n) {
  while (n > 0) {
    ssize_t r = send(fd, p, n, MSG_NOSIGNAL);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Baseline: the same ping-pong with blocking sockets on two threads.
void BlockingPingPong(benchmark::State& state, int a, int b) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::thread echo([&] {
    std::vector<char> buf(size);
    while (BlockingReadFull(b, buf.data(), size) && BlockingWriteFull(b, buf.data(), size)) {
    }
  });
  std::vector<char> buf(size, 'x');
  for (auto _ : state) {
    BlockingWriteFull(a, buf.data(), size);
    BlockingReadFull(a, buf.data(), size);
  }
  shutdown(a, SHUT_RDWR);
  echo.join();
  close(a);
  close(b);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size * 2));
}

void BM_Thread_NetFD_PingPong(benchmark::State& state) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) abort();
  BlockingPingPong(state, sv[0], sv[1]);
}
BENCHMARK(BM_Thread_NetFD_PingPong)->Arg(64)->Arg(4096)->Arg(65536)->ArgName("bytes")->UseRealTime();

// ---------------------------------------------------------------- net::Conn over TCP

struct ConnPair {
  std::shared_ptr<net::Listener> ln;
  std::shared_ptr<net::Conn> client, server;
};

ConnPair Connect() {
  ConnPair p;
  p.ln = *net::Listen("tcp", "127.0.0.1:0");
  fiber::WaitGroup wg;
  wg.Add(1);
  Go([&] {
    p.server = *p.ln->Accept();
    wg.Done();
  });
  p.client = *net::Dial("tcp", p.ln->Address().String());
  wg.Wait();
  return p;
}


void ConnPingPong(benchmark::State& state, bool deadline_per_op) {
  const size_t size = static_cast<size_t>(state.range(0));
  gonet::Run([&] {
    ConnPair p = Connect();
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      std::vector<char> buf(size);
      for (;;) {
        // What real servers do per request: arm a read deadline, read, clear it.
        if (deadline_per_op) p.server->SetReadDeadline(absl::Now() + absl::Seconds(30));
        if (!ReadFull(*p.server, buf.data(), size)) break;
        if (deadline_per_op) p.server->SetReadDeadline(absl::InfiniteFuture());
        if (!p.server->Write(absl::MakeConstSpan(buf)).err.ok()) break;
      }
      wg.Done();
    });
    std::vector<char> buf(size, 'x');
    for (auto _ : state) {
      p.client->Write(absl::MakeConstSpan(buf));
      ReadFull(*p.client, buf.data(), size);
    }
    p.client->Close();
    wg.Wait();
    p.server->Close();
    p.ln->Close();
  }, {.procs = 1});
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size * 2));
}

void BM_Conn_PingPong(benchmark::State& state) { ConnPingPong(state, false); }
BENCHMARK(BM_Conn_PingPong)->Arg(64)->Arg(4096)->Arg(65536)->ArgName("bytes")->UseRealTime();

void BM_Conn_DeadlineReadClear(benchmark::State& state) { ConnPingPong(state, true); }
BENCHMARK(BM_Conn_DeadlineReadClear)->Arg(64)->ArgName("bytes")->UseRealTime();

std::pair<int, int> BlockingTcpPair(int* listener_out) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  listen(l, 128);
  socklen_t len = sizeof sa;
  getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len);
  int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
  int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  *listener_out = l;
  return {c, s};
}

void BM_Thread_Conn_PingPong(benchmark::State& state) {
  int l;
  auto [c, s] = BlockingTcpPair(&l);
  BlockingPingPong(state, c, s);
  close(l);
}
BENCHMARK(BM_Thread_Conn_PingPong)->Arg(64)->Arg(4096)->Arg(65536)->ArgName("bytes")->UseRealTime();

// ---------------------------------------------------------------- Accept + Close churn

void BM_Conn_AcceptCloseChurn(benchmark::State& state) {
  gonet::Run([&] {
    auto ln = *net::Listen("tcp", "127.0.0.1:0");
    std::string addr = ln->Address().String();
    fiber::Channel<int>* none = nullptr;
    (void)none;
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      for (;;) {
        auto c = ln->Accept();
        if (!c.ok()) break;
        (*c)->Close();
      }
      wg.Done();
    });
    for (auto _ : state) {
      auto c = net::Dial("tcp", addr);
      if (!c.ok()) abort();
      char b;
      (*c)->Read(absl::MakeSpan(&b, 1));  // EOF once the server closed its side
      (*c)->Close();
    }
    ln->Close();
    wg.Wait();
  }, {.procs = 1});
}
BENCHMARK(BM_Conn_AcceptCloseChurn)->UseRealTime();

void BM_Thread_Conn_AcceptCloseChurn(benchmark::State& state) {
  int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(l, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  listen(l, 128);
  socklen_t len = sizeof sa;
  getsockname(l, reinterpret_cast<sockaddr*>(&sa), &len);
  std::atomic<bool> stop{false};
  std::thread acceptor([&] {
    while (!stop) {
      int s = accept4(l, nullptr, nullptr, SOCK_CLOEXEC);
      if (s < 0) break;
      close(s);
    }
  });
  for (auto _ : state) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    connect(c, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    char b;
    (void)!read(c, &b, 1);
    close(c);
  }
  stop = true;
  shutdown(l, SHUT_RDWR);
  acceptor.join();
  close(l);
}
BENCHMARK(BM_Thread_Conn_AcceptCloseChurn)->UseRealTime();

}  // namespace
}  // namespace gonet
