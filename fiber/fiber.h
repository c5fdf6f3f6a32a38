// fiber.h: gonet's runtime: fibers (goroutines) on an M:N scheduler with a built-in
// netpoller. Go's runtime scheduler, re-implemented in C++20.
//
//   gonet::Run([] {
//     gonet::fiber::WaitGroup wg;
//     for (int i = 0; i < 3; ++i) { wg.Add(1); gonet::Go([&wg] { ...; wg.Done(); }); }
//     wg.Wait();
//   }, {.procs = 2});
//
// Run() starts `procs` procs with a thread each (Go's GOMAXPROCS) and a monitor
// thread, runs `main` as the first fiber and returns when main returns, as a Go
// program exits when main returns. At that point:
//  - every thread of the runtime has been stopped and joined (none is left running);
//  - fibers still parked or runnable are abandoned: they never run again, their stacks
//    are unmapped and the runtime's memory is freed, but objects living on their stacks
//    or owned by them (their captured state) are NOT destroyed; release what matters
//    before main returns (close conns, join with a WaitGroup);
//  - a fiber still running on another thread (no park, no yield, or inside Blocking)
//    is waited for: Run returns once every thread has reached a scheduling point.
// Shutdown with parked fibers (a Go process never meets this: it exits). What an
// abandoned fiber holds is never released by it: a lock it owns stays locked, a
// reference it holds on a socket (a parked Accept, Read or Write) is never dropped.
// So, once Run has returned:
//  - Close() and the destructors of net's Conn and Listener never wait for abandoned
//    fibers: they close the descriptor at once, from any thread (also from a fiber of a
//    later Run). A plain thread already blocked in Close() when Run ends is released.
//  - A socket that only an abandoned fiber could reach (a Dial still connecting) is
//    closed by Run itself, before it returns; no descriptor leaks.
//  - fiber::Mutex, CondVar, WaitGroup and Channel objects that abandoned fibers wait on
//    must not be used again (their wait queues name fibers that no longer exist).
// Run() may be called again after it returns (tests call it thousands of times), but
// only one Run may be active in a process at a time, and never from inside a fiber.
//
// Exceptions: the C++ exception state (the caught-exception stack, what `throw;` and
// std::current_exception() see, and std::uncaught_exceptions()) belongs to each fiber
// and travels with it across parks and threads: a fiber may park inside a catch block.
// An exception that escapes a fiber's function kills the process with
// "fiber N: uncaught exception: <what()>" (Go: an unrecovered panic).
//
// Scheduling (Go's G, M and P): `procs` procs hold the right to run fibers, each with
// its own run queue; OS threads run fibers while they hold a proc. A fiber runs until
// it parks (sync objects, channels, I/O, Sleep), calls Yield(), or returns. A fiber
// readied by the running one runs next on the same thread (as in Go).
//
// Blocking calls and stalls. A fiber that blocks its thread would stall every fiber
// queued on that thread's proc; the runtime prevents this as Go's does:
//  - Wrap blocking calls in gonet::Blocking(fn) (file I/O, a thread-blocking lock,
//    getaddrinfo, sleep(), a long computation). If fn lasts more than a monitor tick
//    (20 us to 10 ms), the monitor thread hands the proc to another thread (a spare, or
//    a new one, up to RuntimeOptions::max_threads); the fiber continues on a thread
//    with a proc when fn returns. A short fn costs a few nanoseconds (no hand-off).
//  - A fiber that runs longer than RuntimeOptions::stall_report (default 10 ms) without
//    a scheduling point (a CPU-bound loop, or a blocking call not marked with
//    Blocking) is reported once on stderr with its id, how long it ran and where it was
//    created, and its proc (run queue, and the timers and poller that proc would serve)
//    moves to another thread, so the other fibers keep running.
//  - The stalled fiber itself is NOT preempted: it keeps its thread until it reaches a
//    scheduling point (then it queues like any other). Go interrupts a goroutine at a
//    safe point its compiler marked; C++ code has no such points. A fiber interrupted
//    inside malloc, or while holding any lock (a std::mutex, the allocator's, a logging
//    library's), would leave that lock held while other fibers run on its thread, and
//    the first of them to take the same lock would deadlock the thread. So a long
//    computation should still Yield() now and then to share its proc fairly.
// The network calls of //net never block a thread (they park on the netpoller); name
// lookups run inside Blocking.
//
// THREAD-LOCAL HAZARD: fibers migrate between threads at every park, Yield, I/O wait
// or Blocking() call. A thread_local read before such a point may belong to another thread after
// it; compilers may also cache a thread_local's address across the call. Do not keep
// pointers or references to thread_locals (including errno) across a park; re-read them.
// Libraries that keep per-thread state across a scope break the same way when the
// scope spans a park (a thread-local trace stack such as gtest's SCOPED_TRACE, a
// lock's owner recorded per thread).
//
// Stacks: fixed size (RuntimeOptions::stack_size, default 256 KiB), mmap'ed with a guard
// of 256 KiB (plus a page) below; an overflow into it kills the process with "fiber N:
// stack overflow". Every stack has a guard of its own on Linux >= 6.13 (however many
// fibers), and on older kernels up to 80% of vm.max_map_count stacks (52,424 at the
// default limit on x86-64, half that elsewhere). Past that (and under TSan on older
// kernels) 64 stacks share one guard: an overflow that never yields is still reported,
// but only after it has run through, and corrupted, the parked fibers' stacks below it
// in the slab; one that returns earlier is caught (at the fiber's next switch) only if
// it overwrote the stack's bottom word. Anywhere, a single frame larger than the guard
// plus its stack's free space, in code built without -fstack-clash-protection (this
// repository's build has it), can land in the next stack unseen. See
// fiber/internal/stack.h.
#ifndef GONET_FIBER_FIBER_H_
#define GONET_FIBER_FIBER_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <cstddef>
#include <functional>
#include <iosfwd>
#include <type_traits>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/time/time.h"

namespace gonet {

struct RuntimeOptions {
  int procs = 0;                  // procs (GOMAXPROCS): fibers run on this many threads
                                  // at a time; 0 = hardware concurrency
  size_t stack_size = 256 << 10;  // per-fiber stack, guard region below it
  // OS threads in all (Go's debug.SetMaxThreads): the procs' threads, threads inside
  // Blocking() or stalled whose proc moved on, and idle spare ones. Past it the process
  // dies with "runtime: program exceeds N-thread limit", as Go's does.
  int max_threads = 10000;
  // SIGQUIT prints DumpFibers() to stderr and exits with status 2 (Go's default).
  bool dump_on_sigquit = false;
  // A fiber that runs this long without a scheduling point is reported once on stderr
  // (its id, how long, where it was created). Zero: never report. Either way, its
  // proc's run queue, timers and poller move to another thread after this long (10 ms
  // when zero), so the other fibers keep running.
  absl::Duration stall_report = absl::Milliseconds(10);
};

// Where gonet::Go was called, captured by its default argument (GCC and clang
// builtins, so that it works with every standard library that gonet supports).
struct FiberSite {
  const char* file;
  const char* function;
  unsigned line;
  static constexpr FiberSite Here(const char* file = __builtin_FILE(),
                                  const char* function = __builtin_FUNCTION(),
                                  unsigned line = __builtin_LINE()) {
    return FiberSite{file, function, line};
  }
};

namespace fiber_detail {
// Blocking()'s two halves (scheduler): Enter marks the calling fiber's thread as
// inside a blocking call, so that the monitor may hand its proc to another thread;
// Exit takes a proc back (the fiber may resume on another thread). Both are cheap.
void* EnterBlocking();
void ExitBlocking(void* token);
}  // namespace fiber_detail

// Starts the runtime, runs `main` as the first fiber, returns when `main` returns.
// Also raises the soft RLIMIT_NOFILE to the hard limit (as Go 1.19 does at startup).
void Run(absl::AnyInvocable<void() &&> main, RuntimeOptions opts = {});

// Starts a new fiber (goroutine). Only valid while a Run is active (fatal otherwise:
// "gonet::Go called outside gonet::Run"). Any thread may call it, a plain thread too,
// also while Run is ending (the fiber is then abandoned with the others).
// `site` records the caller for DumpFibers and stall reports; leave it defaulted.
void Go(absl::AnyInvocable<void() &&> fn, FiberSite site = FiberSite::Here());

// Runs fn() on the calling thread while that thread's proc (its run queue, timers and
// share of the poller) is free to be taken by another thread: Go's entersyscall and
// exitsyscall. Put any call that may block the thread in it: file I/O, a lock of a
// thread-blocking library, getaddrinfo, sleep(), a long computation. The hand-off is
// lazy: the monitor thread moves the proc only once fn has run for a while (about
// 20 us to 10 ms), so a short call costs a few nanoseconds. Returns fn's result, and
// an exception thrown by fn propagates (the proc is taken back first). The fiber may
// continue on another thread afterwards (see THREAD-LOCAL HAZARD). Outside a fiber it
// just calls fn.
template <class F>
std::invoke_result_t<F&> Blocking(F&& fn) {
  struct Exit {
    void* token;
    ~Exit() { fiber_detail::ExitBlocking(token); }
  } exit{fiber_detail::EnterBlocking()};
  return std::invoke(fn);
}

// Writes every fiber of the active Run, in the shape of Go's goroutine dump:
//   fiber 7 [IO wait (fd 9, read), 5 minutes]:
//   #0  0x000055d0c0a1b2c3 gonet::fiber_internal::Park(...)
//   ...
//   created by main at server.cc:42
// one blank line between fibers. Running fibers show no stack (as in Go). Any thread;
// fibers are not resumed while their stacks are read, so a dump briefly delays them.
void DumpFibers(std::ostream& out);

// Live fibers of the active Run, the caller included (Go's runtime.NumGoroutine);
// 0 when no Run is active. Any thread.
int NumFibers();

// Lets other runnable fibers run; returns at once if there are none. Outside a fiber
// it yields the thread.
void Yield();

// Parks the calling fiber for d (at least; a non-positive d returns at once).
// Outside a fiber these sleep the thread.
void Sleep(absl::Duration d);
void SleepUntil(absl::Time t);

}  // namespace gonet

#endif  // GONET_FIBER_FIBER_H_
