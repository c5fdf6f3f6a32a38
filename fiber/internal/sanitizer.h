// sanitizer.h: announces fiber switches to AddressSanitizer and ThreadSanitizer, so
// `--config=asan` and `--config=tsan` runs see each fiber as its own stack / logical
// thread (as folly/fibers and Boost.Context do). Compiles to nothing otherwise.
#ifndef GONET_FIBER_INTERNAL_SANITIZER_H_
#define GONET_FIBER_INTERNAL_SANITIZER_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GONET_HAVE_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define GONET_HAVE_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define GONET_HAVE_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define GONET_HAVE_TSAN 1
#endif

#if GONET_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if GONET_HAVE_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace gonet::fiber_internal {

// Per execution context (fiber or worker scheduler stack) sanitizer state.
struct SanitizerContext {
  const void* stack_lo = nullptr;  // ASan: the stack's lowest address and size
  size_t stack_size = 0;
  void* fake_stack = nullptr;      // ASan: fake-stack handle saved across a switch
  void* tsan_fiber = nullptr;      // TSan: __tsan_create_fiber() handle
};

// Before switching from `from` to `to`. `from_dying`: `from` never runs again.
inline void SanitizerStartSwitch(SanitizerContext* from, SanitizerContext* to, bool from_dying) {
#if GONET_HAVE_ASAN
  __sanitizer_start_switch_fiber(from_dying ? nullptr : &from->fake_stack, to->stack_lo,
                                 to->stack_size);
#endif
#if GONET_HAVE_TSAN
  __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
  (void)from;
  (void)to;
  (void)from_dying;
}

// First thing after a switch lands in `self`.
inline void SanitizerFinishSwitch(SanitizerContext* self) {
#if GONET_HAVE_ASAN
  __sanitizer_finish_switch_fiber(self->fake_stack, nullptr, nullptr);
#endif
  (void)self;
}

inline void SanitizerCreateFiber(SanitizerContext* c, const void* lo, size_t size) {
  c->stack_lo = lo;
  c->stack_size = size;
  c->fake_stack = nullptr;
#if GONET_HAVE_TSAN
  if (c->tsan_fiber == nullptr) c->tsan_fiber = __tsan_create_fiber(0);
#endif
}

inline void SanitizerDestroyFiber(SanitizerContext* c) {
#if GONET_HAVE_TSAN
  if (c->tsan_fiber != nullptr) __tsan_destroy_fiber(c->tsan_fiber);
  c->tsan_fiber = nullptr;
#endif
  (void)c;
}

// For a worker thread's own (scheduler) stack.
inline void SanitizerAdoptThread(SanitizerContext* c) {
#if GONET_HAVE_TSAN
  c->tsan_fiber = __tsan_get_current_fiber();
#endif
  (void)c;
}

inline constexpr bool kUnderTsan =
#if GONET_HAVE_TSAN
    true;
#else
    false;
#endif

inline constexpr bool kUnderSanitizer =
#if GONET_HAVE_ASAN || GONET_HAVE_TSAN
    true;
#else
    false;
#endif

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_SANITIZER_H_
