// Built by CI from its own workspace: proves @gonet//net is consumable as a dependency.
// The README's echo server, once on TCP 127.0.0.1:0 (loopback only) and once on a Unix
// socket under a fresh /tmp directory (a socket path must fit in 108 bytes), each dialed
// by the same program: one message goes out, the echo must come back byte for byte.
// Exit 0 iff it does on both, and the Unix listener's Close removed its socket file.
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/net.h"

namespace {

// Listens on network/address, serves one fiber per connection, dials it, sends msg
// and reads the echo into *got. Returns the first error's text, "" if none. Fiber only.
std::string EchoOnce(const std::string& network, const std::string& address,
                     const std::string& msg, std::string* got) {
  auto ln = gonet::net::Listen(network, address);
  if (!ln.ok()) return std::string(ln.status().message());
  std::string err;
  gonet::fiber::WaitGroup wg;
  wg.Add(1);
  gonet::Go([&wg, ln = *ln] {  // the README's server: a fiber per connection
    for (;;) {
      auto c = ln->Accept();
      if (!c.ok()) break;  // the listener was closed
      wg.Add(1);
      gonet::Go([&wg, c = *c] {
        char buf[4096];
        for (;;) {
          auto r = c->Read(absl::MakeSpan(buf));
          if (!r.err.ok()) break;  // EOF once the client closes
          if (!c->Write(absl::MakeConstSpan(buf, r.n)).err.ok()) break;
        }
        (void)c->Close();
        wg.Done();
      });
    }
    wg.Done();
  });

  // Dial the listener's own address: "127.0.0.1:PORT", or the socket's path.
  auto c = gonet::net::Dial(network, (*ln)->Address().String());
  if (c.ok()) {
    (void)(*c)->SetDeadline(absl::Now() + absl::Seconds(10));  // never hang CI
    auto w = (*c)->Write(absl::MakeConstSpan(msg.data(), msg.size()));
    if (!w.err.ok()) err = std::string(w.err.message());
    char buf[256];
    while (err.empty() && got->size() < msg.size()) {
      auto r = (*c)->Read(absl::MakeSpan(buf));
      got->append(buf, r.n);
      if (!r.err.ok()) err = std::string(r.err.message());
    }
    (void)(*c)->Close();
  } else {
    err = std::string(c.status().message());
  }
  (void)(*ln)->Close();  // unblocks Accept (and removes a Unix socket's file)
  wg.Wait();
  return err;
}

}  // namespace

int main() {
  const std::string msg = "hello from a gonet consumer";
  char dir[] = "/tmp/gonet-consumer-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    std::perror("echo_once: mkdtemp");
    return 1;
  }
  const std::string path = std::string(dir) + "/echo.sock";
  std::string tcp_got, unix_got, tcp_err, unix_err;
  gonet::Run([&] {
    tcp_err = EchoOnce("tcp", "127.0.0.1:0", msg, &tcp_got);
    unix_err = EchoOnce("unix", path, msg, &unix_got);
  }, {.procs = 2});
  const bool file_left = access(path.c_str(), F_OK) == 0;  // Close should have removed it
  unlink(path.c_str());
  rmdir(dir);

  std::printf("echo_once: tcp: sent \"%s\", got back \"%s\"%s%s\n", msg.c_str(), tcp_got.c_str(),
              tcp_err.empty() ? "" : ", error: ", tcp_err.c_str());
  std::printf("echo_once: unix %s: sent \"%s\", got back \"%s\"%s%s%s\n", path.c_str(),
              msg.c_str(), unix_got.c_str(), unix_err.empty() ? "" : ", error: ",
              unix_err.c_str(), file_left ? ", but the socket file was left after Close" : "");
  return tcp_err.empty() && tcp_got == msg && unix_err.empty() && unix_got == msg && !file_left
             ? 0
             : 1;
}
