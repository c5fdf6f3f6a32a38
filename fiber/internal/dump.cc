#include "fiber/internal/dump.h"

#include "fiber/internal/scheduler.h"

namespace gonet::fiber_internal {

// TODO(issue 9): stacks, formatting.
void WriteFiberDump(std::ostream& out) {
  VisitFibers([&](const Fiber& f) { out << "fiber " << f.id << "\n"; });
}

void InstallSigquitDump() {}

}  // namespace gonet::fiber_internal
