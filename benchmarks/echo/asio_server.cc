// asio_server: a TCP echo server written the way Asio's own C++20 coroutine
// example writes one (standalone Asio from libasio-dev): one coroutine per
// connection that co_awaits async_read_some into a 4 KiB buffer and co_awaits
// async_write of what it read.
//
// --threads N runs N threads on one io_context, Asio's idiomatic thread pool.
// --addr=unix:/path listens on a Unix stream socket (asio::local::stream_protocol)
// instead; the path must not exist, and is left behind on exit.
// Usage: asio_server --addr=127.0.0.1:7000 [--threads=1]
// Prints "listening on ADDR" on stdout once the acceptor is open.

#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <asio.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "third_party/flags_main.h"

ABSL_FLAG(std::string, addr, "127.0.0.1:7000",
          "listen address: IPv4:PORT (TCP) or unix:/path (a Unix stream socket)");
ABSL_FLAG(int, threads, 1, "threads, >= 1");
ABSL_FLAG(int, procs, 0, "same as --threads, the name the gonet server uses (0: unset)");

namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using unix_stream = asio::local::stream_protocol;

// Socket is tcp::socket or unix_stream::socket.
template <typename Socket>
awaitable<void> Echo(Socket socket) {
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

template <typename Protocol>
awaitable<void> Listener(typename Protocol::acceptor acceptor) {
  for (;;) {
    typename Protocol::socket socket = co_await acceptor.async_accept(use_awaitable);
    if constexpr (std::is_same_v<Protocol, tcp>) socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), Echo(std::move(socket)), asio::detached);
  }
}

// Opens, binds and listens on ep, and starts the accept loop on io.
template <typename Protocol>
void StartListener(asio::io_context& io, const typename Protocol::endpoint& ep) {
  typename Protocol::acceptor acceptor(io);
  acceptor.open(ep.protocol());
  if constexpr (std::is_same_v<Protocol, tcp>) {
    acceptor.set_option(typename Protocol::acceptor::reuse_address(true));
  }
  acceptor.bind(ep);
  acceptor.listen(4096);
  asio::co_spawn(io, Listener<Protocol>(std::move(acceptor)), asio::detached);
}

}  // namespace

int main(int argc, char** argv) {
  gonet::ParseFlags(argc, argv, __FILE__,
                    "a TCP (or --addr=unix:PATH) echo server in standalone Asio's C++20\n"
                    "coroutine style (one "
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
  const bool is_unix = addr_s.rfind("unix:", 0) == 0;
  size_t colon = addr_s.rfind(':');
  if (!is_unix && colon == std::string::npos) {
    gonet::FlagError(absl::StrCat("--addr must be IPv4:PORT or unix:PATH, got '", addr_s, "'"));
  }
  try {
    // The concurrency hint tells Asio whether it may skip locking (1 thread).
    asio::io_context io(threads);
    if (is_unix) {
      StartListener<unix_stream>(io, unix_stream::endpoint(addr_s.substr(5)));
    } else {
      StartListener<tcp>(
          io, tcp::endpoint(asio::ip::make_address(addr_s.substr(0, colon)),
                            static_cast<unsigned short>(std::atoi(addr_s.c_str() + colon + 1))));
    }
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
