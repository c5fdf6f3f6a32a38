// errors.h: Go's net error values (OpError, SyscallError, Errno, AddrError,
// DNSError, the poller sentinels) re-made as absl::Status. Internal to //net.
//
// Every status built here has message() == the Error() text Go 1.19 prints for
// the same value (docs/behavior.md §6), a code from the table in
// net.h, and a gonet marker payload (kind, errno, Timeout(), Temporary()) that
// the public predicates IsEOF/IsTimeout/IsClosed/Errno read. Statuses without
// the marker (from other libraries) are "foreign": every predicate is false,
// Errno is 0, and OpError still wraps their text.
//
// Building. Inner errors come from the Make* functions, then OpError() adds
// "op net source->addr: " in front. All of them run only once an error has
// happened: the success path of a Read/Write pays nothing. The hot-path
// shortcuts OpErrorErrno/OpErrorClosed/OpErrorTimeout build the final status
// in one step (one string, one payload).
//
// Thread safety: all functions are pure (they read no shared state).

#ifndef GONET_NET_ERRORS_H_
#define GONET_NET_ERRORS_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace gonet::net_internal {

// What a marked status stands for (the innermost Go error).
enum class ErrorKind : uint8_t {
  kForeign = 0,        // no gonet marker
  kErrno = 1,          // syscall.Errno, bare or inside SyscallError
  kClosed = 2,         // net.ErrClosed "use of closed network connection"
  kTimeout = 3,        // os.ErrDeadlineExceeded / net errTimeout "i/o timeout"
  kCanceled = 4,       // errCanceled "operation was canceled"
  kEOF = 5,            // io.EOF
  kUnexpectedEOF = 6,  // io.ErrUnexpectedEOF
  kAddr = 7,           // AddrError (and errMissingAddress)
  kUnknownNetwork = 8, // UnknownNetworkError
  kDNS = 9,            // DNSError
  kUnsupported = 10,   // a network Go knows that gonet v0 does not implement
  kNotFiber = 11,      // a fiber-only call made outside gonet::Run
};

// The decoded marker. For a foreign status: kind == kForeign, the rest zero.
struct ErrorInfo {
  ErrorKind kind = ErrorKind::kForeign;
  int err = 0;              // errno for kErrno, else 0
  bool timeout = false;     // Go's Timeout()
  bool temporary = false;   // Go's Temporary()
  bool syscall = false;     // kErrno wrapped in a SyscallError ("connect: ...")
  bool not_found = false;   // DNSError.IsNotFound
};
ErrorInfo InfoOf(const absl::Status& s);

// The payload type URL of the marker.
inline constexpr std::string_view kMarkerUrl = "gonet.dev/net.Error";

// ---- Inner errors (what OpError wraps). ----

// Go's syscall.Errno text on Linux: "connection refused", "broken pipe", ...,
// "errno N" for numbers without a text (Go's table has none for 41 and 58,
// nor above 132).
std::string ErrnoText(int err);
// The code an errno maps to: ETIMEDOUT -> kDeadlineExceeded; ECONNREFUSED,
// ECONNRESET, EPIPE, ENETUNREACH, EHOSTUNREACH -> kUnavailable; EINVAL ->
// kInvalidArgument; anything else -> kUnknown.
absl::StatusCode ErrnoCode(int err);

// os.SyscallError: "connect: connection refused".
absl::Status MakeSyscallError(std::string_view syscall, int err);
// A bare syscall.Errno: "connection refused".
absl::Status MakeErrno(int err);
// net.ErrClosed: "use of closed network connection", kFailedPrecondition.
absl::Status MakeClosed();
// "i/o timeout", kDeadlineExceeded, Timeout() and Temporary() true. Stands for
// both Go values with that text: the poller's os.ErrDeadlineExceeded and net's
// errTimeout (a dial deadline); Go prints and classifies them alike.
absl::Status MakeTimeout();
// errCanceled: "operation was canceled" (a DialContext's ctx was canceled). kCancelled
// (docs/behavior.md §6.6), Timeout() false.
absl::Status MakeCanceled();
// io.EOF: "EOF", kOutOfRange. OpError never wraps it.
absl::Status MakeEOF();
// io.ErrUnexpectedEOF: "unexpected EOF", kUnknown.
absl::Status MakeUnexpectedEOF();
// AddrError{reason, addr}: "address <addr>: <reason>", or "<reason>" when addr
// is empty. kInvalidArgument.
absl::Status MakeAddrError(std::string_view reason, std::string_view addr);
// errMissingAddress: "missing address", kInvalidArgument.
absl::Status MakeMissingAddress();
// UnknownNetworkError: "unknown network <net>", kInvalidArgument.
absl::Status MakeUnknownNetwork(std::string_view network);
// "unsupported network <net>", kUnimplemented: a network Go accepts ("udp",
// "unix", "ip4:icmp"...) that gonet v0 does not implement. Not a Go text: Go
// would go on and use it, so no Go text would be honest.
absl::Status MakeUnsupportedNetwork(std::string_view network);

// DNSError: "lookup <name>[ on <server>]: <err>". Code: not_found ->
// kNotFound, timeout -> kDeadlineExceeded, else kUnknown. Go's Timeout() is
// `timeout`; Temporary() is timeout || temporary.
struct DNSErrorSpec {
  std::string_view err;     // "no such host", "i/o timeout", "server misbehaving"
  std::string_view name;    // the name as the caller gave it
  std::string_view server;  // "10.0.0.1:53", "[::1]:53", or "" (not printed)
  bool timeout = false;
  bool temporary = false;
  bool not_found = false;
  bool canceled = false;    // the caller's context was canceled (kCancelled)
};
absl::Status MakeDNSError(const DNSErrorSpec& spec);
// Go's errNoSuchHost text, for DNSErrorSpec::err.
inline constexpr std::string_view kNoSuchHost = "no such host";

// "not called from a fiber", kFailedPrecondition: Dial/Listen/Accept/Read/Write
// outside gonet::Run. Not a Go text (Go has no such state).
absl::Status MakeNotFiber();

// Joins string pieces with one allocation (shared by the error and address code).
std::string Concat(std::initializer_list<std::string_view> parts);

// ---- OpError. ----

// Go's OpError{op, net, source, addr, inner}.Error():
//   op [" " net] [" " source] [(source ? "->" : " ") addr] ": " inner
// `source`/`addr` are already-printed addresses (Addr::String()); empty means
// none (a real address never prints empty). Code and marker come from
// `inner`; Temporary() follows Go's rule (accept + bare ECONNRESET or
// ECONNABORTED is temporary). io.EOF is returned unchanged, never wrapped. An
// ok `inner` is a caller bug (Go's OpError never wraps nil): it is returned
// unchanged (ok). Payloads other than the marker are copied.
absl::Status OpError(std::string_view op, std::string_view net,
                     std::string_view source, std::string_view addr,
                     const absl::Status& inner);

// Hot-path shortcuts: OpError(op, net, source, addr, <inner>) in one step.
// OpErrorErrno: inner = MakeSyscallError(syscall, err), or the bare errno
// when syscall is empty.
absl::Status OpErrorErrno(std::string_view op, std::string_view net,
                          std::string_view source, std::string_view addr,
                          std::string_view syscall, int err);
absl::Status OpErrorClosed(std::string_view op, std::string_view net,
                           std::string_view source, std::string_view addr);
absl::Status OpErrorTimeout(std::string_view op, std::string_view net,
                            std::string_view source, std::string_view addr);

}  // namespace gonet::net_internal

#endif  // GONET_NET_ERRORS_H_
