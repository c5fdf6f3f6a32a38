#include "examples/flags.h"

#include <cstdio>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace gonet::examples {

void Flags::Parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h") {
      std::fprintf(stdout, "%s\nflags:\n", title_.c_str());
      for (const Spec& s : specs_) {
        std::fprintf(stdout, "  --%s=%s\t%s\n", s.name.c_str(), s.value.c_str(), s.help.c_str());
      }
      std::exit(0);
    }
    if (!absl::ConsumePrefix(&arg, "--") && !absl::ConsumePrefix(&arg, "-")) {
      Fail(absl::StrCat("unexpected argument ", argv[i]));
    }
    absl::string_view name = arg, value;
    bool has_value = false;
    if (size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      has_value = true;
    }
    Spec* spec = const_cast<Spec*>(Find(name));
    if (spec == nullptr) Fail(absl::StrCat("unknown flag --", name));
    if (!has_value) {
      if (i + 1 >= argc) Fail(absl::StrCat("flag --", name, " needs a value"));
      value = argv[++i];
    }
    spec->value = std::string(value);
  }
}

const Flags::Spec* Flags::Find(absl::string_view name) const {
  for (const Spec& s : specs_) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const std::string& Flags::String(absl::string_view name) const {
  const Spec* s = Find(name);
  if (s == nullptr) Fail(absl::StrCat("internal: no flag --", name));
  return s->value;
}

int64_t Flags::Int(absl::string_view name) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(String(name), &v)) {
    Fail(absl::StrCat("--", name, "=", String(name), ": not an integer"));
  }
  return v;
}

absl::Duration Flags::Duration(absl::string_view name) const {
  const std::string& s = String(name);
  absl::Duration d;
  double secs = 0;
  if (absl::ParseDuration(s, &d)) return d;
  if (absl::SimpleAtod(s, &secs)) return absl::Seconds(secs);
  Fail(absl::StrCat("--", name, "=", s, ": not a duration (5s, 500ms, 1m30s)"));
  return d;  // not reached
}

void Flags::Fail(absl::string_view msg) const {
  std::fprintf(stderr, "%s\nerror: %.*s (see --help)\n", title_.c_str(),
               static_cast<int>(msg.size()), msg.data());
  std::exit(2);
}

}  // namespace gonet::examples
