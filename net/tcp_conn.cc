// Go's net.conn / net.TCPConn / net.TCPListener methods (net/net.go, tcpsock*.go,
// tcpsockopt_*.go, sockopt_*.go), on netfd.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <climits>

#include "absl/base/internal/raw_logging.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/clock.h"
#include "fiber/channel.h"
#include "fiber/internal/annotated_mutex.h"
#include "fiber/context.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/errors.h"
#include "net/internal.h"
#include "net/resolve.h"

namespace gonet::net_internal {

using netfd::FdError;

absl::Status FdErrorToStatus(const FdError& e) {
  switch (e.kind) {
    case FdError::Kind::kNone:
      return absl::OkStatus();
    case FdError::Kind::kClosing:
      return MakeClosed();
    case FdError::Kind::kTimeout:
      return MakeTimeout();
    case FdError::Kind::kNotPollable:
      return MakeErrno(EIO);
    case FdError::Kind::kErrno:
      return e.syscall ? MakeSyscallError(e.syscall, e.err) : MakeErrno(e.err);
    case FdError::Kind::kEOF:
      return MakeEOF();
    case FdError::Kind::kUnexpectedEOF:
      return MakeUnexpectedEOF();
    case FdError::Kind::kNotFiber:
      return MakeNotFiber();
  }
  return MakeErrno(EINVAL);
}

std::shared_ptr<net::TCPConn> ConnAccess::NewConn(std::shared_ptr<netfd::NetFD> fd,
                                                  net::Addr local, net::Addr remote) {
  // Go's newTCPConn: TCP_NODELAY on, error ignored.
  (void)fd->SetSockoptInt(IPPROTO_TCP, TCP_NODELAY, 1);
  return std::shared_ptr<net::TCPConn>(
      new net::TCPConn(std::move(fd), std::move(local), std::move(remote)));
}

std::shared_ptr<net::TCPListener> ConnAccess::NewListener(std::shared_ptr<netfd::NetFD> fd,
                                                          net::Addr local,
                                                          absl::Duration keep_alive) {
  return std::shared_ptr<net::TCPListener>(
      new net::TCPListener(std::move(fd), std::move(local), keep_alive));
}

void ApplyKeepAlive(net::TCPConn* c, absl::Duration keep_alive) {
  if (keep_alive < absl::ZeroDuration()) return;
  if (keep_alive == absl::ZeroDuration()) keep_alive = absl::Seconds(15);
  (void)c->SetKeepAlive(true);
  (void)c->SetKeepAlivePeriod(keep_alive);
}

net::Addr SockName(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return net::Addr();
  return net::Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

net::Addr PeerName(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return net::Addr();
  return net::Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
}

namespace {

using LookupResult = absl::StatusOr<std::vector<IPAddr>>;

// Go's singleflight for lookups: identical lookups in flight share one call. The
// first caller (the leader) runs it; the others wait on `done`, closed once `result`
// is set.
struct Flight {
  LookupResult result;
  fiber::Channel<std::monostate> done{0};
};

class LookupGroup {
 public:
  // Runs fn for `key` unless a call for it is in flight, whose result is shared then.
  template <typename F>
  LookupResult Do(const std::string& key, F fn) {
    std::shared_ptr<Flight> f;
    bool leader = false;
    {
      fiber_internal::ThreadMutexLock l(&mu_);
      std::shared_ptr<Flight>& slot = calls_[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        leader = true;
      }
      f = slot;
    }
    if (!leader) {
      (void)f->done.Recv();  // closed by the leader; `result` is set before
      return f->result;
    }
    f->result = fn();
    {
      fiber_internal::ThreadMutexLock l(&mu_);
      calls_.erase(key);
    }
    f->done.Close();
    return f->result;
  }

 private:
  // Held for map updates only, never across a park (the lookups run outside it).
  fiber_internal::ThreadMutex mu_;
  // The calls in flight, by key; an entry lives from its leader's start to its end.
  absl::flat_hash_map<std::string, std::shared_ptr<Flight>> calls_ ABSL_GUARDED_BY(mu_);
};

// Go's cgo thread limit: at most this many system-resolver calls run at once (each
// holds a thread in Blocking); the rest wait their turn in a fiber.
constexpr int64_t kMaxSystemLookups = 500;

}  // namespace

absl::StatusOr<std::vector<IPAddr>> LookupIPAddrBlocking(Network net, std::string_view host) {
  if (!netfd::InFiber()) return LookupIPAddr(net, host);  // a plain thread may block itself
  static LookupGroup* const group = new LookupGroup();
  static fiber::Semaphore* const slots = new fiber::Semaphore(kMaxSystemLookups);
  std::string key(NetworkName(net));
  key.push_back('/');
  key.append(host);
  return group->Do(key, [net, &host]() -> LookupResult {
    // The lookup may block its thread for seconds (getaddrinfo, DNS): inside Blocking
    // the fiber's proc moves to another thread meanwhile, so the other fibers keep
    // running, and no thread is started per lookup.
    (void)slots->Acquire(Background(), 1);  // Background never ends: always acquires
    LookupResult r = gonet::Blocking([net, host] { return LookupIPAddr(net, host); });
    slots->Release(1);
    return r;
  });
}

absl::StatusOr<std::vector<IPAddr>> LookupIPAddrContext(const Context& ctx, absl::Time deadline,
                                                        Network net, std::string_view host) {
  if (!Cancelable(ctx) && deadline == absl::InfiniteFuture()) return LookupIPAddrBlocking(net, host);
  auto ended = [&](const absl::Status& why) {
    const bool timeout = why.code() == absl::StatusCode::kDeadlineExceeded;
    return MakeDNSError({.err = timeout ? "i/o timeout" : "operation was canceled",
                         .name = host,
                         .timeout = timeout,
                         .canceled = !timeout});
  };
  if (absl::Status e = ctx.Err(); !e.ok()) return ended(e);
  if (deadline <= absl::Now()) return ended(absl::DeadlineExceededError(""));
  // getaddrinfo cannot be interrupted: it runs in its own fiber, which owns what it
  // uses; whoever gives up first leaves it to finish and drop its result.
  using Result = absl::StatusOr<std::vector<IPAddr>>;
  auto result = std::make_shared<fiber::Channel<Result>>(1);
  gonet::Go([result, net, name = std::string(host)] {
    result->Send(LookupIPAddrBlocking(net, name));
  });
  auto [bounded, cancel] = WithDeadline(ctx, deadline);
  std::optional<Result> r;
  const int k = fiber::Select({fiber::OnRecv(*result, &r),
                               fiber::OnRecv<std::monostate>(bounded.Done(), nullptr)});
  cancel();
  if (k == 0) return std::move(*r);
  // The deadline is ours unless ctx itself ended (its own error then).
  absl::Status why = ctx.Err();
  return ended(why.ok() ? absl::DeadlineExceededError("") : why);
}

absl::Status RunControl(const net::ControlFunc& control, std::string_view network, int family,
                        std::string_view address, netfd::NetFD* fd) {
  std::string name(network);
  if (name != "unix" && name != "unixgram" && name != "unixpacket" && !name.empty() &&
      name.back() != '4' && name.back() != '6') {
    name += family == AF_INET ? "4" : "6";
  }
  absl::Status st;
  absl::Status held = FdErrorToStatus(fd->Control([&](int s) { st = control(name, address, s); }));
  if (!held.ok()) return held;
  return st;
}

int ListenerBacklog() {
  static const int backlog = [] {
    int v = 0;
    if (FILE* f = fopen("/proc/sys/net/core/somaxconn", "r")) {
      long n = 0;
      // Go caps values over 65535 at 65535 only on kernels before 4.1 (whose backlog
      // field was 16 bits); newer kernels take any int and clamp to somaxconn.
      if (fscanf(f, "%ld", &n) == 1) v = n > INT32_MAX ? INT32_MAX : static_cast<int>(n);
      fclose(f);
    }
    return v <= 0 ? SOMAXCONN : v;
  }();
  return backlog;
}

}  // namespace gonet::net_internal

namespace gonet::net {

using net_internal::FdErrorToStatus;
using netfd::FdError;

TCPConn::TCPConn(std::shared_ptr<netfd::NetFD> fd, Addr local, Addr remote)
    : fd_(std::move(fd)), local_(std::move(local)), remote_(std::move(remote)) {}

TCPConn::~TCPConn() = default;  // ~NetFD closes a still-open fd (Go's finalizer)

IOResult TCPConn::Read(absl::Span<char> buf) {
  return net_internal::ConnRead(*fd_, local_, remote_, buf);
}

IOResult TCPConn::Write(absl::Span<const char> buf) {
  return net_internal::ConnWrite(*fd_, local_, remote_, buf);
}

absl::Status TCPConn::Close() { return net_internal::ConnClose(*fd_, &local_, &remote_); }

Addr TCPConn::LocalAddr() const { return local_; }
Addr TCPConn::RemoteAddr() const { return remote_; }

absl::Status TCPConn::SetDeadline(absl::Time t) {
  return net_internal::ConnSetDeadline(*fd_, local_, t, 'r' + 'w');
}
absl::Status TCPConn::SetReadDeadline(absl::Time t) {
  return net_internal::ConnSetDeadline(*fd_, local_, t, 'r');
}
absl::Status TCPConn::SetWriteDeadline(absl::Time t) {
  return net_internal::ConnSetDeadline(*fd_, local_, t, 'w');
}

namespace {
absl::Status SetErrBoth(const netfd::NetFD& fd, const Addr& l, const Addr& r, const FdError& e) {
  if (e.ok()) return absl::OkStatus();
  return net_internal::OpError("set", fd.net(), &l, &r, FdErrorToStatus(e));
}
}  // namespace

absl::Status TCPConn::SetNoDelay(bool on) {
  return SetErrBoth(*fd_, local_, remote_, fd_->SetSockoptInt(IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0));
}

absl::Status TCPConn::SetKeepAlive(bool on) {
  return SetErrBoth(*fd_, local_, remote_, fd_->SetSockoptInt(SOL_SOCKET, SO_KEEPALIVE, on ? 1 : 0));
}

absl::Status TCPConn::SetKeepAlivePeriod(absl::Duration d) {
  // Go: secs = ceil(d / 1s) computed as (d + 1s - 1ns) / 1s, truncating toward zero.
  int64_t ns = absl::ToInt64Nanoseconds(d);
  int64_t secs = (ns + 1'000'000'000 - 1) / 1'000'000'000;
  int v = secs > INT32_MAX ? INT32_MAX : (secs < INT32_MIN ? INT32_MIN : static_cast<int>(secs));
  FdError e = fd_->SetSockoptInt(IPPROTO_TCP, TCP_KEEPINTVL, v);
  if (e.ok()) e = fd_->SetSockoptInt(IPPROTO_TCP, TCP_KEEPIDLE, v);
  return SetErrBoth(*fd_, local_, remote_, e);
}

absl::Status TCPConn::SetLinger(int sec) {
  linger l{};
  if (sec >= 0) {
    l.l_onoff = 1;
    l.l_linger = sec;
  }
  return SetErrBoth(*fd_, local_, remote_, fd_->SetSockopt(SOL_SOCKET, SO_LINGER, &l, sizeof l));
}

absl::Status TCPConn::SetReadBuffer(int bytes) {
  return net_internal::ConnSetSockoptInt(*fd_, local_, SOL_SOCKET, SO_RCVBUF, bytes);
}

absl::Status TCPConn::SetWriteBuffer(int bytes) {
  return net_internal::ConnSetSockoptInt(*fd_, local_, SOL_SOCKET, SO_SNDBUF, bytes);
}

absl::Status TCPConn::CloseRead() {
  return net_internal::ConnShutdown(*fd_, local_, remote_, SHUT_RD);
}

absl::Status TCPConn::CloseWrite() {
  return net_internal::ConnShutdown(*fd_, local_, remote_, SHUT_WR);
}

absl::Status TCPConn::Control(absl::FunctionRef<void(int fd)> f) {
  return net_internal::ConnControl(*fd_, local_, f);
}

// ---------------------------------------------------------------- TCPListener

TCPListener::TCPListener(std::shared_ptr<netfd::NetFD> fd, Addr local, absl::Duration keep_alive)
    : fd_(std::move(fd)), local_(std::move(local)), keep_alive_(keep_alive) {}

TCPListener::~TCPListener() = default;

absl::StatusOr<std::shared_ptr<TCPConn>> TCPListener::AcceptTCP() {
  int nfd = -1;
  sockaddr_storage rsa{};
  socklen_t rlen = sizeof rsa;
  FdError e = fd_->Accept(&nfd, &rsa, &rlen);
  if (!e.ok()) {
    if (e.kind == FdError::Kind::kNotFiber) return net_internal::MakeNotFiber();
    return net_internal::OpError("accept", fd_->net(), nullptr, &local_, FdErrorToStatus(e));
  }
  auto nf = std::make_shared<netfd::NetFD>(nfd, fd_->family(), SOCK_STREAM, fd_->net());
  if (FdError ie = nf->Init(); !ie.ok()) {
    (void)nf->Close();
    return net_internal::OpError("accept", fd_->net(), nullptr, &local_, FdErrorToStatus(ie));
  }
  Addr laddr = net_internal::SockName(nfd);
  Addr raddr = Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&rsa), rlen);
  auto c = net_internal::ConnAccess::NewConn(std::move(nf), std::move(laddr), std::move(raddr));
  net_internal::ApplyKeepAlive(c.get(), keep_alive_);
  return c;
}

absl::StatusOr<std::shared_ptr<Conn>> TCPListener::Accept() {
  auto c = AcceptTCP();
  if (!c.ok()) return c.status();
  return std::shared_ptr<Conn>(std::move(*c));
}

absl::Status TCPListener::Close() { return net_internal::ConnClose(*fd_, nullptr, &local_); }

Addr TCPListener::Address() const { return local_; }

absl::Status TCPListener::SetDeadline(absl::Time t) {
  return net_internal::ConnSetDeadline(*fd_, local_, t, 'r' + 'w');
}

absl::Status TCPListener::Control(absl::FunctionRef<void(int fd)> f) {
  return net_internal::ConnControl(*fd_, local_, f);
}

}  // namespace gonet::net
