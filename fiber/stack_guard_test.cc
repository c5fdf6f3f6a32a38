// stack_guard_test.cc: a fiber stack overflow is always reported as
// "fiber N: stack overflow", with neighbouring fibers alive and parked right below the
// overflowing stack, for frames from 1 KiB to 64 KiB (and, with the build's stack-clash
// probes, far larger), at 50k fibers, and with each kind of guard the stack pool can
// make (fiber/internal/stack.h). The same file builds twice: stack_guard_test with the
// build's -fstack-clash-protection, stack_guard_noprobe_test without it (as code built
// elsewhere would be), where only the guard's size stops a large frame.
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "fiber/channel.h"
#include "fiber/fiber.h"
#include "fiber/internal/scheduler.h"
#include "fiber/internal/stack.h"
#include "fiber/sync.h"
#include "gtest/gtest.h"
#include "testing/leak_check.h"

namespace gonet {
namespace {

using fiber_internal::ResolveStackGuard;
using fiber_internal::Stack;
using fiber_internal::StackGuardKind;

std::atomic<int> g_sink{0};

// A frame of kBytes that is really there (the array is volatile and all of it is
// written), but whose first write is its lowest byte, as when a large local buffer is
// only partly used (read(fd, buf, 100) into char buf[65536]): the worst case for a
// guard, since a frame larger than the guard lands that write below it.
template <size_t kBytes>
[[gnu::noinline]] void RecurseWithFrame(int depth) {
  volatile char buf[kBytes];
  buf[0] = static_cast<char>(depth);
  if (depth > 0) RecurseWithFrame<kBytes>(depth - 1);
  for (size_t i = 0; i < kBytes; i += 64) buf[i] = static_cast<char>(depth);
  g_sink.fetch_add(buf[kBytes - 64], std::memory_order_relaxed);  // no tail call
}

// Recurses with frames of `kib` KiB until the stack overflows (never yields).
void Overflow(int kib) {
  constexpr int kForever = 1 << 30;
  switch (kib) {
    case 1: RecurseWithFrame<1 << 10>(kForever); break;
    case 4: RecurseWithFrame<4 << 10>(kForever); break;
    case 8: RecurseWithFrame<8 << 10>(kForever); break;
    case 16: RecurseWithFrame<16 << 10>(kForever); break;
    case 32: RecurseWithFrame<32 << 10>(kForever); break;
    case 64: RecurseWithFrame<64 << 10>(kForever); break;
    case 1024: RecurseWithFrame<1 << 20>(kForever); break;
    default: std::abort();
  }
}

// Descends with small frames to just above the bottom of the stack (`lo`), then
// overflows with frames of `kib` KiB: the first big frame then reaches as far below the
// stack as it can (its first write is ~kib KiB below `lo`), whatever the stack size and
// the depth the fiber started at. This makes the outcome deterministic: a frame larger
// than the guard jumps it, where a recursion from an arbitrary depth would land in the
// guard or beyond it by chance.
[[gnu::noinline]] void DescendThenOverflow(const char* lo, int kib) {
  volatile char pad[64];
  pad[0] = 1;
  if (reinterpret_cast<uintptr_t>(&pad[0]) - reinterpret_cast<uintptr_t>(lo) > 512) {
    DescendThenOverflow(lo, kib);
  } else {
    Overflow(kib);
  }
  g_sink.fetch_add(pad[0], std::memory_order_relaxed);  // no tail call
}

// Whether the byte at p can be read (a guard cannot), without touching it from here.
bool Readable(const void* p) {
  char c;
  iovec local{&c, 1};
  iovec remote{const_cast<void*>(p), 1};
  return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) == 1;
}


[[maybe_unused]] int MaxMapCount() {
  static const int limit = [] {
    int n = 0;
    std::ifstream("/proc/sys/vm/max_map_count") >> n;
    return n;
  }();
  return limit;
}

// Whether Readable() tells mapped memory from a guard here. Under qemu-user it cannot:
// process_vm_readv gets the guest's addresses and reads the host's (emulator's) memory.
bool ProbeWorks() {
  static const char kMapped = 1;
  return Readable(&kMapped);
}
#define SKIP_UNLESS_PROBE_WORKS()                                                         \
  if (!ProbeWorks())                                                                     \
  GTEST_SKIP() << "process_vm_readv cannot read this process's own memory here (qemu-user " \
                  "hands it guest addresses): the guard layout cannot be probed; the "      \
                  "overflow death tests still check every guard"

// A stack is guarded when it is not an unguarded (canary) slab stack and the memory
// right below it, down to guard_lo, cannot be accessed.
::testing::AssertionResult Guarded(const Stack& s, size_t min_guard) {
  if (s.from_slab) return ::testing::AssertionFailure() << "unguarded slab stack";
  if (s.guard_hi != s.lo) return ::testing::AssertionFailure() << "guard not right below";
  size_t guard = static_cast<size_t>(s.guard_hi - s.guard_lo);
  if (guard < min_guard) {
    return ::testing::AssertionFailure() << "guard of only " << guard << " bytes";
  }
  if (!Readable(s.lo + s.size - 1)) return ::testing::AssertionFailure() << "stack not mapped";
  if (Readable(s.lo - 1) || Readable(s.guard_lo)) {
    return ::testing::AssertionFailure() << "guard memory is accessible";
  }
  return ::testing::AssertionSuccess();
}

// The neighbour whose stack lies directly below `s` (its top at most 1 MiB of guard
// below s.lo), or nullptr.
const Stack* NeighbourBelow(const Stack& s, const std::vector<Stack>& others) {
  for (const Stack& o : others) {
    const char* top = o.lo + o.size;
    if (top <= s.lo && s.lo - top <= (1 << 20)) return &o;
  }
  return nullptr;
}

// How the test configures the stack pools (see SetStackGuardForTesting).
struct GuardSetup {
  const char* name;
  StackGuardKind per_stack;
  size_t budget;       // cap on per-stack mappings (SIZE_MAX: the pool's own)
  bool guard_regions;  // past the budget: guard-region slabs where supported
};

// As in production: guard-region slabs where the kernel has them (Linux >= 6.13).
const GuardSetup kAutoSetup{"Auto", StackGuardKind::kAuto, SIZE_MAX, true};
// A kernel without guard regions: holes or PROT_NONE guards, then canary slabs.
const GuardSetup kHolesSetup{"Holes", StackGuardKind::kHoles, SIZE_MAX, false};
const GuardSetup kProtNoneSetup{"ProtNone", StackGuardKind::kProtNone, SIZE_MAX, false};
// Canary slabs only (past the per-stack budget on a kernel without guard regions).
const GuardSetup kSlabsSetup{"Slabs", StackGuardKind::kAuto, 0, false};

bool GuardRegions(const GuardSetup& setup) {
  return setup.guard_regions && fiber_internal::StackGuardRegionsSupported();
}

// Whether the stack handed out after `before` others by a fresh pool configured by
// `setup` has a guard of its own, as stack.h documents it.
bool ExpectOwnGuard(const GuardSetup& setup, int before) {
  if (GuardRegions(setup)) return true;
  const StackGuardKind k = ResolveStackGuard(setup.per_stack);
  const size_t budget = std::min(setup.budget, fiber_internal::PerStackGuardBudget(k));
  return static_cast<size_t>(before) < budget;
}

// What the death of a victim handed out after `before` others must print: with a guard
// of its own, the overflow is caught in it, before it touches the neighbour below; a
// slab stack's runs through the stacks below it in the slab (unless it is the slab's
// lowest) to the slab's guard.
std::string ExpectedDeath(const GuardSetup& setup, int before) {
  return ExpectOwnGuard(setup, before)
             ? "fiber [0-9]+: stack overflow \\(raise RuntimeOptions::stack_size\\)"
             : "fiber [0-9]+: stack overflow( through the unguarded stacks below it)? \\(raise";
}

// The guard a stack handed out after `before` others gets, in words.
[[maybe_unused]] std::string GuardName(const GuardSetup& setup, int before) {
  if (GuardRegions(setup)) return "guard-region slab";
  if (!ExpectOwnGuard(setup, before)) return "canary slab";
  return fiber_internal::StackGuardKindName(ResolveStackGuard(setup.per_stack));
}

struct Scene {
  int neighbours = 200;
  int before_victim = -1;  // fibers created before the victim; -1: half the neighbours
  size_t stack_size = 256 << 10;
  int overflow_kib = 0;  // 0: no overflow, just check the layout and release everyone
};

struct SceneResult {
  Stack victim;
  int victim_index = -1;
  ::testing::AssertionResult victim_guarded = ::testing::AssertionFailure() << "not run";
  int mappings = 0;
  int guarded_neighbours = 0;
  int slab_neighbours = 0;
};

// neighbours + 1 fibers park, then the one created `before_victim`-th, or the nearest
// to it in creation order whose stack has another one's right below it (where the kernel
// places stacks, a gap may hold a foreign mapping), is the victim: it overflows while
// the others stay parked. Without an overflow, the layout is recorded, and every fiber
// is released and checks its frame is intact.
SceneResult RunScene(const Scene& sc) {
  SceneResult r;
  gonet::Run([&] {
    const int n = sc.neighbours + 1;
    std::vector<Stack> stacks(n);
    std::atomic<int> victim{-1};
    fiber::WaitGroup parked, go, release, done;
    parked.Add(n);
    go.Add(1);
    release.Add(1);
    done.Add(n);
    for (int i = 0; i < n; ++i) {
      Go([&, i] {
        stacks[i] = fiber_internal::CurrentFiber()->stack;
        volatile char live[256];  // this fiber's own frame, to be left intact
        for (size_t j = 0; j < sizeof live; ++j) live[j] = static_cast<char>(i + j);
        parked.Done();
        go.Wait();
        if (i == victim.load()) DescendThenOverflow(stacks[i].lo, sc.overflow_kib);
        release.Wait();
        for (size_t j = 0; j < sizeof live; ++j) {
          if (live[j] != static_cast<char>(i + j)) std::abort();
        }
        done.Done();
      });
    }
    parked.Wait();
    const int want = sc.before_victim >= 0 ? sc.before_victim : sc.neighbours / 2;
    for (int d = 0; d < n && r.victim_index < 0; ++d) {
      for (int v : {want - d, want + d}) {
        if (v >= 0 && v < n && NeighbourBelow(stacks[v], stacks) != nullptr) {
          r.victim_index = v;
          break;
        }
      }
    }
    if (r.victim_index >= 0) r.victim = stacks[r.victim_index];
    if (sc.overflow_kib != 0) {
      // The overflow is only meaningful with a live neighbour right below the victim;
      // without one, do not overflow, so that the death test fails loudly.
      if (r.victim_index < 0) {
        std::fprintf(stderr, "no stack with a parked neighbour right below it\n");
        std::_Exit(0);
      }
      victim.store(r.victim_index);
    } else {
      r.mappings = leak_check::CountMappings();
      if (r.victim_index >= 0) r.victim_guarded = Guarded(r.victim, 64 << 10);
      for (int i = 0; i < n; ++i) {
        if (i == r.victim_index) continue;
        r.guarded_neighbours += Guarded(stacks[i], 64 << 10) ? 1 : 0;
        r.slab_neighbours += stacks[i].from_slab ? 1 : 0;
      }
    }
    go.Done();
    release.Done();
    done.Wait();
  }, {.procs = 1, .stack_size = sc.stack_size});
  return r;
}

// Under ThreadSanitizer the 50k counts are scaled down, as in stress_test.cc: TSan keeps
// state for every fiber it has seen and, where stacks are mappings of their own, shadow
// mappings for each of them after they are unmapped.
#if defined(GONET_TSAN)
constexpr int kFiftyThousand = 50'000 / 100;
#else
constexpr int kFiftyThousand = 50'000;
#endif

class StackGuardTest : public testing::TestWithParam<GuardSetup> {
 protected:
  void SetUp() override {
    testing::FLAGS_gtest_death_test_style = "threadsafe";
    fiber_internal::SetStackGuardForTesting(GetParam().per_stack, GetParam().budget,
                                            GetParam().guard_regions);
  }
  void TearDown() override { fiber_internal::SetStackGuardForTesting(StackGuardKind::kAuto); }
};

// The build without stack probes (stack_guard_noprobe_test) runs only the frame-size
// death tests below: the rest does not depend on how frames are compiled.
#if !defined(GONET_TEST_NO_STACK_PROBES)

std::string SetupName(const testing::TestParamInfo<GuardSetup>& p) { return p.param.name; }

// ---------------------------------------------------------------- layout

TEST_P(StackGuardTest, VictimHasAParkedNeighbourRightBelowAndItsGuard) {
  SKIP_UNLESS_PROBE_WORKS();
  SceneResult r = RunScene({});
  ASSERT_GE(r.victim_index, 0);
  std::printf("victim's guard: %s\n", GuardName(GetParam(), r.victim_index + 1).c_str());
  if (ExpectOwnGuard(GetParam(), r.victim_index + 1)) {
    EXPECT_TRUE(r.victim_guarded);
    EXPECT_EQ(r.guarded_neighbours, 200);
  } else {
    EXPECT_TRUE(r.victim.from_slab);
    EXPECT_EQ(r.slab_neighbours, 200);
  }
}

// 50k parked fibers, within vm.max_map_count; each has its own real guard wherever
// stack.h says it does (with guard-region slabs or holes: all of them).
class FiftyThousandStacksTest : public StackGuardTest {};

TEST_P(FiftyThousandStacksTest, ParkedFibersAndTheirGuards) {
  SKIP_UNLESS_PROBE_WORKS();
  SceneResult r = RunScene({.neighbours = kFiftyThousand});
  ASSERT_GE(r.victim_index, 0);
  const int limit = MaxMapCount();
  int expect_guarded = 0;
  for (int i = 0; i <= kFiftyThousand; ++i) {
    // Stacks are handed out in creation order, main's first.
    if (i != r.victim_index) expect_guarded += ExpectOwnGuard(GetParam(), i + 1) ? 1 : 0;
  }
  std::printf("%s: %d parked fibers (main, victim, %d neighbours of which %d with a guard of "
              "their own; the last one's: %s): %d mappings (vm.max_map_count %d)\n",
              GetParam().name, kFiftyThousand + 2, kFiftyThousand, r.guarded_neighbours,
              GuardName(GetParam(), kFiftyThousand + 1).c_str(), r.mappings, limit);
  EXPECT_EQ(r.guarded_neighbours, expect_guarded);
  EXPECT_EQ(r.guarded_neighbours + r.slab_neighbours, kFiftyThousand);
  if (limit > 0) {
    EXPECT_LT(r.mappings, limit);
  }
  if (GuardRegions(GetParam())) {
    EXPECT_LT(r.mappings, 1000);  // guard-region slabs: no mapping per stack
  }
}

INSTANTIATE_TEST_SUITE_P(Guard, FiftyThousandStacksTest,
                         testing::Values(kAutoSetup, kHolesSetup, kProtNoneSetup, kSlabsSetup),
                         SetupName);

// A frame far larger than any guard: caught only because the build probes every page
// of a large frame (-fstack-clash-protection in .bazelrc), so that its first access is
// in the guard right below the stack.
TEST_P(StackGuardTest, OneMegabyteFrameIsProbed) {
  EXPECT_DEATH(RunScene({.overflow_kib = 1024}), ExpectedDeath(GetParam(), 101));
}

INSTANTIATE_TEST_SUITE_P(Guard, StackGuardTest,
                         testing::Values(kAutoSetup, kHolesSetup, kProtNoneSetup, kSlabsSetup),
                         SetupName);

#endif  // !defined(GONET_TEST_NO_STACK_PROBES)

// ---------------------------------------------------------------- overflows

class StackOverflowDeathTest : public testing::TestWithParam<std::tuple<GuardSetup, int>> {
 protected:
  void SetUp() override {
    testing::FLAGS_gtest_death_test_style = "threadsafe";
    fiber_internal::SetStackGuardForTesting(setup().per_stack, setup().budget,
                                            setup().guard_regions);
  }
  void TearDown() override { fiber_internal::SetStackGuardForTesting(StackGuardKind::kAuto); }
  const GuardSetup& setup() const { return std::get<0>(GetParam()); }
  int kib() const { return std::get<1>(GetParam()); }

  std::string Expected(int before) const { return ExpectedDeath(setup(), before); }
};

TEST_P(StackOverflowDeathTest, AmongParkedNeighbours) {
  EXPECT_DEATH(RunScene({.overflow_kib = kib()}), Expected(101));
}

TEST_P(StackOverflowDeathTest, AmongParkedNeighboursSmallStacks) {
  EXPECT_DEATH(RunScene({.stack_size = 64 << 10, .overflow_kib = kib()}), Expected(101));
}

std::string DeathName(const testing::TestParamInfo<std::tuple<GuardSetup, int>>& p) {
  return std::string(std::get<0>(p.param).name) + "_" + std::to_string(std::get<1>(p.param)) +
         "KiB";
}

INSTANTIATE_TEST_SUITE_P(
    Frames, StackOverflowDeathTest,
    testing::Combine(testing::Values(kAutoSetup, kHolesSetup, kProtNoneSetup, kSlabsSetup),
                     testing::Values(1, 4, 8, 16, 32, 64)),
    DeathName);

#if !defined(GONET_TEST_NO_STACK_PROBES)
// At 50k fibers, the victim among the last ones created: past the per-mapping budget of
// kProtNone at the default vm.max_map_count (26,212 stacks), so there it is a slab stack.
class FiftyThousandDeathTest : public StackOverflowDeathTest {};

TEST_P(FiftyThousandDeathTest, AmongParkedNeighbours) {
  constexpr int kBefore = kFiftyThousand - 100;
  EXPECT_DEATH(RunScene({.neighbours = kFiftyThousand, .before_victim = kBefore,
                         .overflow_kib = kib()}),
               Expected(kBefore + 1));
}

INSTANTIATE_TEST_SUITE_P(Frames, FiftyThousandDeathTest,
                         testing::Combine(testing::Values(kAutoSetup, kHolesSetup,
                                                          kProtNoneSetup),
                                          testing::Values(1, 64)),
                         DeathName);
#endif

}  // namespace
}  // namespace gonet
