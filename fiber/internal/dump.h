// dump.h: the fiber dump (gonet::DumpFibers, Go's goroutine dump) and its SIGQUIT
// trigger (RuntimeOptions::dump_on_sigquit).
#ifndef GONET_FIBER_INTERNAL_DUMP_H_
#define GONET_FIBER_INTERNAL_DUMP_H_

#include "gonet_cxx_version.h"  // first: a pre-C++20 build stops here with one message

#include <ostream>

namespace gonet::fiber_internal {

// Writes every fiber of the active Run to out (see gonet::DumpFibers in fiber.h).
void WriteFiberDump(std::ostream& out);

// Installs (once per process; idempotent) the SIGQUIT handler that dumps every fiber
// to stderr and exits with status 2. Called by Run when dump_on_sigquit is set.
void InstallSigquitDump();

}  // namespace gonet::fiber_internal

#endif  // GONET_FIBER_INTERNAL_DUMP_H_
