// Built by CI from its own workspace: proves @gonet//net is consumable as a dependency.
// The README's echo server on 127.0.0.1:0 (loopback only), dialed by the same program:
// one message goes out, the echo must come back byte for byte. Exit 0 iff it does.
#include <cstdio>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/net.h"

int main() {
  const std::string msg = "hello from a gonet consumer";
  std::string got;
  std::string err;
  gonet::Run([&] {
    auto ln = gonet::net::Listen("tcp", "127.0.0.1:0");
    if (!ln.ok()) { err = std::string(ln.status().message()); return; }
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

    auto c = gonet::net::Dial("tcp", (*ln)->Address().String());
    if (c.ok()) {
      (void)(*c)->SetDeadline(absl::Now() + absl::Seconds(10));  // never hang CI
      auto w = (*c)->Write(absl::MakeConstSpan(msg.data(), msg.size()));
      if (!w.err.ok()) err = std::string(w.err.message());
      char buf[256];
      while (err.empty() && got.size() < msg.size()) {
        auto r = (*c)->Read(absl::MakeSpan(buf));
        got.append(buf, r.n);
        if (!r.err.ok()) err = std::string(r.err.message());
      }
      (void)(*c)->Close();
    } else {
      err = std::string(c.status().message());
    }
    (void)(*ln)->Close();  // unblocks Accept
    wg.Wait();
  }, {.procs = 2});

  std::printf("echo_once: sent \"%s\", got back \"%s\"%s%s\n", msg.c_str(), got.c_str(),
              err.empty() ? "" : ", error: ", err.c_str());
  return err.empty() && got == msg ? 0 : 1;
}
