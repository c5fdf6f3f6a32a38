// loadgen: a neutral TCP (or Unix-socket) echo load generator on raw edge-triggered
// epoll. --addr=IPv4:PORT dials TCP (with TCP_NODELAY); --addr=unix:/path dials a
// Unix stream socket at that path.
//
// It does not use gonet (so no server gets home advantage); besides libc and the
// C++ standard library it uses only Abseil flags for its command line, and it
// links fully static so it runs on a machine without toolchains.
//
// Modes (one "round trip" is one message of --size bytes echoed back whole):
//   pingpong   closed loop: every connection keeps exactly --inflight messages
//              outstanding; each message that comes back releases the next one.
//   streaming  open send and receive sides per connection, as in PhotonLibOS's
//              cross-language echo benchmark: the connection writes whenever the
//              socket takes data and reads whenever data arrives; --inflight caps
//              the messages outstanding (default 1024, i.e. 512 KiB at 512 B),
//              which in practice leaves TCP flow control in charge.
//   --idle     opens --conns connections, echoes one message on each (so the
//              server has really accepted and served every one), prints
//              "idle: N connections ready" on stdout and holds them until SIGTERM,
//              SIGINT or EOF on stdin. Used to measure server RSS per connection.
//
// Every byte that comes back is checked: connection c's stream is the global
// pattern buffer read cyclically from an offset that depends on c, and the
// pattern length (a prime) is no multiple of any message size, so a dropped,
// duplicated, reordered or cross-wired byte is caught. Any mismatch, EOF,
// connection error, connect timeout or a stall (no message completes for
// --stall_s seconds) ends the run with exit status 1 and a message on stderr.
//
// Latency is measured per message, from the moment it is queued for sending to
// the moment its last byte is read, into a log-bucketed histogram with 128
// sub-buckets per power of two (error under 0.8%). Only messages that complete
// inside the timed window (after --warmup_s, for --duration_s) are counted.
//
// When --stat_cpus is given, the busy and total jiffies of those CPUs
// (/proc/stat) are read at the start and the end of the timed window; with
// --server_pid the server process's utime+stime (/proc/PID/stat) likewise. The
// JSON carries both, so a driver can compute server CPU time per round trip.
//
// Threads: --threads T splits the connections round-robin over T threads, each
// with its own epoll instance and histogram.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "third_party/flags_main.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7000",
          "server address: IPv4:PORT (TCP) or unix:/path (a Unix stream socket)");
ABSL_FLAG(std::string, mode, "pingpong", "pingpong (closed loop) or streaming");
ABSL_FLAG(int, conns, 1, "connections, >= 1");
ABSL_FLAG(int, size, 64, "message size, bytes, in [1, 65536]");
ABSL_FLAG(int, inflight, -1,
          "messages outstanding per connection, >= 1; -1: 1 for pingpong, 1024 for streaming");
ABSL_FLAG(double, warmup_s, 1, "warm-up before the timed window, seconds");
ABSL_FLAG(double, duration_s, 5, "timed window, seconds, > 0 (unless --idle)");
ABSL_FLAG(std::string, json, "", "write the report as JSON to this path");
ABSL_FLAG(double, connect_timeout_s, 10, "connecting all connections may take this long, seconds");
ABSL_FLAG(double, stall_s, 5, "fail if no message completes for this long, seconds");
ABSL_FLAG(int, threads, 1, "threads (connections go round-robin over them), >= 1");
ABSL_FLAG(bool, idle, false,
          "open --conns connections, echo once on each, print \"idle: N connections ready\" "
          "and hold them until SIGTERM, SIGINT or EOF on stdin");
ABSL_FLAG(std::string, stat_cpus, "",
          "CPUs whose /proc/stat jiffies the report carries, e.g. 0 or 0-7");
ABSL_FLAG(int, server_pid, 0, "server process whose CPU ticks the report carries");
ABSL_FLAG(bool, quiet, false, "no progress lines on stderr");

namespace {

// ---------------------------------------------------------------- utilities

[[noreturn]] void Fail(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("loadgen: FAIL: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::fflush(stderr);
  _exit(1);  // Other threads may be mid-syscall; no clean unwinding needed.
}

int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// ---------------------------------------------------------------- flags

// The flags' values (see the ABSL_FLAGs above), checked.
struct Flags {
  std::string addr;
  int conns;
  int size;
  int inflight;  // -1 on the command line is resolved: 1 for pingpong, 1024 for streaming.
  std::string mode;
  double warmup_s;
  double duration_s;
  std::string json;
  double connect_timeout_s;
  double stall_s;
  int threads;
  bool idle;
  std::string stat_cpus;  // e.g. "0" or "0-7"
  int server_pid;
  bool quiet;
};

Flags ReadFlags(int argc, char** argv) {
  gonet::ParseFlags(argc, argv, __FILE__,
                    "a neutral TCP or Unix-socket echo load generator (raw epoll; every echoed "
                    "byte is\nchecked).\n"
                    "  loadgen --addr=127.0.0.1:7000 --mode=pingpong --conns=64 --size=512 "
                    "--duration_s=5 --json=out.json");
  Flags f;
  f.addr = absl::GetFlag(FLAGS_addr);
  f.conns = absl::GetFlag(FLAGS_conns);
  f.size = absl::GetFlag(FLAGS_size);
  f.inflight = absl::GetFlag(FLAGS_inflight);
  f.mode = absl::GetFlag(FLAGS_mode);
  f.warmup_s = absl::GetFlag(FLAGS_warmup_s);
  f.duration_s = absl::GetFlag(FLAGS_duration_s);
  f.json = absl::GetFlag(FLAGS_json);
  f.connect_timeout_s = absl::GetFlag(FLAGS_connect_timeout_s);
  f.stall_s = absl::GetFlag(FLAGS_stall_s);
  f.threads = absl::GetFlag(FLAGS_threads);
  f.idle = absl::GetFlag(FLAGS_idle);
  f.stat_cpus = absl::GetFlag(FLAGS_stat_cpus);
  f.server_pid = absl::GetFlag(FLAGS_server_pid);
  f.quiet = absl::GetFlag(FLAGS_quiet);
  using gonet::FlagError;
  if (f.mode != "pingpong" && f.mode != "streaming") {
    FlagError(absl::StrCat("--mode must be pingpong or streaming, got '", f.mode, "'"));
  }
  if (f.conns < 1) FlagError(absl::StrCat("--conns must be >= 1, got ", f.conns));
  if (f.size < 1 || f.size > 65536) {
    FlagError(absl::StrCat("--size must be in [1, 65536], got ", f.size));
  }
  if (f.inflight == -1) f.inflight = f.mode == "pingpong" ? 1 : 1024;
  if (f.inflight < 1) FlagError(absl::StrCat("--inflight must be >= 1, got ", f.inflight));
  if (f.threads < 1) FlagError(absl::StrCat("--threads must be >= 1, got ", f.threads));
  if (f.threads > f.conns) f.threads = f.conns;
  if (f.warmup_s < 0) FlagError(absl::StrCat("--warmup_s must be >= 0, got ", f.warmup_s));
  if (f.duration_s <= 0 && !f.idle) {
    FlagError(absl::StrCat("--duration_s must be > 0, got ", f.duration_s));
  }
  if (f.connect_timeout_s <= 0) {
    FlagError(absl::StrCat("--connect_timeout_s must be > 0, got ", f.connect_timeout_s));
  }
  if (f.stall_s <= 0) FlagError(absl::StrCat("--stall_s must be > 0, got ", f.stall_s));
  if (f.server_pid < 0) FlagError(absl::StrCat("--server_pid must be >= 0, got ", f.server_pid));
  return f;
}

// ---------------------------------------------------------------- pattern

// The payload pattern: kPatternLen pseudo-random bytes, stored twice in a row so
// any window of up to kPatternLen bytes starting anywhere in the first copy is
// contiguous. kPatternLen is prime, so no message size divides it.
constexpr size_t kPatternLen = 1048573;  // largest prime below 2^20
std::vector<uint8_t>* g_pattern;

void InitPattern() {
  g_pattern = new std::vector<uint8_t>(2 * kPatternLen);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < kPatternLen; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (*g_pattern)[i] = (*g_pattern)[i + kPatternLen] = static_cast<uint8_t>(x >> 24);
  }
}

// ---------------------------------------------------------------- histogram

// HDR-like histogram of nanosecond values: values below 2^kSubBits are exact;
// above, each power of two [2^e, 2^(e+1)) is split into 2^kSubBits equal
// buckets, so a bucket is at most 1/128 of its value wide.
class Histogram {
 public:
  static constexpr int kSubBits = 7;
  static constexpr int kSub = 1 << kSubBits;
  static constexpr int kMaxExp = 44;  // ~4.9 hours in ns; larger values clamp.

  Histogram() : counts_((kMaxExp - kSubBits + 2) * kSub, 0) {}

  void Record(int64_t v) {
    if (v < 0) v = 0;
    ++counts_[Index(static_cast<uint64_t>(v))];
    ++total_;
    sum_ += static_cast<double>(v);
    if (v > max_) max_ = v;
  }

  void Merge(const Histogram& o) {
    for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    sum_ += o.sum_;
    max_ = std::max(max_, o.max_);
  }

  // The value at quantile q (0..1), as the midpoint of its bucket.
  int64_t Quantile(double q) const {
    if (total_ == 0) return 0;
    uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen > rank) return std::min<int64_t>(Midpoint(i), max_);
    }
    return max_;
  }

  uint64_t total() const { return total_; }
  int64_t max() const { return max_; }
  double mean() const { return total_ ? sum_ / static_cast<double>(total_) : 0; }

 private:
  static size_t Index(uint64_t v) {
    if (v < static_cast<uint64_t>(kSub)) return static_cast<size_t>(v);
    int e = 63 - __builtin_clzll(v);  // 2^e <= v < 2^(e+1), e >= kSubBits
    if (e > kMaxExp) return (kMaxExp - kSubBits + 2) * kSub - 1;
    uint64_t sub = (v >> (e - kSubBits)) & (kSub - 1);
    return static_cast<size_t>((e - kSubBits + 1) * kSub + sub);
  }
  static int64_t Midpoint(size_t i) {
    if (i < static_cast<size_t>(kSub)) return static_cast<int64_t>(i);
    int e = static_cast<int>(i / kSub) + kSubBits - 1;
    uint64_t sub = i % kSub;
    uint64_t width = uint64_t{1} << (e - kSubBits);
    uint64_t lo = (uint64_t{1} << e) + sub * width;
    return static_cast<int64_t>(lo + width / 2);
  }

  std::vector<uint64_t> counts_;
  uint64_t total_ = 0;
  double sum_ = 0;
  int64_t max_ = 0;
};

// ---------------------------------------------------------------- /proc

struct CpuStat {
  uint64_t busy = 0, total = 0;
};

// Sums busy (all but idle and iowait) and total jiffies over the CPUs in `list`
// ("0", "0-7", "0,2,4-5").
CpuStat ReadCpuStat(const std::string& list) {
  std::vector<bool> want(4096, false);
  size_t pos = 0;
  while (pos < list.size()) {
    size_t comma = list.find(',', pos);
    std::string part = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    int lo = 0, hi = 0;
    if (std::sscanf(part.c_str(), "%d-%d", &lo, &hi) == 2) {
    } else if (std::sscanf(part.c_str(), "%d", &lo) == 1) {
      hi = lo;
    } else {
      Fail("bad --stat_cpus '%s'", list.c_str());
    }
    for (int c = lo; c <= hi && c < 4096; ++c) want[c] = true;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  FILE* f = std::fopen("/proc/stat", "r");
  if (!f) Fail("open /proc/stat: %s", std::strerror(errno));
  CpuStat s;
  char line[512];
  while (std::fgets(line, sizeof line, f)) {
    int cpu;
    unsigned long long v[10] = {};
    int n = std::sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &cpu,
                        &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    if (n < 8 || cpu < 0 || cpu >= 4096 || !want[cpu]) continue;
    // user nice system idle iowait irq softirq steal [guest guest_nice]; guest
    // time is already included in user, so it is not added again.
    uint64_t total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    s.total += total;
    s.busy += total - v[3] - v[4];
  }
  std::fclose(f);
  return s;
}

// utime + stime of a process (all its threads), in clock ticks; -1 if unreadable.
int64_t ReadProcTicks(int pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE* f = std::fopen(path, "r");
  if (!f) return -1;
  char buf[2048];
  size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = '\0';
  // The command name may hold spaces; fields resume after the last ')'.
  char* p = std::strrchr(buf, ')');
  if (!p) return -1;
  unsigned long long utime = 0, stime = 0;
  // Fields after ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
  // majflt cmajflt utime(14) stime(15).
  if (std::sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
                  &stime) != 2)
    return -1;
  return static_cast<int64_t>(utime + stime);
}

// ---------------------------------------------------------------- connections

struct Conn {
  int fd = -1;
  int id = 0;
  size_t base = 0;           // offset of this connection's stream in the pattern
  uint64_t queued = 0;       // bytes handed to the send side so far
  uint64_t sent = 0;         // bytes written to the socket so far
  uint64_t received = 0;     // bytes read back (and verified) so far
  uint64_t msgs_queued = 0;  // messages queued so far
  uint64_t msgs_done = 0;    // messages fully echoed so far
  std::vector<int64_t> sent_at;  // ring of queue times, indexed by msg % inflight
  bool writable = true;      // false after EAGAIN until EPOLLOUT
  bool connected = false;
};

enum Phase : int { kWarmup = 0, kMeasure = 1, kDone = 2 };

struct Shared {
  const Flags* flags;
  sockaddr_storage addr;  // AF_INET or AF_UNIX
  socklen_t addr_len;
  std::atomic<int> phase{kWarmup};
  std::atomic<int> threads_connected{0};
  std::atomic<bool> start{false};
  std::atomic<bool> stop_idle{false};
};

struct Worker {
  Shared* shared;
  std::vector<std::unique_ptr<Conn>> conns;
  Histogram hist;
  std::atomic<uint64_t> done_total{0};   // messages completed, all phases (progress)
  uint64_t done_measured = 0;            // messages completed inside the window
  uint64_t bytes_measured = 0;
  int ep = -1;
};

void SetNonblockNodelay(int fd, int family) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) Fail("fcntl: %s", std::strerror(errno));
  if (family != AF_INET) return;  // Unix sockets have no Nagle
  int one = 1;
  if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
    Fail("setsockopt TCP_NODELAY: %s", std::strerror(errno));
}

// Connects all of w's connections, at most kMaxPending handshakes at a time so
// that a large --conns does not overflow the server's accept backlog. A Unix
// socket's connect completes at once or fails with EAGAIN (backlog full); the
// connection is then retried on the next pass.
void ConnectAll(Worker& w) {
  const Flags& f = *w.shared->flags;
  constexpr size_t kMaxPending = 256;
  const int64_t deadline = NowNs() + static_cast<int64_t>(f.connect_timeout_s * 1e9);
  size_t next = 0, pending = 0, done = 0;
  std::vector<epoll_event> evs(512);
  while (done < w.conns.size()) {
    while (next < w.conns.size() && pending < kMaxPending) {
      Conn& c = *w.conns[next];
      const int family = w.shared->addr.ss_family;
      c.fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (c.fd < 0) Fail("socket (conn %d): %s", c.id, std::strerror(errno));
      SetNonblockNodelay(c.fd, family);
      int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&w.shared->addr),
                       w.shared->addr_len);
      if (rc < 0 && errno == EAGAIN && family == AF_UNIX) {  // backlog full: retry later
        close(c.fd);
        c.fd = -1;
        break;
      }
      if (rc < 0 && errno != EINPROGRESS)
        Fail("connect (conn %d) to %s: %s", c.id, f.addr.c_str(), std::strerror(errno));
      ++next;
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.ptr = &c;
      if (epoll_ctl(w.ep, EPOLL_CTL_ADD, c.fd, &ev) < 0)
        Fail("epoll_ctl: %s", std::strerror(errno));
      ++pending;
    }
    int64_t left_ms = (deadline - NowNs()) / 1000000;
    if (left_ms <= 0)
      Fail("connect timeout: %zu of %zu connections established after %.1f s", done,
           w.conns.size(), f.connect_timeout_s);
    int n = epoll_wait(w.ep, evs.data(), static_cast<int>(evs.size()),
                       static_cast<int>(std::min<int64_t>(left_ms, 100)));
    if (n < 0 && errno != EINTR) Fail("epoll_wait: %s", std::strerror(errno));
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(evs[i].data.ptr);
      if (c.connected) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) Fail("connect (conn %d) to %s: %s", c.id, f.addr.c_str(), std::strerror(err));
      if (evs[i].events & (EPOLLOUT | EPOLLIN)) {
        c.connected = true;
        --pending;
        ++done;
      }
    }
  }
}

// Queues `n` new messages on c, stamping them with `now`.
inline void Queue(Conn& c, int size, int inflight, uint64_t n, int64_t now) {
  for (uint64_t i = 0; i < n; ++i) c.sent_at[(c.msgs_queued + i) % inflight] = now;
  c.msgs_queued += n;
  c.queued += n * static_cast<uint64_t>(size);
}

// Writes queued bytes until done or EAGAIN.
void Flush(Conn& c) {
  while (c.writable && c.sent < c.queued) {
    size_t off = (c.base + c.sent) % kPatternLen;
    size_t len = static_cast<size_t>(std::min<uint64_t>(c.queued - c.sent, kPatternLen));
    ssize_t n = write(c.fd, g_pattern->data() + off, len);
    if (n > 0) {
      c.sent += static_cast<uint64_t>(n);
    } else if (n < 0 && errno == EAGAIN) {
      c.writable = false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      Fail("write (conn %d): %s", c.id, n == 0 ? "wrote 0 bytes" : std::strerror(errno));
    }
  }
}

// Reads until EAGAIN, verifies every byte, completes messages. Returns the
// number of messages completed.
uint64_t Drain(Worker& w, Conn& c, std::vector<uint8_t>& buf, bool measuring) {
  const Flags& f = *w.shared->flags;
  const uint64_t size = static_cast<uint64_t>(f.size);
  uint64_t completed = 0;
  for (;;) {
    ssize_t n = read(c.fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EAGAIN) break;
      if (errno == EINTR) continue;
      Fail("read (conn %d): %s (after %" PRIu64 " bytes echoed)", c.id, std::strerror(errno),
           c.received);
    }
    if (n == 0)
      Fail("conn %d: server closed the connection after %" PRIu64 " bytes echoed", c.id,
           c.received);
    if (c.received + static_cast<uint64_t>(n) > c.sent)
      Fail("conn %d: received %" PRIu64 " bytes but only %" PRIu64 " were sent", c.id,
           c.received + static_cast<uint64_t>(n), c.sent);
    size_t off = (c.base + c.received) % kPatternLen;
    if (std::memcmp(buf.data(), g_pattern->data() + off, static_cast<size_t>(n)) != 0) {
      size_t i = 0;
      while (buf[i] == (*g_pattern)[off + i]) ++i;
      Fail("conn %d: echoed byte %" PRIu64 " is 0x%02x, expected 0x%02x", c.id,
           c.received + i, buf[i], (*g_pattern)[off + i]);
    }
    c.received += static_cast<uint64_t>(n);
    uint64_t now_done = c.received / size;
    if (now_done > c.msgs_done) {
      int64_t now = NowNs();
      for (uint64_t m = c.msgs_done; m < now_done; ++m) {
        if (measuring) w.hist.Record(now - c.sent_at[m % c.sent_at.size()]);
      }
      completed += now_done - c.msgs_done;
      c.msgs_done = now_done;
    }
    if (static_cast<size_t>(n) < buf.size()) break;  // short read: socket is empty
  }
  return completed;
}

void RunWorker(Worker* wp) {
  Worker& w = *wp;
  Shared& sh = *w.shared;
  const Flags& f = *sh.flags;
  w.ep = epoll_create1(EPOLL_CLOEXEC);
  if (w.ep < 0) Fail("epoll_create1: %s", std::strerror(errno));
  ConnectAll(w);
  sh.threads_connected.fetch_add(1);
  while (!sh.start.load()) std::this_thread::yield();

  const bool streaming = f.mode == "streaming";
  const uint64_t inflight = static_cast<uint64_t>(f.idle ? 1 : f.inflight);
  const int64_t t0 = NowNs();
  for (auto& cp : w.conns) {
    Conn& c = *cp;
    c.sent_at.assign(inflight, 0);
    Queue(c, f.size, static_cast<int>(inflight), inflight, t0);
    Flush(c);
  }
  std::vector<uint8_t> buf(std::max<size_t>(65536, static_cast<size_t>(f.size)));
  std::vector<epoll_event> evs(1024);
  size_t idle_done = 0;
  for (;;) {
    int phase = sh.phase.load(std::memory_order_relaxed);
    if (phase == kDone) break;
    if (f.idle && idle_done == w.conns.size()) break;
    int n = epoll_wait(w.ep, evs.data(), static_cast<int>(evs.size()), 50);
    if (n < 0) {
      if (errno == EINTR) continue;
      Fail("epoll_wait: %s", std::strerror(errno));
    }
    phase = sh.phase.load(std::memory_order_relaxed);
    const bool measuring = phase == kMeasure;
    for (int i = 0; i < n; ++i) {
      Conn& c = *static_cast<Conn*>(evs[i].data.ptr);
      uint32_t e = evs[i].events;
      if (e & EPOLLERR) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        Fail("conn %d: socket error: %s", c.id, std::strerror(err ? err : EIO));
      }
      if (e & EPOLLOUT) c.writable = true;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
        uint64_t done = Drain(w, c, buf, measuring);
        if (done) {
          w.done_total.fetch_add(done, std::memory_order_relaxed);
          if (measuring) {
            w.done_measured += done;
            w.bytes_measured += done * static_cast<uint64_t>(f.size);
          }
          if (f.idle) {
            if (c.msgs_done == 1) ++idle_done;
          } else if (!streaming) {
            Queue(c, f.size, static_cast<int>(inflight), done, NowNs());
          }
        }
      }
      if (streaming) {
        uint64_t outstanding = c.msgs_queued - c.msgs_done;
        if (outstanding < inflight) Queue(c, f.size, static_cast<int>(inflight),
                                          inflight - outstanding, NowNs());
      }
      Flush(c);
    }
  }
}

volatile sig_atomic_t g_signalled = 0;
void OnSignal(int) { g_signalled = 1; }

void RaiseNofile(size_t need) {
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
    Fail("need %zu file descriptors but RLIMIT_NOFILE is %llu (raise the hard limit)", need,
         static_cast<unsigned long long>(rl.rlim_cur));
}

}  // namespace

int main(int argc, char** argv) {
  Flags f = ReadFlags(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  RaiseNofile(static_cast<size_t>(f.conns) + 64);

  Shared sh;
  sh.flags = &f;
  std::memset(&sh.addr, 0, sizeof sh.addr);
  if (f.addr.rfind("unix:", 0) == 0) {
    const std::string path = f.addr.substr(5);
    sockaddr_un* un = reinterpret_cast<sockaddr_un*>(&sh.addr);
    if (path.empty() || path.size() >= sizeof un->sun_path)
      Fail("--addr=unix:PATH needs a path of 1 to %zu bytes, got '%s'",
           sizeof un->sun_path - 1, path.c_str());
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    sh.addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  } else {
    std::string host = f.addr, port;
    size_t colon = f.addr.rfind(':');
    if (colon == std::string::npos)
      Fail("--addr must be IPv4:PORT or unix:PATH, got '%s'", f.addr.c_str());
    host = f.addr.substr(0, colon);
    port = f.addr.substr(colon + 1);
    sockaddr_in* in = reinterpret_cast<sockaddr_in*>(&sh.addr);
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(std::atoi(port.c_str())));
    if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1)
      Fail("--addr must be IPv4:PORT or unix:PATH, got '%s'", f.addr.c_str());
    sh.addr_len = sizeof(sockaddr_in);
  }
  InitPattern();

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < f.threads; ++t) {
    workers.push_back(std::make_unique<Worker>());
    workers.back()->shared = &sh;
  }
  for (int i = 0; i < f.conns; ++i) {
    auto c = std::make_unique<Conn>();
    c->id = i;
    c->base = (static_cast<size_t>(i) * 7919u * 131u) % kPatternLen;
    workers[static_cast<size_t>(i % f.threads)]->conns.push_back(std::move(c));
  }

  const int64_t connect_start = NowNs();
  std::vector<std::thread> threads;
  for (auto& w : workers) threads.emplace_back(RunWorker, w.get());
  while (sh.threads_connected.load() < f.threads) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
  }
  const double connect_s = static_cast<double>(NowNs() - connect_start) / 1e9;
  if (!f.quiet)
    std::fprintf(stderr, "loadgen: %d connections to %s established in %.2f s\n", f.conns,
                 f.addr.c_str(), connect_s);
  sh.start.store(true);

  auto total_done = [&] {
    uint64_t s = 0;
    for (auto& w : workers) s += w->done_total.load(std::memory_order_relaxed);
    return s;
  };
  const int64_t stall_ns = static_cast<int64_t>(f.stall_s * 1e9);

  if (f.idle) {
    // Wait for every connection's single echo, then hold.
    int64_t last_progress = NowNs();
    uint64_t last = 0;
    while (total_done() < static_cast<uint64_t>(f.conns)) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, nullptr);
      uint64_t d = total_done();
      if (d != last) {
        last = d;
        last_progress = NowNs();
      } else if (NowNs() - last_progress > stall_ns) {
        Fail("idle: only %" PRIu64 " of %d connections echoed within %.1f s", d, f.conns,
             f.stall_s);
      }
    }
    for (auto& t : threads) t.join();
    signal(SIGTERM, OnSignal);
    signal(SIGINT, OnSignal);
    std::printf("idle: %d connections ready\n", f.conns);
    std::fflush(stdout);
    pollfd pfd{0, POLLIN, 0};
    while (!g_signalled) {
      int rc = poll(&pfd, 1, 200);
      if (rc > 0) {
        char c;
        ssize_t n = read(0, &c, 1);
        if (n <= 0) break;  // stdin closed
      }
    }
    std::fprintf(stderr, "loadgen: idle: releasing %d connections\n", f.conns);
    return 0;
  }

  // Warm-up, then the timed window, with progress on stderr.
  const int64_t start = NowNs();
  const int64_t warm_end = start + static_cast<int64_t>(f.warmup_s * 1e9);
  const int64_t end = warm_end + static_cast<int64_t>(f.duration_s * 1e9);
  int64_t last_progress_at = start, next_report = start + 1000000000;
  uint64_t last_done = 0, last_report_done = 0;
  bool measuring = false;
  CpuStat cpu0{}, cpu1{};
  int64_t proc0 = -1, proc1 = -1;
  int64_t t_measure0 = 0, t_measure1 = 0;
  for (;;) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, nullptr);
    int64_t now = NowNs();
    uint64_t d = total_done();
    if (d != last_done) {
      last_done = d;
      last_progress_at = now;
    } else if (now - last_progress_at > stall_ns) {
      Fail("no progress for %.1f s (%" PRIu64 " round trips so far)", f.stall_s, d);
    }
    if (!measuring && now >= warm_end) {
      if (!f.stat_cpus.empty()) cpu0 = ReadCpuStat(f.stat_cpus);
      if (f.server_pid > 0) proc0 = ReadProcTicks(f.server_pid);
      t_measure0 = NowNs();
      sh.phase.store(kMeasure);
      measuring = true;
    }
    if (measuring && now >= end) {
      sh.phase.store(kDone);
      t_measure1 = NowNs();
      if (!f.stat_cpus.empty()) cpu1 = ReadCpuStat(f.stat_cpus);
      if (f.server_pid > 0) proc1 = ReadProcTicks(f.server_pid);
      break;
    }
    if (now >= next_report) {
      if (!f.quiet)
        std::fprintf(stderr, "loadgen: %s t=%.0fs %.0f round trips/s\n",
                     measuring ? "measure" : "warmup",
                     static_cast<double>(now - start) / 1e9,
                     static_cast<double>(d - last_report_done) * 1e9 /
                         static_cast<double>(now - next_report + 1000000000));
      last_report_done = d;
      next_report = now + 1000000000;
    }
  }
  for (auto& t : threads) t.join();

  Histogram hist;
  uint64_t rts = 0, bytes = 0;
  for (auto& w : workers) {
    hist.Merge(w->hist);
    rts += w->done_measured;
    bytes += w->bytes_measured;
  }
  const double elapsed = static_cast<double>(t_measure1 - t_measure0) / 1e9;
  if (rts == 0) Fail("zero round trips in the %.1f s timed window", elapsed);
  const double rate = static_cast<double>(rts) / elapsed;
  const long hz = sysconf(_SC_CLK_TCK);

  std::string json;
  char tmp[1024];
  std::snprintf(tmp, sizeof tmp,
                "{\n  \"mode\": \"%s\",\n  \"addr\": \"%s\",\n  \"conns\": %d,\n  \"size\": %d,\n"
                "  \"inflight\": %d,\n  \"threads\": %d,\n  \"warmup_s\": %.3f,\n"
                "  \"duration_s\": %.3f,\n  \"elapsed_s\": %.6f,\n  \"connect_s\": %.3f,\n"
                "  \"round_trips\": %" PRIu64 ",\n  \"round_trips_per_s\": %.1f,\n"
                "  \"bytes_per_s\": %.1f,\n",
                f.mode.c_str(), f.addr.c_str(), f.conns, f.size, f.inflight, f.threads,
                f.warmup_s, f.duration_s, elapsed, connect_s, rts, rate,
                static_cast<double>(bytes) / elapsed);
  json += tmp;
  std::snprintf(tmp, sizeof tmp,
                "  \"latency_ns\": {\"p50\": %" PRId64 ", \"p90\": %" PRId64 ", \"p99\": %" PRId64
                ", \"p999\": %" PRId64 ", \"max\": %" PRId64 ", \"mean\": %.1f, \"count\": %" PRIu64
                "},\n",
                hist.Quantile(0.50), hist.Quantile(0.90), hist.Quantile(0.99),
                hist.Quantile(0.999), hist.max(), hist.mean(), hist.total());
  json += tmp;
  std::snprintf(tmp, sizeof tmp, "  \"clk_tck\": %ld,\n", hz);
  json += tmp;
  if (!f.stat_cpus.empty()) {
    std::snprintf(tmp, sizeof tmp,
                  "  \"stat_cpus\": {\"cpus\": \"%s\", \"busy_jiffies\": %" PRIu64
                  ", \"total_jiffies\": %" PRIu64 "},\n",
                  f.stat_cpus.c_str(), cpu1.busy - cpu0.busy, cpu1.total - cpu0.total);
    json += tmp;
  }
  if (f.server_pid > 0) {
    std::snprintf(tmp, sizeof tmp,
                  "  \"server_proc\": {\"pid\": %d, \"cpu_ticks\": %" PRId64 "},\n", f.server_pid,
                  (proc0 >= 0 && proc1 >= 0) ? proc1 - proc0 : int64_t{-1});
    json += tmp;
  }
  json += "  \"ok\": true\n}\n";

  if (!f.quiet)
    std::fprintf(stderr,
                 "loadgen: %s conns=%d size=%d inflight=%d: %.0f round trips/s, p50 %.1f us, "
                 "p99 %.1f us, p999 %.1f us\n",
                 f.mode.c_str(), f.conns, f.size, f.inflight, rate, hist.Quantile(0.5) / 1e3,
                 hist.Quantile(0.99) / 1e3, hist.Quantile(0.999) / 1e3);
  if (!f.json.empty()) {
    FILE* out = std::fopen(f.json.c_str(), "w");
    if (!out) Fail("open %s: %s", f.json.c_str(), std::strerror(errno));
    std::fputs(json.c_str(), out);
    if (std::fclose(out) != 0) Fail("write %s: %s", f.json.c_str(), std::strerror(errno));
  } else {
    std::fputs(json.c_str(), stdout);
  }
  return 0;
}
