// Go's net.UDPConn (net/udpsock.go, udpsock_posix.go) and ListenPacket("udp*"), on
// netfd.
#include <netinet/in.h>
#include <sys/socket.h>

#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net_internal {

std::shared_ptr<net::UDPConn> ConnAccess::NewUDPConn(std::shared_ptr<netfd::NetFD> fd,
                                                     net::Addr local, net::Addr remote) {
  return std::shared_ptr<net::UDPConn>(
      new net::UDPConn(std::move(fd), std::move(local), std::move(remote)));
}

}  // namespace gonet::net_internal

namespace gonet::net {

namespace ni = net_internal;

UDPConn::UDPConn(std::shared_ptr<netfd::NetFD> fd, Addr local, Addr remote)
    : fd_(std::move(fd)), local_(std::move(local)), remote_(std::move(remote)) {}

UDPConn::~UDPConn() = default;  // ~NetFD closes a still-open fd

IOResult UDPConn::Read(absl::Span<char> buf) { return ni::ConnRead(*fd_, local_, remote_, buf); }
IOResult UDPConn::Write(absl::Span<const char> buf) {
  return ni::ConnWrite(*fd_, local_, remote_, buf);
}
absl::Status UDPConn::Close() { return ni::ConnClose(*fd_, &local_, &remote_); }
Addr UDPConn::LocalAddr() const { return local_; }
Addr UDPConn::RemoteAddr() const { return remote_; }
absl::Status UDPConn::SetDeadline(absl::Time t) {
  return ni::ConnSetDeadline(*fd_, local_, t, 'r' + 'w');
}
absl::Status UDPConn::SetReadDeadline(absl::Time t) {
  return ni::ConnSetDeadline(*fd_, local_, t, 'r');
}
absl::Status UDPConn::SetWriteDeadline(absl::Time t) {
  return ni::ConnSetDeadline(*fd_, local_, t, 'w');
}

PacketResult UDPConn::ReadFrom(absl::Span<char> buf) {
  return ni::ConnReadFrom(*fd_, local_, remote_, Addr::Kind::kUDP, buf);
}

namespace {
// Go's UDPConn.WriteTo/WriteMsgUDP checks, in Go's order: a dialed conn takes no
// address; an unconnected one needs one; it must be a UDP Addr (Addr::UDP,
// ResolveUDPAddr, a ReadFrom's sender): any other kind, a TCP one included, is EINVAL,
// as Go's *UDPAddr type check.
absl::Status CheckUDPDest(const netfd::NetFD& fd, const Addr& local, const Addr& remote,
                          const Addr* to) {
  const bool connected = !remote.IsNil();
  if (connected && to != nullptr) {
    return ni::OpError("write", fd.net(), &local, to,
                       absl::Status(absl::StatusCode::kFailedPrecondition,
                                    "use of WriteTo with pre-connected connection"));
  }
  if (!connected && (to == nullptr || to->IsNil())) {
    return ni::OpError("write", fd.net(), &local, nullptr, ni::MakeMissingAddress());
  }
  if (to != nullptr && to->kind() != Addr::Kind::kUDP) {
    return ni::OpError("write", fd.net(), &local, to, ni::MakeErrno(EINVAL));
  }
  return absl::OkStatus();
}
}  // namespace

IOResult UDPConn::WriteTo(absl::Span<const char> buf, const Addr& addr) {
  if (absl::Status s = CheckUDPDest(*fd_, local_, remote_, &addr); !s.ok()) return {0, s};
  return ni::ConnWriteTo(*fd_, local_, addr, buf);
}

MsgResult UDPConn::ReadMsgUDP(absl::Span<char> b, absl::Span<char> oob) {
  MsgResult m = ni::ConnReadMsg(*fd_, local_, remote_, Addr::Kind::kUDP, b, oob);
  // Go 1.19 returns the zero UDPAddr of the socket's family on error ("0.0.0.0:0").
  if (!m.err.ok() && m.addr.IsNil()) {
    static constexpr uint8_t kZero4[4] = {};
    static constexpr uint8_t kZero16[16] = {};
    m.addr = fd_->family() == AF_INET ? Addr::UDP(kZero4, 0) : Addr::UDP(kZero16, 0);
  }
  return m;
}

IOResult UDPConn::WriteMsgUDP(absl::Span<const char> b, absl::Span<const char> oob,
                              const Addr* addr) {
  if (addr != nullptr && addr->IsNil()) addr = nullptr;
  if (absl::Status s = CheckUDPDest(*fd_, local_, remote_, addr); !s.ok()) return {0, s};
  return ni::ConnWriteMsg(*fd_, local_, remote_, addr, b, oob);
}

absl::Status UDPConn::SetReadBuffer(int bytes) {
  return ni::ConnSetSockoptInt(*fd_, local_, SOL_SOCKET, SO_RCVBUF, bytes);
}
absl::Status UDPConn::SetWriteBuffer(int bytes) {
  return ni::ConnSetSockoptInt(*fd_, local_, SOL_SOCKET, SO_SNDBUF, bytes);
}
absl::Status UDPConn::Control(absl::FunctionRef<void(int fd)> f) {
  return ni::ConnControl(*fd_, local_, f);
}

}  // namespace gonet::net

namespace gonet::net_internal {

absl::StatusOr<std::shared_ptr<net::UDPConn>> ListenUDP(std::string_view network, Network net,
                                                        const net::Addr& laddr,
                                                        const net::ControlFunc* control) {
  FamilyChoice fam = FavoriteAddrFamily(net, &laddr, nullptr, SockMode::kListen);
  absl::StatusOr<std::shared_ptr<netfd::NetFD>> fd =
      OpenSocket({.network = network,
                  .family = fam.family,
                  .sotype = SOCK_DGRAM,
                  .v6only = fam.v6only,
                  .control = control,
                  .laddr = &laddr});
  if (!fd.ok()) return fd.status();
  net::Addr local;
  (void)(*fd)->Control([&](int s) { local = SockName(s).WithKind(net::Addr::Kind::kUDP); });
  return ConnAccess::NewUDPConn(*std::move(fd), std::move(local), net::Addr::Nil());
}

}  // namespace gonet::net_internal
