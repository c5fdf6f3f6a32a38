// How long a canceled DialContext takes to return: the time from cancel() to the moment
// DialContext has returned in the dialing fiber, while its connect hangs (a loopback
// listener whose accept queue is full drops the SYN). The issue asks for "within a
// millisecond". Baseline in the same binary: a thread blocked in poll() on a connecting
// socket and an eventfd, woken by another thread's eventfd write (the OS-thread way to
// cancel a blocking connect). Each iteration's wait-until-parked set-up is not timed
// (manual time). Google Benchmark from Debian is a DEBUG build: that affects its own
// bookkeeping only.
// BM_DialTimeout_BlackholedLookup: DialTimeout(200 ms) to a name whose nameserver never
// answers, through the built-in DNS client; results in
// benchmarks/results/dial_blackholed_lookup.txt.
//   ./bazelw run --jobs=1 //benchmarks/net:dial_context_benchmark
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "fiber/channel.h"
#include "fiber/context.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "net/net.h"

namespace gonet {
namespace {

// A raw loopback listener (listen(fd, 0)) that never accepts, with its accept queue
// filled by raw clients until a further connect hangs.
class BlackHole {
 public:
  BlackHole() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa_.sin_family = AF_INET;
    sa_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&sa_), sizeof sa_) != 0 || listen(fd_, 0) != 0) {
      abort();
    }
    socklen_t len = sizeof sa_;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&sa_), &len);
    // Connect until one stays pending for 50 ms (the queue holds backlog+1 = 1, but
    // allow for a kernel that counts late).
    for (int i = 0; i < 16; ++i) {
      int c = Connecting();
      pollfd p{c, POLLOUT, 0};
      if (poll(&p, 1, 50) == 0) {
        close(c);
        return;
      }
      clients_.push_back(c);
    }
    abort();  // never filled
  }
  ~BlackHole() {
    for (int c : clients_) close(c);
    close(fd_);
  }
  std::string Address() const { return "127.0.0.1:" + std::to_string(ntohs(sa_.sin_port)); }
  // A non-blocking socket whose connect to the hole is in progress.
  int Connecting() const {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connect(c, reinterpret_cast<const sockaddr*>(&sa_), sizeof sa_) != 0 &&
        errno != EINPROGRESS) {
      abort();
    }
    return c;
  }

 private:
  int fd_ = -1;
  sockaddr_in sa_{};
  std::vector<int> clients_;
};

// Whether fiber `id` is parked waiting for writability (its connect). Fiber only.
bool ConnectParked(uint64_t id) {
  bool parked = false;
  fiber_internal::VisitFibers([&](const fiber_internal::Fiber& f) {
    if (f.id == id &&
        f.status.load(std::memory_order_acquire) == fiber_internal::FiberStatus::kWaiting &&
        f.wait.reason == fiber_internal::WaitReason::kIOWait && f.wait.mode == 'w') {
      parked = true;
    }
  });
  return parked;
}

void BM_DialContext_CancelLatency(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  BlackHole hole;  // outside Run: filling it blocks the thread in poll()
  const std::string addr = hole.Address();
  double max_s = 0;
  gonet::Run([&] {
    for (auto _ : state) {
      auto [ctx, cancel] = WithCancel(Background());
      std::atomic<uint64_t> id{0};
      fiber::Channel<absl::Time> returned(1);
      absl::Status result;
      Go([&, ctx = ctx] {
        id = fiber_internal::CurrentFiber()->id;
        auto c = net::Dialer{}.DialContext(ctx, "tcp", addr);
        const absl::Time t = absl::Now();
        result = c.status();
        returned.Send(t);
      });
      while (id.load() == 0 || !ConnectParked(id.load())) Sleep(absl::Microseconds(20));
      const absl::Time start = absl::Now();
      cancel();
      const absl::Time end = *returned.Recv();
      const double took = absl::ToDoubleSeconds(end - start);
      state.SetIterationTime(took);
      max_s = std::max(max_s, took);
      if (result.code() != absl::StatusCode::kCancelled) {
        state.SkipWithError(std::string(result.message()).c_str());
        break;
      }
    }
  }, {.procs = procs});
  state.counters["max_us"] = max_s * 1e6;  // the slowest iteration
}
BENCHMARK(BM_DialContext_CancelLatency)
    ->Arg(1)
    ->Arg(2)
    ->ArgName("procs")
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// DialTimeout(200 ms) to a name whose nameserver never answers (a loopback UDP socket
// nobody reads), through the built-in DNS client: how long the dial takes in all (the
// issue asks for under 250 ms). The overshoot past 200 ms is the counter to read.
void BM_DialTimeout_BlackholedLookup(benchmark::State& state) {
  const int procs = static_cast<int>(state.range(0));
  double max_s = 0, sum_over_s = 0;
  int64_t n = 0;
  gonet::Run([&] {
    auto hole = net::ListenPacket("udp", "127.0.0.1:0");
    if (!hole.ok()) {
      state.SkipWithError(std::string(hole.status().message()).c_str());
      return;
    }
    net::Resolver r;
    r.prefer_go = true;
    r.nameservers = {(*hole)->LocalAddr().String()};
    net::Dialer d;
    d.timeout = absl::Milliseconds(200);
    d.resolver = &r;
    for (auto _ : state) {
      const absl::Time start = absl::Now();
      auto c = d.Dial("tcp", "black.test:80");
      const double took = absl::ToDoubleSeconds(absl::Now() - start);
      state.SetIterationTime(took);
      max_s = std::max(max_s, took);
      sum_over_s += took - 0.2;
      ++n;
      if (c.ok() || c.status().message() != "dial tcp: lookup black.test: i/o timeout") {
        state.SkipWithError(c.ok() ? "dial succeeded" : std::string(c.status().message()).c_str());
        break;
      }
    }
    (void)(*hole)->Close();
  }, {.procs = procs});
  state.counters["max_ms"] = max_s * 1e3;
  state.counters["mean_over_200ms_us"] = n > 0 ? sum_over_s / n * 1e6 : 0;
}
BENCHMARK(BM_DialTimeout_BlackholedLookup)
    ->Arg(1)
    ->Arg(2)
    ->ArgName("procs")
    ->Iterations(20)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

void BM_Thread_DialCancelLatency(benchmark::State& state) {
  BlackHole hole;
  double max_s = 0;
  for (auto _ : state) {
    const int efd = eventfd(0, EFD_CLOEXEC);
    const int c = hole.Connecting();
    std::atomic<bool> polling{false};
    std::atomic<int64_t> returned_ns{0};
    std::thread dialer([&] {
      pollfd p[2] = {{c, POLLOUT, 0}, {efd, POLLIN, 0}};
      polling = true;
      while (poll(p, 2, -1) < 0 && errno == EINTR) {
      }
      close(c);  // the canceled dial drops its socket, as DialContext does
      returned_ns = absl::GetCurrentTimeNanos();
    });
    while (!polling.load()) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::microseconds(200));  // inside poll() by now
    const int64_t start = absl::GetCurrentTimeNanos();
    const uint64_t one = 1;
    (void)!write(efd, &one, sizeof one);
    dialer.join();
    const double took = static_cast<double>(returned_ns.load() - start) * 1e-9;
    state.SetIterationTime(took);
    max_s = std::max(max_s, took);
    close(efd);
  }
  state.counters["max_us"] = max_s * 1e6;
}
BENCHMARK(BM_Thread_DialCancelLatency)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gonet
