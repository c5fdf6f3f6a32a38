// stack.h: fiber stacks, mmap'ed and pooled for reuse.
//
// Guarding: each stack normally gets a PROT_NONE guard page below it, so an overflow
// faults instead of corrupting the neighbor; the SIGSEGV handler (on an alternate
// signal stack) then prints "fiber N: stack overflow" and the process dies.
// A guarded stack costs two kernel memory mappings (VMAs), and Linux caps a process at
// vm.max_map_count (default 65530). So the pool guards stacks only while guarded
// stacks use under about 40% of that budget (~26k stacks at the default); beyond it,
// stacks come from unguarded slabs (one mapping per 64 stacks), which carry a canary
// word at the bottom checked at every switch away from the fiber: an overflow there is
// still reported ("fiber N: stack overflow (canary)") but only after the fact, once the
// fiber yields. 50k+ parked fibers therefore work at the default limit.
//
// Thread safety: StackPool is internally locked; cheap per-worker caching is done by
// the scheduler, which recycles whole fibers (with their stacks).
#ifndef GONET_FIBER_INTERNAL_STACK_H_
#define GONET_FIBER_INTERNAL_STACK_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/base/thread_annotations.h"
#include <mutex>

namespace gonet::fiber_internal {

struct Stack {
  char* lo = nullptr;      // lowest usable byte
  size_t size = 0;         // usable bytes
  char* guard_lo = nullptr;  // guard page range, empty for slab stacks
  char* guard_hi = nullptr;
  bool from_slab = false;
};

inline constexpr uint64_t kStackCanary = 0x600dfeedfacecafeULL;

class StackPool {
 public:
  explicit StackPool(size_t stack_size);
  ~StackPool();  // unmaps everything, in use or not (the runtime is gone)

  size_t stack_size() const { return stack_size_; }
  Stack Allocate() ;
  void Free(const Stack& s) ;

  static bool CanaryIntact(const Stack& s) {
    return *reinterpret_cast<const uint64_t*>(s.lo) == kStackCanary;
  }

 private:
  const size_t stack_size_;
  const size_t guarded_budget_;  // most guarded stacks mapped at once
  std::mutex mu_;  // not absl::Mutex: see scheduler.cc (TSan visibility)
  std::vector<Stack> free_ ;
  size_t guarded_mapped_  = 0;
  struct Mapping {
    char* base;
    size_t len;
  };
  std::vector<Mapping> mappings_ ;
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
