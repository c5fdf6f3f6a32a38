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
  static std::shared_ptr<net::UDPConn> NewUDPConn(std::shared_ptr<netfd::NetFD> fd,
                                                  net::Addr local, net::Addr remote);
  static std::shared_ptr<net::UnixConn> NewUnixConn(std::shared_ptr<netfd::NetFD> fd,
                                                    net::Addr local, net::Addr remote,
                                                    bool dialed);
  static std::shared_ptr<net::UnixListener> NewUnixListener(std::shared_ptr<netfd::NetFD> fd,
                                                            net::Addr local, bool unlink);
  static netfd::NetFD* Fd(net::TCPConn* c) { return c->fd_.get(); }
  static netfd::NetFD* Fd(net::UnixConn* c) { return c->fd_.get(); }
};

// ---- Conn operations shared by TCPConn, UDPConn and UnixConn (conn_ops.cc). ----
// Each returns Go's error for the op: OpError{op, fd.net(), local, remote, inner}, with
// a nil remote printed as none. io.EOF bare; "not called from a fiber" bare.

net::IOResult ConnRead(netfd::NetFD& fd, const net::Addr& local, const net::Addr& remote,
                       absl::Span<char> buf);
net::IOResult ConnWrite(netfd::NetFD& fd, const net::Addr& local, const net::Addr& remote,
                        absl::Span<const char> buf);
absl::Status ConnClose(netfd::NetFD& fd, const net::Addr* local, const net::Addr* remote);
// mode 'r', 'w' or 'r'+'w'. Errors: "set NET LOCAL: ..." (Go's quirk: Source nil).
absl::Status ConnSetDeadline(netfd::NetFD& fd, const net::Addr& local, absl::Time t, int mode);
absl::Status ConnSetSockoptInt(netfd::NetFD& fd, const net::Addr& local, int level, int name,
                               int value);
absl::Status ConnControl(netfd::NetFD& fd, const net::Addr& local,
                         absl::FunctionRef<void(int fd)> f);
absl::Status ConnShutdown(netfd::NetFD& fd, const net::Addr& local, const net::Addr& remote,
                          int how);
// recvfrom; the sender as an Addr of `kind` (a nil Addr when the kernel names none).
// Stream sockets: 0 bytes is EOF.
net::PacketResult ConnReadFrom(netfd::NetFD& fd, const net::Addr& local, const net::Addr& remote,
                               net::Addr::Kind kind, absl::Span<char> buf);
// sendto `to` (already checked by the caller).
net::IOResult ConnWriteTo(netfd::NetFD& fd, const net::Addr& local, const net::Addr& to,
                          absl::Span<const char> buf);
// recvmsg (MSG_CMSG_CLOEXEC). Descriptors that did not fit in oob never reach this
// process (the kernel drops them and sets MSG_CTRUNC); those in oob are the caller's.
net::MsgResult ConnReadMsg(netfd::NetFD& fd, const net::Addr& local, const net::Addr& remote,
                           net::Addr::Kind kind, absl::Span<char> b, absl::Span<char> oob);
// sendmsg to `to` (null: the connected peer).
net::IOResult ConnWriteMsg(netfd::NetFD& fd, const net::Addr& local, const net::Addr& remote,
                           const net::Addr* to, absl::Span<const char> b,
                           absl::Span<const char> oob);
// writev of every buffer (looping over short writes), as Go's net.Buffers.WriteTo.
net::IOResult ConnWritev(netfd::NetFD& fd, const net::Addr& local, const net::Addr& remote,
                         const net::Buffers& bufs);

// Go's socket() for a Listen/ListenPacket/Dial of a non-TCP kind: socket(family,
// sotype), Go's default options (IPV6_V6ONLY for AF_INET6, SO_BROADCAST for UDP),
// control, then bind to `laddr` (if any) and listen (listen_backlog >= 0) or connect
// to `raddr` (if any, with `deadline`). Registers the fd. Errors are the inner ones.
struct SocketSpec {
  std::string_view network;  // Go's name, as given ("udp", "unixgram"...)
  int family = AF_INET;
  int sotype = SOCK_DGRAM;
  bool v6only = false;
  const net::ControlFunc* control = nullptr;
  const net::Addr* laddr = nullptr;
  const net::Addr* raddr = nullptr;
  int listen_backlog = -1;
  absl::Time deadline = absl::InfiniteFuture();
};
absl::StatusOr<std::shared_ptr<netfd::NetFD>> OpenSocket(const SocketSpec& spec);

// Go's dialUnix / listenUnix / listenUnixgram (unix_conn.cc) and listenUDP
// (udp_conn.cc); errors are the inner ones (the caller wraps them in an OpError).
// `control` may be null.
absl::StatusOr<std::shared_ptr<net::UnixConn>> DialUnix(std::string_view network,
                                                        const net::Addr* laddr,
                                                        const net::Addr& raddr,
                                                        const net::ControlFunc* control,
                                                        absl::Time deadline);
absl::StatusOr<std::shared_ptr<net::UnixListener>> ListenUnix(std::string_view network,
                                                              const net::Addr& laddr,
                                                              const net::ControlFunc* control,
                                                              int backlog);
absl::StatusOr<std::shared_ptr<net::UnixConn>> ListenUnixgram(std::string_view network,
                                                              const net::Addr& laddr,
                                                              const net::ControlFunc* control);
absl::StatusOr<std::shared_ptr<net::UDPConn>> ListenUDP(std::string_view network, Network net,
                                                        const net::Addr& laddr,
                                                        const net::ControlFunc* control);

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

// The built-in DNS client's lookups (Go's goLookupIP, goLookupPTR, goLookupCNAME,
// goLookupSRV; dns_glue.cc): /etc/hosts first where Go consults it, then DNS over
// /etc/resolv.conf's servers. Go's DNSError texts. Fiber only; no thread.
// `r` supplies the nameservers override.
absl::StatusOr<std::vector<IPAddr>> LookupIPAddrGo(const net::Resolver& r, const Context& ctx,
                                                   absl::Time deadline, Network net,
                                                   std::string_view host);
absl::StatusOr<std::vector<std::string>> LookupAddrGo(const net::Resolver& r, const Context& ctx,
                                                      absl::Time deadline, const IPAddr& ip);
absl::StatusOr<std::string> LookupCNAMEGo(const net::Resolver& r, const Context& ctx,
                                          absl::Time deadline, std::string_view host);
absl::StatusOr<std::pair<std::string, std::vector<net::Resolver::SRV>>> LookupSRVGo(
    const net::Resolver& r, const Context& ctx, absl::Time deadline, std::string_view service,
    std::string_view proto, std::string_view name);
// A Resolver's host lookup for Dial and Listen (either path, under ctx and deadline).
absl::StatusOr<std::vector<IPAddr>> ResolverLookup(const net::Resolver* r, const Context& ctx,
                                                   absl::Time deadline, Network net,
                                                   std::string_view host);

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
