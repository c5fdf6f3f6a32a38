#!/usr/bin/env bash
# Runs //examples:tour; it exits 0 only if every scenario behaved as Go on Linux.
# Then checks the lines of the Unix-socket and UDP sections, so that a section that
# quietly stopped running (or logging) fails too.
set -euo pipefail
tour="${TEST_SRCDIR}/${TEST_WORKSPACE:-gonet}/examples/tour"
out="${TEST_TMPDIR:-$(mktemp -d)}/tour.out"
rc=0
"$tour" | tee "$out" || rc=$?
((rc == 0)) || { echo "FAIL: tour exited $rc" >&2; exit 1; }

fail() { echo "FAIL: $*" >&2; exit 1; }
expect() {  # expect REGEX WHAT: some line of the output matches the extended REGEX
  grep -Eq -- "$1" "$out" || fail "no line matches: $2 ($1)"
}
ts='^[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:.]{15} '  # Go's log prefix with microseconds
sock='/tmp/gonet-tour-[A-Za-z0-9]{6}/sock'
ip='127\.0\.0\.1:[0-9]+'
# Unix socket section.
expect "${ts}--- PASS Unix socket: echo, addresses, file removed on Close" "Unix section passed"
expect "ok   listener Addr\(\) = unix/\"${sock}\"" "Unix listener address, Go-style"
expect "ok   dialed conn: local=unix/\"@\" remote=unix/\"${sock}\"" "dialed Unix conn's addresses"
expect "ok   the echo is \"hello\"" "Unix echo"
expect "err=\"read unix @->${sock}: i/o timeout\" \[IsTimeout\]" "Unix read deadline text"
expect "ok   the socket file is gone after Close \(access: ENOENT" "socket file removed on Close"
# UDP section.
expect "${ts}--- PASS UDP: round trip, ReadFrom's sender, read deadline" "UDP section passed"
expect "ok   got \"ping\" from=udp/${ip}: the sender is the dialed conn's LocalAddr" \
  "ReadFrom's sender"
expect "ok   got \"pong\"" "UDP reply"
expect "ok   ReadFrom -> n=0 err=\"read udp ${ip}: i/o timeout\" \[IsTimeout\]" \
  "UDP ReadFrom deadline text"
expect "err=\"read udp ${ip}->${ip}: i/o timeout\" \[IsTimeout\]" "dialed UDP read deadline text"
expect "${ts}[0-9]+/[0-9]+ passed in .*: gonet behaved as Go on Linux in every scenario" "summary"
echo "PASS: tour, and its Unix and UDP sections' lines"
