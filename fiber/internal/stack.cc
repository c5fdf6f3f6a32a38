#include "fiber/internal/stack.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "absl/base/internal/raw_logging.h"
#include "fiber/internal/sanitizer.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102  // Linux 6.13; older kernels answer EINVAL
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000  // Linux 4.17; older kernels take it as a hint
#endif

namespace gonet::fiber_internal {
namespace {

constexpr size_t kSlabStacks = 64;
constexpr int kAnonFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

#if defined(__x86_64__)
// kHoles: the range its stacks and their holes live in. Far below where the kernel
// places mappings on its own (top-down from ~127 TiB, the executable at ~85 TiB, legacy
// bottom-up from 42.7 TiB up), above ASan's shadow (which ends at 16 TiB).
constexpr uintptr_t kHoleRangeLo = uintptr_t{32} << 40;
constexpr uintptr_t kHoleRangeHi = uintptr_t{36} << 40;
constexpr bool kHolesPossible = !kUnderTsan;  // TSan's mmap moves it to app memory
#else
constexpr uintptr_t kHoleRangeLo = 0;
constexpr uintptr_t kHoleRangeHi = 0;
constexpr bool kHolesPossible = false;
#endif

std::atomic<StackGuardKind> g_test_kind{StackGuardKind::kAuto};
std::atomic<size_t> g_test_budget{SIZE_MAX};
std::atomic<bool> g_test_guard_regions{true};

size_t PageSize() {
  static const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return page;
}

size_t RoundUp(size_t n, size_t to) { return (n + to - 1) / to * to; }

// One page more than a round size, so that stacks of a round size do not lie a power of
// two apart (see stack.h).
size_t GuardSize() { return RoundUp(kStackGuardSize, PageSize()) + PageSize(); }

size_t MaxMapCount() {
  static const size_t max_maps = [] {
    long n = 65530;
    std::ifstream f("/proc/sys/vm/max_map_count");
    if (f) f >> n;
    if (n < 1000) n = 1000;
    return static_cast<size_t>(n);
  }();
  return max_maps;
}

// Whether the byte at p is inaccessible: write(2) from it fails with EFAULT instead of
// faulting here.
bool Inaccessible(const void* p) {
  int fds[2];
  if (pipe(fds) != 0) return false;
  bool fault = write(fds[1], p, 1) < 0 && errno == EFAULT;
  close(fds[0]);
  close(fds[1]);
  return fault;
}

// Whether MAP_FIXED_NOREPLACE lands a mapping at the start of the hole range (not so
// under a sanitizer that reserves it, or on a kernel or architecture without the room).
bool HoleRangeWorks() {
  static const bool ok = [] {
    if (!kHolesPossible) return false;
    const size_t page = PageSize();
    // Its start, or (taken there) its middle.
    for (uintptr_t at : {kHoleRangeLo, (kHoleRangeLo + kHoleRangeHi) / 2}) {
      void* want = reinterpret_cast<void*>(at);
      void* p = mmap(want, page, PROT_READ | PROT_WRITE, kAnonFlags | MAP_FIXED_NOREPLACE, -1, 0);
      if (p == MAP_FAILED) {
        if (errno == EEXIST) continue;
        return false;
      }
      munmap(p, page);
      return p == want;  // elsewhere: the flag was taken as a hint, or a sanitizer moved it
    }
    return false;
  }();
  return ok;
}

}  // namespace

const char* StackGuardKindName(StackGuardKind k) {
  switch (k) {
    case StackGuardKind::kAuto: return "auto";
    case StackGuardKind::kHoles: return "holes";
    case StackGuardKind::kProtNone: return "prot-none";
  }
  return "?";
}

StackGuardKind ResolveStackGuard(StackGuardKind requested) {
  if (requested != StackGuardKind::kProtNone && HoleRangeWorks()) return StackGuardKind::kHoles;
  return StackGuardKind::kProtNone;
}

// ThreadSanitizer keeps shadow mappings for every stack address it has seen, even after
// the stack is unmapped: no per-stack mappings under TSan.
size_t PerStackGuardBudget(StackGuardKind resolved) {
  if (kUnderTsan) return 0;
  return MaxMapCount() * 4 / 5 / (resolved == StackGuardKind::kHoles ? 1 : 2);
}

bool StackGuardRegionsSupported() {
  static const bool ok = [] {
    const size_t page = PageSize();
    void* p = mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, kAnonFlags, -1, 0);
    if (p == MAP_FAILED) return false;
    bool works = madvise(p, page, MADV_GUARD_INSTALL) == 0 && Inaccessible(p) &&
                 !Inaccessible(static_cast<char*>(p) + page);
    munmap(p, 2 * page);
    return works;
  }();
  return ok;
}

void SetStackGuardForTesting(StackGuardKind per_stack, size_t budget, bool guard_regions) {
  g_test_kind.store(per_stack);
  g_test_budget.store(budget);
  g_test_guard_regions.store(guard_regions);
}

StackPool::StackPool(size_t stack_size)
    : stack_size_(RoundUp(stack_size < 16384 ? 16384 : stack_size, PageSize())),
      guard_size_(GuardSize()),
      kind_(ResolveStackGuard(g_test_kind.load())),
      guarded_budget_(std::min(PerStackGuardBudget(kind_), g_test_budget.load())),
      guard_regions_(g_test_guard_regions.load() && StackGuardRegionsSupported()),
      hole_cursor_(kHoleRangeLo) {}

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
  if (free_.empty()) {
    if (guard_regions_ && NewGuardRegionSlab()) {
      // free_ refilled
    } else if (guarded_mapped_ < guarded_budget_) {
      char* lo = MapGuarded(stack_size_);
      ++guarded_mapped_;
      // No canary here: the guard catches overflows, and writing a canary would touch
      // (and make resident) the stack's lowest page for nothing.
      return Stack{lo, stack_size_, lo - guard_size_, lo, false};
    } else {
      NewCanarySlab();
    }
  }
  Stack s = free_.back();
  free_.pop_back();
  return s;
}

void StackPool::Free(const Stack& s) {
  std::lock_guard<std::mutex> l(mu_);
  free_.push_back(s);
}

// kHoles or kProtNone: maps len bytes with a guard_size_ guard below them.
char* StackPool::MapGuarded(size_t len) {
  if (kind_ == StackGuardKind::kHoles) {
    if (char* lo = MapInHoleRange(len)) return lo;
    // The range is unusable after all: per-stack guards now cost two mappings (the
    // smaller budget applies from the next stack on).
    kind_ = StackGuardKind::kProtNone;
    guarded_budget_ = std::min(guarded_budget_, PerStackGuardBudget(kind_));
  }
  const size_t total = guard_size_ + len;
  void* p = mmap(nullptr, total, PROT_READ | PROT_WRITE, kAnonFlags, -1, 0);
  if (p == MAP_FAILED) {
    ABSL_RAW_LOG(FATAL, "runtime: cannot allocate a %zu-byte fiber stack: mmap: %s", total,
                 strerror(errno));
  }
  char* base = static_cast<char*>(p);
  if (mprotect(base, guard_size_, PROT_NONE) != 0) {
    ABSL_RAW_LOG(FATAL, "runtime: cannot protect a fiber stack guard: mprotect: %s",
                 strerror(errno));
  }
  mappings_.push_back({base, total});
  return base + guard_size_;
}

// kHoles: claims [cursor, cursor + guard + len) with MAP_FIXED_NOREPLACE (so the hole
// too is free at this moment), then unmaps the hole part. nullptr: give up on holes.
char* StackPool::MapInHoleRange(size_t len) {
  const size_t total = guard_size_ + len;
  for (int tries = 0; tries < 40; ++tries) {
    if (hole_cursor_ + total > kHoleRangeHi) return nullptr;
    void* want = reinterpret_cast<void*>(hole_cursor_);
    void* p = mmap(want, total, PROT_READ | PROT_WRITE, kAnonFlags | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == want) {
      char* base = static_cast<char*>(p);
      if (munmap(base, guard_size_) != 0) {
        ABSL_RAW_LOG(FATAL, "runtime: cannot unmap a fiber stack guard hole: munmap: %s",
                     strerror(errno));
      }
      hole_cursor_ += total;
      mappings_.push_back({base + guard_size_, len});
      return base + guard_size_;
    }
    if (p != MAP_FAILED) {  // the flag was taken as a mere hint (kernel < 4.17)
      munmap(p, total);
      return nullptr;
    }
    if (errno != EEXIST) return nullptr;
    // Taken (another pool still alive, or a foreign mapping): skip ahead, farther each
    // time, as the obstacle's size is unknown.
    hole_cursor_ += total << (tries < 20 ? tries : 20);
  }
  return nullptr;
}

// Linux >= 6.13: kSlabStacks stacks in one mapping,
// [guard][stack][guard][stack]..., each guard made of page-table markers by
// MADV_GUARD_INSTALL: no VMA split, so consecutive slabs even merge into one mapping.
bool StackPool::NewGuardRegionSlab() {
  const size_t slot = guard_size_ + stack_size_;
  const size_t len = slot * kSlabStacks;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, kAnonFlags, -1, 0);
  if (p == MAP_FAILED) {
    ABSL_RAW_LOG(FATAL, "runtime: cannot allocate a %zu-byte fiber stack slab: mmap: %s", len,
                 strerror(errno));
  }
  char* base = static_cast<char*>(p);
  // Touch each stack's top page first (the fiber's first frame goes there anyway): on
  // this project's VM (a paravirtualized guest), later page faults cost ~50% more (+15-20
  // us each) in page tables that the markers were installed into before anything else.
  for (size_t i = 0; i < kSlabStacks; ++i) {
    *reinterpret_cast<volatile char*>(base + (i + 1) * slot - 1) = 0;
  }
  for (size_t i = 0; i < kSlabStacks; ++i) {
    if (madvise(base + i * slot, guard_size_, MADV_GUARD_INSTALL) != 0) {
      // Worked at startup, refused now (a seccomp filter?): per-stack guards from now on.
      munmap(base, len);
      guard_regions_ = false;
      return false;
    }
  }
  mappings_.push_back({base, len});
  // Handed out lowest first (free_ is LIFO).
  for (size_t i = kSlabStacks; i-- > 0;) {
    char* lo = base + i * slot + guard_size_;
    free_.push_back(Stack{lo, stack_size_, lo - guard_size_, lo, false});
  }
  return true;
}

// Past the per-stack budget without guard regions: kSlabStacks stacks (a page apart,
// see GuardSize) in one mapping with a
// single guard below it; each stack has a canary word at its bottom. A stack's fault
// range covers the guard and the stacks below it in the slab (see Stack).
void StackPool::NewCanarySlab() {
  const size_t stride = stack_size_ + PageSize();
  char* base = MapGuarded(stride * kSlabStacks);
  for (size_t i = kSlabStacks; i-- > 0;) {
    char* lo = base + i * stride;
    *reinterpret_cast<uint64_t*>(lo) = kStackCanary;
    free_.push_back(Stack{lo, stack_size_, base - guard_size_, lo, true});
  }
}

[[noreturn]] void DieStackOverflow(uint64_t fiber_id, const char* how) {
  char msg[200];
  int n = snprintf(msg, sizeof msg,
                   "fiber %llu: stack overflow%s (raise RuntimeOptions::stack_size)\n",
                   static_cast<unsigned long long>(fiber_id), how);
  if (n > 0) (void)!write(2, msg, std::min(static_cast<size_t>(n), sizeof msg - 1));
  signal(SIGSEGV, SIG_DFL);
  signal(SIGABRT, SIG_DFL);
  abort();
}

namespace {

struct sigaction g_previous_segv;

// The interrupted stack pointer, or nullptr where not known.
const char* InterruptedSp(void* uctx) {
  const auto* uc = static_cast<const ucontext_t*>(uctx);
#if defined(__x86_64__)
  return reinterpret_cast<const char*>(uc->uc_mcontext.gregs[REG_RSP]);
#elif defined(__aarch64__)
  return reinterpret_cast<const char*>(uc->uc_mcontext.sp);
#else
  (void)uc;
  return nullptr;
#endif
}

void OnSegv(int sig, siginfo_t* info, void* uctx) {
  FaultInfo fi;
  if (CurrentFaultInfo(&fi) && fi.guard_lo != nullptr) {
    // Ours when the faulting address is in the running fiber's guard range, or its stack
    // pointer is (it went below its stack, and something else faulted). The range is
    // exact: below it lies another stack or a foreign mapping, not this fiber's business.
    const char* addr = static_cast<const char*>(info->si_addr);
    const char* sp = InterruptedSp(uctx);
    if ((addr >= fi.guard_lo && addr < fi.guard_hi) ||
        (sp != nullptr && sp >= fi.guard_lo && sp < fi.guard_hi)) {
      // A range other than one guard is a slab stack's (see Stack): its overflow ran
      // through the stacks below it. The stack pointer test can misname the fiber in one
      // case only: a fault inside SwitchTo between its setting the worker's current
      // fiber and its switching stacks (a runtime bug anyway).
      const bool through = static_cast<size_t>(fi.guard_hi - fi.guard_lo) != GuardSize();
      DieStackOverflow(fi.fiber_id, through ? " through the unguarded stacks below it" : "");
    }
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
