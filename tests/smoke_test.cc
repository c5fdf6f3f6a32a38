// Smoke test across the layers: listen, dial, echo, deadlines, close, errors.
#include <string>

#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "testing/leak_check_gtest.h"

namespace gonet {
namespace {

using gonet::leak_check::RunChecked;

class SmokeTest : public testing::TestWithParam<int> {};

TEST_P(SmokeTest, EchoDeadlineAndClose) {
  RunChecked([] {
    auto ln = net::Listen("tcp", "127.0.0.1:0");
    ASSERT_TRUE(ln.ok()) << ln.status();
    std::string addr = (*ln)->Address().String();
    fiber::WaitGroup wg;
    wg.Add(1);
    Go([&] {
      auto c = (*ln)->Accept();
      ASSERT_TRUE(c.ok()) << c.status();
      char buf[64];
      for (;;) {
        net::IOResult r = (*c)->Read(absl::MakeSpan(buf));
        if (!r.err.ok()) break;
        (*c)->Write(absl::MakeConstSpan(buf, r.n));
      }
      (*c)->Close();
      wg.Done();
    });
    auto c = net::Dial("tcp", addr);
    ASSERT_TRUE(c.ok()) << c.status();
    std::string msg = "hello gonet";
    net::IOResult w = (*c)->Write(msg);
    EXPECT_EQ(w.n, msg.size());
    char buf[64];
    net::IOResult r = (*c)->Read(absl::MakeSpan(buf));
    ASSERT_TRUE(r.err.ok()) << r.err;
    EXPECT_EQ(std::string(buf, r.n), msg);
    // Read deadline: no data.
    absl::Time start = absl::Now();  // before the deadline is computed from it
    ASSERT_TRUE((*c)->SetReadDeadline(start + absl::Milliseconds(50)).ok());
    r = (*c)->Read(absl::MakeSpan(buf));
    absl::Duration took = absl::Now() - start;
    EXPECT_TRUE(net::IsTimeout(r.err)) << r.err;
    EXPECT_GE(took, absl::Milliseconds(40));
    EXPECT_LT(took, absl::Seconds(2));
    std::string want = "read tcp " + (*c)->LocalAddr().String() + "->" + addr + ": i/o timeout";
    EXPECT_EQ(r.err.message(), want);
    EXPECT_TRUE((*c)->Close().ok());
    r = (*c)->Read(absl::MakeSpan(buf));
    EXPECT_TRUE(net::IsClosed(r.err)) << r.err;
    wg.Wait();
    auto refused = net::Dial("tcp", addr.substr(0, addr.rfind(':')) + ":1");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().message(), "dial tcp 127.0.0.1:1: connect: connection refused");
    EXPECT_TRUE((*ln)->Close().ok());
  }, {.procs = GetParam()});
}

INSTANTIATE_TEST_SUITE_P(Procs, SmokeTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
