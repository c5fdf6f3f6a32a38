// context.h: the fiber context switch, two backends picked by the build:
//   default            hand-written assembly (x86-64, aarch64): saves only the callee-saved
//                      registers and the floating-point control words (context_asm.cc);
//   --config=ucontext  getcontext/makecontext/swapcontext, the portable baseline
//                      (context_ucontext.cc), which also saves the signal mask (a syscall).
// Both implement the same three functions. Neither knows about sanitizers: the scheduler
// announces every switch to ASan and TSan (sanitizer.h) around SwitchContext().
#ifndef GONET_FIBER_INTERNAL_CONTEXT_H_
#define GONET_FIBER_INTERNAL_CONTEXT_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <cstddef>

#if defined(GONET_CONTEXT_UCONTEXT)
#include <ucontext.h>
#endif

namespace gonet::fiber_internal {

struct Context {
#if defined(GONET_CONTEXT_UCONTEXT)
  ucontext_t uc;
#else
  void* sp = nullptr;  // saved stack pointer; the registers live on that stack
#endif
};

using ContextEntry = void (*)(void* arg);

// Prepares `ctx` so that the first SwitchContext() into it calls entry(arg) on the
// stack [stack_lo, stack_lo + size). `entry` must never return.
void MakeContext(Context* ctx, void* stack_lo, size_t size, ContextEntry entry, void* arg);

// Saves the running context into `from` and resumes `to`. Returns when something
// switches back into `from`, possibly on another thread.
void SwitchContext(Context* from, Context* to);

// The backend's name: "asm" or "ucontext" (benchmarks and logs report it).
const char* ContextBackendName();

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_CONTEXT_H_
