// tour.cc: a guided tour of gonet's net package, each step checked against Go.
//
//   ./bazelw run //examples:tour
//   ./bazelw run //examples:tour -- --only=readers --count=200   # hunt a flake
//
// Runs every scenario below in order inside one gonet::Run (procs 2) and logs, in
// the format of Go's log package with microseconds ("2026/11/26 10:00:00.123456
// ..."), what each one tried, what happened (n, the exact error text, the
// IsTimeout/IsEOF/IsClosed/Errno predicates) and how long it took, then a table
// of scenario -> PASS/FAIL. Every expectation is what Go 1.19 does on Linux
// (docs/behavior.md: outcomes, predicates, error texts with the real
// addresses); the exit code is 0 only if every scenario matched, no fd
// leaked and no fiber was left over.
//
// Synchronization is by events: channels, WaitGroups and the data itself. The
// few Sleeps only give a fiber time to block before something unblocks it, and
// every check holds whether or not it had blocked yet. Time bounds are loose
// above (a loaded machine is slow) and tight below (a deadline never fires
// early).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/net.h"
#include "testing/leak_check.h"
#include "third_party/flags_main.h"

ABSL_FLAG(std::string, only, "", "run only the scenarios whose name contains this");
ABSL_FLAG(int, count, 1, "run each scenario this many times, >= 1");
ABSL_FLAG(int, procs, 2, "worker threads (GOMAXPROCS); 0 = one per CPU");

namespace gonet::examples {
namespace {

using fiber::Channel;
using fiber::WaitGroup;
using net::IOResult;
using ConnPtr = std::shared_ptr<net::TCPConn>;

constexpr absl::Duration kMs = absl::Milliseconds(1);
// Upper bound for anything that should be "at once", and slack above a
// deadline: generous, so a loaded machine does not fail the tour.
constexpr absl::Duration kPrompt = absl::Seconds(1);
constexpr absl::Duration kSlack = absl::Milliseconds(1500);
// Below a deadline: timers never fire early; this only absorbs the difference
// between absl::Now() and the runtime's clock.
constexpr absl::Duration kEarly = absl::Milliseconds(2);

// ---------------------------------------------------------------- logging

// One line in Go's log format (log.LstdFlags | log.Lmicroseconds). One fwrite
// per line: stdio's lock keeps lines from fibers on other workers whole.
template <typename... Args>
void Logf(const absl::FormatSpec<Args...>& format, const Args&... args) {
  std::string line = absl::FormatTime("%Y/%m/%d %H:%M:%E6S ", absl::Now(), absl::LocalTimeZone());
  absl::StrAppendFormat(&line, format, args...);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::string Dur(absl::Duration d) {
  return absl::FormatDuration(absl::Trunc(d, absl::Microseconds(1)));
}

std::string ErrnoName(int e) {
  switch (e) {
    case ECONNREFUSED:
      return "ECONNREFUSED";
    case ECONNRESET:
      return "ECONNRESET";
    case EPIPE:
      return "EPIPE";
    case EINVAL:
      return "EINVAL";
    case ETIMEDOUT:
      return "ETIMEDOUT";
    case ENOENT:
      return "ENOENT";
    default:
      return absl::StrCat(e);
  }
}

// The flags a status carries, as "[IsTimeout errno=EPIPE]".
std::string Tags(bool timeout, bool eof, bool closed, int err) {
  std::vector<std::string> tags;
  if (timeout) tags.push_back("IsTimeout");
  if (eof) tags.push_back("IsEOF");
  if (closed) tags.push_back("IsClosed");
  if (err != 0) tags.push_back("errno=" + ErrnoName(err));
  return tags.empty() ? "" : absl::StrCat(" [", absl::StrJoin(tags, " "), "]");
}

std::string Show(const absl::Status& st) {
  if (st.ok()) return "<nil>";
  return absl::StrCat("\"", st.message(), "\"",
                      Tags(net::IsTimeout(st), net::IsEOF(st), net::IsClosed(st), net::Errno(st)));
}

// One scenario's record. Check() may be called from any fiber.
class Section {
 public:
  // Logs a check as "ok" or "FAIL"; a failed one fails the scenario.
  bool Check(bool ok, absl::string_view what) {
    Logf("    %s %s", ok ? "ok  " : "FAIL", what);
    if (!ok) failed_.store(true);
    return ok;
  }
  // For set-up steps that are not the point: logged only when they fail.
  bool Require(bool ok, absl::string_view what) {
    if (!ok) Check(false, absl::StrCat("set-up: ", what));
    return ok;
  }
  template <typename... Args>
  void Log(const absl::FormatSpec<Args...>& format, const Args&... args) {
    Logf("  %s", absl::StrFormat(format, args...));
  }
  bool failed() const { return failed_.load(); }

 private:
  std::atomic<bool> failed_{false};
};

// ---------------------------------------------------------------- expectations

// What Go returns: the exact err.Error() text ("" = nil) and its predicates.
struct Want {
  std::string text;
  bool timeout = false;
  bool eof = false;
  bool closed = false;
  int err = 0;
};

Want Ok() { return {}; }
Want Timeout(std::string prefix) { return {.text = prefix + "i/o timeout", .timeout = true}; }
Want Eof() { return {.text = "EOF", .eof = true}; }
Want Closed(std::string prefix) {
  return {.text = prefix + "use of closed network connection", .closed = true};
}
Want Sys(std::string text, int err) { return {.text = std::move(text), .err = err}; }

bool Matches(const absl::Status& st, const Want& w) {
  if (w.text.empty()) return st.ok();
  return !st.ok() && st.message() == w.text && net::IsTimeout(st) == w.timeout &&
         net::IsEOF(st) == w.eof && net::IsClosed(st) == w.closed && net::Errno(st) == w.err;
}

std::string ShowWant(const Want& w) {
  if (w.text.empty()) return "<nil>";
  return absl::StrCat("\"", w.text, "\"", Tags(w.timeout, w.eof, w.closed, w.err));
}

// "read tcp 127.0.0.1:5000->127.0.0.1:6000: ", Go's OpError prefix for a conn
// ("read unix @->/tmp/d/sock: " on a dialed Unix socket).
std::string Op(absl::string_view op, const net::Conn& c) {
  return absl::StrCat(op, " ", c.LocalAddr().Network(), " ", c.LocalAddr().String(), "->",
                      c.RemoteAddr().String(), ": ");
}

// An Addr as Go's tests print one: network/"name" for Unix, network/host:port else.
std::string ShowAddr(const net::Addr& a) {
  if (a.IsNil()) return "<nil>";
  if (a.IsUnix()) return absl::StrCat(a.Network(), "/\"", a.String(), "\"");
  return absl::StrCat(a.Network(), "/", a.String());
}

bool ExpectErr(Section& s, absl::string_view what, const absl::Status& got, const Want& want) {
  bool ok = Matches(got, want);
  return s.Check(ok, absl::StrCat(what, " -> err=", Show(got),
                                  ok ? "" : absl::StrCat("   WANT err=", ShowWant(want))));
}

// n must lie in [lo, hi].
bool ExpectIO(Section& s, absl::string_view what, const IOResult& r, size_t lo, size_t hi,
              const Want& want) {
  bool ok = r.n >= lo && r.n <= hi && Matches(r.err, want);
  std::string want_n = lo == hi ? absl::StrCat(lo) : absl::StrCat(lo, "..", hi);
  return s.Check(
      ok, absl::StrCat(what, " -> n=", r.n, " err=", Show(r.err),
                       ok ? "" : absl::StrCat("   WANT n=", want_n, " err=", ShowWant(want))));
}

bool Within(Section& s, absl::string_view what, absl::Duration took, absl::Duration lo,
            absl::Duration hi) {
  return s.Check(
      took >= lo - kEarly && took <= hi,
      absl::StrCat(what, " took ", Dur(took), " (expected ", Dur(lo), "..", Dur(hi), ")"));
}

// ---------------------------------------------------------------- helpers

// The bytes of a string, without the terminating NUL that a string literal
// would bring along if it converted to absl::Span<const char> directly.
absl::Span<const char> Str(absl::string_view s) { return {s.data(), s.size()}; }

// A connected pair over loopback: c dialed, s accepted.
struct Pair {
  ConnPtr c;
  ConnPtr s;
};

std::optional<Pair> MakePair(Section& s) {
  auto ln = net::Listen("tcp", "127.0.0.1:0");
  if (!s.Require(ln.ok(), absl::StrCat("Listen: ", ln.status().ToString()))) return std::nullopt;
  auto tl = std::dynamic_pointer_cast<net::TCPListener>(*ln);
  auto c = net::Dial("tcp", (*ln)->Address().String());
  if (!s.Require(c.ok(), absl::StrCat("Dial: ", c.status().ToString()))) return std::nullopt;
  auto a = tl->AcceptTCP();
  if (!s.Require(a.ok(), absl::StrCat("Accept: ", a.status().ToString()))) return std::nullopt;
  (*ln)->Close().IgnoreError();  // accepted conns outlive their listener
  return Pair{std::dynamic_pointer_cast<net::TCPConn>(*c), *a};
}

// A loopback address nobody listens on (a listener's port, right after Close).
std::string ClosedPort() {
  auto ln = net::Listen("tcp", "127.0.0.1:0");
  if (!ln.ok()) return "127.0.0.1:1";
  std::string addr = (*ln)->Address().String();
  (*ln)->Close().IgnoreError();
  return addr;
}

// A listener made with plain syscalls that never accepts: Linux queues backlog+1
// connections, then drops further SYNs, so later dials hang until their deadline.
class RawListener {
 public:
  explicit RawListener(int backlog) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) != 0 ||
        listen(fd_, backlog) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      Reset();
      return;
    }
    addr_ = net::Addr::FromSockaddr(reinterpret_cast<sockaddr*>(&sa), len).String();
  }
  ~RawListener() { Reset(); }
  RawListener(const RawListener&) = delete;
  RawListener& operator=(const RawListener&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  const std::string& addr() const { return addr_; }

 private:
  void Reset() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int fd_ = -1;
  std::string addr_;
};

// Go's io.ReadFull: Reads until buf is full or an error.
IOResult ReadFull(net::Conn& c, absl::Span<char> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    IOResult r = c.Read(buf.subspan(got));
    got += r.n;
    if (!r.err.ok()) return {got, r.err};
  }
  return {got, absl::OkStatus()};
}

// More than loopback's socket buffers can hold (a few MiB each way), so a
// Write of it to a peer that does not read always blocks.
const std::string& Big() {
  static const std::string* big = new std::string(64 << 20, 'x');
  return *big;
}

// What a Read in another fiber came back with.
struct ReadOut {
  IOResult r;
  std::string data;
  absl::Time at;
};

// Starts a fiber that Reads once from c into a buffer of `size` and sends the
// outcome on out.
void GoRead(ConnPtr c, size_t size, Channel<ReadOut>* out) {
  Go([c = std::move(c), size, out] {
    std::string buf(size, '\0');
    IOResult r = c->Read(absl::MakeSpan(buf));
    out->Send(ReadOut{r, buf.substr(0, r.n), absl::Now()});
  });
}

// Starts a fiber that Writes data to c and sends the outcome on out.
void GoWrite(ConnPtr c, const std::string* data, Channel<ReadOut>* out) {
  Go([c = std::move(c), data, out] {
    IOResult r = c->Write(*data);
    out->Send(ReadOut{r, "", absl::Now()});
  });
}

// getsockopt through TCPConn::Control (Go's SyscallConn().Control).
int IntOpt(Section& s, net::TCPConn& c, int level, int opt) {
  int v = -1;
  absl::Status st = c.Control([&](int fd) {
    socklen_t len = sizeof(v);
    if (getsockopt(fd, level, opt, &v, &len) != 0) v = -errno;
  });
  s.Require(st.ok(), absl::StrCat("Control: ", st.ToString()));
  return v;
}

// ---------------------------------------------------------------- scenarios

void DialRefused(Section& s) {
  std::string addr = ClosedPort();
  s.Log("tried: Dial(\"tcp\", \"%s\"), a loopback port nobody listens on", addr);
  absl::Time t0 = absl::Now();
  auto c = net::Dial("tcp", addr);
  absl::Duration took = absl::Now() - t0;
  ExpectErr(s, "Dial", c.status(),
            Sys("dial tcp " + addr + ": connect: connection refused", ECONNREFUSED));
  Within(s, "Dial", took, absl::ZeroDuration(), kPrompt);
  t0 = absl::Now();
  c = net::DialTimeout("tcp", addr, absl::Milliseconds(300));
  took = absl::Now() - t0;
  ExpectErr(s, "DialTimeout(300ms), refused before the timeout", c.status(),
            Sys("dial tcp " + addr + ": connect: connection refused", ECONNREFUSED));
  Within(s, "DialTimeout", took, absl::ZeroDuration(), kPrompt);
}

void BacklogFull(Section& s) {
  constexpr int kBacklog = 2;
  RawListener ln(kBacklog);
  if (!s.Require(ln.ok(), "raw listener")) return;
  s.Log(
      "tried: socket()+bind(%s)+listen(fd, %d) that never accepts; DialTimeout(300ms) "
      "until one fails",
      ln.addr(), kBacklog);
  std::vector<std::shared_ptr<net::Conn>> queued;
  absl::Status last;
  absl::Duration last_took;
  for (int i = 1; i <= kBacklog + 4; ++i) {
    absl::Time t0 = absl::Now();
    auto c = net::DialTimeout("tcp", ln.addr(), absl::Milliseconds(300));
    absl::Duration took = absl::Now() - t0;
    s.Log("dial #%d: took %s err=%s", i, Dur(took), Show(c.status()));
    if (!c.ok()) {
      last = c.status();
      last_took = took;
      break;
    }
    queued.push_back(*c);
  }
  s.Check(queued.size() == kBacklog + 1,
          absl::StrFormat("%d dials connected at once (Go on Linux: backlog+1 = %d)", queued.size(),
                          kBacklog + 1));
  ExpectErr(s, "the next DialTimeout(300ms)", last, Timeout("dial tcp " + ln.addr() + ": "));
  Within(s, "it", last_took, absl::Milliseconds(300), absl::Milliseconds(300) + kSlack);
  if (queued.empty()) return;
  ExpectIO(s, "Write(\"hello\") on a queued, never accepted conn", queued[0]->Write(Str("hello")),
           5, 5, Ok());
  // Taking one off the queue makes room for one more.
  int a = accept4(ln.fd(), nullptr, nullptr, SOCK_CLOEXEC);  // queued: returns at once
  if (!s.Require(a >= 0, "accept4")) return;
  close(a);
  auto c = net::DialTimeout("tcp", ln.addr(), absl::Milliseconds(300));
  ExpectErr(s, "after accept(2) took one conn off the queue, DialTimeout(300ms)", c.status(), Ok());
  for (auto& q : queued) q->Close().IgnoreError();
  if (c.ok()) (*c)->Close().IgnoreError();
}

void DialTimeoutScenario(Section& s) {
  auto ln = net::Listen("tcp", "127.0.0.1:0");
  if (!s.Require(ln.ok(), "Listen")) return;
  std::string live = (*ln)->Address().String();
  absl::Time t0 = absl::Now();
  auto c = net::DialTimeout("tcp", live, absl::Milliseconds(300));
  ExpectErr(s, "DialTimeout(" + live + ", 300ms) to a live listener", c.status(), Ok());
  Within(s, "it", absl::Now() - t0, absl::ZeroDuration(), kPrompt);

  RawListener full(0);  // holds one queued conn, then drops SYNs
  if (!s.Require(full.ok(), "raw listener")) return;
  auto filler = net::DialTimeout("tcp", full.addr(), absl::Milliseconds(500));
  if (!s.Require(filler.ok(), "filling the backlog-0 listener")) return;
  for (absl::Duration d : {absl::Milliseconds(100), absl::Milliseconds(250)}) {
    t0 = absl::Now();
    auto h = net::DialTimeout("tcp", full.addr(), d);
    absl::Duration took = absl::Now() - t0;
    ExpectErr(s, absl::StrCat("DialTimeout(", Dur(d), ") to a full backlog"), h.status(),
              Timeout("dial tcp " + full.addr() + ": "));
    Within(s, "it", took, d, d + kSlack);
  }
  net::Dialer dialer;
  t0 = absl::Now();  // before the deadline is computed from it (see "read deadline")
  dialer.deadline = t0 + absl::Milliseconds(150);
  auto h = dialer.Dial("tcp", full.addr());
  ExpectErr(s, "Dialer{deadline: now+150ms}.Dial to a full backlog", h.status(),
            Timeout("dial tcp " + full.addr() + ": "));
  Within(s, "it", absl::Now() - t0, absl::Milliseconds(150), absl::Milliseconds(150) + kSlack);

  t0 = absl::Now();
  auto neg = net::DialTimeout("tcp", live, -kMs);
  ExpectErr(s, "DialTimeout(-1ms) to a live listener (already expired)", neg.status(),
            Timeout("dial tcp " + live + ": "));
  Within(s, "it", absl::Now() - t0, absl::ZeroDuration(), kPrompt);
  (*filler)->Close().IgnoreError();
  if (c.ok()) (*c)->Close().IgnoreError();
  (*ln)->Close().IgnoreError();
}

void ReadBlocks(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: Read on a conn whose peer sends nothing, with a 200ms read deadline");
  char buf[64];
  absl::Time t0 = absl::Now();  // before the deadline is computed from it
  p->c->SetReadDeadline(t0 + absl::Milliseconds(200)).IgnoreError();
  IOResult r = p->c->Read(absl::MakeSpan(buf));
  absl::Duration took = absl::Now() - t0;
  ExpectIO(s, "Read", r, 0, 0, Timeout(Op("read", *p->c)));
  Within(s, "Read blocked until the deadline:", took, absl::Milliseconds(200),
         absl::Milliseconds(200) + kSlack);

  s.Log("tried: Read with no deadline in another fiber; 200ms later the peer writes \"ping\"");
  p->c->SetReadDeadline(absl::InfiniteFuture()).IgnoreError();
  Channel<ReadOut> out(1);
  GoRead(p->c, 64, &out);
  Sleep(absl::Milliseconds(200));
  s.Check(out.size() == 0, "after 200ms the Read is still blocked");
  absl::Time wrote = absl::Now();
  p->s->Write(Str("ping")).err.IgnoreError();
  ReadOut o = *out.Recv();
  ExpectIO(s, "the blocked Read", o.r, 4, 4, Ok());
  s.Check(o.data == "ping", "it read \"" + o.data + "\"");
  Within(s, "from the peer's Write to the Read's return", o.at - wrote, absl::ZeroDuration(),
         kPrompt);
}

void PartialData(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: peer writes 5 bytes; Read into a 64-byte buffer");
  p->s->Write(Str("hello")).err.IgnoreError();
  p->c->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();  // a hang fails, not hangs
  char buf[64];
  absl::Time t0 = absl::Now();
  IOResult r = p->c->Read(absl::MakeSpan(buf));
  ExpectIO(s, "Read(64)", r, 5, 5, Ok());
  s.Check(absl::string_view(buf, r.n) == "hello",
          absl::StrCat("got \"", absl::string_view(buf, r.n), "\": Read returns what is there"));
  Within(s, "it (does not wait to fill the buffer)", absl::Now() - t0, absl::ZeroDuration(),
         kPrompt);
}

void EnoughData(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: peer writes 15 bytes; two Reads into a 10-byte buffer");
  p->s->Write(Str("0123456789abcde")).err.IgnoreError();
  p->c->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  char buf[10];
  IOResult r = p->c->Read(absl::MakeSpan(buf));
  ExpectIO(s, "Read #1", r, 10, 10, Ok());
  s.Check(absl::string_view(buf, r.n) == "0123456789",
          absl::StrCat("got \"", absl::string_view(buf, r.n), "\""));
  r = p->c->Read(absl::MakeSpan(buf));
  ExpectIO(s, "Read #2", r, 5, 5, Ok());
  s.Check(absl::string_view(buf, r.n) == "abcde",
          absl::StrCat("got \"", absl::string_view(buf, r.n), "\""));
}

void PeerClosesAfterSending(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: peer writes \"abc\" and closes; Read three times, then Read(empty buffer)");
  p->s->Write(Str("abc")).err.IgnoreError();
  p->s->Close().IgnoreError();
  p->c->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  char buf[64];
  IOResult r = p->c->Read(absl::MakeSpan(buf));
  ExpectIO(s, "Read #1", r, 3, 3, Ok());
  s.Check(absl::string_view(buf, r.n) == "abc",
          absl::StrCat("got \"", absl::string_view(buf, r.n), "\": data first"));
  ExpectIO(s, "Read #2", p->c->Read(absl::MakeSpan(buf)), 0, 0, Eof());
  ExpectIO(s, "Read #3 (EOF again)", p->c->Read(absl::MakeSpan(buf)), 0, 0, Eof());
  ExpectIO(s, "Read(empty buffer) after EOF", p->c->Read(absl::Span<char>()), 0, 0, Ok());
}

void PeerClosesEmpty(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: peer closes without sending; Read");
  p->s->Close().IgnoreError();
  p->c->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  char buf[64];
  ExpectIO(s, "Read", p->c->Read(absl::MakeSpan(buf)), 0, 0, Eof());

  auto q = MakePair(s);
  if (!q) return;
  s.Log("tried: peer CloseWrite (half close); Read, then Write the other way");
  ExpectErr(s, "peer CloseWrite", q->s->CloseWrite(), Ok());
  q->c->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  ExpectIO(s, "Read", q->c->Read(absl::MakeSpan(buf)), 0, 0, Eof());
  ExpectIO(s, "Write(\"still up\") back to the half-closed peer", q->c->Write(Str("still up")), 8,
           8, Ok());
  q->s->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  IOResult r = ReadFull(*q->s, absl::MakeSpan(buf, 8));
  ExpectIO(s, "the peer reads it", r, 8, 8, Ok());
}

void ReadDeadline(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  char buf[64];
  s.Log("tried: SetReadDeadline(now+150ms); Read twice; move the deadline; Read");
  // t0 before the deadline is computed from it: a preemption in between must not make
  // the measured wait look shorter than the deadline.
  absl::Time t0 = absl::Now();
  p->c->SetReadDeadline(t0 + absl::Milliseconds(150)).IgnoreError();
  IOResult r = p->c->Read(absl::MakeSpan(buf));
  absl::Duration took = absl::Now() - t0;
  ExpectIO(s, "Read", r, 0, 0, Timeout(Op("read", *p->c)));
  Within(s, "it", took, absl::Milliseconds(150), absl::Milliseconds(150) + kSlack);
  t0 = absl::Now();
  r = p->c->Read(absl::MakeSpan(buf));
  ExpectIO(s, "Read again (the deadline stays passed)", r, 0, 0, Timeout(Op("read", *p->c)));
  Within(s, "it", absl::Now() - t0, absl::ZeroDuration(), kPrompt);
  ExpectErr(s, "SetReadDeadline(now+5s)", p->c->SetReadDeadline(absl::Now() + absl::Seconds(5)),
            Ok());
  p->s->Write(Str("again")).err.IgnoreError();
  r = p->c->Read(absl::MakeSpan(buf));
  ExpectIO(s, "Read after moving the deadline (the peer wrote \"again\")", r, 5, 5, Ok());
  s.Check(absl::string_view(buf, r.n) == "again",
          absl::StrCat("got \"", absl::string_view(buf, r.n), "\": nothing lost"));

  s.Log("tried: a Read blocked with no deadline; another fiber sets one 100ms ahead");
  p->c->SetReadDeadline(absl::InfiniteFuture()).IgnoreError();
  Channel<ReadOut> out(1);
  GoRead(p->c, 64, &out);
  Sleep(absl::Milliseconds(50));
  absl::Time set = absl::Now();
  p->c->SetReadDeadline(set + absl::Milliseconds(100)).IgnoreError();
  ReadOut o = *out.Recv();
  ExpectIO(s, "the blocked Read", o.r, 0, 0, Timeout(Op("read", *p->c)));
  Within(s, "from SetReadDeadline to its return", o.at - set, absl::Milliseconds(100),
         absl::Milliseconds(100) + kSlack);
}

void WriteSucceeds(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  constexpr size_t kSize = 4 << 20;
  std::string data(kSize, '\0');
  for (size_t i = 0; i < kSize; ++i) data[i] = static_cast<char>(i * 131 + (i >> 12));
  s.Log("tried: Write 4 MiB while the peer reads (io.ReadFull) in another fiber");
  p->s->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  Channel<ReadOut> out(1);
  Go([&] {
    std::string got(kSize, '\0');
    IOResult r = ReadFull(*p->s, absl::MakeSpan(got));
    out.Send(ReadOut{r, std::move(got), absl::Now()});
  });
  absl::Time t0 = absl::Now();
  IOResult w = p->c->Write(data);
  absl::Duration took = absl::Now() - t0;
  ExpectIO(s, "Write(4 MiB)", w, kSize, kSize, Ok());
  ReadOut o = *out.Recv();
  ExpectIO(s, "peer's ReadFull(4 MiB)", o.r, kSize, kSize, Ok());
  s.Check(o.data == data, "the peer got every byte in order");
  s.Log("Write took %s (%.0f MiB/s)", Dur(took), 4.0 / absl::ToDoubleSeconds(took));
}

void WriteBlocks(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  const std::string& big = Big();
  s.Log("tried: the peer never reads; SetWriteDeadline(now+300ms); Write(64 MiB)");
  absl::Time t0 = absl::Now();  // before the deadline is computed from it
  p->c->SetWriteDeadline(t0 + absl::Milliseconds(300)).IgnoreError();
  IOResult w = p->c->Write(big);
  absl::Duration took = absl::Now() - t0;
  ExpectIO(s, "Write (blocks once the socket buffers are full)", w, 1, big.size() - 1,
           Timeout(Op("write", *p->c)));
  Within(s, "it", took, absl::Milliseconds(300), absl::Milliseconds(300) + kSlack);
  s.Log("the kernel buffered %zu bytes (%.1f MiB) before the Write blocked", w.n, w.n / 1048576.0);
  t0 = absl::Now();
  ExpectIO(s, "Write(\"x\") again, deadline still passed", p->c->Write(Str("x")), 0, 0,
           Timeout(Op("write", *p->c)));
  Within(s, "it", absl::Now() - t0, absl::ZeroDuration(), kPrompt);
}

void PeerGoesAwayMidWrite(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  const std::string& big = Big();
  s.Log(
      "tried: Write(64 MiB) in a fiber; the peer reads 256 KiB, then closes with unread "
      "data (the kernel answers with RST)");
  Channel<ReadOut> out(1);
  GoWrite(p->c, &big, &out);
  p->s->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  std::string first(256 << 10, '\0');
  IOResult r = ReadFull(*p->s, absl::MakeSpan(first));  // the Write is under way
  s.Require(r.err.ok(), "peer read");
  p->s->Close().IgnoreError();
  ReadOut o = *out.Recv();
  std::string prefix = Op("write", *p->c);
  bool reset = Matches(o.r.err, Sys(prefix + "write: connection reset by peer", ECONNRESET));
  bool pipe = Matches(o.r.err, Sys(prefix + "write: broken pipe", EPIPE));
  s.Check(o.r.n > 0 && o.r.n < big.size() && (reset || pipe),
          absl::StrCat("Write -> n=", o.r.n, " err=", Show(o.r.err),
                       " (Go: partial n, then \"write: connection reset by peer\" or "
                       "\"write: broken pipe\")"));
  ExpectIO(s, "Write(\"x\") again", p->c->Write(Str("x")), 0, 0,
           Sys(prefix + "write: broken pipe", EPIPE));
}

void WriteDeadline(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: SetWriteDeadline(in the past); Write; clear it; Write");
  p->c->SetWriteDeadline(absl::Now() - absl::Seconds(1)).IgnoreError();
  absl::Time t0 = absl::Now();
  ExpectIO(s, "Write(\"hello\")", p->c->Write(Str("hello")), 0, 0, Timeout(Op("write", *p->c)));
  Within(s, "it", absl::Now() - t0, absl::ZeroDuration(), kPrompt);
  ExpectErr(s, "SetWriteDeadline(InfiniteFuture)", p->c->SetWriteDeadline(absl::InfiniteFuture()),
            Ok());
  ExpectIO(s, "Write(\"hello\")", p->c->Write(Str("hello")), 5, 5, Ok());

  s.Log(
      "tried: Write(64 MiB) blocked on a peer that never reads; another fiber sets a "
      "write deadline 100ms ahead (SetDeadline, both directions)");
  Channel<ReadOut> out(1);
  GoWrite(p->c, &Big(), &out);
  Sleep(absl::Milliseconds(100));
  absl::Time set = absl::Now();
  p->c->SetDeadline(set + absl::Milliseconds(100)).IgnoreError();
  ReadOut o = *out.Recv();
  ExpectIO(s, "the blocked Write", o.r, 1, Big().size() - 1, Timeout(Op("write", *p->c)));
  Within(s, "from SetDeadline to its return", o.at - set, absl::Milliseconds(100),
         absl::Milliseconds(100) + kSlack);
  char buf[8];
  ExpectIO(s, "Read (SetDeadline covered reads too)", p->c->Read(absl::MakeSpan(buf)), 0, 0,
           Timeout(Op("read", *p->c)));
}

void ConcurrentWriters(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  constexpr int kWriters = 8, kEach = 4;
  constexpr size_t kChunk = 256 << 10, kTotal = kWriters * kEach * kChunk;
  s.Log(
      "tried: %d fibers each Write %d chunks of 256 KiB to one conn; each chunk is one byte "
      "value (its tag); the peer reads all 8 MiB",
      kWriters, kEach);
  std::atomic<int> bad_writes{0};
  WaitGroup wg;
  for (int w = 0; w < kWriters; ++w) {
    wg.Add(1);
    Go([&, w] {
      for (int i = 0; i < kEach; ++i) {
        std::string chunk(kChunk, static_cast<char>(1 + w * kEach + i));
        IOResult r = p->c->Write(chunk);
        if (r.n != kChunk || !r.err.ok()) {
          bad_writes.fetch_add(1);
          s.Check(false, absl::StrCat("writer ", w, " Write -> n=", r.n, " err=", Show(r.err)));
        }
      }
      wg.Done();
    });
  }
  p->s->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  std::string got(kTotal, '\0');
  absl::Time t0 = absl::Now();
  IOResult r = ReadFull(*p->s, absl::MakeSpan(got));
  wg.Wait();
  ExpectIO(s, "peer's ReadFull(8 MiB)", r, kTotal, kTotal, Ok());
  s.Check(bad_writes.load() == 0,
          absl::StrCat(kWriters * kEach, " Writes each returned n=262144 err=<nil>"));
  std::vector<bool> seen(1 + kWriters * kEach, false);
  int whole = 0;
  for (size_t k = 0; k < kTotal / kChunk; ++k) {
    absl::string_view chunk(got.data() + k * kChunk, kChunk);
    unsigned char tag = chunk[0];
    if (chunk.find_first_not_of(chunk[0]) == absl::string_view::npos && tag >= 1 &&
        tag < seen.size() && !seen[tag]) {
      seen[tag] = true;
      ++whole;
    }
  }
  s.Check(whole == kWriters * kEach,
          absl::StrFormat("the stream is %d whole chunks with distinct tags, never interleaved "
                          "(%d of %d)",
                          kWriters * kEach, whole, kWriters * kEach));
  s.Log("8 MiB through 8 concurrent writers in %s", Dur(absl::Now() - t0));
}

// Byte p of the stream of little-endian uint32 counters 0, 1, 2, ...
char CounterByte(size_t p) { return static_cast<char>((p / 4) >> (8 * (p % 4))); }

// Where a piece of the counter stream starts, or -1 if it is too short to tell.
int64_t Locate(absl::string_view piece, size_t total) {
  for (size_t a = 0; a < 4 && a + 4 <= piece.size(); ++a) {
    const auto* u = reinterpret_cast<const unsigned char*>(piece.data() + a);
    uint64_t counter = u[0] | u[1] << 8 | u[2] << 16 | uint64_t{u[3]} << 24;
    int64_t off = static_cast<int64_t>(counter * 4) - static_cast<int64_t>(a);
    if (off < 0 || off + piece.size() > total) continue;
    bool match = true;
    for (size_t i = 0; i < piece.size() && match; ++i) match = piece[i] == CounterByte(off + i);
    if (match) return off;
  }
  return -1;
}

void ConcurrentReaders(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  constexpr int kReaders = 4;
  constexpr size_t kTotal = 1 << 20;
  std::string stream(kTotal, '\0');
  for (size_t i = 0; i < kTotal; ++i) stream[i] = CounterByte(i);
  s.Log(
      "tried: %d fibers Read (1000-byte buffers) one conn until EOF while the peer writes "
      "1 MiB of counters and CloseWrites; every piece is located in the stream",
      kReaders);
  // A deadline turns a Read that never returns (a gonet bug) into a FAIL, not a hang.
  p->s->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  std::vector<std::vector<std::string>> pieces(kReaders);
  WaitGroup wg;
  for (int k = 0; k < kReaders; ++k) {
    wg.Add(1);
    Go([&, k] {
      char buf[1000];
      for (;;) {
        IOResult r = p->s->Read(absl::MakeSpan(buf));
        if (r.n > 0) pieces[k].emplace_back(buf, r.n);
        if (!r.err.ok()) {
          if (!net::IsEOF(r.err)) s.Check(false, "reader Read -> err=" + Show(r.err));
          break;
        }
        // As a reader that works on each piece would: lets the others take the
        // read lock (without it the running reader re-takes it every time).
        Yield();
      }
      wg.Done();
    });
  }
  ExpectIO(s, "peer Write(1 MiB)", p->c->Write(stream), kTotal, kTotal, Ok());
  p->c->CloseWrite().IgnoreError();
  wg.Wait();
  std::vector<uint8_t> cover(kTotal, 0);
  size_t bytes = 0, unlocated = 0, overlaps = 0, count = 0;
  std::vector<std::string> per;
  for (int k = 0; k < kReaders; ++k) {
    size_t mine = 0;
    for (const std::string& piece : pieces[k]) {
      bytes += piece.size();
      mine += piece.size();
      ++count;
      int64_t off = Locate(piece, kTotal);
      if (off < 0) {
        unlocated += piece.size();
        continue;
      }
      for (size_t i = 0; i < piece.size(); ++i) overlaps += cover[off + i]++ != 0;
    }
    per.push_back(absl::StrCat(pieces[k].size(), " pieces/", mine, " B"));
  }
  size_t gaps = 0;
  for (uint8_t c : cover) gaps += c == 0;
  s.Log("readers got: %s", absl::StrJoin(per, ", "));
  s.Check(bytes == kTotal,
          absl::StrCat("together they read ", bytes, " bytes (sent ", kTotal, ")"));
  s.Check(overlaps == 0 && gaps == unlocated,
          absl::StrCat(count, " pieces are disjoint and cover the stream (overlapping bytes ",
                       overlaps, ", uncovered ", gaps, ", too short to locate ", unlocated, ")"));
}

void SocketOptions(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: getsockopt through TCPConn::Control after each setter");
  auto expect = [&](absl::string_view what, int got, int want) {
    s.Check(got == want, absl::StrFormat("%s = %d (Go: %d)", what, got, want));
  };
  net::TCPConn& c = *p->c;
  for (auto [side, conn] : {std::pair{"dialed", p->c.get()}, std::pair{"accepted", p->s.get()}}) {
    expect(absl::StrCat(side, " conn: TCP_NODELAY"), IntOpt(s, *conn, IPPROTO_TCP, TCP_NODELAY), 1);
    expect(absl::StrCat(side, " conn: SO_KEEPALIVE"), IntOpt(s, *conn, SOL_SOCKET, SO_KEEPALIVE),
           1);
    expect(absl::StrCat(side, " conn: TCP_KEEPIDLE"), IntOpt(s, *conn, IPPROTO_TCP, TCP_KEEPIDLE),
           15);
    expect(absl::StrCat(side, " conn: TCP_KEEPINTVL"), IntOpt(s, *conn, IPPROTO_TCP, TCP_KEEPINTVL),
           15);
  }
  ExpectErr(s, "SetNoDelay(false)", c.SetNoDelay(false), Ok());
  expect("TCP_NODELAY", IntOpt(s, c, IPPROTO_TCP, TCP_NODELAY), 0);
  ExpectErr(s, "SetKeepAlivePeriod(1.5s)", c.SetKeepAlivePeriod(absl::Milliseconds(1500)), Ok());
  expect("TCP_KEEPIDLE (rounded up to whole seconds)", IntOpt(s, c, IPPROTO_TCP, TCP_KEEPIDLE), 2);
  expect("TCP_KEEPINTVL", IntOpt(s, c, IPPROTO_TCP, TCP_KEEPINTVL), 2);
  ExpectErr(s, "SetKeepAlive(false)", c.SetKeepAlive(false), Ok());
  expect("SO_KEEPALIVE", IntOpt(s, c, SOL_SOCKET, SO_KEEPALIVE), 0);
  ExpectErr(s, "SetKeepAlivePeriod(0)", c.SetKeepAlivePeriod(absl::ZeroDuration()),
            Sys(Op("set", c) + "setsockopt: invalid argument", EINVAL));
  // In this order the values are Go's observed ones: with l_onoff=0 Linux keeps
  // the previous l_linger, so -1 right after 5 would read back {0, 5} in Go too.
  for (int sec : {5, 0, -1}) {
    ExpectErr(s, absl::StrCat("SetLinger(", sec, ")"), c.SetLinger(sec), Ok());
    linger l{-1, -1};
    c.Control([&](int fd) {
       socklen_t len = sizeof(l);
       getsockopt(fd, SOL_SOCKET, SO_LINGER, &l, &len);
     }).IgnoreError();
    s.Check(l.l_onoff == (sec >= 0 ? 1 : 0) && l.l_linger == (sec >= 0 ? sec : 0),
            absl::StrFormat("SO_LINGER = {onoff %d, linger %d} (Go: {%d, %d})", l.l_onoff,
                            l.l_linger, sec >= 0 ? 1 : 0, sec >= 0 ? sec : 0));
  }
  ExpectErr(s, "SetReadBuffer(65536)", c.SetReadBuffer(65536), Ok());
  expect("SO_RCVBUF (Linux doubles it)", IntOpt(s, c, SOL_SOCKET, SO_RCVBUF), 131072);
  ExpectErr(s, "SetWriteBuffer(65536)", c.SetWriteBuffer(65536), Ok());
  expect("SO_SNDBUF (Linux doubles it)", IntOpt(s, c, SOL_SOCKET, SO_SNDBUF), 131072);
  c.Close().IgnoreError();
  bool called = false;
  absl::Status st = c.Control([&](int) { called = true; });
  // Go: rawConn.Control wraps the error in OpError{Op: "raw-control", Addr: laddr}.
  ExpectErr(s, "Control on the closed conn", st,
            Closed("raw-control tcp " + c.LocalAddr().String() + ": "));
  s.Check(!called, "f was not called");
}

void CloseSemantics(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  net::TCPConn& c = *p->c;
  std::string local = c.LocalAddr().String(), remote = c.RemoteAddr().String();
  s.Log("tried: Close, then use the closed conn");
  ExpectErr(s, "Close", c.Close(), Ok());
  char buf[8];
  ExpectIO(s, "Read", c.Read(absl::MakeSpan(buf)), 0, 0, Closed(Op("read", c)));
  ExpectIO(s, "Write", c.Write(Str("x")), 0, 0, Closed(Op("write", c)));
  ExpectErr(s, "Close again", c.Close(), Closed(Op("close", c)));
  ExpectErr(s, "SetDeadline", c.SetDeadline(absl::Now()), Closed("set tcp " + local + ": "));
  ExpectErr(s, "SetNoDelay", c.SetNoDelay(true), Closed(Op("set", c)));
  ExpectErr(s, "CloseWrite", c.CloseWrite(), Closed(Op("close", c)));
  s.Check(c.LocalAddr().String() == local && c.RemoteAddr().String() == remote,
          "LocalAddr/RemoteAddr still read " + local + " / " + remote);

  s.Log("tried: the peer closes; Read, then Write until the kernel reports the RST");
  ConnPtr peer = p->s;
  peer->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  ExpectErr(s,
            "the peer's end (accepted) sees EOF first:", ReadFull(*peer, absl::MakeSpan(buf)).err,
            Eof());
  auto q = MakePair(s);
  if (!q) return;
  q->s->Close().IgnoreError();
  q->c->SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  ExpectIO(s, "Read on a conn whose peer closed", q->c->Read(absl::MakeSpan(buf)), 0, 0, Eof());
  ExpectIO(s, "Write #1 (the peer's kernel answers it with RST)", q->c->Write(Str("hello")), 5, 5,
           Ok());
  IOResult w;
  int extra = 0;
  for (; extra < 50; ++extra) {  // loopback delivers the RST at once; allow for a slow one
    w = q->c->Write(Str("hello"));
    if (!w.err.ok()) break;
    Sleep(absl::Milliseconds(10));
  }
  ExpectIO(s, absl::StrCat("Write #", extra + 2), w, 0, 0,
           Sys(Op("write", *q->c) + "write: broken pipe", EPIPE));
  s.Check(extra == 0, absl::StrCat(extra, " extra Writes succeeded between (Go on loopback: 0)"));

  s.Log("tried: Close a listener twice; Accept on it");
  auto ln = net::Listen("tcp", "127.0.0.1:0");
  if (!s.Require(ln.ok(), "Listen")) return;
  std::string laddr = (*ln)->Address().String();
  ExpectErr(s, "Close", (*ln)->Close(), Ok());
  ExpectErr(s, "Close again", (*ln)->Close(), Closed("close tcp " + laddr + ": "));
  ExpectErr(s, "Accept", (*ln)->Accept().status(), Closed("accept tcp " + laddr + ": "));
}

void CloseUnblocks(Section& s) {
  auto p = MakePair(s);
  if (!p) return;
  s.Log("tried: a fiber blocks in Read (no data, no deadline); another Closes the conn");
  Channel<ReadOut> out(1);
  GoRead(p->c, 64, &out);
  Sleep(absl::Milliseconds(100));
  absl::Time closed = absl::Now();
  ExpectErr(s, "Close", p->c->Close(), Ok());
  ReadOut o = *out.Recv();
  ExpectIO(s, "the blocked Read", o.r, 0, 0, Closed(Op("read", *p->c)));
  Within(s, "from Close to its return", o.at - closed, absl::ZeroDuration(), kPrompt);

  auto q = MakePair(s);
  if (!q) return;
  s.Log("tried: a fiber blocks in Write(64 MiB) (the peer never reads); another Closes");
  GoWrite(q->c, &Big(), &out);
  Sleep(absl::Milliseconds(100));
  closed = absl::Now();
  ExpectErr(s, "Close", q->c->Close(), Ok());
  o = *out.Recv();
  ExpectIO(s, "the blocked Write", o.r, 1, Big().size() - 1, Closed(Op("write", *q->c)));
  Within(s, "from Close to its return", o.at - closed, absl::ZeroDuration(), kPrompt);

  s.Log("tried: a fiber blocks in Accept; another Closes the listener");
  auto ln = net::Listen("tcp", "127.0.0.1:0");
  if (!s.Require(ln.ok(), "Listen")) return;
  std::string laddr = (*ln)->Address().String();
  Channel<std::pair<absl::Status, absl::Time>> acc(1);
  Go([&] {
    auto c = (*ln)->Accept();
    acc.Send({c.status(), absl::Now()});
  });
  Sleep(absl::Milliseconds(100));
  closed = absl::Now();
  ExpectErr(s, "Close", (*ln)->Close(), Ok());
  auto [st, at] = *acc.Recv();
  ExpectErr(s, "the blocked Accept", st, Closed("accept tcp " + laddr + ": "));
  Within(s, "from Close to its return", at - closed, absl::ZeroDuration(), kPrompt);
}

// Whether a path names a socket file (a Unix listener's address).
bool SocketFileExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// access(path)'s errno, 0 if the path exists. Not inlined on purpose: errno is
// thread-local and its address may be computed once per function, while a fiber
// that parked may resume on another thread; a call that never parks reads the
// errno of the thread it runs on.
[[gnu::noinline]] int AccessErrno(const std::string& path) {
  return access(path.c_str(), F_OK) == 0 ? 0 : errno;
}

void UnixSocket(Section& s) {
  // A socket path must fit in sun_path (108 bytes): a short directory under /tmp.
  char dir[] = "/tmp/gonet-tour-XXXXXX";
  if (!s.Require(mkdtemp(dir) != nullptr, "mkdtemp under /tmp")) return;
  const std::string path = absl::StrCat(dir, "/sock");
  s.Log("tried: Listen(\"unix\", \"%s\"), Dial it, echo \"hello\" once", path);
  auto ln = net::Listen("unix", path);
  if (s.Require(ln.ok(), absl::StrCat("Listen: ", ln.status().ToString()))) {
    net::Addr la = (*ln)->Address();
    s.Check(la.Network() == "unix" && la.String() == path,
            absl::StrCat("listener Addr() = ", ShowAddr(la), " (Go: unix/\"", path, "\")"));
    s.Check(SocketFileExists(path), "the socket file exists while listening");
    auto c = net::Dial("unix", path);
    auto a = c.ok() ? (*ln)->Accept() : absl::StatusOr<std::shared_ptr<net::Conn>>(c.status());
    if (s.Require(c.ok() && a.ok(), absl::StrCat("Dial/Accept: ", a.status().ToString()))) {
      net::Conn& dialed = **c;
      net::Conn& accepted = **a;
      // Go: a dialed Unix socket has no name; its address reads "@" (unix.out).
      s.Check(ShowAddr(dialed.LocalAddr()) == "unix/\"@\"" &&
                  dialed.RemoteAddr().String() == path,
              absl::StrCat("dialed conn: local=", ShowAddr(dialed.LocalAddr()),
                           " remote=", ShowAddr(dialed.RemoteAddr()), " (Go: unix/\"@\" and the path)"));
      s.Check(accepted.LocalAddr().String() == path &&
                  ShowAddr(accepted.RemoteAddr()) == "unix/\"@\"",
              absl::StrCat("accepted conn: local=", ShowAddr(accepted.LocalAddr()),
                           " remote=", ShowAddr(accepted.RemoteAddr()), " (Go: the path and unix/\"@\")"));
      dialed.SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
      accepted.SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
      char buf[64];
      ExpectIO(s, "dialed Write(\"hello\")", dialed.Write(Str("hello")), 5, 5, Ok());
      IOResult r = accepted.Read(absl::MakeSpan(buf));
      ExpectIO(s, "accepted Read(64)", r, 5, 5, Ok());
      ExpectIO(s, "accepted Write (the echo)", accepted.Write(absl::MakeConstSpan(buf, r.n)), 5,
               5, Ok());
      r = ReadFull(dialed, absl::MakeSpan(buf, 5));
      ExpectIO(s, "dialed ReadFull(5)", r, 5, 5, Ok());
      s.Check(absl::string_view(buf, r.n) == "hello",
              absl::StrCat("the echo is \"", absl::string_view(buf, r.n), "\""));
      absl::Time t0 = absl::Now();  // before the deadline is computed from it
      dialed.SetReadDeadline(t0 + absl::Milliseconds(100)).IgnoreError();
      r = dialed.Read(absl::MakeSpan(buf));
      absl::Duration took = absl::Now() - t0;
      ExpectIO(s, "dialed Read with a 100ms deadline, nothing sent", r, 0, 0,
               Timeout(Op("read", dialed)));
      Within(s, "it", took, absl::Milliseconds(100), absl::Milliseconds(100) + kSlack);
      ExpectErr(s, "dialed Close", dialed.Close(), Ok());
      ExpectIO(s, "accepted Read after the peer closed", accepted.Read(absl::MakeSpan(buf)), 0, 0,
               Eof());
      ExpectErr(s, "accepted Close", accepted.Close(), Ok());
    }
    ExpectErr(s, "listener Close", (*ln)->Close(), Ok());
    int gone = AccessErrno(path);
    s.Check(gone == ENOENT,
            absl::StrCat("the socket file is gone after Close (access: ",
                         gone == 0 ? "exists" : ErrnoName(gone),
                         "; Go's UnixListener unlinks the file it created)"));
    ExpectErr(s, "Dial the removed path", net::Dial("unix", path).status(),
              Sys("dial unix " + path + ": connect: no such file or directory", ENOENT));
  }
  unlink(path.c_str());  // in case a failed check left it
  rmdir(dir);
}

void UdpScenario(Section& s) {
  auto srv = net::ListenPacket("udp", "127.0.0.1:0");
  if (!s.Require(srv.ok(), absl::StrCat("ListenPacket: ", srv.status().ToString()))) return;
  net::PacketConn& pc = **srv;
  const std::string laddr = pc.LocalAddr().String();
  s.Log("tried: ListenPacket(\"udp\", \"127.0.0.1:0\") -> %s; Dial(\"udp\", \"%s\"); one round "
        "trip",
        ShowAddr(pc.LocalAddr()), laddr);
  auto c = net::Dial("udp", laddr);
  if (!s.Require(c.ok(), absl::StrCat("Dial: ", c.status().ToString()))) return;
  net::Conn& cli = **c;
  s.Check(cli.RemoteAddr() == pc.LocalAddr() && cli.LocalAddr().Network() == "udp",
          absl::StrCat("dialed conn: local=", ShowAddr(cli.LocalAddr()),
                       " remote=", ShowAddr(cli.RemoteAddr())));
  pc.SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  cli.SetReadDeadline(absl::Now() + absl::Seconds(5)).IgnoreError();
  char buf[64];
  ExpectIO(s, "dialed Write(\"ping\")", cli.Write(Str("ping")), 4, 4, Ok());
  net::PacketResult pr = pc.ReadFrom(absl::MakeSpan(buf));
  ExpectIO(s, "ReadFrom(64)", IOResult{pr.n, pr.err}, 4, 4, Ok());
  s.Check(absl::string_view(buf, pr.n) == "ping" && pr.addr == cli.LocalAddr(),
          absl::StrCat("got \"", absl::string_view(buf, pr.n), "\" from=", ShowAddr(pr.addr),
                       ": the sender is the dialed conn's LocalAddr"));
  ExpectIO(s, "WriteTo(\"pong\", the sender)", pc.WriteTo(Str("pong"), pr.addr), 4, 4, Ok());
  IOResult r = cli.Read(absl::MakeSpan(buf));
  ExpectIO(s, "dialed Read(64)", r, 4, 4, Ok());
  s.Check(absl::string_view(buf, r.n) == "pong",
          absl::StrCat("got \"", absl::string_view(buf, r.n), "\""));

  s.Log("tried: ReadFrom with a 200ms read deadline, nothing sent");
  absl::Time t0 = absl::Now();  // before the deadline is computed from it
  pc.SetReadDeadline(t0 + absl::Milliseconds(200)).IgnoreError();
  pr = pc.ReadFrom(absl::MakeSpan(buf));
  absl::Duration took = absl::Now() - t0;
  ExpectIO(s, "ReadFrom", IOResult{pr.n, pr.err}, 0, 0, Timeout("read udp " + laddr + ": "));
  s.Check(pr.addr.IsNil(), absl::StrCat("from=", ShowAddr(pr.addr), " (Go: <nil>)"));
  Within(s, "ReadFrom blocked until the deadline:", took, absl::Milliseconds(200),
         absl::Milliseconds(200) + kSlack);
  t0 = absl::Now();
  cli.SetReadDeadline(t0 + absl::Milliseconds(100)).IgnoreError();
  r = cli.Read(absl::MakeSpan(buf));
  took = absl::Now() - t0;
  ExpectIO(s, "dialed Read with a 100ms deadline", r, 0, 0, Timeout(Op("read", cli)));
  Within(s, "it", took, absl::Milliseconds(100), absl::Milliseconds(100) + kSlack);
  ExpectErr(s, "dialed Close", cli.Close(), Ok());
  ExpectErr(s, "ListenPacket conn Close", pc.Close(), Ok());
  pr = pc.ReadFrom(absl::MakeSpan(buf));
  ExpectIO(s, "ReadFrom after Close", IOResult{pr.n, pr.err}, 0, 0,
           Closed("read udp " + laddr + ": "));
}

// ---------------------------------------------------------------- driver

struct Scenario {
  const char* name;
  void (*run)(Section&);
};

constexpr Scenario kScenarios[] = {
    {"dial refused", DialRefused},
    {"listen backlog full", BacklogFull},
    {"DialTimeout", DialTimeoutScenario},
    {"Read with no data blocks", ReadBlocks},
    {"Read: partial data", PartialData},
    {"Read: enough data (15 B, 10 B buffer)", EnoughData},
    {"Read: peer closes after sending", PeerClosesAfterSending},
    {"Read: peer closes with nothing sent", PeerClosesEmpty},
    {"read deadline", ReadDeadline},
    {"Write succeeds", WriteSucceeds},
    {"Write blocks when the peer does not read", WriteBlocks},
    {"Write: peer goes away mid-write", PeerGoesAwayMidWrite},
    {"write deadline", WriteDeadline},
    {"concurrent writers never interleave", ConcurrentWriters},
    {"concurrent readers get disjoint pieces", ConcurrentReaders},
    {"socket options", SocketOptions},
    {"close", CloseSemantics},
    {"Close unblocks Read, Write, Accept", CloseUnblocks},
    {"Unix socket: echo, addresses, file removed on Close", UnixSocket},
    {"UDP: round trip, ReadFrom's sender, read deadline", UdpScenario},
};

// Runs the scenarios whose name contains `only`, `count` times each.
bool RunTour(const std::string& only, int count) {
  utsname u{};
  uname(&u);
  Big();  // allocate before any timing
  int fds_start = leak_check::CountOpenFds();
  absl::Time start = absl::Now();
  Logf("gonet tour: %zu scenarios, %s %s; expectations: Go 1.19 on Linux", std::size(kScenarios),
       u.sysname, u.release);
  struct Row {
    std::string name;
    bool pass;
    absl::Duration took;
  };
  std::vector<Row> rows;
  int i = 0;
  for (const Scenario& sc : kScenarios) {
    ++i;
    if (absl::string_view(sc.name).find(only) == absl::string_view::npos) continue;
    for (int round = 0; round < count; ++round) {
      Logf("=== [%d/%zu] %s%s", i, std::size(kScenarios), sc.name,
           count > 1 ? absl::StrCat(" (", round + 1, "/", count, ")") : "");
      Section s;
      absl::Time t0 = absl::Now();
      sc.run(s);
      absl::Duration took = absl::Now() - t0;
      rows.push_back({sc.name, !s.failed(), took});
      Logf("--- %s %s (%s)", s.failed() ? "FAIL" : "PASS", sc.name, Dur(took));
    }
  }
  int fds_end = leak_check::CountOpenFds();
  rows.push_back(
      {absl::StrCat("no fd leaks (open fds: ", fds_start, " at start, ", fds_end, " at end)"),
       fds_start == fds_end && fds_start >= 0, absl::ZeroDuration()});
  // Every fiber a scenario started must be done by now (waits up to 2 s for
  // stragglers that were just woken).
  absl::Time fibers_t0 = absl::Now();
  int fibers_left = leak_check::FibersLeftOver();
  rows.push_back({absl::StrCat("no fibers left over (", fibers_left, " besides main)"),
                  fibers_left == 0, absl::Now() - fibers_t0});
  absl::Duration total = absl::Now() - start;
  Logf("=== SUMMARY");
  Logf("  %-3s %-58s %-6s %s", "#", "scenario", "result", "took");
  int passed = 0;
  for (size_t k = 0; k < rows.size(); ++k) {
    passed += rows[k].pass;
    Logf("  %-3d %-58s %-6s %s", k + 1, rows[k].name, rows[k].pass ? "PASS" : "FAIL",
         Dur(rows[k].took));
  }
  bool all = passed == static_cast<int>(rows.size());
  Logf("%d/%zu passed in %s: %s", passed, rows.size(), Dur(total),
       all ? "gonet behaved as Go on Linux in every scenario"
           : "some scenarios did NOT behave as Go");
  return all;
}

}  // namespace
}  // namespace gonet::examples

int main(int argc, char** argv) {
  gonet::ParseFlags(argc, argv, __FILE__,
                    "gonet's net package, scenario by scenario, checked against Go 1.19 on "
                    "Linux;\nexits 0 only if every scenario behaves as Go does.\n"
                    "  tour --only=deadline --count=3 --procs=2");
  const std::string only = absl::GetFlag(FLAGS_only);
  const int count = absl::GetFlag(FLAGS_count);
  const int procs = absl::GetFlag(FLAGS_procs);
  if (count < 1) gonet::FlagError(absl::StrCat("--count must be >= 1, got ", count));
  if (procs < 0) gonet::FlagError(absl::StrCat("--procs must be >= 0, got ", procs));
  bool all = false;
  gonet::Run([&] { all = gonet::examples::RunTour(only, count); },
             {.procs = procs});
  return all ? 0 : 1;
}
