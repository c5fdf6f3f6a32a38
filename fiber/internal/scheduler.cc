// Go's runtime scheduler (runtime/proc.go: runqput/runqget/runqsteal, findrunnable,
// wakep, gopark/goready) and its netpoll integration, re-implemented for fibers.
// Differences: one OS thread per P for the runtime's whole life; no preemption; one
// global timer heap instead of per-P heaps; fibers switch directly to the next runnable
// fiber (the worker's scheduler stack is entered only to go idle).
#include "fiber/internal/scheduler.h"

#include <cxxabi.h>
#include <linux/futex.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <cstring>
#include <exception>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/internal/raw_logging.h"
#include "absl/synchronization/mutex.h"
#include "fiber/internal/dump.h"
#include "fiber/internal/spinlock.h"
#include "poller/poller.h"

namespace gonet::fiber_internal {
namespace {

constexpr uint32_t kRunQueueSize = 256;

// A counting semaphore on a futex; a Post before the Wait is not lost.
class Semaphore {
 public:
  void Post() {
    count_.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&count_), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
  }
  void Wait() {
    for (;;) {
      uint32_t c = count_.load(std::memory_order_acquire);
      while (c > 0) {
        if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acq_rel)) return;
      }
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&count_), FUTEX_WAIT_PRIVATE, 0, nullptr,
              nullptr, 0);
    }
  }

 private:
  std::atomic<uint32_t> count_{0};
};

std::atomic<NetpollHandler> g_netpoll_handler{nullptr};
std::atomic<uint64_t> g_generation{0};
// The generation of the active Run, 0 when none. Set before its workers start, cleared
// after they all stopped (so "not running" means none of its fibers can run again).
std::atomic<uint64_t> g_running_generation{0};

// The calling thread's exception state (see ExceptionState in scheduler.h). Both
// libstdc++ and libc++abi lay __cxa_eh_globals out as {caughtExceptions,
// uncaughtExceptions}; ARM EHABI adds a third field after them, which fibers never
// need to carry (it is only used while an exception propagates, never across a park).
ExceptionState* ThreadExceptionState() {
  return reinterpret_cast<ExceptionState*>(abi::__cxa_get_globals());
}

// Plain-thread waiting (ThreadWaitUntil). std::mutex so that TSan sees it.
std::mutex g_thread_wait_mu;
std::condition_variable g_thread_wait_cv;
// Threads inside ThreadWaitUntil. Ordering: a waiter increments it, then (seq_cst)
// evaluates its predicate; a notifier publishes its change, then (seq_cst) loads it.
// So either the notifier sees the waiter, or the waiter's predicate sees the change.
std::atomic<int> g_thread_waiters{0};

constexpr int kMaxTeardownHooks = 4;
std::atomic<TeardownHook> g_teardown_hooks[kMaxTeardownHooks] = {};

}  // namespace

class Worker;

class Runtime {
 public:
  Runtime(int procs, size_t stack_size);
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

  const int procs;
  const uint64_t generation;
  StackPool stacks;
  TimerHeap timers;
  std::unique_ptr<poller::Poller> poller;
  std::vector<std::unique_ptr<Worker>> workers;

  // Global run queue (Go: sched.runq), for overflow and fibers readied off-runtime.
  SpinLock gq_mu;
  FiberList gq ABSL_GUARDED_BY(gq_mu);
  std::atomic<int64_t> gq_size{0};

  // Idle bookkeeping (Go: sched.npidle, sched.nmspinning, sched.lastpoll).
  //   nidle:    workers that found nothing and are in (or entering) their idle wait.
  //   nspinning: workers looking for work (stealing) after a wake or an idle miss;
  //             WakeIdle() wakes a sleeper only when this is 0.
  //   poller_owned: true while one idle worker polls (or is about to block) in the
  //             poller; WakeIdle() then pokes the poller when no sleeper is left.
  // Ordering: a producer publishes work, then (seq_cst fence) loads nidle/nspinning/
  // poller_owned; an idle worker stores those, then (seq_cst fence) re-checks every
  // queue before it blocks. So either the producer sees the idle worker, or the idle
  // worker sees the work (Dekker).
  std::atomic<int> nidle{0};
  std::atomic<int> nspinning{0};
  std::atomic<bool> poller_owned{false};
  // While the owner blocks in the poller: the monotonic time it will wake up by
  // (INT64_MAX = no timer); 0 otherwise. A new timer earlier than this must Wake() it.
  // Ordering: the owner stores it, fences, then re-reads the heap's NextWhen(); a timer
  // adder updates the heap, fences, then loads it (Dekker), so one of them sees the other.
  std::atomic<int64_t> poll_until{0};
  SpinLock idle_mu;
  std::vector<Worker*> sleepers ABSL_GUARDED_BY(idle_mu);

  std::atomic<bool> stopping{false};
  std::atomic<int> netpoll_fds{0};

  // Finished fibers (with their stacks) that overflowed a worker's cache.
  SpinLock free_mu;
  FiberList free_fibers ABSL_GUARDED_BY(free_mu);
  std::atomic<int64_t> free_size_hint{0};
  Fiber* PopFree() {
    SpinLockHolder l(&free_mu);
    Fiber* f = free_fibers.Pop();
    if (f) free_size_hint.fetch_sub(1, std::memory_order_relaxed);
    return f;
  }

  // Every Fiber object ever allocated by this runtime, freed by ~Runtime.
  SpinLock all_mu;
  Fiber* all_fibers ABSL_GUARDED_BY(all_mu) = nullptr;
  std::atomic<uint64_t> next_id{1};
  std::atomic<int64_t> created{0};
  std::atomic<int64_t> live{0};
  std::atomic<int64_t> steals{0};
  std::atomic<int64_t> polls_blocking{0};

  // std::mutex, not absl::Mutex: Debian's Abseil is not built with TSan, so its
  // synchronization would be invisible to --config=tsan.
  std::mutex done_mu;
  std::condition_variable done_cv;
  bool main_done = false;  // guarded by done_mu
};

class Worker {
 public:
  Worker(Runtime* rt, int index) : rt(rt), index(index), rng(0x9E3779B97F4A7C15ULL * (index + 1)) {}

  void ThreadMain();
  // Local run queue (Go: runqput/runqget/runqgrab). Owner-only except Grab.
  void RunqPut(Fiber* f);
  void RunqPutNext(Fiber* f);
  Fiber* RunqGet();
  // solo_ only: pops the next fiber and queues `self` at the tail, without atomics.
  Fiber* SoloRotate(Fiber* self);
  int RunqGrab(Fiber** batch, bool steal_next);
  bool RunqEmpty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire) &&
           runnext_.load(std::memory_order_acquire) == nullptr;
  }

  // Picks the next fiber without blocking: periodic global/netpoll checks, due timers,
  // local queue, global queue. Safe on a fiber stack.
  Fiber* FindRunnableFast();
  Fiber* GlobalBatch();
  // The idle path, on the scheduler stack only: steals, polls, sleeps. nullptr = stop.
  Fiber* FindRunnableBlocking();
  Fiber* Steal();
  void RunAfterSwitch();
  void ReleaseFiber(Fiber* f);
  void PutLocalBatch(FiberList* list);

  Runtime* const rt;
  const int index;
  Context g0_ctx;
  SanitizerContext g0_san;
  ExceptionState g0_eh;                    // the scheduler stack's own (always empty)
  ExceptionState* eh_globals = nullptr;    // this thread's live exception state
  Fiber* current = nullptr;  // running fiber; nullptr on the scheduler stack

  // What the context we switch to must do first, on its own stack, once the switching
  // fiber's registers are saved (so no other worker can resume it too early).
  enum class After { kNone, kPark, kRequeue, kFree };
  After after = After::kNone;
  Fiber* after_fiber = nullptr;
  absl::FunctionRef<bool(Fiber*)>* after_commit = nullptr;

  // procs == 1: no other worker ever touches this run queue (foreign threads use the
  // global queue), so the owner's queue operations skip their atomic RMWs.
  bool solo_ = false;
  bool spinning = false;  // counted in rt->nspinning
  uint32_t tick_countdown = 61;  // schedules until the next fairness / netpoll check
  uint64_t rng;
  std::vector<Fiber*> fiber_cache;  // finished fibers (with stacks) for reuse; owner-only
  // Netpoll results land here, not on the (fiber) stack that happens to poll.
  poller::Event poll_events[poller::kMaxEvents];
  Semaphore sema;
  bool in_sleepers ABSL_GUARDED_BY(rt->idle_mu) = false;
  std::thread thread;

 private:
  // Ring: slots written by the owner at tail_, read by anyone from head_ (CAS).
  // INVARIANT: 0 <= tail_ - head_ <= kRunQueueSize. Slots are atomics so a stealer
  // reading a slot the owner is overwriting (its CAS then fails) is not a data race.
  std::atomic<uint32_t> head_{0};
  std::atomic<uint32_t> tail_{0};
  std::atomic<Fiber*> ring_[kRunQueueSize] = {};
  std::atomic<Fiber*> runnext_{nullptr};
  bool RunqPutSlow(Fiber* f, uint32_t h);
};

namespace {

thread_local Worker* t_worker = nullptr;
std::atomic<Runtime*> g_runtime{nullptr};
// Held while publishing or retracting g_runtime, and by ReadyFromForeignThread while it
// touches the runtime: a foreign thread never sees a runtime being freed.
std::mutex g_runtime_mu;

// Not inlined, with a compiler barrier: a fiber may resume on another thread, and the
// compiler must not reuse a thread_local address computed before the switch.
__attribute__((noinline)) Worker* CurrentWorker() {
  asm volatile("" ::: "memory");
  return t_worker;
}

uint64_t NextRand(uint64_t* s) {
  *s ^= *s << 13;
  *s ^= *s >> 7;
  *s ^= *s << 17;
  return *s;
}

// Switches from `from` (nullptr: the scheduler stack) to `to` (nullptr: scheduler
// stack) on worker w. Returns when `from` is resumed, possibly on another worker.
void SwitchTo(Worker* w, Fiber* from, Fiber* to, bool from_dying) {
  // Guarded stacks fault on overflow; slab stacks are checked here instead.
  if (from != nullptr && from->stack.from_slab && !StackPool::CanaryIntact(from->stack)) {
    DieStackOverflow(from->id, " (canary overwritten)");
  }
  Context* fc = from ? &from->ctx : &w->g0_ctx;
  SanitizerContext* fs = from ? &from->san : &w->g0_san;
  Context* tc = to ? &to->ctx : &w->g0_ctx;
  SanitizerContext* ts = to ? &to->san : &w->g0_san;
  // The exception state travels with the fiber: park ours, install theirs.
  ExceptionState* thread_eh = w->eh_globals;
  *(from ? &from->eh : &w->g0_eh) = *thread_eh;
  *thread_eh = *(to ? &to->eh : &w->g0_eh);
  w->current = to;
  if (to != nullptr) to->status.store(FiberStatus::kRunning, std::memory_order_relaxed);
  SanitizerStartSwitch(fs, ts, from_dying);
  SwitchContext(fc, tc);
  // Resumed, maybe elsewhere: `w` is stale from here on.
  SanitizerFinishSwitch(fs);
  CurrentWorker()->RunAfterSwitch();
}

void FiberEntry(void* arg) {
  Fiber* self = static_cast<Fiber*>(arg);
  SanitizerFinishSwitch(&self->san);
  CurrentWorker()->RunAfterSwitch();
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
  Worker* w = CurrentWorker();
  w->after = Worker::After::kFree;
  w->after_fiber = self;
  Fiber* next = w->FindRunnableFast();
  SwitchTo(w, self, next, /*from_dying=*/true);
  ABSL_RAW_LOG(FATAL, "runtime: finished fiber %llu resumed",
               static_cast<unsigned long long>(self->id));
}

}  // namespace

// ---------------------------------------------------------------- run queues

void Worker::RunqPut(Fiber* f) {
  uint32_t t = tail_.load(std::memory_order_relaxed);
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    if (t - h < kRunQueueSize) {
      ring_[t % kRunQueueSize].store(f, std::memory_order_relaxed);
      tail_.store(t + 1, std::memory_order_release);
      return;
    }
    if (RunqPutSlow(f, h)) return;
  }
}

// Queue full: move half of it plus f to the global queue (Go: runqputslow). Owner
// only. No batch array on the stack (this runs on fiber stacks, which should stay
// shallow): once the CAS on head succeeds the slots [h, h+n) are ours, and only the
// owner ever overwrites slots, so they can be read after it.
bool Worker::RunqPutSlow(Fiber* f, uint32_t h) {
  constexpr uint32_t n = kRunQueueSize / 2;
  if (!head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return false;
  FiberList list;
  for (uint32_t i = 0; i < n; ++i) list.Push(ring_[(h + i) % kRunQueueSize].load(std::memory_order_relaxed));
  list.Push(f);
  rt->InjectGlobal(&list, n + 1);
  return true;
}

void Worker::RunqPutNext(Fiber* f) {
  if (solo_) {
    Fiber* old = runnext_.load(std::memory_order_relaxed);
    runnext_.store(f, std::memory_order_relaxed);
    if (old != nullptr) RunqPut(old);
    return;
  }
  Fiber* old = runnext_.exchange(f, std::memory_order_acq_rel);
  if (old != nullptr) RunqPut(old);
}

Fiber* Worker::SoloRotate(Fiber* self) {
  Fiber* next = runnext_.load(std::memory_order_relaxed);
  if (next != nullptr) {
    runnext_.store(nullptr, std::memory_order_relaxed);
    RunqPut(self);
    return next;
  }
  const uint32_t h = head_.load(std::memory_order_relaxed);
  const uint32_t t = tail_.load(std::memory_order_relaxed);
  if (h == t) return nullptr;
  next = ring_[h % kRunQueueSize].load(std::memory_order_relaxed);
  ring_[t % kRunQueueSize].store(self, std::memory_order_relaxed);
  head_.store(h + 1, std::memory_order_relaxed);
  tail_.store(t + 1, std::memory_order_relaxed);
  return next;
}

Fiber* Worker::RunqGet() {
  Fiber* next = runnext_.load(std::memory_order_relaxed);
  if (solo_) {
    // One worker: nobody steals, so the owner needs no read-modify-write.
    if (next != nullptr) {
      runnext_.store(nullptr, std::memory_order_relaxed);
      return next;
    }
    uint32_t h = head_.load(std::memory_order_relaxed);
    if (h == tail_.load(std::memory_order_relaxed)) return nullptr;
    Fiber* f = ring_[h % kRunQueueSize].load(std::memory_order_relaxed);
    head_.store(h + 1, std::memory_order_relaxed);
    return f;
  }
  if (next != nullptr && runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) {
    return next;
  }
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t == h) return nullptr;
    Fiber* f = ring_[h % kRunQueueSize].load(std::memory_order_relaxed);
    if (head_.compare_exchange_weak(h, h + 1, std::memory_order_release)) return f;
  }
}

// Takes about half of this queue into batch (Go: runqgrab). Any thread.
int Worker::RunqGrab(Fiber** batch, bool steal_next) {
  for (;;) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    uint32_t n = t - h;
    n = n - n / 2;
    if (n == 0) {
      if (!steal_next) return 0;
      Fiber* next = runnext_.load(std::memory_order_acquire);
      if (next == nullptr) return 0;
      // The owner is probably about to run it; give it a moment (Go sleeps 3us).
      for (int i = 0; i < 200; ++i) CpuRelax();
      if (!runnext_.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) continue;
      batch[0] = next;
      return 1;
    }
    if (n > kRunQueueSize / 2) continue;  // inconsistent snapshot
    for (uint32_t i = 0; i < n; ++i) batch[i] = ring_[(h + i) % kRunQueueSize].load(std::memory_order_relaxed);
    if (head_.compare_exchange_strong(h, h + n, std::memory_order_release)) return static_cast<int>(n);
  }
}

void Worker::PutLocalBatch(FiberList* list) {
  while (Fiber* f = list->Pop()) RunqPut(f);
}

// ---------------------------------------------------------------- runtime

Runtime::Runtime(int procs, size_t stack_size)
    : procs(procs), generation(g_generation.fetch_add(1) + 1), stacks(stack_size) {
  auto p = poller::Poller::Create();
  if (!p.ok()) ABSL_RAW_LOG(FATAL, "runtime: cannot create the netpoller: %s", p.status().ToString().c_str());
  poller = std::move(*p);
  for (int i = 0; i < procs; ++i) {
    workers.push_back(std::make_unique<Worker>(this, i));
    workers.back()->solo_ = procs == 1;
  }
}

Runtime::~Runtime() {
  SpinLockHolder l(&all_mu);
  for (Fiber* f = all_fibers; f != nullptr;) {
    Fiber* n = f->all_next;
    SanitizerDestroyFiber(&f->san);
    if (f->fn) {
      // Abandoned before it ran: its captured state is deliberately not destroyed (a
      // Go program exiting runs nothing either); only the Fiber's own memory goes.
      ::operator delete(static_cast<void*>(f));
    } else {
      delete f;
    }
    f = n;
  }
}

Fiber* Runtime::NewFiber(absl::AnyInvocable<void() &&> fn) {
  Worker* w = CurrentWorker();
  Fiber* f = nullptr;
  if (w != nullptr && w->rt == this && !w->fiber_cache.empty()) {
    f = w->fiber_cache.back();
    w->fiber_cache.pop_back();
  } else if (free_size_hint.load(std::memory_order_relaxed) > 0 && (f = PopFree()) != nullptr) {
  } else {
    f = new Fiber;
    f->rt = this;
    f->stack = stacks.Allocate();
    created.fetch_add(1, std::memory_order_relaxed);
    SpinLockHolder l(&all_mu);
    f->all_next = all_fibers;
    all_fibers = f;
  }
  f->id = next_id.fetch_add(1, std::memory_order_relaxed);
  f->fn = std::move(fn);
  f->next = nullptr;
  f->eh = ExceptionState{};
  // The canary occupies the lowest word; the usable stack starts above it.
  MakeContext(&f->ctx, f->stack.lo + 64, f->stack.size - 64, &FiberEntry, f);
  SanitizerCreateFiber(&f->san, f->stack.lo, f->stack.size);
  f->wait = WaitInfo{};
  f->status.store(FiberStatus::kRunnable, std::memory_order_relaxed);
  live.fetch_add(1, std::memory_order_relaxed);
  return f;
}

void Worker::ReleaseFiber(Fiber* f) {
  rt->live.fetch_sub(1, std::memory_order_relaxed);
  if (fiber_cache.size() < 256) {
    fiber_cache.push_back(f);
    return;
  }
  SpinLockHolder l(&rt->free_mu);
  rt->free_fibers.Push(f);
  rt->free_size_hint.fetch_add(1, std::memory_order_relaxed);
}

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
  for (auto& w : workers) {
    if (!w->RunqEmpty()) return true;
  }
  return false;
}

// Go's wakep(): makes sure someone looks for the work just published.
void Runtime::WakeIdle() {
  if (procs == 1 && !poller_owned.load(std::memory_order_relaxed)) {
    // The only worker is the one publishing, unless it sits in the poller (foreign
    // thread); in that case fall through to poke it.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (!poller_owned.load(std::memory_order_relaxed)) return;
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (nidle.load(std::memory_order_relaxed) == 0) return;
  if (nspinning.load(std::memory_order_relaxed) != 0) return;
  int zero = 0;
  if (!nspinning.compare_exchange_strong(zero, 1, std::memory_order_acq_rel)) return;
  Worker* s = nullptr;
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

// ---------------------------------------------------------------- scheduling

Fiber* Worker::FindRunnableFast() {
  if (rt->stopping.load(std::memory_order_relaxed)) return nullptr;
  if (--tick_countdown == 0) {
    tick_countdown = 61;
    // Fairness (Go: every 61st schedule takes from the global queue first): overflow
    // and foreign wake-ups get a turn even while the local queue stays busy.
    if (Fiber* f = rt->PopGlobal()) return f;
    // And a cheap netpoll, so a worker busy with yielders still notices I/O when no
    // idle worker owns the poller (Go's sysmon does this every 10 ms).
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
        rt->timers.RunDue(now, &l);
        bool many = !l.empty() && l.front()->next != nullptr;
        PutLocalBatch(&l);
        if (many) rt->WakeIdle();
      }
    }
  }
  if (Fiber* f = RunqGet()) return f;
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

Fiber* Worker::GlobalBatch() {
  int64_t n = rt->gq_size.load(std::memory_order_acquire);
  if (n == 0) return nullptr;
  n = std::min<int64_t>(n / rt->procs + 1, kRunQueueSize / 2);
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

Fiber* Worker::Steal() {
  const int n = static_cast<int>(rt->workers.size());
  if (n <= 1) return nullptr;
  Fiber* batch[kRunQueueSize / 2 + 1];
  for (int round = 0; round < 4; ++round) {
    int start = static_cast<int>(NextRand(&rng) % n);
    for (int k = 0; k < n; ++k) {
      Worker* v = rt->workers[(start + k) % n].get();
      if (v == this) continue;
      int got = v->RunqGrab(batch, /*steal_next=*/round == 3);
      if (got == 0) continue;
      rt->steals.fetch_add(1, std::memory_order_relaxed);
      for (int i = 1; i < got; ++i) RunqPut(batch[i]);
      return batch[0];
    }
  }
  return nullptr;
}

Fiber* Worker::FindRunnableBlocking() {
  for (;;) {
    if (rt->stopping.load(std::memory_order_acquire)) return nullptr;
    Fiber* f = FindRunnableFast();
    if (f == nullptr) {
      if (!spinning) {
        // Go limits spinners to half the busy workers, so idle CPU stays low.
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
      rt->nidle.fetch_sub(1, std::memory_order_acq_rel);
      if (rt->timers.size() > 0 && rt->timers.NextWhen() <= MonoNanos()) {
        rt->timers.RunDue(MonoNanos(), &l);
      }
      f = l.Pop();
      if (f != nullptr) {
        PutLocalBatch(&l);
        rt->WakeIdle();  // also hands the poller to another idle worker
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
        rt->nidle.fetch_sub(1, std::memory_order_acq_rel);
        continue;
      }
      // A waker already took us off the list and posted: consume it below.
    }
    sema.Wait();
    rt->nidle.fetch_sub(1, std::memory_order_acq_rel);
    // Woken by WakeIdle (counted as spinning for us) or by shutdown.
    spinning = true;
  }
}

void Worker::RunAfterSwitch() {
  After a = after;
  if (a == After::kNone) return;
  Fiber* f = after_fiber;
  after = After::kNone;
  after_fiber = nullptr;
  switch (a) {
    case After::kNone:
      break;
    case After::kRequeue:
      f->status.store(FiberStatus::kRunnable, std::memory_order_relaxed);
      RunqPut(f);
      break;
    case After::kPark: {
      absl::FunctionRef<bool(Fiber*)>* commit = after_commit;
      after_commit = nullptr;
      // Before commit: once commit publishes f, a waker may make it runnable at once.
      f->status.store(FiberStatus::kWaiting, std::memory_order_relaxed);
      if (!(*commit)(f)) {
        f->status.store(FiberStatus::kRunnable, std::memory_order_relaxed);
        RunqPutNext(f);
      }
      break;
    }
    case After::kFree:
      f->status.store(FiberStatus::kFree, std::memory_order_relaxed);
      ReleaseFiber(f);
      break;
  }
}

void Worker::ThreadMain() {
  t_worker = this;
  eh_globals = ThreadExceptionState();
  void* alt = SetUpAltStack();
  SanitizerAdoptThread(&g0_san);
  for (;;) {
    RunAfterSwitch();
    Fiber* f = FindRunnableBlocking();
    if (f == nullptr) break;
    SwitchTo(this, nullptr, f, false);
  }
  RunAfterSwitch();
  ReleaseAltStack(alt);
  t_worker = nullptr;
}

void Runtime::Start(absl::AnyInvocable<void() &&> main) {
  Fiber* m = NewFiber([this, main = std::move(main)]() mutable {
    std::move(main)();
    stopping.store(true, std::memory_order_release);
    std::lock_guard<std::mutex> l(done_mu);
    main_done = true;
    done_cv.notify_all();
  });
  FiberList l;
  l.Push(m);
  InjectGlobal(&l, 1);
  for (auto& w : workers) {
    Worker* wp = w.get();
    w->thread = std::thread([wp] { wp->ThreadMain(); });
  }
}

void Runtime::WaitMainAndStop() {
  {
    std::unique_lock<std::mutex> l(done_mu);
    done_cv.wait(l, [this] { return main_done; });
  }
  stopping.store(true, std::memory_order_seq_cst);
  for (auto& w : workers) w->sema.Post();
  poller->Wake();
  for (auto& w : workers) {
    // A worker may be blocked in the poller again before seeing `stopping`: keep poking.
    while (w->thread.joinable()) {
      poller->Wake();
      w->thread.join();
    }
  }
}

// ---------------------------------------------------------------- public internals

Fiber* CurrentFiber() {
  Worker* w = CurrentWorker();
  return w ? w->current : nullptr;
}

bool InFiber() { return CurrentFiber() != nullptr; }

void Park(absl::FunctionRef<bool(Fiber*)> commit, WaitInfo why) {
  Worker* w = CurrentWorker();
  Fiber* self = w ? w->current : nullptr;
  if (self == nullptr) ABSL_RAW_LOG(FATAL, "runtime: Park called outside a fiber");
  self->wait = why;
  self->wait_since_ns = CoarseMonoNanos();
  w->after = Worker::After::kPark;
  w->after_fiber = self;
  w->after_commit = &commit;
  Fiber* next = w->FindRunnableFast();
  SwitchTo(w, self, next, false);
}

namespace {
// Queues f on rt from a thread that is not one of rt's workers. The caller holds
// g_runtime_mu with rt == g_runtime, so rt cannot be torn down meanwhile.
void ReadyForeignLocked(Runtime* rt, Fiber* f) {
  FiberList l;
  l.Push(f);
  rt->InjectGlobal(&l, 1);
  rt->WakeIdle();
  // No worker idle-spinning may notice: make sure the poller owner re-checks.
  if (rt->poller_owned.load(std::memory_order_seq_cst)) rt->poller->Wake();
}
}  // namespace

void Ready(Fiber* f) {
  f->status.store(FiberStatus::kRunnable, std::memory_order_relaxed);
  Worker* w = CurrentWorker();
  if (w != nullptr && w->rt == f->rt) {
    w->RunqPutNext(f);
    f->rt->WakeIdle();
    return;
  }
  // A plain thread (a fiber::WaitGroup::Done, Channel::Send... called outside Run's
  // workers): the Run may be ending under us. Only one Run is active at a time, so a
  // fiber that can still be woken belongs to the active one; if none is active, f was
  // abandoned (and freed) with its Run, and must not even be read.
  std::lock_guard<std::mutex> l(g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) return;
  ReadyForeignLocked(rt, f);
}

void ReadyListOf(FiberList* list, uint64_t generation) {
  Worker* w = CurrentWorker();
  if (w != nullptr && w->rt->generation == generation) {
    ReadyList(list);
    return;
  }
  std::lock_guard<std::mutex> l(g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr || rt->generation != generation) {
    *list = FiberList();  // abandoned with their Run
    return;
  }
  while (Fiber* f = list->Pop()) ReadyForeignLocked(rt, f);
}

bool ReadyFromForeignThread(Fiber* f, uint64_t generation) {
  std::lock_guard<std::mutex> l(g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr || rt->generation != generation) return false;  // f died with its Run
  ReadyForeignLocked(rt, f);
  return true;
}

void ReadyList(FiberList* list) {
  while (Fiber* f = list->Pop()) Ready(f);
}

void YieldFiber() {
  Worker* w = CurrentWorker();
  Fiber* self = w ? w->current : nullptr;
  if (self == nullptr) {
    std::this_thread::yield();
    return;
  }
  if (w->solo_ && w->tick_countdown > 1 && w->rt->timers.size() == 0 &&
      !w->rt->stopping.load(std::memory_order_relaxed)) {
    // One worker, nothing periodic due: rotate the run queue in place. Nobody else
    // can resume `self` before the switch below saves it, so it may be queued first
    // (no after-switch step needed).
    --w->tick_countdown;
    Fiber* next = w->SoloRotate(self);
    if (next == nullptr) return;
    SwitchTo(w, self, next, false);
    return;
  }
  Fiber* next = w->FindRunnableFast();
  if (next == nullptr) {
    // Nothing else to run: keep going, unless the runtime is stopping, in which case
    // this is the scheduling point where a busy fiber is abandoned (see fiber.h).
    if (!w->rt->stopping.load(std::memory_order_acquire)) return;
  }
  w->after = Worker::After::kRequeue;
  w->after_fiber = self;
  SwitchTo(w, self, next, false);
}

namespace {
// Runs op(runtime) with the runtime this thread may act on: a worker's own, or for a
// foreign thread the active one, held alive (g_runtime_mu) for op's duration so that a
// Run ending meanwhile cannot free it under op. op gets nullptr when no Run is active.
template <class Op>
auto WithRuntime(Op op) {
  if (Worker* w = CurrentWorker()) return op(w->rt);
  std::lock_guard<std::mutex> l(g_runtime_mu);
  return op(g_runtime.load(std::memory_order_acquire));
}
}  // namespace

bool TrySpawn(absl::AnyInvocable<void() &&>& fn, SpawnSite site) {
  if (Worker* w = CurrentWorker()) {
    Fiber* f = w->rt->NewFiber(std::move(fn));
    f->site = site;
    f->parent_id = w->current != nullptr ? w->current->id : 0;
    Ready(f);
    return true;
  }
  // A foreign thread: the runtime may be ending right now. Holding g_runtime_mu keeps
  // it from being retracted and freed until the fiber is queued (it is then abandoned
  // with the others if the Run is past its end).
  std::lock_guard<std::mutex> l(g_runtime_mu);
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr) return false;
  Fiber* f = rt->NewFiber(std::move(fn));
  f->site = site;
  f->parent_id = 0;
  f->status.store(FiberStatus::kRunnable, std::memory_order_relaxed);
  ReadyForeignLocked(rt, f);
  return true;
}

void Spawn(absl::AnyInvocable<void() &&> fn, SpawnSite site) {
  if (!TrySpawn(fn, site)) ABSL_RAW_LOG(FATAL, "gonet::Go called outside gonet::Run");
}

bool RuntimeRunning(uint64_t generation) {
  return generation != 0 && g_running_generation.load(std::memory_order_acquire) == generation;
}

void AddTeardownHook(TeardownHook hook) {
  for (auto& h : g_teardown_hooks) {
    TeardownHook expected = nullptr;
    if (h.load(std::memory_order_acquire) == hook) return;
    if (h.compare_exchange_strong(expected, hook, std::memory_order_acq_rel)) return;
    if (expected == hook) return;
  }
  ABSL_RAW_LOG(FATAL, "runtime: too many teardown hooks");
}

void ThreadWaitUntil(absl::FunctionRef<bool()> pred) {
  g_thread_waiters.fetch_add(1, std::memory_order_seq_cst);
  {
    std::unique_lock<std::mutex> l(g_thread_wait_mu);
    while (!pred()) g_thread_wait_cv.wait(l);
  }
  g_thread_waiters.fetch_sub(1, std::memory_order_relaxed);
}

void NotifyThreadWaiters() {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (g_thread_waiters.load(std::memory_order_relaxed) == 0) return;
  // Taking the lock orders this notify after a waiter's predicate check that missed
  // the change: that waiter is then inside wait() and gets the notification.
  { std::lock_guard<std::mutex> l(g_thread_wait_mu); }
  g_thread_wait_cv.notify_all();
}

void ResetTimer(Timer* t, int64_t when) {
  WithRuntime([&](Runtime* rt) {
    if (rt == nullptr) return;  // no runtime: nothing will ever wait on it
    if (rt->timers.Reset(t, when)) rt->MaybeWakePoller(when);
  });
}

bool DeleteTimer(Timer* t) {
  return WithRuntime([&](Runtime* rt) { return rt != nullptr && rt->timers.Delete(t); });
}

// DeleteTimerSync waits (yielding) only while the timer's callback runs; callbacks are
// the runtime's own and never block (they collect fibers to wake), so that wait is a
// few instructions long.
bool DeleteTimerSync(Timer* t) {
  return WithRuntime([&](Runtime* rt) { return rt != nullptr && rt->timers.DeleteSync(t); });
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

void SetNetpollHandler(NetpollHandler h) { g_netpoll_handler.store(h, std::memory_order_release); }

absl::Status NetpollAdd(int fd, uintptr_t token) {
  return WithRuntime([&](Runtime* rt) {
    if (rt == nullptr) return absl::FailedPreconditionError("not called from a fiber");
    absl::Status s = rt->poller->Add(fd, token);
    if (s.ok()) rt->netpoll_fds.fetch_add(1, std::memory_order_relaxed);
    return s;
  });
}

absl::Status NetpollRemove(int fd, uint64_t generation) {
  auto remove = [fd](Runtime* rt) {
    absl::Status s = rt->poller->Remove(fd);
    rt->netpoll_fds.fetch_sub(1, std::memory_order_relaxed);
    return s;
  };
  Worker* w = CurrentWorker();
  if (w != nullptr && w->rt->generation == generation) return remove(w->rt);
  std::lock_guard<std::mutex> l(g_runtime_mu);  // holds off teardown
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr || rt->generation != generation) return absl::OkStatus();
  return remove(rt);
}

uint64_t CurrentRuntimeGeneration() {
  if (Worker* w = CurrentWorker()) return w->rt->generation;
  return g_running_generation.load(std::memory_order_acquire);
}

int Procs() {
  return WithRuntime([](Runtime* rt) { return rt ? rt->procs : 0; });
}

RuntimeStats GetRuntimeStats() {
  return WithRuntime([](Runtime* rt) {
    if (rt == nullptr) return RuntimeStats{};
    return RuntimeStats{rt->created.load(), rt->live.load(), rt->steals.load(),
                        rt->polls_blocking.load()};
  });
}

int NumFibers() {
  return WithRuntime([](Runtime* rt) {
    return rt ? static_cast<int>(rt->live.load(std::memory_order_relaxed)) : 0;
  });
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
    case WaitReason::kTimer: return "timer";
  }
  return "waiting";
}

bool VisitFibers(absl::FunctionRef<void(const Fiber& f)> fn) {
  return WithRuntime([&](Runtime* rt) {
    if (rt == nullptr) return false;
    SpinLockHolder l(&rt->all_mu);
    for (Fiber* f = rt->all_fibers; f != nullptr; f = f->all_next) {
      if (f->status.load(std::memory_order_acquire) != FiberStatus::kFree) fn(*f);
    }
    return true;
  });
}

bool CurrentFaultInfo(FaultInfo* out) {
  Worker* w = t_worker;
  if (w == nullptr || w->current == nullptr) return false;
  out->fiber_id = w->current->id;
  out->guard_lo = w->current->stack.guard_lo;
  out->guard_hi = w->current->stack.guard_hi;
  return true;
}

namespace {

void RaiseFileLimit() {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
}

}  // namespace

void RunRuntime(absl::AnyInvocable<void() &&> main, const RuntimeConfig& opts) {
  if (CurrentWorker() != nullptr) ABSL_RAW_LOG(FATAL, "gonet::Run called from inside a fiber");
  int procs = opts.procs;
  const size_t stack_size = opts.stack_size;
  if (opts.dump_on_sigquit) InstallSigquitDump();
  if (procs <= 0) procs = static_cast<int>(std::thread::hardware_concurrency());
  if (procs <= 0) procs = 1;
  if (procs > 1024) procs = 1024;
  RaiseFileLimit();
  InstallOverflowHandler();
  auto rt = std::make_unique<Runtime>(procs, stack_size);
  {
    std::lock_guard<std::mutex> l(g_runtime_mu);
    Runtime* expected = nullptr;
    if (!g_runtime.compare_exchange_strong(expected, rt.get())) {
      ABSL_RAW_LOG(FATAL, "gonet::Run: another Run is active in this process");
    }
    g_running_generation.store(rt->generation, std::memory_order_release);
  }
  rt->Start(std::move(main));
  rt->WaitMainAndStop();
  {
    std::lock_guard<std::mutex> l(g_runtime_mu);
    g_runtime.store(nullptr, std::memory_order_release);
    g_running_generation.store(0, std::memory_order_release);
  }
  // Plain threads waiting on something only an abandoned fiber could do (Close waiting
  // for a parked Read's reference) re-check now: RuntimeRunning() turned false.
  NotifyThreadWaiters();
  for (auto& h : g_teardown_hooks) {
    if (TeardownHook hook = h.load(std::memory_order_acquire)) hook(rt->generation);
  }
  rt.reset();
}

}  // namespace gonet::fiber_internal
