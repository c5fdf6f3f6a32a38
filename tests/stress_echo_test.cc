// Robustness stress: 10,000 concurrent loopback connections echoing through one
// listener at procs=2; every byte is verified and no fd is left at the end.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "testing/leak_check_gtest.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using gonet::leak_check::RunChecked;

constexpr int kConns = 10000;
constexpr size_t kMsg = 2048;  // bytes each client sends and gets back
constexpr rlim_t kWantFds = 2 * kConns + 1000;

// Raises RLIMIT_NOFILE so that both ends of every conn fit: the hard limit to
// kWantFds if it is lower (needs root / CAP_SYS_RESOURCE), the soft one to the hard.
// On failure *max_conns is what the current hard limit allows.
bool RaiseFdLimit(std::string* why, int* max_conns) {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    *why = std::string("getrlimit: ") + strerror(errno);
    return false;
  }
  if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < kWantFds) {
    rlimit raised{kWantFds, kWantFds};
    if (setrlimit(RLIMIT_NOFILE, &raised) != 0) {
      *max_conns = static_cast<int>((rl.rlim_max - 200) / 2);
      rl.rlim_cur = rl.rlim_max;
      (void)setrlimit(RLIMIT_NOFILE, &rl);
      *why = "RLIMIT_NOFILE hard limit is " + std::to_string(rl.rlim_max) + " < " +
             std::to_string(kWantFds) + " and raising it failed: " + strerror(errno);
      return false;
    }
    rl = raised;
  }
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
    *why = std::string("setrlimit(soft=hard): ") + strerror(errno);
    return false;
  }
  return true;
}

// The byte at offset i of client k's message (and of its echo).
char Pattern(int k, size_t i) { return static_cast<char>((k * 131 + i * 7 + (i >> 8)) & 0xff); }

TEST(StressEcho, TenThousandConcurrentConnsProcs2) {
  std::string why;
  int conns = kConns;
  if (!RaiseFdLimit(&why, &conns)) {
    // Without CAP_SYS_RESOURCE the hard limit cannot be raised: run the largest count
    // that fits (10k conns need 20k fds plus the runtime's and the harness's own).
    if (conns < kConns / 2) GTEST_SKIP() << "cannot get " << kWantFds << " fds: " << why;
    printf("NOTE: %s; running %d conns instead of %d\n", why.c_str(), conns, kConns);
    RecordProperty("reduced_conns", conns);
  }
  const int kN = conns;
  const int before = testing_util::CountOpenFds();
  std::atomic<int> dial_errors{0}, echo_errors{0}, verified{0}, accepted{0};
  std::string first_error;
  fiber::Mutex err_mu;
  auto note = [&](const std::string& e) {
    fiber::MutexLock l(&err_mu);
    if (first_error.empty()) first_error = e;
  };
  absl::Time start = absl::Now();
  RunChecked(
      [&] {
        auto ln = net::Listen("tcp", "127.0.0.1:0");
        ASSERT_TRUE(ln.ok()) << ln.status();
        const std::string addr = (*ln)->Address().String();
        fiber::WaitGroup servers, clients, all_connected;
        servers.Add(1);
        // Acceptor: one echo fiber per conn.
        gonet::Go([&] {
          for (int i = 0; i < kN; ++i) {
            auto c = (*ln)->Accept();
            if (!c.ok()) {
              note("accept: " + std::string(c.status().message()));
              break;
            }
            accepted++;
            servers.Add(1);
            gonet::Go([&servers, &note, c = std::move(*c)] {
              std::vector<char> buf(4096);
              for (;;) {
                net::IOResult r = c->Read(absl::MakeSpan(buf));
                if (!r.err.ok()) {
                  if (!net::IsEOF(r.err)) note("server read: " + std::string(r.err.message()));
                  break;
                }
                net::IOResult w = c->Write(absl::MakeConstSpan(buf.data(), r.n));
                if (!w.err.ok()) {
                  note("server write: " + std::string(w.err.message()));
                  break;
                }
              }
              (void)c->Close();
              servers.Done();
            });
          }
          servers.Done();
        });
        clients.Add(kN);
        all_connected.Add(kN);
        for (int k = 0; k < kN; ++k) {
          gonet::Go([&, k] {
            auto c = net::DialTimeout("tcp", addr, absl::Seconds(30));
            all_connected.Done();
            if (!c.ok()) {
              dial_errors++;
              note("dial: " + std::string(c.status().message()));
              clients.Done();
              return;
            }
            all_connected.Wait();  // all 10k conns are open at once from here
            std::string msg(kMsg, '\0');
            for (size_t i = 0; i < kMsg; ++i) msg[i] = Pattern(k, i);
            bool ok = true;
            net::IOResult w = (*c)->Write(msg);
            if (!w.err.ok() || w.n != kMsg) {
              note("client write: " + std::string(w.err.message()));
              ok = false;
            }
            std::string got(kMsg, '\0');
            size_t n = 0;
            while (ok && n < kMsg) {
              net::IOResult r = (*c)->Read(absl::MakeSpan(got.data() + n, kMsg - n));
              if (!r.err.ok()) {
                note("client read: " + std::string(r.err.message()));
                ok = false;
                break;
              }
              n += r.n;
            }
            if (ok && got != msg) {
              note("echo mismatch on conn " + std::to_string(k));
              ok = false;
            }
            (ok ? verified : echo_errors)++;
            (void)(*c)->Close();
            clients.Done();
          });
        }
        clients.Wait();
        servers.Wait();
        EXPECT_TRUE((*ln)->Close().ok());
      },
      {.procs = 2, .stack_size = 64 << 10});
  absl::Duration took = absl::Now() - start;
  printf("stress echo: %d conns, %d accepted, %d verified, %d dial errors, %d echo errors, %s\n",
         kN, accepted.load(), verified.load(), dial_errors.load(), echo_errors.load(),
         absl::FormatDuration(took).c_str());
  EXPECT_EQ(dial_errors.load(), 0) << first_error;
  EXPECT_EQ(echo_errors.load(), 0) << first_error;
  EXPECT_EQ(verified.load(), kN) << first_error;
  EXPECT_EQ(accepted.load(), kN);
  EXPECT_TRUE(first_error.empty()) << first_error;
  EXPECT_LT(took, absl::Seconds(60));
  EXPECT_EQ(testing_util::CountOpenFds(), before) << testing_util::DescribeOpenFds();
}

}  // namespace
}  // namespace gonet

namespace gonet {
namespace {

using gonet::leak_check::RunChecked;

// The same 10k-connection echo with the clients in another process (the neutral raw
// epoll load generator of benchmarks/echo, which verifies every echoed byte), so
// that each process needs only ~10k fds: this runs in full even where the hard
// RLIMIT_NOFILE (20000 here) cannot be raised for both ends in one process.
TEST(StressEcho, TenThousandConnsFromExternalLoadgenProcs2) {
  constexpr int kN = 10000;
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_max < static_cast<rlim_t>(kN + 500)) GTEST_SKIP() << "hard fd limit " << rl.rlim_max;
  const char* srcdir = getenv("TEST_SRCDIR");
  const char* ws = getenv("TEST_WORKSPACE");
  ASSERT_NE(srcdir, nullptr);
  std::string loadgen = std::string(srcdir) + "/" + (ws ? ws : "gonet") + "/benchmarks/echo/loadgen";
  ASSERT_EQ(access(loadgen.c_str(), X_OK), 0) << loadgen;
  const int before = testing_util::CountOpenFds();
  int status = -1;
  std::atomic<int> served{0}, peak{0}, live{0};
  RunChecked([&] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    fiber::WaitGroup conns;
    Go([&] {
      for (;;) {
        auto c = (*ln)->Accept();
        if (!c.ok()) break;  // closed below
        conns.Add(1);
        int now = ++live;
        for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
        }
        Go([&, c = std::move(*c)] {
          std::vector<char> buf(4096);
          for (;;) {
            net::IOResult r = c->Read(absl::MakeSpan(buf));
            if (!r.err.ok()) break;
            if (!c->Write(absl::MakeConstSpan(buf.data(), r.n)).err.ok()) break;
          }
          (void)c->Close();
          --live;
          ++served;
          conns.Done();
        });
      }
    });
    // The load generator runs on a plain thread (it blocks in waitpid).
    fiber::WaitGroup child;
    child.Add(1);
    const std::string addr = (*ln)->Address().String();
    const std::string a = "--addr=" + addr, n = "--conns=" + std::to_string(kN);
    std::thread([&] {
      pid_t pid = fork();
      if (pid == 0) {  // only async-signal-safe calls until exec
        execl(loadgen.c_str(), "loadgen", a.c_str(), n.c_str(), "--size=512", "--warmup_s=0.5",
              "--duration_s=1.5", "--connect_timeout_s=60", static_cast<char*>(nullptr));
        _exit(127);
      }
      waitpid(pid, &status, 0);
      child.Done();
    }).detach();
    child.Wait();
    (*ln)->Close();
    conns.Wait();
  }, {.procs = 2});
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "loadgen failed (it verifies every echoed byte), status " << status;
  EXPECT_EQ(served.load(), kN);
  EXPECT_EQ(peak.load(), kN) << "all conns were open at once";
  EXPECT_EQ(testing_util::CountOpenFds(), before);
}

}  // namespace
}  // namespace gonet
