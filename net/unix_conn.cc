// Go's net.UnixConn and net.UnixListener (net/unixsock.go, unixsock_posix.go), the
// "unix", "unixgram" and "unixpacket" sockets, and SCM_RIGHTS (syscall.UnixRights,
// ParseUnixRights), on netfd.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <utility>

#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net_internal {

std::shared_ptr<net::UnixConn> ConnAccess::NewUnixConn(std::shared_ptr<netfd::NetFD> fd,
                                                       net::Addr local, net::Addr remote,
                                                       bool dialed) {
  return std::shared_ptr<net::UnixConn>(
      new net::UnixConn(std::move(fd), std::move(local), std::move(remote), dialed));
}

std::shared_ptr<net::UnixListener> ConnAccess::NewUnixListener(std::shared_ptr<netfd::NetFD> fd,
                                                               net::Addr local, bool unlink) {
  return std::shared_ptr<net::UnixListener>(
      new net::UnixListener(std::move(fd), std::move(local), unlink));
}

namespace {

int UnixSotype(std::string_view network) {
  std::optional<UnixNetwork> un = ParseUnixNetwork(network);
  return un ? un->sotype : SOCK_STREAM;
}

net::Addr::Kind UnixKind(std::string_view network) {
  std::optional<UnixNetwork> un = ParseUnixNetwork(network);
  return un ? un->kind : net::Addr::Kind::kUnix;
}

// The socket's own name as Go's netFD.addrFunc gives it (getsockname; an unnamed
// socket reads "@").
net::Addr LocalName(netfd::NetFD& fd, net::Addr::Kind kind) {
  net::Addr a;
  (void)fd.Control([&](int s) { a = SockName(s); });
  return a.WithKind(kind);
}

}  // namespace

absl::StatusOr<std::shared_ptr<net::UnixConn>> DialUnix(std::string_view network,
                                                        const net::Addr* laddr,
                                                        const net::Addr& raddr,
                                                        const net::ControlFunc* control,
                                                        absl::Time deadline) {
  absl::StatusOr<std::shared_ptr<netfd::NetFD>> fd =
      OpenSocket({.network = network,
                  .family = AF_UNIX,
                  .sotype = UnixSotype(network),
                  .control = control,
                  .laddr = laddr,
                  .raddr = &raddr,
                  .deadline = deadline});
  if (!fd.ok()) return fd.status();
  const net::Addr::Kind kind = UnixKind(network);
  net::Addr local = LocalName(**fd, kind);
  net::Addr remote;
  (void)(*fd)->Control([&](int s) { remote = PeerName(s); });
  // Go: the peer's name if getpeername gives one, else the address dialed.
  remote = remote.IsUnix() ? remote.WithKind(kind) : raddr.WithKind(kind);
  return ConnAccess::NewUnixConn(*std::move(fd), std::move(local), std::move(remote), true);
}

namespace {

// Go's socket() in "listen" mode for a Unix address: bound, and listening when the
// socket is a stream (SOCK_STREAM, SOCK_SEQPACKET: Go's listenStream) whatever the
// entry point; a datagram socket is only bound (listenDatagram). So Go's Listen
// ("unixgram") gives a listener whose Accept fails as the kernel says, and
// ListenPacket("unix") a listening stream socket, and gonet does the same.
absl::StatusOr<std::pair<std::shared_ptr<netfd::NetFD>, net::Addr>> BindUnix(
    std::string_view network, const net::Addr& laddr, const net::ControlFunc* control,
    int backlog) {
  const int sotype = UnixSotype(network);
  absl::StatusOr<std::shared_ptr<netfd::NetFD>> fd = OpenSocket(
      {.network = network,
       .family = AF_UNIX,
       .sotype = sotype,
       .control = control,
       .laddr = &laddr,
       .listen_backlog = sotype == SOCK_DGRAM ? -1 : (backlog > 0 ? backlog : ListenerBacklog())});
  if (!fd.ok()) return fd.status();
  net::Addr local = LocalName(**fd, UnixKind(network));
  return std::make_pair(*std::move(fd), std::move(local));
}

}  // namespace

absl::StatusOr<std::shared_ptr<net::UnixListener>> ListenUnix(std::string_view network,
                                                              const net::Addr& laddr,
                                                              const net::ControlFunc* control,
                                                              int backlog) {
  auto bound = BindUnix(network, laddr, control, backlog);
  if (!bound.ok()) return bound.status();
  return ConnAccess::NewUnixListener(std::move(bound->first), std::move(bound->second), true);
}

absl::StatusOr<std::shared_ptr<net::UnixConn>> ListenUnixgram(std::string_view network,
                                                              const net::Addr& laddr,
                                                              const net::ControlFunc* control) {
  auto bound = BindUnix(network, laddr, control, 0);
  if (!bound.ok()) return bound.status();
  return ConnAccess::NewUnixConn(std::move(bound->first), std::move(bound->second),
                                 net::Addr::Nil(), false);
}

}  // namespace gonet::net_internal

namespace gonet::net {

namespace ni = net_internal;

UnixConn::UnixConn(std::shared_ptr<netfd::NetFD> fd, Addr local, Addr remote, bool dialed)
    : fd_(std::move(fd)), local_(std::move(local)), remote_(std::move(remote)), dialed_(dialed) {}

UnixConn::~UnixConn() = default;  // ~NetFD closes a still-open fd

IOResult UnixConn::Read(absl::Span<char> buf) { return ni::ConnRead(*fd_, local_, remote_, buf); }
IOResult UnixConn::Write(absl::Span<const char> buf) {
  return ni::ConnWrite(*fd_, local_, remote_, buf);
}
absl::Status UnixConn::Close() { return ni::ConnClose(*fd_, &local_, &remote_); }
Addr UnixConn::LocalAddr() const { return local_; }
Addr UnixConn::RemoteAddr() const { return remote_; }
absl::Status UnixConn::SetDeadline(absl::Time t) {
  return ni::ConnSetDeadline(*fd_, local_, t, 'r' + 'w');
}
absl::Status UnixConn::SetReadDeadline(absl::Time t) {
  return ni::ConnSetDeadline(*fd_, local_, t, 'r');
}
absl::Status UnixConn::SetWriteDeadline(absl::Time t) {
  return ni::ConnSetDeadline(*fd_, local_, t, 'w');
}

PacketResult UnixConn::ReadFrom(absl::Span<char> buf) {
  return ni::ConnReadFrom(*fd_, local_, remote_, local_.kind(), buf);
}

namespace {
// Go's UnixConn.writeTo / writeMsg checks: a dialed conn takes no address, an
// undialed one needs one, of the socket's own kind (else EAFNOSUPPORT); anything
// but a Unix address is EINVAL.
absl::Status CheckUnixDest(const netfd::NetFD& fd, const Addr& local, bool dialed,
                           const Addr* to) {
  if (to != nullptr && !to->IsNil() && !to->IsUnix()) {
    return ni::OpError("write", fd.net(), &local, to, ni::MakeErrno(EINVAL));
  }
  if (dialed && to != nullptr) {
    return ni::OpError("write", fd.net(), &local, to,
                       absl::Status(absl::StatusCode::kFailedPrecondition,
                                    "use of WriteTo with pre-connected connection"));
  }
  if (!dialed && to == nullptr) {
    return ni::OpError("write", fd.net(), &local, nullptr, ni::MakeMissingAddress());
  }
  if (to != nullptr && to->kind() != local.kind()) {
    return ni::OpError("write", fd.net(), &local, to, ni::MakeErrno(EAFNOSUPPORT));
  }
  return absl::OkStatus();
}
}  // namespace

IOResult UnixConn::WriteTo(absl::Span<const char> buf, const Addr& addr) {
  const Addr* to = addr.IsNil() ? nullptr : &addr;
  if (absl::Status s = CheckUnixDest(*fd_, local_, dialed_, to); !s.ok()) return {0, s};
  return ni::ConnWriteTo(*fd_, local_, addr, buf);
}

MsgResult UnixConn::ReadMsgUnix(absl::Span<char> b, absl::Span<char> oob) {
  return ni::ConnReadMsg(*fd_, local_, remote_, local_.kind(), b, oob);
}

IOResult UnixConn::WriteMsgUnix(absl::Span<const char> b, absl::Span<const char> oob,
                                const Addr* addr) {
  if (addr != nullptr && addr->IsNil()) addr = nullptr;
  // Go's writeMsg: an address is only checked on an unconnected datagram socket; on
  // a stream the connected peer is the destination.
  if (fd_->sotype() == SOCK_DGRAM || addr != nullptr) {
    if (absl::Status s = CheckUnixDest(*fd_, local_, dialed_ || fd_->sotype() != SOCK_DGRAM,
                                       addr);
        !s.ok()) {
      return {0, s};
    }
  }
  return ni::ConnWriteMsg(*fd_, local_, remote_, addr, b, oob);
}

absl::Status UnixConn::CloseRead() { return ni::ConnShutdown(*fd_, local_, remote_, SHUT_RD); }
absl::Status UnixConn::CloseWrite() { return ni::ConnShutdown(*fd_, local_, remote_, SHUT_WR); }
absl::Status UnixConn::SetReadBuffer(int bytes) {
  return ni::ConnSetSockoptInt(*fd_, local_, SOL_SOCKET, SO_RCVBUF, bytes);
}
absl::Status UnixConn::SetWriteBuffer(int bytes) {
  return ni::ConnSetSockoptInt(*fd_, local_, SOL_SOCKET, SO_SNDBUF, bytes);
}
absl::Status UnixConn::Control(absl::FunctionRef<void(int fd)> f) {
  return ni::ConnControl(*fd_, local_, f);
}

// ---------------------------------------------------------------- UnixListener

UnixListener::UnixListener(std::shared_ptr<netfd::NetFD> fd, Addr local, bool unlink)
    : fd_(std::move(fd)), local_(std::move(local)), unlink_(unlink) {}

UnixListener::~UnixListener() {
  // Destroying an open listener closes it, and removes its file as Close would.
  (void)Close();
}

absl::StatusOr<std::shared_ptr<UnixConn>> UnixListener::AcceptUnix() {
  int nfd = -1;
  sockaddr_storage rsa{};
  socklen_t rlen = sizeof rsa;
  netfd::FdError e = fd_->Accept(&nfd, &rsa, &rlen);
  if (!e.ok()) {
    if (e.kind == netfd::FdError::Kind::kNotFiber) return ni::MakeNotFiber();
    return ni::OpError("accept", fd_->net(), nullptr, &local_, ni::FdErrorToStatus(e));
  }
  auto nf = std::make_shared<netfd::NetFD>(nfd, AF_UNIX, fd_->sotype(), fd_->net());
  if (netfd::FdError ie = nf->Init(); !ie.ok()) {
    (void)nf->Close();
    return ni::OpError("accept", fd_->net(), nullptr, &local_, ni::FdErrorToStatus(ie));
  }
  Addr laddr = ni::SockName(nfd).WithKind(local_.kind());
  Addr raddr = Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&rsa), rlen).WithKind(local_.kind());
  return ni::ConnAccess::NewUnixConn(std::move(nf), std::move(laddr), std::move(raddr), false);
}

absl::StatusOr<std::shared_ptr<Conn>> UnixListener::Accept() {
  auto c = AcceptUnix();
  if (!c.ok()) return c.status();
  return std::shared_ptr<Conn>(std::move(*c));
}

absl::Status UnixListener::Close() {
  // Go: the file goes once, by the first Close, before the fd (so a new listener on the
  // same path can bind as soon as Close returns); abstract names have no file.
  if (!unlinked_.exchange(true, std::memory_order_acq_rel)) {
    const std::string& path = local_.Name();
    if (unlink_.load(std::memory_order_acquire) && !path.empty() && path[0] != '@') {
      (void)unlink(path.c_str());
    }
  }
  return ni::ConnClose(*fd_, nullptr, &local_);
}

Addr UnixListener::Address() const { return local_; }

absl::Status UnixListener::SetDeadline(absl::Time t) {
  return ni::ConnSetDeadline(*fd_, local_, t, 'r' + 'w');
}

void UnixListener::SetUnlinkOnClose(bool unlink) {
  unlink_.store(unlink, std::memory_order_release);
}

absl::Status UnixListener::Control(absl::FunctionRef<void(int fd)> f) {
  return ni::ConnControl(*fd_, local_, f);
}

// ---------------------------------------------------------------- SCM_RIGHTS

std::string UnixRights(absl::Span<const int> fds) {
  const size_t datalen = fds.size() * sizeof(int);
  std::string b(CMSG_SPACE(datalen), '\0');
  auto* h = reinterpret_cast<cmsghdr*>(b.data());
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(datalen);
  if (datalen > 0) std::memcpy(CMSG_DATA(h), fds.data(), datalen);
  return b;
}

absl::StatusOr<std::vector<int>> ParseUnixRights(absl::Span<const char> oob) {
  std::vector<int> fds;
  auto fail = [&fds]() -> absl::Status {
    for (int fd : fds) (void)close(fd);  // none leak: the caller gets none of them
    return ni::MakeErrno(EINVAL);
  };
  // Go's ParseSocketControlMessage: each header must fit, with a length that covers
  // itself and stays inside oob; messages follow at CMSG_ALIGN'ed offsets.
  size_t off = 0;
  while (off + sizeof(cmsghdr) <= oob.size()) {
    cmsghdr h;
    std::memcpy(&h, oob.data() + off, sizeof h);
    if (h.cmsg_len < sizeof(cmsghdr) || h.cmsg_len > oob.size() - off) return fail();
    const size_t data_off = off + CMSG_LEN(0);
    const size_t data_len = h.cmsg_len - CMSG_LEN(0);
    if (h.cmsg_level == SOL_SOCKET && h.cmsg_type == SCM_RIGHTS) {
      for (size_t i = 0; i + sizeof(int) <= data_len; i += sizeof(int)) {
        int fd;
        std::memcpy(&fd, oob.data() + data_off + i, sizeof fd);
        fds.push_back(fd);
      }
    }
    off += CMSG_ALIGN(h.cmsg_len);
  }
  return fds;
}

}  // namespace gonet::net
