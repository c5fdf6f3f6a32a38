// runtime.h: the scheduler's own types, private to the runtime's .cc files (Go's
// runtime2.go: the G, M, P and sched structures). Everything outside the runtime uses
// scheduler.h.
//
// Model (Go's G, M, P):
//  - Fiber (G): a stack and a saved context.
//  - Proc (P): the right to run fibers, with a local run queue and a cache of free
//    fibers. There are `procs` of them for the whole Run (GOMAXPROCS).
//  - Machine (M): an OS thread. It runs fibers only while it holds a proc. The procs'
//    threads are made at Run's start; more are made on demand when the monitor takes a
//    proc away from a thread that is inside Blocking() or stalled (a fiber running
//    without a scheduling point), and park as spares when they have no proc; at most
//    RuntimeConfig::max_threads in all.
//  - The runtime (sched): the global run queue, the one timer heap, the netpoller, the
//    idle bookkeeping, the monitor thread (sysmon.cc).
//
// Files: run_queue.* (a proc's queue), scheduler.cc (switching, parking, finding work),
// machine.cc (threads, proc hand-off), sysmon.cc (the monitor: hand-off, stall reports),
// fiber_alloc.cc (fiber objects and the registry), foreign.cc (plain threads: wakes,
// Go, waiting), runtime.cc (Run, timers and netpoll entry points, stats).
//
// Proc ownership and the hand-off protocol (see EnterRuntime()):
//   A thread touches its proc only "inside the runtime": between EnterRuntime() and
//   the return to the fiber's code (Machine::in_runtime == 1). The scheduler stack
//   (g0) is always inside. The monitor may take the proc of a thread that is outside
//   (in_runtime == 0: running a fiber's code, maybe inside Blocking()) and has made no
//   switch for a while: it sets Machine::retake to kRetakePending, makes the store
//   visible to every thread at once (a process-wide barrier, membarrier(2)), and only
//   then reads in_runtime: still 0 means the thread will see kRetakePending when it next
//   enters (it stores in_runtime, then reads retake, with only a compiler barrier
//   between: the monitor's barrier orders both), so the monitor marks kRetakeTaken and
//   hands the proc to another thread. A thread that finds kRetakeTaken has lost its
//   proc: it moves its fiber to the global queue (from its own scheduler stack) and
//   parks as a spare. Without membarrier(2) the entry uses a full fence instead.
#ifndef GONET_FIBER_INTERNAL_RUNTIME_H_
#define GONET_FIBER_INTERNAL_RUNTIME_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <time.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "fiber/internal/annotated_mutex.h"
#include "fiber/internal/futex.h"
#include "fiber/internal/run_queue.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"
#include "fiber/internal/stack.h"
#include "fiber/internal/timer_heap.h"
#include "poller/poller.h"

namespace gonet::fiber_internal {

class Runtime;
class Machine;

// ---------------------------------------------------------------- Proc (P)

class Proc {
 public:
  Proc(Runtime* rt, int index, bool solo);

  // Picks the next fiber without blocking: periodic global/netpoll checks, due timers,
  // local queue, global queue, poller. Safe on a fiber stack. Inside the runtime.
  Fiber* FindRunnableFast();
  Fiber* GlobalBatch();
  // The idle path, on the scheduler stack only: steals, polls, sleeps. nullptr = stop.
  Fiber* FindRunnableBlocking();
  Fiber* Steal();
  void Put(Fiber* f);       // local queue (overflow to the global one)
  void PutNext(Fiber* f);   // run next
  void PutLocalBatch(FiberList* list);
  void ReleaseFiber(Fiber* f);

  Runtime* const rt;
  const int index;
  RunQueue runq;

  // The thread that holds this proc; changed only by a hand-off (machine.cc), which
  // publishes it with release. Read by the monitor.
  std::atomic<Machine*> m{nullptr};
  // Switches made on this proc (Go's schedtick). Written by the holder only; the
  // monitor reads it to tell a stalled proc from a busy one.
  std::atomic<uint32_t> schedtick{0};

  // Holder only.
  bool spinning = false;          // counted in rt->nspinning
  uint32_t tick_countdown = 61;   // schedules until the next fairness / netpoll check
  uint64_t rng;
  std::vector<Fiber*> fiber_cache;  // finished fibers (with stacks) for reuse
  // Netpoll results land here, not on the (fiber) stack that happens to poll.
  poller::Event poll_events[poller::kMaxEvents];
  // An idle holder sleeps here (WakeIdle posts it).
  FutexSemaphore sema;
  bool in_sleepers = false;  // guarded by rt->idle_mu

  // The monitor's own bookkeeping (sysmon thread only).
  uint32_t sysmon_tick = 0;
  int64_t sysmon_when = 0;       // when sysmon_tick was first seen
  uint64_t sysmon_reported = 0;  // the fiber id last reported as stalled
  // A suspected stall's first sample of its thread's CPU time (see sysmon.cc's
  // StallKind): when (0 = none yet) and the CPU time then.
  int64_t sysmon_cpu_when = 0;
  int64_t sysmon_cpu_ns = 0;
};

// ---------------------------------------------------------------- Machine (M)

enum RetakeState : int { kRetakeNone = 0, kRetakePending = 1, kRetakeTaken = 2 };

class Machine {
 public:
  Machine(Runtime* rt, int id) : rt(rt), id(id) {}

  void Main();
  // Runs what the context just switched to must do first (see After).
  void RunAfterSwitch();
  // No proc: parks as a spare until handed one (true) or the runtime stops (false).
  bool WaitForProc();

  Runtime* const rt;
  const int id;

  // Thread-local scheduler state; only this thread touches it (the context switched to
  // finishes the switch on the same thread).
  Context g0_ctx;
  SanitizerContext g0_san;
  ExceptionState g0_eh;                   // the scheduler stack's own (always empty)
  ExceptionState* eh_globals = nullptr;   // this thread's live exception state
  // The proc this thread holds, nullptr when none. Read and written by this thread;
  // meaningful only inside the runtime (a thread outside may have lost it).
  Proc* p = nullptr;
  // What the context we switch to must do first, on its own stack, once the switching
  // fiber's registers are saved (so no other thread can resume it too early).
  enum class After { kNone, kPark, kRequeue, kMarkRunnable, kRequeueGlobal, kFree };
  After after = After::kNone;
  void RunAfterStep(After a);
  Fiber* after_fiber = nullptr;
  absl::FunctionRef<bool(Fiber*)>* after_commit = nullptr;
  // after_switch timers that FindRunnableFast found due while the parking fiber may
  // still hold their lock (timer_heap.h): run by RunAfterSwitch, on the far side of the
  // switch (or by the scheduler loop / a yielder that does not switch). This thread only.
  std::vector<Timer*> deferred_timers;
  void RunDeferredTimers();

  // Shared with the monitor (see the protocol in this file's header comment).
  std::atomic<Fiber*> current{nullptr};  // running fiber; nullptr on the scheduler stack
  std::atomic<int> in_runtime{1};
  std::atomic<int> retake{kRetakeNone};
  std::atomic<int> in_blocking{0};       // inside gonet::Blocking (a hint for the monitor)
  // Set by the thread itself before it runs any fiber (Main), read by the monitor to
  // tell a CPU-bound or blocked thread from one the OS has not scheduled.
  std::atomic<clockid_t> cpu_clock{-1};
  std::atomic<int> tid{0};

  // Spare threads (machine.cc): guarded by rt->m_mu.
  Machine* spare_next = nullptr;
  Proc* handed_p = nullptr;
  FutexSemaphore park_sema;
  std::thread thread;
};

// ---------------------------------------------------------------- Runtime (sched)

class Runtime {
 public:
  explicit Runtime(const RuntimeConfig& config);
  ~Runtime();

  void Start(absl::AnyInvocable<void() &&> main);
  void WaitMainAndStop();

  Fiber* NewFiber(absl::AnyInvocable<void() &&> fn);
  void InjectGlobal(FiberList* list, int n);
  Fiber* PopGlobal();
  void WakeIdle();
  bool AnyWorkVisible();
  void MaybeWakePoller(int64_t when);
  // Polls the netpoller; fibers to wake go to `out`. Returns events seen.
  int Netpoll(int64_t timeout_ns, FiberList* out, int* nfibers, poller::Event* scratch);

  // machine.cc: gives p to a spare thread, or to a new one (fatal past max_threads).
  void StartMachine(Proc* p);
  // sysmon.cc
  void SysmonMain();
  void WakeSysmon();
  bool TryRetake(Proc* p, Machine* m, Fiber* cur, uint32_t tick);

  const RuntimeConfig config;
  const int procs;
  const uint64_t generation;
  StackPool stacks;
  TimerHeap timers;
  std::unique_ptr<poller::Poller> poller;
  std::vector<std::unique_ptr<Proc>> all_p;

  // Global run queue (Go: sched.runq), for overflow and fibers readied off-runtime.
  SpinLock gq_mu;
  FiberList gq ABSL_GUARDED_BY(gq_mu);
  std::atomic<int64_t> gq_size{0};

  // Idle bookkeeping (Go: sched.npidle, sched.nmspinning, sched.lastpoll).
  //   nidle:    procs that found nothing and are in (or entering) their idle wait.
  //   nspinning: procs looking for work (stealing) after a wake or an idle miss;
  //             WakeIdle() wakes a sleeper only when this is 0.
  //   poller_owned: true while one idle proc polls (or is about to block) in the
  //             poller; WakeIdle() then pokes the poller when no sleeper is left.
  // Ordering: a producer publishes work, then (seq_cst fence) loads nidle/nspinning/
  // poller_owned; an idle proc stores those, then (seq_cst fence) re-checks every
  // queue before it blocks. So either the producer sees the idle proc, or the idle
  // proc sees the work (Dekker).
  std::atomic<int> nidle{0};
  std::atomic<int> nspinning{0};
  std::atomic<bool> poller_owned{false};
  // While the owner blocks in the poller: the monotonic time it will wake up by
  // (INT64_MAX = no timer); 0 otherwise. A new timer earlier than this must Wake() it.
  // Ordering: the owner stores it, fences, then re-reads the heap's NextWhen(); a timer
  // adder updates the heap, fences, then loads it (Dekker), so one of them sees the other.
  std::atomic<int64_t> poll_until{0};
  SpinLock idle_mu;
  std::vector<Proc*> sleepers ABSL_GUARDED_BY(idle_mu);

  std::atomic<bool> stopping{false};
  std::atomic<int> netpoll_fds{0};

  // Threads (machine.cc). all_m only grows until the monitor stops (only it and Start
  // add threads); WaitMainAndStop joins them after that.
  ThreadMutex m_mu;
  std::vector<std::unique_ptr<Machine>> all_m ABSL_GUARDED_BY(m_mu);
  Machine* spare_m ABSL_GUARDED_BY(m_mu) = nullptr;  // list through Machine::spare_next
  std::atomic<int64_t> handoffs{0};

  // The monitor (sysmon.cc). sysmon_sleeping: it sleeps until woken (every proc was
  // idle); a proc leaving its idle wait wakes it. Ordering: the monitor stores true,
  // fences, re-checks nidle; a proc decrements nidle (seq_cst), then loads it.
  std::thread sysmon;
  FutexSemaphore sysmon_sema;
  std::atomic<bool> sysmon_sleeping{false};
  std::atomic<int64_t> stalls_reported{0};

  // Fiber switches into non-running fibers are held off while this is set (VisitFibers:
  // a dump reads parked stacks). See SwitchTo().
  std::atomic<bool> visiting{false};

  // Finished fibers (with their stacks) that overflowed a proc's cache.
  SpinLock free_mu;
  FiberList free_fibers ABSL_GUARDED_BY(free_mu);
  std::atomic<int64_t> free_size_hint{0};
  Fiber* PopFree();

  // Every Fiber object ever allocated by this runtime, freed by ~Runtime.
  SpinLock all_mu;
  Fiber* all_fibers ABSL_GUARDED_BY(all_mu) = nullptr;
  std::atomic<uint64_t> next_id{1};
  std::atomic<int64_t> created{0};
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> steals{0};
  std::atomic<int64_t> polls_blocking{0};

  ThreadMutex done_mu;
  ThreadCondVar done_cv;
  bool main_done ABSL_GUARDED_BY(done_mu) = false;
};

// ---------------------------------------------------------------- shared helpers

// This thread's Machine, nullptr on plain threads. Not inlined, with a compiler
// barrier: a fiber may resume on another thread, and the compiler must not reuse a
// thread_local address computed before the switch.
Machine* CurrentMachine();
void SetCurrentMachine(Machine* m);

// Whether the entry to the runtime needs a full fence (no membarrier(2)); set once.
extern bool g_entry_needs_fence;
// Makes every store before it visible to all threads before any load after it, on
// every thread of the process (membarrier(2); a full fence's effect on every CPU).
void ProcessWideBarrier();
// Registers with membarrier(2) once per process; sets g_entry_needs_fence if it fails.
void InitProcessWideBarrier();

// Enters the runtime from a fiber's code: after it, m->p is this thread's and stays so
// until the fiber switches or LeaveRuntime(). If the monitor took the proc meanwhile,
// the fiber first moves to a thread that has one (so m changes: the new one is
// returned). Returns the previous in_runtime value through *was_inside (nested entries
// are free).
inline Machine* EnterRuntime(Machine* m, bool* was_inside);
Machine* EnterRuntimeSlow(Machine* m);
inline void LeaveRuntime(Machine* m, bool was_inside) {
  if (!was_inside) m->in_runtime.store(0, std::memory_order_release);
}

inline Machine* EnterRuntime(Machine* m, bool* was_inside) {
  if (m->in_runtime.load(std::memory_order_relaxed) != 0) {
    *was_inside = true;
    return m;
  }
  *was_inside = false;
  m->in_runtime.store(1, std::memory_order_relaxed);
  if (g_entry_needs_fence) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
  } else {
    std::atomic_signal_fence(std::memory_order_seq_cst);
  }
  if (m->retake.load(std::memory_order_acquire) != kRetakeNone) return EnterRuntimeSlow(m);
  return m;
}

// Switches from `from` (nullptr: the scheduler stack) to `to` (nullptr: scheduler
// stack) on thread m. Returns when `from` is resumed, possibly on another thread.
void SwitchTo(Machine* m, Fiber* from, Fiber* to, bool from_dying);

// Every fiber's entry function (scheduler.cc), for MakeContext.
void FiberMain(void* arg);

// foreign.cc
extern std::atomic<Runtime*> g_runtime;
extern ThreadMutex g_runtime_mu;
extern std::atomic<uint64_t> g_running_generation;
extern std::atomic<uint64_t> g_generation;
extern std::atomic<NetpollHandler> g_netpoll_handler;
// Queues f on rt's global queue and wakes a proc, from a thread that holds no proc of
// rt. The caller keeps rt alive: it holds g_runtime_mu with rt == g_runtime, or it is
// one of rt's own threads (which the end of Run joins first).
void ReadyForeignLocked(Runtime* rt, Fiber* f);
void RunTeardownHooks(uint64_t generation);

// Runs op(runtime) with the runtime this thread may act on: a runtime thread's own,
// or for a foreign thread the active one, held alive (g_runtime_mu) for op's duration
// so that a Run ending meanwhile cannot free it under op. op gets nullptr when no Run
// is active.
template <class Op>
auto WithRuntime(Op op) {
  if (Machine* m = CurrentMachine()) return op(m->rt);
  ThreadMutexLock l(&g_runtime_mu);
  return op(g_runtime.load(std::memory_order_acquire));
}

// The calling thread's exception state (see ExceptionState in scheduler.h).
ExceptionState* ThreadExceptionState();

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_RUNTIME_H_
