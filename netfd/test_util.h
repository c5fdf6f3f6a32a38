// test_util.h: helpers shared by the //netfd tests (socketpair-backed NetFDs, error
// descriptions, the shared fd leak count).
#ifndef GONET_NETFD_TEST_UTIL_H_
#define GONET_NETFD_TEST_UTIL_H_

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "gtest/gtest.h"
#include "netfd/netfd.h"
#include "netfd/poll_desc.h"
#include "testing/fiber_wait.h"
#include "testing/leak_check.h"

namespace gonet::netfd::test {

inline std::string Describe(const FdError& e) { return e.DebugString(); }

inline const char* Describe(PollError e) {
  switch (e) {
    case PollError::kOk: return "ok";
    case PollError::kClosing: return "closing";
    case PollError::kTimeout: return "timeout";
    case PollError::kNotPollable: return "notpollable";
  }
  return "?";
}

// Write("abc") would pass the terminating NUL too (array -> Span); spell the bytes.
inline absl::Span<const char> S(absl::string_view s) { return {s.data(), s.size()}; }

// The shared fd count (testing/leak_check.h): open fds, pipes excluded.
using leak_check::CountOpenFds;

inline bool RawPair(int sv[2]) {
  return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0;
}

// A connected pair of registered NetFDs. Fiber only.
struct Pair {
  std::unique_ptr<NetFD> a, b;
};

inline Pair NewPair() {
  Pair p;
  int sv[2];
  if (!RawPair(sv)) {
    ADD_FAILURE() << "socketpair: " << strerror(errno);
    return p;
  }
  p.a = std::make_unique<NetFD>(sv[0], AF_UNIX, SOCK_STREAM, "unix");
  p.b = std::make_unique<NetFD>(sv[1], AF_UNIX, SOCK_STREAM, "unix");
  EXPECT_EQ(Describe(p.a->Init()), "ok");
  EXPECT_EQ(Describe(p.b->Init()), "ok");
  return p;
}

inline void ClosePair(Pair& p) {
  if (p.a) EXPECT_EQ(Describe(p.a->Close()), "ok");
  if (p.b) EXPECT_EQ(Describe(p.b->Close()), "ok");
}

inline void ShrinkSendBuffer(NetFD* fd) {
  EXPECT_EQ(Describe(fd->SetSockoptInt(SOL_SOCKET, SO_SNDBUF, 4096)), "ok");
}

// Shared with the fiber tests (testing/fiber_wait.h).
using leak_check::CurrentFiberId;
inline std::optional<fiber_internal::WaitInfo> WaitParked(const std::atomic<uint64_t>* id) {
  return leak_check::WaitParkedInfo(id);
}

}  // namespace gonet::netfd::test

#endif  // GONET_NETFD_TEST_UTIL_H_
