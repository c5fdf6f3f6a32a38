// netfd.h: a non-blocking socket driven by the fiber netpoller: Go's internal/poll.FD
// plus net.netFD's socket/connect/accept (docs/behavior.md §1, §2, §4).
//
//   Read   takes the read lock, checks the poller (closing, expired read deadline),
//          then does exactly one successful read(2); EAGAIN parks until readiness.
//          A zero-length Read returns (0, ok) without a syscall; 0 bytes read from a
//          stream is EOF. At most 1 GiB per syscall.
//   Write  takes the write lock for the whole loop, so one Write's bytes are contiguous
//          in the stream; it returns a short count only together with an error.
//          send(MSG_NOSIGNAL): SIGPIPE never fires, EPIPE is reported instead.
//   Close  marks the fd closed, wakes every waiter (they fail with kClosing), and
//          returns once the last in-flight operation has left and close(2) ran (that
//          may be this call or the last operation's unlock). Second Close: kClosing.
//          close(2)'s error (bare errno, syscall nullptr; never retried, the fd is
//          gone either way) is returned only by the Close that ran it, as Go's.
//          Once the Run the fd was made in has ended, Close no longer waits for
//          operations its abandoned fibers were parked in: it closes the fd at once.
//          A plain thread waiting in Close blocks (never spins) and is released when
//          that Run ends. A socket still inside Connect when its Run ends is closed by
//          the Run's teardown.
//
// System calls go through the replaceable table of netfd/syscalls.h (tests inject
// failures there). Errors come back as FdError (kind + errno + syscall name); //net
// turns them into Go's OpError texts. Methods that touch the fd hold a reference
// (FdMutex) for their whole duration. Read/Write/Accept/Connect need a running fiber;
// the rest work on any thread.
#ifndef GONET_NETFD_NETFD_H_
#define GONET_NETFD_NETFD_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "netfd/fd_mutex.h"
#include "netfd/poll_desc.h"

namespace gonet::netfd {

struct FdError {
  enum class Kind : uint8_t {
    kNone,
    kClosing,        // "use of closed network connection"
    kTimeout,        // "i/o timeout" (deadline)
    kNotPollable,    // "not pollable"
    kErrno,          // errno, wrapped as SyscallError(syscall) when syscall != nullptr
    kEOF,            // io.EOF
    kUnexpectedEOF,  // io.ErrUnexpectedEOF (a write that wrote 0 bytes without error)
    kNotFiber,       // called outside a running fiber
  };
  Kind kind = Kind::kNone;
  int err = 0;
  const char* syscall = nullptr;

  bool ok() const { return kind == Kind::kNone; }
  // "ok", "closing", "timeout", "notpollable", "eof", "unexpectedeof", "notfiber" or
  // "errno:<syscall>:<strerror>": for logs and tests (//net renders Go's texts).
  std::string DebugString() const;
  static FdError Errno(const char* call, int e) { return {Kind::kErrno, e, call}; }
  static FdError Of(Kind k) { return {k, 0, nullptr}; }
  static FdError FromPoll(PollError e);
};

struct FdResult {
  size_t n = 0;
  FdError err;
};

// absl::Time deadline -> PollDesc form: InfiniteFuture = 0 (none), not after now = -1
// (expired; "now" must not read as "none"), else absolute monotonic ns.
int64_t DeadlineToMono(absl::Time t);

// Whether the caller runs on a fiber of a running gonet::Run: what NetFD's parking
// operations need (they fail with kNotFiber elsewhere). For //net's "not called from
// a fiber" checks, so that net needs no runtime internals. Any thread.
bool InFiber();

// The active gonet::Run's generation (0 when none is active), and whether the Run of
// a generation is still running: for //net objects that are not sockets (net::Pipe),
// which must not touch their waiters once the Run they were made in has ended (the
// waiters were abandoned with it). Any thread.
uint64_t RunGeneration();
bool RunStillRunning(uint64_t generation);

class NetFD {
 public:
  // socket(family, sotype|SOCK_NONBLOCK|SOCK_CLOEXEC, proto); not yet registered.
  static FdError Socket(int family, int sotype, int proto, std::string net,
                        std::unique_ptr<NetFD>* out);
  // Adopts an open non-blocking fd (accept4's result). Not yet registered.
  NetFD(int sysfd, int family, int sotype, std::string net);
  // Closes the fd if the owner never did (Go's finalizer).
  ~NetFD();
  NetFD(const NetFD&) = delete;
  NetFD& operator=(const NetFD&) = delete;

  // Registers with the running runtime's netpoller (Go: fd.init / pollOpen).
  FdError Init();

  // Connects; waits for writability then reads SO_ERROR, as Go's netFD.connect.
  // deadline: DeadlineToMono form. Registers the fd (Init) itself.
  FdError Connect(const sockaddr* sa, socklen_t len, int64_t deadline);
  // The same, running `on_wait` once the connect is in progress, the fd registered and
  // the write deadline armed, just before the first wait (where Go starts its context
  // interrupter): from then on, SetDeadline(-1, 'w') from any fiber or thread wakes the
  // connect with kTimeout. Earlier, such a SetDeadline would be lost (no poll
  // descriptor yet) or overwritten by `deadline`. Not called when connect(2) succeeds
  // or fails at once. on_wait must not throw; it may park.
  FdError Connect(const sockaddr* sa, socklen_t len, int64_t deadline,
                  absl::FunctionRef<void()> on_wait);

  FdResult Read(absl::Span<char> p);
  FdResult Write(absl::Span<const char> p);
  // Go's pfd.ReadFrom / ReadMsg / WriteTo / WriteMsg / Writev shape, for the calls Read
  // and Write do not cover (recvfrom, recvmsg, sendto, sendmsg, writev): takes the read
  // (write) lock, checks the poller, then runs op(fd) until it neither fails with
  // EINTR nor EAGAIN, parking for readiness after EAGAIN. op returns the syscall's
  // result, or -1 with errno set; -1 ends with FdError::Errno(syscall, errno). Its
  // result is returned as n; EOF rules are the caller's (these never report kEOF).
  // op runs once per try and may be called several times: it must restart cleanly.
  FdResult ReadWith(const char* syscall, absl::FunctionRef<ssize_t(int fd)> op);
  FdResult WriteWith(const char* syscall, absl::FunctionRef<ssize_t(int fd)> op);
  // WriteWith for a transfer of many steps (sendfile, splice out of a pipe): holds the
  // write lock throughout and calls op again while it returns > 0, until it returns 0
  // (nothing left: op tracks what remains) or fails. n is the sum of op's results.
  FdResult WriteAllWith(const char* syscall, absl::FunctionRef<ssize_t(int fd)> op);
  // accept4 with Go's retry list; the new fd is non-blocking and close-on-exec.
  // On error *call names the failing syscall ("accept4", "accept", "setnonblock").
  FdError Accept(int* newfd, sockaddr_storage* rsa, socklen_t* rsalen);

  FdError Close();
  FdError Shutdown(int how);  // SHUT_RD / SHUT_WR
  // mode 'r', 'w', 'r'+'w'; d in DeadlineToMono form.
  FdError SetDeadline(int64_t d, int mode);
  FdError SetSockoptInt(int level, int name, int value);
  FdError SetSockopt(int level, int name, const void* v, socklen_t len);
  // Runs f(fd) holding a reference: a concurrent Close waits for it. kClosing if closed.
  // Exception-safe: if f throws, the reference is released and the exception propagates.
  FdError Control(absl::FunctionRef<void(int fd)> f);

  int family() const { return family_; }
  int sotype() const { return sotype_; }
  const std::string& net() const { return net_; }
  // The fd number, for diagnostics only (it may be closed and reused at any time).
  int sysfd_for_test() const { return sysfd_; }

 private:
  class ConnectRegistry;
  // Unregisters and closes the fd (once); close(2)'s error, as a bare errno.
  FdError Destroy();
  // ReadWith/WriteWith/WriteAllWith's frame: the fiber check, the read (mode 'r') or
  // write lock, the poller check, then body() under the lock.
  FdResult Locked(int mode, absl::FunctionRef<FdResult()> body);
  FdError ReadLock();
  void ReadUnlock();
  FdError WriteLock();
  void WriteUnlock();
  FdError DecRef();  // Destroy's result when this dropped the last reference
  PollError Prepare(int mode);
  PollError PrepareRead(bool* skip);
  PollError WaitFor(int mode);

  int sysfd_;
  const int family_;
  const int sotype_;
  const std::string net_;
  // ConnectRegistry's intrusive list (guarded by its mutex).
  NetFD* connecting_prev_ = nullptr;
  NetFD* connecting_next_ = nullptr;
  // The Run whose fibers use this fd (0: made outside any Run and not yet Init'ed).
  // Written at construction or by Init, before the fd is shared.
  uint64_t generation_;
  FdMutex fdmu_;
  PollDesc* pd_ = nullptr;    // set by Init; released by Destroy
  std::atomic<bool> destroy_claimed_{false};  // Destroy runs once
  std::atomic<bool> destroyed_{false};
  FiberSema csema_;           // Close waits here until Destroy ran (Go: csema)
};

}  // namespace gonet::netfd

#endif  // GONET_NETFD_NETFD_H_
