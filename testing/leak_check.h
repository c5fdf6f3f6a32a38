// leak_check.h: the leak checks every gonet test (and the tour) ends with.
//
//   CountOpenFds()      open fds of this process, pipes excluded (the fd leak check:
//                       compare a count taken before a scenario with one after it).
//   DescribeOpenFds()   "fd->target" for every open fd (for failure messages).
//   FibersLeftOver()    from a Run's main fiber, at its end: waits (up to `patience`)
//                       for every other fiber of the Run to finish and returns how many
//                       did not (0: none left over).
//
// No gtest here, so that binaries (examples/tour) can use it too; tests use the gtest
// wrappers of leak_check_gtest.h (ExpectNoFibersLeftOver, RunChecked).

#ifndef GONET_TESTING_LEAK_CHECK_H_
#define GONET_TESTING_LEAK_CHECK_H_

#include <string>

#include "absl/time/time.h"

namespace gonet::leak_check {

// How long FibersLeftOver waits by default: fibers that were just woken (a WaitGroup's
// Done, a Close that unblocked a Read) may still be on their way out, on a loaded
// machine or under a sanitizer too.
inline constexpr absl::Duration kFiberPatience = absl::Seconds(2);

// Number of open fds of this process, without the one used to list them and without
// pipes: pipes are not ours to count, a sanitizer's symbolizer opens a pair the first
// time it has to name a frame (e.g. to check a suppression). -1 if /proc is unreadable.
int CountOpenFds();

// Memory mappings of this process now (lines of /proc/self/maps; -1 if unreadable):
// what fiber stacks cost against vm.max_map_count.
int CountMappings();

// A human-readable list of the fds open now ("3->socket:[123] 4->anon_inode:[eventpoll]
// ..."), pipes included, for leak failure messages.
std::string DescribeOpenFds();

// Call from a fiber of the active Run (normally at the end of its main fiber): waits,
// yielding and sleeping, until that fiber is the only one left (gonet::NumFibers() == 1)
// or `patience` has passed, and returns how many other fibers are still alive then.
// 0 means none is left over; outside a Run (NumFibers() == 0) it returns 0 at once.
int FibersLeftOver(absl::Duration patience = kFiberPatience);

}  // namespace gonet::leak_check

#endif  // GONET_TESTING_LEAK_CHECK_H_
