// debug_layout.cc: what tools/gdb/gonet_fibers.py needs to list fibers in a live
// process or a core file, where our -g1 build has no DWARF types: the offsets of
// Fiber's fields, and a pointer to the head of the runtime's list of every Fiber.
// Everything is extern "C", found by symbol name. Bump kGonetDebugLayoutVersion when a
// field below changes meaning; the script refuses versions it does not know.
#include <cstddef>
#include <cstdint>

#include "fiber/internal/debug_layout.h"
#include "fiber/internal/scheduler.h"

// Fiber is not standard-layout (atomics, AnyInvocable); offsetof is still exact on
// GCC and clang, which is all this build supports.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winvalid-offsetof"

namespace {
using gonet::fiber_internal::Fiber;
constexpr uint32_t kGonetDebugLayoutVersion = 1;
}  // namespace

extern "C" {

[[gnu::used]] const GonetDebugLayout gonet_debug_layout = {
    .version = kGonetDebugLayoutVersion,
    .sizeof_fiber = sizeof(Fiber),
    .id = offsetof(Fiber, id),
    .status = offsetof(Fiber, status),
    .wait_reason = offsetof(Fiber, wait) + offsetof(gonet::fiber_internal::WaitInfo, reason),
    .wait_mode = offsetof(Fiber, wait) + offsetof(gonet::fiber_internal::WaitInfo, mode),
    .wait_fd = offsetof(Fiber, wait) + offsetof(gonet::fiber_internal::WaitInfo, fd),
    .wait_since_ns = offsetof(Fiber, wait_since_ns),
    .stack_lo = offsetof(Fiber, stack) + offsetof(gonet::fiber_internal::Stack, lo),
    .stack_size = offsetof(Fiber, stack) + offsetof(gonet::fiber_internal::Stack, size),
    .all_next = offsetof(Fiber, all_next),
    .site_file = offsetof(Fiber, site) + offsetof(gonet::fiber_internal::SpawnSite, file),
    .site_function = offsetof(Fiber, site) + offsetof(gonet::fiber_internal::SpawnSite, function),
    .site_line = offsetof(Fiber, site) + offsetof(gonet::fiber_internal::SpawnSite, line),
    .parent_id = offsetof(Fiber, parent_id),
#if defined(GONET_CONTEXT_UCONTEXT)
    .context_backend = 1,
#if defined(__x86_64__)
    .ctx = offsetof(Fiber, ctx) + offsetof(ucontext_t, uc_mcontext.gregs),
#else
    .ctx = offsetof(Fiber, ctx) + offsetof(ucontext_t, uc_mcontext.regs),
#endif
#else
    .context_backend = 0,
    .ctx = offsetof(Fiber, ctx) + offsetof(gonet::fiber_internal::Context, sp),
#endif
#if defined(__x86_64__)
    .arch = 1,
#elif defined(__aarch64__)
    .arch = 2,
#else
    .arch = 0,
#endif
};

[[gnu::used]] gonet::fiber_internal::Fiber** gonet_debug_fiber_list = nullptr;

// WaitReasonName() of every WaitReason value (0..15), filled at static initialization.
[[gnu::used]] const char* gonet_debug_wait_reasons[16];

}  // extern "C"

#pragma GCC diagnostic pop

namespace gonet::fiber_internal {

namespace {
// Also keeps the symbols above in the binary: opt builds link with --gc-sections,
// which drops sections nothing references ([[gnu::used]] only stops the compiler), and
// this initializer is always kept (.init_array) and references them all.
const bool kWaitReasonsFilled = [] {
  asm volatile("" : : "r"(&gonet_debug_layout), "r"(&gonet_debug_fiber_list));
  for (int i = 0; i < 16; ++i) {
    gonet_debug_wait_reasons[i] = WaitReasonName(static_cast<WaitReason>(i));
  }
  return true;
}();

}  // namespace


}  // namespace gonet::fiber_internal
