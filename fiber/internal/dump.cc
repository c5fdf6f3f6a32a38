// Go's goroutine dump (runtime.tracebackothers, and the SIGQUIT handler that prints
// it), re-implemented for fibers. Differences: stacks follow the frame-pointer chain
// from a parked fiber's saved registers (Bazel's default toolchain builds with
// -fno-omit-frame-pointer; a frame of code built without them ends the walk early:
// the dump then says "...frames without frame pointers not shown..."), and are
// symbolized with Abseil (function names, no file:line); SIGQUIT is turned into a
// wake-up of a dumper thread, which formats the dump outside the signal handler.
// No DWARF unwinder: libunwind costs two system calls a frame (it blocks signals
// around its global cache), 270 ms for 10k parked fibers here instead of 15 ms, and a
// run-time library every gonet binary would need.
//
// Output (see gonet::DumpFibers in fiber.h), one block per fiber, blank line between:
//   fiber 7 [IO wait (fd 9, read), 5 minutes]:
//   #0  0x000055d0c0a1b2c3 gonet::fiber_internal::SwitchTo()
//   #1  0x000055d0c0a1b400 gonet::fiber_internal::Park()
//   ...
//   created by Serve at net/server.cc:42 in fiber 1
// The calling fiber comes first, the others by ascending id. Wait durations: Go's
// "N minutes" from one minute on (Go's words, "1 minutes" included, so that tools that
// parse Go dumps read ours); below that milliseconds under one second ("12ms") and
// tenths of a second otherwise ("3.5s"). CoarseMonoNanos() has a few ms of resolution.
// Stacks: parked and runnable fibers from their saved context, the calling fiber its
// own live stack; other running fibers and fibers in Blocking() show none (their
// registers live on another thread).
#include "fiber/internal/dump.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>
#include <ucontext.h>

#include "absl/base/attributes.h"
#include "absl/base/internal/raw_logging.h"
#include "absl/container/flat_hash_map.h"
#include "absl/debugging/symbolize.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fiber/internal/scheduler.h"

namespace gonet::fiber_internal {
namespace {

constexpr int kMaxFrames = 64;  // deeper stacks end with Go's "...additional frames elided..."

// What the dump needs of one fiber, copied while VisitFibers holds switches off; the
// slow part (symbols, text) runs after it returns.
struct FiberRecord {
  uint64_t id;
  uint64_t parent_id;
  FiberStatus status;
  WaitInfo wait;
  int64_t wait_since_ns;
  SpawnSite site;
  bool self;          // the calling fiber
  bool has_stack;     // pcs[first, first + count) of FiberDumper::pcs_
  bool elided;        // more than kMaxFrames frames
  bool truncated;     // the chain went through a frame without a frame pointer
  uint32_t first;
  uint32_t count;
};

// Sanity bounds of an unwind: the stack pointer of every frame must stay inside the
// fiber's stack, so a frame whose pointers left the stack is not followed.
bool InStack(const Stack& s, uintptr_t sp, size_t bytes = 0) {
  auto lo = reinterpret_cast<uintptr_t>(s.lo);
  return sp >= lo && sp <= lo + s.size && bytes <= lo + s.size - sp;
}

// The registers a walk starts from.
struct Regs {
  uintptr_t pc = 0;
  uintptr_t fp = 0;
};

// The registers a switched-out fiber resumes with (only pc and the frame pointer
// matter). False if the saved frame is not inside the fiber's stack. Not under TSan:
// see Snapshot.
__attribute__((no_sanitize("thread", "address"))) bool SavedContext(const Fiber& f, Regs* out) {
#if defined(GONET_CONTEXT_UCONTEXT)
  // swapcontext saved the registers as of its return: pc is the return address into
  // SwitchContext.
#if defined(__x86_64__)
  const auto& g = f.ctx.uc.uc_mcontext.gregs;
  if (!InStack(f.stack, static_cast<uintptr_t>(g[REG_RSP]))) return false;
  out->pc = static_cast<uintptr_t>(g[REG_RIP]);
  out->fp = static_cast<uintptr_t>(g[REG_RBP]);
#elif defined(__aarch64__)
  const auto& m = f.ctx.uc.uc_mcontext;
  if (!InStack(f.stack, m.sp)) return false;
  out->pc = m.pc;
  out->fp = m.regs[29];
#else
#error "fiber dump: no saved-context reader for this CPU"
#endif
#else
  // context_asm.cc's frame at ctx.sp; the registers as of gonet_switch_context's ret.
  auto sp = reinterpret_cast<uintptr_t>(f.ctx.sp);
#if defined(__x86_64__)
  // Words: fpu cw, mxcsr, r15, r14, r13, r12, rbx, rbp, return address.
  if (!InStack(f.stack, sp, 9 * 8)) return false;
  const auto* w = reinterpret_cast<const uint64_t*>(sp);
  out->fp = w[7];
  out->pc = w[8];
#elif defined(__aarch64__)
  // 176 bytes: x19..x28 at 0..72, x29 (fp) at 80, x30 (lr) at 88, d8..d15, fpcr.
  if (!InStack(f.stack, sp, 176)) return false;
  const auto* w = reinterpret_cast<const uint64_t*>(sp);
  out->fp = w[10];
  out->pc = w[11];
#else
#error "fiber dump: no saved-context reader for this CPU"
#endif
#endif
  return true;
}

// Follows the frame-pointer chain from `regs` within [lo, hi): every frame pointer
// aligned, inside the range, above the previous one. On both CPUs a frame record is
// {saved frame pointer, return address}. A chain that ends anywhere but at the root
// (a zero frame pointer or return address, as a context's first frame leaves them)
// went through code without frame pointers: the record says so (truncated).
__attribute__((no_sanitize("thread", "address"))) void FramePointerWalk(
    Regs regs, uintptr_t lo, uintptr_t hi, std::vector<uintptr_t>* pcs, FiberRecord* r) {
  const size_t start = pcs->size();
  r->first = static_cast<uint32_t>(start);
  r->count = 0;
  r->elided = false;
  r->truncated = false;
  r->has_stack = true;
  if (regs.pc != 0) pcs->push_back(regs.pc);
  uintptr_t fp = regs.fp;
  for (;;) {
    if (fp == 0) break;  // the root frame: a complete chain
    if (fp % sizeof(uintptr_t) != 0 || fp < lo || fp > hi - 2 * sizeof(uintptr_t)) {
      r->truncated = true;
      break;
    }
    const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
    const uintptr_t next_fp = frame[0];
    const uintptr_t ret = frame[1];
    if (ret == 0) break;
    if (pcs->size() - start == static_cast<size_t>(kMaxFrames)) {
      r->elided = true;
      break;
    }
    pcs->push_back(ret);
    if (next_fp != 0 && next_fp <= fp) {
      r->truncated = true;
      break;
    }
    fp = next_fp;
  }
  r->count = static_cast<uint32_t>(pcs->size() - start);
}

// The calling thread's stack from the caller of this function on: the running
// fiber's stack, or a plain thread's (its bounds from pthread).
ABSL_ATTRIBUTE_NOINLINE void UnwindSelf(const Fiber* self, std::vector<uintptr_t>* pcs,
                                        FiberRecord* r) {
  auto fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  uintptr_t lo = fp, hi = fp + (uintptr_t{1} << 20);
  if (self != nullptr) {
    lo = reinterpret_cast<uintptr_t>(self->stack.lo);
    hi = lo + self->stack.size;
  } else {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* addr = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &addr, &size) == 0) {
        lo = reinterpret_cast<uintptr_t>(addr);
        hi = lo + size;
      }
      pthread_attr_destroy(&attr);
    }
  }
  // Start at our own frame record: its return address is the caller's pc.
  Regs regs;
  regs.pc = 0;
  regs.fp = fp;
  FramePointerWalk(regs, lo, hi, pcs, r);
  ABSL_BLOCK_TAIL_CALL_OPTIMIZATION();
}

// Abseil's symbolizer needs no InitializeSymbolizer() call on ELF systems (it reads
// /proc/self/maps and the mapped files); names are cached for the dump's duration, as
// thousands of fibers share the same few dozen frames.
class Symbols {
 public:
  // `pc - 1` for return addresses: one may be just past the end of its function (a
  // call to a noreturn function), so look up the call instruction instead.
  const std::string& Name(uintptr_t lookup) {
    auto [it, inserted] = cache_.try_emplace(lookup);
    if (inserted) {
      char buf[1024];
      if (absl::Symbolize(reinterpret_cast<void*>(lookup), buf, sizeof(buf))) {
        it->second = buf;
      } else {
        it->second = "??";
      }
    }
    return it->second;
  }

 private:
  absl::flat_hash_map<uintptr_t, std::string> cache_;
};

std::string FormatWaitDuration(int64_t ns) {
  if (ns < 0) ns = 0;
  constexpr int64_t kMinute = 60'000'000'000;
  if (ns >= kMinute) return absl::StrFormat("%d minutes", ns / kMinute);
  if (ns < 1'000'000'000) return absl::StrFormat("%dms", ns / 1'000'000);
  return absl::StrFormat("%.1fs", static_cast<double>(ns / 100'000'000) / 10);
}

void AppendHeader(const FiberRecord& r, int64_t now, std::string* out) {
  absl::StrAppend(out, "fiber ", r.id, " [");
  switch (r.status) {
    case FiberStatus::kRunnable:
      out->append("runnable");
      break;
    case FiberStatus::kRunning:
      out->append("running");
      break;
    case FiberStatus::kBlocking:
      absl::StrAppend(out, "Blocking, ", FormatWaitDuration(now - r.wait_since_ns));
      break;
    case FiberStatus::kWaiting:
      out->append(WaitReasonName(r.wait.reason));
      if (r.wait.reason == WaitReason::kIOWait && r.wait.fd >= 0) {
        absl::StrAppend(out, " (fd ", r.wait.fd, r.wait.mode == 'w' ? ", write)" : ", read)");
      }
      absl::StrAppend(out, ", ", FormatWaitDuration(now - r.wait_since_ns));
      break;
    case FiberStatus::kFree:
      out->append("free");
      break;
  }
  out->append("]:\n");
}

// One fiber's record, its stack unwound if it is switched out. The fields and the
// stack were written by other threads with no happens-before edge that TSan can see:
// the ordering is VisitFibers' (no fiber is switched in or out while fn runs, see
// scheduler.h), so this read is exempt from TSan.
__attribute__((no_sanitize("thread"))) FiberRecord Snapshot(const Fiber& f, FiberStatus status,
                                                             std::vector<uintptr_t>* pcs) {
  FiberRecord r{};
  r.id = f.id;
  r.parent_id = f.parent_id;
  r.status = status;
  r.wait = f.wait;
  r.wait_since_ns = f.wait_since_ns;
  r.site = f.site;
  if (status == FiberStatus::kWaiting || status == FiberStatus::kRunnable) {
    Regs regs;
    if (SavedContext(f, &regs)) {
      const auto lo = reinterpret_cast<uintptr_t>(f.stack.lo);
      FramePointerWalk(regs, lo, lo + f.stack.size, pcs, &r);
    }
  }
  return r;
}

}  // namespace

void WriteFiberDump(std::ostream& out) {
  std::vector<FiberRecord> records;
  std::vector<uintptr_t> pcs;
  const Fiber* self = CurrentFiber();
  FiberRecord self_stack{};
  UnwindSelf(self, &pcs, &self_stack);  // from here: WriteFiberDump, DumpFibers, the caller
  VisitFibers([&](const Fiber& f) {
    FiberRecord r = Snapshot(f, f.status.load(std::memory_order_acquire), &pcs);
    r.self = &f == self;
    if (r.self) {
      r.has_stack = true;
      r.first = self_stack.first;
      r.count = self_stack.count;
      r.elided = self_stack.elided;
      r.truncated = self_stack.truncated;
    }
    records.push_back(r);
  });
  std::sort(records.begin(), records.end(), [](const FiberRecord& a, const FiberRecord& b) {
    if (a.self != b.self) return a.self;
    return a.id < b.id;
  });

  const int64_t now = CoarseMonoNanos();
  Symbols symbols;
  std::string text;
  for (size_t i = 0; i < records.size(); ++i) {
    const FiberRecord& r = records[i];
    text.clear();
    if (i > 0) text.push_back('\n');
    AppendHeader(r, now, &text);
    if (r.has_stack) {
      for (uint32_t k = 0; k < r.count; ++k) {
        const uintptr_t pc = pcs[r.first + k];
        // Frame 0 is where the fiber resumes: an exact pc (a fresh fiber's entry point)
        // or a return address into a call that returns, so in the same function.
        absl::StrAppendFormat(&text, "#%-3d0x%016x %s\n", k, pc, symbols.Name(k == 0 ? pc : pc - 1));
      }
      if (r.elided) text.append("...additional frames elided...\n");
      if (r.truncated) text.append("...frames without frame pointers not shown...\n");
      if (r.count == 0) text.append("stack unavailable (saved context outside the stack)\n");
    } else if (r.status == FiberStatus::kRunning) {
      text.append("fiber running on another thread; stack unavailable\n");
    } else if (r.status == FiberStatus::kBlocking) {
      text.append("fiber in Blocking() on its own thread; stack unavailable\n");
    }
    if (r.site.function != nullptr || r.site.file != nullptr) {
      absl::StrAppend(&text, "created by ", r.site.function ? r.site.function : "?", " at ",
                      r.site.file ? r.site.file : "?", ":", r.site.line);
      if (r.parent_id != 0) absl::StrAppend(&text, " in fiber ", r.parent_id);
      text.push_back('\n');
    }
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  out.flush();
}

// ------------------------------------------------------------------- SIGQUIT

namespace {

// The pipe from the signal handler to the dumper thread; written once, before the
// handler is installed, then only read.
int g_sigquit_pipe[2] = {-1, -1};

void OnSigquit(int) {
  // Async-signal-safe: one write(2), errno preserved. Further signals while the dump
  // runs only add bytes nobody reads.
  const int saved = errno;
  const char b = 'q';
  (void)!write(g_sigquit_pipe[1], &b, 1);
  errno = saved;
}

void WriteAll(int fd, const std::string& s) {
  size_t done = 0;
  while (done < s.size()) {
    ssize_t n = write(fd, s.data() + done, s.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// The dumper thread (Go's crash path on SIGQUIT): waits for the handler's byte, prints
// "SIGQUIT: quit" and the dump to stderr, and exits with status 2 without running
// destructors or atexit handlers (the program's state is whatever it was).
void DumperMain() {
  char b;
  for (;;) {
    ssize_t n = read(g_sigquit_pipe[0], &b, 1);
    if (n == 1) break;
    if (n < 0 && errno == EINTR) continue;
    ABSL_RAW_LOG(FATAL, "SIGQUIT dumper: read from its pipe failed: %s", strerror(errno));
  }
  WriteAll(2, "SIGQUIT: quit\n\n");
  std::ostringstream dump;
  WriteFiberDump(dump);
  WriteAll(2, dump.str());
  _exit(2);
}

}  // namespace

void InstallSigquitDump() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (pipe2(g_sigquit_pipe, O_CLOEXEC) != 0) {
      ABSL_RAW_LOG(FATAL, "dump_on_sigquit: pipe2: %s", strerror(errno));
    }
    // The dumper lives as long as the process (started once, lazily, by the first Run
    // that asks for it); it blocks every signal so that SIGQUIT goes to another thread.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    std::thread(DumperMain).detach();
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    struct sigaction sa {};
    sa.sa_handler = &OnSigquit;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(SIGQUIT, &sa, nullptr) != 0) {
      ABSL_RAW_LOG(FATAL, "dump_on_sigquit: sigaction: %s", strerror(errno));
    }
  });
}

}  // namespace gonet::fiber_internal
