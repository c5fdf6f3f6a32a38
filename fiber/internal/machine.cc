// Go's M (runtime/proc.go: mstart, startm, stopm, handoffp, entersyscall and
// exitsyscall), re-implemented: the runtime's OS threads, spare threads, and the hand-off
// of a proc from a thread that cannot use it (inside Blocking(), or stalled) to one
// that can. Differences from Go: a thread that comes back from a blocking call and
// finds its proc gone never waits for one; its fiber goes to the global run queue and
// the thread becomes a spare.
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <system_error>

#include "absl/base/internal/raw_logging.h"
#include "fiber/internal/runtime.h"

namespace gonet::fiber_internal {

bool g_entry_needs_fence = false;

namespace {
bool g_membarrier_ok = false;
}  // namespace

void InitProcessWideBarrier() {
  static const bool ok = [] {
    long cmds = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0);
    if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
    return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0) == 0;
  }();
  g_membarrier_ok = ok;
  g_entry_needs_fence = !ok;
}

void ProcessWideBarrier() {
  if (g_membarrier_ok && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0) == 0) {
    return;
  }
  // Without membarrier(2) every entry fences (g_entry_needs_fence), so a fence here
  // completes the Dekker pair.
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

// The thread's proc was taken (kRetakeTaken) or is being taken (kRetakePending) while
// its fiber ran outside the runtime. Returns the thread the fiber continues on, inside
// the runtime and holding a proc.
Machine* EnterRuntimeSlow(Machine* m) {
  for (;;) {
    int r = m->retake.load(std::memory_order_acquire);
    if (r == kRetakeNone) return m;
    if (r == kRetakePending) {
      // The monitor is deciding (a few instructions): it saw us outside and will now
      // see in_runtime == 1, so it backs off, unless it had already decided.
      CpuRelax();
      continue;
    }
    // Taken: the proc belongs to another thread now; never touch it again. Move this
    // fiber to the global queue from our scheduler stack, which then parks the thread.
    m->retake.store(kRetakeNone, std::memory_order_relaxed);
    m->p = nullptr;
    Fiber* self = m->current.load(std::memory_order_relaxed);
    if (self == nullptr) ABSL_RAW_LOG(FATAL, "runtime: the scheduler stack lost its proc");
    m->after = Machine::After::kRequeueGlobal;
    m->after_fiber = self;
    SwitchTo(m, self, nullptr, false);
    // Resumed by a thread holding a proc; SwitchTo left the runtime: enter again.
    m = CurrentMachine();
    m->in_runtime.store(1, std::memory_order_relaxed);
    if (g_entry_needs_fence) {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    } else {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  }
}

void Machine::Main() {
  SetCurrentMachine(this);
  clockid_t clock;
  if (pthread_getcpuclockid(pthread_self(), &clock) == 0) cpu_clock.store(clock, std::memory_order_relaxed);
  tid.store(static_cast<int>(syscall(SYS_gettid)), std::memory_order_relaxed);
  eh_globals = ThreadExceptionState();
  void* alt = SetUpAltStack();
  SanitizerAdoptThread(&g0_san);
  in_runtime.store(1, std::memory_order_relaxed);
  for (;;) {
    RunAfterSwitch();
    if (p == nullptr && !WaitForProc()) break;
    Fiber* f = p->FindRunnableBlocking();
    if (f == nullptr) break;
    SwitchTo(this, nullptr, f, false);
  }
  RunAfterSwitch();
  ReleaseAltStack(alt);
  SetCurrentMachine(nullptr);
}

bool Machine::WaitForProc() {
  {
    ThreadMutexLock l(&rt->m_mu);
    if (rt->stopping.load(std::memory_order_acquire)) return false;
    spare_next = rt->spare_m;
    rt->spare_m = this;
  }
  for (;;) {
    park_sema.Wait();
    ThreadMutexLock l(&rt->m_mu);
    if (handed_p != nullptr) {
      p = handed_p;
      handed_p = nullptr;
      return true;
    }
    if (rt->stopping.load(std::memory_order_acquire)) return false;
  }
}

void Runtime::StartMachine(Proc* p) {
  handoffs.fetch_add(1, std::memory_order_relaxed);
  Machine* m = nullptr;
  {
    ThreadMutexLock l(&m_mu);
    if (spare_m != nullptr) {
      m = spare_m;
      spare_m = m->spare_next;
      m->spare_next = nullptr;
      m->handed_p = p;
      p->m.store(m, std::memory_order_release);
    } else {
      if (static_cast<int>(all_m.size()) >= config.max_threads) {
        // Go: "runtime: program exceeds 10000-thread limit" / "fatal error: thread
        // exhaustion".
        ABSL_RAW_LOG(FATAL,
                     "runtime: program exceeds %d-thread limit (RuntimeOptions::max_threads): "
                     "too many fibers inside Blocking() or stalled at once",
                     config.max_threads);
      }
      all_m.push_back(std::make_unique<Machine>(this, static_cast<int>(all_m.size())));
      m = all_m.back().get();
      m->p = p;
      p->m.store(m, std::memory_order_release);
      try {
        m->thread = std::thread([m] { m->Main(); });
      } catch (const std::system_error& e) {
        ABSL_RAW_LOG(FATAL, "runtime: failed to create a new OS thread (%d threads): %s",
                     static_cast<int>(all_m.size()), e.what());
      }
      return;
    }
  }
  m->park_sema.Post();
}

}  // namespace gonet::fiber_internal

namespace gonet::fiber_internal {

// gonet::Blocking (fiber.h). Entering only marks the thread (the monitor hands its proc
// to another thread if the call lasts); leaving re-enters the runtime, which notices
// a lost proc and moves the fiber on.
void* EnterBlockingCall() {
  Machine* m = CurrentMachine();
  if (m == nullptr) return nullptr;
  Fiber* f = m->current.load(std::memory_order_relaxed);
  if (f == nullptr) return nullptr;
  f->wait_since_ns = CoarseMonoNanos();
  f->status.store(FiberStatus::kBlocking, std::memory_order_relaxed);
  m->in_blocking.store(1, std::memory_order_relaxed);
  return f;
}

void ExitBlockingCall(void* token) {
  if (token == nullptr) return;
  Machine* m = CurrentMachine();
  Fiber* f = static_cast<Fiber*>(token);
  m->in_blocking.store(0, std::memory_order_relaxed);
  f->status.store(FiberStatus::kRunning, std::memory_order_relaxed);
  bool inside;
  m = EnterRuntime(m, &inside);
  LeaveRuntime(m, inside);
}

}  // namespace gonet::fiber_internal
