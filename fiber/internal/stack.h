// stack.h: fiber stacks, mmap'ed and pooled for reuse, each with a guard below it.
//
// An access to a stack's guard faults, and the SIGSEGV handler (on an alternate signal
// stack) prints "fiber N: stack overflow" and kills the process. The guard is large,
// kStackGuardSize (256 KiB) plus one page, because the stack below it belongs to
// another, live fiber: a frame larger than the guard could jump it and corrupt that
// stack silently. Our code is built with -fstack-clash-protection (.bazelrc), which
// probes each page of a large frame from the top, so any guard catches its frames; the
// 256 KiB cover the frames of code built without it (libc, Debian's Abseil, a user's
// build), 64 KiB buffers and more included. A guard costs address space, never RAM; the
// extra page keeps the stride between stacks off a power of two (with a 512 KiB stride
// every stack's top falls in the same cache sets: measured, a switch among 1000 fibers
// took 33 ns instead of 18).
//
// The kernel limits a process to vm.max_map_count mappings (VMAs; default 65530);
// mprotect splits a mapping in two, and adjacent mappings merge only when alike. So, in
// order of preference:
//  1. Linux >= 6.13: slabs of 64 stacks in one mapping, each stack's guard made of
//     page-table markers by madvise(MADV_GUARD_INSTALL): no VMA split, and consecutive
//     slabs merge. Every stack has its own guard, however many there are (measured:
//     50k parked fibers, about 60 mappings in the whole process).
//  2. Older kernels: while per-stack mappings use at most 80% of vm.max_map_count, each
//     stack is a mapping of its own:
//     - kHoles (x86-64, not under TSan): one VMA per stack, so 52,424 stacks at the
//       default limit (50k fibers are all guarded; measured: 50,059 mappings). Each stack
//       is placed with MAP_FIXED_NOREPLACE in an address range reserved by convention
//       (32-36 TiB), and its guard is an unmapped hole below it. The kernel never places
//       a mapping in such a hole on its own: its top-down allocator takes the highest
//       free gap that fits, and tens of TiB are free above the range; the legacy
//       bottom-up one never goes below TASK_SIZE/3 (42.7 TiB). What could land in a
//       hole: a mapping made by other code with an address hint (or MAP_FIXED) inside
//       the range; an overflow of the stack above it would then go into that mapping
//       undetected.
//     - kProtNone (elsewhere): a PROT_NONE guard, two VMAs per stack: 26,212 stacks.
//  3. Past that budget on older kernels, and under ThreadSanitizer without guard
//     regions (TSan keeps shadow mappings of every stack address it has seen, so no
//     per-stack mappings there): slabs of 64 stacks with ONE guard below the whole slab
//     (1 or 2 VMAs per slab) and a canary word at the bottom of each stack. There an
//     overflow is reported, but not always before damage: a frame that writes the
//     canary word is reported at the fiber's next switch ("fiber N: stack overflow
//     (canary overwritten)"); a recursion that never yields runs down through the
//     stacks below it in the slab, corrupting them (their fibers are parked), until it
//     hits the slab's guard ("fiber N: stack overflow through the unguarded stacks below
//     it"); an overflow that returns before reaching the guard and spares the canary
//     word goes unnoticed.
// What no guard catches: a frame larger than the guard plus the free space left in its
// stack, in code built without stack-clash probes, whose accesses all land inside the
// stack below (silent corruption).
//
// Thread safety: StackPool is internally locked; cheap per-worker caching is done by
// the scheduler, which recycles whole fibers (with their stacks).
#ifndef GONET_FIBER_INTERNAL_STACK_H_
#define GONET_FIBER_INTERNAL_STACK_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace gonet::fiber_internal {

struct Stack {
  char* lo = nullptr;      // lowest usable byte
  size_t size = 0;         // usable bytes
  // A fault at an address (or with the stack pointer) in [guard_lo, guard_hi) while this
  // stack's fiber runs is its overflow. guard_hi == lo. A guarded stack: its own guard.
  // A slab stack: the guard below its slab and the slab's stacks below this one.
  char* guard_lo = nullptr;
  char* guard_hi = nullptr;
  bool from_slab = false;  // an unguarded, canary-checked slab stack (step 3)
};

inline constexpr uint64_t kStackCanary = 0x600dfeedfacecafeULL;
inline constexpr size_t kStackGuardSize = 256 << 10;  // plus one page

// How stacks get a mapping of their own (step 2 above).
enum class StackGuardKind { kAuto, kHoles, kProtNone };
const char* StackGuardKindName(StackGuardKind k);

// What `requested` gives in this process: kAuto is kHoles where holes work, else
// kProtNone; kHoles where they do not is kProtNone.
StackGuardKind ResolveStackGuard(StackGuardKind requested);
// How many stacks of that (resolved) kind a pool guards with mappings of their own:
// 80% of vm.max_map_count over the mappings per stack; 0 under TSan.
size_t PerStackGuardBudget(StackGuardKind resolved);
// Whether this kernel has MADV_GUARD_INSTALL (the guard-region slabs of step 1).
bool StackGuardRegionsSupported();

// Tests: StackPools created from now on use guard-region slabs if `guard_regions` (and
// supported); else `per_stack` guards for at most `budget` stacks (SIZE_MAX:
// PerStackGuardBudget), then canary slabs.
void SetStackGuardForTesting(StackGuardKind per_stack = StackGuardKind::kAuto,
                             size_t budget = SIZE_MAX, bool guard_regions = true);

class StackPool {
 public:
  explicit StackPool(size_t stack_size);
  ~StackPool();  // unmaps everything, in use or not (the runtime is gone)

  size_t stack_size() const { return stack_size_; }
  Stack Allocate();
  void Free(const Stack& s);

  static bool CanaryIntact(const Stack& s) {
    return *reinterpret_cast<const uint64_t*>(s.lo) == kStackCanary;
  }

 private:
  struct Mapping {
    char* base;
    size_t len;
  };
  char* MapGuarded(size_t len);  // kHoles / kProtNone: len bytes with a guard below
  char* MapInHoleRange(size_t len);
  bool NewGuardRegionSlab();     // false: refused after all
  void NewCanarySlab();

  const size_t stack_size_;
  const size_t guard_size_;
  std::mutex mu_;  // not absl::Mutex: see scheduler.cc (TSan visibility)
  StackGuardKind kind_;          // kHoles or kProtNone (may fall back to the latter)
  size_t guarded_budget_;        // most per-stack mappings
  bool guard_regions_;           // guard-region slabs (step 1)
  size_t guarded_mapped_ = 0;
  uintptr_t hole_cursor_ = 0;    // kHoles: where the next mapping goes
  std::vector<Stack> free_;
  std::vector<Mapping> mappings_;
};

// Installs (once per process) the SIGSEGV handler that names overflowing fibers, and
// gives the calling thread an alternate signal stack (per worker thread; freed by
// ReleaseAltStack on the same thread).
void InstallOverflowHandler();
void* SetUpAltStack();
void ReleaseAltStack(void* alt);

// Called by the SIGSEGV handler and the canary check: the running fiber's id and
// guard range, or nullptr when the thread runs no fiber. Defined by the scheduler.
struct FaultInfo {
  uint64_t fiber_id;
  const char* guard_lo;
  const char* guard_hi;
};
bool CurrentFaultInfo(FaultInfo* out);

[[noreturn]] void DieStackOverflow(uint64_t fiber_id, const char* how);

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_STACK_H_
