// Go's runtime/netpoll_epoll.go, re-implemented on epoll + eventfd.
// Differences from Go 1.19: the wakeup channel is an eventfd (Go 1.19 uses a pipe);
// the observable behavior (coalesced wakes, drained only by a blocking wait) is the same.
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "poller/poller.h"

namespace gonet::poller {
namespace {

// Token reserved for the wake eventfd; user tokens are pointers, never ~0.
constexpr uint64_t kWakeToken = ~uint64_t{0};

absl::Status ErrnoStatus(const char* call, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(call, ": ", strerror(err)));
}

int TimeoutMs(int64_t ns) {
  if (ns < 0) return -1;
  if (ns == 0) return 0;
  if (ns < 1'000'000) return 1;                       // round sub-ms up, never busy-poll
  if (ns >= 1'000'000'000'000'000) return 1'000'000'000;  // ~11.5 days cap, as Go
  return static_cast<int>(ns / 1'000'000);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Poller>> Poller::Create() {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return ErrnoStatus("epoll_create1", errno);
  int ev = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (ev < 0) {
    int err = errno;
    close(ep);
    return ErrnoStatus("eventfd", err);
  }
  epoll_event e{};
  e.events = EPOLLIN;  // level-triggered: stays reported until drained
  e.data.u64 = kWakeToken;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0) {
    int err = errno;
    close(ev);
    close(ep);
    return ErrnoStatus("epoll_ctl", err);
  }
  return std::unique_ptr<Poller>(new Poller(ep, ev, ev));
}

Poller::~Poller() {
  close(wake_read_fd_);
  close(kernel_fd_);
}

absl::Status Poller::Add(int fd, uintptr_t token) {
  epoll_event e{};
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  e.data.u64 = token;
  if (epoll_ctl(kernel_fd_, EPOLL_CTL_ADD, fd, &e) < 0) return ErrnoStatus("epoll_ctl", errno);
  return absl::OkStatus();
}

absl::Status Poller::Remove(int fd) {
  epoll_event e{};  // non-null for kernels before 2.6.9
  if (epoll_ctl(kernel_fd_, EPOLL_CTL_DEL, fd, &e) < 0) return ErrnoStatus("epoll_ctl", errno);
  return absl::OkStatus();
}

void Poller::DrainWake() {
  uint64_t v;
  while (read(wake_read_fd_, &v, sizeof v) < 0 && errno == EINTR) {
  }
  wake_pending_.store(0, std::memory_order_release);
}

int Poller::Wait(int64_t timeout_ns, absl::Span<Event> out) {
  // epoll_wait writes straight into the caller's buffer (an epoll_event is 12 bytes,
  // an Event 16), converted in place back to front; no event array on this stack,
  // which is often a small fiber stack.
  static_assert(sizeof(epoll_event) <= sizeof(Event));
  auto* raw = reinterpret_cast<unsigned char*>(out.data());
  const int max = static_cast<int>(std::min<size_t>(out.size(), kMaxEvents));
  const int timeout_ms = TimeoutMs(timeout_ns);
  int n;
  for (;;) {
    n = epoll_wait(kernel_fd_, reinterpret_cast<epoll_event*>(raw), max, timeout_ms);
    if (n >= 0) break;
    if (errno != EINTR) {
      ABSL_RAW_LOG(FATAL, "runtime: netpoll failed: epoll_wait on fd %d: %s", kernel_fd_,
                   strerror(errno));
    }
    if (timeout_ms > 0) return 0;  // the caller recomputes its timeout
  }
  // Back to front: Event i (bytes 16i..) only overlaps epoll events >= i, already read.
  for (int i = n - 1; i >= 0; --i) {
    epoll_event e;
    std::memcpy(&e, raw + i * sizeof(epoll_event), sizeof e);
    uint32_t ready = 0;
    const uint32_t m = e.events;
    if (m & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kRead;
    if (m & (EPOLLOUT | EPOLLHUP | EPOLLERR)) ready |= kWrite;
    if (m & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ready |= kHangup;
    if (m == EPOLLERR) ready |= kError;
    out[i] = Event{static_cast<uintptr_t>(e.data.u64), ready};
  }
  int count = 0;
  for (int i = 0; i < n; ++i) {
    if (out[i].token == kWakeToken) {
      // Only a blocking wait consumes the wake: a non-blocking poll must not eat a
      // wake meant for the thread blocked in the poller.
      if (timeout_ns != 0) DrainWake();
      continue;
    }
    if ((out[i].ready & (kRead | kWrite)) == 0) continue;
    out[count++] = out[i];
  }
  return count;
}

void Poller::Wake() {
  uint32_t expected = 0;
  if (!wake_pending_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  const uint64_t one = 1;
  for (;;) {
    if (write(wake_write_fd_, &one, sizeof one) >= 0) return;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;  // counter saturated: a wake is pending anyway
    ABSL_RAW_LOG(FATAL, "runtime: netpoll wake failed: write eventfd: %s", strerror(errno));
  }
}

}  // namespace gonet::poller
