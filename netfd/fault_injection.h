// fault_injection.h: test-only scripted failures for netfd's system call table
// (syscalls.h), shared by //netfd:fault_injection_test and //tests:fault_injection_test.
//
//   Faults& faults = Faults::Get();
//   faults.Reset();                                  // no Run active
//   faults.accept4.Push({EINTR, ECONNABORTED});      // the next two accept4 calls fail
//   ScopedSyscallOverride o(FakeSyscalls());         // before gonet::Run
//   gonet::Run(...);                                 // ... then accept4 passes through
//   EXPECT_EQ(faults.accept4.calls(), 3);
//
// Every fake counts its calls, takes the next scripted entry, and otherwise calls the
// real system call (DefaultSyscalls()). A scripted errno makes the call fail at once
// with no side effect (nothing accepted, nothing sent), except close, which always
// closes first (Linux closes the fd even when close(2) reports an error) and then
// reports it. Scripts and knobs are safe to use from any thread; Reset only while no
// Run is active.
#ifndef GONET_NETFD_FAULT_INJECTION_H_
#define GONET_NETFD_FAULT_INJECTION_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <initializer_list>

#include "absl/base/thread_annotations.h"
#include "fiber/internal/annotated_mutex.h"
#include "netfd/syscalls.h"

namespace gonet::netfd::fault {

// A script entry: a positive errno fails the call; kPass runs the real call;
// kReturnZero (send only) returns 0 without sending.
inline constexpr int kPass = 0;
inline constexpr int kReturnZero = -1;

// The fate of the next calls of one system call.
class Script {
 public:
  void Reset() {
    fiber_internal::ThreadMutexLock l(&mu_);
    queue_.clear();
    always_ = kPass;
    calls_ = 0;
  }
  // The next calls take these entries, in order.
  void Push(std::initializer_list<int> entries) {
    fiber_internal::ThreadMutexLock l(&mu_);
    queue_.insert(queue_.end(), entries.begin(), entries.end());
  }
  // Once the queue is empty, every call takes `entry` (kPass: the default).
  void Always(int entry) {
    fiber_internal::ThreadMutexLock l(&mu_);
    always_ = entry;
  }
  // Counts a call and returns its entry.
  int Next() {
    fiber_internal::ThreadMutexLock l(&mu_);
    ++calls_;
    if (queue_.empty()) return always_;
    const int e = queue_.front();
    queue_.pop_front();
    return e;
  }
  int calls() {
    fiber_internal::ThreadMutexLock l(&mu_);
    return calls_;
  }
  // Entries not yet consumed (a test that scripted N failures checks they all ran).
  int pending() {
    fiber_internal::ThreadMutexLock l(&mu_);
    return static_cast<int>(queue_.size());
  }

 private:
  fiber_internal::ThreadMutex mu_;
  std::deque<int> queue_ ABSL_GUARDED_BY(mu_);
  int always_ ABSL_GUARDED_BY(mu_) = kPass;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
};

// How the fake connect behaves (beyond its script, which is consulted first).
enum class ConnectMode {
  kReal,            // the real connect(2)
  kEintrAfterStart, // real connect, then report EINTR if it returned 0 or EINPROGRESS
  kSyncSuccess,     // real connect, wait (poll) until it completed, return 0
  kSyncIsConn,      // as kSyncSuccess, but report EISCONN
  kDeferred,        // report EINPROGRESS without connecting; the real connect runs at
                    // the first getsockopt(SO_ERROR) or getpeername on that fd, i.e.
                    // after Connect's first (then premature) wake-up
};

struct Faults {
  Script read, send, accept4, accept, setfl, socket, connect, getsockopt, so_error,
      getpeername, setsockopt, shutdown, close;
  // so_error: a positive entry is the SO_ERROR value getsockopt reports (the call
  // succeeds); getsockopt: a positive entry fails the call itself.
  std::atomic<size_t> send_cap{0};     // > 0: each send passes at most this many bytes
  std::atomic<int> accept_eagain{0};   // real accept4/accept calls that said EAGAIN
  std::atomic<ConnectMode> connect_mode{ConnectMode::kReal};
  std::atomic<int> deferred_fd{-1};    // kDeferred: the fd whose connect is pending

  static Faults& Get() {
    static Faults* f = new Faults;  // never destroyed: workers may outlive main
    return *f;
  }
  void Reset() {
    for (Script* s : {&read, &send, &accept4, &accept, &setfl, &socket, &connect, &getsockopt,
                      &so_error, &getpeername, &setsockopt, &shutdown, &close}) {
      s->Reset();
    }
    send_cap = 0;
    accept_eagain = 0;
    connect_mode = ConnectMode::kReal;
    deferred_fd = -1;
    fiber_internal::ThreadMutexLock l(&mu);
    deferred_len = 0;
  }

  // kDeferred's pending connect (address kept from the fake connect).
  fiber_internal::ThreadMutex mu;
  sockaddr_storage deferred_sa ABSL_GUARDED_BY(mu) = {};
  socklen_t deferred_len ABSL_GUARDED_BY(mu) = 0;

  void RunDeferredConnect(int fd) {
    int expected = fd;
    if (!deferred_fd.compare_exchange_strong(expected, -1)) return;
    fiber_internal::ThreadMutexLock l(&mu);
    const int saved = errno;
    (void)DefaultSyscalls().connect(fd, reinterpret_cast<const sockaddr*>(&deferred_sa),
                                    deferred_len);
    errno = saved;
  }
};

namespace internal {
inline int Fail(int e) {
  errno = e;
  return -1;
}
inline void NoteEagain(int r) {
  if (r < 0 && errno == EAGAIN) Faults::Get().accept_eagain.fetch_add(1);
}
// Blocks the thread until fd's connect finished (a few loopback microseconds).
inline void AwaitConnected(int fd) {
  pollfd p{fd, POLLOUT, 0};
  (void)poll(&p, 1, 5000);
}
}  // namespace internal

// The table that routes every call through Faults::Get().
inline Syscalls FakeSyscalls() {
  using internal::Fail;
  Syscalls t = DefaultSyscalls();
  t.read = [](int fd, void* p, size_t n) -> ssize_t {
    if (int e = Faults::Get().read.Next(); e > 0) return Fail(e);
    return DefaultSyscalls().read(fd, p, n);
  };
  t.send = [](int fd, const void* p, size_t n) -> ssize_t {
    Faults& f = Faults::Get();
    const int e = f.send.Next();
    if (e == kReturnZero) return 0;
    if (e > 0) return Fail(e);
    if (size_t cap = f.send_cap.load(); cap > 0) n = std::min(n, cap);
    return DefaultSyscalls().send(fd, p, n);
  };
  t.accept4 = [](int fd, sockaddr* sa, socklen_t* len, int flags) -> int {
    if (int e = Faults::Get().accept4.Next(); e > 0) return Fail(e);
    const int r = DefaultSyscalls().accept4(fd, sa, len, flags);
    internal::NoteEagain(r);
    return r;
  };
  t.accept = [](int fd, sockaddr* sa, socklen_t* len) -> int {
    if (int e = Faults::Get().accept.Next(); e > 0) return Fail(e);
    const int r = DefaultSyscalls().accept(fd, sa, len);
    internal::NoteEagain(r);
    return r;
  };
  t.fcntl = [](int fd, int cmd, int arg) -> int {
    if (cmd == F_SETFL) {
      if (int e = Faults::Get().setfl.Next(); e > 0) return Fail(e);
    }
    return DefaultSyscalls().fcntl(fd, cmd, arg);
  };
  t.socket = [](int family, int type, int proto) -> int {
    if (int e = Faults::Get().socket.Next(); e > 0) return Fail(e);
    return DefaultSyscalls().socket(family, type, proto);
  };
  t.connect = [](int fd, const sockaddr* sa, socklen_t len) -> int {
    Faults& f = Faults::Get();
    if (int e = f.connect.Next(); e > 0) return Fail(e);
    switch (f.connect_mode.load()) {
      case ConnectMode::kReal:
        break;
      case ConnectMode::kEintrAfterStart: {
        const int r = DefaultSyscalls().connect(fd, sa, len);
        if (r == 0 || errno == EINPROGRESS) return Fail(EINTR);
        return r;
      }
      case ConnectMode::kSyncSuccess:
      case ConnectMode::kSyncIsConn: {
        const int r = DefaultSyscalls().connect(fd, sa, len);
        if (r < 0 && errno != EINPROGRESS) return r;
        internal::AwaitConnected(fd);
        if (f.connect_mode.load() == ConnectMode::kSyncIsConn) return Fail(EISCONN);
        return 0;
      }
      case ConnectMode::kDeferred: {
        {
          fiber_internal::ThreadMutexLock l(&f.mu);
          std::memcpy(&f.deferred_sa, sa, std::min<size_t>(len, sizeof f.deferred_sa));
          f.deferred_len = len;
        }
        f.deferred_fd.store(fd);
        return Fail(EINPROGRESS);
      }
    }
    return DefaultSyscalls().connect(fd, sa, len);
  };
  t.getsockopt = [](int fd, int level, int name, void* v, socklen_t* len) -> int {
    Faults& f = Faults::Get();
    const bool so_error = level == SOL_SOCKET && name == SO_ERROR;
    if (so_error) f.RunDeferredConnect(fd);
    if (int e = f.getsockopt.Next(); e > 0) return Fail(e);
    if (so_error) {
      if (int e = f.so_error.Next(); e > 0 && *len >= static_cast<socklen_t>(sizeof(int))) {
        std::memcpy(v, &e, sizeof e);
        *len = sizeof e;
        return 0;
      }
    }
    return DefaultSyscalls().getsockopt(fd, level, name, v, len);
  };
  t.getpeername = [](int fd, sockaddr* sa, socklen_t* len) -> int {
    Faults& f = Faults::Get();
    f.RunDeferredConnect(fd);
    if (int e = f.getpeername.Next(); e > 0) return Fail(e);
    return DefaultSyscalls().getpeername(fd, sa, len);
  };
  t.setsockopt = [](int fd, int level, int name, const void* v, socklen_t len) -> int {
    if (int e = Faults::Get().setsockopt.Next(); e > 0) return Fail(e);
    return DefaultSyscalls().setsockopt(fd, level, name, v, len);
  };
  t.shutdown = [](int fd, int how) -> int {
    if (int e = Faults::Get().shutdown.Next(); e > 0) return Fail(e);
    return DefaultSyscalls().shutdown(fd, how);
  };
  t.close = [](int fd) -> int {
    const int e = Faults::Get().close.Next();
    const int r = DefaultSyscalls().close(fd);
    if (e > 0) return Fail(e);
    return r;
  };
  return t;
}

}  // namespace gonet::netfd::fault

#endif  // GONET_NETFD_FAULT_INJECTION_H_
