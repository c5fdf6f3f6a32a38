// DumpFibers with many parked fibers (goal: 10k fibers in under 100 ms), next to its
// baseline: only enumerating them (VisitFibers), which every dump pays too.
//   ./bazelw run -c opt //benchmarks:fiber_dump_benchmark
#include <ostream>
#include <streambuf>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "benchmark/benchmark.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/sync.h"

namespace {

// Accepts and drops everything: the benchmark measures unwinding and formatting.
class NullBuf : public std::streambuf {
 protected:
  int_type overflow(int_type c) override { return traits_type::not_eof(c); }
  std::streamsize xsputn(const char*, std::streamsize n) override { return n; }
};

ABSL_ATTRIBUTE_NOINLINE void ParkedInBenchmark(gonet::fiber::WaitGroup* release) {
  release->Wait();
  ABSL_BLOCK_TAIL_CALL_OPTIMIZATION();
}

// Runs body(state) on a Run with `n` fibers parked in a WaitGroup (a few frames deep).
template <class Body>
void WithParkedFibers(benchmark::State& state, Body body) {
  const int n = static_cast<int>(state.range(0));
  gonet::Run([&] {
    gonet::fiber::WaitGroup release, done;
    release.Add(1);
    done.Add(n);
    for (int i = 0; i < n; ++i) {
      gonet::Go([&] {
        ParkedInBenchmark(&release);
        done.Done();
      });
    }
    for (;;) {  // until all n are parked
      int parked = 0;
      gonet::fiber_internal::VisitFibers([&](const gonet::fiber_internal::Fiber& f) {
        parked += f.status.load() == gonet::fiber_internal::FiberStatus::kWaiting;
      });
      if (parked >= n) break;
      gonet::Yield();
    }
    body(state);
    release.Done();
    done.Wait();
  }, {.procs = 2, .stack_size = 64 << 10});
  state.counters["fibers"] = static_cast<double>(n);
}

void BM_DumpFibers_Parked(benchmark::State& state) {
  WithParkedFibers(state, [](benchmark::State& st) {
    NullBuf buf;
    std::ostream out(&buf);
    for (auto _ : st) gonet::DumpFibers(out);
  });
}
BENCHMARK(BM_DumpFibers_Parked)->ArgName("fibers")->Arg(100)->Arg(10000)->Unit(benchmark::kMillisecond);

// Baseline: enumeration alone.
void BM_VisitFibers_Parked(benchmark::State& state) {
  WithParkedFibers(state, [](benchmark::State& st) {
    for (auto _ : st) {
      int64_t sum = 0;
      gonet::fiber_internal::VisitFibers(
          [&](const gonet::fiber_internal::Fiber& f) { sum += static_cast<int64_t>(f.id); });
      benchmark::DoNotOptimize(sum);
    }
  });
}
BENCHMARK(BM_VisitFibers_Parked)->ArgName("fibers")->Arg(100)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
