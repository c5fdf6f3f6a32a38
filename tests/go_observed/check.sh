#!/usr/bin/env bash
# tests/go_observed/check.sh: runs each Go program here (Go's behaviour that gonet's C++
# tests assert) and diffs its output with the recorded <name>.out (go1.19.8
# linux/amd64): timer_context (//fiber:timer_test, //fiber:context_test), dial_context
# (//tests:dial_context_test), dns (//tests:dns_client_test), and udp, unix and pipe
# (Go 1.19's texts for UDP, Unix sockets and net.Pipe). Needs `go` (Debian 12's
# golang-go is 1.19); standard
# library only, loopback only. Exits non-zero when an output differs.
set -euo pipefail
cd "$(dirname "$0")"
go version
status=0
for dir in */; do
  name=${dir%/}
  [[ -f $name.out ]] || continue
  if diff -u "$name.out" <(go run "./$name"); then
    echo "ok: $name matches $name.out"
  else
    echo "FAIL: $name differs from $name.out"
    status=1
  fi
done
exit $status
