// Tests for net/errors.h: every Go 1.19 error text of docs/behavior.md §6.5
// that can be built without sockets, the status codes of net.h, and the
// marker the public predicates read.

#include "net/errors.h"

#include <cerrno>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "net/net.h"

namespace gonet::net_internal {
namespace {

using ::absl::StatusCode;

constexpr char kLocal[] = "127.0.0.1:34044";
constexpr char kRemote[] = "127.0.0.1:41211";

TEST(ErrnoText, GoLinuxTable) {
  // docs/behavior.md §6.4, verbatim.
  const std::pair<int, const char*> table[] = {
      {EINTR, "interrupted system call"},
      {EBADF, "bad file descriptor"},
      {EAGAIN, "resource temporarily unavailable"},
      {EACCES, "permission denied"},
      {EINVAL, "invalid argument"},
      {ENFILE, "too many open files in system"},
      {EMFILE, "too many open files"},
      {EPIPE, "broken pipe"},
      {ENOTSOCK, "socket operation on non-socket"},
      {EOPNOTSUPP, "operation not supported"},
      {ETIMEDOUT, "connection timed out"},
      {EHOSTUNREACH, "no route to host"},
      {EAFNOSUPPORT, "address family not supported by protocol"},
      {EADDRINUSE, "address already in use"},
      {EADDRNOTAVAIL, "cannot assign requested address"},
      {ENETDOWN, "network is down"},
      {ENETUNREACH, "network is unreachable"},
      {ECONNABORTED, "software caused connection abort"},
      {ECONNRESET, "connection reset by peer"},
      {ENOBUFS, "no buffer space available"},
      {EISCONN, "transport endpoint is already connected"},
      {ENOTCONN, "transport endpoint is not connected"},
      {ECONNREFUSED, "connection refused"},
      {EALREADY, "operation already in progress"},
      {EINPROGRESS, "operation now in progress"},
  };
  for (const auto& [err, text] : table) EXPECT_EQ(ErrnoText(err), text) << err;
}

TEST(ErrnoText, OtherErrnosAsGoPrintsThem) {
  // Observed from go1.19 syscall.Errno(n).Error() on linux/amd64.
  EXPECT_EQ(ErrnoText(EPERM), "operation not permitted");
  EXPECT_EQ(ErrnoText(ENOENT), "no such file or directory");
  EXPECT_EQ(ErrnoText(ENOMEM), "cannot allocate memory");
  EXPECT_EQ(ErrnoText(EHOSTDOWN), "host is down");
  EXPECT_EQ(ErrnoText(ENOSYS), "function not implemented");
  EXPECT_EQ(ErrnoText(ECANCELED), "operation canceled");
  EXPECT_EQ(ErrnoText(EOVERFLOW), "value too large for defined data type");
  EXPECT_EQ(ErrnoText(132), "operation not possible due to RF-kill");
  // No text in Go's table: "errno N".
  EXPECT_EQ(ErrnoText(0), "errno 0");
  EXPECT_EQ(ErrnoText(41), "errno 41");
  EXPECT_EQ(ErrnoText(58), "errno 58");
  EXPECT_EQ(ErrnoText(133), "errno 133");
  EXPECT_EQ(ErrnoText(4242), "errno 4242");
  EXPECT_EQ(ErrnoText(-3), "errno -3");
}

TEST(ErrnoCode, MatchesApiTable) {
  EXPECT_EQ(ErrnoCode(ETIMEDOUT), StatusCode::kDeadlineExceeded);
  for (int e : {ECONNREFUSED, ECONNRESET, EPIPE, ENETUNREACH, EHOSTUNREACH}) {
    EXPECT_EQ(ErrnoCode(e), StatusCode::kUnavailable) << e;
  }
  EXPECT_EQ(ErrnoCode(EINVAL), StatusCode::kInvalidArgument);
  for (int e : {EADDRINUSE, EMFILE, EBADF, EAGAIN, 4242}) {
    EXPECT_EQ(ErrnoCode(e), StatusCode::kUnknown) << e;
  }
}

// ---- Dial (6.5). ----

TEST(OpError, DialRefused) {
  absl::Status s = OpError("dial", "tcp", "", "127.0.0.1:8888",
                           MakeSyscallError("connect", ECONNREFUSED));
  EXPECT_EQ(s.message(), "dial tcp 127.0.0.1:8888: connect: connection refused");
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(net::Errno(s), ECONNREFUSED);
  EXPECT_FALSE(net::IsTimeout(s));
  EXPECT_FALSE(InfoOf(s).temporary);
  EXPECT_TRUE(InfoOf(s).syscall);
  // The one-step shortcut builds the same status.
  absl::Status fast = OpErrorErrno("dial", "tcp", "", "127.0.0.1:8888", "connect", ECONNREFUSED);
  EXPECT_EQ(fast, s);
}

TEST(OpError, DialRefusedWithLocalAddr) {
  EXPECT_EQ(OpErrorErrno("dial", "tcp", "127.0.0.1:0", "127.0.0.1:1", "connect", ECONNREFUSED)
                .message(),
            "dial tcp 127.0.0.1:0->127.0.0.1:1: connect: connection refused");
  EXPECT_EQ(OpErrorErrno("dial", "tcp6", "", "[::1]:1", "connect", ECONNREFUSED).message(),
            "dial tcp6 [::1]:1: connect: connection refused");
}

TEST(OpError, DialTimeoutBothKinds) {
  absl::Status s = OpError("dial", "tcp", "", "127.0.0.1:5555", MakeTimeout());
  EXPECT_EQ(s.message(), "dial tcp 127.0.0.1:5555: i/o timeout");
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(net::IsTimeout(s));
  EXPECT_TRUE(InfoOf(s).temporary);
  EXPECT_EQ(net::Errno(s), 0);
  EXPECT_EQ(OpErrorTimeout("dial", "tcp", "", "127.0.0.1:1"),
            OpError("dial", "tcp", "", "127.0.0.1:1", MakeTimeout()));
}

TEST(OpError, KernelTimeoutIsTimeout) {
  absl::Status s = OpErrorErrno("dial", "tcp", "", "10.0.0.1:80", "connect", ETIMEDOUT);
  EXPECT_EQ(s.message(), "dial tcp 10.0.0.1:80: connect: connection timed out");
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(net::IsTimeout(s));
  EXPECT_TRUE(InfoOf(s).temporary);
  EXPECT_EQ(net::Errno(s), ETIMEDOUT);
}

TEST(OpError, DialCanceled) {
  absl::Status s = OpError("dial", "tcp", "", "127.0.0.1:1", MakeCanceled());
  EXPECT_EQ(s.message(), "dial tcp 127.0.0.1:1: operation was canceled");
  EXPECT_FALSE(net::IsTimeout(s));
  EXPECT_EQ(InfoOf(s).kind, ErrorKind::kCanceled);
}

// ---- Resolution and parameter errors (6.5); the parsing that produces them
// is tested in addr_test.cc. ----

TEST(OpError, ResolutionAndParameterTexts) {
  auto dial = [](const absl::Status& inner) { return OpError("dial", "tcp", "", "", inner); };
  EXPECT_EQ(dial(MakeMissingAddress()).message(), "dial tcp: missing address");
  EXPECT_EQ(OpError("dial", "foo", "", "", MakeUnknownNetwork("foo")).message(),
            "dial foo: unknown network foo");
  EXPECT_EQ(dial(MakeAddrError("missing port in address", "127.0.0.1")).message(),
            "dial tcp: address 127.0.0.1: missing port in address");
  EXPECT_EQ(dial(MakeAddrError("invalid port", "99999")).message(),
            "dial tcp: address 99999: invalid port");
  EXPECT_EQ(dial(MakeAddrError("invalid port", "-1")).message(),
            "dial tcp: address -1: invalid port");
  EXPECT_EQ(dial(MakeAddrError("unknown port", "tcp/nosuchservice")).message(),
            "dial tcp: address tcp/nosuchservice: unknown port");
  EXPECT_EQ(OpError("dial", "tcp4", "", "", MakeAddrError("no suitable address found", "::1"))
                .message(),
            "dial tcp4: address ::1: no suitable address found");
  EXPECT_EQ(OpError("dial", "tcp6", "", "",
                    MakeAddrError("no suitable address found", "127.0.0.1"))
                .message(),
            "dial tcp6: address 127.0.0.1: no suitable address found");
  EXPECT_EQ(dial(MakeAddrError("no suitable address found", "[::1]:0")).message(),
            "dial tcp: address [::1]:0: no suitable address found");
  EXPECT_EQ(dial(MakeAddrError("mismatched local address type", "127.0.0.1:0")).message(),
            "dial tcp: address 127.0.0.1:0: mismatched local address type");
  EXPECT_EQ(OpError("listen", "tcp", "", "", MakeAddrError("invalid port", "99999")).message(),
            "listen tcp: address 99999: invalid port");
  for (const absl::Status& s :
       {dial(MakeMissingAddress()), dial(MakeUnknownNetwork("foo")),
        dial(MakeAddrError("invalid port", "-1"))}) {
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
    EXPECT_FALSE(net::IsTimeout(s));
    EXPECT_FALSE(InfoOf(s).temporary);
    EXPECT_EQ(net::Errno(s), 0);
  }
}

TEST(AddrError, EmptyAddressPrintsReasonOnly) {
  EXPECT_EQ(MakeAddrError("missing port in address", "").message(), "missing port in address");
}

TEST(DNSError, Texts) {
  absl::Status nx = MakeDNSError(
      {kNoSuchHost, "no-such-host.invalid", "10.255.255.53:53", false, false, true});
  EXPECT_EQ(OpError("dial", "tcp", "", "", nx).message(),
            "dial tcp: lookup no-such-host.invalid on 10.255.255.53:53: no such host");
  EXPECT_EQ(nx.code(), StatusCode::kNotFound);
  EXPECT_FALSE(net::IsTimeout(nx));
  EXPECT_FALSE(InfoOf(nx).temporary);
  EXPECT_TRUE(InfoOf(nx).not_found);

  absl::Status to = MakeDNSError({"i/o timeout", "silent.test", "", true, false, false});
  EXPECT_EQ(OpError("dial", "tcp", "", "", to).message(), "dial tcp: lookup silent.test: i/o timeout");
  EXPECT_EQ(to.code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(net::IsTimeout(to));
  EXPECT_TRUE(InfoOf(to).temporary);
  EXPECT_FALSE(InfoOf(to).not_found);

  absl::Status tmp = MakeDNSError({"server misbehaving", "x.test", "[::1]:53", false, true, false});
  EXPECT_EQ(tmp.message(), "lookup x.test on [::1]:53: server misbehaving");
  EXPECT_EQ(tmp.code(), StatusCode::kUnknown);
  EXPECT_FALSE(net::IsTimeout(tmp));
  EXPECT_TRUE(InfoOf(tmp).temporary);
}

TEST(OpError, ListenBindErrors) {
  absl::Status inuse = OpErrorErrno("listen", "tcp", "", "127.0.0.1:8080", "bind", EADDRINUSE);
  EXPECT_EQ(inuse.message(), "listen tcp 127.0.0.1:8080: bind: address already in use");
  EXPECT_EQ(inuse.code(), StatusCode::kUnknown);
  EXPECT_EQ(net::Errno(inuse), EADDRINUSE);
  EXPECT_EQ(OpErrorErrno("listen", "tcp", "", "192.0.2.1:0", "bind", EADDRNOTAVAIL).message(),
            "listen tcp 192.0.2.1:0: bind: cannot assign requested address");
  EXPECT_EQ(OpErrorErrno("dial", "tcp", "127.0.0.1:9000", "127.0.0.1:9001", "bind", EADDRINUSE)
                .message(),
            "dial tcp 127.0.0.1:9000->127.0.0.1:9001: bind: address already in use");
  EXPECT_EQ(OpErrorErrno("listen", "tcp", "", "[fe80::1%nosuch]:0", "bind", EINVAL).message(),
            "listen tcp [fe80::1%nosuch]:0: bind: invalid argument");
}

// ---- Use after local close (6.5). ----

TEST(OpError, UseAfterClose) {
  EXPECT_EQ(OpErrorClosed("read", "tcp", kLocal, kRemote).message(),
            "read tcp 127.0.0.1:34044->127.0.0.1:41211: use of closed network connection");
  EXPECT_EQ(OpErrorClosed("write", "tcp", kLocal, kRemote).message(),
            "write tcp 127.0.0.1:34044->127.0.0.1:41211: use of closed network connection");
  EXPECT_EQ(OpErrorClosed("close", "tcp", kLocal, kRemote).message(),
            "close tcp 127.0.0.1:34044->127.0.0.1:41211: use of closed network connection");
  // Deadlines and buffers: Source nil, Addr = laddr.
  EXPECT_EQ(OpErrorClosed("set", "tcp", "", kLocal).message(),
            "set tcp 127.0.0.1:34044: use of closed network connection");
  // TCP options: laddr->raddr.
  EXPECT_EQ(OpErrorClosed("set", "tcp", kLocal, kRemote).message(),
            "set tcp 127.0.0.1:34044->127.0.0.1:41211: use of closed network connection");
  EXPECT_EQ(OpErrorClosed("accept", "tcp", "", "127.0.0.1:34077").message(),
            "accept tcp 127.0.0.1:34077: use of closed network connection");
  EXPECT_EQ(OpErrorClosed("close", "tcp", "", "127.0.0.1:34077").message(),
            "close tcp 127.0.0.1:34077: use of closed network connection");
  absl::Status s = OpError("read", "tcp", kLocal, kRemote, MakeClosed());
  EXPECT_EQ(s, OpErrorClosed("read", "tcp", kLocal, kRemote));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(net::IsClosed(s));
  EXPECT_FALSE(net::IsTimeout(s));
  EXPECT_FALSE(InfoOf(s).temporary);
  EXPECT_EQ(net::Errno(s), 0);
}

TEST(OpError, ReadDeadline) {
  absl::Status s = OpErrorTimeout("read", "tcp", "127.0.0.1:57432", "127.0.0.1:44065");
  EXPECT_EQ(s.message(), "read tcp 127.0.0.1:57432->127.0.0.1:44065: i/o timeout");
  EXPECT_TRUE(net::IsTimeout(s));
  EXPECT_FALSE(net::IsClosed(s));
  EXPECT_FALSE(net::IsEOF(s));
}

// ---- Peer closes (6.5). ----

TEST(OpError, EOFIsNeverWrapped) {
  absl::Status eof = MakeEOF();
  EXPECT_EQ(eof.message(), "EOF");
  EXPECT_EQ(eof.code(), StatusCode::kOutOfRange);
  EXPECT_TRUE(net::IsEOF(eof));
  absl::Status wrapped = OpError("read", "tcp", kLocal, kRemote, eof);
  EXPECT_EQ(wrapped, eof);
  EXPECT_EQ(wrapped.message(), "EOF");
  EXPECT_FALSE(net::IsTimeout(eof));
  EXPECT_EQ(net::Errno(eof), 0);
}

TEST(OpError, UnexpectedEOF) {
  absl::Status s = MakeUnexpectedEOF();
  EXPECT_EQ(s.message(), "unexpected EOF");
  EXPECT_FALSE(net::IsEOF(s));
  EXPECT_EQ(OpError("read", "tcp", kLocal, kRemote, s).message(),
            "read tcp 127.0.0.1:34044->127.0.0.1:41211: unexpected EOF");
}

TEST(OpError, BrokenPipeAndReset) {
  absl::Status pipe = OpErrorErrno("write", "tcp", "127.0.0.1:37028", "127.0.0.1:41525", "write", EPIPE);
  EXPECT_EQ(pipe.message(), "write tcp 127.0.0.1:37028->127.0.0.1:41525: write: broken pipe");
  EXPECT_EQ(pipe.code(), StatusCode::kUnavailable);
  EXPECT_EQ(net::Errno(pipe), EPIPE);
  EXPECT_FALSE(InfoOf(pipe).temporary);
  absl::Status reset =
      OpErrorErrno("read", "tcp", "127.0.0.1:53410", "127.0.0.1:40361", "read", ECONNRESET);
  EXPECT_EQ(reset.message(),
            "read tcp 127.0.0.1:53410->127.0.0.1:40361: read: connection reset by peer");
  EXPECT_EQ(reset.code(), StatusCode::kUnavailable);
  EXPECT_EQ(net::Errno(reset), ECONNRESET);
  EXPECT_EQ(OpErrorErrno("write", "tcp", "127.0.0.1:41098", "127.0.0.1:46611", "write", ECONNRESET)
                .message(),
            "write tcp 127.0.0.1:41098->127.0.0.1:46611: write: connection reset by peer");
}

TEST(OpError, SetKeepAlivePeriodInvalid) {
  absl::Status s =
      OpErrorErrno("set", "tcp", "127.0.0.1:51184", "127.0.0.1:42405", "setsockopt", EINVAL);
  EXPECT_EQ(s.message(), "set tcp 127.0.0.1:51184->127.0.0.1:42405: setsockopt: invalid argument");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

// ---- Go's OpError formatting rules (6.1). ----

TEST(OpError, FormatRules) {
  absl::Status inner = MakeErrno(ECONNREFUSED);
  EXPECT_EQ(inner.message(), "connection refused");
  EXPECT_EQ(OpError("dial", "", "", "", inner).message(), "dial: connection refused");
  EXPECT_EQ(OpError("dial", "tcp", "", "", inner).message(), "dial tcp: connection refused");
  EXPECT_EQ(OpError("dial", "tcp", "1.2.3.4:5", "", inner).message(),
            "dial tcp 1.2.3.4:5: connection refused");
  EXPECT_EQ(OpError("dial", "", "", "1.2.3.4:5", inner).message(),
            "dial 1.2.3.4:5: connection refused");
  EXPECT_EQ(OpError("dial", "tcp", "a:1", "b:2", inner).message(),
            "dial tcp a:1->b:2: connection refused");
  // A bare errno (no SyscallError) keeps its errno and code.
  EXPECT_EQ(net::Errno(OpError("dial", "tcp", "", "", inner)), ECONNREFUSED);
  EXPECT_FALSE(InfoOf(inner).syscall);
  EXPECT_EQ(OpErrorErrno("dial", "tcp", "", "b:2", "", ECONNREFUSED).message(),
            "dial tcp b:2: connection refused");
}

TEST(OpError, AcceptTemporaryRule) {
  // Go: accept + bare ECONNRESET/ECONNABORTED is Temporary(); wrapped in a
  // SyscallError it is not (ECONNRESET's own Temporary() is false).
  EXPECT_TRUE(InfoOf(OpError("accept", "tcp", "", "127.0.0.1:1", MakeErrno(ECONNABORTED))).temporary);
  EXPECT_TRUE(InfoOf(OpErrorErrno("accept", "tcp", "", "127.0.0.1:1", "", ECONNRESET)).temporary);
  EXPECT_FALSE(InfoOf(OpError("accept", "tcp", "", "127.0.0.1:1",
                              MakeSyscallError("accept4", ECONNABORTED)))
                   .temporary);
  EXPECT_FALSE(InfoOf(OpError("read", "tcp", "", "127.0.0.1:1", MakeErrno(ECONNRESET))).temporary);
  // EMFILE/ENFILE/EINTR/EAGAIN are temporary whatever the op.
  for (int e : {EMFILE, ENFILE, EINTR, EAGAIN}) {
    EXPECT_TRUE(InfoOf(OpErrorErrno("accept", "tcp", "", "x:1", "accept4", e)).temporary) << e;
  }
  // EAGAIN is also Timeout() in Go (Errno.Timeout).
  EXPECT_TRUE(net::IsTimeout(MakeSyscallError("read", EAGAIN)));
  EXPECT_FALSE(net::IsTimeout(MakeSyscallError("read", EMFILE)));
}

TEST(OpError, ForeignInnerStatusKeepsTextAndCodeButNoMarker) {
  absl::Status foreign = absl::InternalError("boom");
  foreign.SetPayload("example.com/x", absl::Cord("y"));
  absl::Status s = OpError("read", "tcp", kLocal, kRemote, foreign);
  EXPECT_EQ(s.message(), "read tcp 127.0.0.1:34044->127.0.0.1:41211: boom");
  EXPECT_EQ(s.code(), StatusCode::kInternal);
  EXPECT_EQ(s.GetPayload("example.com/x"), absl::Cord("y"));
  EXPECT_EQ(InfoOf(s).kind, ErrorKind::kForeign);
  EXPECT_FALSE(net::IsClosed(s));
}

TEST(OpError, OkInnerStaysOk) {
  EXPECT_TRUE(OpError("read", "tcp", kLocal, kRemote, absl::OkStatus()).ok());
}

TEST(Predicates, ReadTheMarkerNotTheCode) {
  EXPECT_FALSE(net::IsEOF(absl::OutOfRangeError("x")));
  EXPECT_FALSE(net::IsEOF(absl::OutOfRangeError("EOF")));
  EXPECT_FALSE(net::IsTimeout(absl::DeadlineExceededError("i/o timeout")));
  EXPECT_FALSE(net::IsClosed(absl::FailedPreconditionError("use of closed network connection")));
  EXPECT_EQ(net::Errno(absl::UnavailableError("connection refused")), 0);
  EXPECT_FALSE(net::IsEOF(absl::OkStatus()));
  EXPECT_EQ(net::Errno(absl::OkStatus()), 0);
  // A marker with the wrong size is ignored, not misread.
  absl::Status bogus = absl::UnknownError("x");
  bogus.SetPayload(absl::string_view(kMarkerUrl.data(), kMarkerUrl.size()), absl::Cord("\x05"));
  EXPECT_FALSE(net::IsEOF(bogus));
  // Each predicate is true for its own kind only.
  EXPECT_TRUE(net::IsClosed(MakeClosed()));
  EXPECT_FALSE(net::IsEOF(MakeClosed()));
  EXPECT_FALSE(net::IsClosed(MakeEOF()));
  EXPECT_FALSE(net::IsTimeout(MakeClosed()));
  EXPECT_TRUE(net::IsTimeout(MakeTimeout()));
  EXPECT_EQ(net::Errno(MakeTimeout()), 0);
}

TEST(Misc, NotFiberAndUnsupportedNetwork) {
  absl::Status nf = MakeNotFiber();
  EXPECT_EQ(nf.message(), "not called from a fiber");
  EXPECT_EQ(nf.code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(net::IsClosed(nf));
  EXPECT_EQ(OpError("dial", "tcp", "", "", nf).message(), "dial tcp: not called from a fiber");
  absl::Status un = MakeUnsupportedNetwork("udp");
  EXPECT_EQ(OpError("dial", "udp", "", "", un).message(), "dial udp: unsupported network udp");
  EXPECT_EQ(un.code(), StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace gonet::net_internal
