// Go's sysmon (runtime/proc.go: sysmon, retake), re-implemented: a monitor thread that
// takes the proc away from a thread that sits in Blocking() or whose fiber has run too
// long without a scheduling point, and reports such stalls.
//
// Differences from Go: no preemption. Go stops a goroutine that runs too long (a signal
// interrupts it at a safe point its compiler emitted). C++ has no safe points: a fiber
// interrupted inside malloc, or while holding any lock, would deadlock every fiber that
// then needs that lock on the same thread. So the stalled fiber keeps its thread and
// runs on; the monitor moves everything else (its proc: run queue, and with it the
// share of timers and poller that proc would serve) to another thread, and reports the
// stall once.
//
// Sleeping: 20 us between checks while something may need it, doubling after 1 ms of
// nothing to do up to 10 ms (Go's schedule); when every proc is idle it sleeps until a
// proc wakes up, so an idle process stays idle.
#include <time.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "fiber/internal/runtime.h"

namespace gonet::fiber_internal {
namespace {

constexpr int64_t kMinDelayNs = 20'000;
constexpr int64_t kMaxDelayNs = 10'000'000;
// A thread inside Blocking() loses its proc after one check (at least this long) when
// anyone could use it, and after this long regardless (Go: 10 ms).
constexpr int64_t kBlockingRetakeNs = 20'000;
constexpr int64_t kBlockingForceRetakeNs = 10'000'000;
// Without a stall_report, a stalled proc still moves after this long.
constexpr int64_t kDefaultStallNs = 10'000'000;

struct StallInfo {
  uint64_t id;
  SpawnSite site;
};

// Reads what a report needs from the running fiber of another thread. These fields
// do not change while the fiber runs, but nothing orders this read with the fiber's
// end and the reuse of its object by a later Go (TSan would say so): the caller uses
// the copy only if the hand-off then proves the fiber was still the one running (same
// switch count, still outside the runtime), which it was throughout this read.
__attribute__((no_sanitize("thread"))) StallInfo ReadStallInfo(const Fiber* f) {
  return StallInfo{f->id, f->site};
}

void ReportStall(const StallInfo& f, int64_t ran_ns) {
  const char* fn = f.site.function != nullptr ? f.site.function : "?";
  const char* file = f.site.file != nullptr ? f.site.file : "?";
  std::fprintf(stderr,
               "gonet: fiber %" PRIu64 " has run for %.1f ms without a scheduling point "
               "(a CPU-bound loop, or a blocking call outside gonet::Blocking); the other "
               "fibers of its proc move to another thread. Created by %s at %s:%u\n",
               f.id, static_cast<double>(ran_ns) / 1e6, fn, file, f.site.line);
}

// What a proc whose fiber made no switch for stall_report is really doing, from its
// thread's CPU time over a window of at least half of stall_report:
//  - kCpuBound: it used the CPU (a quarter of the window or more): a fiber that does
//    not yield. A stall.
//  - kBlocked: it used none and is asleep in the kernel (a blocking call outside
//    Blocking()). A stall.
//  - kStarved: it used little but is runnable: the machine is overloaded and the OS has
//    not run it. Not a stall: another thread would make the overload worse (each such
//    hand-off adds a running thread, the next proc then starves too: a runaway).
//  - kUnknown: the window is not long enough yet.
enum class StallKind { kUnknown, kCpuBound, kBlocked, kStarved };

int64_t ThreadCpuNanos(clockid_t clock) {
  timespec ts;
  if (clock == static_cast<clockid_t>(-1) || clock_gettime(clock, &ts) != 0) return -1;
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// The scheduler state letter of thread tid ('R' running or runnable, 'S', 'D', ...),
// from /proc/self/task/TID/stat; 0 if unreadable.
char ThreadState(int tid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/self/task/%d/stat", tid);
  FILE* f = std::fopen(path, "r");
  if (f == nullptr) return 0;
  char buf[512];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  const char* paren = std::strrchr(buf, ')');  // the command may hold spaces
  return paren != nullptr && paren[1] == ' ' ? paren[2] : 0;
}

StallKind ClassifyStall(Proc* p, Machine* m, int64_t now, int64_t stall_ns) {
  const int64_t cpu = ThreadCpuNanos(m->cpu_clock.load(std::memory_order_relaxed));
  if (cpu < 0) return StallKind::kCpuBound;  // no clock: trust the switch count alone
  if (p->sysmon_cpu_when == 0) {
    p->sysmon_cpu_when = now;
    p->sysmon_cpu_ns = cpu;
    return StallKind::kUnknown;
  }
  const int64_t window = now - p->sysmon_cpu_when;
  if (window < stall_ns / 2) return StallKind::kUnknown;
  const int64_t used = cpu - p->sysmon_cpu_ns;
  p->sysmon_cpu_when = now;  // the next window starts here
  p->sysmon_cpu_ns = cpu;
  if (used * 4 >= window) return StallKind::kCpuBound;
  return ThreadState(m->tid.load(std::memory_order_relaxed)) == 'R' ? StallKind::kStarved
                                                                     : StallKind::kBlocked;
}

}  // namespace

void Runtime::WakeSysmon() {
  bool expected = true;
  if (sysmon_sleeping.compare_exchange_strong(expected, false, std::memory_order_acq_rel)) {
    sysmon_sema.Post();
  }
}

bool Runtime::TryRetake(Proc* p, Machine* m, Fiber* cur, uint32_t tick) {
  m->retake.store(kRetakePending, std::memory_order_seq_cst);
  ProcessWideBarrier();
  // After the barrier: if the thread is still outside the runtime, its next entry
  // will see kRetakePending (see the protocol in runtime.h).
  if (m->in_runtime.load(std::memory_order_acquire) != 0 ||
      p->schedtick.load(std::memory_order_relaxed) != tick ||
      m->current.load(std::memory_order_acquire) != cur) {
    m->retake.store(kRetakeNone, std::memory_order_release);
    return false;
  }
  p->m.store(nullptr, std::memory_order_relaxed);
  m->retake.store(kRetakeTaken, std::memory_order_release);
  StartMachine(p);
  return true;
}

void Runtime::SysmonMain() {
  int64_t delay = kMinDelayNs;
  int idle_rounds = 0;
  const int64_t stall_ns = config.stall_report_ns > 0 ? config.stall_report_ns : kDefaultStallNs;
  while (!stopping.load(std::memory_order_acquire)) {
    if (idle_rounds == 0) {
      delay = kMinDelayNs;
    } else if (idle_rounds > 50) {
      delay = std::min(delay * 2, kMaxDelayNs);
    }
    if (delay == kMaxDelayNs && nidle.load(std::memory_order_relaxed) == procs) {
      // Every proc idle: nothing can stall or block. Sleep until one wakes up (it
      // checks sysmon_sleeping after leaving its idle wait).
      sysmon_sleeping.store(true, std::memory_order_seq_cst);
      if (nidle.load(std::memory_order_seq_cst) == procs &&
          !stopping.load(std::memory_order_acquire)) {
        sysmon_sema.Wait();
      }
      sysmon_sleeping.store(false, std::memory_order_relaxed);
      // Stay at the long period (Go does too): a proc that just woke up rarely needs
      // the monitor within 10 ms, and an idle process must stay cheap.
      continue;
    }
    sysmon_sema.WaitFor(delay);
    if (stopping.load(std::memory_order_acquire)) break;
    const int64_t now = MonoNanos();
    bool acted = false;
    for (auto& pp : all_p) {
      Proc* p = pp.get();
      Machine* m = p->m.load(std::memory_order_acquire);
      const uint32_t tick = p->schedtick.load(std::memory_order_relaxed);
      if (tick != p->sysmon_tick || m == nullptr) {
        p->sysmon_tick = tick;
        p->sysmon_when = now;
        p->sysmon_reported = 0;  // a new stall is a new report
        p->sysmon_cpu_when = 0;
        continue;
      }
      Fiber* cur = m->current.load(std::memory_order_acquire);
      if (cur == nullptr) continue;  // idle, or scheduling on its scheduler stack
      if (m->in_runtime.load(std::memory_order_acquire) != 0) continue;
      const int64_t ran = now - p->sysmon_when;
      bool report = false;
      StallInfo info{};
      if (m->in_blocking.load(std::memory_order_relaxed) != 0) {
        if (ran < kBlockingRetakeNs) continue;
        // Go: keep the proc if nothing waits for it and other procs are free to take
        // new work, for a while.
        if (p->runq.Empty() && ran < kBlockingForceRetakeNs &&
            nspinning.load(std::memory_order_relaxed) + nidle.load(std::memory_order_relaxed) > 0) {
          continue;
        }
      } else {
        // Sample the thread's CPU time from half the threshold on, so that the verdict
        // is ready when the threshold passes.
        if (ran < stall_ns / 2) continue;
        const StallKind kind = ClassifyStall(p, m, now, stall_ns);
        if (ran < stall_ns || kind == StallKind::kUnknown || kind == StallKind::kStarved) continue;
        if (config.stall_report_ns > 0) {
          info = ReadStallInfo(cur);
          report = p->sysmon_reported != info.id;
        }
      }
      if (TryRetake(p, m, cur, tick)) {
        acted = true;
        if (report) {
          // Once per stall: the proc moved on, so this one is not seen again.
          p->sysmon_reported = info.id;
          stalls_reported.fetch_add(1, std::memory_order_relaxed);
          ReportStall(info, ran);
        }
        p->sysmon_tick = p->schedtick.load(std::memory_order_relaxed);
        p->sysmon_when = now;
        p->sysmon_cpu_when = 0;
      }
    }
    idle_rounds = acted ? 0 : idle_rounds + 1;
  }
}

}  // namespace gonet::fiber_internal
