// The operations every socket Conn shares (Go's net.conn methods, netFD's readFrom,
// readMsg, writeTo, writeMsg, writeBuffers), and Go's socket() for the non-TCP kinds,
// on netfd.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <algorithm>
#include <climits>
#include <vector>

#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net_internal {

using net::Addr;
using net::IOResult;
using netfd::FdError;
using netfd::FdResult;

namespace {

absl::Status Wrap(std::string_view op, const netfd::NetFD& fd, const Addr* local,
                  const Addr* remote, const FdError& e) {
  if (e.kind == FdError::Kind::kNotFiber) return MakeNotFiber();
  return OpError(op, fd.net(), local, remote, FdErrorToStatus(e));
}

}  // namespace

IOResult ConnRead(netfd::NetFD& fd, const Addr& local, const Addr& remote, absl::Span<char> buf) {
  FdResult r = fd.Read(buf);
  if (r.err.ok()) return {r.n, absl::OkStatus()};
  if (r.err.kind == FdError::Kind::kEOF) return {r.n, MakeEOF()};  // never wrapped
  return {r.n, Wrap("read", fd, &local, &remote, r.err)};
}

IOResult ConnWrite(netfd::NetFD& fd, const Addr& local, const Addr& remote,
                   absl::Span<const char> buf) {
  FdResult r = fd.Write(buf);
  if (r.err.ok()) return {r.n, absl::OkStatus()};
  return {r.n, Wrap("write", fd, &local, &remote, r.err)};
}

absl::Status ConnClose(netfd::NetFD& fd, const Addr* local, const Addr* remote) {
  FdError e = fd.Close();
  if (e.ok()) return absl::OkStatus();
  return OpError("close", fd.net(), local, remote, FdErrorToStatus(e));
}

absl::Status ConnSetDeadline(netfd::NetFD& fd, const Addr& local, absl::Time t, int mode) {
  FdError e = fd.SetDeadline(netfd::DeadlineToMono(t), mode);
  if (e.ok()) return absl::OkStatus();
  return OpError("set", fd.net(), nullptr, &local, FdErrorToStatus(e));
}

absl::Status ConnSetSockoptInt(netfd::NetFD& fd, const Addr& local, int level, int name,
                               int value) {
  FdError e = fd.SetSockoptInt(level, name, value);
  if (e.ok()) return absl::OkStatus();
  return OpError("set", fd.net(), nullptr, &local, FdErrorToStatus(e));
}

absl::Status ConnControl(netfd::NetFD& fd, const Addr& local, absl::FunctionRef<void(int fd)> f) {
  FdError e = fd.Control(f);
  if (e.ok()) return absl::OkStatus();
  return OpError("raw-control", fd.net(), nullptr, &local, FdErrorToStatus(e));
}

absl::Status ConnShutdown(netfd::NetFD& fd, const Addr& local, const Addr& remote, int how) {
  FdError e = fd.Shutdown(how);
  if (e.ok()) return absl::OkStatus();
  return OpError("close", fd.net(), &local, &remote, FdErrorToStatus(e));
}

namespace {

// The sender the kernel named, as an Addr of `kind`; nil when it named none (an
// unnamed Unix sender, a stream socket), as Go's sockaddrToUDP/Unix give nil.
Addr SenderAddr(const sockaddr_storage& ss, socklen_t len, Addr::Kind kind) {
  if (len == 0 || ss.ss_family == AF_UNSPEC) return Addr::Nil();
  if (ss.ss_family == AF_UNIX) {
    // Go: an unnamed Unix sender (no path) gives a nil Addr.
    if (len <= static_cast<socklen_t>(offsetof(sockaddr_un, sun_path))) return Addr::Nil();
  }
  return Addr::FromSockaddr(reinterpret_cast<const sockaddr*>(&ss), len).WithKind(kind);
}

bool IsStream(const netfd::NetFD& fd) { return fd.sotype() == SOCK_STREAM; }

}  // namespace

net::PacketResult ConnReadFrom(netfd::NetFD& fd, const Addr& local, const Addr& remote,
                               Addr::Kind kind, absl::Span<char> buf) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  FdResult r = fd.ReadWith("recvfrom", [&](int s) {
    len = sizeof ss;
    return recvfrom(s, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&ss), &len);
  });
  net::PacketResult out;
  out.n = r.n;
  if (!r.err.ok()) {
    out.err = Wrap("read", fd, &local, &remote, r.err);
    out.addr = Addr::Nil();
    return out;
  }
  out.addr = SenderAddr(ss, len, kind);
  if (r.n == 0 && !buf.empty() && IsStream(fd)) out.err = MakeEOF();  // Go's eofError
  return out;
}

IOResult ConnWriteTo(netfd::NetFD& fd, const Addr& local, const Addr& to,
                     absl::Span<const char> buf) {
  sockaddr_storage ss{};
  absl::StatusOr<socklen_t> sl = to.ToSockaddr(fd.family(), &ss);
  if (!sl.ok()) return {0, OpError("write", fd.net(), &local, &to, sl.status())};
  FdResult r = fd.WriteWith("sendto", [&](int s) {
    return sendto(s, buf.data(), buf.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&ss), *sl);
  });
  if (r.err.ok()) return {r.n, absl::OkStatus()};
  return {r.n, Wrap("write", fd, &local, &to, r.err)};
}

net::MsgResult ConnReadMsg(netfd::NetFD& fd, const Addr& local, const Addr& remote,
                           Addr::Kind kind, absl::Span<char> b, absl::Span<char> oob) {
  sockaddr_storage ss{};
  msghdr msg{};
  iovec iov{};
  const bool unix = fd.family() == AF_UNIX;
  FdResult r = fd.ReadWith("recvmsg", [&](int s) {
    msg = msghdr{};
    iov.iov_base = b.data();
    iov.iov_len = b.size();
    msg.msg_name = &ss;
    msg.msg_namelen = sizeof ss;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = oob.empty() ? nullptr : oob.data();
    msg.msg_controllen = oob.size();
    // Received descriptors close on exec, as Go's ReadMsgUnix asks (Go 1.19 on Linux
    // passes MSG_CMSG_CLOEXEC for Unix sockets, and the kernel echoes it in msg_flags;
    // ReadMsgUDP passes no flag).
    return recvmsg(s, &msg, unix ? MSG_CMSG_CLOEXEC : 0);
  });
  net::MsgResult out;
  out.n = r.n;
  if (!r.err.ok()) {
    out.err = Wrap("read", fd, &local, &remote, r.err);
    out.addr = Addr::Nil();
    return out;
  }
  out.oobn = msg.msg_controllen;
  out.flags = msg.msg_flags;
  out.addr = SenderAddr(ss, msg.msg_namelen, kind);
  if (r.n == 0 && !b.empty() && IsStream(fd)) out.err = MakeEOF();
  return out;
}

IOResult ConnWriteMsg(netfd::NetFD& fd, const Addr& local, const Addr& remote, const Addr* to,
                      absl::Span<const char> b, absl::Span<const char> oob) {
  sockaddr_storage ss{};
  socklen_t sl = 0;
  if (to != nullptr) {
    absl::StatusOr<socklen_t> l = to->ToSockaddr(fd.family(), &ss);
    if (!l.ok()) return {0, OpError("write", fd.net(), &local, to, l.status())};
    sl = *l;
  }
  // Go: a stream socket with oob but no data sends one dummy byte (so the control
  // message goes somewhere), counted out of n.
  char dummy = 0;
  const bool add_dummy = !oob.empty() && b.empty() && fd.sotype() != SOCK_DGRAM;
  FdResult r = fd.WriteWith("sendmsg", [&](int s) {
    msghdr msg{};
    iovec iov{};
    iov.iov_base = add_dummy ? &dummy : const_cast<char*>(b.data());
    iov.iov_len = add_dummy ? 1 : b.size();
    msg.msg_name = to != nullptr ? &ss : nullptr;
    msg.msg_namelen = sl;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = oob.empty() ? nullptr : const_cast<char*>(oob.data());
    msg.msg_controllen = oob.size();
    return sendmsg(s, &msg, MSG_NOSIGNAL);
  });
  const size_t n = add_dummy ? 0 : r.n;
  if (r.err.ok()) return {n, absl::OkStatus()};
  return {n, Wrap("write", fd, &local, to != nullptr ? to : &remote, r.err)};
}

IOResult ConnWritev(netfd::NetFD& fd, const Addr& local, const Addr& remote,
                    const net::Buffers& bufs) {
  // Go's netFD.writeBuffers: writev in batches of at most IOV_MAX, advancing over
  // what the kernel took, until everything is written or an error.
  size_t total = 0;
  for (const auto& b : bufs) total += b.size();
  size_t done = 0;
  size_t first = 0, first_off = 0;  // the next byte to write: bufs[first][first_off]
  std::vector<iovec> iov;
  while (done < total) {
    iov.clear();
    for (size_t i = first; i < bufs.size() && iov.size() < IOV_MAX; ++i) {
      const size_t off = i == first ? first_off : 0;
      if (bufs[i].size() == off) continue;
      iov.push_back({const_cast<char*>(bufs[i].data()) + off, bufs[i].size() - off});
    }
    FdResult r = fd.WriteWith("writev", [&](int s) {
      return writev(s, iov.data(), static_cast<int>(iov.size()));
    });
    done += r.n;
    // Advance the cursor by r.n bytes.
    for (size_t left = r.n; left > 0 && first < bufs.size();) {
      const size_t avail = bufs[first].size() - first_off;
      if (left < avail) {
        first_off += left;
        left = 0;
      } else {
        left -= avail;
        ++first;
        first_off = 0;
      }
    }
    if (!r.err.ok()) return {done, Wrap("write", fd, &local, &remote, r.err)};
    if (r.n == 0 && done < total) {
      return {done, OpError("write", fd.net(), &local, &remote, MakeUnexpectedEOF())};
    }
  }
  return {done, absl::OkStatus()};
}

absl::StatusOr<std::shared_ptr<netfd::NetFD>> OpenSocket(const SocketSpec& spec) {
  std::unique_ptr<netfd::NetFD> fd;
  if (auto e = netfd::NetFD::Socket(spec.family, spec.sotype, 0, std::string(spec.network), &fd);
      !e.ok()) {
    return FdErrorToStatus(e);
  }
  // Go's setDefaultSockopts (errors ignored, as Go).
  if (spec.family == AF_INET6) {
    (void)fd->SetSockoptInt(IPPROTO_IPV6, IPV6_V6ONLY, spec.v6only ? 1 : 0);
  }
  if (spec.sotype == SOCK_DGRAM && spec.family != AF_UNIX) {
    (void)fd->SetSockoptInt(SOL_SOCKET, SO_BROADCAST, 1);
  }
  if (spec.control != nullptr && *spec.control) {
    const Addr* shown = spec.raddr != nullptr ? spec.raddr : spec.laddr;
    if (absl::Status cs = RunControl(*spec.control, spec.network, spec.family,
                                     shown != nullptr ? shown->String() : "", fd.get());
        !cs.ok()) {
      return cs;
    }
  }
  if (spec.laddr != nullptr) {
    sockaddr_storage ls{};
    absl::StatusOr<socklen_t> ll = spec.laddr->ToSockaddr(spec.family, &ls);
    // Go converts a Unix name inside syscall.Bind, whose EINVAL (a name too long) is
    // then "bind: invalid argument"; IP address errors come before, unwrapped.
    if (!ll.ok()) return spec.family == AF_UNIX ? MakeSyscallError("bind", EINVAL) : ll.status();
    int bind_err = 0, listen_err = 0;
    (void)fd->Control([&](int s) {
      if (bind(s, reinterpret_cast<sockaddr*>(&ls), *ll) != 0) {
        bind_err = errno;
        return;
      }
      if (spec.listen_backlog >= 0 && ::listen(s, spec.listen_backlog) != 0) listen_err = errno;
    });
    if (bind_err) return MakeSyscallError("bind", bind_err);
    if (listen_err) return MakeSyscallError("listen", listen_err);
  }
  if (spec.raddr != nullptr) {
    sockaddr_storage rs{};
    absl::StatusOr<socklen_t> rl = spec.raddr->ToSockaddr(spec.family, &rs);
    if (!rl.ok()) {
      return spec.family == AF_UNIX ? MakeSyscallError("connect", EINVAL) : rl.status();
    }
    if (FdError e = fd->Connect(reinterpret_cast<sockaddr*>(&rs), *rl,
                                netfd::DeadlineToMono(spec.deadline));
        !e.ok()) {
      return FdErrorToStatus(e);
    }
  } else if (FdError e = fd->Init(); !e.ok()) {
    return FdErrorToStatus(e);
  }
  return std::shared_ptr<netfd::NetFD>(std::move(fd));
}

}  // namespace gonet::net_internal
