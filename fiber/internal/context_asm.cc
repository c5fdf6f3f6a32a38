// Hand-written context switch for x86-64 (System V) and aarch64 (AAPCS64).
// Saves only what the ABI says a callee must preserve: x86-64 rbx, rbp, r12-r15,
// MXCSR and the x87 control word; aarch64 x19-x29, lr, d8-d15 and FPCR. The stack
// pointer is stored in Context::sp. Boost.Context's fcontext and marl's assembly
// switch are the models; the code is our own.
// The aarch64 path runs in CI under qemu-user (ci/aarch64_test.sh), both as the default
// backend and beside the ucontext one; it has not run on real aarch64 hardware here.
#include <cstdint>
#include <cstring>

#include "fiber/internal/context.h"

extern "C" void gonet_switch_context(void** from_sp, void* to_sp);
extern "C" void gonet_context_trampoline();

#if defined(__x86_64__)
// Frame, from the saved sp upwards: fpu cw (8), mxcsr (8), r15, r14, r13, r12, rbx,
// rbp, return address.
asm(R"(
  .pushsection .text
  .globl gonet_switch_context
  .type gonet_switch_context,@function
  .p2align 4
gonet_switch_context:
  .cfi_startproc
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $16, %rsp
  stmxcsr 8(%rsp)
  fnstcw (%rsp)
  movl 8(%rsp), %r8d
  movzwl (%rsp), %r9d
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  /* Loading the control words is slow (it serializes the FPU state); they almost
     never differ between fibers, so load them only when they do. */
  movzwl (%rsp), %eax
  cmpl %eax, %r9d
  je 1f
  fldcw (%rsp)
1:
  cmpl 8(%rsp), %r8d
  je 2f
  ldmxcsr 8(%rsp)
2:
  addq $16, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .cfi_endproc
  .size gonet_switch_context,.-gonet_switch_context

  .globl gonet_context_trampoline
  .type gonet_context_trampoline,@function
  .p2align 4
gonet_context_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  andq $-16, %rsp
  callq *%r13
  ud2
  .cfi_endproc
  .size gonet_context_trampoline,.-gonet_context_trampoline
  .popsection
  .pushsection .note.GNU-stack,"",@progbits
  .popsection
)");

namespace gonet::fiber_internal {

void MakeContext(Context* ctx, void* stack_lo, size_t size, ContextEntry entry, void* arg) {
  auto top = (reinterpret_cast<uintptr_t>(stack_lo) + size) & ~uintptr_t{15};
  auto* frame = reinterpret_cast<uint64_t*>(top) - 10;
  std::memset(frame, 0, 10 * sizeof(uint64_t));
  frame[0] = 0x037F;  // x87 control word: default precision and rounding, all masked
  frame[1] = 0x1F80;  // MXCSR: all exceptions masked, round to nearest
  frame[2] = 0;       // r15
  frame[3] = 0;       // r14
  frame[4] = reinterpret_cast<uint64_t>(entry);  // r13
  frame[5] = reinterpret_cast<uint64_t>(arg);    // r12
  frame[6] = 0;       // rbx
  frame[7] = 0;       // rbp
  frame[8] = reinterpret_cast<uint64_t>(&gonet_context_trampoline);  // return address
  ctx->sp = frame;
}

}  // namespace gonet::fiber_internal

#elif defined(__aarch64__)
// Frame (176 bytes): x19..x28 at 0..72, x29 at 80, x30 (lr) at 88, d8..d15 at 96..152,
// FPCR at 160.
asm(R"(
  .pushsection .text
  .globl gonet_switch_context
  .type gonet_switch_context,%function
  .p2align 4
gonet_switch_context:
  sub sp, sp, #176
  stp x19, x20, [sp, #0]
  stp x21, x22, [sp, #16]
  stp x23, x24, [sp, #32]
  stp x25, x26, [sp, #48]
  stp x27, x28, [sp, #64]
  stp x29, x30, [sp, #80]
  stp d8, d9, [sp, #96]
  stp d10, d11, [sp, #112]
  stp d12, d13, [sp, #128]
  stp d14, d15, [sp, #144]
  mrs x9, fpcr
  str x9, [sp, #160]
  mov x9, sp
  str x9, [x0]
  mov sp, x1
  ldr x9, [sp, #160]
  msr fpcr, x9
  ldp x19, x20, [sp, #0]
  ldp x21, x22, [sp, #16]
  ldp x23, x24, [sp, #32]
  ldp x25, x26, [sp, #48]
  ldp x27, x28, [sp, #64]
  ldp x29, x30, [sp, #80]
  ldp d8, d9, [sp, #96]
  ldp d10, d11, [sp, #112]
  ldp d12, d13, [sp, #128]
  ldp d14, d15, [sp, #144]
  add sp, sp, #176
  ret
  .size gonet_switch_context,.-gonet_switch_context

  .globl gonet_context_trampoline
  .type gonet_context_trampoline,%function
  .p2align 4
gonet_context_trampoline:
  mov x0, x19
  blr x20
  brk #0
  .size gonet_context_trampoline,.-gonet_context_trampoline
  .popsection
  .pushsection .note.GNU-stack,"",%progbits
  .popsection
)");

namespace gonet::fiber_internal {

void MakeContext(Context* ctx, void* stack_lo, size_t size, ContextEntry entry, void* arg) {
  auto top = (reinterpret_cast<uintptr_t>(stack_lo) + size) & ~uintptr_t{15};
  auto* frame = reinterpret_cast<uint64_t*>(top - 176);
  std::memset(frame, 0, 176);
  frame[0] = reinterpret_cast<uint64_t>(arg);    // x19
  frame[1] = reinterpret_cast<uint64_t>(entry);  // x20
  frame[11] = reinterpret_cast<uint64_t>(&gonet_context_trampoline);  // x30
  ctx->sp = frame;
}

}  // namespace gonet::fiber_internal
#else
#error "no hand-written context switch for this CPU: build with --config=ucontext"
#endif

namespace gonet::fiber_internal {

void SwitchContext(Context* from, Context* to) { gonet_switch_context(&from->sp, to->sp); }

const char* ContextBackendName() { return "asm"; }

}  // namespace gonet::fiber_internal
