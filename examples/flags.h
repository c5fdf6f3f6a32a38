// flags.h: a tiny command-line parser for the examples (absl flags are not
// available in this build). Accepts `--name=value`, `-name=value` (Go's flag
// style) and `--name value`; `--help` prints the usage and exits 0; an unknown
// flag or a malformed value prints the usage and exits 2.
//
//   examples::Flags flags("echo_server: a gonet echo server", {
//       {"addr", "127.0.0.1:9000", "listen address"},
//       {"procs", "1", "worker threads (GOMAXPROCS)"}});
//   flags.Parse(argc, argv);
//   int procs = flags.Int("procs");

#ifndef GONET_EXAMPLES_FLAGS_H_
#define GONET_EXAMPLES_FLAGS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace gonet::examples {

class Flags {
 public:
  struct Spec {
    std::string name;
    std::string value;  // the default, replaced by Parse
    std::string help;
  };

  Flags(std::string title, std::vector<Spec> specs)
      : title_(std::move(title)), specs_(std::move(specs)) {}

  // Exits the process on --help or on an error.
  void Parse(int argc, char** argv);

  const std::string& String(absl::string_view name) const;
  // Exits with the usage if the value is not a (non-negative where stated) integer.
  int64_t Int(absl::string_view name) const;
  // "5s", "500ms", "1m30s" (absl::ParseDuration) or a bare number of seconds.
  absl::Duration Duration(absl::string_view name) const;

 private:
  [[noreturn]] void Fail(absl::string_view msg) const;
  const Spec* Find(absl::string_view name) const;

  std::string title_;
  std::vector<Spec> specs_;
};

}  // namespace gonet::examples

#endif  // GONET_EXAMPLES_FLAGS_H_
