// Go's runtime scheduler (runtime/proc.go: schedule, findrunnable, wakep, gopark and
// goready) and its netpoll integration, re-implemented for fibers: switching between
// fibers, parking and readying them, and a proc's search for work.
// Differences from Go: no preemption (see fiber.h); one global timer heap instead of
// per-P heaps; fibers switch directly to the next runnable fiber (the thread's
// scheduler stack is entered only to go idle or to give up a lost proc).
#include <cxxabi.h>

#include <limits>
#include <thread>

#include "absl/base/internal/raw_logging.h"
#include "fiber/internal/runtime.h"
#include "fiber/internal/scheduler.h"

namespace gonet::fiber_internal {
namespace {

thread_local Machine* t_machine = nullptr;

uint64_t NextRand(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

// A dump is reading parked stacks (VisitFibers): `to` must not run until it is done.
// Called with to->status already kRunning; gives that back while it waits, so the
// dumper (which reads statuses after a process-wide barrier) sees `to` as not running
// or sees this thread waiting. Rare: only during a dump.
void WaitForVisitors(Runtime* rt, Fiber* to) {
  for (;;) {
    to->status.store(FiberStatus::kRunnable, std::memory_order_release);
    while (rt->visiting.load(std::memory_order_acquire)) std::this_thread::yield();
    to->status.store(FiberStatus::kRunning, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!rt->visiting.load(std::memory_order_relaxed)) return;
  }
}

}  // namespace

__attribute__((noinline)) Machine* CurrentMachine() {
  asm volatile("" ::: "memory");
  return t_machine;
}

void SetCurrentMachine(Machine* m) { t_machine = m; }

// Both libstdc++ and libc++abi lay __cxa_eh_globals out as {caughtExceptions,
// uncaughtExceptions}; ARM EHABI adds a third field after them, which fibers never
// need to carry (it is only used while an exception propagates, never across a park).
ExceptionState* ThreadExceptionState() {
  return reinterpret_cast<ExceptionState*>(abi::__cxa_get_globals());
}

// Every fiber starts here (MakeContext), on its own stack.
void FiberMain(void* arg) {
  Fiber* self = static_cast<Fiber*>(arg);
  SanitizerFinishSwitch(&self->san);
  Machine* m = CurrentMachine();
  m->RunAfterSwitch();
  m->in_runtime.store(0, std::memory_order_release);
  try {
    absl::AnyInvocable<void() &&> fn = std::move(self->fn);
    std::move(fn)();
  } catch (const std::exception& e) {
    // Go: a panic nobody recovers kills the program, naming the goroutine.
    ABSL_RAW_LOG(FATAL, "fiber %llu: uncaught exception: %s",
                 static_cast<unsigned long long>(self->id), e.what());
  } catch (...) {
    ABSL_RAW_LOG(FATAL, "fiber %llu: uncaught exception (not a std::exception)",
                 static_cast<unsigned long long>(self->id));
  }
  bool inside;
  m = EnterRuntime(CurrentMachine(), &inside);
  m->after = Machine::After::kFree;
  m->after_fiber = self;
  Fiber* next = m->p->FindRunnableFast();
  SwitchTo(m, self, next, /*from_dying=*/true);
  ABSL_RAW_LOG(FATAL, "runtime: finished fiber %llu resumed",
               static_cast<unsigned long long>(self->id));
}

void SwitchTo(Machine* m, Fiber* from, Fiber* to, bool from_dying) {
  // Guarded stacks fault on overflow; slab stacks are checked here instead.
  if (from != nullptr && from->stack.from_slab && !StackPool::CanaryIntact(from->stack)) {
    DieStackOverflow(from->id, " (canary overwritten)");
  }
  Runtime* rt = m->rt;
  if (to != nullptr) {
    // Dekker with VisitFibers (which stores `visiting`, then a process-wide barrier,
    // then reads statuses): either it sees `to` running, or we see it visiting.
    to->status.store(FiberStatus::kRunning, std::memory_order_relaxed);
    if (g_entry_needs_fence) {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    } else {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    if (rt->visiting.load(std::memory_order_relaxed)) WaitForVisitors(rt, to);
  }
  Context* fc = from ? &from->ctx : &m->g0_ctx;
  SanitizerContext* fs = from ? &from->san : &m->g0_san;
  Context* tc = to ? &to->ctx : &m->g0_ctx;
  SanitizerContext* ts = to ? &to->san : &m->g0_san;
  // The exception state travels with the fiber: park ours, install theirs.
  ExceptionState* thread_eh = m->eh_globals;
  *(from ? &from->eh : &m->g0_eh) = *thread_eh;
  *thread_eh = *(to ? &to->eh : &m->g0_eh);
  m->current.store(to, std::memory_order_release);
  if (Proc* p = m->p) p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1,
                                         std::memory_order_relaxed);
  SanitizerStartSwitch(fs, ts, from_dying);
  SwitchContext(fc, tc);
  // Resumed, maybe on another thread: `m` is stale from here on.
  SanitizerFinishSwitch(fs);
  Machine* cm = CurrentMachine();
  cm->RunAfterSwitch();
  // Back to the fiber's own code: outside the runtime (the scheduler stack stays in).
  if (from != nullptr) cm->in_runtime.store(0, std::memory_order_release);
}

void Machine::RunDeferredTimers() {
  FiberList l;
  TimerHeap::RunDeferred(&deferred_timers, &l);
  if (l.empty()) return;
  bool many = l.front()->next != nullptr;
  p->PutLocalBatch(&l);
  if (many) rt->WakeIdle();
}

void Machine::RunAfterSwitch() {
  After a = after;
  if (a != After::kNone) RunAfterStep(a);
  if (!deferred_timers.empty()) RunDeferredTimers();
}

void Machine::RunAfterStep(After a) {
  Fiber* f = after_fiber;
  after = After::kNone;
  after_fiber = nullptr;
  switch (a) {
    case After::kNone:
      break;
    case After::kRequeue:
      f->status.store(FiberStatus::kRunnable, std::memory_order_release);
      p->Put(f);
      break;
    case After::kMarkRunnable:
      f->status.store(FiberStatus::kRunnable, std::memory_order_release);
      break;
    case After::kRequeueGlobal:
      // This thread lost its proc: the fiber continues on a thread that has one,
      // queued as a foreign thread would (this thread's runtime cannot end meanwhile).
      ReadyForeignLocked(rt, f);
      break;
    case After::kPark: {
      absl::FunctionRef<bool(Fiber*)>* commit = after_commit;
      after_commit = nullptr;
      // Before commit: once commit publishes f, a waker may make it runnable at once.
      f->status.store(FiberStatus::kWaiting, std::memory_order_release);
      if (!(*commit)(f)) {
        f->status.store(FiberStatus::kRunnable, std::memory_order_relaxed);
        p->PutNext(f);
      }
      break;
    }
    case After::kFree:
      f->status.store(FiberStatus::kFree, std::memory_order_release);
      p->ReleaseFiber(f);
      break;
  }
}

// ---------------------------------------------------------------- a proc's queues

Proc::Proc(Runtime* rt, int index, bool solo)
    : rt(rt), index(index), runq(solo), rng(0x9E3779B97F4A7C15ULL * (index + 1)) {}

void Proc::Put(Fiber* f) {
  FiberList overflow;
  if (int n = runq.Put(f, &overflow)) rt->InjectGlobal(&overflow, n);
}

void Proc::PutNext(Fiber* f) {
  FiberList overflow;
  if (int n = runq.PutNext(f, &overflow)) rt->InjectGlobal(&overflow, n);
}

void Proc::PutLocalBatch(FiberList* list) {
  while (Fiber* f = list->Pop()) Put(f);
}

// ---------------------------------------------------------------- global state

void Runtime::InjectGlobal(FiberList* list, int n) {
  {
    SpinLockHolder l(&gq_mu);
    gq.Append(list);
  }
  gq_size.fetch_add(n, std::memory_order_release);
}

Fiber* Runtime::PopGlobal() {
  if (gq_size.load(std::memory_order_acquire) == 0) return nullptr;
  SpinLockHolder l(&gq_mu);
  Fiber* f = gq.Pop();
  if (f) gq_size.fetch_sub(1, std::memory_order_relaxed);
  return f;
}

bool Runtime::AnyWorkVisible() {
  if (gq_size.load(std::memory_order_acquire) > 0) return true;
  for (auto& p : all_p) {
    if (!p->runq.Empty()) return true;
  }
  return false;
}

// Go's wakep(): makes sure someone looks for the work just published.
void Runtime::WakeIdle() {
  if (procs == 1 && !poller_owned.load(std::memory_order_relaxed)) {
    // The only proc is the one publishing, unless it sits in the poller (foreign
    // thread); in that case fall through to poke it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!poller_owned.load(std::memory_order_relaxed)) return;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (nidle.load(std::memory_order_relaxed) == 0) return;
  if (nspinning.load(std::memory_order_relaxed) != 0) return;
  int zero = 0;
  if (!nspinning.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) return;
  Proc* s = nullptr;
  {
    SpinLockHolder l(&idle_mu);
    if (!sleepers.empty()) {
      s = sleepers.back();
      sleepers.pop_back();
      s->in_sleepers = false;
    }
  }
  if (s != nullptr) {
    s->sema.Post();  // it wakes up counted as spinning
    return;
  }
  nspinning.fetch_sub(1, std::memory_order_acq_rel);
  if (poller_owned.load(std::memory_order_seq_cst)) poller->Wake();
}

void Runtime::MaybeWakePoller(int64_t when) {
  // Only a poller that would sleep past `when` needs the (syscall) wake.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (poller_owned.load(std::memory_order_relaxed) &&
      when < poll_until.load(std::memory_order_relaxed)) {
    poller->Wake();
  }
}

int Runtime::Netpoll(int64_t timeout_ns, FiberList* out, int* nfibers, poller::Event* evs) {
  int n = poller->Wait(timeout_ns, absl::MakeSpan(evs, poller::kMaxEvents));
  NetpollHandler h = g_netpoll_handler.load(std::memory_order_acquire);
  for (int i = 0; i < n; ++i) {
    if (h != nullptr) h(evs[i].token, evs[i].ready, out);
  }
  int c = 0;
  for (Fiber* f = out->front(); f; f = f->next) ++c;
  *nfibers = c;
  return n;
}

// ---------------------------------------------------------------- finding work

Fiber* Proc::FindRunnableFast() {
  if (rt->stopping.load(std::memory_order_relaxed)) return nullptr;
  if (--tick_countdown == 0) {
    tick_countdown = 61;
    // Fairness (Go: every 61st schedule takes from the global queue first): overflow
    // and foreign wake-ups get a turn even while the local queue stays busy.
    if (Fiber* f = rt->PopGlobal()) return f;
    // And a cheap netpoll, so a proc busy with yielders still notices I/O when no
    // idle proc owns the poller.
    if (rt->netpoll_fds.load(std::memory_order_relaxed) > 0 &&
        !rt->poller_owned.load(std::memory_order_relaxed)) {
      FiberList l;
      int nf;
      rt->Netpoll(0, &l, &nf, poll_events);
      if (nf > 0) {
        PutLocalBatch(&l);
        if (nf > 1) rt->WakeIdle();
      }
    }
  }
  if (rt->timers.size() > 0) {
    int64_t next = rt->timers.NextWhen();
    if (next != std::numeric_limits<int64_t>::max()) {
      int64_t now = MonoNanos();
      if (next <= now) {
        FiberList l;
        // after_switch timers wait for the switch (the parker may hold their lock).
        rt->timers.RunDue(now, &l, &t_machine->deferred_timers);
        bool many = !l.empty() && l.front()->next != nullptr;
        PutLocalBatch(&l);
        if (many) rt->WakeIdle();
      }
    }
  }
  if (Fiber* f = runq.Get()) return f;
  // Local queue empty: refill from the global queue, a fair share at a time (Go's
  // globrunqget), then from the poller without blocking.
  if (Fiber* f = GlobalBatch()) return f;
  if (rt->netpoll_fds.load(std::memory_order_relaxed) > 0 &&
      !rt->poller_owned.load(std::memory_order_relaxed)) {
    FiberList l;
    int nf;
    rt->Netpoll(0, &l, &nf, poll_events);
    Fiber* f = l.Pop();
    PutLocalBatch(&l);
    if (nf > 1) rt->WakeIdle();
    if (f != nullptr) return f;
  }
  return nullptr;
}

Fiber* Proc::GlobalBatch() {
  int64_t n = rt->gq_size.load(std::memory_order_acquire);
  if (n == 0) return nullptr;
  n = std::min<int64_t>(n / rt->procs + 1, RunQueue::kSize / 2);
  FiberList batch;
  int got = 0;
  {
    SpinLockHolder l(&rt->gq_mu);
    while (got < n) {
      Fiber* f = rt->gq.Pop();
      if (f == nullptr) break;
      batch.Push(f);
      ++got;
    }
  }
  if (got == 0) return nullptr;
  rt->gq_size.fetch_sub(got, std::memory_order_relaxed);
  Fiber* first = batch.Pop();
  PutLocalBatch(&batch);
  return first;
}

Fiber* Proc::Steal() {
  const int n = static_cast<int>(rt->all_p.size());
  if (n <= 1) return nullptr;
  Fiber* batch[RunQueue::kSize / 2 + 1];
  for (int round = 0; round < 4; ++round) {
    int start = static_cast<int>(NextRand(&rng) % n);
    for (int k = 0; k < n; ++k) {
      Proc* v = rt->all_p[(start + k) % n].get();
      if (v == this) continue;
      int got = v->runq.Grab(batch, /*steal_next=*/round == 3);
      if (got == 0) continue;
      rt->steals.fetch_add(1, std::memory_order_relaxed);
      for (int i = 1; i < got; ++i) Put(batch[i]);
      return batch[0];
    }
  }
  return nullptr;
}

Fiber* Proc::FindRunnableBlocking() {
  for (;;) {
    if (rt->stopping.load(std::memory_order_acquire)) return nullptr;
    Fiber* f = FindRunnableFast();
    if (Machine* self = t_machine; !self->deferred_timers.empty()) {
      // On the scheduler stack no fiber lock is held: run them now.
      if (f != nullptr) PutNext(f);
      self->RunDeferredTimers();
      continue;
    }
    if (f == nullptr) {
      if (!spinning) {
        // Go limits spinners to half the busy procs, so idle CPU stays low.
        int busy = rt->procs - rt->nidle.load(std::memory_order_relaxed);
        if (2 * rt->nspinning.load(std::memory_order_relaxed) < busy) {
          spinning = true;
          rt->nspinning.fetch_add(1, std::memory_order_acq_rel);
        }
      }
      if (spinning) f = Steal();
    }
    if (f != nullptr) {
      if (spinning) {
        spinning = false;
        // The last spinner found work: there may be more, keep someone looking.
        if (rt->nspinning.fetch_sub(1, std::memory_order_acq_rel) == 1) rt->WakeIdle();
      }
      return f;
    }
    // Nothing anywhere: go idle.
    if (spinning) {
      spinning = false;
      rt->nspinning.fetch_sub(1, std::memory_order_acq_rel);
    }
    rt->nidle.fetch_add(1, std::memory_order_acq_rel);
    bool own_poller = !rt->poller_owned.exchange(true, std::memory_order_seq_cst);
    if (!own_poller) {
      SpinLockHolder l(&rt->idle_mu);
      rt->sleepers.push_back(this);
      in_sleepers = true;
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    // Re-check after announcing ourselves idle (pairs with WakeIdle's fence).
    bool work = rt->AnyWorkVisible() || rt->stopping.load(std::memory_order_acquire);
    if (own_poller) {
      int64_t timeout = -1;
      int64_t next = rt->timers.NextWhen();
      rt->poll_until.store(next, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_seq_cst);
      next = std::min(next, rt->timers.NextWhen());
      if (work) {
        timeout = 0;
      } else if (next != std::numeric_limits<int64_t>::max()) {
        timeout = next - MonoNanos();
        if (timeout < 0) timeout = 0;
      }
      if (timeout != 0) rt->polls_blocking.fetch_add(1, std::memory_order_relaxed);
      FiberList l;
      int nf;
      rt->Netpoll(timeout, &l, &nf, poll_events);
      rt->poll_until.store(0, std::memory_order_relaxed);
      rt->poller_owned.store(false, std::memory_order_seq_cst);
      rt->nidle.fetch_sub(1, std::memory_order_seq_cst);
      if (rt->sysmon_sleeping.load(std::memory_order_relaxed)) rt->WakeSysmon();
      if (rt->timers.size() > 0 && rt->timers.NextWhen() <= MonoNanos()) {
        rt->timers.RunDue(MonoNanos(), &l);
      }
      f = l.Pop();
      if (f != nullptr) {
        PutLocalBatch(&l);
        rt->WakeIdle();  // also hands the poller to another idle proc
        return f;
      }
      continue;
    }
    if (work) {
      bool removed;
      {
        SpinLockHolder l(&rt->idle_mu);
        removed = in_sleepers;
        if (removed) {
          for (size_t i = 0; i < rt->sleepers.size(); ++i) {
            if (rt->sleepers[i] == this) {
              rt->sleepers.erase(rt->sleepers.begin() + static_cast<long>(i));
              break;
            }
          }
          in_sleepers = false;
        }
      }
      if (removed) {
        rt->nidle.fetch_sub(1, std::memory_order_seq_cst);
        continue;
      }
      // A waker already took us off the list and posted: consume it below.
    }
    sema.Wait();
    rt->nidle.fetch_sub(1, std::memory_order_seq_cst);
    if (rt->sysmon_sleeping.load(std::memory_order_relaxed)) rt->WakeSysmon();
    // Woken by WakeIdle (counted as spinning for us) or by shutdown.
    spinning = true;
  }
}

// ---------------------------------------------------------------- fiber entry points

Fiber* CurrentFiber() {
  Machine* m = CurrentMachine();
  return m ? m->current.load(std::memory_order_relaxed) : nullptr;
}

bool InFiber() { return CurrentFiber() != nullptr; }

void Park(absl::FunctionRef<bool(Fiber*)> commit, WaitInfo why) {
  Machine* m = CurrentMachine();
  Fiber* self = m ? m->current.load(std::memory_order_relaxed) : nullptr;
  if (self == nullptr) ABSL_RAW_LOG(FATAL, "runtime: Park called outside a fiber");
  self->wait = why;
  self->wait_since_ns = CoarseMonoNanos();
  bool inside;
  m = EnterRuntime(m, &inside);
  m->after = Machine::After::kPark;
  m->after_fiber = self;
  m->after_commit = &commit;
  Fiber* next = m->p->FindRunnableFast();
  SwitchTo(m, self, next, false);
}

void Ready(Fiber* f) {
  f->status.store(FiberStatus::kRunnable, std::memory_order_relaxed);
  Machine* m = CurrentMachine();
  if (m != nullptr && m->rt == f->rt) {
    bool inside;
    m = EnterRuntime(m, &inside);
    m->p->PutNext(f);
    m->rt->WakeIdle();
    LeaveRuntime(m, inside);
    return;
  }
  // A plain thread (a fiber::WaitGroup::Done, Channel::Send... called outside Run's
  // threads): the Run may be ending under us. Only one Run is active at a time, so a
  // fiber that can still be woken belongs to the active one; if none is active, f was
  // abandoned (and freed) with its Run, and must not even be read.
  ThreadMutexLock l(&g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) return;
  ReadyForeignLocked(rt, f);
}

void ReadyList(FiberList* list) {
  while (Fiber* f = list->Pop()) Ready(f);
}

void YieldFiber() {
  Machine* m = CurrentMachine();
  Fiber* self = m ? m->current.load(std::memory_order_relaxed) : nullptr;
  if (self == nullptr) {
    std::this_thread::yield();
    return;
  }
  bool inside;
  m = EnterRuntime(m, &inside);
  Proc* p = m->p;
  Runtime* rt = m->rt;
  if (p->runq.solo() && p->tick_countdown > 1 && rt->timers.size() == 0 &&
      !rt->stopping.load(std::memory_order_relaxed)) {
    // One proc, nothing periodic due: rotate the run queue in place. Nobody else can
    // resume `self` before the switch below saves it (only this thread takes fibers
    // from this queue, and the global queue's only consumer is this proc too), so it
    // may be queued first (no after-switch step needed).
    --p->tick_countdown;
    FiberList overflow;
    Fiber* next = p->runq.SoloRotate(self, &overflow);
    if (!overflow.empty()) {
      int n = 0;
      for (Fiber* f = overflow.front(); f; f = f->next) ++n;
      rt->InjectGlobal(&overflow, n);
    }
    if (next == nullptr) {
      LeaveRuntime(m, inside);
      return;
    }
    // Its status changes once its registers are saved (a dump may then read them).
    m->after = Machine::After::kMarkRunnable;
    m->after_fiber = self;
    SwitchTo(m, self, next, false);
    return;
  }
  Fiber* next = p->FindRunnableFast();
  if (next == nullptr) {
    // Nothing else to run: keep going, unless the runtime is stopping, in which case
    // this is the scheduling point where a busy fiber is abandoned (see fiber.h).
    if (!rt->stopping.load(std::memory_order_acquire)) {
      // Still a scheduling point for the monitor (this fiber is not stalled).
      p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1,
                         std::memory_order_relaxed);
      if (!m->deferred_timers.empty()) m->RunDeferredTimers();
      LeaveRuntime(m, inside);
      return;
    }
  }
  m->after = Machine::After::kRequeue;
  m->after_fiber = self;
  SwitchTo(m, self, next, false);
}

bool TrySpawn(absl::AnyInvocable<void() &&>& fn, SpawnSite site) {
  if (Machine* m = CurrentMachine()) {
    bool inside;
    m = EnterRuntime(m, &inside);
    Fiber* parent = m->current.load(std::memory_order_relaxed);
    Fiber* f = m->rt->NewFiber(std::move(fn));
    f->site = site;
    f->parent_id = parent != nullptr ? parent->id : 0;
    m->p->PutNext(f);
    m->rt->WakeIdle();
    LeaveRuntime(m, inside);
    return true;
  }
  // A foreign thread: the runtime may be ending right now. Holding g_runtime_mu keeps
  // it from being retracted and freed until the fiber is queued (it is then abandoned
  // with the others if the Run is past its end).
  ThreadMutexLock l(&g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) return false;
  Fiber* f = rt->NewFiber(std::move(fn));
  f->site = site;
  f->parent_id = 0;
  ReadyForeignLocked(rt, f);
  return true;
}

void Spawn(absl::AnyInvocable<void() &&> fn, SpawnSite site) {
  if (!TrySpawn(fn, site)) ABSL_RAW_LOG(FATAL, "gonet::Go called outside gonet::Run");
}

void SleepUntilMono(int64_t deadline) {
  if (deadline <= MonoNanos()) {
    YieldFiber();
    return;
  }
  Timer t;
  t.fn = [](Timer* tm, FiberList* ready) { ready->Push(static_cast<Fiber*>(tm->ctx)); };
  Park(
      [&](Fiber* self) {
        t.ctx = self;
        ResetTimer(&t, deadline);
        return true;
      },
      WaitInfo{WaitReason::kSleep});
}

const char* WaitReasonName(WaitReason r) {
  switch (r) {
    case WaitReason::kUnknown: return "waiting";
    case WaitReason::kIOWait: return "IO wait";
    case WaitReason::kChanReceive: return "chan receive";
    case WaitReason::kChanSend: return "chan send";
    case WaitReason::kSelect: return "select";
    case WaitReason::kMutex: return "Mutex";
    case WaitReason::kCondVar: return "CondVar";
    case WaitReason::kWaitGroup: return "WaitGroup";
    case WaitReason::kSleep: return "sleep";
    case WaitReason::kSemacquire: return "semacquire";
    case WaitReason::kChanReceiveNil: return "chan receive (nil chan)";
    case WaitReason::kChanSendNil: return "chan send (nil chan)";
    case WaitReason::kSelectNoCases: return "select (no cases)";
  }
  return "waiting";
}

bool CurrentFaultInfo(FaultInfo* out) {
  Machine* m = t_machine;
  Fiber* f = m != nullptr ? m->current.load(std::memory_order_relaxed) : nullptr;
  if (f == nullptr) return false;
  out->fiber_id = f->id;
  out->guard_lo = f->stack.guard_lo;
  out->guard_hi = f->stack.guard_hi;
  return true;
}

}  // namespace gonet::fiber_internal
