// syscalls.h: the system calls netfd makes, as a table tests can replace (Go's
// internal/poll hook_unix.go: CloseFunc, AcceptFunc, ... and net's socketFunc,
// connectFunc, getsockoptIntFunc hooks), so that error paths the kernel rarely takes
// (EINTR, ECONNABORTED, EMFILE, short writes, the accept4 fallback, a failing close)
// can be injected and tested.
//
// Every system call of netfd.cc goes through Sys(): one load of a function pointer
// from a global plus an indirect call. The defaults are what netfd always did: read(2)
// and sendto(2, MSG_NOSIGNAL) as raw syscall(2)s (no libc cancellation-point wrapper),
// the rest libc's functions. Each entry must behave like the system call it stands
// for: return -1 and set errno on failure, and a replacement that fails without doing
// the work must leave no side effect the caller would have to undo (an injected
// accept4 error must not also accept a connection, unless it means to drop it).
//
// Thread safety. The table is a plain global, read without synchronization on every
// operation. Replace it (ScopedSyscallOverride, or assignments to MutableSyscalls())
// only while no other thread can be inside netfd: before gonet::Run starts or after
// it returned (Run's thread start and join order the write before and after every
// worker's reads), or from the only fiber of a Run that touches netfd, before it
// spawns any fiber or thread that does (spawning orders the write before their
// reads). Never while another fiber or thread may be in a NetFD method or holds an
// open NetFD that the Run's teardown may close. A replacement that keeps state (a
// counter of calls to fail) must synchronize that state itself: several workers may
// call it at once. This is test machinery: production code never replaces the table.
#ifndef GONET_NETFD_SYSCALLS_H_
#define GONET_NETFD_SYSCALLS_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <sys/socket.h>
#include <sys/types.h>

#include <cstddef>

namespace gonet::netfd {

struct Syscalls {
  // Hot path (Read, Write).
  ssize_t (*read)(int fd, void* p, size_t n);
  // sendto(fd, p, n, MSG_NOSIGNAL, nullptr, 0): SIGPIPE never fires.
  ssize_t (*send)(int fd, const void* p, size_t n);
  // Accept: accept4 first; accept + fcntl only when accept4 fails with ENOSYS, EINVAL,
  // EACCES or EFAULT (old kernels).
  int (*accept4)(int fd, sockaddr* sa, socklen_t* len, int flags);
  int (*accept)(int fd, sockaddr* sa, socklen_t* len);
  // fcntl(fd, cmd, arg) for F_SETFD, F_GETFL (arg ignored) and F_SETFL.
  int (*fcntl)(int fd, int cmd, int arg);
  // Socket and Connect.
  int (*socket)(int family, int type, int proto);
  int (*connect)(int fd, const sockaddr* sa, socklen_t len);
  int (*getsockopt)(int fd, int level, int name, void* v, socklen_t* len);
  int (*getpeername)(int fd, sockaddr* sa, socklen_t* len);
  // Options, Shutdown, and the final close(2) of every NetFD (including the fd that a
  // failed accept fallback already accepted).
  int (*setsockopt)(int fd, int level, int name, const void* v, socklen_t len);
  int (*shutdown)(int fd, int how);
  int (*close)(int fd);
};

// The real system calls (never changes).
const Syscalls& DefaultSyscalls();

namespace internal {
// The table in use. Read it through Sys(); write it only under the rule above.
extern Syscalls g_syscalls;
}  // namespace internal

inline const Syscalls& Sys() { return internal::g_syscalls; }
// For tests: the table in use, writable (same rule as ScopedSyscallOverride).
inline Syscalls& MutableSyscalls() { return internal::g_syscalls; }

// The calling thread's errno, read afresh. A fiber may resume on another thread after
// any park (fiber.h's THREAD-LOCAL HAZARD), and compilers keep errno's address (a
// thread_local; __errno_location is a const function) across calls: a function that
// parks and later reads `errno` may read the errno of the thread it started on. Every
// errno read in netfd goes through this out-of-line call instead.
int LastErrno();

// Installs `table` for its lifetime and restores the table it found. Test-only; obeys
// the thread-safety rule above at construction and at destruction. Nest in LIFO order.
class ScopedSyscallOverride {
 public:
  explicit ScopedSyscallOverride(const Syscalls& table) : saved_(internal::g_syscalls) {
    internal::g_syscalls = table;
  }
  ~ScopedSyscallOverride() { internal::g_syscalls = saved_; }
  ScopedSyscallOverride(const ScopedSyscallOverride&) = delete;
  ScopedSyscallOverride& operator=(const ScopedSyscallOverride&) = delete;

 private:
  const Syscalls saved_;
};

}  // namespace gonet::netfd

#endif  // GONET_NETFD_SYSCALLS_H_
