#!/usr/bin/env bash
# Builds //net/fuzz:addr_fuzzer with clang (libFuzzer + ASan + UBSan) and runs it
# for a short while on a copy of the seed corpus.
# Usage: net/fuzz/run_fuzz.sh [seconds]   (default 20)
# Env: BAZEL_OUTPUT_BASE (default ~/.cache/bazel_fuzz), FUZZ_ARTIFACTS (where
# crashing inputs are saved; default /tmp/gonet-fuzz-artifacts).
set -euo pipefail

seconds="${1:-20}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
output_base="${BAZEL_OUTPUT_BASE:-$HOME/.cache/bazel_fuzz}"

# --config=asan selects clang and ASan/UBSan for every target (the C++ UBSan
# runtime is linked explicitly: Bazel links with clang, not clang++); fuzzer-no-link
# adds coverage instrumentation to the library code (the fuzzer itself also
# links libFuzzer's main through its own copts/linkopts).
./bazelw --output_base="$output_base" build --jobs=2 --config=asan \
  --copt=-fsanitize=fuzzer-no-link --linkopt=-fsanitize-link-c++-runtime \
  --platform_suffix=fuzz //net/fuzz:addr_fuzzer
bin="$(./bazelw --output_base="$output_base" info --config=asan \
  --copt=-fsanitize=fuzzer-no-link --linkopt=-fsanitize-link-c++-runtime \
  --platform_suffix=fuzz bazel-bin 2>/dev/null)/net/fuzz/addr_fuzzer"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp net/fuzz/corpus/* "$work/corpus/"
artifacts="${FUZZ_ARTIFACTS:-/tmp/gonet-fuzz-artifacts}"
mkdir -p "$artifacts"
echo "run_fuzz: $bin for ${seconds}s on $(ls "$work/corpus" | wc -l) seeds;" \
  "crashing inputs go to $artifacts/" >&2
cd "$work"  # libFuzzer writes its logs to the working directory
ASAN_OPTIONS=detect_leaks=1 "$bin" -max_total_time="$seconds" -max_len=256 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 corpus
