// net::Resolver and Dialer::resolver: a dial through the built-in DNS client to a
// blackholed nameserver ends at the dial's deadline with Go's text (observed with Go
// 1.19: "dial tcp: lookup black.test: i/o timeout"); LookupPort's Go 1.19 texts; many
// concurrent system lookups hold a bounded number of threads. The DNS client's own
// texts (NXDOMAIN, SERVFAIL, truncation) are in dns_client_test. No DNS packet leaves
// loopback: the blackhole is a UDP socket on 127.0.0.1 that never answers, and the
// system-resolver names here are invalid ones that never reach DNS.
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "fiber/context.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"

namespace gonet::net {
namespace {

class ResolverTest : public testing::TestWithParam<int> {};

int CountThreads() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

// Go 1.19 (tests/go_observed has the program's line in this test's comment):
//   dial blackhole: dial tcp: lookup black.test: i/o timeout
TEST_P(ResolverTest, DialTimeoutBoundsTheLookupOfABlackholedServer) {
  gonet::Run([] {
    // A nameserver that never answers: a bound UDP socket nobody reads.
    auto hole = ListenPacket("udp", "127.0.0.1:0");
    ASSERT_TRUE(hole.ok()) << hole.status();
    Resolver r;
    r.prefer_go = true;
    r.nameservers = {(*hole)->LocalAddr().String()};
    Dialer d;
    d.timeout = absl::Milliseconds(200);
    d.resolver = &r;
    const absl::Time start = absl::Now();
    auto c = d.Dial("tcp", "black.test:80");
    const absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp: lookup black.test: i/o timeout");
    EXPECT_TRUE(IsTimeout(c.status()));
    // Generous bounds (sanitizer runs are slow); the latency itself is measured in
    // benchmarks/net/dial_context_benchmark.
    EXPECT_GE(took, absl::Milliseconds(190));
    EXPECT_LT(took, absl::Seconds(2));
    // Canceling the dial's context stops the lookup too.
    auto [ctx, cancel] = WithCancel(Background());
    Go([cancel = cancel] {
      Sleep(absl::Milliseconds(20));
      cancel();
    });
    Dialer d2;
    d2.resolver = &r;
    auto c2 = d2.DialContext(ctx, "tcp", "black.test:80");
    ASSERT_FALSE(c2.ok());
    EXPECT_EQ(c2.status().code(), absl::StatusCode::kCancelled) << c2.status();
    EXPECT_EQ(c2.status().message(), "dial tcp: lookup black.test: operation was canceled");
    EXPECT_TRUE((*hole)->Close().ok());
  }, {.procs = GetParam()});
}

// Go 1.19, observed: "address tcp/nosuchservice: unknown port", LookupPort("udp",
// "domain") = 53, LookupPort("", "http"): "address ip/http: unknown port", "tcp7":
// "address tcp7: unknown network".
TEST_P(ResolverTest, LookupPortAsGo) {
  gonet::Run([] {
    const Resolver& r = DefaultResolver();
    EXPECT_EQ(r.LookupPort(Background(), "tcp", "nosuchservice").status().message(),
              "address tcp/nosuchservice: unknown port");
    EXPECT_EQ(r.LookupPort(Background(), "udp", "domain").value_or(-1), 53);
    EXPECT_EQ(r.LookupPort(Background(), "tcp", "http").value_or(-1), 80);
    EXPECT_EQ(r.LookupPort(Background(), "", "8080").value_or(-1), 8080);
    EXPECT_EQ(r.LookupPort(Background(), "", "http").status().message(),
              "address ip/http: unknown port");
    EXPECT_EQ(r.LookupPort(Background(), "tcp7", "http").status().message(),
              "address tcp7: unknown network");
  }, {.procs = GetParam()});
}

// Go 1.19: "lookup notanip: unrecognized address", "lookup : no such host",
// "lookup bad..name: no such host".
TEST_P(ResolverTest, BadNamesAsGo) {
  gonet::Run([] {
    const Resolver& r = DefaultResolver();
    EXPECT_EQ(r.LookupAddr(Background(), "notanip").status().message(),
              "lookup notanip: unrecognized address");
    EXPECT_EQ(r.LookupHost(Background(), "").status().message(), "lookup : no such host");
    auto bad = r.LookupHost(Background(), "bad..name");
    EXPECT_EQ(bad.status().message(), "lookup bad..name: no such host");
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kNotFound);
    // IP literals come back as they are, from either resolver.
    Resolver go;
    go.prefer_go = true;
    for (const Resolver* res : {&r, static_cast<const Resolver*>(&go)}) {
      auto lit = res->LookupHost(Background(), "::1");
      ASSERT_TRUE(lit.ok()) << lit.status();
      EXPECT_EQ(*lit, std::vector<std::string>{"::1"});
    }
  }, {.procs = GetParam()});
}

// 10,000 lookups at once through the system-resolver path hold a bounded number of
// threads: at most 500 calls run (each in gonet::Blocking, which hands its proc off
// only when a call outlasts its threshold), the rest wait in fibers. The names are
// distinct (no sharing) and invalid, so each call fails inside the system path
// without sending a packet.
TEST_P(ResolverTest, TenThousandSystemLookupsUseBoundedThreads) {
  gonet::Run([this] {
    constexpr int kLookups = 10'000;
    const int before = CountThreads();
    std::atomic<int> max_threads{0};
    std::atomic<int> not_found{0};
    fiber::WaitGroup wg;
    wg.Add(kLookups);
    for (int i = 0; i < kLookups; ++i) {
      Go([i, &wg, &not_found, &max_threads] {
        auto r = DefaultResolver().LookupHost(Background(), absl::StrCat("bad..", i));
        if (r.status().code() == absl::StatusCode::kNotFound) not_found.fetch_add(1);
        const int t = CountThreads();
        int m = max_threads.load();
        while (t > m && !max_threads.compare_exchange_weak(m, t)) {
        }
        wg.Done();
      });
    }
    wg.Wait();
    EXPECT_EQ(not_found.load(), kLookups);
    // The bound: the runtime's own threads plus at most 500 in lookups.
    EXPECT_LE(max_threads.load() - before, 500) << "before " << before;
    std::printf("10k system lookups at procs %d: threads %d before, at most %d during\n",
                GetParam(), before, max_threads.load());
  }, {.procs = GetParam()});
}

INSTANTIATE_TEST_SUITE_P(Procs, ResolverTest, testing::Values(1, 2));

}  // namespace
}  // namespace gonet::net
