#!/usr/bin/env bash
# Runs //examples:tour; it exits 0 only if every scenario behaved as Go on Linux.
set -euo pipefail
tour="${TEST_SRCDIR}/${TEST_WORKSPACE:-gonet}/examples/tour"
"$tour"
