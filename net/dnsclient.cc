// Go 1.19's pure-Go DNS client (net/dnsclient_unix.go: exchange, tryOneName,
// goLookupIPCNAMEOrder, goLookupSRV, goLookupPTR; net/dnsconfig_unix.go; byPriorityWeight
// of net/dnsclient.go), re-implemented for fibers on netfd. Differences: no EDNS0 in
// queries; a context's end interrupts in-flight sockets through their deadlines (Go
// dials under the context and races the whole lookup against ctx.Done()); timeout
// and attempts are capped as glibc caps them; no hosts file, no cache, no singleflight.
#include "net/dnsclient.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/random/random.h"
#include "absl/time/clock.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/dnsmessage.h"
#include "net/errors.h"
#include "net/resolve.h"
#include "netfd/netfd.h"

namespace gonet::net_internal {
namespace {

constexpr size_t kMaxUDPPacket = 1232;  // Go's maxDNSPacketSize
constexpr std::string_view kServerMisbehaving = "server misbehaving";
constexpr std::string_view kLameReferral = "lame referral";
constexpr std::string_view kCannotUnmarshal = "cannot unmarshal DNS message";
constexpr std::string_view kInvalidResponse = "invalid DNS response";
constexpr std::string_view kNoAnswer = "no answer from DNS server";

// ---- resolv.conf ----

// Go's dtoi: the leading decimal digits of s (capped at 0xFFFFFF); ok false if none.
int Dtoi(std::string_view s, bool* ok) {
  int n = 0;
  size_t i = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    n = n * 10 + (s[i] - '0');
    if (n >= 0xFFFFFF) return 0xFFFFFF;
  }
  *ok = i > 0;
  return i > 0 ? n : 0;
}

std::string EnsureRooted(std::string_view s) {
  std::string r(s);
  if (r.empty() || r.back() != '.') r.push_back('.');
  return r;
}

std::vector<std::string_view> ConfFields(std::string_view line) {
  std::vector<std::string_view> f;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
    if (j > i) f.push_back(line.substr(i, j - i));
    i = j;
  }
  return f;
}

void SetDefaults(DnsConfig* c) {
  if (c->servers.empty()) c->servers = {"127.0.0.1:53", "[::1]:53"};
}

// ---- errors ----

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// Whether ctx can ever end (net/internal.h's Cancelable; that header is //net's).
bool Cancelable(const Context& ctx) {
  return &ctx.Done() != &fiber::Channel<std::monostate>::Nil();
}

absl::Status FdErr(const netfd::FdError& e) {
  using K = netfd::FdError::Kind;
  switch (e.kind) {
    case K::kNone: return absl::OkStatus();
    case K::kClosing: return MakeClosed();
    case K::kTimeout: return MakeTimeout();
    case K::kErrno:
      return e.syscall != nullptr ? MakeSyscallError(e.syscall, e.err) : MakeErrno(e.err);
    case K::kEOF: return MakeEOF();
    case K::kUnexpectedEOF: return MakeUnexpectedEOF();
    case K::kNotFiber: return MakeNotFiber();
    case K::kNotPollable: break;
  }
  return absl::UnknownError("not pollable");
}

// What one exchange gave: a response, or an error (Go's `err` in tryOneName).
struct ExResult {
  dns::Message msg;
  absl::Status err;        // ok: msg holds the response
  bool timeout = false;    // err is a net.Error with Timeout()
  bool op_error = false;   // err is an *OpError (Go sets IsTemporary)
};

ExResult Fail(absl::Status inner, bool op_error) {
  ExResult r;
  r.timeout = InfoOf(inner).timeout;
  r.op_error = op_error;
  r.err = std::move(inner);
  return r;
}
ExResult FailText(std::string_view text) { return Fail(absl::UnknownError(std::string(text)), false); }

// ---- one lookup's cancellation ----

// The sockets a lookup has in flight, and whether ctx ended. The watcher fiber calls
// Cancel(); Arm() publishes a socket with its try deadline. Both run under mu, so a
// Cancel() either sees the socket (and expires its deadline) or happened before the
// Arm (which then sets an expired deadline itself): no wake-up is lost.
class Lookup {
 public:
  Lookup(const Context& ctx, absl::Time deadline, const DnsConfig& cfg)
      : ctx_(ctx), cfg_(cfg), deadline_(deadline) {
    if (std::optional<absl::Time> d = ctx.Deadline()) deadline_ = std::min(deadline_, *d);
  }
  const Context& ctx() const { return ctx_; }
  const DnsConfig& cfg() const { return cfg_; }
  absl::Time deadline() const { return deadline_; }

  // ctx ended or the deadline passed: no new try may start.
  bool Ended() const {
    return canceled_.load(std::memory_order_acquire) || absl::Now() >= deadline_;
  }
  bool Canceled() const { return canceled_.load(std::memory_order_acquire); }

  void Cancel() {
    fiber::MutexLock l(&mu_);
    canceled_.store(true, std::memory_order_release);
    for (netfd::NetFD* fd : inflight_) (void)fd->SetDeadline(-1, 'r' + 'w');
  }
  // fd's read and write deadlines become `d` (expired when canceled); Cancel wakes it.
  void Arm(netfd::NetFD* fd, absl::Time d) {
    fiber::MutexLock l(&mu_);
    if (std::find(inflight_.begin(), inflight_.end(), fd) == inflight_.end()) {
      inflight_.push_back(fd);
    }
    (void)fd->SetDeadline(canceled_.load(std::memory_order_relaxed) ? -1 : netfd::DeadlineToMono(d),
                          'r' + 'w');
  }
  void Disarm(netfd::NetFD* fd) {
    fiber::MutexLock l(&mu_);
    inflight_.erase(std::remove(inflight_.begin(), inflight_.end(), fd), inflight_.end());
  }

 private:
  const Context& ctx_;
  const DnsConfig& cfg_;
  absl::Time deadline_;
  std::atomic<bool> canceled_{false};
  fiber::Mutex mu_;
  std::vector<netfd::NetFD*> inflight_ ABSL_GUARDED_BY(mu_);
};

// Runs fn(lookup) with a watcher fiber that cancels the lookup when ctx ends (as
// net/dial.cc's interrupter), then maps a late failure to ctx's error.
template <class T, class F>
absl::StatusOr<T> WithLookup(const Context& ctx, absl::Time deadline, const DnsConfig& cfg,
                             std::string_view name, F fn) {
  if (!netfd::InFiber()) return MakeNotFiber();
  Lookup lk(ctx, deadline, cfg);
  auto ended = [&]() -> absl::Status {
    absl::Status e = ctx.Err();
    const bool timeout = e.ok() || e.code() == absl::StatusCode::kDeadlineExceeded;
    return MakeDNSError({.err = timeout ? "i/o timeout" : "operation was canceled",
                         .name = name,
                         .timeout = timeout,
                         .canceled = !timeout});
  };
  if (!ctx.Err().ok() || absl::Now() >= lk.deadline()) return ended();
  absl::StatusOr<T> r;
  if (Cancelable(ctx)) {
    auto over = std::make_shared<fiber::Channel<std::monostate>>();
    auto done_watching = std::make_shared<fiber::Channel<std::monostate>>();
    gonet::Go([ctx, over, done_watching, &lk] {
      if (fiber::Select({fiber::OnRecv<std::monostate>(ctx.Done(), nullptr),
                         fiber::OnRecv<std::monostate>(*over, nullptr)}) == 0) {
        lk.Cancel();
      }
      done_watching->Close();
    });
    r = fn(lk);
    over->Close();
    done_watching->Recv();  // the watcher touches lk (on this stack)
  } else {
    r = fn(lk);
  }
  // Go's lookupIPAddr returns ctx's error once ctx is done before the lookup is.
  if (!r.ok() && (!ctx.Err().ok() || absl::Now() >= lk.deadline())) return ended();
  return r;
}

// ---- the exchange ----

absl::StatusOr<std::pair<sockaddr_storage, socklen_t>> ServerSockaddr(const std::string& server) {
  std::string_view host, port;
  if (absl::Status s = SplitHostPortView(server, &host, &port); !s.ok()) return s;
  std::optional<IPAddr> ip = ParseIPZone(host);
  if (!ip) return MakeAddrError("not an IP address", server);
  bool ok = false;
  int p = Dtoi(port, &ok);
  if (!ok || p > 65535) return MakeAddrError("invalid port", server);
  net::Addr a(ip->bytes(), p, ip->zone);
  std::pair<sockaddr_storage, socklen_t> out{};
  auto len = a.ToSockaddr(a.IsIPv4() ? AF_INET : AF_INET6, &out.first);
  if (!len.ok()) return len.status();
  out.second = *len;
  return out;
}

uint16_t RandomId() {
  static thread_local absl::InsecureBitGen gen;  // used only between parks
  return absl::Uniform<uint16_t>(gen);
}

net::Addr LocalAddr(netfd::NetFD* fd) {
  net::Addr a;
  (void)fd->Control([&](int s) {
    sockaddr_storage ss{};
    socklen_t len = sizeof(ss);
    if (getsockname(s, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      a = net::Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&ss), len);
    }
  });
  return a;
}

// One round trip over `network` ("udp" or "tcp") to `server`, ending at `until`.
ExResult RoundTrip(Lookup& lk, const std::string& network, const std::string& server,
                   const sockaddr_storage& sa, socklen_t salen, absl::Time until, uint16_t id,
                   const dns::Question& q, const std::string& query) {
  const bool udp = network == "udp";
  std::unique_ptr<netfd::NetFD> fd;
  auto dial_err = [&](const absl::Status& inner) {
    return Fail(OpError("dial", network, "", server, inner), true);
  };
  if (auto e = netfd::NetFD::Socket(sa.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0, network, &fd);
      !e.ok()) {
    return dial_err(FdErr(e));
  }
  netfd::FdError ce = fd->Connect(reinterpret_cast<const sockaddr*>(&sa), salen,
                                  netfd::DeadlineToMono(until),
                                  [&lk, &fd, until] { lk.Arm(fd.get(), until); });
  struct Cleanup {
    Lookup& lk;
    netfd::NetFD* fd;
    ~Cleanup() {
      lk.Disarm(fd);
      (void)fd->Close();
    }
  } cleanup{lk, fd.get()};
  if (!ce.ok()) {
    if (lk.Canceled() && ce.kind == netfd::FdError::Kind::kTimeout) return dial_err(MakeCanceled());
    return dial_err(FdErr(ce));
  }
  lk.Arm(fd.get(), until);
  const std::string local = LocalAddr(fd.get()).String();
  auto io_err = [&](const char* op, const netfd::FdError& e) {
    return Fail(OpError(op, network, local, server, FdErr(e)), true);
  };
  if (udp) {
    netfd::FdResult w = fd->Write(query);
    if (!w.err.ok()) return io_err("write", w.err);
    std::string buf(kMaxUDPPacket, '\0');
    for (;;) {
      netfd::FdResult r = fd->Read(absl::MakeSpan(buf));
      if (!r.err.ok()) return io_err("read", r.err);
      absl::StatusOr<dns::Message> m = dns::ParseMessage(std::string_view(buf.data(), r.n));
      // Unparsable or not ours: maybe a forgery attempt; keep reading (Go does).
      if (!m.ok() || !dns::CheckResponse(*m, id, q).ok()) continue;
      ExResult ok;
      ok.msg = *std::move(m);
      return ok;
    }
  }
  std::string framed;
  framed.reserve(query.size() + 2);
  framed.push_back(static_cast<char>(query.size() >> 8));
  framed.push_back(static_cast<char>(query.size() & 0xFF));
  framed += query;
  netfd::FdResult w = fd->Write(framed);
  if (!w.err.ok()) return io_err("write", w.err);
  auto read_full = [&](char* p, size_t n) -> netfd::FdError {
    size_t got = 0;
    while (got < n) {
      netfd::FdResult r = fd->Read(absl::MakeSpan(p + got, n - got));
      got += r.n;
      if (!r.err.ok()) {
        // io.ReadFull: EOF after some bytes is ErrUnexpectedEOF.
        if (r.err.kind == netfd::FdError::Kind::kEOF && got > 0) {
          return netfd::FdError::Of(netfd::FdError::Kind::kUnexpectedEOF);
        }
        return r.err;
      }
    }
    return {};
  };
  char len_buf[2];
  if (netfd::FdError e = read_full(len_buf, 2); !e.ok()) {
    // io.ReadFull's EOF/ErrUnexpectedEOF are not OpErrors in Go (returned bare).
    if (e.kind == netfd::FdError::Kind::kEOF || e.kind == netfd::FdError::Kind::kUnexpectedEOF) {
      return Fail(FdErr(e), false);
    }
    return io_err("read", e);
  }
  const size_t len = (static_cast<uint8_t>(len_buf[0]) << 8) | static_cast<uint8_t>(len_buf[1]);
  std::string buf(len, '\0');
  if (netfd::FdError e = read_full(buf.data(), len); !e.ok()) {
    if (e.kind == netfd::FdError::Kind::kEOF || e.kind == netfd::FdError::Kind::kUnexpectedEOF) {
      return Fail(FdErr(e), false);
    }
    return io_err("read", e);
  }
  absl::StatusOr<dns::Message> m = dns::ParseMessage(buf);
  if (!m.ok()) return FailText(kCannotUnmarshal);
  if (!dns::CheckResponse(*m, id, q).ok()) return FailText(kInvalidResponse);
  ExResult ok;
  ok.msg = *std::move(m);
  return ok;
}

// Go's exchange: UDP, then TCP when the answer was truncated (or TCP only).
ExResult Exchange(Lookup& lk, const std::string& server, const dns::Question& q) {
  const uint16_t id = RandomId();
  absl::StatusOr<std::string> query = dns::BuildQuery(id, q.name, q.type, q.cls);
  if (!query.ok()) return FailText("cannot marshal DNS message");
  auto sa = ServerSockaddr(server);
  if (!sa.ok()) return Fail(OpError("dial", "udp", "", server, sa.status()), true);
  const std::vector<std::string> networks =
      lk.cfg().use_tcp ? std::vector<std::string>{"tcp"} : std::vector<std::string>{"udp", "tcp"};
  for (const std::string& network : networks) {
    if (lk.Canceled()) return Fail(OpError("dial", network, "", server, MakeCanceled()), true);
    const absl::Time until = std::min(lk.deadline(), absl::Now() + lk.cfg().timeout);
    ExResult r = RoundTrip(lk, network, server, sa->first, sa->second, until, id, q, *query);
    if (!r.err.ok()) return r;
    if (r.msg.header.truncated) continue;  // RFC 5966: ask again over TCP
    return r;
  }
  return FailText(kNoAnswer);
}

// A DNSError before its name is known (Go fills in Name last: lastErr.Name = name).
struct DnsFail {
  std::string err;
  std::string server;
  bool timeout = false;
  bool temporary = false;
  bool not_found = false;

  absl::Status For(std::string_view name) const {
    return MakeDNSError({.err = err,
                         .name = name,
                         .server = server,
                         .timeout = timeout,
                         .temporary = temporary,
                         .not_found = not_found});
  }
};

struct NameResult {
  dns::Message msg;
  std::string server;
  std::optional<DnsFail> fail;  // set: this name failed
};

absl::Status DnsErr(std::string_view err, std::string_view name, std::string_view server) {
  return MakeDNSError({.err = err, .name = name, .server = server});
}

// Go's checkHeader; empty when the header is acceptable. *temporary for SERVFAIL.
std::string_view CheckHeader(const dns::Message& m, bool* temporary) {
  const dns::Header& h = m.header;
  if (h.rcode == dns::kRCodeNameError) return kNoSuchHost;
  if (h.rcode == dns::kRCodeSuccess && !h.authoritative && !h.recursion_available &&
      m.answers.empty()) {
    return kLameReferral;
  }
  if (h.rcode != dns::kRCodeSuccess) {
    *temporary = h.rcode == dns::kRCodeServerFailure;
    return kServerMisbehaving;
  }
  return {};
}

// Go's tryOneName: `attempts` rounds over the servers for one rooted name.
NameResult TryOneName(Lookup& lk, const std::string& fqdn, uint16_t qtype) {
  const DnsConfig& cfg = lk.cfg();
  NameResult last;
  last.fail = DnsFail{.err = std::string(kNoAnswer)};
  if (cfg.servers.empty()) return last;
  const uint32_t offset = cfg.rotate ? cfg.offset->fetch_add(1, std::memory_order_relaxed) : 0;
  const size_t n = cfg.servers.size();
  const dns::Question q{fqdn, qtype, dns::kClassINET};
  for (int i = 0; i < cfg.attempts; ++i) {
    for (size_t j = 0; j < n; ++j) {
      if (lk.Ended()) return last;
      const std::string& server = cfg.servers[(offset + j) % n];
      ExResult r = Exchange(lk, server, q);
      if (!r.err.ok()) {
        last.fail = DnsFail{.err = Msg(r.err), .server = server, .timeout = r.timeout,
                            .temporary = r.op_error};
        continue;
      }
      bool temporary = false;
      if (std::string_view e = CheckHeader(r.msg, &temporary); !e.empty()) {
        const bool nx = e == kNoSuchHost;
        last.fail = DnsFail{.err = std::string(e), .server = server, .temporary = temporary,
                            .not_found = nx};
        if (nx) return last;  // the name does not exist: another server won't help
        continue;
      }
      // Go's skipToAnswer: a record of the asked type must be in the answer.
      const bool has = std::any_of(r.msg.answers.begin(), r.msg.answers.end(),
                                   [qtype](const dns::Resource& rr) { return rr.type == qtype; });
      if (has) {
        NameResult ok;
        ok.msg = std::move(r.msg);
        ok.server = server;
        return ok;
      }
      last.fail = DnsFail{.err = std::string(kNoSuchHost), .server = server, .not_found = true};
      return last;
    }
  }
  return last;
}

absl::Status NoSuchHost(std::string_view name) {
  return MakeDNSError({.err = kNoSuchHost, .name = name, .not_found = true});
}

// Go's lookup: the candidates of nameList in turn, for one query type.
absl::StatusOr<NameResult> LookupName(Lookup& lk, std::string_view name, uint16_t qtype) {
  if (!IsDomainName(name)) return NoSuchHost(name);
  std::optional<DnsFail> last;
  for (const std::string& fqdn : NameList(lk.cfg(), name)) {
    NameResult r = TryOneName(lk, fqdn, qtype);
    if (!r.fail) return r;
    last = std::move(r.fail);
    if (lk.Ended()) break;
  }
  if (!last) return NoSuchHost(name);
  return last->For(name);
}

struct IPResult {
  std::vector<IPAddr> addrs;
  std::string cname;
};

// Go's goLookupIPCNAMEOrder (DNS part): A and/or AAAA for each candidate until one
// gives addresses.
absl::StatusOr<IPResult> LookupIPCNAME(Lookup& lk, std::string_view name, int family) {
  if (!IsDomainName(name)) return NoSuchHost(name);
  std::vector<uint16_t> qtypes;
  if (family != AF_INET6) qtypes.push_back(dns::kTypeA);
  if (family != AF_INET) qtypes.push_back(dns::kTypeAAAA);
  IPResult out;
  std::optional<DnsFail> last;
  for (const std::string& fqdn : NameList(lk.cfg(), name)) {
    std::vector<NameResult> results(qtypes.size());
    if (qtypes.size() == 2 && !lk.cfg().single_request) {
      fiber::WaitGroup wg;
      wg.Add(1);
      gonet::Go([&] {
        results[1] = TryOneName(lk, fqdn, qtypes[1]);
        wg.Done();
      });
      results[0] = TryOneName(lk, fqdn, qtypes[0]);
      wg.Wait();
    } else {
      for (size_t i = 0; i < qtypes.size(); ++i) results[i] = TryOneName(lk, fqdn, qtypes[i]);
    }
    for (NameResult& r : results) {
      if (r.fail) {
        // Prefer the error for the name as given (Go: fqdn == name+".").
        if (!last || fqdn == std::string(name) + ".") last = std::move(r.fail);
        continue;
      }
      for (const dns::Resource& rr : r.msg.answers) {
        if (rr.type != dns::kTypeA && rr.type != dns::kTypeAAAA) continue;
        IPAddr ip;
        ip.len = rr.ip_len;
        std::copy(rr.ip.begin(), rr.ip.begin() + rr.ip_len, ip.ip.begin());
        out.addrs.push_back(std::move(ip));
        if (out.cname.empty()) out.cname = rr.name;
      }
    }
    if (!out.addrs.empty() || lk.Ended()) break;
  }
  if (out.addrs.empty()) {
    if (last) return last->For(name);
    return NoSuchHost(name);
  }
  return out;
}

}  // namespace

DnsConfig ParseResolvConf(std::string_view text) {
  DnsConfig c;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && (line[0] == ';' || line[0] == '#')) continue;
    std::vector<std::string_view> f = ConfFields(line);
    if (f.empty()) continue;
    if (f[0] == "nameserver") {
      if (f.size() > 1 && c.servers.size() < 3) {
        // An IP literal only (a name would need DNS to look it up).
        if (std::optional<IPAddr> ip = ParseIPZone(f[1]); ip.has_value()) {
          c.servers.push_back(JoinHostPortString(f[1], "53"));
        }
      }
    } else if (f[0] == "domain") {
      if (f.size() > 1) c.search = {EnsureRooted(f[1])};
    } else if (f[0] == "search") {
      c.search.clear();
      for (size_t i = 1; i < f.size(); ++i) {
        std::string s = EnsureRooted(f[i]);
        if (s != ".") c.search.push_back(std::move(s));
      }
    } else if (f[0] == "options") {
      for (size_t i = 1; i < f.size(); ++i) {
        std::string_view s = f[i];
        bool ok = false;
        if (s.substr(0, 6) == "ndots:") {
          c.ndots = std::clamp(Dtoi(s.substr(6), &ok), 0, 15);
        } else if (s.substr(0, 8) == "timeout:") {
          c.timeout = absl::Seconds(std::clamp(Dtoi(s.substr(8), &ok), 1, 30));
        } else if (s.substr(0, 9) == "attempts:") {
          c.attempts = std::clamp(Dtoi(s.substr(9), &ok), 1, 5);
        } else if (s == "rotate") {
          c.rotate = true;
        } else if (s == "single-request" || s == "single-request-reopen") {
          c.single_request = true;
        } else if (s == "use-vc" || s == "usevc" || s == "tcp") {
          c.use_tcp = true;
        }
      }
    }
  }
  SetDefaults(&c);
  return c;
}

DnsConfig ReadResolvConf(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    DnsConfig c;
    SetDefaults(&c);
    c.err = MakeSyscallError("open " + std::string(path), errno ? errno : ENOENT);
    return c;
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseResolvConf(ss.str());
}

std::vector<std::string> NameList(const DnsConfig& cfg, std::string_view name) {
  // Go's avoidDNS: never send .onion names (RFC 7686).
  auto ends_with_ci = [](std::string_view s, std::string_view suf) {
    return s.size() >= suf.size() && dns::EqualNames(s.substr(s.size() - suf.size()), suf);
  };
  std::string_view bare = name;
  if (!bare.empty() && bare.back() == '.') bare.remove_suffix(1);
  if (name.empty() || ends_with_ci(bare, ".onion")) return {};
  const size_t l = name.size();
  const bool rooted = name.back() == '.';
  if (l > 254 || (l == 254 && !rooted)) return {};
  if (rooted) return {std::string(name)};
  const bool has_ndots = std::count(name.begin(), name.end(), '.') >= cfg.ndots;
  const std::string fq = std::string(name) + ".";
  std::vector<std::string> names;
  if (has_ndots) names.push_back(fq);
  for (const std::string& suffix : cfg.search) {
    if (fq.size() + suffix.size() <= 254) names.push_back(fq + suffix);
  }
  if (!has_ndots) names.push_back(fq);
  return names;
}

absl::StatusOr<std::vector<IPAddr>> DnsLookupIP(const Context& ctx, absl::Time deadline,
                                                const DnsConfig& cfg, std::string_view host,
                                                int family) {
  return WithLookup<std::vector<IPAddr>>(
      ctx, deadline, cfg, host, [&](Lookup& lk) -> absl::StatusOr<std::vector<IPAddr>> {
        absl::StatusOr<IPResult> r = LookupIPCNAME(lk, host, family);
        if (!r.ok()) return r.status();
        return std::move(r->addrs);
      });
}

absl::StatusOr<std::string> DnsLookupCNAME(const Context& ctx, absl::Time deadline,
                                           const DnsConfig& cfg, std::string_view host) {
  return WithLookup<std::string>(ctx, deadline, cfg, host,
                                 [&](Lookup& lk) -> absl::StatusOr<std::string> {
                                   absl::StatusOr<IPResult> r = LookupIPCNAME(lk, host, AF_UNSPEC);
                                   if (!r.ok()) return r.status();
                                   return std::move(r->cname);
                                 });
}

void SortSRV(std::vector<SRVRecord>* records) {
  std::vector<SRVRecord>& s = *records;
  std::sort(s.begin(), s.end(), [](const SRVRecord& a, const SRVRecord& b) {
    return a.priority < b.priority || (a.priority == b.priority && a.weight < b.weight);
  });
  absl::BitGen gen;
  // Within a priority: pick each next record with probability weight/sum (RFC 2782).
  auto shuffle = [&gen](SRVRecord* a, size_t n) {
    int sum = 0;
    for (size_t i = 0; i < n; ++i) sum += a[i].weight;
    while (sum > 0 && n > 1) {
      int acc = 0;
      const int pick = absl::Uniform(gen, 0, sum);
      for (size_t i = 0; i < n; ++i) {
        acc += a[i].weight;
        if (acc > pick) {
          if (i > 0) std::swap(a[0], a[i]);
          break;
        }
      }
      sum -= a[0].weight;
      ++a;
      --n;
    }
  };
  size_t i = 0;
  for (size_t j = 1; j <= s.size(); ++j) {
    if (j == s.size() || s[j].priority != s[i].priority) {
      shuffle(s.data() + i, j - i);
      i = j;
    }
  }
}

absl::StatusOr<SRVResult> DnsLookupSRV(const Context& ctx, absl::Time deadline,
                                       const DnsConfig& cfg, std::string_view service,
                                       std::string_view proto, std::string_view name) {
  const std::string target = service.empty() && proto.empty()
                                 ? std::string(name)
                                 : "_" + std::string(service) + "._" + std::string(proto) + "." +
                                       std::string(name);
  return WithLookup<SRVResult>(ctx, deadline, cfg, target,
                               [&](Lookup& lk) -> absl::StatusOr<SRVResult> {
                                 absl::StatusOr<NameResult> r = LookupName(lk, target, dns::kTypeSRV);
                                 if (!r.ok()) return r.status();
                                 SRVResult out;
                                 for (const dns::Resource& rr : r->msg.answers) {
                                   if (rr.type != dns::kTypeSRV) continue;
                                   if (out.cname.empty()) out.cname = rr.name;
                                   out.records.push_back({rr.target, rr.port, rr.priority, rr.weight});
                                 }
                                 SortSRV(&out.records);
                                 return out;
                               });
}

std::string ReverseAddr(const IPAddr& ip) {
  std::string s;
  if (IsIPv4(ip.bytes())) {
    const uint8_t* b = ip.ip.data() + (ip.len == 16 ? 12 : 0);
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u.in-addr.arpa.", b[3], b[2], b[1], b[0]);
    return buf;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i) {
    s.push_back(kHex[ip.ip[i] & 0xF]);
    s.push_back('.');
    s.push_back(kHex[ip.ip[i] >> 4]);
    s.push_back('.');
  }
  s += "ip6.arpa.";
  return s;
}

absl::StatusOr<std::vector<std::string>> DnsLookupPTR(const Context& ctx, absl::Time deadline,
                                                      const DnsConfig& cfg, const IPAddr& ip) {
  if (ip.len != 4 && ip.len != 16) {
    return DnsErr("unrecognized address", IPString(ip.bytes()), "");
  }
  const std::string arpa = ReverseAddr(ip);
  return WithLookup<std::vector<std::string>>(
      ctx, deadline, cfg, arpa, [&](Lookup& lk) -> absl::StatusOr<std::vector<std::string>> {
        absl::StatusOr<NameResult> r = LookupName(lk, arpa, dns::kTypePTR);
        if (!r.ok()) return r.status();
        std::vector<std::string> out;
        for (const dns::Resource& rr : r->msg.answers) {
          if (rr.type == dns::kTypePTR) out.push_back(rr.target);
        }
        return out;
      });
}

}  // namespace gonet::net_internal
