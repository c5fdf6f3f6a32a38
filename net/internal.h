// internal.h: pieces shared by dial.cc, listen.cc and tcp_conn.cc.
#ifndef GONET_NET_INTERNAL_H_
#define GONET_NET_INTERNAL_H_

#include <memory>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/context.h"
#include "net/addr.h"
#include "net/net.h"
#include "netfd/netfd.h"

namespace gonet::net_internal {

// The error a netfd operation failed with, as Go's inner error (not yet in an OpError).
absl::Status FdErrorToStatus(const netfd::FdError& e);

struct ConnAccess {
  static std::shared_ptr<net::TCPConn> NewConn(std::shared_ptr<netfd::NetFD> fd, net::Addr local,
                                               net::Addr remote);
  static std::shared_ptr<net::TCPListener> NewListener(std::shared_ptr<netfd::NetFD> fd,
                                                       net::Addr local, absl::Duration keep_alive);
  static netfd::NetFD* Fd(net::TCPConn* c) { return c->fd_.get(); }
};

// Go's keep-alive defaults: zero = 15 s, negative = leave the socket alone.
void ApplyKeepAlive(net::TCPConn* c, absl::Duration keep_alive);

// Resolves a host name (resolve.h's LookupIPAddr) inside gonet::Blocking, so that a
// slow getaddrinfo holds only its own thread, not the fiber's proc. Any thread.
absl::StatusOr<std::vector<IPAddr>> LookupIPAddrBlocking(Network net, std::string_view host);

// Whether ctx can ever end (its Done() is not Go's nil channel, as Background's is):
// only then is a watcher or a racing lookup worth starting.
inline bool Cancelable(const Context& ctx) {
  return &ctx.Done() != &fiber::Channel<std::monostate>::Nil();
}

// The same under a context (Go's lookupIPAddr racing ctx.Done()): gives up when ctx
// ends or at `deadline`, whichever is first, with Go's DNSError texts "lookup HOST:
// operation was canceled" (kCancelled) or "lookup HOST: i/o timeout"
// (kDeadlineExceeded). The abandoned lookup finishes in its own fiber. Fiber only.
absl::StatusOr<std::vector<IPAddr>> LookupIPAddrContext(const Context& ctx, absl::Time deadline,
                                                        Network net, std::string_view host);

// Runs a Dialer's or ListenConfig's control on fd (net.h's ControlFunc) with Go's
// network name for the socket ("tcp4", "tcp6"; `network` as given when it already
// names the family). Exceptions from control propagate.
absl::Status RunControl(const net::ControlFunc& control, std::string_view network, int family,
                        std::string_view address, netfd::NetFD* fd);

// getsockname / getpeername as net::Addr (empty Addr on failure).
net::Addr SockName(int fd);
net::Addr PeerName(int fd);

// Go's maxListenerBacklog(): /proc/sys/net/core/somaxconn, read once.
int ListenerBacklog();

}  // namespace gonet::net_internal

#endif  // GONET_NET_INTERNAL_H_
