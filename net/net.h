// net.h: gonet's public net package: Go's net (TCP part) for fibers.
//
// Conns and Listeners look blocking to the fiber that calls them, as in Go: a
// Read with no data parks the calling fiber (never the worker thread) until the
// socket is readable, a deadline passes, or the conn is closed. The netpoller
// underneath is epoll (Linux) or kqueue (BSD, macOS).
//
// Errors. Every error is an absl::Status whose message() is exactly the text Go
// 1.19's err.Error() prints for the same failure, e.g.
//   "dial tcp 127.0.0.1:8888: connect: connection refused"
//   "read tcp 127.0.0.1:8888->127.0.0.1:53412: i/o timeout"
//   "write tcp 127.0.0.1:53412->127.0.0.1:8888: write: broken pipe"
//   "read tcp 127.0.0.1:8888->127.0.0.1:53412: use of closed network connection"
//   "listen tcp: address 99999: invalid port"
// Codes: EOF -> kOutOfRange; timeout (a deadline, or the kernel's ETIMEDOUT) ->
// kDeadlineExceeded; closed -> kFailedPrecondition; refused/reset/broken
// pipe/unreachable -> kUnavailable; bad address, port, network or argument ->
// kInvalidArgument; host not found -> kNotFound; a context canceled ("operation
// was canceled") -> kCancelled; a control func's error keeps its own code;
// anything else -> kUnknown (errno kept). Networks Go knows but gonet does not
// implement ("ip*", raw IP sockets) fail with kUnimplemented, "unsupported network
// ip4".
// The predicates below read a marker gonet attaches to its own statuses, never
// the code: IsEOF(absl::OutOfRangeError("x")) is false.
//
// Fibers. Dial, Listen, Accept, Read and Write need a running fiber (inside
// gonet::Run); outside one they return kFailedPrecondition ("not called from a
// fiber"). Close, the setters, Control and the address helpers work anywhere.
// A Conn or Listener belongs to the Run that made it; destroying an open one
// closes its fd. A plain thread in Close waits for operations in progress by
// blocking, never by spinning.
//
// After Run returns (gonet/fiber/fiber.h, "Shutdown with parked fibers"): fibers
// parked in Accept, Read, Write or Dial were abandoned and never release the fd.
// Close and the destructors then close the fd at once, from any thread (also from
// a fiber of a later Run), and Close returns OK the first time. A Dial still
// connecting when Run ended has its socket closed by Run itself. Using a Conn or
// Listener in a later Run is not supported (Read/Write would wait on the poller of
// the Run that is gone); close it and make a new one.
//
// Callbacks: Control's f may throw; the fd's reference is released and the
// exception propagates to Control's caller.
//
// SIGPIPE never kills the process because of a write to a socket, whatever the
// process's SIGPIPE disposition is (writes use MSG_NOSIGNAL).
//
// Networks: "tcp" (dual stack), "tcp4", "tcp6"; "udp", "udp4", "udp6" (Dial,
// ListenPacket); "unix" (Dial, Listen), "unixpacket" (Dial, Listen), "unixgram"
// (Dial, ListenPacket), whose address is a path or "@name" (Linux's abstract
// namespace); net::Pipe() for an in-memory pair. Addresses: "host:port",
// ":port" (all interfaces for Listen, the local system for Dial, as in Go),
// "[v6]:port", "[fe80::1%eth0]:port", "localhost:port"; port "0" picks a free
// port; a port may be a service name ("http"). Names resolve through /etc/hosts
// first, then the system resolver.
//
// Type assertion, as Go's c.(*TCPConn): std::dynamic_pointer_cast<TCPConn>(c).

#ifndef GONET_NET_NET_H_
#define GONET_NET_NET_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fiber/context.h"

namespace gonet::net_internal {
struct ConnAccess;
}  // namespace gonet::net_internal

namespace gonet::netfd {
class NetFD;
}  // namespace gonet::netfd

namespace gonet::net {

// Go's (n int, err error): both can be meaningful at once (a partial write
// followed by EPIPE gives n > 0 and an error).
struct IOResult {
  size_t n = 0;
  absl::Status err;
};

// io.EOF: the peer closed its side in order; every later Read says so again.
// Conn::Read returns it bare, never wrapped in an operation error ("EOF").
bool IsEOF(const absl::Status& s);
// Go's Timeout(): a deadline passed (Set*Deadline, Dial timeout), or the kernel
// reported ETIMEDOUT (or EAGAIN, as Go's Errno.Timeout()).
bool IsTimeout(const absl::Status& s);
// net.ErrClosed: this side closed the Conn or Listener ("use of closed network
// connection").
bool IsClosed(const absl::Status& s);
// The syscall errno behind the error (ECONNREFUSED, EPIPE, ...), or 0 when
// there is none (timeouts, closed, EOF, address errors, foreign statuses).
int Errno(const absl::Status& s);

// A network endpoint as a value: Go's *TCPAddr, *UDPAddr, *UnixAddr, net.Pipe's
// pipeAddr, or a nil Addr, told apart by kind() (Network()).
//   TCP and UDP: an IP of 0 bytes (none: the wildcard, printed as ""), 4 bytes
//   (IPv4) or 16 bytes (IPv6, which includes the IPv4-mapped ::ffff:a.b.c.d,
//   printed dotted as Go does), an IPv6 zone ("eth0", or a decimal interface
//   index) and a port.
//   Unix: a path, or "@name" for a Linux abstract socket (the kernel's leading
//   NUL shown as '@', as Go does); an unnamed socket's address reads "@".
// Cheap to copy; all methods are const and thread-compatible.
class Addr {
 public:
  // What the address is; Network() names it.
  enum class Kind : uint8_t {
    kTCP,         // "tcp"
    kUDP,         // "udp"
    kUnix,        // "unix"
    kUnixgram,    // "unixgram"
    kUnixpacket,  // "unixpacket"
    kPipe,        // "pipe": both ends of net::Pipe(); String() "pipe"
    kNil,         // Go's nil Addr (an unconnected UDP socket's RemoteAddr, the sender of
                  // an unnamed Unix datagram): Network() "", String() "<nil>"
  };

  // No IP, port 0: String() is ":0", as Go's &TCPAddr{}.
  Addr() = default;
  // A TCP address. `ip` must hold 0, 4 or 16 bytes; any other length is treated
  // as no IP. `port` is kept as given (Go does not range-check TCPAddr.Port either).
  Addr(absl::Span<const uint8_t> ip, int port, std::string_view zone = {});
  // A UDP address (Go's &UDPAddr{IP, Port, Zone}).
  static Addr UDP(absl::Span<const uint8_t> ip, int port, std::string_view zone = {});
  // A Unix address (Go's &UnixAddr{Name, Net}); `network` is "unix", "unixgram" or
  // "unixpacket" (anything else is taken as "unix").
  static Addr Unix(std::string_view network, std::string_view name);
  static Addr Pipe();
  static Addr Nil();
  // The same endpoint as another kind (a TCP Addr's IP and port as a UDP Addr).
  // Only meaningful between kTCP and kUDP, and among the three Unix kinds.
  Addr WithKind(Kind k) const;
  Kind kind() const { return kind_; }
  bool IsNil() const { return kind_ == Kind::kNil; }
  bool IsUnix() const {
    return kind_ == Kind::kUnix || kind_ == Kind::kUnixgram || kind_ == Kind::kUnixpacket;
  }
  // A Unix address's name (path or "@name"); empty for the other kinds.
  const std::string& Name() const { return zone_; }
  // From a kernel socket address (getsockname, getpeername, accept). AF_INET
  // gives a 4-byte IP; AF_INET6 a 16-byte one (accepted IPv4 peers of a
  // dual-stack socket are v4-mapped and print dotted) with the scope id as
  // zone (the interface name, or its decimal index when it has none). Any
  // other family (or a short `len`) gives the empty Addr.
  // AF_UNIX gives a kUnix Addr (WithKind makes it unixgram or unixpacket).
  static Addr FromSockaddr(const sockaddr* sa, socklen_t len);
  explicit Addr(const sockaddr_storage& ss)
      : Addr(FromSockaddr(reinterpret_cast<const sockaddr*>(&ss), sizeof(ss))) {}

  // Go's Addr.Network(): "tcp", "udp", "unix", "unixgram", "unixpacket", "pipe"
  // (and "" for a nil Addr).
  std::string Network() const;
  // Go's TCPAddr/UDPAddr.String(): JoinHostPort(ip[%zone], port), e.g.
  // "127.0.0.1:8888", "[::1]:8888", "[fe80::1%eth0]:80", ":80" (no IP),
  // "1.2.3.4:80" for ::ffff:1.2.3.4. A Unix address: its name. "pipe"; "<nil>".
  std::string String() const;
  int Port() const { return port_; }

  // The IP bytes as stored: 0, 4 or 16 of them.
  absl::Span<const uint8_t> IP() const {
    return absl::MakeConstSpan(ip_.data(), ip_len_);
  }
  const std::string& Zone() const { return zone_; }
  // Go's IP.To4() != nil: a 4-byte IP or an IPv4-mapped 16-byte one.
  bool IsIPv4() const;
  // Go's isWildcard(): no IP, 0.0.0.0 (in either form) or ::.
  bool IsWildcard() const;

  // Go's ipToSockaddr: the socket address to bind or connect to for a socket
  // of `family` (AF_INET or AF_INET6). For AF_INET, no IP means 0.0.0.0 and an
  // IPv6 IP fails with "address <ip>: non-IPv4 address". For AF_INET6, no IP
  // and 0.0.0.0 both mean ::, an IPv4 IP becomes v4-mapped, and the zone
  // becomes the scope id (interface name, else decimal, else 0). Returns the
  // length to pass to bind/connect. Errors are kInvalidArgument.
  // For AF_UNIX (a Unix Addr): the name, a leading '@' becoming the abstract
  // namespace's NUL; a name longer than sun_path fails with EINVAL
  // ("invalid argument"), as Go's syscall package does.
  absl::StatusOr<socklen_t> ToSockaddr(int family, sockaddr_storage* out) const;

  // Same kind, IP bytes (4-byte and v4-mapped forms differ here), zone and port
  // (or name).
  friend bool operator==(const Addr& a, const Addr& b);
  friend bool operator!=(const Addr& a, const Addr& b) { return !(a == b); }

 private:
  void AssignSockaddr(const sockaddr* sa, socklen_t len);

  std::array<uint8_t, 16> ip_{};
  uint8_t ip_len_ = 0;  // 0, 4 or 16
  Kind kind_ = Kind::kTCP;
  int port_ = 0;
  std::string zone_;  // TCP/UDP: the IPv6 zone; Unix: the name
};

// A stream connection (Go's net.Conn). Read, Write and Close may be called
// from different fibers at once: a Close wakes a blocked Read/Write, which then
// fails with IsClosed. Two concurrent Reads (or Writes) take turns.
class Conn {
 public:
  virtual ~Conn() = default;
  // Reads up to buf.size() bytes with one read(2) once data is there; parks
  // meanwhile. (n > 0, ok), or (0, EOF) after the peer's FIN, or an error.
  // An empty buf returns (0, ok) at once.
  virtual IOResult Read(absl::Span<char> buf) = 0;
  // Writes all of buf (looping over short writes), or fails; n counts what the
  // kernel took before the error.
  virtual IOResult Write(absl::Span<const char> buf) = 0;
  // Closes the fd once no Read/Write uses it any more; wakes blocked ones.
  // A second Close fails with IsClosed.
  virtual absl::Status Close() = 0;
  // The addresses stay readable after Close.
  virtual Addr LocalAddr() const = 0;
  virtual Addr RemoteAddr() const = 0;
  // Deadlines are absolute and sticky: once passed, every Read/Write (pending
  // or later) fails with IsTimeout until a later deadline is set.
  // absl::InfiniteFuture() clears; a time in the past expires at once.
  virtual absl::Status SetDeadline(absl::Time t) = 0;
  virtual absl::Status SetReadDeadline(absl::Time t) = 0;
  virtual absl::Status SetWriteDeadline(absl::Time t) = 0;
};

// What Dial("tcp", ...) and Accept() hand out.
class TCPConn : public Conn {
 public:
  ~TCPConn() override;

  IOResult Read(absl::Span<char> buf) override;
  IOResult Write(absl::Span<const char> buf) override;
  absl::Status Close() override;
  Addr LocalAddr() const override;
  Addr RemoteAddr() const override;
  absl::Status SetDeadline(absl::Time t) override;
  absl::Status SetReadDeadline(absl::Time t) override;
  absl::Status SetWriteDeadline(absl::Time t) override;

  absl::Status SetNoDelay(bool on);  // default on, as in Go
  absl::Status SetKeepAlive(bool on);
  // Sets TCP_KEEPINTVL and TCP_KEEPIDLE to d rounded up to whole seconds.
  absl::Status SetKeepAlivePeriod(absl::Duration d);
  absl::Status SetLinger(int sec);  // <0 default, 0 discard (RST), >0 linger
  absl::Status SetReadBuffer(int bytes);
  absl::Status SetWriteBuffer(int bytes);
  absl::Status CloseRead();   // shutdown(SHUT_RD)
  absl::Status CloseWrite();  // shutdown(SHUT_WR): the peer reads EOF
  // Go's SyscallConn().Control: runs f with the socket's fd while holding a
  // reference, so the fd cannot be closed under it (a concurrent Close waits
  // for f). For getsockopt and interop. On a closed conn: IsClosed, f not
  // called.
  absl::Status Control(absl::FunctionRef<void(int fd)> f);

  // Go's TCPConn.ReadFrom(*os.File): sends from file_fd's current offset to this
  // conn with sendfile(2) (the bytes never pass through user space), up to `limit`
  // bytes (negative: to the end of the file), and advances the file's offset by what
  // was sent. Where the kernel refuses sendfile for that fd before anything was sent
  // (not a regular file...), it copies with read/write instead. Returns the bytes
  // written; errors read "readfrom tcp L->R: sendfile: <errno text>". The fd stays
  // the caller's. Fiber only.
  IOResult ReadFromFile(int file_fd, int64_t limit = -1);
  // Go's TCPConn.ReadFrom(Conn): copies from src until its EOF (or `limit` bytes):
  // from a TCPConn or a "unix" UnixConn with splice(2) through a pipe (no copy
  // through user space), from any other Conn with Read and Write. EOF is not an
  // error. Errors read "readfrom tcp L->R: <src's or this conn's error>".
  IOResult ReadFrom(Conn& src, int64_t limit = -1);

 protected:
  // Takes over a connected socket; the addresses are read once here
  // (getsockname/getpeername) and cached.
  TCPConn(std::shared_ptr<netfd::NetFD> fd, Addr local, Addr remote);
  friend struct net_internal::ConnAccess;

 private:
  std::shared_ptr<netfd::NetFD> fd_;
  Addr local_;
  Addr remote_;
};

// A stream listener (Go's net.Listener).
class Listener {
 public:
  virtual ~Listener() = default;
  // Parks until a connection arrives; the fd is non-blocking and close-on-exec.
  virtual absl::StatusOr<std::shared_ptr<Conn>> Accept() = 0;
  virtual absl::Status Close() = 0;  // unblocks a blocked Accept with IsClosed
  virtual Addr Address() const = 0;  // Go's Addr(): "[::]:8080", "127.0.0.1:8080"
};

// What Listen("tcp*", ...) hands out.
class TCPListener : public Listener {
 public:
  ~TCPListener() override;

  absl::StatusOr<std::shared_ptr<Conn>> Accept() override;
  absl::Status Close() override;
  Addr Address() const override;

  // Accept() without the upcast.
  absl::StatusOr<std::shared_ptr<TCPConn>> AcceptTCP();
  // Deadline for Accept; absl::InfiniteFuture() clears.
  absl::Status SetDeadline(absl::Time t);
  // As TCPConn::Control.
  absl::Status Control(absl::FunctionRef<void(int fd)> f);

 protected:
  // Takes over a listening socket; keep_alive is applied to accepted conns
  // (zero = 15 s, negative = off), as ListenConfig's.
  TCPListener(std::shared_ptr<netfd::NetFD> fd, Addr local, absl::Duration keep_alive);
  friend struct net_internal::ConnAccess;

 private:
  std::shared_ptr<netfd::NetFD> fd_;
  Addr local_;
  absl::Duration keep_alive_ = absl::ZeroDuration();
};

// Go's net.Buffers: several buffers written with one writev(2) where the conn is a
// socket (TCPConn, UnixConn), else one Write each. Returns the bytes written in all.
using Buffers = std::vector<absl::Span<const char>>;
IOResult WriteBuffers(Conn& c, const Buffers& bufs);

// ReadFrom's result: Go's (n, addr, err). addr is the sender (a nil Addr when the
// sender has none, as an unnamed Unix datagram socket).
struct PacketResult {
  size_t n = 0;
  Addr addr;
  absl::Status err;
};

// A packet-oriented socket (Go's net.PacketConn): UDPConn, and UnixConn on a
// "unixgram" socket. Each ReadFrom returns one datagram; one that does not fit in
// buf is cut to buf.size() and the rest dropped, without an error (as Go;
// ReadMsgUDP/ReadMsgUnix report MSG_TRUNC in flags).
class PacketConn {
 public:
  virtual ~PacketConn() = default;
  virtual PacketResult ReadFrom(absl::Span<char> buf) = 0;
  virtual IOResult WriteTo(absl::Span<const char> buf, const Addr& addr) = 0;
  virtual absl::Status Close() = 0;
  virtual Addr LocalAddr() const = 0;
  virtual absl::Status SetDeadline(absl::Time t) = 0;
  virtual absl::Status SetReadDeadline(absl::Time t) = 0;
  virtual absl::Status SetWriteDeadline(absl::Time t) = 0;
};

// ReadMsgUDP/ReadMsgUnix: n data bytes and oobn control bytes read, the recvmsg
// flags (MSG_TRUNC, MSG_CTRUNC...), the sender.
struct MsgResult {
  size_t n = 0, oobn = 0;
  int flags = 0;
  Addr addr;
  absl::Status err;
};

// What Dial("udp*") and ListenPacket("udp*") hand out (Go's *UDPConn). Read/Write
// need a connected socket (Dial) for Write; ReadFrom/WriteTo work on both (WriteTo
// on a dialed conn fails with "use of WriteTo with pre-connected connection").
// An ICMP error for a connected socket shows up in the next Read or Write
// ("read: connection refused"). WriteTo takes a UDP Addr only (Addr::UDP,
// ResolveUDPAddr, a ReadFrom sender); a TCP Addr is EINVAL, as Go's type check.
class UDPConn : public Conn, public PacketConn {
 public:
  ~UDPConn() override;

  IOResult Read(absl::Span<char> buf) override;
  IOResult Write(absl::Span<const char> buf) override;
  absl::Status Close() override;
  Addr LocalAddr() const override;
  Addr RemoteAddr() const override;  // a nil Addr unless dialed
  absl::Status SetDeadline(absl::Time t) override;
  absl::Status SetReadDeadline(absl::Time t) override;
  absl::Status SetWriteDeadline(absl::Time t) override;
  PacketResult ReadFrom(absl::Span<char> buf) override;
  IOResult WriteTo(absl::Span<const char> buf, const Addr& addr) override;

  // recvmsg: the datagram into b, control messages into oob.
  MsgResult ReadMsgUDP(absl::Span<char> b, absl::Span<char> oob);
  // sendmsg to addr (null on a dialed conn), with control messages oob; n counts b's
  // bytes sent.
  IOResult WriteMsgUDP(absl::Span<const char> b, absl::Span<const char> oob, const Addr* addr);
  absl::Status SetReadBuffer(int bytes);
  absl::Status SetWriteBuffer(int bytes);
  absl::Status Control(absl::FunctionRef<void(int fd)> f);  // as TCPConn::Control

 protected:
  UDPConn(std::shared_ptr<netfd::NetFD> fd, Addr local, Addr remote);
  friend struct net_internal::ConnAccess;

 private:
  std::shared_ptr<netfd::NetFD> fd_;
  Addr local_;
  Addr remote_;
};

// What Dial("unix*"), UnixListener::Accept and ListenPacket("unixgram") hand out
// (Go's *UnixConn). On "unix" and "unixpacket" it is a Conn; on "unixgram" also a
// PacketConn. Descriptors travel in oob (UnixRights / ParseUnixRights); received
// descriptors are the caller's to close (ParseUnixRights hands them over), and
// ReadMsgUnix closes those that arrived but did not fit in oob (MSG_CTRUNC), so none
// leak.
class UnixConn : public Conn, public PacketConn {
 public:
  ~UnixConn() override;

  IOResult Read(absl::Span<char> buf) override;
  IOResult Write(absl::Span<const char> buf) override;
  absl::Status Close() override;
  Addr LocalAddr() const override;
  Addr RemoteAddr() const override;
  absl::Status SetDeadline(absl::Time t) override;
  absl::Status SetReadDeadline(absl::Time t) override;
  absl::Status SetWriteDeadline(absl::Time t) override;
  PacketResult ReadFrom(absl::Span<char> buf) override;
  IOResult WriteTo(absl::Span<const char> buf, const Addr& addr) override;

  MsgResult ReadMsgUnix(absl::Span<char> b, absl::Span<char> oob);
  IOResult WriteMsgUnix(absl::Span<const char> b, absl::Span<const char> oob, const Addr* addr);
  absl::Status CloseRead();
  absl::Status CloseWrite();
  absl::Status SetReadBuffer(int bytes);
  absl::Status SetWriteBuffer(int bytes);
  absl::Status Control(absl::FunctionRef<void(int fd)> f);

 protected:
  UnixConn(std::shared_ptr<netfd::NetFD> fd, Addr local, Addr remote, bool dialed);
  friend struct net_internal::ConnAccess;

 private:
  std::shared_ptr<netfd::NetFD> fd_;
  Addr local_;
  Addr remote_;
  bool dialed_;  // made by Dial (Go's isConnected): WriteTo then fails
};

// What Listen("unix"/"unixpacket") hands out (Go's *UnixListener). Close removes the
// socket file when this listener created it (not for "@abstract" names), as Go.
class UnixListener : public Listener {
 public:
  ~UnixListener() override;

  absl::StatusOr<std::shared_ptr<Conn>> Accept() override;
  absl::Status Close() override;
  Addr Address() const override;

  absl::StatusOr<std::shared_ptr<UnixConn>> AcceptUnix();
  absl::Status SetDeadline(absl::Time t);
  // Whether Close unlinks the socket file (default: yes when Listen created it).
  void SetUnlinkOnClose(bool unlink);
  absl::Status Control(absl::FunctionRef<void(int fd)> f);

 protected:
  UnixListener(std::shared_ptr<netfd::NetFD> fd, Addr local, bool unlink);
  friend struct net_internal::ConnAccess;

 private:
  std::shared_ptr<netfd::NetFD> fd_;
  Addr local_;
  std::atomic<bool> unlink_;
  std::atomic<bool> unlinked_{false};  // Close unlinks once
};

// Go's net.ListenPacket: "udp", "udp4", "udp6" (a UDPConn) and "unixgram" (a
// UnixConn). SO_BROADCAST is set on UDP sockets, as Go does.
absl::StatusOr<std::shared_ptr<PacketConn>> ListenPacket(std::string_view network,
                                                         std::string_view address);

// Go's syscall.UnixRights: one SCM_RIGHTS control message carrying fds, for oob.
std::string UnixRights(absl::Span<const int> fds);
// Go's ParseSocketControlMessage + ParseUnixRights over every message in oob: the
// descriptors received (now the caller's to close). A malformed message fails with
// kInvalidArgument ("invalid argument"); descriptors of well-formed messages before
// it are closed then, so that none leak.
absl::StatusOr<std::vector<int>> ParseUnixRights(absl::Span<const char> oob);

// Go's net.Pipe: a synchronous, in-memory, full-duplex connection. Each Write blocks
// until the other end's Reads have consumed all of it; no buffering. Deadlines work
// as on sockets ("read pipe: i/o timeout"); after Close, the closing end gets
// io.ErrClosedPipe ("io: read/write on closed pipe") and the other end io.EOF on
// Read, "io: read/write on closed pipe" on Write. Addrs: Network() and String() are
// "pipe". Needs a fiber for Read and Write. As for sockets, Close and the destructors
// work after the Run ends, also with a Read or Write abandoned in it (they then wake
// nobody); using the pipe in a later Run is not supported.
std::pair<std::shared_ptr<Conn>, std::shared_ptr<Conn>> Pipe();

// Go's net.Resolver. Lookups run under ctx (its deadline and cancellation): "lookup
// HOST: i/o timeout" / "lookup HOST: operation was canceled" when it ends first. Names
// go through /etc/hosts first, then DNS: with prefer_go, gonet's own DNS client
// (/etc/resolv.conf's servers, search list, ndots, timeout, attempts; UDP, and TCP
// for a truncated answer; no thread); otherwise the system resolver (getaddrinfo and
// friends, in gonet::Blocking). Identical concurrent lookups share one query, and at
// most 500 system-resolver calls run at once (the rest wait). Fiber only.
class Resolver {
 public:
  bool prefer_go = false;  // true: the built-in DNS client, never the system resolver
  // The built-in client's servers as "ip:port" ("127.0.0.1:5353", "[::1]:53"); empty =
  // /etc/resolv.conf's nameservers (its other settings apply either way). For split
  // DNS and for tests (Go gets the same with Resolver.Dial).
  std::vector<std::string> nameservers;

  // Addresses as strings ("127.0.0.1", "::1").
  absl::StatusOr<std::vector<std::string>> LookupHost(const Context& ctx,
                                                      std::string_view host) const;
  // Addresses as Addrs with port 0 and the zone (Go's IPAddr).
  absl::StatusOr<std::vector<Addr>> LookupIPAddr(const Context& ctx, std::string_view host) const;
  // network "tcp*", "udp*" or "" (both); a number or a service name.
  absl::StatusOr<int> LookupPort(const Context& ctx, std::string_view network,
                                 std::string_view service) const;
  // Reverse lookup: the names of an IP address (/etc/hosts first, then PTR).
  absl::StatusOr<std::vector<std::string>> LookupAddr(const Context& ctx,
                                                      std::string_view addr) const;
  // The canonical name, with a trailing dot.
  absl::StatusOr<std::string> LookupCNAME(const Context& ctx, std::string_view host) const;
  struct SRV {
    std::string target;
    uint16_t port, priority, weight;
  };
  // _service._proto.name (or name alone when service and proto are empty), ordered
  // by priority, then randomly by weight (RFC 2782), as Go. Returns the name queried.
  absl::StatusOr<std::pair<std::string, std::vector<SRV>>> LookupSRV(
      const Context& ctx, std::string_view service, std::string_view proto,
      std::string_view name) const;
};
const Resolver& DefaultResolver();

// Go's ResolveTCPAddr / ResolveUDPAddr / ResolveUnixAddr: an Addr from a string (for
// WriteTo, Dialer::local_address...). Names are looked up (Fiber only then; an IP
// literal or a Unix path works anywhere). Errors are Go's ("unknown network tcp7",
// "address 1.2.3.4: missing port in address").
absl::StatusOr<Addr> ResolveTCPAddr(std::string_view network, std::string_view address);
absl::StatusOr<Addr> ResolveUDPAddr(std::string_view network, std::string_view address);
absl::StatusOr<Addr> ResolveUnixAddr(std::string_view network, std::string_view address);

// Listen("tcp", ":8080"): all interfaces, one dual-stack socket (IPv4 peers
// show up as plain IPv4). "tcp4"/"tcp6" restrict the family. A host name binds
// its first IPv4 address (else its first one). SO_REUSEADDR is set; the
// backlog is the system's somaxconn. Accepted conns get TCP_NODELAY and a 15 s
// keep-alive.
absl::StatusOr<std::shared_ptr<Listener>> Listen(std::string_view network,
                                                 std::string_view address);
// Connects to every address the host resolves to, in order, with Go's
// dual-stack fallback (a second family starts after 300 ms or once the first
// fails) and Go's 15 s keep-alive. Returns the first address's error when all
// fail.
absl::StatusOr<std::shared_ptr<Conn>> Dial(std::string_view network,
                                           std::string_view address);
// timeout: 0 = none; negative = fails at once with a timeout, as in Go.
absl::StatusOr<std::shared_ptr<Conn>> DialTimeout(std::string_view network,
                                                  std::string_view address,
                                                  absl::Duration timeout);

// Go's Dialer.Control / ListenConfig.Control: runs on every socket a Dial or Listen
// makes, after socket() and before bind/connect, with Go's network name for it
// ("tcp4" or "tcp6") and the address it is about to connect to (Dial) or bind (Listen),
// as "ip:port" (Listen(":0") passes ":0"). A non-OK status aborts: the socket is closed
// and the call fails with "dial tcp ADDR: <status's message>" (or "listen tcp ADDR: ..."),
// keeping the status's code. An exception closes the socket and propagates to the caller
// of Dial, DialContext or Listen. May run on any fiber of the Run, once per socket.
using ControlFunc =
    std::function<absl::Status(std::string_view network, std::string_view address, int fd)>;

// Go's net.Dialer.
struct Dialer {
  absl::Duration timeout = absl::ZeroDuration();     // zero = none; negative = already expired
  absl::Time deadline = absl::InfiniteFuture();      // the earlier of the two wins
  absl::Duration keep_alive = absl::ZeroDuration();  // zero = Go's default (15s); negative = off
  std::string local_address;                         // "" = any; "ip:port" to bind before connect
  ControlFunc control;                               // empty = none
  // Looks up host names (Go's Dialer.Resolver); null = DefaultResolver(). Must
  // outlive the dial.
  const Resolver* resolver = nullptr;
  // DialContext(Background(), ...).
  absl::StatusOr<std::shared_ptr<Conn>> Dial(std::string_view network,
                                             std::string_view address) const;
  // Go's DialContext. The earliest of ctx's deadline, `deadline` and now + `timeout`
  // bounds the whole dial, host name lookup included ("dial tcp ADDR: i/o timeout", or
  // "dial tcp: lookup HOST: i/o timeout"). Canceling ctx stops it at once, a connect
  // in progress too, whose socket is closed: "dial tcp ADDR: operation was canceled"
  // (kCancelled), or "dial tcp: lookup HOST: operation was canceled" during the
  // lookup. A ctx already done fails before any socket is made. Once it returns, ctx no
  // longer matters to the connection (as Go). Fiber only.
  absl::StatusOr<std::shared_ptr<Conn>> DialContext(const Context& ctx, std::string_view network,
                                                    std::string_view address) const;
};

// Go's net.ListenConfig (plus SO_REUSEPORT, which Go leaves to Control).
struct ListenConfig {
  int backlog = 0;  // 0 = the system's somaxconn, as Go reads it
  bool reuse_port = false;
  ControlFunc control;  // empty = none
  // Listen(Background(), ...).
  absl::StatusOr<std::shared_ptr<Listener>> Listen(std::string_view network,
                                                   std::string_view address) const;
  // Go's ListenConfig.Listen: ctx bounds the host name lookup only ("listen tcp: lookup
  // HOST: operation was canceled"); an address without a name to look up listens even
  // under a canceled ctx (as Go). Fiber only.
  absl::StatusOr<std::shared_ptr<Listener>> Listen(const Context& ctx, std::string_view network,
                                                   std::string_view address) const;
  // Go's ListenConfig.ListenPacket: "udp*" and "unixgram"; ctx as in Listen.
  absl::StatusOr<std::shared_ptr<PacketConn>> ListenPacket(std::string_view network,
                                                           std::string_view address) const;
  absl::StatusOr<std::shared_ptr<PacketConn>> ListenPacket(const Context& ctx,
                                                           std::string_view network,
                                                           std::string_view address) const;
};

// Address helpers, as in Go.
//
// SplitHostPort("host:80") = {"host", "80"}; "[::1]:80" = {"::1", "80"};
// ":80" = {"", "80"}. The port is not checked. Errors (kInvalidArgument) carry
// Go's text: "address host: missing port in address", "address ::1: too many
// colons in address", "missing ']' in address", "unexpected '[' in address"...
absl::StatusOr<std::pair<std::string, std::string>> SplitHostPort(
    std::string_view hostport);
// "host:port", or "[host]:port" when host contains ':'. Nothing is checked.
std::string JoinHostPort(std::string_view host, std::string_view port);

// The //net target (Dial, Listen, Conn...) is implemented on top of //netfd;
// Addr, SplitHostPort, JoinHostPort and the predicates above also link on
// their own, through the internal //net:addr and //net:errors.

}  // namespace gonet::net

#endif  // GONET_NET_NET_H_
