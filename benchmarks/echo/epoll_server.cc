// epoll_server: a TCP echo server on raw edge-triggered epoll; the reference
// ("the limit") in the echo comparison.
//
// Each of --threads threads owns a listening socket bound with SO_REUSEPORT (the
// kernel spreads new connections over them), an epoll instance, and one read
// buffer of --buf bytes (default 4 KiB, the size the Go and Asio servers read
// into) shared by all its connections. A connection costs its socket and
// a small struct; bytes that the socket would not take are kept in a
// per-connection backlog, and reading from that connection pauses until
// EPOLLOUT drains it, so a slow reader cannot make the server buffer without
// bound.
//
// --addr=unix:/path listens on a Unix stream socket instead (the path must not
// exist; it is left behind on exit): SO_REUSEPORT does not apply there, so the
// threads share one listening socket, each watching it in its own epoll.
//
// Usage: epoll_server --addr=127.0.0.1:7000 [--threads=1] [--buf=4096]
// Prints "listening on ADDR" on stdout when every thread is accepting.

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "third_party/flags_main.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7000",
          "listen address: IPv4:PORT (TCP) or unix:/path (a Unix stream socket)");
ABSL_FLAG(int, threads, 1, "threads, >= 1");
ABSL_FLAG(int, procs, 0, "same as --threads, the name the gonet server uses (0: unset)");
ABSL_FLAG(int64_t, buf, 4096, "per-thread read buffer, bytes, >= 1");

namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "epoll_server: %s: %s\n", what, std::strerror(errno));
  std::exit(1);
}

struct Conn {
  int fd;
  std::string backlog;  // echoed bytes the socket has not taken yet
};

int Listen(const sockaddr_storage& addr, socklen_t len) {
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) Die("socket");
  if (addr.ss_family == AF_INET) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) Die("SO_REUSEPORT");
  }
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), len) < 0) Die("bind");
  if (listen(fd, 4096) < 0) Die("listen");
  return fd;
}

void CloseConn(int ep, Conn* c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, nullptr);
  close(c->fd);
  delete c;
}

// Writes c->backlog; returns false if the connection failed.
bool FlushBacklog(Conn* c) {
  size_t off = 0;
  while (off < c->backlog.size()) {
    ssize_t n = write(c->fd, c->backlog.data() + off, c->backlog.size() - off);
    if (n > 0) {
      off += static_cast<size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      break;
    } else {
      return false;
    }
  }
  c->backlog.erase(0, off);
  return true;
}

// Reads and echoes until the socket is empty or the peer stops taking data.
// Returns false if the connection is finished (EOF or error).
bool Echo(Conn* c, char* buf, size_t cap) {
  if (!c->backlog.empty()) {
    if (!FlushBacklog(c)) return false;
    if (!c->backlog.empty()) return true;  // wait for EPOLLOUT
  }
  for (;;) {
    ssize_t n = read(c->fd, buf, cap);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN;
    }
    size_t off = 0;
    while (off < static_cast<size_t>(n)) {
      ssize_t w = write(c->fd, buf + off, static_cast<size_t>(n) - off);
      if (w > 0) {
        off += static_cast<size_t>(w);
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && errno == EAGAIN) {
        c->backlog.assign(buf + off, static_cast<size_t>(n) - off);
        return true;  // resume on EPOLLOUT; unread input stays in the socket
      } else {
        return false;
      }
    }
    if (static_cast<size_t>(n) < cap) return true;  // short read: socket drained
  }
}

void Serve(int listen_fd, size_t buf_size) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) Die("epoll_create1");
  epoll_event lev{};
  lev.events = EPOLLIN | EPOLLET;
  lev.data.ptr = nullptr;  // nullptr marks the listener
  if (epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &lev) < 0) Die("epoll_ctl listener");
  std::vector<char> buf(buf_size);
  std::vector<epoll_event> evs(512);
  for (;;) {
    int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      Die("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      if (evs[i].data.ptr == nullptr) {
        for (;;) {
          int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EAGAIN) break;
            if (errno == EMFILE || errno == ENFILE) {
              std::fprintf(stderr, "epoll_server: accept: %s\n", std::strerror(errno));
              break;
            }
            Die("accept4");
          }
          int one = 1;  // fails harmlessly (EOPNOTSUPP) on a Unix socket
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          Conn* c = new Conn{fd, {}};
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          ev.data.ptr = c;
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) Die("epoll_ctl conn");
        }
        continue;
      }
      Conn* c = static_cast<Conn*>(evs[i].data.ptr);
      if ((evs[i].events & EPOLLERR) || !Echo(c, buf.data(), buf.size())) CloseConn(ep, c);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  gonet::ParseFlags(argc, argv, __FILE__,
                    "a TCP (or --addr=unix:PATH) echo server on raw edge-triggered epoll, the\n"
                    "reference in the echo "
                    "comparison; prints \"listening on ADDR\" once every thread accepts.\n"
                    "  epoll_server --addr=127.0.0.1:7000 --threads=1 --buf=4096");
  const std::string addr_s = absl::GetFlag(FLAGS_addr);
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 1) gonet::FlagError(absl::StrCat("--threads must be >= 1, got ", threads));
  if (int procs = absl::GetFlag(FLAGS_procs); procs != 0) {
    if (procs < 1) gonet::FlagError(absl::StrCat("--procs must be >= 1, got ", procs));
    threads = procs;
  }
  const int64_t buf_size = absl::GetFlag(FLAGS_buf);
  if (buf_size < 1) gonet::FlagError(absl::StrCat("--buf must be >= 1, got ", buf_size));
  signal(SIGPIPE, SIG_IGN);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  if (addr_s.rfind("unix:", 0) == 0) {
    const std::string path = addr_s.substr(5);
    sockaddr_un* un = reinterpret_cast<sockaddr_un*>(&addr);
    if (path.empty() || path.size() >= sizeof un->sun_path) {
      gonet::FlagError(absl::StrCat("--addr=unix:PATH needs a path of 1 to ",
                                    sizeof un->sun_path - 1, " bytes, got '", path, "'"));
    }
    un->sun_family = AF_UNIX;
    std::memcpy(un->sun_path, path.data(), path.size());
    addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  } else {
    sockaddr_in* in = reinterpret_cast<sockaddr_in*>(&addr);
    in->sin_family = AF_INET;
    size_t colon = addr_s.rfind(':');
    if (colon == std::string::npos ||
        inet_pton(AF_INET, addr_s.substr(0, colon).c_str(), &in->sin_addr) != 1) {
      gonet::FlagError(
          absl::StrCat("--addr must be IPv4:PORT or unix:PATH, got '", addr_s, "'"));
    }
    in->sin_port = htons(static_cast<uint16_t>(std::atoi(addr_s.c_str() + colon + 1)));
    addr_len = sizeof(sockaddr_in);
  }
  std::vector<int> listeners;
  if (addr.ss_family == AF_UNIX) {
    int fd = Listen(addr, addr_len);  // one socket, watched by every thread's epoll
    listeners.assign(threads, fd);
  } else {
    for (int t = 0; t < threads; ++t) listeners.push_back(Listen(addr, addr_len));
  }
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back(Serve, listeners[t], static_cast<size_t>(buf_size));
  std::printf("listening on %s\n", addr_s.c_str());
  std::fflush(stdout);
  for (auto& w : workers) w.join();
  return 0;
}
