// Go's net.Pipe (net/pipe.go) on gonet channels: each direction is an unbuffered
// channel of byte spans plus a channel of counts, so a Write hands its bytes to the
// Reads of the other end directly and returns once they have taken all of them.
#include <atomic>
#include <cstring>
#include <mutex>
#include <memory>
#include <variant>

#include "absl/time/clock.h"
#include "fiber/channel.h"
#include "fiber/internal/annotated_mutex.h"
#include "fiber/sync.h"
#include "fiber/timer.h"
#include "net/errors.h"
#include "net/internal.h"

namespace gonet::net {
namespace {

using Signal = fiber::Channel<std::monostate>;

// io.ErrClosedPipe: returned bare, as Go does (it is not net.ErrClosed).
absl::Status ClosedPipe() {
  return absl::Status(absl::StatusCode::kFailedPrecondition, "io: read/write on closed pipe");
}

// One end's read or write deadline (Go's pipeDeadline). Instead of a timer that
// closes a channel, a waiter arms its own timer for the deadline it read, and
// `changed` (closed and replaced by every Set) tells it to look again.
class PipeDeadline {
 public:
  // wake_waiters false: the Run the pipe was made in has ended, and a Read or Write
  // still waiting on `changed_` was abandoned with it: its waiter must not be touched.
  void Set(absl::Time t, bool wake_waiters) ABSL_LOCKS_EXCLUDED(mu_) {
    fiber_internal::ThreadMutexLock l(&mu_);
    t_ = t;
    if (wake_waiters) changed_->Close();
    changed_ = std::make_shared<Signal>();
  }
  // The deadline and the channel its next change closes.
  std::pair<absl::Time, std::shared_ptr<Signal>> Get() ABSL_LOCKS_EXCLUDED(mu_) {
    fiber_internal::ThreadMutexLock l(&mu_);
    return {t_, changed_};
  }

 private:
  // A thread lock (SetDeadline works from plain threads too), held for a few
  // instructions, never across a park. Not absl::Mutex: Debian's Abseil is invisible
  // to TSan.
  fiber_internal::ThreadMutex mu_;
  absl::Time t_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::shared_ptr<Signal> changed_ ABSL_GUARDED_BY(mu_) = std::make_shared<Signal>();
};

// What both ends share: the two directions and the two "closed" signals.
struct PipeCore {
  struct Direction {
    fiber::Channel<absl::Span<const char>> data{0};  // a Write's remaining bytes
    fiber::Channel<size_t> taken{0};                 // how many the Read copied
    fiber::Mutex write_mu;  // one Write at a time, so its bytes stay together
  };
  Direction dir[2];  // dir[i]: written by end i, read by end 1-i
  Signal done[2];    // done[i] closed by end i's first Close
  std::once_flag close_once[2];
  // The Run the pipe was made in (0: none). Once it has ended, its fibers still waiting
  // in a Read or Write were abandoned, and their waiters (on their freed stacks) sit in
  // these channels' queues: Close and the deadline setters then touch no channel.
  const uint64_t generation = netfd::RunGeneration();
  std::atomic<bool> closed_after_run[2] = {false, false};

  bool RunEnded() const { return generation != 0 && !netfd::RunStillRunning(generation); }
};

bool IsClosed(Signal& s) {
  bool closed = false;
  (void)s.TryRecv(&closed);
  return closed;
}

class PipeConn final : public Conn {
 public:
  PipeConn(std::shared_ptr<PipeCore> core, int side) : core_(std::move(core)), side_(side) {}
  // Go has no destructor; dropping an end closes it, so the other end's Reads see EOF
  // instead of waiting for ever.
  ~PipeConn() override { (void)Close(); }

  IOResult Read(absl::Span<char> b) override {
    IOResult r = DoRead(b);
    // Go wraps everything but io.EOF and io.ErrClosedPipe.
    if (!r.err.ok() && !IsEOF(r.err) && r.err.message() != ClosedPipe().message() &&
        !IsNotFiber(r.err)) {
      r.err = net_internal::OpError("read", "pipe", "", "", r.err);
    }
    return r;
  }

  IOResult Write(absl::Span<const char> b) override {
    IOResult r = DoWrite(b);
    if (!r.err.ok() && r.err.message() != ClosedPipe().message() && !IsNotFiber(r.err)) {
      r.err = net_internal::OpError("write", "pipe", "", "", r.err);
    }
    return r;
  }

  absl::Status Close() override {
    if (core_->RunEnded()) {
      core_->closed_after_run[side_].store(true, std::memory_order_release);
    } else {
      std::call_once(core_->close_once[side_], [this] { core_->done[side_].Close(); });
    }
    return absl::OkStatus();  // Go: always nil, a second Close too
  }

  Addr LocalAddr() const override { return Addr::Pipe(); }
  Addr RemoteAddr() const override { return Addr::Pipe(); }

  absl::Status SetDeadline(absl::Time t) override {
    if (Closed()) return ClosedPipe();
    read_deadline_.Set(t, !core_->RunEnded());
    write_deadline_.Set(t, !core_->RunEnded());
    return absl::OkStatus();
  }
  absl::Status SetReadDeadline(absl::Time t) override {
    if (Closed()) return ClosedPipe();
    read_deadline_.Set(t, !core_->RunEnded());
    return absl::OkStatus();
  }
  absl::Status SetWriteDeadline(absl::Time t) override {
    if (Closed()) return ClosedPipe();
    write_deadline_.Set(t, !core_->RunEnded());
    return absl::OkStatus();
  }

 private:
  static bool IsNotFiber(const absl::Status& s) {
    return s.message() == net_internal::MakeNotFiber().message();
  }
  Signal& LocalDone() { return core_->done[side_]; }
  Signal& RemoteDone() { return core_->done[1 - side_]; }
  bool Closed() {
    return core_->closed_after_run[0].load(std::memory_order_acquire) ||
           core_->closed_after_run[1].load(std::memory_order_acquire) || IsClosed(LocalDone()) ||
           IsClosed(RemoteDone());
  }

  // One wait of a Read or Write: make_op() makes its data case, the rest are Go's (closed
  // here, closed there, the deadline), plus the deadline's change. Returns which
  // case won: 0 the data case, 1 local done, 2 remote done, 3 the deadline.
  template <typename MakeOp>
  int Wait(MakeOp make_op, PipeDeadline& d) {
    for (;;) {
      auto [t, changed] = d.Get();
      if (t <= absl::Now()) return 3;
      std::unique_ptr<fiber::Timer> timer;
      if (t != absl::InfiniteFuture()) timer = std::make_unique<fiber::Timer>(t - absl::Now());
      fiber::Channel<absl::Time>& fired =
          timer ? timer->C() : fiber::Channel<absl::Time>::Nil();
      const int k = fiber::Select({make_op(), fiber::OnRecv<std::monostate>(LocalDone(), nullptr),
                                   fiber::OnRecv<std::monostate>(RemoteDone(), nullptr),
                                   fiber::OnRecv(fired, nullptr),
                                   fiber::OnRecv<std::monostate>(*changed, nullptr)});
      if (k < 4) return k;
      // The deadline moved while waiting: wait again under the new one.
    }
  }

  IOResult DoRead(absl::Span<char> b) {
    if (IsClosed(LocalDone())) return {0, ClosedPipe()};
    if (IsClosed(RemoteDone())) return {0, net_internal::MakeEOF()};
    if (read_deadline_.Get().first <= absl::Now()) return {0, net_internal::MakeTimeout()};
    if (!netfd::InFiber()) return {0, net_internal::MakeNotFiber()};
    PipeCore::Direction& in = core_->dir[1 - side_];
    std::optional<absl::Span<const char>> got;
    switch (Wait([&] { return fiber::OnRecv(in.data, &got); }, read_deadline_)) {
      case 0: {
        const size_t n = std::min(b.size(), got->size());
        if (n > 0) std::memcpy(b.data(), got->data(), n);
        in.taken.Send(n);  // the writer waits for exactly this
        return {n, absl::OkStatus()};
      }
      case 1:
        return {0, ClosedPipe()};
      case 2:
        return {0, net_internal::MakeEOF()};
      default:
        return {0, net_internal::MakeTimeout()};
    }
  }

  IOResult DoWrite(absl::Span<const char> b) {
    if (IsClosed(LocalDone()) || IsClosed(RemoteDone())) return {0, ClosedPipe()};
    if (write_deadline_.Get().first <= absl::Now()) return {0, net_internal::MakeTimeout()};
    if (!netfd::InFiber()) return {0, net_internal::MakeNotFiber()};
    PipeCore::Direction& out = core_->dir[side_];
    fiber::MutexLock l(&out.write_mu);
    size_t n = 0;
    // At least one hand-over, even for an empty b (Go: a zero-length Write waits for
    // a Read too).
    for (bool once = true; once || !b.empty(); once = false) {
      switch (Wait([&] { return fiber::OnSend(out.data, b); }, write_deadline_)) {
        case 0: {
          const size_t nw = out.taken.Recv().value_or(0);
          b.remove_prefix(nw);
          n += nw;
          break;
        }
        case 1:
        case 2:
          return {n, ClosedPipe()};
        default:
          return {n, net_internal::MakeTimeout()};
      }
    }
    return {n, absl::OkStatus()};
  }

  std::shared_ptr<PipeCore> core_;
  const int side_;
  PipeDeadline read_deadline_;
  PipeDeadline write_deadline_;
};

}  // namespace

std::pair<std::shared_ptr<Conn>, std::shared_ptr<Conn>> Pipe() {
  auto core = std::make_shared<PipeCore>();
  return {std::make_shared<PipeConn>(core, 0), std::make_shared<PipeConn>(core, 1)};
}

}  // namespace gonet::net
