// poller.h: readiness for many fds; epoll on Linux, kqueue on BSD/macOS.
// Go's runtime netpoll (netpoll_epoll.go / netpoll_kqueue.go), re-implemented.
//
// Registration is edge-triggered for both directions at once and stays armed until
// Remove() (Go: EPOLL_CTL_ADD once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET, never MOD).
// Each registration carries an opaque token that Wait() hands back; the poller never
// looks inside it (the fiber layer stores a PollDesc pointer plus a sequence tag there).
//
// Portability contract:
//  - Events may be spurious: a reader woken for kRead must still read until EAGAIN.
//  - Error and hang-up are reported as BOTH read and write readiness (kRead|kWrite);
//    kError is set as well when the event was exactly EPOLLERR (Go's eventErr).
//  - A Wait() timeout under 1 ms rounds up to 1 ms, never down to a busy poll.
//  - Wake() from any thread makes a blocked Wait() return promptly. Wakes coalesce:
//    many Wake() calls before the next blocking Wait() cost one write(2).
//
// Thread safety: Add/Remove/Wake from any thread. A blocking Wait (timeout != 0) from
// one thread at a time; non-blocking polls (timeout 0) may run concurrently with it and
// with each other, and never consume a pending Wake(). (The fiber scheduler lets one
// idle worker block here while busy workers poll with timeout 0.)
#ifndef GONET_POLLER_POLLER_H_
#define GONET_POLLER_POLLER_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <atomic>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace gonet::poller {

// Readiness bits reported by Wait().
inline constexpr uint32_t kRead = 1;   // readable, peer hang-up, error
inline constexpr uint32_t kWrite = 2;  // writable, hang-up, error
inline constexpr uint32_t kError = 4;  // the event was exactly EPOLLERR / EV_ERROR
inline constexpr uint32_t kHangup = 8; // peer hang-up or error (EPOLLRDHUP/HUP/ERR, EV_EOF):
                                       // a read will not block again (EOF or error)

struct Event {
  uintptr_t token;  // as given to Add()
  uint32_t ready;   // kRead | kWrite | kError
};

// Most events returned by one Wait() (Go: 128 for epoll).
inline constexpr int kMaxEvents = 128;

class Poller {
 public:
  // Creates the kernel object and the wakeup channel. Errors name the syscall.
  static absl::StatusOr<std::unique_ptr<Poller>> Create();
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Registers fd for edge-triggered read and write readiness. Any thread.
  // Returns the errno as a status ("epoll_ctl: bad file descriptor").
  absl::Status Add(int fd, uintptr_t token);
  // Unregisters fd; call before close(2). Any thread. Errors are returned, not fatal.
  absl::Status Remove(int fd);

  // Waits up to timeout_ns (< 0: forever, 0: non-blocking poll) and writes at most
  // out.size() events. Returns how many were written; 0 on timeout, on a Wake(), or
  // on EINTR with a positive timeout. `out` doubles as the kernel's buffer, so the
  // call needs no large stack frame. Any other failure of the
  // kernel call is fatal (Go: "runtime: netpoll failed").
  int Wait(int64_t timeout_ns, absl::Span<Event> out);

  // Interrupts a blocked Wait() (now or the next one). Any thread; never blocks.
  void Wake();

  // The kernel object's fd (epoll or kqueue), for tests and diagnostics.
  int fd() const { return kernel_fd_; }

 private:
  Poller(int kernel_fd, int wake_read_fd, int wake_write_fd)
      : kernel_fd_(kernel_fd), wake_read_fd_(wake_read_fd), wake_write_fd_(wake_write_fd) {}
  void DrainWake();

  const int kernel_fd_;
  const int wake_read_fd_;   // eventfd on Linux (both ends equal), pipe read end on BSD
  const int wake_write_fd_;
  // 0: no wake pending; 1: a byte/count is in the wake channel and not yet drained.
  // Wake() CASes 0 -> 1 and only the winner writes (coalescing, Go's netpollWakeSig).
  // A blocking Wait() that saw the wake event drains the channel, then stores 0.
  std::atomic<uint32_t> wake_pending_{0};
};

}  // namespace gonet::poller

#endif  // GONET_POLLER_POLLER_H_
