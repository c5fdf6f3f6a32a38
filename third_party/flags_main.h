// flags_main.h: how gonet's binaries parse their command line, with Abseil flags
// (absl/flags from Debian's libabsl-dev; see absl.BUILD's :flags). A binary defines its
// flags with ABSL_FLAG at global scope, calls gonet::ParseFlags first thing in main and
// reads them with absl::GetFlag:
//
//   ABSL_FLAG(int, procs, 1, "worker threads (GOMAXPROCS)");
//
//   int main(int argc, char** argv) {
//     gonet::ParseFlags(argc, argv, __FILE__,
//                       "a gonet TCP echo server.\n"
//                       "  echo_server --addr=127.0.0.1:9000 --procs=1");
//     const int procs = absl::GetFlag(FLAGS_procs);
//     if (procs < 1) gonet::FlagError("--procs must be >= 1");
//
// Flags are written `--name=value`, `--name value` or `-name=value` (Go's style);
// booleans `--name`, `--noname` or `--name=true|false`.
//
// ParseFlags is absl::ParseCommandLine (with absl::SetProgramUsageMessage) except that:
//  * --help, --helpfull, --helpshort, --help=SUBSTRING and --version print to stdout and
//    exit 0. (Abseil 20220623's ParseCommandLine exits 1 after printing help, so the
//    parse runs with usage handling off and the usage flags are handled here.)
//  * --help lists the flags defined in `main_file` (pass __FILE__). Abseil's default
//    lists those of files named after the binary, which leaves out every flag of
//    echo_server_static (built from echo_server.cc) or of a renamed copy of a binary.
//  * a positional argument is an error (exit 2): none of the binaries takes one.
// An unknown flag or a malformed value (--procs=x) is reported by Abseil, which exits 1.

#ifndef GONET_THIRD_PARTY_FLAGS_MAIN_H_
#define GONET_THIRD_PARTY_FLAGS_MAIN_H_

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/internal/parse.h"
#include "absl/flags/internal/usage.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"

namespace gonet {

namespace flags_main_internal {
inline std::string& ProgramName() {
  static std::string* name = new std::string("program");
  return *name;
}
}  // namespace flags_main_internal

// Prints "PROGRAM: error: MSG (see --help)" on stderr and exits 2. For values that parse
// but are out of range.
[[noreturn]] inline void FlagError(absl::string_view msg) {
  std::fprintf(stderr, "%s: error: %.*s (see --help)\n",
               flags_main_internal::ProgramName().c_str(), static_cast<int>(msg.size()),
               msg.data());
  std::exit(2);
}

// `usage`: what the program does (one line) and an example command line; --help prints
// it after "PROGRAM: " and before the flags.
inline void ParseFlags(int argc, char** argv, absl::string_view main_file,
                       absl::string_view usage) {
  absl::string_view prog = argc > 0 ? argv[0] : "program";
  if (size_t slash = prog.rfind('/'); slash != absl::string_view::npos) {
    prog.remove_prefix(slash + 1);
  }
  flags_main_internal::ProgramName() = std::string(prog);

  // Flag file names as Abseil reports them (FlagsUsageConfig::normalize_filename drops
  // leading "./" and "/") against __FILE__: equal, or one a path suffix of the other.
  auto in_main = [main = std::string(main_file)](absl::string_view file) {
    auto path_suffix = [](absl::string_view path, absl::string_view suffix) {
      return path == suffix || (absl::EndsWith(path, suffix) &&
                                path[path.size() - suffix.size() - 1] == '/');
    };
    return !file.empty() && (path_suffix(main, file) || path_suffix(file, main));
  };
  absl::FlagsUsageConfig config;
  config.contains_helpshort_flags = in_main;
  config.contains_help_flags = in_main;
  config.contains_helppackage_flags = in_main;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);

  namespace fi = absl::flags_internal;
  std::vector<char*> positional = fi::ParseCommandLineImpl(
      argc, argv, fi::ArgvListAction::kRemoveParsedArgs, fi::UsageFlagsAction::kIgnoreUsage,
      fi::OnUndefinedFlag::kAbortIfUndefined);
  if (fi::HandleUsageFlags(std::cout, absl::ProgramUsageMessage()) != -1) {
    std::cout.flush();
    std::exit(0);
  }
  if (positional.size() > 1) {
    FlagError(std::string("unexpected argument '") + positional[1] + "'");
  }
}

}  // namespace gonet

#endif  // GONET_THIRD_PARTY_FLAGS_MAIN_H_
