// Go's internal/poll.FD (fd_unix.go, fd_posix.go) and net.netFD connect/accept
// (net/fd_unix.go), re-implemented on fibers. Differences: writes use
// send(MSG_NOSIGNAL) instead of write(2) + an ignored SIGPIPE, so no signal is ever
// raised; the observable EPIPE is the same.
#include "netfd/netfd.h"

#include <errno.h>
#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "absl/base/internal/raw_logging.h"
#include "absl/base/thread_annotations.h"
#include "absl/time/clock.h"
#include "fiber/internal/annotated_mutex.h"
#include "fiber/internal/scheduler.h"
#include "netfd/syscalls.h"

namespace gonet::netfd {

namespace {
constexpr size_t kMaxRW = size_t{1} << 30;  // Go's maxRW: 1 GiB per syscall on streams
}  // namespace

// Sockets inside Connect(): the only NetFDs no user can reach yet, so the only ones a
// Run that ends with the dialing fiber parked must close itself (fiber.h, "Shutdown
// with parked fibers"). A fiber registers its NetFD before it first parks in Connect
// and unregisters it before Connect returns; the runtime's teardown hook (after every
// worker stopped, so no registered fiber can run again) closes those left of its Run.
// A ThreadMutex (std::mutex), not absl::Mutex: TSan must see it (Debian's Abseil is
// uninstrumented).
class NetFD::ConnectRegistry {
 public:
  static ConnectRegistry& Get() {
    static ConnectRegistry* r = new ConnectRegistry;  // never destroyed: threads may outlive main
    return *r;
  }
  void Add(NetFD* fd) {
    fiber_internal::ThreadMutexLock l(&mu_);
    fd->connecting_prev_ = nullptr;
    fd->connecting_next_ = head_;
    if (head_ != nullptr) head_->connecting_prev_ = fd;
    head_ = fd;
  }
  void Remove(NetFD* fd) {
    fiber_internal::ThreadMutexLock l(&mu_);
    Unlink(fd);
  }
  static void Teardown(uint64_t generation) {
    ConnectRegistry& r = Get();
    fiber_internal::ThreadMutexLock l(&r.mu_);
    for (NetFD* fd = r.head_; fd != nullptr;) {
      NetFD* next = fd->connecting_next_;
      if (fd->generation_ == generation) {
        r.Unlink(fd);
        // Its fiber is abandoned inside Connect and holds no fdMutex reference (Connect
        // takes none): mark it closed and close the socket. The NetFD object itself
        // stays, owned by the abandoned fiber, which never runs again.
        if (fd->fdmu_.IncRefAndClose()) {
          if (fd->pd_ != nullptr) fd->pd_->Evict();
          (void)fd->Destroy();
        }
      }
      fd = next;
    }
  }

 private:
  ConnectRegistry() { fiber_internal::AddTeardownHook(&ConnectRegistry::Teardown); }
  // An intrusive list, not an absl container: Debian's Abseil is not built with ASan,
  // and its hash tables' slot poisoning then misfires under --config=asan.
  void Unlink(NetFD* fd) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (fd->connecting_prev_ != nullptr) {
      fd->connecting_prev_->connecting_next_ = fd->connecting_next_;
    } else if (head_ == fd) {
      head_ = fd->connecting_next_;
    }
    if (fd->connecting_next_ != nullptr) fd->connecting_next_->connecting_prev_ = fd->connecting_prev_;
    fd->connecting_prev_ = fd->connecting_next_ = nullptr;
  }
  fiber_internal::ThreadMutex mu_;
  // Every NetFD's connecting_prev_/connecting_next_ are guarded by mu_ too.
  NetFD* head_ ABSL_GUARDED_BY(mu_) = nullptr;
};

FdError FdError::FromPoll(PollError e) {
  switch (e) {
    case PollError::kOk:
      return {};
    case PollError::kClosing:
      return Of(Kind::kClosing);
    case PollError::kTimeout:
      return Of(Kind::kTimeout);
    case PollError::kNotPollable:
      return Of(Kind::kNotPollable);
  }
  return {};
}

std::string FdError::DebugString() const {
  switch (kind) {
    case Kind::kNone: return "ok";
    case Kind::kClosing: return "closing";
    case Kind::kTimeout: return "timeout";
    case Kind::kNotPollable: return "notpollable";
    case Kind::kEOF: return "eof";
    case Kind::kUnexpectedEOF: return "unexpectedeof";
    case Kind::kNotFiber: return "notfiber";
    case Kind::kErrno:
      return std::string("errno:") + (syscall ? syscall : "") + ":" + strerror(err);
  }
  return "?";
}

bool InFiber() { return fiber_internal::InFiber(); }

uint64_t RunGeneration() { return fiber_internal::CurrentRuntimeGeneration(); }

bool RunStillRunning(uint64_t generation) { return fiber_internal::RuntimeRunning(generation); }

int64_t DeadlineToMono(absl::Time t) {
  if (t == absl::InfiniteFuture()) return 0;
  absl::Duration d = t - absl::Now();
  if (d <= absl::ZeroDuration()) return -1;
  int64_t now = fiber_internal::MonoNanos();
  if (d >= absl::Nanoseconds(std::numeric_limits<int64_t>::max() - now)) {
    return std::numeric_limits<int64_t>::max();
  }
  return now + absl::ToInt64Nanoseconds(d);
}

FdError NetFD::Socket(int family, int sotype, int proto, std::string net,
                      std::unique_ptr<NetFD>* out) {
  int s = Sys().socket(family, sotype | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (s < 0) return FdError::Errno("socket", LastErrno());
  out->reset(new NetFD(s, family, sotype, std::move(net)));
  return {};
}

NetFD::NetFD(int sysfd, int family, int sotype, std::string net)
    : sysfd_(sysfd),
      family_(family),
      sotype_(sotype),
      net_(std::move(net)),
      generation_(fiber_internal::CurrentRuntimeGeneration()) {}

NetFD::~NetFD() {
  if (!destroyed_.load(std::memory_order_acquire)) (void)Close();
}

FdError NetFD::Init() {
  if (!fiber_internal::InFiber() && fiber_internal::Procs() == 0) return FdError::Of(FdError::Kind::kNotFiber);
  if (generation_ == 0) generation_ = fiber_internal::CurrentRuntimeGeneration();
  absl::Status s = PollDesc::Open(sysfd_, &pd_);
  if (!s.ok()) {
    pd_ = nullptr;
    int e = EINVAL;
    if (absl::IsResourceExhausted(s)) e = ENOMEM;
    return FdError::Errno("epoll_ctl", e);
  }
  return {};
}

FdError NetFD::Destroy() {
  // Once: the last reference's release and a Close() that gave up on abandoned holders
  // could otherwise both get here.
  if (destroy_claimed_.exchange(true, std::memory_order_acq_rel)) return {};
  // EPOLL_CTL_DEL strictly before close(2); close is never retried on EINTR.
  if (pd_ != nullptr) {
    pd_->Close();
    pd_ = nullptr;
  }
  const int closed = Sys().close(sysfd_);
  // Never retried on EINTR: Linux has closed the fd anyway (Go: destroy).
  const FdError err = closed < 0 ? FdError::Errno(nullptr, LastErrno()) : FdError{};
  sysfd_ = -1;
  destroyed_.store(true, std::memory_order_release);
  csema_.Release();
  return err;
}

FdError NetFD::DecRef() {
  if (fdmu_.DecRef()) return Destroy();
  return {};
}

FdError NetFD::ReadLock() {
  if (!fdmu_.RWLock(true)) return FdError::Of(FdError::Kind::kClosing);
  return {};
}
void NetFD::ReadUnlock() {
  if (fdmu_.RWUnlock(true)) (void)Destroy();  // close(2)'s error is dropped (Go: readUnlock)
}
FdError NetFD::WriteLock() {
  if (!fdmu_.RWLock(false)) return FdError::Of(FdError::Kind::kClosing);
  return {};
}
void NetFD::WriteUnlock() {
  if (fdmu_.RWUnlock(false)) (void)Destroy();
}

// An fd never registered with the poller (Init not called, or it failed) is "not
// pollable", as in Go: prepare is a no-op, the syscall runs, and only a wait fails.
PollError NetFD::Prepare(int mode) { return pd_ ? pd_->Prepare(mode) : PollError::kOk; }
PollError NetFD::PrepareRead(bool* skip) {
  if (pd_ == nullptr) {
    *skip = false;
    return PollError::kOk;
  }
  return pd_->PrepareRead(skip);
}
PollError NetFD::WaitFor(int mode) { return pd_ ? pd_->Wait(mode) : PollError::kNotPollable; }

FdResult NetFD::Read(absl::Span<char> p) {
  if (!fiber_internal::InFiber()) {
    // A plain thread never waits for the read lock: closed -> kClosing, an empty
    // buffer -> (0, ok), else kNotFiber.
    if (!fdmu_.IncRef()) return {0, FdError::Of(FdError::Kind::kClosing)};
    (void)DecRef();
    if (p.empty()) return {};
    return {0, FdError::Of(FdError::Kind::kNotFiber)};
  }
  if (FdError e = ReadLock(); !e.ok()) return {0, e};
  FdResult r;
  if (p.empty()) {  // no syscall, even at EOF
    ReadUnlock();
    return r;
  }
  const bool stream = sotype_ == SOCK_STREAM;
  bool skip = false;
  PollError pe = stream ? PrepareRead(&skip) : Prepare('r');
  if (pe != PollError::kOk) {
    ReadUnlock();
    return {0, FdError::FromPoll(pe)};
  }
  const size_t len = stream ? std::min(p.size(), kMaxRW) : p.size();
  for (;;) {
    if (skip) {
      // The last read drained the socket and nothing arrived since: a read(2) now
      // could only say EAGAIN. Wait for readiness first.
      skip = false;
      pe = WaitFor('r');
      if (pe != PollError::kOk) {
        r.err = FdError::FromPoll(pe);
        break;
      }
    }
    ssize_t n = Sys().read(sysfd_, p.data(), len);
    if (n >= 0) {
      r.n = static_cast<size_t>(n);
      if (n == 0 && sotype_ != SOCK_DGRAM && sotype_ != SOCK_RAW) {
        r.err = FdError::Of(FdError::Kind::kEOF);
      }
      // A short read emptied the receive queue; EOF and full reads prove nothing.
      if (stream && pd_ != nullptr) pd_->SetReadDrained(n > 0 && static_cast<size_t>(n) < len);
      break;
    }
    int e = LastErrno();
    if (e == EINTR) continue;
    if (e == EAGAIN) {
      if (stream && pd_ != nullptr) pd_->SetReadDrained(true);
      PollError pe = WaitFor('r');
      if (pe == PollError::kOk) continue;
      r.err = FdError::FromPoll(pe);
      break;
    }
    r.err = FdError::Errno("read", e);
    break;
  }
  ReadUnlock();
  return r;
}

FdResult NetFD::Write(absl::Span<const char> p) {
  if (!fiber_internal::InFiber()) {
    // As in Read: closed -> kClosing, else kNotFiber; never wait for the lock.
    if (fdmu_.IncRef()) {
      (void)DecRef();
      return {0, FdError::Of(FdError::Kind::kNotFiber)};
    }
    return {0, FdError::Of(FdError::Kind::kClosing)};
  }
  if (FdError e = WriteLock(); !e.ok()) return {0, e};
  if (PollError pe = Prepare('w'); pe != PollError::kOk) {
    WriteUnlock();
    return {0, FdError::FromPoll(pe)};
  }
  FdResult r;
  size_t nn = 0;
  for (;;) {
    size_t chunk = p.size() - nn;
    if (sotype_ == SOCK_STREAM) chunk = std::min(chunk, kMaxRW);
    ssize_t n = Sys().send(sysfd_, p.data() + nn, chunk);
    int e = n < 0 ? LastErrno() : 0;
    if (n > 0) nn += static_cast<size_t>(n);
    if (nn == p.size()) break;  // also a zero-length Write: one send() of 0 bytes
    if (e == EINTR) continue;
    if (e == EAGAIN) {
      PollError pe = WaitFor('w');
      if (pe == PollError::kOk) continue;
      r.err = FdError::FromPoll(pe);
      break;
    }
    if (e != 0) {
      r.err = FdError::Errno("write", e);
      break;
    }
    if (n == 0) {
      r.err = FdError::Of(FdError::Kind::kUnexpectedEOF);
      break;
    }
  }
  r.n = nn;
  WriteUnlock();
  return r;
}

namespace {
// The retry loop shared by ReadWith and WriteWith; the lock is the caller's.
template <typename Wait>
FdResult RetryOp(int fd, const char* syscall, absl::FunctionRef<ssize_t(int fd)> op,
                 Wait wait) {
  for (;;) {
    ssize_t n = op(fd);
    if (n >= 0) return {static_cast<size_t>(n), FdError{}};
    int e = LastErrno();
    if (e == EINTR) continue;
    if (e == EAGAIN) {
      PollError pe = wait();
      if (pe == PollError::kOk) continue;
      return {0, FdError::FromPoll(pe)};
    }
    return {0, FdError::Errno(syscall, e)};
  }
}
}  // namespace

FdResult NetFD::Locked(int mode, absl::FunctionRef<FdResult()> body) {
  if (!fiber_internal::InFiber()) {
    // As Read and Write on a plain thread: closed -> kClosing, else kNotFiber.
    if (!fdmu_.IncRef()) return {0, FdError::Of(FdError::Kind::kClosing)};
    (void)DecRef();
    return {0, FdError::Of(FdError::Kind::kNotFiber)};
  }
  if (FdError e = mode == 'r' ? ReadLock() : WriteLock(); !e.ok()) return {0, e};
  FdResult r;
  if (PollError pe = Prepare(mode); pe != PollError::kOk) {
    r.err = FdError::FromPoll(pe);
  } else {
    r = body();
  }
  if (mode == 'r') {
    ReadUnlock();
  } else {
    WriteUnlock();
  }
  return r;
}

FdResult NetFD::ReadWith(const char* syscall, absl::FunctionRef<ssize_t(int fd)> op) {
  return Locked('r', [&] {
    // A stream read that the Read fast path marked drained must not skip its syscall
    // here: these ops never consult the drained hint, and clear it.
    if (sotype_ == SOCK_STREAM && pd_ != nullptr) pd_->SetReadDrained(false);
    return RetryOp(sysfd_, syscall, op, [this] { return WaitFor('r'); });
  });
}

FdResult NetFD::WriteWith(const char* syscall, absl::FunctionRef<ssize_t(int fd)> op) {
  return Locked('w', [&] { return RetryOp(sysfd_, syscall, op, [this] { return WaitFor('w'); }); });
}

FdResult NetFD::WriteAllWith(const char* syscall, absl::FunctionRef<ssize_t(int fd)> op) {
  return Locked('w', [&] {
    FdResult total;
    for (;;) {
      FdResult r = RetryOp(sysfd_, syscall, op, [this] { return WaitFor('w'); });
      total.n += r.n;
      if (!r.err.ok()) {
        total.err = r.err;
        return total;
      }
      if (r.n == 0) return total;
    }
  });
}

FdError NetFD::Accept(int* newfd, sockaddr_storage* rsa, socklen_t* rsalen) {
  if (!fiber_internal::InFiber()) {
    if (fdmu_.IncRef()) {
      (void)DecRef();
      return FdError::Of(FdError::Kind::kNotFiber);
    }
    return FdError::Of(FdError::Kind::kClosing);
  }
  if (FdError e = ReadLock(); !e.ok()) return e;
  FdError err;
  if (PollError pe = Prepare('r'); pe != PollError::kOk) {
    ReadUnlock();
    return FdError::FromPoll(pe);
  }
  for (;;) {
    *rsalen = sizeof(*rsa);
    int s = Sys().accept4(sysfd_, reinterpret_cast<sockaddr*>(rsa), rsalen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (s >= 0) {
      *newfd = s;
      break;
    }
    int e = LastErrno();
    if (e == ENOSYS || e == EINVAL || e == EACCES || e == EFAULT) {
      // Old kernels: accept + fcntl (Go's fallback).
      *rsalen = sizeof(*rsa);
      s = Sys().accept(sysfd_, reinterpret_cast<sockaddr*>(rsa), rsalen);
      if (s < 0) {
        e = LastErrno();
        if (e == EINTR || e == ECONNABORTED) continue;
        if (e == EAGAIN) goto wait;
        err = FdError::Errno("accept", e);
        break;
      }
      Sys().fcntl(s, F_SETFD, FD_CLOEXEC);  // Go ignores its error too (CloseOnExec)
      int fl = Sys().fcntl(s, F_GETFL, 0);
      if (fl < 0 || Sys().fcntl(s, F_SETFL, fl | O_NONBLOCK) < 0) {
        e = LastErrno();
        Sys().close(s);
        err = FdError::Errno("setnonblock", e);
        break;
      }
      *newfd = s;
      break;
    }
    if (e == EINTR || e == ECONNABORTED) continue;  // aborted while queued: next one
    if (e == EAGAIN) {
    wait:
      PollError pe = WaitFor('r');
      if (pe == PollError::kOk) continue;
      err = FdError::FromPoll(pe);
      break;
    }
    err = FdError::Errno("accept4", e);  // EMFILE, ENFILE, ENOBUFS, ...: no retry
    break;
  }
  ReadUnlock();
  return err;
}

FdError NetFD::Connect(const sockaddr* sa, socklen_t len, int64_t deadline) {
  return Connect(sa, len, deadline, [] {});
}

FdError NetFD::Connect(const sockaddr* sa, socklen_t len, int64_t deadline,
                       absl::FunctionRef<void()> on_wait) {
  if (!fiber_internal::InFiber()) return FdError::Of(FdError::Kind::kNotFiber);
  if (deadline < 0) return FdError::Of(FdError::Kind::kTimeout);
  const int r = Sys().connect(sysfd_, sa, len);
  int e = r < 0 ? LastErrno() : 0;
  switch (e) {
    case EINPROGRESS:
    case EALREADY:
    case EINTR:
      break;
    case 0:
    case EISCONN:
      return Init();
    default:
      return FdError::Errno("connect", e);
  }
  if (FdError ie = Init(); !ie.ok()) return ie;
  if (deadline > 0) pd_->SetDeadline(deadline, 'w');
  on_wait();  // registered and armed: an expired write deadline now wakes the wait
  ConnectRegistry::Get().Add(this);
  FdError result;
  for (;;) {
    // Go's WaitWrite: no prepare and no write lock; the fd is not visible to users yet.
    PollError pe = WaitFor('w');
    if (pe != PollError::kOk) {
      result = FdError::FromPoll(pe);
      break;
    }
    int so = 0;
    socklen_t sl = sizeof so;
    if (Sys().getsockopt(sysfd_, SOL_SOCKET, SO_ERROR, &so, &sl) < 0) {
      result = FdError::Errno("getsockopt", LastErrno());
      break;
    }
    if (so == EINPROGRESS || so == EALREADY || so == EINTR) continue;
    if (so == EISCONN) break;
    if (so != 0) {
      result = FdError::Errno("connect", so);
      break;
    }
    sockaddr_storage peer;
    socklen_t pl = sizeof peer;
    if (Sys().getpeername(sysfd_, reinterpret_cast<sockaddr*>(&peer), &pl) == 0) break;
    // Spurious wake-up: not connected yet, wait again.
  }
  ConnectRegistry::Get().Remove(this);
  if (deadline > 0) pd_->SetDeadline(0, 'w');
  return result;
}

FdError NetFD::Close() {
  if (!fdmu_.IncRefAndClose()) return FdError::Of(FdError::Kind::kClosing);
  // Wake parked readers/writers (they fail with kClosing); lock waiters were woken by
  // IncRefAndClose.
  if (pd_ != nullptr) pd_->Evict();
  // close(2)'s error comes back only when this call dropped the last reference (and so
  // ran it), as Go's FD.Close returns decref's error: bare errno, no syscall name.
  FdError err = DecRef();
  // Wait until whoever dropped the last reference has closed the OS fd. If this fd's
  // Run has ended, references held by its abandoned fibers are never dropped: close it
  // here (fiber.h, "Shutdown with parked fibers").
  if (!csema_.AcquireUnlessAbandoned(generation_)) err = Destroy();
  return err;
}

FdError NetFD::Shutdown(int how) {
  if (!fdmu_.IncRef()) return FdError::Of(FdError::Kind::kClosing);
  FdError err;
  if (Sys().shutdown(sysfd_, how) < 0) err = FdError::Errno("shutdown", LastErrno());
  (void)DecRef();
  return err;
}

FdError NetFD::SetDeadline(int64_t d, int mode) {
  if (!fdmu_.IncRef()) return FdError::Of(FdError::Kind::kClosing);
  if (pd_ != nullptr) pd_->SetDeadline(d, mode);
  (void)DecRef();
  return {};
}

FdError NetFD::SetSockopt(int level, int name, const void* v, socklen_t len) {
  if (!fdmu_.IncRef()) return FdError::Of(FdError::Kind::kClosing);
  FdError err;
  if (Sys().setsockopt(sysfd_, level, name, v, len) < 0) err = FdError::Errno("setsockopt", LastErrno());
  (void)DecRef();
  return err;
}

FdError NetFD::SetSockoptInt(int level, int name, int value) {
  return SetSockopt(level, name, &value, sizeof value);
}

FdError NetFD::Control(absl::FunctionRef<void(int fd)> f) {
  if (!fdmu_.IncRef()) return FdError::Of(FdError::Kind::kClosing);
  // f is user code: release the reference however it leaves (Go: defer decref).
  struct Release {
    NetFD* fd;
    ~Release() { (void)fd->DecRef(); }
  } release{this};
  f(sysfd_);
  return {};
}

}  // namespace gonet::netfd
