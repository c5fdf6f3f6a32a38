// asio_server: a TCP echo server written the way Asio's own C++20 coroutine
// example writes one (standalone Asio from libasio-dev): one coroutine per
// connection that co_awaits async_read_some into a 4 KiB buffer and co_awaits
// async_write of what it read.
//
// --threads N runs N threads on one io_context, Asio's idiomatic thread pool.
// Usage: asio_server --addr=127.0.0.1:7000 [--threads=1]
// Prints "listening on ADDR" on stdout once the acceptor is open.

#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "third_party/flags_main.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7000", "listen address, IPv4:PORT");
ABSL_FLAG(int, threads, 1, "threads, >= 1");
ABSL_FLAG(int, procs, 0, "same as --threads, the name the gonet server uses (0: unset)");

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

awaitable<void> Echo(tcp::socket socket) {
  try {
    char data[4096];
    for (;;) {
      std::size_t n = co_await socket.async_read_some(asio::buffer(data), use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), use_awaitable);
    }
  } catch (const std::exception&) {
    // EOF or reset: the connection is done.
  }
}

awaitable<void> Listener(tcp::acceptor acceptor) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), Echo(std::move(socket)), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  gonet::ParseFlags(argc, argv, __FILE__,
                    "a TCP echo server in standalone Asio's C++20 coroutine style (one\n"
                    "coroutine per connection); prints \"listening on ADDR\" once accepting.\n"
                    "  asio_server --addr=127.0.0.1:7000 --threads=1");
  const std::string addr_s = absl::GetFlag(FLAGS_addr);
  int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 1) gonet::FlagError(absl::StrCat("--threads must be >= 1, got ", threads));
  if (int procs = absl::GetFlag(FLAGS_procs); procs != 0) {
    if (procs < 1) gonet::FlagError(absl::StrCat("--procs must be >= 1, got ", procs));
    threads = procs;
  }
  signal(SIGPIPE, SIG_IGN);
  rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  size_t colon = addr_s.rfind(':');
  if (colon == std::string::npos) {
    gonet::FlagError(absl::StrCat("--addr must be IPv4:PORT, got '", addr_s, "'"));
  }
  try {
    // The concurrency hint tells Asio whether it may skip locking (1 thread).
    asio::io_context io(threads);
    tcp::endpoint ep(asio::ip::make_address(addr_s.substr(0, colon)),
                     static_cast<unsigned short>(std::atoi(addr_s.c_str() + colon + 1)));
    tcp::acceptor acceptor(io);
    acceptor.open(ep.protocol());
    acceptor.set_option(tcp::acceptor::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(4096);
    asio::co_spawn(io, Listener(std::move(acceptor)), asio::detached);
    std::printf("listening on %s\n", addr_s.c_str());
    std::fflush(stdout);
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : pool) t.join();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asio_server: %s\n", e.what());
    return 1;
  }
  return 0;
}
