// fd_mutex.h: Go's internal/poll fdMutex, re-implemented for fibers. Differences:
// waiters park as fibers on fiber semaphores (a WaitQueue each, WaitReason
// kSemacquire); the close-completion wait (Go's csema) lives in NetFD.
//
// One 64-bit state word does three jobs (docs/behavior.md §1):
//   bit 0        kClosed   set once by IncRefAndClose, never cleared
//   bit 1        kRLock    read lock held
//   bit 2        kWLock    write lock held
//   bits 3..22   refs      every holder: readers, writers, misc ops, Close
//   bits 23..42  rwait     fibers queued for the read lock
//   bits 43..62  wwait     fibers queued for the write lock
// Every operation is a load/compute/CAS loop. A queued fiber sleeps on rsema_/wsema_;
// the unlocker (or Close) subtracts its wait unit before releasing the semaphore, and
// the woken fiber re-contends from scratch (no hand-off, as Go), failing if it now sees
// kClosed. Overflow of any counter is fatal: "too many concurrent operations on a
// single file or socket (max 1048575)"; misuse is fatal: "inconsistent poll.fdMutex".
#ifndef GONET_NETFD_FD_MUTEX_H_
#define GONET_NETFD_FD_MUTEX_H_
#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one clear error

#include <atomic>
#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/spinlock.h"
#include "fiber/internal/wait_queue.h"

namespace gonet::netfd {

// A counting semaphore that parks fibers (Go's runtime semacquire/semrelease), on a
// WaitQueue (fiber/internal/wait_queue.h); parked fibers show WaitReason::kSemacquire.
// Acquire outside a fiber blocks the thread (a condition variable, never a spin), for
// Close() from plain threads.
class FiberSema {
 public:
  void Acquire();
  // Acquire for a waiter that must not wait forever on holders that were abandoned:
  // holders_generation is the Run whose fibers would Release (0 = unknown, wait
  // forever). Returns false, without a token, once that Run has ended with nobody
  // having released. A fiber of another Run (or a plain thread) blocks its thread
  // instead of parking.
  bool AcquireUnlessAbandoned(uint64_t holders_generation);
  // Any thread. A released plain-thread waiter may destroy the semaphore at once.
  void Release();

 private:
  fiber_internal::SpinLock mu_;
  uint32_t count_ ABSL_GUARDED_BY(mu_) = 0;
  fiber_internal::WaitQueue waiters_ ABSL_GUARDED_BY(mu_);
  // The runtime the queued fibers belong to: a Release after that Run returned must
  // not touch them (they were abandoned with it).
  uint64_t waiters_generation_ ABSL_GUARDED_BY(mu_) = 0;
  // Plain-thread waiters: thread_waiters_ counts those registered (changed under mu_);
  // a Release that finds no fiber waiter takes one off it and adds a token to
  // thread_tokens_ (outside mu_, as its last access), which a waiter consumes.
  std::atomic<uint32_t> thread_tokens_{0};
  std::atomic<uint32_t> thread_waiters_{0};
};

class FdMutex {
 public:
  static constexpr uint64_t kClosed = 1;
  static constexpr uint64_t kRLock = 2;
  static constexpr uint64_t kWLock = 4;
  static constexpr uint64_t kRef = 8;
  static constexpr uint64_t kRefMask = 0x7ffff8;
  static constexpr uint64_t kRWait = 0x800000;
  static constexpr uint64_t kRMask = 0x7ffff800000;
  static constexpr uint64_t kWWait = 0x80000000000;
  static constexpr uint64_t kWMask = 0x7ffff80000000000;

  // false if closed; else one more reference.
  bool IncRef();
  // false if already closed; else marks closed, takes a reference, and wakes every
  // fiber queued for a lock (they then fail).
  bool IncRefAndClose();
  // Drops a reference; true iff the fd is closed and this was the last one (the
  // caller must destroy it).
  bool DecRef();
  // Takes the read (read=true) or write lock plus a reference; parks while another
  // holds it. false if the fd is or becomes closed.
  bool RWLock(bool read);
  // Releases the lock and its reference; true iff closed and last reference.
  bool RWUnlock(bool read);

  uint64_t state_for_test() const { return state_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> state_{0};
  FiberSema rsema_;
  FiberSema wsema_;
};

}  // namespace gonet::netfd

#endif  // GONET_NETFD_FD_MUTEX_H_
