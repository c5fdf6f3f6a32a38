// echo_server: a TCP echo server written the way a Go user writes one: one
// fiber per connection that Reads into a buffer and Writes back what it read.
// The gonet side of benchmarks/echo (run.py starts it with --addr and --procs
// and waits for the "listening on ADDR" line on stdout).
//
//   echo_server --addr=127.0.0.1:9000 --procs=1 --buf=4096
//   echo_server --addr=unix:/tmp/echo.sock    # net::Listen("unix", path) instead
//
// A Unix socket's file is removed when the listener closes (at shutdown), as Go's
// UnixListener does; Listen fails if the path already exists.
//
// Runs until SIGTERM or SIGINT, then prints its totals and exits 0.
// Shutdown: the signals are blocked in every thread and a plain thread waits
// for them with sigwait(); it then closes the listener (Listener::Close works
// from any thread), which makes the accept loop return; the main fiber closes
// the open connections, waits for their fibers and returns from gonet::Run.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/net.h"
#include "third_party/flags_main.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:9000",
          "listen address: host:port (TCP; port 0 picks one) or unix:/path (a Unix socket)");
ABSL_FLAG(int64_t, procs, 1, "worker threads (GOMAXPROCS), >= 1");
ABSL_FLAG(int64_t, buf, 4096, "per-connection read buffer, bytes, >= 1");

namespace gonet::examples {
namespace {

// State shared with the signal thread.
struct Shutdown {
  absl::Mutex mu;
  bool requested ABSL_GUARDED_BY(mu) = false;
  int signal ABSL_GUARDED_BY(mu) = 0;
  std::shared_ptr<net::Listener> listener ABSL_GUARDED_BY(mu);  // set once listening
};

// The open connections, so that shutdown can close them (which ends their
// fibers). Touched once per connection, never per message.
class ConnSet {
 public:
  uint64_t Add(std::shared_ptr<net::Conn> c) {
    fiber::MutexLock l(&mu_);
    conns_[next_] = std::move(c);
    return next_++;
  }
  void Remove(uint64_t id) {
    fiber::MutexLock l(&mu_);
    conns_.erase(id);
  }
  void CloseAll() {
    fiber::MutexLock l(&mu_);
    for (auto& [id, c] : conns_) c->Close().IgnoreError();
  }

 private:
  fiber::Mutex mu_;
  uint64_t next_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint64_t, std::shared_ptr<net::Conn>> conns_ ABSL_GUARDED_BY(mu_);
};

struct Totals {
  std::atomic<uint64_t> conns{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> errors{0};  // conns that ended with an error other than EOF/closed
};

void Serve(std::shared_ptr<net::Conn> c, size_t buf_size, Totals* totals) {
  std::unique_ptr<char[]> buf(new char[buf_size]);
  uint64_t echoed = 0;
  for (;;) {
    net::IOResult r = c->Read(absl::MakeSpan(buf.get(), buf_size));
    if (r.n > 0) {
      net::IOResult w = c->Write(absl::MakeConstSpan(buf.get(), r.n));
      echoed += w.n;
      if (!w.err.ok()) {
        if (!net::IsClosed(w.err)) totals->errors.fetch_add(1, std::memory_order_relaxed);
        break;
      }
    }
    if (!r.err.ok()) {
      if (!net::IsEOF(r.err) && !net::IsClosed(r.err)) {
        totals->errors.fetch_add(1, std::memory_order_relaxed);
      }
      break;
    }
  }
  c->Close().IgnoreError();
  totals->bytes.fetch_add(echoed, std::memory_order_relaxed);
}

int Main(int argc, char** argv) {
  ParseFlags(argc, argv, __FILE__,
             "a gonet TCP (or Unix-socket) echo server, one fiber per connection; prints\n"
             "\"listening on ADDR\" and runs until SIGTERM or SIGINT.\n"
             "  echo_server --addr=127.0.0.1:9000 --procs=1 --buf=4096\n"
             "  echo_server --addr=unix:/tmp/echo.sock");
  const std::string flag_addr = absl::GetFlag(FLAGS_addr);
  // "unix:/path" -> Listen("unix", "/path"); anything else is a TCP host:port.
  const bool is_unix = absl::StartsWith(flag_addr, "unix:");
  const std::string network = is_unix ? "unix" : "tcp";
  const std::string addr = is_unix ? flag_addr.substr(5) : flag_addr;
  const int64_t procs = absl::GetFlag(FLAGS_procs);
  const int64_t buf_size = absl::GetFlag(FLAGS_buf);
  if (procs < 1) FlagError(absl::StrCat("--procs must be >= 1, got ", procs));
  if (buf_size < 1) FlagError(absl::StrCat("--buf must be >= 1, got ", buf_size));

  // Block the signals before any thread starts, so that every thread (gonet's
  // workers too) inherits the mask and only sigwait() sees them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  Shutdown shutdown;
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    std::shared_ptr<net::Listener> ln;
    {
      absl::MutexLock l(&shutdown.mu);
      shutdown.requested = true;
      shutdown.signal = sig;
      ln = shutdown.listener;
    }
    if (ln) ln->Close().IgnoreError();
  });

  Totals totals;
  int rc = 0;
  absl::Time start = absl::Now();
  gonet::Run(
      [&] {
        auto ln = net::Listen(network, addr);
        if (!ln.ok()) {
          std::fprintf(stderr, "echo_server: %s\n", std::string(ln.status().message()).c_str());
          rc = 1;
          return;
        }
        {
          absl::MutexLock l(&shutdown.mu);
          shutdown.listener = *ln;
          if (shutdown.requested) (*ln)->Close().IgnoreError();
        }
        std::printf("listening on %s%s\n", is_unix ? "unix:" : "",
                    (*ln)->Address().String().c_str());
        std::fflush(stdout);
        ConnSet open;
        fiber::WaitGroup wg;
        for (;;) {
          auto c = (*ln)->Accept();
          if (!c.ok()) {
            if (net::IsClosed(c.status())) break;
            // As Go's servers do: log, back off briefly (EMFILE), keep going.
            std::fprintf(stderr, "echo_server: %s\n", std::string(c.status().message()).c_str());
            Sleep(absl::Milliseconds(5));
            continue;
          }
          totals.conns.fetch_add(1, std::memory_order_relaxed);
          uint64_t id = open.Add(*c);
          wg.Add(1);
          Go([conn = *std::move(c), id, &open, &wg, &totals, buf_size]() mutable {
            Serve(std::move(conn), buf_size, &totals);
            open.Remove(id);
            wg.Done();
          });
        }
        open.CloseAll();
        wg.Wait();
      },
      {.procs = static_cast<int>(procs)});

  if (rc != 0) std::_Exit(rc);  // the waiter thread is still in sigwait
  waiter.join();
  int sig = 0;
  {
    absl::MutexLock l(&shutdown.mu);
    sig = shutdown.signal;
  }
  double secs = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf(
      "echo_server: signal %d: shut down after %.1f s: %llu conns, %llu bytes echoed "
      "(%.1f MB/s average), %llu conns ended with an error\n",
      sig, secs, static_cast<unsigned long long>(totals.conns.load()),
      static_cast<unsigned long long>(totals.bytes.load()), totals.bytes.load() / 1e6 / secs,
      static_cast<unsigned long long>(totals.errors.load()));
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace gonet::examples

int main(int argc, char** argv) { return gonet::examples::Main(argc, argv); }
