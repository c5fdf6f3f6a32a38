// A Run's life (Go's schedinit, main and exit), and the runtime's entry points for the
// layers above: timers, the netpoller, counters.
#include <sys/resource.h>

#include <thread>

#include "absl/base/internal/raw_logging.h"
#include "fiber/internal/debug_layout.h"
#include "fiber/internal/dump.h"
#include "fiber/internal/runtime.h"

namespace gonet::fiber_internal {

Runtime::Runtime(const RuntimeConfig& c)
    : config(c),
      procs(c.procs),
      generation(g_generation.fetch_add(1) + 1),
      stacks(c.stack_size) {
  auto p = poller::Poller::Create();
  if (!p.ok()) ABSL_RAW_LOG(FATAL, "runtime: cannot create the netpoller: %s", p.status().ToString().c_str());
  poller = std::move(*p);
  for (int i = 0; i < procs; ++i) all_p.push_back(std::make_unique<Proc>(this, i, procs == 1));
}

void Runtime::Start(absl::AnyInvocable<void() &&> main) {
  Fiber* mf = NewFiber([this, main = std::move(main)]() mutable {
    std::move(main)();
    stopping.store(true, std::memory_order_release);
    ThreadMutexLock l(&done_mu);
    main_done = true;
    done_cv.SignalAll();
  });
  mf->site = SpawnSite{"gonet::Run", "main", 0};
  FiberList l;
  l.Push(mf);
  InjectGlobal(&l, 1);
  ThreadMutexLock ml(&m_mu);
  for (auto& p : all_p) {
    all_m.push_back(std::make_unique<Machine>(this, static_cast<int>(all_m.size())));
    Machine* m = all_m.back().get();
    m->p = p.get();
    p->m.store(m, std::memory_order_release);
  }
  for (auto& m : all_m) {
    Machine* mp = m.get();
    mp->thread = std::thread([mp] { mp->Main(); });
  }
  sysmon = std::thread([this] { SysmonMain(); });
}

void Runtime::WaitMainAndStop() {
  {
    ThreadMutexLock l(&done_mu);
    while (!main_done) done_cv.Wait(&done_mu);
  }
  stopping.store(true, std::memory_order_seq_cst);
  // The monitor first: after it, no thread is added.
  sysmon_sema.Post();
  sysmon.join();
  for (auto& p : all_p) p->sema.Post();
  poller->Wake();
  std::vector<Machine*> ms;
  {
    ThreadMutexLock l(&m_mu);
    for (Machine* s = spare_m; s != nullptr; s = s->spare_next) s->park_sema.Post();
    for (auto& m : all_m) ms.push_back(m.get());
  }
  for (Machine* m : ms) {
    // A thread may be blocked in the poller again before seeing `stopping`: keep poking.
    while (m->thread.joinable()) {
      poller->Wake();
      m->thread.join();
    }
  }
}

// ---------------------------------------------------------------- timers and netpoll

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
  Machine* m = CurrentMachine();
  if (m != nullptr && m->rt->generation == generation) return remove(m->rt);
  ThreadMutexLock l(&g_runtime_mu);  // holds off teardown
  Runtime* rt = g_runtime.load(std::memory_order_acquire);
  if (rt == nullptr || rt->generation != generation) return absl::OkStatus();
  return remove(rt);
}

uint64_t CurrentRuntimeGeneration() {
  if (Machine* m = CurrentMachine()) return m->rt->generation;
  return g_running_generation.load(std::memory_order_acquire);
}

// ---------------------------------------------------------------- counters

int Procs() {
  return WithRuntime([](Runtime* rt) { return rt ? rt->procs : 0; });
}

RuntimeStats GetRuntimeStats() {
  return WithRuntime([](Runtime* rt) {
    if (rt == nullptr) return RuntimeStats{};
    RuntimeStats s{};
    s.fibers_created = rt->created.load();
    s.fibers_live = rt->live.load();
    s.steals = rt->steals.load();
    s.polls_blocking = rt->polls_blocking.load();
    s.handoffs = rt->handoffs.load();
    s.stalls_reported = rt->stalls_reported.load();
    {
      ThreadMutexLock l(&rt->m_mu);
      s.threads = static_cast<int64_t>(rt->all_m.size());
    }
    return s;
  });
}

int NumFibers() {
  return WithRuntime([](Runtime* rt) {
    return rt ? static_cast<int>(rt->live.load(std::memory_order_relaxed)) : 0;
  });
}

// ---------------------------------------------------------------- Run

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
  if (CurrentMachine() != nullptr) ABSL_RAW_LOG(FATAL, "gonet::Run called from inside a fiber");
  RuntimeConfig c = opts;
  if (c.procs <= 0) c.procs = static_cast<int>(std::thread::hardware_concurrency());
  if (c.procs <= 0) c.procs = 1;
  if (c.procs > 1024) c.procs = 1024;
  if (c.max_threads < c.procs) {
    ABSL_RAW_LOG(FATAL, "gonet::Run: max_threads (%d) is below procs (%d)", c.max_threads, c.procs);
  }
  RaiseFileLimit();
  InstallOverflowHandler();
  InitProcessWideBarrier();
  if (c.dump_on_sigquit) InstallSigquitDump();
  auto rt = std::make_unique<Runtime>(c);
  {
    ThreadMutexLock l(&g_runtime_mu);
    Runtime* expected = nullptr;
    if (!g_runtime.compare_exchange_strong(expected, rt.get())) {
      ABSL_RAW_LOG(FATAL, "gonet::Run: another Run is active in this process");
    }
    g_running_generation.store(rt->generation, std::memory_order_release);
  }
  // For debuggers (tools/gdb/gonet_fibers.py): the list head of the active Run.
  gonet_debug_fiber_list = &rt->all_fibers;
  rt->Start(std::move(main));
  rt->WaitMainAndStop();
  {
    ThreadMutexLock l(&g_runtime_mu);
    g_runtime.store(nullptr, std::memory_order_release);
    g_running_generation.store(0, std::memory_order_release);
  }
  gonet_debug_fiber_list = nullptr;
  // Plain threads waiting on something only an abandoned fiber could do (Close waiting
  // for a parked Read's reference) re-check now: RuntimeRunning() turned false.
  NotifyThreadWaiters();
  RunTeardownHooks(rt->generation);
  rt.reset();
}

}  // namespace gonet::fiber_internal
