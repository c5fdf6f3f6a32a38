// Go's net.Listen / ListenConfig.Listen for TCP and Unix, and ListenPacket for UDP and
// Unix (net/dial.go, sock_posix.go, sockopt_linux.go, sock_linux.go), on netfd.
#include <netinet/in.h>
#include <sys/socket.h>

#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net {

using net_internal::FdErrorToStatus;

namespace {

// Go's resolveAddrList for Listen and ListenPacket: ctx bounds the host name lookup;
// errors come wrapped ("listen tcp: address 99999: invalid port").
absl::StatusOr<net_internal::AddrList> ResolveListen(const Context& ctx, std::string_view network,
                                                     std::string_view address) {
  auto list = net_internal::ResolveAddrList(
      net_internal::SockMode::kListen, network, address, nullptr,
      [&ctx](net_internal::Network n, std::string_view host) {
        return net_internal::LookupIPAddrContext(ctx, absl::InfiniteFuture(), n, host);
      });
  if (!list.ok()) return net_internal::OpError("listen", network, "", "", list.status());
  return list;
}

// A TCP address where ListenPacket wants a UDP one, or the reverse for Listen:
// "listen udp 127.0.0.1:0: address 127.0.0.1:0: unexpected address type".
absl::Status UnexpectedAddressType(std::string_view network, const Addr& la,
                                   std::string_view address) {
  return net_internal::OpError("listen", network, nullptr, &la,
                               net_internal::MakeAddrError("unexpected address type", address));
}

}  // namespace

absl::StatusOr<std::shared_ptr<Listener>> ListenConfig::Listen(std::string_view network,
                                                               std::string_view address) const {
  return Listen(Background(), network, address);
}

absl::StatusOr<std::shared_ptr<Listener>> ListenConfig::Listen(const Context& ctx,
                                                               std::string_view network,
                                                               std::string_view address) const {
  if (!netfd::InFiber()) return net_internal::MakeNotFiber();
  const ControlFunc* ctl = control ? &control : nullptr;
  if (net_internal::ParseUnixNetwork(network)) {
    // Go's resolveAddrList for unix*: the address is the name; "" binds an unnamed
    // socket (the kernel then picks an abstract name).
    const Addr laddr = Addr::Unix(network, address);
    auto l = net_internal::ListenUnix(network, laddr, ctl, backlog);
    if (!l.ok()) return net_internal::OpError("listen", network, nullptr, &laddr, l.status());
    return std::shared_ptr<Listener>(*std::move(l));
  }
  auto list = ResolveListen(ctx, network, address);
  if (!list.ok()) return list.status();
  const Addr laddr = net_internal::FirstForListen(list->addrs);
  // Go resolves the address, then finds a UDPAddr where Listen wants a TCP or Unix one.
  if (net_internal::IsUDP(list->net)) return UnexpectedAddressType(network, laddr, address);
  auto fail = [&](const absl::Status& inner) {
    return net_internal::OpError("listen", network, nullptr, &laddr, inner);
  };
  net_internal::FamilyChoice fam =
      net_internal::FavoriteAddrFamily(list->net, &laddr, nullptr, net_internal::SockMode::kListen);
  std::unique_ptr<netfd::NetFD> fd;
  if (auto e = netfd::NetFD::Socket(fam.family, SOCK_STREAM, 0, std::string(network), &fd); !e.ok()) {
    return fail(FdErrorToStatus(e));
  }
  if (fam.family == AF_INET6) (void)fd->SetSockoptInt(IPPROTO_IPV6, IPV6_V6ONLY, fam.v6only ? 1 : 0);
  if (auto e = fd->SetSockoptInt(SOL_SOCKET, SO_REUSEADDR, 1); !e.ok()) return fail(FdErrorToStatus(e));
  if (reuse_port) {
    if (auto e = fd->SetSockoptInt(SOL_SOCKET, SO_REUSEPORT, 1); !e.ok()) return fail(FdErrorToStatus(e));
  }
  if (control) {
    // After Go's default listener options, before bind (sock_posix.go listenStream).
    if (absl::Status cs = net_internal::RunControl(control, network, fam.family, laddr.String(), fd.get());
        !cs.ok()) {
      return fail(cs);
    }
  }
  sockaddr_storage ss{};
  auto sl = laddr.ToSockaddr(fam.family, &ss);
  if (!sl.ok()) return fail(sl.status());
  int bind_err = 0, listen_err = 0;
  const int n_backlog = backlog > 0 ? backlog : net_internal::ListenerBacklog();
  (void)fd->Control([&](int s) {
    if (bind(s, reinterpret_cast<sockaddr*>(&ss), *sl) != 0) {
      bind_err = errno;
      return;
    }
    if (::listen(s, n_backlog) != 0) listen_err = errno;
  });
  if (bind_err) return fail(net_internal::MakeSyscallError("bind", bind_err));
  if (listen_err) return fail(net_internal::MakeSyscallError("listen", listen_err));
  if (auto e = fd->Init(); !e.ok()) return fail(FdErrorToStatus(e));
  Addr local;
  (void)fd->Control([&](int s) { local = net_internal::SockName(s); });
  std::shared_ptr<netfd::NetFD> shared(std::move(fd));
  return std::shared_ptr<Listener>(
      net_internal::ConnAccess::NewListener(std::move(shared), std::move(local), absl::ZeroDuration()));
}

absl::StatusOr<std::shared_ptr<PacketConn>> ListenConfig::ListenPacket(
    std::string_view network, std::string_view address) const {
  return ListenPacket(Background(), network, address);
}

absl::StatusOr<std::shared_ptr<PacketConn>> ListenConfig::ListenPacket(
    const Context& ctx, std::string_view network, std::string_view address) const {
  if (!netfd::InFiber()) return net_internal::MakeNotFiber();
  const ControlFunc* ctl = control ? &control : nullptr;
  if (net_internal::ParseUnixNetwork(network)) {
    const Addr laddr = Addr::Unix(network, address);
    auto c = net_internal::ListenUnixgram(network, laddr, ctl);
    if (!c.ok()) return net_internal::OpError("listen", network, nullptr, &laddr, c.status());
    return std::shared_ptr<PacketConn>(*std::move(c));
  }
  auto list = ResolveListen(ctx, network, address);
  if (!list.ok()) return list.status();
  const Addr la = net_internal::FirstForListen(list->addrs);
  // A TCP address where ListenPacket wants a UDP or Unix one (Go's text).
  if (!net_internal::IsUDP(list->net)) return UnexpectedAddressType(network, la, address);
  auto c = net_internal::ListenUDP(network, list->net, la, ctl);
  if (!c.ok()) return net_internal::OpError("listen", network, nullptr, &la, c.status());
  return std::shared_ptr<PacketConn>(*std::move(c));
}

absl::StatusOr<std::shared_ptr<PacketConn>> ListenPacket(std::string_view network,
                                                         std::string_view address) {
  return ListenConfig{}.ListenPacket(network, address);
}

absl::StatusOr<std::shared_ptr<Listener>> Listen(std::string_view network, std::string_view address) {
  return ListenConfig{}.Listen(network, address);
}

}  // namespace gonet::net
