#include "fiber/internal/stack.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "absl/base/internal/raw_logging.h"
#include "fiber/internal/sanitizer.h"

namespace gonet::fiber_internal {
namespace {

constexpr size_t kSlabStacks = 64;

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

size_t GuardedBudget() {
  // ThreadSanitizer keeps shadow mappings for every stack address it has seen, even
  // after the stack is unmapped: under TSan, take every stack from the slabs.
  if (kUnderTsan) return 0;
  long max_maps = 65530;
  std::ifstream f("/proc/sys/vm/max_map_count");
  if (f) f >> max_maps;
  if (max_maps < 1000) max_maps = 1000;
  return static_cast<size_t>(max_maps) * 2 / 5 / 2;  // 40% of the mappings, 2 per stack
}

}  // namespace

StackPool::StackPool(size_t stack_size)
    : stack_size_(RoundUp(stack_size < 16384 ? 16384 : stack_size, PageSize())),
      guarded_budget_(GuardedBudget()) {}

StackPool::~StackPool() {
  std::lock_guard<std::mutex> l(mu_);
  for (const Mapping& m : mappings_) {
#if GONET_HAVE_ASAN
    // Fibers abandoned at the end of Run leave their frames' redzones poisoned in ASan's
    // shadow; munmap does not clear it, and whatever the kernel maps at these addresses
    // next (another Run's stacks, a large malloc) would inherit the stale poison.
    __asan_unpoison_memory_region(m.base, m.len);
#endif
    munmap(m.base, m.len);
  }
}

Stack StackPool::Allocate() {
  std::lock_guard<std::mutex> l(mu_);
  if (!free_.empty()) {
    Stack s = free_.back();
    free_.pop_back();
    return s;
  }
  const size_t page = PageSize();
  if (guarded_mapped_ < guarded_budget_) {
    size_t len = stack_size_ + page;
    void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
      ABSL_RAW_LOG(FATAL, "runtime: cannot allocate a %zu-byte fiber stack: mmap: %s", len,
                   strerror(errno));
    }
    char* base = static_cast<char*>(p);
    if (mprotect(base, page, PROT_NONE) != 0) {
      ABSL_RAW_LOG(FATAL, "runtime: cannot protect a fiber stack guard page: mprotect: %s",
                   strerror(errno));
    }
    mappings_.push_back({base, len});
    ++guarded_mapped_;
    // No canary here: the guard page catches overflows, and writing a canary would
    // touch (and make resident) the stack's lowest page for nothing.
    Stack s{base + page, stack_size_, base, base + page, false};
    return s;
  }
  // Unguarded slab: one mapping for kSlabStacks stacks, canary-checked.
  size_t len = stack_size_ * kSlabStacks;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) {
    ABSL_RAW_LOG(FATAL, "runtime: cannot allocate a %zu-byte fiber stack slab: mmap: %s", len,
                 strerror(errno));
  }
  char* base = static_cast<char*>(p);
  mappings_.push_back({base, len});
  for (size_t i = 1; i < kSlabStacks; ++i) {
    Stack s{base + i * stack_size_, stack_size_, nullptr, nullptr, true};
    *reinterpret_cast<uint64_t*>(s.lo) = kStackCanary;
    free_.push_back(s);
  }
  Stack s{base, stack_size_, nullptr, nullptr, true};
  *reinterpret_cast<uint64_t*>(s.lo) = kStackCanary;
  return s;
}

void StackPool::Free(const Stack& s) {
  std::lock_guard<std::mutex> l(mu_);
  free_.push_back(s);
}

[[noreturn]] void DieStackOverflow(uint64_t fiber_id, const char* how) {
  char msg[160];
  int n = snprintf(msg, sizeof msg,
                   "fiber %llu: stack overflow%s (raise RuntimeOptions::stack_size)\n",
                   static_cast<unsigned long long>(fiber_id), how);
  if (n > 0) (void)!write(2, msg, static_cast<size_t>(n));
  signal(SIGSEGV, SIG_DFL);
  signal(SIGABRT, SIG_DFL);
  abort();
}

namespace {

struct sigaction g_previous_segv;

void OnSegv(int sig, siginfo_t* info, void* uctx) {
  FaultInfo fi;
  if (CurrentFaultInfo(&fi) && fi.guard_lo != nullptr) {
    const char* addr = static_cast<const char*>(info->si_addr);
    // A frame that jumps past the guard still lands close below it: accept a little slack.
    if (addr >= fi.guard_lo - 64 * 1024 && addr < fi.guard_hi) DieStackOverflow(fi.fiber_id, "");
  }
  // Not ours: hand over to whoever was installed before, or die as the default would.
  if (g_previous_segv.sa_flags & SA_SIGINFO) {
    if (g_previous_segv.sa_sigaction != nullptr) {
      g_previous_segv.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (g_previous_segv.sa_handler != SIG_DFL && g_previous_segv.sa_handler != SIG_IGN) {
    g_previous_segv.sa_handler(sig);
    return;
  }
  signal(SIGSEGV, SIG_DFL);  // returning re-executes the access and dies by SIGSEGV
}

}  // namespace

void InstallOverflowHandler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = &OnSegv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &g_previous_segv);
  });
}

void* SetUpAltStack() {
  const size_t size = 64 * 1024;
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  stack_t ss{};
  ss.ss_sp = p;
  ss.ss_size = size;
  ss.ss_flags = 0;
  if (sigaltstack(&ss, nullptr) != 0) {
    munmap(p, size);
    return nullptr;
  }
  return p;
}

void ReleaseAltStack(void* alt) {
  if (alt == nullptr) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(alt, 64 * 1024);
}

}  // namespace gonet::fiber_internal
