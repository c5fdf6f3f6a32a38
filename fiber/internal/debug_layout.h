// debug_layout.h: the runtime's description of itself for debuggers
// (tools/gdb/gonet_fibers.py), exported as extern "C" symbols so that a script finds
// them in a process or core file built without DWARF types (-g1).
//   gonet_debug_layout      offsets of Fiber's fields, the context backend and CPU
//   gonet_debug_fiber_list  points at the runtime's list head (Fiber*, linked through
//                           Fiber::all_next; free fibers included, status says so);
//                           null when no Run is active. The runtime sets it when a
//                           Run starts and clears it before the Run's memory goes.
#ifndef GONET_FIBER_INTERNAL_DEBUG_LAYOUT_H_
#define GONET_FIBER_INTERNAL_DEBUG_LAYOUT_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <cstdint>

namespace gonet::fiber_internal {
struct Fiber;
}  // namespace gonet::fiber_internal

extern "C" {

// Byte offsets within a Fiber (all uint32_t so the layout is the same everywhere).
struct GonetDebugLayout {
  uint32_t version;
  uint32_t sizeof_fiber;
  uint32_t id;             // uint64_t
  uint32_t status;         // uint8_t: 0 free, 1 runnable, 2 running, 3 waiting, 4 blocking
  uint32_t wait_reason;    // uint8_t, WaitReason (names: gonet_debug_wait_reasons)
  uint32_t wait_mode;      // char 'r' / 'w'
  uint32_t wait_fd;        // int32_t
  uint32_t wait_since_ns;  // int64_t, CLOCK_MONOTONIC_COARSE
  uint32_t stack_lo;       // char*
  uint32_t stack_size;     // size_t
  uint32_t all_next;       // Fiber*
  uint32_t site_file;      // const char*
  uint32_t site_function;  // const char*
  uint32_t site_line;      // uint32_t
  uint32_t parent_id;      // uint64_t
  // 0 asm: `ctx` is the saved sp (void*), the frame of context_asm.cc below it.
  // 1 ucontext: `ctx` is the ucontext's general registers (x86-64 gregs[], aarch64
  //   regs[31] followed by sp and pc).
  uint32_t context_backend;
  uint32_t ctx;
  uint32_t arch;  // 1 x86-64, 2 aarch64
};

extern const GonetDebugLayout gonet_debug_layout;
extern gonet::fiber_internal::Fiber** gonet_debug_fiber_list;
extern const char* gonet_debug_wait_reasons[16];  // WaitReasonName of each value

}  // extern "C"

#endif  // GONET_FIBER_INTERNAL_DEBUG_LAYOUT_H_
