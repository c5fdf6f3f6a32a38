#!/usr/bin/env bash
# Builds the libFuzzer targets of //net/fuzz with clang (libFuzzer + ASan + UBSan) and
# runs each for a short while on a copy of its seed corpus:
#   addr_fuzzer  (//net:addr, seeds in corpus/)
#   dns_fuzzer   (//net:dnsmessage, seeds in dns_corpus/)
# Usage: net/fuzz/run_fuzz.sh [seconds per fuzzer] [fuzzer...]   (default 20, both)
# Env: BAZEL_OUTPUT_BASE (default ~/.cache/bazel_fuzz), FUZZ_ARTIFACTS (where
# crashing inputs are saved; default /tmp/gonet-fuzz-artifacts), FUZZ_FLAGS (extra
# libFuzzer flags, e.g. "-runs=1000000").
set -euo pipefail

seconds="${1:-20}"
shift || true
fuzzers=("$@")
[[ ${#fuzzers[@]} -gt 0 ]] || fuzzers=(addr_fuzzer dns_fuzzer)
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
output_base="${BAZEL_OUTPUT_BASE:-$HOME/.cache/bazel_fuzz}"

# --config=asan selects clang and ASan/UBSan for every target (the C++ UBSan
# runtime is linked explicitly: Bazel links with clang, not clang++); fuzzer-no-link
# adds coverage instrumentation to the library code (the fuzzer itself also
# links libFuzzer's main through its own copts/linkopts).
flags=(--config=asan --copt=-fsanitize=fuzzer-no-link --linkopt=-fsanitize-link-c++-runtime
       --platform_suffix=fuzz)
targets=()
for f in "${fuzzers[@]}"; do targets+=("//net/fuzz:$f"); done
./bazelw --output_base="$output_base" build --jobs=2 "${flags[@]}" "${targets[@]}"
bindir="$(./bazelw --output_base="$output_base" info "${flags[@]}" bazel-bin 2>/dev/null)/net/fuzz"

artifacts="${FUZZ_ARTIFACTS:-/tmp/gonet-fuzz-artifacts}"
mkdir -p "$artifacts"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for f in "${fuzzers[@]}"; do
  case "$f" in
    addr_fuzzer) corpus=net/fuzz/corpus; max_len=256 ;;
    dns_fuzzer) corpus=net/fuzz/dns_corpus; max_len=2048 ;;
    *) echo "run_fuzz: unknown fuzzer $f" >&2; exit 2 ;;
  esac
  mkdir "$work/$f"
  cp "$corpus"/* "$work/$f/"
  echo "run_fuzz: $bindir/$f for ${seconds}s on $(ls "$work/$f" | wc -l) seeds;" \
    "crashing inputs go to $artifacts/" >&2
  # libFuzzer writes its logs to the working directory.
  (cd "$work" && ASAN_OPTIONS=detect_leaks=1 "$bindir/$f" -max_total_time="$seconds" \
    -max_len="$max_len" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    ${FUZZ_FLAGS:-} "$f")
done
