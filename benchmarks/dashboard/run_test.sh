#!/usr/bin/env bash
# run_test.sh: runs the dashboard's browser test. Installs what it needs first:
# node_modules from package-lock.json (npm ci) when missing, and Debian's
# chromium when /usr/bin/chromium is missing (as root, or through sudo).
# Usage: benchmarks/dashboard/run_test.sh [--screenshot PATH] [--chromium PATH]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -d node_modules/chart.js || ! -d node_modules/playwright-core ]]; then
  echo "run_test.sh: npm ci" >&2
  npm ci --no-audit --no-fund >&2
fi

chromium_flag=""
for a in "$@"; do [[ $a == --chromium* ]] && chromium_flag=1; done
if [[ -z $chromium_flag && -z ${CHROMIUM:-} && ! -x /usr/bin/chromium ]]; then
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null && sudo_cmd=(sudo)
  echo "run_test.sh: /usr/bin/chromium missing; apt-get install -y chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  if ! { "${sudo_cmd[@]}" apt-get update -q >&2 && \
         "${sudo_cmd[@]}" apt-get install -y -q chromium >&2; }; then
    echo "run_test.sh: could not install chromium; install Debian's chromium package" >&2
    exit 3
  fi
fi

exec node test_dashboard.mjs "$@"
