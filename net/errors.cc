// Go's net error values (OpError, os.SyscallError, syscall.Errno, AddrError,
// DNSError, the internal/poll sentinels) re-implemented as absl::Status with a
// marker payload. Differences from Go: the wrapped layers are flattened into
// one message plus one marker at build time (there is no Unwrap chain; the
// marker keeps what errors.Is/Timeout()/Temporary() would have looked at).

#include "net/errors.h"

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/cord.h"
#include "absl/strings/string_view.h"
#include "absl/types/optional.h"
#include "net/net.h"

namespace gonet::net_internal {
namespace {

// Go's Linux errno texts, index = errno (observed from go1.19 syscall.Errno's
// Error() on linux/amd64). "" = no text: Error() prints "errno N".
constexpr std::string_view kErrnoTexts[] = {
    "",  // 0
    "operation not permitted",  // 1
    "no such file or directory",  // 2
    "no such process",  // 3
    "interrupted system call",  // 4
    "input/output error",  // 5
    "no such device or address",  // 6
    "argument list too long",  // 7
    "exec format error",  // 8
    "bad file descriptor",  // 9
    "no child processes",  // 10
    "resource temporarily unavailable",  // 11
    "cannot allocate memory",  // 12
    "permission denied",  // 13
    "bad address",  // 14
    "block device required",  // 15
    "device or resource busy",  // 16
    "file exists",  // 17
    "invalid cross-device link",  // 18
    "no such device",  // 19
    "not a directory",  // 20
    "is a directory",  // 21
    "invalid argument",  // 22
    "too many open files in system",  // 23
    "too many open files",  // 24
    "inappropriate ioctl for device",  // 25
    "text file busy",  // 26
    "file too large",  // 27
    "no space left on device",  // 28
    "illegal seek",  // 29
    "read-only file system",  // 30
    "too many links",  // 31
    "broken pipe",  // 32
    "numerical argument out of domain",  // 33
    "numerical result out of range",  // 34
    "resource deadlock avoided",  // 35
    "file name too long",  // 36
    "no locks available",  // 37
    "function not implemented",  // 38
    "directory not empty",  // 39
    "too many levels of symbolic links",  // 40
    "",  // 41
    "no message of desired type",  // 42
    "identifier removed",  // 43
    "channel number out of range",  // 44
    "level 2 not synchronized",  // 45
    "level 3 halted",  // 46
    "level 3 reset",  // 47
    "link number out of range",  // 48
    "protocol driver not attached",  // 49
    "no CSI structure available",  // 50
    "level 2 halted",  // 51
    "invalid exchange",  // 52
    "invalid request descriptor",  // 53
    "exchange full",  // 54
    "no anode",  // 55
    "invalid request code",  // 56
    "invalid slot",  // 57
    "",  // 58
    "bad font file format",  // 59
    "device not a stream",  // 60
    "no data available",  // 61
    "timer expired",  // 62
    "out of streams resources",  // 63
    "machine is not on the network",  // 64
    "package not installed",  // 65
    "object is remote",  // 66
    "link has been severed",  // 67
    "advertise error",  // 68
    "srmount error",  // 69
    "communication error on send",  // 70
    "protocol error",  // 71
    "multihop attempted",  // 72
    "RFS specific error",  // 73
    "bad message",  // 74
    "value too large for defined data type",  // 75
    "name not unique on network",  // 76
    "file descriptor in bad state",  // 77
    "remote address changed",  // 78
    "can not access a needed shared library",  // 79
    "accessing a corrupted shared library",  // 80
    ".lib section in a.out corrupted",  // 81
    "attempting to link in too many shared libraries",  // 82
    "cannot exec a shared library directly",  // 83
    "invalid or incomplete multibyte or wide character",  // 84
    "interrupted system call should be restarted",  // 85
    "streams pipe error",  // 86
    "too many users",  // 87
    "socket operation on non-socket",  // 88
    "destination address required",  // 89
    "message too long",  // 90
    "protocol wrong type for socket",  // 91
    "protocol not available",  // 92
    "protocol not supported",  // 93
    "socket type not supported",  // 94
    "operation not supported",  // 95
    "protocol family not supported",  // 96
    "address family not supported by protocol",  // 97
    "address already in use",  // 98
    "cannot assign requested address",  // 99
    "network is down",  // 100
    "network is unreachable",  // 101
    "network dropped connection on reset",  // 102
    "software caused connection abort",  // 103
    "connection reset by peer",  // 104
    "no buffer space available",  // 105
    "transport endpoint is already connected",  // 106
    "transport endpoint is not connected",  // 107
    "cannot send after transport endpoint shutdown",  // 108
    "too many references: cannot splice",  // 109
    "connection timed out",  // 110
    "connection refused",  // 111
    "host is down",  // 112
    "no route to host",  // 113
    "operation already in progress",  // 114
    "operation now in progress",  // 115
    "stale NFS file handle",  // 116
    "structure needs cleaning",  // 117
    "not a XENIX named type file",  // 118
    "no XENIX semaphores available",  // 119
    "is a named type file",  // 120
    "remote I/O error",  // 121
    "disk quota exceeded",  // 122
    "no medium found",  // 123
    "wrong medium type",  // 124
    "operation canceled",  // 125
    "required key not available",  // 126
    "key has expired",  // 127
    "key has been revoked",  // 128
    "key was rejected by service",  // 129
    "owner died",  // 130
    "state not recoverable",  // 131
    "operation not possible due to RF-kill",  // 132
    "",  // 133
};

// Debian's Abseil has its own absl::string_view (not std's): convert at the
// boundary.
absl::string_view AV(std::string_view s) { return absl::string_view(s.data(), s.size()); }
std::string_view SV(absl::string_view s) { return std::string_view(s.data(), s.size()); }


// Marker layout: 6 bytes, [0] kind, [1] flags, [2..5] errno little-endian.
constexpr int kMarkerSize = 6;
enum : uint8_t {
  kFlagTimeout = 1,
  kFlagTemporary = 2,
  kFlagSyscall = 4,
  kFlagNotFound = 8,
};

absl::Cord EncodeMarker(const ErrorInfo& info) {
  char buf[kMarkerSize];
  buf[0] = static_cast<char>(info.kind);
  buf[1] = static_cast<char>((info.timeout ? kFlagTimeout : 0) |
                             (info.temporary ? kFlagTemporary : 0) |
                             (info.syscall ? kFlagSyscall : 0) |
                             (info.not_found ? kFlagNotFound : 0));
  const uint32_t e = static_cast<uint32_t>(info.err);
  for (int i = 0; i < 4; ++i) buf[2 + i] = static_cast<char>((e >> (8 * i)) & 0xff);
  return absl::Cord(absl::string_view(buf, kMarkerSize));  // fits a Cord's inline buffer
}

absl::Status Make(absl::StatusCode code, std::string_view msg, const ErrorInfo& info) {
  absl::Status s(code, AV(msg));
  s.SetPayload(AV(kMarkerUrl), EncodeMarker(info));
  return s;
}

// syscall.Errno's Timeout() and Temporary() (Linux).
bool ErrnoTimeout(int err) { return err == EAGAIN || err == EWOULDBLOCK || err == ETIMEDOUT; }
bool ErrnoTemporary(int err) {
  return err == EINTR || err == EMFILE || err == ENFILE || ErrnoTimeout(err);
}

ErrorInfo ErrnoInfo(int err, bool syscall) {
  ErrorInfo info;
  info.kind = ErrorKind::kErrno;
  info.err = err;
  info.timeout = ErrnoTimeout(err);
  info.temporary = ErrnoTemporary(err);
  info.syscall = syscall;
  return info;
}

ErrorInfo KindInfo(ErrorKind kind, bool timeout_and_temporary = false) {
  ErrorInfo info;
  info.kind = kind;
  info.timeout = timeout_and_temporary;
  info.temporary = timeout_and_temporary;
  return info;
}

// "op net source->addr: " (Go's OpError.Error() without the inner text).
void AppendOpPrefix(std::string* out, std::string_view op, std::string_view net,
                    std::string_view source, std::string_view addr) {
  out->append(op);
  if (!net.empty()) {
    out->push_back(' ');
    out->append(net);
  }
  if (!source.empty()) {
    out->push_back(' ');
    out->append(source);
  }
  if (!addr.empty()) {
    out->append(source.empty() ? " " : "->");
    out->append(addr);
  }
  out->append(": ");
}

std::string OpText(std::string_view op, std::string_view net, std::string_view source,
                   std::string_view addr, std::string_view inner_a,
                   std::string_view inner_b = {}, std::string_view inner_c = {}) {
  std::string out;
  out.reserve(op.size() + net.size() + source.size() + addr.size() + inner_a.size() +
              inner_b.size() + inner_c.size() + 6);
  AppendOpPrefix(&out, op, net, source, addr);
  out.append(inner_a);
  out.append(inner_b);
  out.append(inner_c);
  return out;
}

// Go's OpError.Temporary() special case: accept with a bare ECONNRESET or
// ECONNABORTED (not inside a SyscallError) is temporary.
void ApplyOpTemporary(std::string_view op, ErrorInfo* info) {
  if (op == "accept" && info->kind == ErrorKind::kErrno && !info->syscall &&
      (info->err == ECONNRESET || info->err == ECONNABORTED)) {
    info->temporary = true;
  }
}

constexpr std::string_view kClosedText = "use of closed network connection";
constexpr std::string_view kTimeoutText = "i/o timeout";

}  // namespace

std::string Concat(std::initializer_list<std::string_view> parts) {
  size_t n = 0;
  for (std::string_view p : parts) n += p.size();
  std::string out;
  out.reserve(n);
  for (std::string_view p : parts) out.append(p);
  return out;
}

ErrorInfo InfoOf(const absl::Status& s) {
  ErrorInfo info;
  if (s.ok()) return info;
  absl::optional<absl::Cord> p = s.GetPayload(AV(kMarkerUrl));
  if (!p.has_value() || p->size() != kMarkerSize) return info;
  char buf[kMarkerSize];
  size_t pos = 0;
  for (absl::string_view chunk : p->Chunks()) {
    std::memcpy(buf + pos, chunk.data(), chunk.size());
    pos += chunk.size();
  }
  info.kind = static_cast<ErrorKind>(static_cast<uint8_t>(buf[0]));
  const uint8_t flags = static_cast<uint8_t>(buf[1]);
  info.timeout = flags & kFlagTimeout;
  info.temporary = flags & kFlagTemporary;
  info.syscall = flags & kFlagSyscall;
  info.not_found = flags & kFlagNotFound;
  uint32_t e = 0;
  for (int i = 0; i < 4; ++i) e |= static_cast<uint32_t>(static_cast<uint8_t>(buf[2 + i])) << (8 * i);
  info.err = static_cast<int>(e);
  return info;
}

std::string ErrnoText(int err) {
  if (err >= 0 && static_cast<size_t>(err) < std::size(kErrnoTexts) &&
      !kErrnoTexts[err].empty()) {
    return std::string(kErrnoTexts[err]);
  }
  return Concat({"errno ", std::to_string(err)});
}

absl::StatusCode ErrnoCode(int err) {
  switch (err) {
    case ETIMEDOUT:
      return absl::StatusCode::kDeadlineExceeded;
    case ECONNREFUSED:
    case ECONNRESET:
    case EPIPE:
    case ENETUNREACH:
    case EHOSTUNREACH:
      return absl::StatusCode::kUnavailable;
    case EINVAL:
      return absl::StatusCode::kInvalidArgument;
    default:
      return absl::StatusCode::kUnknown;
  }
}

absl::Status MakeSyscallError(std::string_view syscall, int err) {
  return Make(ErrnoCode(err), Concat({syscall, ": ", ErrnoText(err)}),
              ErrnoInfo(err, /*syscall=*/true));
}

absl::Status MakeErrno(int err) {
  return Make(ErrnoCode(err), ErrnoText(err), ErrnoInfo(err, /*syscall=*/false));
}

absl::Status MakeClosed() {
  return Make(absl::StatusCode::kFailedPrecondition, kClosedText,
              KindInfo(ErrorKind::kClosed));
}

absl::Status MakeTimeout() {
  return Make(absl::StatusCode::kDeadlineExceeded, kTimeoutText,
              KindInfo(ErrorKind::kTimeout, /*timeout_and_temporary=*/true));
}

absl::Status MakeCanceled() {
  return Make(absl::StatusCode::kCancelled, "operation was canceled",
              KindInfo(ErrorKind::kCanceled));
}

absl::Status MakeEOF() {
  return Make(absl::StatusCode::kOutOfRange, "EOF", KindInfo(ErrorKind::kEOF));
}

absl::Status MakeUnexpectedEOF() {
  return Make(absl::StatusCode::kUnknown, "unexpected EOF",
              KindInfo(ErrorKind::kUnexpectedEOF));
}

absl::Status MakeAddrError(std::string_view reason, std::string_view addr) {
  return Make(absl::StatusCode::kInvalidArgument,
              addr.empty() ? std::string(reason) : Concat({"address ", addr, ": ", reason}),
              KindInfo(ErrorKind::kAddr));
}

absl::Status MakeMissingAddress() {
  return Make(absl::StatusCode::kInvalidArgument, "missing address",
              KindInfo(ErrorKind::kAddr));
}

absl::Status MakeUnknownNetwork(std::string_view network) {
  return Make(absl::StatusCode::kInvalidArgument, Concat({"unknown network ", network}),
              KindInfo(ErrorKind::kUnknownNetwork));
}

absl::Status MakeUnsupportedNetwork(std::string_view network) {
  return Make(absl::StatusCode::kUnimplemented, Concat({"unsupported network ", network}),
              KindInfo(ErrorKind::kUnsupported));
}

absl::Status MakeDNSError(const DNSErrorSpec& spec) {
  const std::string msg =
      spec.server.empty() ? Concat({"lookup ", spec.name, ": ", spec.err})
                          : Concat({"lookup ", spec.name, " on ", spec.server, ": ", spec.err});
  ErrorInfo info;
  info.kind = ErrorKind::kDNS;
  info.timeout = spec.timeout;
  info.temporary = spec.timeout || spec.temporary;
  info.not_found = spec.not_found;
  const absl::StatusCode code = spec.not_found ? absl::StatusCode::kNotFound
                                : spec.timeout  ? absl::StatusCode::kDeadlineExceeded
                                : spec.canceled ? absl::StatusCode::kCancelled
                                                : absl::StatusCode::kUnknown;
  return Make(code, msg, info);
}

absl::Status MakeNotFiber() {
  return Make(absl::StatusCode::kFailedPrecondition, "not called from a fiber",
              KindInfo(ErrorKind::kNotFiber));
}

absl::Status OpError(std::string_view op, std::string_view net, std::string_view source,
                     std::string_view addr, const absl::Status& inner) {
  if (inner.ok()) return inner;
  ErrorInfo info = InfoOf(inner);
  if (info.kind == ErrorKind::kEOF) return inner;
  absl::Status s(inner.code(), OpText(op, net, source, addr, SV(inner.message())));
  inner.ForEachPayload([&s](absl::string_view url, const absl::Cord& payload) {
    s.SetPayload(url, payload);
  });
  if (info.kind != ErrorKind::kForeign) {
    ErrorInfo wrapped = info;
    ApplyOpTemporary(op, &wrapped);
    if (wrapped.temporary != info.temporary) s.SetPayload(AV(kMarkerUrl), EncodeMarker(wrapped));
  }
  return s;
}

absl::Status OpErrorErrno(std::string_view op, std::string_view net, std::string_view source,
                          std::string_view addr, std::string_view syscall, int err) {
  const std::string text = ErrnoText(err);
  ErrorInfo info = ErrnoInfo(err, /*syscall=*/!syscall.empty());
  ApplyOpTemporary(op, &info);
  if (syscall.empty()) return Make(ErrnoCode(err), OpText(op, net, source, addr, text), info);
  return Make(ErrnoCode(err), OpText(op, net, source, addr, syscall, ": ", text), info);
}

absl::Status OpErrorClosed(std::string_view op, std::string_view net, std::string_view source,
                           std::string_view addr) {
  return Make(absl::StatusCode::kFailedPrecondition, OpText(op, net, source, addr, kClosedText),
              KindInfo(ErrorKind::kClosed));
}

absl::Status OpErrorTimeout(std::string_view op, std::string_view net, std::string_view source,
                            std::string_view addr) {
  return Make(absl::StatusCode::kDeadlineExceeded, OpText(op, net, source, addr, kTimeoutText),
              KindInfo(ErrorKind::kTimeout, /*timeout_and_temporary=*/true));
}

}  // namespace gonet::net_internal

namespace gonet::net {

using net_internal::ErrorKind;
using net_internal::InfoOf;

bool IsEOF(const absl::Status& s) { return InfoOf(s).kind == ErrorKind::kEOF; }
bool IsTimeout(const absl::Status& s) { return InfoOf(s).timeout; }
bool IsClosed(const absl::Status& s) { return InfoOf(s).kind == ErrorKind::kClosed; }
int Errno(const absl::Status& s) {
  const net_internal::ErrorInfo info = InfoOf(s);
  return info.kind == ErrorKind::kErrno ? info.err : 0;
}

}  // namespace gonet::net
