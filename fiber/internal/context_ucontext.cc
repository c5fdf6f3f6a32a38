// The portable context switch on getcontext/makecontext/swapcontext: the design
// baseline. swapcontext also saves and restores the signal mask (a rt_sigprocmask
// syscall per switch), which is why the assembly backend is the default.
#include <cstdint>
#include <cstdlib>

#include "absl/base/internal/raw_logging.h"
#include "fiber/internal/context.h"

namespace gonet::fiber_internal {
namespace {

// makecontext passes int arguments only: split the two pointers into 32-bit halves.
void Trampoline(unsigned entry_hi, unsigned entry_lo, unsigned arg_hi, unsigned arg_lo) {
  auto entry = reinterpret_cast<ContextEntry>((uint64_t{entry_hi} << 32) | entry_lo);
  auto* arg = reinterpret_cast<void*>((uint64_t{arg_hi} << 32) | arg_lo);
  entry(arg);
  ABSL_RAW_LOG(FATAL, "fiber entry returned");
}

}  // namespace

void MakeContext(Context* ctx, void* stack_lo, size_t size, ContextEntry entry, void* arg) {
  if (getcontext(&ctx->uc) != 0) ABSL_RAW_LOG(FATAL, "getcontext failed");
  ctx->uc.uc_stack.ss_sp = stack_lo;
  ctx->uc.uc_stack.ss_size = size;
  ctx->uc.uc_link = nullptr;
  auto e = reinterpret_cast<uint64_t>(entry);
  auto a = reinterpret_cast<uint64_t>(arg);
  makecontext(&ctx->uc, reinterpret_cast<void (*)()>(&Trampoline), 4,
              static_cast<unsigned>(e >> 32), static_cast<unsigned>(e),
              static_cast<unsigned>(a >> 32), static_cast<unsigned>(a));
}

void SwitchContext(Context* from, Context* to) {
  if (swapcontext(&from->uc, &to->uc) != 0) ABSL_RAW_LOG(FATAL, "swapcontext failed");
}

const char* ContextBackendName() { return "ucontext"; }

}  // namespace gonet::fiber_internal
