// echo_client: closed-loop echo load from gonet fibers. Each of --conns
// connections (one fiber each) Writes a --size message, reads the echo back in
// full, checks it and repeats, for --duration; progress every second, totals at
// the end.
//
//   echo_client --addr=127.0.0.1:9000 --procs=1 --conns=64 --size=64 --duration=5s
//
// Exit code 0 if every connection worked to the end, 1 otherwise.

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/net.h"
#include "third_party/flags_main.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:9000", "server address (host:port)");
ABSL_FLAG(int64_t, procs, 1, "worker threads (GOMAXPROCS), >= 1");
ABSL_FLAG(int64_t, conns, 1, "connections, >= 1");
ABSL_FLAG(int64_t, size, 64, "message size, bytes, >= 1");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(5), "how long to run (5s, 500ms, 1m30s), > 0");

namespace gonet::examples {
namespace {

// One per connection, on its own cache line: the progress fiber reads the
// counters while the connection fibers (on other workers) bump them.
struct alignas(64) ConnStats {
  std::atomic<uint64_t> round_trips{0};
};

// Go's io.ReadFull.
net::IOResult ReadFull(net::Conn& c, absl::Span<char> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    net::IOResult r = c.Read(buf.subspan(got));
    got += r.n;
    if (!r.err.ok()) return {got, r.err};
  }
  return {got, absl::OkStatus()};
}

uint64_t Sum(const std::vector<ConnStats>& stats) {
  uint64_t n = 0;
  for (const ConnStats& s : stats) n += s.round_trips.load(std::memory_order_relaxed);
  return n;
}

int Main(int argc, char** argv) {
  ParseFlags(argc, argv, __FILE__,
             "closed-loop echo load, one fiber per connection: each connection writes a\n"
             "--size message, reads the echo back in full, checks it and repeats.\n"
             "  echo_client --addr=127.0.0.1:9000 --procs=1 --conns=64 --size=64 --duration=5s");
  const std::string addr = absl::GetFlag(FLAGS_addr);
  const int64_t procs = absl::GetFlag(FLAGS_procs);
  const int64_t conns = absl::GetFlag(FLAGS_conns);
  const int64_t size = absl::GetFlag(FLAGS_size);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  if (procs < 1) FlagError(absl::StrCat("--procs must be >= 1, got ", procs));
  if (conns < 1) FlagError(absl::StrCat("--conns must be >= 1, got ", conns));
  if (size < 1) FlagError(absl::StrCat("--size must be >= 1, got ", size));
  if (duration <= absl::ZeroDuration()) {
    FlagError(absl::StrCat("--duration must be > 0, got ", absl::FormatDuration(duration)));
  }

  int rc = 0;
  gonet::Run(
      [&] {
        std::vector<std::shared_ptr<net::Conn>> cs;
        for (int64_t i = 0; i < conns; ++i) {
          auto c = net::DialTimeout("tcp", addr, absl::Seconds(10));
          if (!c.ok()) {
            std::fprintf(stderr, "echo_client: conn %lld: %s\n", static_cast<long long>(i),
                         std::string(c.status().message()).c_str());
            rc = 1;
            for (auto& d : cs) d->Close().IgnoreError();
            return;
          }
          cs.push_back(*std::move(c));
        }
        std::printf("echo_client: %lld conns to %s, %lld-byte messages, %s, procs=%lld\n",
                    static_cast<long long>(conns), addr.c_str(), static_cast<long long>(size),
                    absl::FormatDuration(duration).c_str(), static_cast<long long>(procs));
        std::fflush(stdout);

        std::vector<ConnStats> stats(conns);
        std::atomic<bool> stop{false};
        std::atomic<int> failed{0};
        fiber::WaitGroup wg;
        for (int64_t i = 0; i < conns; ++i) {
          wg.Add(1);
          Go([&, i] {
            net::Conn& c = *cs[i];
            std::string msg(size, '\0');
            for (int64_t k = 0; k < size; ++k) msg[k] = static_cast<char>('a' + (i + k) % 26);
            std::string back(size, '\0');
            while (!stop.load(std::memory_order_relaxed)) {
              net::IOResult w = c.Write(msg);
              net::IOResult r = w.err.ok() ? ReadFull(c, absl::MakeSpan(back)) : w;
              if (!r.err.ok()) {
                if (!(stop.load() && net::IsClosed(r.err))) {
                  failed.fetch_add(1);
                  std::fprintf(stderr, "echo_client: conn %lld: %s\n", static_cast<long long>(i),
                               std::string(r.err.message()).c_str());
                }
                break;
              }
              if (std::memcmp(back.data(), msg.data(), size) != 0) {
                failed.fetch_add(1);
                std::fprintf(stderr, "echo_client: conn %lld: echo differs from what was sent\n",
                             static_cast<long long>(i));
                break;
              }
              stats[i].round_trips.fetch_add(1, std::memory_order_relaxed);
            }
            wg.Done();
          });
        }

        absl::Time start = absl::Now();
        absl::Time end = start + duration;
        uint64_t last = 0;
        absl::Time last_at = start;
        for (int sec = 1;; ++sec) {
          absl::Time next = std::min(start + absl::Seconds(sec), end);
          SleepUntil(next);
          absl::Time now = absl::Now();
          uint64_t n = Sum(stats);
          double dt = absl::ToDoubleSeconds(now - last_at);
          std::printf("  t=%5.1fs  %10.0f rt/s  %8.2f MB/s each way\n",
                      absl::ToDoubleSeconds(now - start), (n - last) / dt,
                      (n - last) * size / 1e6 / dt);
          std::fflush(stdout);
          last = n;
          last_at = now;
          if (next >= end || failed.load() == conns) break;
        }
        absl::Duration took = absl::Now() - start;
        uint64_t total = Sum(stats);
        stop.store(true);
        for (auto& c : cs) c->Close().IgnoreError();  // unblocks any fiber still waiting
        wg.Wait();
        double secs = absl::ToDoubleSeconds(took);
        std::printf(
            "echo_client: %llu round trips in %.2f s: %.0f rt/s, %.2f MB/s each way, "
            "mean round trip %.1f us (conns / rate); %d conns failed\n",
            static_cast<unsigned long long>(total), secs, total / secs, total * size / 1e6 / secs,
            total ? conns * secs / total * 1e6 : 0.0, failed.load());
        std::fflush(stdout);
        if (failed.load() != 0) rc = 1;
      },
      {.procs = static_cast<int>(procs)});
  return rc;
}

}  // namespace
}  // namespace gonet::examples

int main(int argc, char** argv) { return gonet::examples::Main(argc, argv); }
