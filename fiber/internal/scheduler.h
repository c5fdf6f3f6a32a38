// scheduler.h: Go's runtime scheduler (runtime/proc.go), re-implemented for fibers.
// This is the runtime's internal interface for //fiber's sync objects and for //netfd.
//
// Model (Go's G, M, P; the types are in runtime.h): a Fiber is a G; a proc (P) holds a
// bounded lock-free run queue (256 slots, the holder pushes at the tail, anyone steals
// from the head) plus a "run next" slot: a fiber made runnable by the running fiber runs
// next on the same proc, so a ping-pong between two fibers stays on one thread and hot
// in cache. Overflow and fibers readied from foreign threads go to a global queue. Idle
// procs steal half of a victim's queue. OS threads (M) run fibers while they hold a
// proc; a monitor thread (sysmon.cc) moves the proc of a thread that is inside
// Blocking() or stalled to another thread. No preemption (fiber.h says why).
//
// The netpoller is part of the scheduler: an idle proc first polls it without
// blocking, then steals, and only then parks; one idle proc at a time blocks in the
// poller with the nearest timer as its timeout, the others sleep on a semaphore. New
// work wakes a sleeping proc only when no proc is already spinning (looking for
// work), as Go's wakep() does; a new earliest timer wakes the blocked poller.
//
// Thread-locals: fibers move between threads at every park, so the runtime re-reads
// its thread-local state after every switch (through a non-inlined accessor; see
// CurrentMachine()). Never cache the address of a thread_local across a park.
#ifndef GONET_FIBER_INTERNAL_SCHEDULER_H_
#define GONET_FIBER_INTERNAL_SCHEDULER_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <atomic>
#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/functional/function_ref.h"
#include "fiber/internal/context.h"
#include "fiber/internal/sanitizer.h"
#include "fiber/internal/stack.h"
#include "fiber/internal/timer_heap.h"

namespace gonet::fiber_internal {

class Runtime;

// The C++ runtime's per-thread exception state (the Itanium C++ ABI's
// __cxa_eh_globals: the stack of caught exceptions and std::uncaught_exceptions()).
// It belongs to the fiber, not to the thread: a fiber that parks inside a catch block
// must find its own exception again (`throw;`, std::current_exception()), and must not
// free another fiber's. SwitchTo() saves the thread's state into the fiber switched
// away from and installs the state of the fiber switched to, for both switch backends.
struct ExceptionState {
  void* caught_exceptions = nullptr;
  unsigned int uncaught_exceptions = 0;
};

// Why a fiber is not running (Go's waitReason), shown by DumpFibers. Set by Park()'s
// caller; the strings are WaitReasonName()'s.
enum class WaitReason : uint8_t {
  kUnknown,      // "waiting"
  kIOWait,       // "IO wait" (WaitInfo::fd and ::mode say which fd and direction)
  kChanReceive,  // "chan receive"
  kChanSend,     // "chan send"
  kSelect,       // "select"
  kMutex,        // "Mutex"
  kCondVar,      // "CondVar"
  kWaitGroup,    // "WaitGroup"
  kSleep,        // "sleep"
  kSemacquire,   // "semacquire" (an FdMutex or another runtime semaphore)
  kChanReceiveNil,  // "chan receive (nil chan)"
  kChanSendNil,     // "chan send (nil chan)"
  kSelectNoCases,   // "select (no cases)"
};
const char* WaitReasonName(WaitReason r);

// What a parked fiber waits for: the reason, and for kIOWait the fd and direction
// ('r' read, 'w' write, 'a' accept/connect folded into 'r'/'w' as the poller sees it).
struct WaitInfo {
  WaitReason reason = WaitReason::kUnknown;
  char mode = 0;
  int32_t fd = -1;
};

// Where a fiber was created (gonet::Go's caller), for DumpFibers and stall reports.
struct SpawnSite {
  const char* file = nullptr;
  const char* function = nullptr;
  uint32_t line = 0;
};

// A fiber's state as DumpFibers sees it (Go's _Grunnable, _Grunning, _Gwaiting,
// _Gsyscall). Written by the runtime at each transition; read racily by the dumper
// only while the dump holds switches off (see DumpFibers in scheduler.cc).
enum class FiberStatus : uint8_t { kFree, kRunnable, kRunning, kWaiting, kBlocking };

struct Fiber {
  Context ctx;
  SanitizerContext san;
  ExceptionState eh;  // saved while the fiber is switched out (see ExceptionState)
  Stack stack;
  uint64_t id = 0;
  Runtime* rt = nullptr;
  absl::AnyInvocable<void() &&> fn;
  // Intrusive link: run queues (global), FiberList, and wait queues of sync objects.
  // Owned by whichever single queue holds the fiber.
  Fiber* next = nullptr;
  // Scratch for wait queues (channel slot pointers, mutex hand-off flags): written by
  // the waker before Ready(), read by this fiber after it resumes.
  void* wait_data = nullptr;
  uintptr_t wait_result = 0;
  Fiber* all_next = nullptr;  // registry of every Fiber object of the runtime

  // Introspection (DumpFibers, stall reports). status is atomic because the dumper and
  // the monitor thread read it from other threads; the rest is written by the fiber
  // itself (or its creator) before the status change that publishes it.
  std::atomic<FiberStatus> status{FiberStatus::kFree};
  WaitInfo wait;                 // valid while status == kWaiting
  int64_t wait_since_ns = 0;     // MonoNanos() (coarse) when it parked / entered Blocking
  SpawnSite site;                // where gonet::Go was called
  uint64_t parent_id = 0;        // the fiber that called gonet::Go (0: a plain thread)
};

// An intrusive FIFO of fibers linked through Fiber::next. Not thread-safe.
class FiberList {
 public:
  bool empty() const { return head_ == nullptr; }
  void Push(Fiber* f) {
    f->next = nullptr;
    if (tail_) tail_->next = f; else head_ = f;
    tail_ = f;
  }
  Fiber* Pop() {
    Fiber* f = head_;
    if (f) {
      head_ = f->next;
      if (!head_) tail_ = nullptr;
      f->next = nullptr;
    }
    return f;
  }
  // Removes f if present (O(n)); returns whether it was there.
  bool Remove(Fiber* f) {
    Fiber* prev = nullptr;
    for (Fiber* c = head_; c; prev = c, c = c->next) {
      if (c != f) continue;
      if (prev) prev->next = c->next; else head_ = c->next;
      if (tail_ == c) tail_ = prev;
      c->next = nullptr;
      return true;
    }
    return false;
  }
  void Append(FiberList* other) {
    if (other->empty()) return;
    if (tail_) tail_->next = other->head_; else head_ = other->head_;
    tail_ = other->tail_;
    other->head_ = other->tail_ = nullptr;
  }
  Fiber* front() const { return head_; }

 private:
  Fiber* head_ = nullptr;
  Fiber* tail_ = nullptr;
};

// The running fiber, or nullptr outside a fiber (plain threads, a scheduler stack).
Fiber* CurrentFiber();
bool InFiber();

// Parks the running fiber. After the switch away, on another stack, `commit(self)`
// runs; it publishes `self` where a waker will find it (and releases the locks the
// caller held). If commit returns false the fiber is made runnable again at once
// (Go's gopark unlockf). Anything that may Ready() this fiber must become visible only
// inside commit. Once commit has made `self` visible to a waker, `self` may run again
// at once and its frame (which holds the commit closure) may be gone: copy what the
// rest of commit needs into locals first. Fiber only.
void Park(absl::FunctionRef<bool(Fiber*)> commit, WaitInfo why = {});

// Makes a parked fiber runnable. Any thread. From a runtime thread it goes to its proc's
// run-next slot (Go's ready()); from elsewhere to the global queue.
void Ready(Fiber* f);
void ReadyList(FiberList* list);

// Ready() for a thread outside the runtime (a helper thread finishing a blocking job)
// that cannot know whether the fiber's Run has ended meanwhile: readies f only if the
// runtime with this generation (CurrentRuntimeGeneration() when the job started) is
// still the running one, and keeps it from being torn down while doing so. Returns
// whether f was readied.
bool ReadyFromForeignThread(Fiber* f, uint64_t generation);
// ReadyList for fibers of the runtime `generation`, from any thread: on that runtime's
// threads it is ReadyList; elsewhere it holds off the runtime's teardown while it
// wakes them, and drops them if that Run has already ended (they were abandoned).
void ReadyListOf(FiberList* list, uint64_t generation);

// Yields the proc to other runnable fibers; returns at once if there are none.
void YieldFiber();

// Spawns a fiber on the current runtime. Fatal outside Run.
void Spawn(absl::AnyInvocable<void() &&> fn, SpawnSite site = {});
// Spawn that reports instead of dying: false (fn destroyed, not run) when no Run is
// active. Any thread, also one racing the end of Run: a foreign thread holds the
// runtime's teardown off while it creates and queues the fiber.
bool TrySpawn(absl::AnyInvocable<void() &&>& fn, SpawnSite site = {});

// Whether the Run with this generation is still active: its threads may still run
// its fibers. False once Run has stopped and joined them (its parked fibers are then
// abandoned and never release what they hold). Any thread; never blocks.
bool RuntimeRunning(uint64_t generation);

// Called once per Run, from the thread that called Run, after every thread stopped and
// before the runtime's memory goes: lower layers release per-runtime state there (netfd
// closes sockets that only abandoned fibers could reach). Register once per process;
// at most 4 hooks.
using TeardownHook = void (*)(uint64_t generation);
void AddTeardownHook(TeardownHook hook);

// Waiting on a plain thread (not a fiber) for something a fiber or another thread
// will do: blocks the thread (a condition variable; never a spin) until pred() holds.
// pred runs under one process-wide lock; it must be cheap and must not block. Whoever
// changes state that can make a pred true calls NotifyThreadWaiters() after publishing
// the change (it touches only process-wide state, so it may come after the last access
// to an object a waiter then frees). The end of every Run notifies too, so a pred may
// test RuntimeRunning().
void ThreadWaitUntil(absl::FunctionRef<bool()> pred);
void NotifyThreadWaiters();

// Timers of the current runtime (Go: addtimer/modtimer/deltimer). Any thread of the
// runtime (its threads, or a fiber). ResetTimer wakes the poller if t became earliest;
// outside a running runtime it does nothing.
void ResetTimer(Timer* t, int64_t when_mono_ns);
bool DeleteTimer(Timer* t);
bool DeleteTimerSync(Timer* t);

// Parks the running fiber until `deadline` (MonoNanos), or returns at once if past.
void SleepUntilMono(int64_t deadline);

// The netpoller of the current runtime. netfd registers fds with a token it chooses and
// installs the handler that turns readiness into fibers to wake (Go: netpollready).
// The handler runs on the thread that polled; it must not park.
using NetpollHandler = void (*)(uintptr_t token, uint32_t ready, FiberList* to_wake);
void SetNetpollHandler(NetpollHandler h);
absl::Status NetpollAdd(int fd, uintptr_t token);
// Unregisters fd from the poller of runtime `generation`; a no-op if that Run ended
// (its epoll instance and every registration are gone). Safe from any thread.
absl::Status NetpollRemove(int fd, uint64_t generation);
// Running fibers' runtime id: netfd keys its per-runtime state by it.
uint64_t CurrentRuntimeGeneration();

// Calls fn for every fiber of the active Run that is not free (runnable, running,
// waiting, blocking), while no fiber is switched in: a fiber whose status is not
// kRunning keeps its saved context and stack unchanged until VisitFibers returns, so
// fn may unwind it. Running fibers keep running meanwhile (don't read their stacks).
// fn must not park or call into the scheduler. Returns false (fn never called) when no
// Run is active. Any thread, a fiber too (it sees itself as kRunning).
bool VisitFibers(absl::FunctionRef<void(const Fiber& f)> fn);

// gonet::Blocking's halves (fiber.h forwards to them; see machine.cc).
void* EnterBlockingCall();
void ExitBlockingCall(void* token);

// Monotonic time in ns at a few milliseconds' resolution (CLOCK_MONOTONIC_COARSE):
// cheap enough for every park.
int64_t CoarseMonoNanos();

// Number of procs (GOMAXPROCS) of the running runtime, 0 outside Run.
int Procs();

// Counters for tests and benchmarks.
struct RuntimeStats {
  int64_t fibers_created;   // Fiber objects allocated (not reused)
  int64_t fibers_live;      // spawned and not yet finished
  int64_t steals;
  int64_t polls_blocking;
  int64_t handoffs;         // procs moved to another thread (Blocking or a stall)
  int64_t stalls_reported;  // stall reports written
  int64_t threads;          // OS threads made by this Run (spares included; not the monitor)
};
RuntimeStats GetRuntimeStats();
// Live fibers of the active Run (spawned, not finished), 0 when none. Any thread.
int NumFibers();

}  // namespace gonet::fiber_internal

namespace gonet::fiber_internal {
// gonet::RuntimeOptions, as the runtime takes them (see fiber.h).
struct RuntimeConfig {
  int procs = 0;
  size_t stack_size = 256 << 10;
  int max_threads = 10000;
  bool dump_on_sigquit = false;
  int64_t stall_report_ns = 10'000'000;  // 0 = never report
};
// Backs gonet::Run (fiber.cc).
void RunRuntime(absl::AnyInvocable<void() &&> main, const RuntimeConfig& opts);
}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_SCHEDULER_H_
