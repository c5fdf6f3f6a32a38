#!/usr/bin/env bash
# ci/cxx_level_check.sh: every public gonet header, compiled below C++20, must stop at
# once with gonet's one-line message (gonet_cxx_version.h), not with errors from inside
# gonet; and each must compile on its own at C++20. Every source file of the libraries
# must stop the same way: a consumer's pre-C++20 build compiles them too, and Bazel
# reports whichever action fails first (a source whose first error was gonet's own
# `constinit` hid the message once). Uses g++ and, when present, clang++
# (-fsyntax-only; a few seconds). Exits non-zero on the first header that does not.
set -euo pipefail
cd "$(dirname "$0")/.."

HEADERS=(poller/poller.h fiber/fiber.h fiber/sync.h fiber/channel.h fiber/timer.h
         fiber/context.h netfd/fd_mutex.h netfd/poll_desc.h netfd/netfd.h net/net.h)
MESSAGE='gonet needs C++20: build with -std=c++20'
compilers=(g++)
command -v clang++ >/dev/null && compilers+=(clang++)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

for cxx in "${compilers[@]}"; do
  for h in "${HEADERS[@]}"; do
    printf '#include "%s"\n' "$h" >"$tmp/t.cc"
    for std in c++17 gnu++17 c++14; do
      if "$cxx" -std=$std -fsyntax-only -I. "$tmp/t.cc" >"$tmp/out" 2>&1; then
        fail "$cxx -std=$std: $h compiled (expected gonet's C++20 error)"; continue
      fi
      grep -q "$MESSAGE" "$tmp/out" || { fail "$cxx -std=$std: $h: message missing"; cat "$tmp/out"; continue; }
      # The #error and the fatal stop right after it: nothing from gonet's own code.
      n=$(grep -cE ':[0-9]+:[0-9]+: (fatal )?error:' "$tmp/out" || true)
      ((n == 2)) || { fail "$cxx -std=$std: $h: $n errors, expected to stop at once"; cat "$tmp/out"; }
    done
    # The control: at C++20 the header compiles on its own (once; Bazel builds cover clang).
    if [[ $cxx == g++ ]]; then
      "$cxx" -std=c++20 -fsyntax-only -I. "$tmp/t.cc" >"$tmp/out" 2>&1 ||
        { fail "$cxx -std=c++20: $h does not compile on its own"; cat "$tmp/out"; }
    fi
  done
  echo "$cxx: the ${#HEADERS[@]} public headers stop below C++20 with gonet's message"
  # The libraries' sources (poller_bsd.cc needs kqueue's headers: not on Linux).
  sources=()
  for src in poller/*.cc fiber/*.cc fiber/internal/*.cc netfd/*.cc net/*.cc; do
    [[ $src == *_test.cc || $src == poller/poller_bsd.cc ]] && continue
    [[ $(uname -s) != Linux && $src == poller/poller_linux.cc ]] && continue
    sources+=("$src")
    if "$cxx" -std=c++17 -fsyntax-only -I. "$src" >"$tmp/out" 2>&1; then
      fail "$cxx -std=c++17: $src compiled (expected gonet's C++20 error)"; continue
    fi
    grep -q "$MESSAGE" "$tmp/out" || { fail "$cxx -std=c++17: $src: message missing"; cat "$tmp/out"; continue; }
    n=$(grep -cE ':[0-9]+:[0-9]+: (fatal )?error:' "$tmp/out" || true)
    ((n == 2)) || { fail "$cxx -std=c++17: $src: $n errors, expected to stop at once"; cat "$tmp/out"; }
  done
  echo "$cxx: the ${#sources[@]} library sources stop below C++20 with gonet's message"
done
exit $status
