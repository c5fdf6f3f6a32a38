// fanout.cc: ask several backends the same question, take the first answer, cancel
// the rest; give up on all of them at a deadline. Go's select + context, with fibers.
//
//   ./bazelw run //examples:fanout
//   ./bazelw run //examples:fanout -- --deadline=50ms --slow_backends=3
//
// The backends are echo servers on loopback started by the program itself: some
// answer after a delay (--slow_delay), one never accepts at all (its listen queue is
// full, so a dial to it hangs in connect), and the rest answer at once. Each query
// runs in its own fiber under one errgroup-style fiber::Group whose context carries
// the deadline:
//   - each fiber dials with Dialer::DialContext(ctx) and bounds its read with the
//     context's deadline;
//   - the main fiber Selects between the first answer and ctx.Done();
//   - once it has an answer it cancels the context: the fibers still dialing or
//     reading stop at once ("operation was canceled" / "i/o timeout").
// At the end the backends are shut down and every fiber has finished.
// Exit status 0 when an answer arrived (or, with every backend slow, when the
// deadline ended the wait as it should), 1 otherwise.

#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "fiber/channel.h"
#include "fiber/context.h"
#include "fiber/fiber.h"
#include "fiber/sync.h"
#include "net/net.h"
#include "third_party/flags_main.h"

ABSL_FLAG(int, fast_backends, 2, "backends that answer at once");
ABSL_FLAG(int, slow_backends, 2, "backends that answer after --slow_delay");
ABSL_FLAG(absl::Duration, slow_delay, absl::Seconds(2), "how long the slow backends take");
ABSL_FLAG(absl::Duration, deadline, absl::Milliseconds(500), "overall deadline of the query");

namespace {

using gonet::Context;
using gonet::fiber::Channel;

struct Answer {
  std::string backend;
  std::string reply;
  absl::Duration took;
};

// An echo server that waits `delay` before answering each request, or stops waiting
// (and answers nothing) once `quit` is closed. Its fibers are counted in `running`, so
// that the program ends only after they have (none is left parked when Run returns).
std::shared_ptr<gonet::net::Listener> StartBackend(absl::Duration delay,
                                                   std::shared_ptr<Channel<int>> quit,
                                                   gonet::fiber::WaitGroup* running) {
  auto ln = gonet::net::Listen("tcp", "127.0.0.1:0");
  if (!ln.ok()) {
    std::fprintf(stderr, "backend listen: %s\n", std::string(ln.status().message()).c_str());
    return nullptr;
  }
  std::shared_ptr<gonet::net::Listener> l = *ln;
  running->Add(1);
  gonet::Go([l, delay, quit, running] {
    for (;;) {
      auto c = l->Accept();
      if (!c.ok()) break;  // closed at the end
      running->Add(1);
      gonet::Go([conn = *c, delay, quit, running] {
        char buf[256];
        gonet::net::IOResult r = conn->Read(absl::MakeSpan(buf));
        bool timed_out = false;
        // "Work" that takes `delay`: nullopt with timed_out once it is done; nullopt
        // without it when quit was closed first.
        if (r.n > 0 && !quit->RecvUntil(absl::Now() + delay, &timed_out) && timed_out) {
          (void)conn->Write(absl::string_view(buf, r.n));
        }
        (void)conn->Close();
        running->Done();
      });
    }
    running->Done();
  });
  return l;
}

// A listener that never accepts, with its queue filled: dials to it hang in connect.
struct BlackHole {
  int fd = -1;
  int filler = -1;
  std::string address;
  BlackHole() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof sa;
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(fd, 0) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
      std::perror("black hole");
      return;
    }
    address = absl::StrCat("127.0.0.1:", ntohs(sa.sin_port));
    // listen(fd, 0) queues one connection: fill it.
    filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(filler, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) std::perror("filler");
  }
  ~BlackHole() {
    if (filler >= 0) close(filler);
    if (fd >= 0) close(fd);
  }
};

// One query: dial under ctx, send the question, read the answer by ctx's deadline.
absl::Status Ask(const Context& ctx, const std::string& backend, Channel<Answer>* answers) {
  const absl::Time start = absl::Now();
  gonet::net::Dialer dialer;
  auto conn = dialer.DialContext(ctx, "tcp", backend);
  if (!conn.ok()) return conn.status();
  if (std::optional<absl::Time> d = ctx.Deadline()) (void)(*conn)->SetDeadline(*d);
  // Cancellation after the dial: close the conn when ctx ends, which wakes the read.
  auto finished = std::make_shared<Channel<std::monostate>>();
  gonet::Go([ctx, conn = *conn, finished] {
    if (gonet::fiber::Select({gonet::fiber::OnRecv<std::monostate>(ctx.Done(), nullptr),
                              gonet::fiber::OnRecv<std::monostate>(*finished, nullptr)}) == 0) {
      (void)conn->Close();
    }
  });
  struct CloseOnExit {
    std::shared_ptr<Channel<std::monostate>> finished;
    std::shared_ptr<gonet::net::Conn> conn;
    ~CloseOnExit() {
      finished->Close();
      (void)conn->Close();
    }
  } guard{finished, *conn};
  const std::string question = "what time is it?";
  if (gonet::net::IOResult w = (*conn)->Write(question); !w.err.ok()) return w.err;
  char buf[256];
  gonet::net::IOResult r = (*conn)->Read(absl::MakeSpan(buf));
  if (!r.err.ok() && r.n == 0) {
    // Woken by the close above: say why (as Go code returns ctx.Err() then).
    if (absl::Status why = ctx.Err(); !why.ok()) return why;
    return r.err;
  }
  // A full answer or nothing: the other fibers' result channel has room for one.
  Answer a{backend, std::string(buf, r.n), absl::Now() - start};
  (void)answers->TrySend(a);
  return absl::OkStatus();
}

int Main() {
  const int fast = absl::GetFlag(FLAGS_fast_backends);
  const int slow = absl::GetFlag(FLAGS_slow_backends);
  std::vector<std::shared_ptr<gonet::net::Listener>> listeners;
  std::vector<std::string> backends;
  auto quit = std::make_shared<Channel<int>>();
  gonet::fiber::WaitGroup backends_running;
  for (int i = 0; i < slow + fast; ++i) {
    auto l = StartBackend(i < slow ? absl::GetFlag(FLAGS_slow_delay) : absl::ZeroDuration(),
                          quit, &backends_running);
    if (l == nullptr) {
      for (auto& started : listeners) (void)started->Close();
      quit->Close();
      backends_running.Wait();
      return 1;
    }
    backends.push_back(l->Address().String());
    listeners.push_back(std::move(l));
  }
  BlackHole hole;
  backends.push_back(hole.address);

  const absl::Time start = absl::Now();
  auto [ctx, cancel] = gonet::WithTimeout(gonet::Background(), absl::GetFlag(FLAGS_deadline));
  Channel<Answer> answers(1);  // the first answer; later ones are dropped
  std::vector<absl::Status> results(backends.size());
  int status = 1;
  {
    gonet::fiber::Group group(ctx);
    for (size_t i = 0; i < backends.size(); ++i) {
      group.Go([&, i, gctx = group.context()] {
        results[i] = Ask(gctx, backends[i], &answers);
        return absl::OkStatus();  // one backend failing is not the query failing
      });
    }
    std::optional<Answer> first;
    switch (gonet::fiber::Select({gonet::fiber::OnRecv(answers, &first),
                                  gonet::fiber::OnRecv<std::monostate>(ctx.Done(), nullptr)})) {
      case 0:
        std::printf("first answer from %s after %s: \"%s\"\n", first->backend.c_str(),
                    absl::FormatDuration(first->took).c_str(), first->reply.c_str());
        status = 0;
        break;
      default:
        std::printf("no answer by the deadline: %s\n", std::string(ctx.Err().message()).c_str());
        status = fast == 0 ? 0 : 1;  // expected only when every backend is slow
        break;
    }
    cancel();  // stop the others: dials in progress and reads both end now
    (void)group.Wait();
  }
  std::printf("all %zu queries done %s after the start:\n", backends.size(),
              absl::FormatDuration(absl::Now() - start).c_str());
  for (size_t i = 0; i < backends.size(); ++i) {
    const char* kind = i < static_cast<size_t>(slow)          ? "slow"
                       : i < static_cast<size_t>(slow + fast) ? "fast"
                                                              : "never accepts";
    std::printf("  %-21s (%s): %s\n", backends[i].c_str(), kind,
                results[i].ok() ? "answered" : std::string(results[i].message()).c_str());
  }
  // Shut the backends down and wait for their fibers.
  for (auto& l : listeners) (void)l->Close();
  quit->Close();
  backends_running.Wait();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  gonet::ParseFlags(argc, argv, __FILE__,
                    "ask several loopback backends at once; take the first answer, cancel\n"
                    "the rest, give up at a deadline (select + context).\n"
                    "  fanout --deadline=500ms --fast_backends=2 --slow_backends=2");
  if (absl::GetFlag(FLAGS_fast_backends) < 0 || absl::GetFlag(FLAGS_slow_backends) < 0) {
    gonet::FlagError("--fast_backends and --slow_backends must be >= 0");
  }
  if (absl::GetFlag(FLAGS_deadline) <= absl::ZeroDuration()) gonet::FlagError("--deadline must be > 0");
  int status = 1;
  gonet::Run([&] { status = Main(); });
  return status;
}
