// Micro-benchmarks of the fiber runtime (//fiber, :sync, :channel, timers, poller),
// each next to a BM_Thread_* baseline doing the same with OS threads. Names are fixed:
// benchmarks/go_compare/compare.py matches them against Go's fiber_bench_test.go.
//
// Every fiber benchmark runs its fibers inside ONE gonet::Run per benchmark run (the
// timed loop runs in the main fiber), never a runtime per iteration. Fibers migrate
// between worker threads, so CPU time is taken for the whole process and wall time is
// what the numbers mean (UseRealTime). Benchmarks whose iteration is not one operation
// report a `ns_per_*` counter, which compare.py prefers over real_time.
//
//   bazel run -c opt //benchmarks:fiber_benchmark -- --benchmark_filter=Yield
//   (Debian's libbenchmark is a DEBUG build: only its own bookkeeping is affected.)
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>

#include "absl/base/internal/raw_logging.h"
#include "benchmark/benchmark.h"
#include "fiber/channel.h"
#include "fiber/context.h"
#include "fiber/fiber.h"
#include "fiber/internal/context.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/timer_heap.h"
#include "fiber/sync.h"
#include "fiber/timer.h"
#include "poller/poller.h"

namespace gonet {
namespace {

using fiber_internal::MonoNanos;

int Procs(const benchmark::State& state) { return static_cast<int>(state.range(0)); }

// ---------------------------------------------------------------- switch

// Two fibers take strict turns through `turn` (as Go's BenchmarkGoroutineSwitch/
// gosched): fiber k waits for its turn with Yield() and then passes it on. Each turn
// change is one switch, and one benchmark iteration is one turn change.
void BM_Yield_PingPong(benchmark::State& state) {
  int64_t elapsed_ns = 0;
  gonet::Run([&] {
    std::atomic<int64_t> turn{0};
    std::atomic<bool> stop{false};
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      for (int64_t t = 1;; t += 2) {
        while (turn.load(std::memory_order_acquire) != t) {
          if (stop.load(std::memory_order_relaxed)) {
            wg.Done();
            return;
          }
          Yield();
        }
        turn.store(t + 1, std::memory_order_release);
      }
    });
    int64_t t = 0;
    int64_t start = MonoNanos();
    while (state.KeepRunningBatch(2)) {
      while (turn.load(std::memory_order_acquire) != t) Yield();
      turn.store(t + 1, std::memory_order_release);
      t += 2;
    }
    while (turn.load(std::memory_order_acquire) != t) Yield();  // partner's last turn
    elapsed_ns = MonoNanos() - start;
    stop.store(true);
    wg.Wait();
  }, {.procs = Procs(state)});
  state.counters["ns_per_switch"] =
      static_cast<double>(elapsed_ns) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(fiber_internal::ContextBackendName());
}

// The switch benchmark is named after the context backend chosen at build time.
const bool kYieldRegistered = [] {
  std::string name = std::string("BM_Yield_PingPong/") +
                     (std::string(fiber_internal::ContextBackendName()) == "asm" ? "fast" : "ucontext");
  benchmark::RegisterBenchmark(name.c_str(), &BM_Yield_PingPong)
      ->ArgName("procs")
      ->Arg(1)
      ->Arg(2)
      ->UseRealTime()
      ->MeasureProcessCPUTime();
  return true;
}();

// Baseline: two threads taking strict turns, waiting with sched_yield.
void BM_Thread_Yield_PingPong(benchmark::State& state) {
  std::atomic<int64_t> turn{0};
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    for (int64_t t = 1;; t += 2) {
      while (turn.load(std::memory_order_acquire) != t) {
        if (stop.load(std::memory_order_relaxed)) return;
        std::this_thread::yield();
      }
      turn.store(t + 1, std::memory_order_release);
    }
  });
  int64_t t = 0;
  int64_t start = MonoNanos();
  while (state.KeepRunningBatch(2)) {
    while (turn.load(std::memory_order_acquire) != t) std::this_thread::yield();
    turn.store(t + 1, std::memory_order_release);
    t += 2;
  }
  while (turn.load(std::memory_order_acquire) != t) std::this_thread::yield();
  int64_t elapsed_ns = MonoNanos() - start;
  stop.store(true);
  partner.join();
  state.counters["ns_per_switch"] =
      static_cast<double>(elapsed_ns) / static_cast<double>(state.iterations());
}
BENCHMARK(BM_Thread_Yield_PingPong)->UseRealTime()->MeasureProcessCPUTime();

// ---------------------------------------------------------------- Blocking

// A short system call (getppid: no work in the kernel) made directly from a fiber, and
// inside gonet::Blocking: the difference is Blocking's cost when the call is short
// (the hand-off never happens). Go's counterparts: syscall.RawSyscall (no scheduler
// involvement) and syscall.Syscall (entersyscall/exitsyscall around it).
void BM_Direct_Getppid(benchmark::State& state) {
  gonet::Run([&] {
    for (auto _ : state) benchmark::DoNotOptimize(getppid());
  }, {.procs = 1});
}
BENCHMARK(BM_Direct_Getppid)->UseRealTime()->MeasureProcessCPUTime();

void BM_Blocking_Getppid(benchmark::State& state) {
  gonet::Run([&] {
    for (auto _ : state) benchmark::DoNotOptimize(Blocking([] { return getppid(); }));
  }, {.procs = 1});
}
BENCHMARK(BM_Blocking_Getppid)->UseRealTime()->MeasureProcessCPUTime();

// Blocking's own cost: an empty call.
void BM_Blocking_Empty(benchmark::State& state) {
  gonet::Run([&] {
    int x = 0;
    for (auto _ : state) {
      Blocking([&] { benchmark::DoNotOptimize(++x); });
    }
  }, {.procs = 1});
}
BENCHMARK(BM_Blocking_Empty)->UseRealTime()->MeasureProcessCPUTime();

// ---------------------------------------------------------------- spawn + join

// One iteration = one fiber started with Go() and joined through a WaitGroup; fibers
// are started in batches of 100 and joined together.
void BM_Spawn_Join(benchmark::State& state) {
  constexpr int kBatch = 100;
  gonet::Run([&] {
    fiber::WaitGroup wg;
    std::atomic<int64_t> ran{0};
    while (state.KeepRunningBatch(kBatch)) {
      wg.Add(kBatch);
      for (int i = 0; i < kBatch; ++i) {
        Go([&] {
          ran.fetch_add(1, std::memory_order_relaxed);
          wg.Done();
        });
      }
      wg.Wait();
    }
    if (ran.load() != static_cast<int64_t>(state.iterations())) state.SkipWithError("lost fibers");
  }, {.procs = Procs(state)});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Spawn_Join)->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();

void BM_Thread_Spawn_Join(benchmark::State& state) {
  std::atomic<int64_t> ran{0};
  for (auto _ : state) {
    std::thread t([&] { ran.fetch_add(1, std::memory_order_relaxed); });
    t.join();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Thread_Spawn_Join)->UseRealTime()->MeasureProcessCPUTime();

// ---------------------------------------------------------------- channels

// One iteration = a request sent to an echo fiber and its reply received.
void ChannelRoundTrip(benchmark::State& state, size_t capacity) {
  gonet::Run([&] {
    fiber::Channel<int64_t> req(capacity), resp(capacity);
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      while (std::optional<int64_t> v = req.Recv()) resp.Send(*v);
      wg.Done();
    });
    int64_t i = 0;
    for (auto _ : state) {
      req.Send(i);
      std::optional<int64_t> r = resp.Recv();
      if (!r || *r != i) {
        state.SkipWithError("echo returned the wrong value");
        break;
      }
      ++i;
    }
    req.Close();
    wg.Wait();
  }, {.procs = Procs(state)});
  state.SetItemsProcessed(state.iterations());
}

void BM_Channel_Unbuffered_RoundTrip(benchmark::State& state) { ChannelRoundTrip(state, 0); }
void BM_Channel_Buffered_RoundTrip(benchmark::State& state) { ChannelRoundTrip(state, 1); }
BENCHMARK(BM_Channel_Unbuffered_RoundTrip)->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_Channel_Buffered_RoundTrip)->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();

// Baseline: a blocking queue (std::mutex + std::condition_variable), two threads.
class ThreadQueue {
 public:
  void Push(int64_t v) {
    {
      std::lock_guard<std::mutex> l(mu_);
      q_.push_back(v);
    }
    cv_.notify_one();
  }
  int64_t Pop() {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return !q_.empty(); });
    int64_t v = q_.front();
    q_.pop_front();
    return v;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<int64_t> q_;
};

void BM_Thread_Channel_RoundTrip(benchmark::State& state) {
  ThreadQueue req, resp;
  std::thread echo([&] {
    for (;;) {
      int64_t v = req.Pop();
      if (v < 0) return;
      resp.Push(v);
    }
  });
  int64_t i = 0;
  for (auto _ : state) {
    req.Push(i);
    if (resp.Pop() != i) state.SkipWithError("echo returned the wrong value");
    ++i;
  }
  req.Push(-1);
  echo.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Thread_Channel_RoundTrip)->UseRealTime()->MeasureProcessCPUTime();

// ---------------------------------------------------------------- mutex

void BM_Mutex_Uncontended(benchmark::State& state) {
  int64_t x = 0;
  gonet::Run([&] {
    fiber::Mutex mu;
    for (auto _ : state) {
      mu.Lock();
      ++x;
      mu.Unlock();
    }
  }, {.procs = Procs(state)});
  benchmark::DoNotOptimize(x);
  if (x != static_cast<int64_t>(state.iterations())) state.SkipWithError("lost increments");
}
BENCHMARK(BM_Mutex_Uncontended)->ArgName("procs")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();

void BM_Thread_Mutex_Uncontended(benchmark::State& state) {
  std::mutex mu;
  int64_t x = 0;
  for (auto _ : state) {
    mu.lock();
    ++x;
    mu.unlock();
  }
  benchmark::DoNotOptimize(x);
}
BENCHMARK(BM_Thread_Mutex_Uncontended)->UseRealTime()->MeasureProcessCPUTime();

// One RLock+RUnlock per iteration, nobody else around: one atomic RMW each (Go's
// readerCount fast path). Counterpart: Go's BenchmarkRWMutexRLock.
void BM_RWMutex_RLock_Uncontended(benchmark::State& state) {
  gonet::Run([&] {
    fiber::RWMutex mu;
    for (auto _ : state) {
      mu.RLock();
      mu.RUnlock();
    }
  }, {.procs = Procs(state), .stall_report = absl::ZeroDuration()});  // a loop without yields
}
BENCHMARK(BM_RWMutex_RLock_Uncontended)->ArgName("procs")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();

// One two-case Select per iteration: one case ready (a value in a buffered channel,
// sent back after), the other never. Counterpart: Go's BenchmarkSelectTwoCase.
void BM_Select_TwoCase(benchmark::State& state) {
  gonet::Run([&] {
    fiber::Channel<int> ready(1), never(1);
    ready.Send(1);
    for (auto _ : state) {
      std::optional<int> v, w;
      if (fiber::Select({fiber::OnRecv(ready, &v), fiber::OnRecv(never, &w)}) != 0) std::abort();
      ready.Send(*v);
    }
  }, {.procs = Procs(state), .stall_report = absl::ZeroDuration()});  // a loop without yields
}
BENCHMARK(BM_Select_TwoCase)->ArgName("procs")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();

void BM_Thread_RWMutex_RLock_Uncontended(benchmark::State& state) {
  std::shared_mutex mu;
  for (auto _ : state) {
    mu.lock_shared();
    mu.unlock_shared();
  }
}
BENCHMARK(BM_Thread_RWMutex_RLock_Uncontended)->UseRealTime()->MeasureProcessCPUTime();

// Readers only, one per proc: the main fiber runs the timed loop, procs-1 partner
// fibers RLock+RUnlock until told to stop, all on the one reader_count_ word (no
// fiber ever parks; this measures the cache line moving between cores).
// ns_per_op is wall time per RLock+RUnlock of any fiber.
void BM_RWMutex_RLock_Parallel(benchmark::State& state) {
  int64_t elapsed_ns = 0;
  std::atomic<int64_t> ops{0};
  gonet::Run([&] {
    fiber::RWMutex mu;
    std::atomic<bool> stop{false};
    fiber::WaitGroup wg;
    for (int i = 1; i < Procs(state); ++i) {
      wg.Add(1);
      Go([&] {
        int64_t n = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          mu.RLock();
          mu.RUnlock();
          ++n;
        }
        ops.fetch_add(n);
        wg.Done();
      });
    }
    const int64_t start = MonoNanos();
    for (auto _ : state) {
      mu.RLock();
      mu.RUnlock();
    }
    elapsed_ns = MonoNanos() - start;
    stop.store(true);
    wg.Wait();
  }, {.procs = Procs(state), .stall_report = absl::ZeroDuration()});  // loops without yields
  const int64_t total = ops.load() + static_cast<int64_t>(state.iterations());
  state.counters["ns_per_op"] = static_cast<double>(elapsed_ns) / static_cast<double>(total);
  state.SetItemsProcessed(total);
}
BENCHMARK(BM_RWMutex_RLock_Parallel)->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();

// Two fibers each take the lock and yield while holding it (as Go's
// BenchmarkMutexContended), so the other always finds it held and parks; every Unlock
// has a waiter to wake or hand off to. The main fiber runs the timed loop, a partner
// fiber competes until told to stop. ns_per_op is per Lock+Unlock of either fiber.
void BM_Mutex_Contended(benchmark::State& state) {
  int64_t elapsed_ns = 0;
  int64_t ops = 0;
  gonet::Run([&] {
    fiber::Mutex mu;
    int64_t count = 0;  // guarded by mu
    std::atomic<bool> stop{false};
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        mu.Lock();
        ++count;
        Yield();
        mu.Unlock();
      }
      wg.Done();
    });
    int64_t start = MonoNanos();
    for (auto _ : state) {
      mu.Lock();
      ++count;
      Yield();
      mu.Unlock();
    }
    mu.Lock();
    elapsed_ns = MonoNanos() - start;
    ops = count;
    stop.store(true);
    mu.Unlock();
    wg.Wait();
  }, {.procs = Procs(state)});
  state.counters["ns_per_op"] = static_cast<double>(elapsed_ns) / static_cast<double>(ops);
  state.counters["partner_share"] =
      1.0 - static_cast<double>(state.iterations()) / static_cast<double>(ops);
  state.SetItemsProcessed(ops);
}
BENCHMARK(BM_Mutex_Contended)->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();

void BM_Thread_Mutex_Contended(benchmark::State& state) {
  std::mutex mu;
  int64_t count = 0;
  std::atomic<bool> stop{false};
  std::thread partner([&] {
    while (!stop.load(std::memory_order_relaxed)) {
      mu.lock();
      ++count;
      std::this_thread::yield();
      mu.unlock();
    }
  });
  int64_t start = MonoNanos();
  for (auto _ : state) {
    mu.lock();
    ++count;
    std::this_thread::yield();
    mu.unlock();
  }
  mu.lock();
  int64_t elapsed_ns = MonoNanos() - start;
  int64_t ops = count;
  stop.store(true);
  mu.unlock();
  partner.join();
  state.counters["ns_per_op"] = static_cast<double>(elapsed_ns) / static_cast<double>(ops);
}
BENCHMARK(BM_Thread_Mutex_Contended)->UseRealTime()->MeasureProcessCPUTime();

// ---------------------------------------------------------------- timers

void NeverFires(fiber_internal::Timer*, fiber_internal::FiberList*) {
  ABSL_RAW_LOG(FATAL, "BM_Timer_AddCancel: a cancelled timer fired");
}

// One iteration = a runtime timer armed an hour out and cancelled before it fires.
void BM_Timer_AddCancel(benchmark::State& state) {
  gonet::Run([&] {
    fiber_internal::Timer t;
    t.fn = &NeverFires;
    const int64_t when = MonoNanos() + int64_t{3600} * 1'000'000'000;
    for (auto _ : state) {
      fiber_internal::ResetTimer(&t, when);
      if (!fiber_internal::DeleteTimer(&t)) state.SkipWithError("timer was not pending");
    }
  }, {.procs = Procs(state)});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Timer_AddCancel)->ArgName("procs")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();

// One iteration = fiber::Timer::Reset an hour out, then Stop (Go's time.Timer pair).
// Counterpart: Go's BenchmarkTimerResetStop.
void BM_Timer_ResetStop(benchmark::State& state) {
  gonet::Run([&] {
    fiber::Timer t(absl::Hours(1));
    t.Stop();
    for (auto _ : state) {
      t.Reset(absl::Hours(1));
      if (!t.Stop()) state.SkipWithError("Stop found the timer inactive");
    }
  }, {.procs = Procs(state), .stall_report = absl::ZeroDuration()});  // a loop without yields
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Timer_ResetStop)->ArgName("procs")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();

// One iteration = WithCancel of a cancelable parent (registers with it) and its cancel
// (closes Done, deregisters). Counterpart: Go's BenchmarkContextWithCancel.
void BM_Context_WithCancel(benchmark::State& state) {
  gonet::Run([&] {
    auto [parent, stop] = gonet::WithCancel(gonet::Background());
    for (auto _ : state) {
      auto [ctx, cancel] = gonet::WithCancel(parent);
      cancel();
      if (ctx.Err().ok()) state.SkipWithError("not canceled");
    }
    stop();
  }, {.procs = Procs(state), .stall_report = absl::ZeroDuration()});
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Context_WithCancel)->ArgName("procs")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();

// Baseline: a kernel timer (timerfd) armed an hour out and disarmed.
void BM_Thread_Timer_AddCancel(benchmark::State& state) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (fd < 0) {
    state.SkipWithError("timerfd_create failed");
    return;
  }
  itimerspec arm{}, disarm{};
  arm.it_value.tv_sec = 3600;
  for (auto _ : state) {
    timerfd_settime(fd, 0, &arm, nullptr);
    timerfd_settime(fd, 0, &disarm, nullptr);
  }
  close(fd);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Thread_Timer_AddCancel)->UseRealTime()->MeasureProcessCPUTime();

// ---------------------------------------------------------------- poller

// One iteration: thread A Wake()s poller 1; thread B, blocked in poller 1's Wait(),
// returns and Wake()s poller 2, in whose Wait() A is blocked.
void BM_Poller_WakeRoundTrip(benchmark::State& state) {
  auto p1 = poller::Poller::Create();
  auto p2 = poller::Poller::Create();
  if (!p1.ok() || !p2.ok()) {
    state.SkipWithError("Poller::Create failed");
    return;
  }
  poller::Poller& to_b = **p1;
  poller::Poller& to_a = **p2;
  std::atomic<bool> stop{false};
  std::thread b([&] {
    poller::Event evs[4];
    for (;;) {
      to_b.Wait(-1, absl::MakeSpan(evs));
      if (stop.load(std::memory_order_acquire)) return;
      to_a.Wake();
    }
  });
  poller::Event evs[4];
  for (auto _ : state) {
    to_b.Wake();
    to_a.Wait(-1, absl::MakeSpan(evs));
  }
  stop.store(true, std::memory_order_release);
  to_b.Wake();
  b.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Poller_WakeRoundTrip)->UseRealTime()->MeasureProcessCPUTime();

// Baseline: the same round trip over two eventfds with blocking read(2)/write(2).
void BM_Thread_EventFd_RoundTrip(benchmark::State& state) {
  int to_b = eventfd(0, EFD_CLOEXEC), to_a = eventfd(0, EFD_CLOEXEC);
  if (to_b < 0 || to_a < 0) {
    state.SkipWithError("eventfd failed");
    return;
  }
  std::thread b([&] {
    uint64_t v;
    for (;;) {
      if (read(to_b, &v, sizeof v) != sizeof v) return;
      if (v >= (uint64_t{1} << 40)) return;  // stop
      v = 1;
      if (write(to_a, &v, sizeof v) != sizeof v) return;
    }
  });
  uint64_t one = 1, v;
  for (auto _ : state) {
    if (write(to_b, &one, sizeof one) != sizeof one) state.SkipWithError("write failed");
    if (read(to_a, &v, sizeof v) != sizeof v) state.SkipWithError("read failed");
  }
  uint64_t stop = uint64_t{1} << 40;
  if (write(to_b, &stop, sizeof stop) != sizeof stop) ABSL_RAW_LOG(FATAL, "eventfd write failed");
  b.join();
  close(to_b);
  close(to_a);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Thread_EventFd_RoundTrip)->UseRealTime()->MeasureProcessCPUTime();

}  // namespace
}  // namespace gonet
