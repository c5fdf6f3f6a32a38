// Go's runtime/netpoll_kqueue.go, re-implemented on kqueue (FreeBSD, macOS, other BSDs).
// Mirrors poller_linux.cc. NOT BUILT OR RUN in this project's CI (Linux only): it is kept
// small and reviewed against the kqueue man page; see README.md "Platforms".
// Differences from epoll: EVFILT_READ and EVFILT_WRITE are two registrations with
// EV_CLEAR (edge-triggered); close(2) removes them, so Remove() is best-effort; the
// wakeup channel is a non-blocking pipe registered level-triggered.
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

#include "absl/base/internal/raw_logging.h"
#include "absl/strings/str_cat.h"
#include "poller/poller.h"

namespace gonet::poller {
namespace {

constexpr uintptr_t kWakeToken = ~uintptr_t{0};

absl::Status ErrnoStatus(const char* call, int err) {
  return absl::Status(absl::ErrnoToStatusCode(err), absl::StrCat(call, ": ", strerror(err)));
}

bool SetNonblockCloexec(int fd) {
  int fl = fcntl(fd, F_GETFL);
  return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Poller>> Poller::Create() {
  int kq = kqueue();
  if (kq < 0) return ErrnoStatus("kqueue", errno);
  fcntl(kq, F_SETFD, FD_CLOEXEC);
  int p[2];
  if (pipe(p) < 0 || !SetNonblockCloexec(p[0]) || !SetNonblockCloexec(p[1])) {
    int err = errno;
    close(kq);
    return ErrnoStatus("pipe", err);
  }
  struct kevent ev;
  EV_SET(&ev, p[0], EVFILT_READ, EV_ADD, 0, 0, reinterpret_cast<void*>(kWakeToken));
  if (kevent(kq, &ev, 1, nullptr, 0, nullptr) < 0) {
    int err = errno;
    close(p[0]);
    close(p[1]);
    close(kq);
    return ErrnoStatus("kevent", err);
  }
  return std::unique_ptr<Poller>(new Poller(kq, p[0], p[1]));
}

Poller::~Poller() {
  close(wake_read_fd_);
  close(wake_write_fd_);
  close(kernel_fd_);
}

absl::Status Poller::Add(int fd, uintptr_t token) {
  struct kevent ev[2];
  EV_SET(&ev[0], fd, EVFILT_READ, EV_ADD | EV_CLEAR, 0, 0, reinterpret_cast<void*>(token));
  EV_SET(&ev[1], fd, EVFILT_WRITE, EV_ADD | EV_CLEAR, 0, 0, reinterpret_cast<void*>(token));
  if (kevent(kernel_fd_, ev, 2, nullptr, 0, nullptr) < 0) return ErrnoStatus("kevent", errno);
  return absl::OkStatus();
}

absl::Status Poller::Remove(int fd) {
  // close(2) drops the knotes; deleting explicitly keeps Remove-then-reuse safe.
  struct kevent ev[2];
  EV_SET(&ev[0], fd, EVFILT_READ, EV_DELETE, 0, 0, nullptr);
  EV_SET(&ev[1], fd, EVFILT_WRITE, EV_DELETE, 0, 0, nullptr);
  if (kevent(kernel_fd_, ev, 2, nullptr, 0, nullptr) < 0) return ErrnoStatus("kevent", errno);
  return absl::OkStatus();
}

void Poller::DrainWake() {
  char buf[16];
  while (read(wake_read_fd_, buf, sizeof buf) > 0) {
  }
  wake_pending_.store(0, std::memory_order_release);
}

int Poller::Wait(int64_t timeout_ns, absl::Span<Event> out) {
  struct kevent evs[64];  // Go: 64 for kqueue
  const int max = static_cast<int>(std::min<size_t>(out.size(), 64));
  timespec ts{};
  timespec* tp = nullptr;
  if (timeout_ns >= 0) {
    if (timeout_ns > 0 && timeout_ns < 1'000'000) timeout_ns = 1'000'000;
    if (timeout_ns > 1'000'000LL * 1'000'000'000LL) timeout_ns = 1'000'000LL * 1'000'000'000LL;
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    tp = &ts;
  }
  int n;
  for (;;) {
    n = kevent(kernel_fd_, nullptr, 0, evs, max, tp);
    if (n >= 0) break;
    if (errno != EINTR) {
      ABSL_RAW_LOG(FATAL, "runtime: netpoll failed: kevent on fd %d: %s", kernel_fd_,
                   strerror(errno));
    }
    if (timeout_ns > 0) return 0;
  }
  int count = 0;
  for (int i = 0; i < n; ++i) {
    const uintptr_t token = reinterpret_cast<uintptr_t>(evs[i].udata);
    if (token == kWakeToken) {
      if (timeout_ns != 0) DrainWake();
      continue;
    }
    uint32_t ready = 0;
    if (evs[i].filter == EVFILT_READ) {
      ready |= kRead;
      if (evs[i].flags & EV_EOF) ready |= kWrite | kHangup;
    } else if (evs[i].filter == EVFILT_WRITE) {
      ready |= kWrite;
    }
    if (evs[i].flags == EV_ERROR) ready |= kError | kRead | kWrite | kHangup;
    if (ready == 0) continue;
    out[count++] = Event{token, ready};
  }
  return count;
}

void Poller::Wake() {
  uint32_t expected = 0;
  if (!wake_pending_.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) return;
  char b = 0;
  for (;;) {
    if (write(wake_write_fd_, &b, 1) >= 0) return;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return;
    ABSL_RAW_LOG(FATAL, "runtime: netpoll wake failed: write pipe: %s", strerror(errno));
  }
}

}  // namespace gonet::poller
