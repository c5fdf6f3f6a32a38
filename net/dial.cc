// Go's net.Dialer.DialContext for TCP (net/dial.go: dialParallel, dialSerial,
// partialDeadline; net/tcpsock_posix.go: doDialTCP's self-connect retry;
// net/fd_unix.go: connect and its context interrupter), on netfd. Cancellation: the
// caller's context (a watcher fiber cancels every racer when it ends), the earliest of
// the deadlines (the connect's own deadline), and the internal cancel that stops the
// losing Happy Eyeballs racer.
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <vector>

#include "absl/time/clock.h"
#include "fiber/channel.h"
#include "fiber/context.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net {
namespace {

using net_internal::FdErrorToStatus;

// A connected socket and its addresses, before it becomes a TCPConn or UDPConn.
struct Dialed {
  std::shared_ptr<netfd::NetFD> fd;
  Addr laddr, raddr;
  // Closes a dialed socket nobody will use (a racer that lost).
  void Discard() {
    if (fd) (void)fd->Close();
  }
};
using ConnOr = absl::StatusOr<Dialed>;

constexpr absl::Duration kFallbackDelay = absl::Milliseconds(300);
constexpr absl::Duration kMinPartial = absl::Seconds(2);

// One racer's view: what to dial and how to cancel its in-flight connect. The root
// (the caller's) has the racers' views as children: canceling it cancels them.
struct DialCtx {
  std::string network;
  net_internal::Network net;
  std::optional<Addr> local;
  absl::Time deadline;
  const ControlFunc* control = nullptr;  // the Dialer's, which outlives the dial
  std::atomic<bool> canceled{false};
  fiber::Mutex mu;
  // The socket whose connect is waiting: published by Connect's on_wait (registered,
  // deadline armed), cleared when Connect returns. Cancel expires its write deadline.
  netfd::NetFD* inflight ABSL_GUARDED_BY(mu) = nullptr;
  // Why it was canceled; set once, before `canceled` is stored.
  absl::Status cancel_err ABSL_GUARDED_BY(mu);
  std::vector<std::shared_ptr<DialCtx>> children ABSL_GUARDED_BY(mu);

  void Cancel(const absl::Status& why) {
    std::vector<std::shared_ptr<DialCtx>> kids;
    {
      fiber::MutexLock l(&mu);
      if (canceled.load(std::memory_order_relaxed)) return;
      cancel_err = why;
      canceled.store(true, std::memory_order_release);
      // Wake the connect through its write deadline (Go's aLongTimeAgo interrupter).
      if (inflight != nullptr) (void)inflight->SetDeadline(-1, 'w');
      kids = children;
    }
    for (auto& k : kids) k->Cancel(why);
  }
  absl::Status CancelErr() {
    fiber::MutexLock l(&mu);
    return cancel_err;
  }
  const Addr* local_ptr() const { return local ? &*local : nullptr; }
  bool local_port_zero() const { return !local || local->Port() == 0; }
};

// Go's mapErr: a context's error as net reports it.
absl::Status MapCtxErr(const absl::Status& ctx_err) {
  return ctx_err.code() == absl::StatusCode::kDeadlineExceeded ? net_internal::MakeTimeout()
                                                                : net_internal::MakeCanceled();
}

absl::Status DialErr(const DialCtx& dc, const Addr& ra, const absl::Status& inner) {
  return net_internal::OpError("dial", dc.network, dc.local_ptr(), &ra, inner);
}

ConnOr DialSingle(DialCtx& dc, const Addr& ra, absl::Time deadline) {
  for (int attempt = 0;; ++attempt) {
    const bool may_retry = attempt < 2 && dc.local_port_zero();
    net_internal::FamilyChoice fam = net_internal::FavoriteAddrFamily(
        dc.net, dc.local_ptr(), &ra, net_internal::SockMode::kDial);
    const bool udp = net_internal::IsUDP(dc.net);
    std::unique_ptr<netfd::NetFD> fd;
    if (auto e = netfd::NetFD::Socket(fam.family, udp ? SOCK_DGRAM : SOCK_STREAM, 0, dc.network,
                                      &fd);
        !e.ok()) {
      return DialErr(dc, ra, FdErrorToStatus(e));
    }
    if (fam.family == AF_INET6) (void)fd->SetSockoptInt(IPPROTO_IPV6, IPV6_V6ONLY, fam.v6only ? 1 : 0);
    if (udp) (void)fd->SetSockoptInt(SOL_SOCKET, SO_BROADCAST, 1);  // Go's default
    if (dc.control != nullptr && *dc.control) {
      if (absl::Status cs = net_internal::RunControl(*dc.control, dc.network, fam.family,
                                                     ra.String(), fd.get());
          !cs.ok()) {
        return DialErr(dc, ra, cs);
      }
    }
    if (dc.local) {
      sockaddr_storage ls{};
      auto ll = dc.local->ToSockaddr(fam.family, &ls);
      if (!ll.ok()) return DialErr(dc, ra, ll.status());
      int berr = 0;
      (void)fd->Control([&](int s) {
        if (bind(s, reinterpret_cast<sockaddr*>(&ls), *ll) != 0) berr = errno;
      });
      if (berr) return DialErr(dc, ra, net_internal::MakeSyscallError("bind", berr));
    }
    sockaddr_storage rs{};
    auto rl = ra.ToSockaddr(fam.family, &rs);
    if (!rl.ok()) return DialErr(dc, ra, rl.status());
    netfd::FdError e;
    if (dc.canceled.load(std::memory_order_acquire)) {
      e = netfd::FdError::Of(netfd::FdError::Kind::kTimeout);
    } else {
      // Cancel may interrupt the connect only once it waits (Go starts its interrupter
      // there): before that the fd has no poll descriptor, and Connect arms its own
      // deadline, so an expired deadline set earlier would be lost and the dial would
      // hang until its deadline. A Cancel that came before publication is seen here.
      e = fd->Connect(reinterpret_cast<sockaddr*>(&rs), *rl, netfd::DeadlineToMono(deadline),
                      [&dc, &fd] {
                        fiber::MutexLock l(&dc.mu);
                        dc.inflight = fd.get();
                        if (dc.canceled.load(std::memory_order_relaxed)) {
                          (void)fd->SetDeadline(-1, 'w');
                        }
                      });
    }
    {
      fiber::MutexLock l(&dc.mu);
      dc.inflight = nullptr;
    }
    // Canceled: the interrupter's timeout, or a connect that succeeded anyway (Go closes
    // it and reports ctx's error); a connect that failed on its own keeps its error.
    if (dc.canceled.load(std::memory_order_acquire) &&
        (e.ok() || e.kind == netfd::FdError::Kind::kTimeout)) {
      return DialErr(dc, ra, dc.CancelErr());
    }
    if (!e.ok()) {
      if (may_retry && e.kind == netfd::FdError::Kind::kErrno && e.err == EADDRNOTAVAIL) continue;
      return DialErr(dc, ra, FdErrorToStatus(e));
    }
    Addr laddr, raddr;
    (void)fd->Control([&](int s) {
      laddr = net_internal::SockName(s);
      raddr = net_internal::PeerName(s);
    });
    if (raddr.IP().empty()) raddr = ra;
    // TCP simultaneous open to ourselves (dialing a free local port): retry.
    if (!udp && may_retry && laddr.Port() == raddr.Port() &&
        net_internal::IPEqual(laddr.IP(), raddr.IP())) {
      continue;
    }
    const Addr::Kind kind = net_internal::AddrKind(dc.net);
    return Dialed{std::shared_ptr<netfd::NetFD>(std::move(fd)), laddr.WithKind(kind),
                  raddr.WithKind(kind)};
  }
}

ConnOr DialSerial(DialCtx& dc, const std::vector<Addr>& addrs) {
  absl::Status first_err;
  for (size_t i = 0; i < addrs.size(); ++i) {
    const Addr& ra = addrs[i];
    if (dc.canceled.load(std::memory_order_acquire)) return DialErr(dc, ra, dc.CancelErr());
    absl::Time pd = dc.deadline;
    if (dc.deadline != absl::InfiniteFuture()) {
      absl::Time now = absl::Now();
      absl::Duration left = dc.deadline - now;
      // The overall deadline passed before this address was tried: name it (Go quirk).
      if (left <= absl::ZeroDuration()) return DialErr(dc, ra, net_internal::MakeTimeout());
      absl::Duration t = left / static_cast<int64_t>(addrs.size() - i);
      if (t < kMinPartial) t = std::min(left, kMinPartial);
      pd = std::min(dc.deadline, now + t);
    }
    ConnOr c = DialSingle(dc, ra, pd);
    if (c.ok()) return c;
    if (first_err.ok()) first_err = c.status();
  }
  if (first_err.ok()) {
    return net_internal::OpError("dial", dc.network, "", "", net_internal::MakeMissingAddress());
  }
  return first_err;
}

// Happy Eyeballs (RFC 6555 style, Go's dialParallel): primaries first, the fallbacks
// 300 ms later or as soon as the primaries fail; first success wins; if both fail,
// the primary's error.
struct Race {
  fiber::Mutex mu;
  fiber::CondVar cv;
  struct Result {
    ConnOr conn;
    bool primary;
    std::exception_ptr thrown;  // control threw: rethrown to DialContext's caller
  };
  std::vector<Result> results ABSL_GUARDED_BY(mu);
  bool returned ABSL_GUARDED_BY(mu) = false;
};

void StartRacer(std::shared_ptr<Race> race, std::shared_ptr<DialCtx> dc, std::vector<Addr> addrs,
                bool primary) {
  gonet::Go([race = std::move(race), dc = std::move(dc), addrs = std::move(addrs), primary]() {
    // An exception escaping a fiber ends the process: catch what control throws and let
    // the dialing fiber rethrow it.
    ConnOr c;
    std::exception_ptr thrown;
    try {
      c = DialSerial(*dc, addrs);
    } catch (...) {
      thrown = std::current_exception();
    }
    fiber::MutexLock l(&race->mu);
    if (race->returned) {
      if (c.ok()) c->Discard();  // lost the race after the winner returned
      return;
    }
    race->results.push_back({std::move(c), primary, std::move(thrown)});
    race->cv.Signal();
  });
}

// A racer's view of the root: canceled with it (and at once if it already is).
std::shared_ptr<DialCtx> ChildCtx(DialCtx& dc) {
  auto c = std::make_shared<DialCtx>();
  c->network = dc.network;
  c->net = dc.net;
  c->local = dc.local;
  c->deadline = dc.deadline;
  c->control = dc.control;
  absl::Status already;
  {
    fiber::MutexLock l(&dc.mu);
    if (dc.canceled.load(std::memory_order_relaxed)) {
      already = dc.cancel_err;
    } else {
      dc.children.push_back(c);
    }
  }
  if (!already.ok()) c->Cancel(already);
  return c;
}

ConnOr DialParallel(DialCtx& dc, const std::vector<Addr>& primaries,
                    const std::vector<Addr>& fallbacks) {
  auto race = std::make_shared<Race>();
  auto pctx = ChildCtx(dc);
  auto fctx = ChildCtx(dc);
  StartRacer(race, pctx, primaries, true);
  bool fallback_started = false;
  absl::Time fallback_at = absl::Now() + kFallbackDelay;
  std::optional<absl::Status> primary_err, fallback_err;
  fiber::MutexLock l(&race->mu);
  for (;;) {
    while (race->results.empty()) {
      if (!fallback_started) {
        if (race->cv.WaitWithTimeout(&race->mu, fallback_at - absl::Now()) && race->results.empty()) {
          fallback_started = true;
          StartRacer(race, fctx, fallbacks, false);
        }
      } else {
        race->cv.Wait(&race->mu);
      }
    }
    Race::Result r = std::move(race->results.front());
    race->results.erase(race->results.begin());
    if (r.thrown) {
      race->returned = true;
      pctx->Cancel(net_internal::MakeCanceled());
      fctx->Cancel(net_internal::MakeCanceled());
      std::rethrow_exception(r.thrown);
    }
    if (r.conn.ok()) {
      race->returned = true;
      pctx->Cancel(net_internal::MakeCanceled());
      fctx->Cancel(net_internal::MakeCanceled());
      return std::move(r.conn);
    }
    (r.primary ? primary_err : fallback_err) = r.conn.status();
    if (r.primary && !fallback_started) {
      fallback_started = true;
      StartRacer(race, fctx, fallbacks, false);
    }
    if (primary_err && fallback_err) {
      race->returned = true;
      return *primary_err;
    }
  }
}

absl::StatusOr<std::shared_ptr<Conn>> FinishDial(DialCtx& dc, const net_internal::AddrList& list,
                                                 absl::Duration keep_alive) {
  ConnOr c;
  if (dc.network == "tcp") {
    net_internal::Partitioned parts = net_internal::PartitionAddrs(list.addrs);
    c = parts.fallbacks.empty() ? DialSerial(dc, parts.primaries)
                                : DialParallel(dc, parts.primaries, parts.fallbacks);
  } else {
    c = DialSerial(dc, list.addrs);
  }
  if (!c.ok()) return c.status();
  if (net_internal::IsUDP(dc.net)) {
    return std::shared_ptr<Conn>(net_internal::ConnAccess::NewUDPConn(
        std::move(c->fd), std::move(c->laddr), std::move(c->raddr)));
  }
  auto tcp = net_internal::ConnAccess::NewConn(std::move(c->fd), std::move(c->laddr),
                                               std::move(c->raddr));
  net_internal::ApplyKeepAlive(tcp.get(), keep_alive);
  return std::shared_ptr<Conn>(std::move(tcp));
}

// Go's dialUnix for "unix", "unixgram", "unixpacket": the address is the path, no
// lookup; the connect of a Unix socket finishes (or fails) at once.
absl::StatusOr<std::shared_ptr<Conn>> DialUnixNetwork(const Context& ctx, absl::Time deadline,
                                                      std::string_view network,
                                                      std::string_view address,
                                                      std::string_view local_address,
                                                      const ControlFunc& control) {
  std::optional<Addr> laddr;
  if (!local_address.empty()) laddr = Addr::Unix(network, local_address);
  const Addr* lp = laddr ? &*laddr : nullptr;
  if (address.empty()) {
    return net_internal::OpError("dial", network, "", "", net_internal::MakeMissingAddress());
  }
  const Addr raddr = Addr::Unix(network, address);
  if (absl::Status e = ctx.Err(); !e.ok()) {
    return net_internal::OpError("dial", network, lp, &raddr, MapCtxErr(e));
  }
  if (deadline <= absl::Now()) {
    return net_internal::OpError("dial", network, lp, &raddr, net_internal::MakeTimeout());
  }
  auto c = net_internal::DialUnix(network, lp, raddr, &control, deadline);
  if (!c.ok()) return net_internal::OpError("dial", network, lp, &raddr, c.status());
  return std::shared_ptr<Conn>(*std::move(c));
}

}  // namespace

absl::StatusOr<std::shared_ptr<Conn>> Dialer::Dial(std::string_view network,
                                                   std::string_view address) const {
  return DialContext(Background(), network, address);
}

absl::StatusOr<std::shared_ptr<Conn>> Dialer::DialContext(const Context& ctx,
                                                          std::string_view network,
                                                          std::string_view address) const {
  if (!netfd::InFiber()) return net_internal::MakeNotFiber();
  DialCtx dc;
  dc.network = std::string(network);
  dc.deadline = deadline;
  if (timeout != absl::ZeroDuration()) dc.deadline = std::min(dc.deadline, absl::Now() + timeout);
  if (std::optional<absl::Time> d = ctx.Deadline()) dc.deadline = std::min(dc.deadline, *d);
  dc.control = &control;
  if (net_internal::ParseUnixNetwork(network)) {
    return DialUnixNetwork(ctx, dc.deadline, network, address, local_address, control);
  }
  // Lookups end with ctx or at the deadline (Go runs them under a context with it).
  auto lookup = [this, &ctx, &dc](net_internal::Network n, std::string_view host) {
    return net_internal::ResolverLookup(resolver, ctx, dc.deadline, n, host);
  };
  if (!local_address.empty()) {
    auto ln = net_internal::ParseNetwork(network);
    if (!ln.ok()) return net_internal::OpError("dial", network, "", "", ln.status());
    auto locals = net_internal::InternetAddrList(*ln, local_address, lookup);
    if (!locals.ok()) return net_internal::OpError("dial", network, "", "", locals.status());
    dc.local = net_internal::FirstForListen(*locals);
  }
  auto list = net_internal::ResolveAddrList(net_internal::SockMode::kDial, network, address,
                                            dc.local_ptr(), lookup);
  if (!list.ok()) return net_internal::OpError("dial", network, "", "", list.status());
  dc.net = list->net;
  // A ctx already done fails here, before any socket (Go checks before each address).
  if (absl::Status e = ctx.Err(); !e.ok()) dc.Cancel(MapCtxErr(e));
  // Go's interrupter: while the dial runs, a fiber waits for ctx's end and cancels it.
  // The dial closes `over` when it is done; the fiber's references keep what it
  // touches alive, and after `over` nothing it cancels is in flight any more.
  if (net_internal::Cancelable(ctx) && !dc.canceled.load(std::memory_order_acquire)) {
    auto over = std::make_shared<fiber::Channel<std::monostate>>();
    auto done_watching = std::make_shared<fiber::Channel<std::monostate>>();
    gonet::Go([ctx, over, done_watching, &dc] {
      if (fiber::Select({fiber::OnRecv<std::monostate>(ctx.Done(), nullptr),
                         fiber::OnRecv<std::monostate>(*over, nullptr)}) == 0) {
        dc.Cancel(MapCtxErr(ctx.Err()));
      }
      done_watching->Close();
    });
    // The watcher touches dc (on this stack): wait for it before returning.
    struct Join {
      std::shared_ptr<fiber::Channel<std::monostate>> over, done;
      ~Join() {
        over->Close();
        done->Recv();
      }
    };
    Join join{over, done_watching};
    return FinishDial(dc, *list, keep_alive);
  }
  return FinishDial(dc, *list, keep_alive);
}

absl::StatusOr<std::shared_ptr<Conn>> Dial(std::string_view network, std::string_view address) {
  return Dialer{}.Dial(network, address);
}

absl::StatusOr<std::shared_ptr<Conn>> DialTimeout(std::string_view network, std::string_view address,
                                                  absl::Duration timeout) {
  Dialer d;
  d.timeout = timeout;
  return d.Dial(network, address);
}

}  // namespace gonet::net
