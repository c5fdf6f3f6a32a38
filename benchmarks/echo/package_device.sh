#!/usr/bin/env bash
# package_device.sh OUTDIR: builds the echo comparison's binaries, all statically
# linked, into OUTDIR, with run.py and a runner, so they can be carried to a
# machine with no Go toolchain, no -dev libraries and no network.
#
#   benchmarks/echo/package_device.sh /tmp/echo_pkg
#   (on the device)  /tmp/echo_pkg/run_device.sh [run.py flags...]
#
# OUTDIR gets: loadgen epoll_server asio_server go_server [echo_server] run.py
# run_device.sh MANIFEST. The gonet server (echo_server) comes from
# $GONET_SERVER if set, otherwise from building //examples:echo_server with
# --linkopt=-static; if neither works it is left out, with a message.
# Environment: ECHO_BAZEL_OUTPUT_BASE (default ~/.cache/bazel_echo).
set -euo pipefail

out=${1:?usage: package_device.sh OUTDIR}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
bazel=("$repo/bazelw" "--output_base=${ECHO_BAZEL_OUTPUT_BASE:-$HOME/.cache/bazel_echo}")
flags=(--symlink_prefix=/ --jobs=2)

cd "$repo"
"${bazel[@]}" build "${flags[@]}" //benchmarks/echo:loadgen //benchmarks/echo:epoll_server \
  //benchmarks/echo:asio_server
bin=$("${bazel[@]}" info bazel-bin)
for b in loadgen epoll_server asio_server; do
  install -m 755 "$bin/benchmarks/echo/$b" "$out/$b"
done

if command -v go >/dev/null; then
  (cd "$here/go_server" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOPROXY=off go build -o "$out/go_server" .)
else
  echo "package_device.sh: no Go toolchain: go_server left out" >&2
fi

rm -f "$out/echo_server"
if [[ -n "${GONET_SERVER:-}" ]]; then
  install -m 755 "$GONET_SERVER" "$out/echo_server"
elif "${bazel[@]}" build "${flags[@]}" --linkopt=-static //examples:echo_server; then
  gbin=$("${bazel[@]}" info --linkopt=-static bazel-bin)
  install -m 755 "$gbin/examples/echo_server" "$out/echo_server"
else
  echo "package_device.sh: //examples:echo_server did not build: gonet left out" >&2
fi

install -m 755 "$here/run.py" "$out/run.py"
cat >"$out/run_device.sh" <<'RUNNER'
#!/bin/sh
# Runs the echo comparison from the prebuilt binaries beside this script, in
# many-core mode (servers on the first half of the cores, loadgen on the other).
# Extra arguments go to run.py (e.g. --rounds 5 --duration 5 --servers go,epoll);
# for the two-core layout run ./run.py --prebuilt DIR directly. Results land in
# $OUT (default: this folder): results_manycore.json, table_manycore.md.
dir=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "run_device.sh: python3 is required" >&2; exit 1; }
command -v taskset >/dev/null || { echo "run_device.sh: taskset (util-linux) is required" >&2; exit 1; }
out=${OUT:-$dir}
exec python3 "$dir/run.py" --prebuilt "$dir" --many-core --out "$out/results_manycore.json" \
  --md "$out/table_manycore.md" --workdir "${TMPDIR:-/tmp}/echo_device" "$@"
RUNNER
chmod 755 "$out/run_device.sh"

# Every binary must be static: the device has no shared libraries to offer.
status=0
: >"$out/MANIFEST"
for b in loadgen epoll_server asio_server go_server echo_server; do
  [[ -e "$out/$b" ]] || continue
  if ldd "$out/$b" >/dev/null 2>&1; then
    echo "package_device.sh: $b is dynamically linked:" >&2
    ldd "$out/$b" >&2 || true
    status=1
  fi
  echo "$b $(sha256sum "$out/$b" | cut -c1-16) $(stat -c %s "$out/$b")" >>"$out/MANIFEST"
done
cat "$out/MANIFEST"
echo "package_device.sh: packaged into $out" >&2
exit $status
