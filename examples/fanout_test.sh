#!/usr/bin/env bash
# Runs //examples:fanout twice: with fast backends the first answer wins and every
# other query ends canceled; with only slow ones the deadline ends the wait.
set -euo pipefail
fanout="${TEST_SRCDIR}/${TEST_WORKSPACE:-gonet}/examples/fanout"

out=$("$fanout" --fast_backends=1 --slow_backends=2 --deadline=5s)
echo "$out"
grep -q '^first answer from 127.0.0.1:' <<<"$out"
# The slow ones and the black hole were canceled, not left to run out the deadline.
test "$(grep -c 'operation was canceled\|context canceled' <<<"$out")" -ge 3

out=$("$fanout" --fast_backends=0 --slow_backends=2 --slow_delay=10s --deadline=100ms)
echo "$out"
grep -q '^no answer by the deadline: context deadline exceeded$' <<<"$out"
grep -q 'dial tcp 127.0.0.1:[0-9]*: i/o timeout' <<<"$out"
