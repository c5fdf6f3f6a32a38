// The default system call table (syscalls.h).
#include "netfd/syscalls.h"

#include <cerrno>

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace gonet::netfd {
namespace {

// read(2) and send(2) without libc's wrappers: those are pthread cancellation points
// and bracket every call with enable/disable-asynccancel bookkeeping (about 5% of a
// loopback echo server's user-space instructions). Fibers never use cancellation.
// Same results and errno as the libc calls.
ssize_t RawRead(int fd, void* p, size_t n) { return syscall(SYS_read, fd, p, n); }
ssize_t RawSend(int fd, const void* p, size_t n) {
  return syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL, nullptr, 0);
}
int Accept4(int fd, sockaddr* sa, socklen_t* len, int flags) { return ::accept4(fd, sa, len, flags); }
int Accept(int fd, sockaddr* sa, socklen_t* len) { return ::accept(fd, sa, len); }
int Fcntl(int fd, int cmd, int arg) { return ::fcntl(fd, cmd, arg); }
int Socket(int family, int type, int proto) { return ::socket(family, type, proto); }
int Connect(int fd, const sockaddr* sa, socklen_t len) { return ::connect(fd, sa, len); }
int Getsockopt(int fd, int level, int name, void* v, socklen_t* len) {
  return ::getsockopt(fd, level, name, v, len);
}
int Getpeername(int fd, sockaddr* sa, socklen_t* len) { return ::getpeername(fd, sa, len); }
int Setsockopt(int fd, int level, int name, const void* v, socklen_t len) {
  return ::setsockopt(fd, level, name, v, len);
}
int Shutdown(int fd, int how) { return ::shutdown(fd, how); }
int Close(int fd) { return ::close(fd); }

constexpr Syscalls kDefault = {
    RawRead, RawSend, Accept4, Accept, Fcntl, Socket, Connect,
    Getsockopt, Getpeername, Setsockopt, Shutdown, Close,
};

}  // namespace

const Syscalls& DefaultSyscalls() { return kDefault; }

__attribute__((noinline)) int LastErrno() {
  asm volatile("" ::: "memory");
  return errno;
}

namespace internal {
// Constant-initialized: usable before any dynamic initializer runs.
constinit Syscalls g_syscalls = kDefault;
}  // namespace internal

}  // namespace gonet::netfd
