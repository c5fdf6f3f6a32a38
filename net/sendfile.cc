// Go's TCPConn.ReadFrom (net/tcpsock_posix.go, sendfile_linux.go, splice_linux.go):
// sendfile(2) from a file, splice(2) from another stream socket, and the generic
// Read/Write copy where neither applies.
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "fiber/fiber.h"
#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net {

namespace ni = net_internal;
using netfd::FdError;
using netfd::FdResult;

namespace {

constexpr int64_t kMaxChunk = int64_t{1} << 30;     // per sendfile/splice call, as Go
constexpr size_t kCopyBuffer = 32 * 1024;            // io.Copy's buffer
constexpr int kPipeSize = 1 << 20;                   // Go's maxSpliceSize

int64_t Remaining(int64_t limit) {
  return limit < 0 ? std::numeric_limits<int64_t>::max() : limit;
}

bool NotSupported(const FdError& e) {
  // sendfile/splice refuse this pair of fds: Go then falls back to the generic copy.
  return e.kind == FdError::Kind::kErrno &&
         (e.err == EINVAL || e.err == ENOSYS || e.err == EOPNOTSUPP || e.err == ENOTSUP ||
          e.err == EBADF || e.err == ESPIPE);
}

}  // namespace

IOResult TCPConn::ReadFromFile(int file_fd, int64_t limit) {
  if (!netfd::InFiber()) return {0, ni::MakeNotFiber()};
  int64_t remain = Remaining(limit);
  FdResult r = fd_->WriteAllWith("sendfile", [&](int s) -> ssize_t {
    if (remain <= 0) return 0;
    // A null offset: the kernel reads at the file's offset and advances it.
    ssize_t n = sendfile(s, file_fd, nullptr, static_cast<size_t>(std::min(remain, kMaxChunk)));
    if (n > 0) remain -= n;
    return n;
  });
  if (r.err.ok()) return {r.n, absl::OkStatus()};
  if (r.n > 0 || !NotSupported(r.err)) {
    return {r.n, ni::OpError("readfrom", fd_->net(), &local_, &remote_, ni::FdErrorToStatus(r.err))};
  }
  // The generic copy: reads of a file may block on the disk, so in Blocking.
  std::vector<char> buf(kCopyBuffer);
  IOResult out;
  while (remain > 0) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(remain, buf.size()));
    // errno is read inside: Blocking may return on another thread, whose errno differs.
    auto [n, err] = gonet::Blocking([&] {
      ssize_t got = read(file_fd, buf.data(), want);
      return std::make_pair(got, got < 0 ? errno : 0);
    });
    if (n < 0) {
      if (err == EINTR) continue;
      out.err = ni::OpError("readfrom", fd_->net(), &local_, &remote_,
                            ni::MakeSyscallError("read", err));
      break;
    }
    if (n == 0) break;
    IOResult w = Write(absl::MakeConstSpan(buf.data(), static_cast<size_t>(n)));
    out.n += w.n;
    remain -= static_cast<int64_t>(w.n);
    if (!w.err.ok()) {
      out.err = ni::OpError("readfrom", fd_->net(), &local_, &remote_, w.err);
      break;
    }
  }
  return out;
}

IOResult TCPConn::ReadFrom(Conn& src, int64_t limit) {
  if (!netfd::InFiber()) return {0, ni::MakeNotFiber()};
  int64_t remain = Remaining(limit);
  netfd::NetFD* sfd = nullptr;
  if (auto* t = dynamic_cast<TCPConn*>(&src)) sfd = t->fd_.get();
  if (auto* u = dynamic_cast<UnixConn*>(&src)) {
    netfd::NetFD* f = ni::ConnAccess::Fd(u);
    if (f->sotype() == SOCK_STREAM) sfd = f;
  }
  IOResult out;
  int p[2] = {-1, -1};
  if (sfd != nullptr && pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
    (void)fcntl(p[1], F_SETPIPE_SZ, kPipeSize);
    bool handled = true;
    while (remain > 0) {
      // Drain: the source into the (empty) pipe; EAGAIN can only mean no data yet.
      FdResult in = sfd->ReadWith("splice", [&](int s) -> ssize_t {
        return splice(s, nullptr, p[1], nullptr,
                      static_cast<size_t>(std::min<int64_t>(remain, kPipeSize)),
                      SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      });
      if (!in.err.ok()) {
        if (out.n == 0 && NotSupported(in.err)) {
          handled = false;  // this source cannot be spliced: copy instead
        } else {
          out.err = ni::OpError("readfrom", fd_->net(), &local_, &remote_,
                                ni::FdErrorToStatus(in.err));
        }
        break;
      }
      if (in.n == 0) break;  // the source's EOF
      // Pump: the pipe into this socket, all of it.
      size_t inpipe = in.n;
      FdResult w = fd_->WriteAllWith("splice", [&](int s) -> ssize_t {
        if (inpipe == 0) return 0;
        ssize_t n = splice(p[0], nullptr, s, nullptr, inpipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n > 0) inpipe -= static_cast<size_t>(n);
        return n;
      });
      out.n += w.n;
      remain -= static_cast<int64_t>(w.n);
      if (!w.err.ok()) {
        out.err = ni::OpError("readfrom", fd_->net(), &local_, &remote_,
                              ni::FdErrorToStatus(w.err));
        break;
      }
    }
    close(p[0]);
    close(p[1]);
    if (handled) return out;
  }
  // Go's genericReadFrom: io.Copy through a buffer.
  std::vector<char> buf(kCopyBuffer);
  while (remain > 0) {
    const size_t want = static_cast<size_t>(std::min<int64_t>(remain, buf.size()));
    IOResult r = src.Read(absl::MakeSpan(buf.data(), want));
    if (r.n > 0) {
      IOResult w = Write(absl::MakeConstSpan(buf.data(), r.n));
      out.n += w.n;
      remain -= static_cast<int64_t>(w.n);
      if (!w.err.ok()) {
        out.err = ni::OpError("readfrom", fd_->net(), &local_, &remote_, w.err);
        return out;
      }
    }
    if (IsEOF(r.err)) break;
    if (!r.err.ok()) {
      out.err = ni::OpError("readfrom", fd_->net(), &local_, &remote_, r.err);
      return out;
    }
  }
  return out;
}

}  // namespace gonet::net
