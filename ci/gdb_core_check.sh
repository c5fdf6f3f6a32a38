#!/usr/bin/env bash
# ci/gdb_core_check.sh: tools/gdb/gonet_fibers.py on a core file. Builds
# //tools/gdb:parked_fibers, takes a core of it with gdb's gcore while its fibers are
# parked (no core_pattern change needed; ptrace of our own child), and checks that
# `gonet-fibers` lists them with a frame naming the function each parked in and their
# "created by" line. Needs gdb (CI installs it). Usage: ci/gdb_core_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

./bazelw build //tools/gdb:parked_fibers
bin=bazel-bin/tools/gdb/parked_fibers
work=$(mktemp -d)
pid=
cleanup() { [[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$bin" >"$work/out" &
pid=$!
for _ in $(seq 300); do grep -q '^ready' "$work/out" && break; sleep 0.1; done
grep -q '^ready' "$work/out" || { echo "parked_fibers never became ready"; exit 1; }

gdb -batch -p "$pid" -ex "gcore $work/core" >"$work/gcore.log" 2>&1 ||
  { cat "$work/gcore.log"; echo "gcore failed"; exit 1; }
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=

gdb -batch -ex 'source tools/gdb/gonet_fibers.py' -ex 'gonet-fibers' "$bin" "$work/core" \
  >"$work/fibers.txt" 2>&1 || true
cat "$work/fibers.txt"

fail=0
check() {  # check <count> <regex> <what>
  local n
  n=$(grep -cE "$2" "$work/fibers.txt" || true)
  if ((n < $1)); then echo "FAIL: expected >= $1 lines of $3 ($2), got $n"; fail=1; fi
}
check 5 '^fiber [0-9]+ \[(sleep|waiting|WaitGroup)\]:$' "parked fiber headers"
check 3 '^#[0-9]+ +0x[0-9a-f]+ .*GdbCheckSleeper' "frames naming GdbCheckSleeper"
check 2 '^#[0-9]+ +0x[0-9a-f]+ .*GdbCheckWaiter' "frames naming GdbCheckWaiter"
check 5 '^created by .* at tools/gdb/parked_fibers\.cc:[0-9]+ in fiber 1$' "created-by lines"
((fail == 0)) && echo "gdb core check: OK"
exit $fail
