#include "testing/leak_check.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/time/clock.h"
#include "fiber/fiber.h"

namespace gonet::leak_check {
namespace {

// The target of /proc/self/fd/<name> ("socket:[123]", "pipe:[45]", a path), "?" if
// unreadable.
std::string FdTarget(const char* name) {
  char target[256];
  std::string path = std::string("/proc/self/fd/") + name;
  ssize_t k = readlink(path.c_str(), target, sizeof target);
  return k > 0 ? std::string(target, static_cast<size_t>(k)) : "?";
}

}  // namespace

int CountOpenFds() {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  const int own = dirfd(d);
  int n = 0;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (std::to_string(own) == e->d_name) continue;  // the listing's own fd
    if (FdTarget(e->d_name).rfind("pipe:", 0) == 0) continue;  // see the header
    ++n;
  }
  closedir(d);
  return n;
}

int CountMappings() {
  std::ifstream f("/proc/self/maps");
  if (!f) return -1;
  std::string line;
  int n = 0;
  while (std::getline(f, line)) ++n;
  return n;
}

std::string DescribeOpenFds() {
  std::string out;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return "(/proc/self/fd unreadable)";
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    if (!out.empty()) out += ' ';
    out += std::string(e->d_name) + "->" + FdTarget(e->d_name);
  }
  closedir(d);
  return out;
}

int FibersLeftOver(absl::Duration patience) {
  const absl::Time deadline = absl::Now() + patience;
  for (;;) {
    const int n = gonet::NumFibers();
    if (n <= 1) return 0;  // only the caller (or no Run at all)
    if (absl::Now() >= deadline) return n - 1;
    // Runnable fibers first (a Yield lets them finish), then a short sleep so that
    // fibers woken by timers or the netpoller get their turn without a busy wait.
    gonet::Yield();
    if (gonet::NumFibers() > 1) gonet::Sleep(absl::Milliseconds(1));
  }
}

}  // namespace gonet::leak_check
