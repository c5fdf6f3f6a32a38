// Go-conformance scenarios for parameter errors and the error predicates
// (docs/behavior.md §6.1-6.7, §7.3, §7.4, §8.2), plus calls outside gonet::Run.
#include <errno.h>

#include <string>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "fiber/fiber.h"
#include "gtest/gtest.h"
#include "net/net.h"
#include "tests/test_util.h"

namespace gonet {
namespace {

using testing_util::RunChecked;

class ParamErrorTest : public testing::TestWithParam<int> {};

struct Case {
  const char* op;  // "dial" or "listen"
  const char* network;
  const char* address;
  const char* want;
  absl::StatusCode code;
};

// [dial empty addr], [dial unknown network], [dial missing port], [dial invalid port],
// [dial negative port], [dial unknown service], [dial tcp4 to v6 literal],
// [dial tcp6 to v4 literal], [listen invalid port], and SplitHostPort errors as Go
// wraps them.
const Case kCases[] = {
    {"dial", "tcp", "", "dial tcp: missing address", absl::StatusCode::kInvalidArgument},
    {"dial", "foo", "127.0.0.1:80", "dial foo: unknown network foo", absl::StatusCode::kInvalidArgument},
    {"dial", "tcp", "127.0.0.1", "dial tcp: address 127.0.0.1: missing port in address",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp", "127.0.0.1:99999", "dial tcp: address 99999: invalid port",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp", "127.0.0.1:-1", "dial tcp: address -1: invalid port",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp", "127.0.0.1:nosuchservice", "dial tcp: address tcp/nosuchservice: unknown port",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp4", "[::1]:80", "dial tcp4: address ::1: no suitable address found",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp6", "127.0.0.1:80", "dial tcp6: address 127.0.0.1: no suitable address found",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp", "[::1]:80:90", "dial tcp: address [::1]:80:90: too many colons in address",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp", "::1:80", "dial tcp: address ::1:80: too many colons in address",
     absl::StatusCode::kInvalidArgument},
    {"dial", "tcp", "[::1:80", "dial tcp: address [::1:80: missing ']' in address",
     absl::StatusCode::kInvalidArgument},
    {"listen", "tcp", "127.0.0.1:99999", "listen tcp: address 99999: invalid port",
     absl::StatusCode::kInvalidArgument},
    {"listen", "tcp", "127.0.0.1", "listen tcp: address 127.0.0.1: missing port in address",
     absl::StatusCode::kInvalidArgument},
    {"listen", "foo", ":0", "listen foo: unknown network foo", absl::StatusCode::kInvalidArgument},
    {"listen", "tcp6", "127.0.0.1:0", "listen tcp6: address 127.0.0.1: no suitable address found",
     absl::StatusCode::kInvalidArgument},
};

TEST_P(ParamErrorTest, GoTexts) {
  RunChecked(GetParam(), [] {
    for (const Case& c : kCases) {
      absl::Status s;
      if (std::string(c.op) == "dial") {
        s = net::Dial(c.network, c.address).status();
      } else {
        s = net::Listen(c.network, c.address).status();
      }
      EXPECT_EQ(s.message(), c.want) << c.op << "(" << c.network << ", \"" << c.address << "\")";
      EXPECT_EQ(s.code(), c.code) << c.want << ": " << s;
      EXPECT_FALSE(net::IsTimeout(s)) << c.want;
      EXPECT_FALSE(net::IsClosed(s)) << c.want;
      EXPECT_FALSE(net::IsEOF(s)) << c.want;
      EXPECT_EQ(net::Errno(s), 0) << c.want;
    }
  });
}

// Section 8.2 / 6.5: a local address of the wrong family filters out every remote.
TEST_P(ParamErrorTest, DialerLocalAddressMismatch) {
  if (!testing_util::HasIPv6Loopback()) GTEST_SKIP() << "no [::1]";
  RunChecked(GetParam(), [] {
    net::Dialer d;
    d.local_address = "[::1]:0";
    auto c = d.Dial("tcp", "127.0.0.1:1");
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().message(), "dial tcp: address [::1]:0: no suitable address found");
  });
}

// Networks Go knows but gonet v0 does not implement: kUnimplemented.
TEST_P(ParamErrorTest, UnsupportedNetworks) {
  RunChecked(GetParam(), [] {
    for (const char* n : {"ip", "ip4:icmp", "ip6:58"}) {
      absl::Status s = net::Dial(n, "127.0.0.1").status();
      EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented) << n << ": " << s;
      EXPECT_NE(s.message().find(std::string("unsupported network ") + n), std::string::npos) << s;
    }
  });
}

// The predicates read gonet's marker, not the code: foreign statuses are none of them.
TEST(ErrorPredicates, ForeignStatuses) {
  EXPECT_FALSE(net::IsEOF(absl::OutOfRangeError("EOF")));
  EXPECT_FALSE(net::IsTimeout(absl::DeadlineExceededError("i/o timeout")));
  EXPECT_FALSE(net::IsClosed(absl::FailedPreconditionError("use of closed network connection")));
  EXPECT_EQ(net::Errno(absl::UnavailableError("connect: connection refused")), 0);
  EXPECT_FALSE(net::IsEOF(absl::OkStatus()));
  EXPECT_FALSE(net::IsTimeout(absl::OkStatus()));
  EXPECT_FALSE(net::IsClosed(absl::OkStatus()));
  EXPECT_EQ(net::Errno(absl::OkStatus()), 0);
}

// Every predicate on every kind of error, in one live scenario.
TEST_P(ParamErrorTest, PredicatesOnLiveErrors) {
  RunChecked(GetParam(), [] {
    struct Want {
      bool eof, timeout, closed;
      int err;
      absl::StatusCode code;
    };
    auto check = [](const char* what, const absl::Status& s, Want w) {
      EXPECT_EQ(net::IsEOF(s), w.eof) << what << ": " << s;
      EXPECT_EQ(net::IsTimeout(s), w.timeout) << what << ": " << s;
      EXPECT_EQ(net::IsClosed(s), w.closed) << what << ": " << s;
      EXPECT_EQ(net::Errno(s), w.err) << what << ": " << s;
      EXPECT_EQ(s.code(), w.code) << what << ": " << s;
    };
    check("refused", net::Dial("tcp", "127.0.0.1:1").status(),
          {false, false, false, ECONNREFUSED, absl::StatusCode::kUnavailable});
    testing_util::ConnPair p = testing_util::MakeConnPair();
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p.client->SetReadDeadline(absl::InfinitePast()).ok());
    char b[4];
    check("read timeout", p.client->Read(absl::MakeSpan(b)).err,
          {false, true, false, 0, absl::StatusCode::kDeadlineExceeded});
    ASSERT_TRUE(p.client->SetReadDeadline(absl::InfiniteFuture()).ok());
    ASSERT_TRUE(p.server->CloseWrite().ok());
    check("eof", p.client->Read(absl::MakeSpan(b)).err,
          {true, false, false, 0, absl::StatusCode::kOutOfRange});
    ASSERT_TRUE(p.client->CloseWrite().ok());
    check("write after CloseWrite", p.client->Write(std::string("x")).err,
          {false, false, false, EPIPE, absl::StatusCode::kUnavailable});
    check("setsockopt EINVAL", p.client->SetKeepAlivePeriod(absl::ZeroDuration()),
          {false, false, false, EINVAL, absl::StatusCode::kInvalidArgument});
    ASSERT_TRUE(p.client->Close().ok());
    check("closed", p.client->Read(absl::MakeSpan(b)).err,
          {false, false, true, 0, absl::StatusCode::kFailedPrecondition});
    check("bad port", net::Listen("tcp", ":99999").status(),
          {false, false, false, 0, absl::StatusCode::kInvalidArgument});
    p.CloseAll();
  });
}

// Dial, Listen (and the fiber-only calls) outside gonet::Run: kFailedPrecondition.
TEST(OutsideRun, DialAndListenFailWithFailedPrecondition) {
  const int before = testing_util::CountOpenFds();
  auto c = net::Dial("tcp", "127.0.0.1:1");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition) << c.status();
  EXPECT_EQ(c.status().message(), "not called from a fiber");
  auto c2 = net::DialTimeout("tcp", "127.0.0.1:1", absl::Seconds(1));
  EXPECT_EQ(c2.status().code(), absl::StatusCode::kFailedPrecondition) << c2.status();
  auto l = net::Listen("tcp", "127.0.0.1:0");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), absl::StatusCode::kFailedPrecondition) << l.status();
  EXPECT_EQ(l.status().message(), "not called from a fiber");
  auto l2 = net::ListenConfig{}.Listen("tcp", "127.0.0.1:0");
  EXPECT_EQ(l2.status().code(), absl::StatusCode::kFailedPrecondition) << l2.status();
  EXPECT_FALSE(net::IsClosed(l.status()));
  // The address helpers work anywhere.
  auto hp = net::SplitHostPort("[::1]:80");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->first, "::1");
  EXPECT_EQ(net::JoinHostPort("::1", "80"), "[::1]:80");
  EXPECT_EQ(testing_util::CountOpenFds(), before);
}

INSTANTIATE_TEST_SUITE_P(Procs, ParamErrorTest, testing::Values(1, 2, 8));

}  // namespace
}  // namespace gonet
