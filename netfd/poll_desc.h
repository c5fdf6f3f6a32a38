// poll_desc.h: Go's runtime pollDesc (runtime/netpoll.go + internal/poll
// fd_poll_runtime.go), re-implemented for fibers. Differences: the epoll token carries
// a 16-bit sequence tag beside the descriptor pointer (as newer Go releases do), so
// readiness that arrives late for a closed fd whose descriptor was recycled is dropped
// instead of waking the new user.
//
// Per direction ('r' and 'w') a one-word binary semaphore, rg_ / wg_, holds one of
// (Go: pollDesc.rg / .wg, docs/behavior.md §2.2):
//   kIdle (0)   nothing pending.
//   kReady (1)  readiness arrived; the next Wait() consumes it (-> kIdle).
//   kWait (2)   a fiber claimed the slot and is about to park.
//   Fiber*      that fiber is parked.
// Readiness moves any state to kReady and wakes a parked fiber. Close and an expired
// deadline move kWait/Fiber* to kIdle and wake it. The waiter publishes kWait, then
// re-checks the error bits (closing, expired deadline) before it parks; the
// unblocking side publishes the bits (under mu_) before it unblocks. Both use seq_cst,
// so no fiber sleeps through a Close() or a deadline. Only the fiber holding the
// direction's fdMutex lock waits, so a second waiter is fatal ("runtime: double wait").
// The park is fiber_internal::ParkInSlot (fiber/internal/wait_queue.h): its commit is
// the CAS kWait -> Fiber*. A parked fiber shows WaitReason::kIOWait with this
// descriptor's fd and the mode ('r' or 'w').
//
// Descriptors are type-stable: allocated in blocks, never freed, recycled through a
// free list, because the poller's token is a raw pointer.
#ifndef GONET_NETFD_POLL_DESC_H_
#define GONET_NETFD_POLL_DESC_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"
#include "fiber/internal/timer_heap.h"
#include "fiber/internal/wait_queue.h"

namespace gonet::netfd {

// Results of Prepare/Wait (Go's netpollcheckerr codes).
enum class PollError : int {
  kOk = 0,
  kClosing = 1,      // ErrNetClosing: "use of closed network connection"
  kTimeout = 2,      // ErrDeadlineExceeded: "i/o timeout"
  kNotPollable = 3,  // ErrNotPollable: "not pollable" (event was exactly EPOLLERR)
};

class PollDesc {
 public:
  // Registers fd with the running runtime's netpoller (Go: pollOpen). On failure the
  // descriptor goes back to the cache and the poller's errno status is returned.
  static absl::Status Open(int fd, PollDesc** out);

  // Unregisters (EPOLL_CTL_DEL) and recycles; only after Evict() and with no waiter.
  void Close();

  // Before the first syscall of an operation: checks errors and drops a stale
  // readiness notification (Go: pollReset). mode is 'r' or 'w'.
  PollError Prepare(int mode);
  // Prepare('r') for stream reads, with the drained shortcut: sets *skip_syscall when
  // the last read proved the socket empty and no readiness arrived since, so the
  // caller should Wait('r') before reading. Caller holds the fd's read lock.
  PollError PrepareRead(bool* skip_syscall);
  // After a read syscall: `drained` = it returned EAGAIN or fewer bytes than asked.
  void SetReadDrained(bool drained) { read_drained_ = drained; }
  // Parks until readiness, close or deadline (Go: pollWait), as WaitReason::kIOWait
  // with fd() and mode.
  PollError Wait(int mode);

  // d: 0 = no deadline, > 0 = absolute monotonic ns, < 0 = already expired.
  // mode 'r', 'w' or 'r'+'w' (Go: pollSetDeadline).
  void SetDeadline(int64_t d, int mode);

  // The fd registered by Open (-1 after Close).
  int fd() const { return fd_; }

  // Marks closing and wakes both directions (Go: pollUnblock / pd.evict).
  void Evict();

  // The netpoll handler the runtime calls for each event (installed by Open).
  static void OnReady(uintptr_t token, uint32_t ready, fiber_internal::FiberList* to_wake);

 private:
  static constexpr uintptr_t kIdle = 0;
  static constexpr uintptr_t kReady = 1;
  static constexpr uintptr_t kWait = 2;
  // atomic_info_ bits (Go's pollDesc.atomicInfo).
  static constexpr uint32_t kInfoClosing = 1;
  static constexpr uint32_t kInfoEventErr = 2;
  static constexpr uint32_t kInfoExpiredRead = 4;
  static constexpr uint32_t kInfoExpiredWrite = 8;

  PollDesc() = default;
  PollError CheckErr(int mode) const;
  bool Block(int mode);  // Go's netpollblock(mode, waitio=false)
  fiber_internal::Fiber* Unblock(int mode, bool ioready);
  void PublishInfo() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static void DeadlineFired(fiber_internal::Timer* t, fiber_internal::FiberList* ready);
  uintptr_t Token() const;

  int fd_ = -1;  // the OS fd (set by Open, -1 once closed); named in the wait reason
  uint64_t runtime_generation_ = 0;
  std::atomic<uintptr_t> rg_{kIdle};
  std::atomic<uintptr_t> wg_{kIdle};
  std::atomic<uint32_t> atomic_info_{0};
  // Bumped at every Open; low 16 bits go into the poller token (see header comment).
  std::atomic<uint32_t> fdseq_{0};

  fiber_internal::SpinLock mu_;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Invalidate stale deadline timers (Go: rseq/wseq).
  uintptr_t rseq_ ABSL_GUARDED_BY(mu_) = 0;
  uintptr_t wseq_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t rd_ ABSL_GUARDED_BY(mu_) = 0;  // 0 none, > 0 mono ns, < 0 expired
  int64_t wd_ ABSL_GUARDED_BY(mu_) = 0;
  // rt_ fires the read deadline, wt_ the write deadline. Differences from Go: no "combo"
  // timer for equal deadlines (two timers, same observable result), and lazy extension
  // (see DeadlineFired). rt_when_/wt_when_: the time the armed timer fires at.
  fiber_internal::Timer rt_;
  fiber_internal::Timer wt_;
  bool rt_armed_ ABSL_GUARDED_BY(mu_) = false;
  bool wt_armed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t rt_when_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t wt_when_ ABSL_GUARDED_BY(mu_) = 0;
  void ArmLocked(int mode) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Read fast path (owner: the fiber holding the read lock). True after a read
  // syscall proved the socket empty (EAGAIN or a short read); with rg_ still kIdle
  // nothing has arrived since, so the next Read parks without a syscall that would
  // only return EAGAIN. See PrepareRead().
  bool read_drained_ = false;
  // Set by the poller on peer hang-up or error, cleared by Open: a short read no longer
  // proves the socket empty (a FIN or an error is still queued behind the data, and
  // edge-triggered epoll will not report it again), so the shortcut is off for good.
  std::atomic<bool> hangup_{false};

  PollDesc* link_ = nullptr;  // free list
  friend class PollDescCache;
};

}  // namespace gonet::netfd

#endif  // GONET_NETFD_POLL_DESC_H_
