#!/usr/bin/env bash
# Smoke test for the echo benchmark tools: epoll_server + loadgen on loopback TCP,
# then on a Unix socket (--addr=unix:PATH).
# Each check fails the test on its own (set -e, explicit messages).
set -euo pipefail

dir="${TEST_SRCDIR:-.}/${TEST_WORKSPACE:-gonet}/benchmarks/echo"
[[ -x "$dir/loadgen" ]] || dir="$(dirname "$0")"
loadgen="$dir/loadgen"
server="$dir/epoll_server"
tmp="${TEST_TMPDIR:-$(mktemp -d)}"

fail() { echo "FAIL: $*" >&2; exit 1; }

# Find a free loopback port: bind port 0 with bash is not possible, so try a
# range and let the server tell us whether bind worked.
server_pid=""
cleanup() { [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true; }
trap cleanup EXIT

start_server() {
  local port
  for port in $(seq $((20000 + RANDOM % 20000)) 7 65000 | head -50); do
    rm -f "$tmp/server.out"
    "$server" --addr="127.0.0.1:$port" >"$tmp/server.out" 2>"$tmp/server.err" &
    server_pid=$!
    # Wait for "listening on" or for the server to exit (port taken).
    while kill -0 "$server_pid" 2>/dev/null && ! grep -q "listening on" "$tmp/server.out"; do
      sleep 0.01
    done
    if grep -q "listening on" "$tmp/server.out"; then PORT=$port; return 0; fi
    wait "$server_pid" || true
    server_pid=""
  done
  fail "could not start epoll_server on any port"
}

# json_num FILE KEY: the number after "KEY": in FILE.
json_num() { sed -n "s/.*\"$2\": \([0-9.]*\).*/\1/p" "$1" | head -1; }

start_server
addr="127.0.0.1:$PORT"

run() {  # name, loadgen args...
  local name=$1; shift
  "$loadgen" --addr="$addr" --warmup_s=0.2 --duration_s=1 --json="$tmp/$name.json" \
    --stat_cpus=0 --server_pid="$server_pid" "$@" 2>"$tmp/$name.err" ||
    { cat "$tmp/$name.err" >&2; fail "loadgen $name exited non-zero"; }
  local rts
  rts=$(json_num "$tmp/$name.json" round_trips)
  [[ -n "$rts" && "$rts" -gt 0 ]] || { cat "$tmp/$name.json" >&2; fail "$name: no round trips"; }
  local p99
  p99=$(sed -n 's/.*"p99": \([0-9]*\).*/\1/p' "$tmp/$name.json")
  [[ -n "$p99" && "$p99" -gt 0 ]] || fail "$name: no p99 latency"
  grep -q '"ok": true' "$tmp/$name.json" || fail "$name: JSON not ok"
  echo "ok: $name: $rts round trips, p99 ${p99} ns"
}

run pingpong1 --mode=pingpong --conns=1 --size=64
run pingpong64 --mode=pingpong --conns=64 --size=512 --inflight=4 --threads=2
run streaming --mode=streaming --conns=4 --size=512

# --idle: opens the connections, echoes once on each, says so, and holds them
# until stdin closes.
mkfifo "$tmp/idle.in"
"$loadgen" --addr="$addr" --idle --conns=100 --size=64 <"$tmp/idle.in" >"$tmp/idle.out" \
  2>"$tmp/idle.err" &
idle_pid=$!
exec 3>"$tmp/idle.in"
for _ in $(seq 1000); do
  grep -q "idle: 100 connections ready" "$tmp/idle.out" && break
  kill -0 "$idle_pid" 2>/dev/null || { cat "$tmp/idle.err" >&2; fail "idle loadgen exited"; }
  sleep 0.01
done
grep -q "idle: 100 connections ready" "$tmp/idle.out" || fail "idle loadgen never got ready"
exec 3>&-
wait "$idle_pid" || fail "idle loadgen exited non-zero"
echo "ok: idle"

# Failure is loud: a server that is not there gives a non-zero exit.
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
if "$loadgen" --addr="$addr" --duration_s=0.5 --connect_timeout_s=2 2>"$tmp/refused.err"; then
  fail "loadgen succeeded against a dead server"
fi
grep -q "FAIL" "$tmp/refused.err" || fail "loadgen's failure message is missing"
echo "ok: refused connection fails loudly"

# --addr=unix:PATH on both sides. Not under TEST_TMPDIR: a socket path must fit in
# 108 bytes, and Bazel's is longer.
sock_dir=$(mktemp -d /tmp/echo-smoke-XXXXXX)
cleanup() {
  [[ -n "$server_pid" ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$sock_dir"
}
"$server" --addr="unix:$sock_dir/s" --threads=2 >"$tmp/unix_server.out" 2>"$tmp/unix_server.err" &
server_pid=$!
while kill -0 "$server_pid" 2>/dev/null && ! grep -q "listening on" "$tmp/unix_server.out"; do
  sleep 0.01
done
grep -q "listening on unix:$sock_dir/s" "$tmp/unix_server.out" ||
  { cat "$tmp/unix_server.err" >&2; fail "epoll_server did not listen on unix:$sock_dir/s"; }
addr="unix:$sock_dir/s"
run unix_pingpong64 --mode=pingpong --conns=64 --size=512 --inflight=4 --threads=2
run unix_streaming --mode=streaming --conns=4 --size=512
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
echo PASS
