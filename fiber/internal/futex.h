// futex.h: a counting semaphore on a Linux futex, for the runtime's own threads (an
// idle proc's thread, a spare thread, the monitor). A Post before the Wait is not lost.
#ifndef GONET_FIBER_INTERNAL_FUTEX_H_
#define GONET_FIBER_INTERNAL_FUTEX_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>

#include <atomic>
#include <cstdint>

namespace gonet::fiber_internal {

class FutexSemaphore {
 public:
  void Post() {
    count_.fetch_add(1, std::memory_order_release);
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&count_), FUTEX_WAKE_PRIVATE, 1, nullptr,
            nullptr, 0);
  }
  void Wait() { WaitFor(-1); }
  // Waits at most timeout_ns (negative: forever). Returns true if it took a post.
  bool WaitFor(int64_t timeout_ns) {
    for (;;) {
      uint32_t c = count_.load(std::memory_order_acquire);
      while (c > 0) {
        if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acq_rel)) return true;
      }
      if (timeout_ns == 0) return false;
      timespec ts;
      timespec* tsp = nullptr;
      if (timeout_ns > 0) {
        ts.tv_sec = timeout_ns / 1'000'000'000;
        ts.tv_nsec = timeout_ns % 1'000'000'000;
        tsp = &ts;
      }
      // A relative timeout: a wake-up that finds nothing (spurious, or a post taken by
      // another waiter) waits the whole timeout again, which only the monitor uses and
      // tolerates (its sleeps are hints).
      long r = syscall(SYS_futex, reinterpret_cast<uint32_t*>(&count_), FUTEX_WAIT_PRIVATE, 0,
                       tsp, nullptr, 0);
      if (r != 0 && timeout_ns > 0 && errno == ETIMEDOUT) {
        c = count_.load(std::memory_order_acquire);
        while (c > 0) {
          if (count_.compare_exchange_weak(c, c - 1, std::memory_order_acq_rel)) return true;
        }
        return false;
      }
    }
  }

 private:
  std::atomic<uint32_t> count_{0};
};

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_FUTEX_H_
