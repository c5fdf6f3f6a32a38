#!/usr/bin/env bash
# ci/fresh_machine_check.sh: the README's two commands on a fresh Debian 12.
#
# Builds a minimal Debian 12 (bookworm, mmdebstrap --variant=minbase) root from the
# apt sources this machine uses, clones this repository's committed HEAD into it
# (uncommitted changes are NOT part of the check), mounts /proc, /sys, /dev,
# /dev/pts and a fresh /dev/shm, and runs, as root with chroot, exactly
#     ./bazelw run //examples:tour
#     ./bazelw test //...
# in that order. Nothing is installed in the root beforehand: ./bazelw has to install
# everything. Exits 0 only if both commands exit 0; prints the last lines of each.
#
# Needs root (mount, chroot) and a few GiB under /var/tmp. The bare minbase root is
# cached as a tarball (per day and apt configuration) in /var/cache/gonet-fresh; what
# ./bazelw installs is never cached. Takes a while: a JDK, Bazel, clang and a full
# build on a fresh machine.
#
# Environment (all optional):
#   GONET_FRESH_CACHE    tarball cache directory        (default /var/cache/gonet-fresh)
#   GONET_FRESH_WORKDIR  where the root is unpacked     (default /var/tmp)
#   GONET_FRESH_LOGS     where the two commands' logs go (default /var/tmp/gonet-fresh-logs)
#   GONET_FRESH_TIMEOUT  seconds allowed per command    (default 2700)
#   GONET_FRESH_KEEP=1   keep the unpacked root afterwards (unmounted) for inspection
#   GONET_FRESH_SOURCES  space-separated apt source files to use instead of the host's
set -euo pipefail

SUITE=bookworm
# CI's checkout may belong to another user than root: git must not refuse it.
git() { command git -c safe.directory='*' "$@"; }
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here/.." rev-parse --show-toplevel)
cache_dir=${GONET_FRESH_CACHE:-/var/cache/gonet-fresh}
work_parent=${GONET_FRESH_WORKDIR:-/var/tmp}
step_timeout=${GONET_FRESH_TIMEOUT:-2700}
keep=${GONET_FRESH_KEEP:-0}
logs=${GONET_FRESH_LOGS:-/var/tmp/gonet-fresh-logs}/$(date +%Y%m%d-%H%M%S)

log() { printf '[fresh-machine %s +%4ds] %s\n' "$(date +%H:%M:%S)" "$SECONDS" "$*"; }
die() { log "ERROR: $*" >&2; exit 2; }

[[ $(id -u) -eq 0 ]] || die "must run as root (mount, chroot)"
export DEBIAN_FRONTEND=noninteractive
apt_host=(apt-get -q -o DPkg::Lock::Timeout=600)

# ---- what to test: the committed HEAD ---------------------------------------------
sha=$(git -C "$repo" rev-parse HEAD)
log "repository $repo at $(git -C "$repo" log -1 --format='%h %s' HEAD)"
if [[ -n $(git -C "$repo" status --porcelain --untracked-files=no) ]]; then
  log "note: the working tree has uncommitted changes; they are NOT part of this check"
fi

# ---- mmdebstrap ----------------------------------------------------------------------
if ! command -v mmdebstrap >/dev/null; then
  log "installing mmdebstrap on this machine"
  "${apt_host[@]}" install -y --no-install-recommends mmdebstrap >/dev/null 2>&1 || {
    "${apt_host[@]}" update >/dev/null &&
      "${apt_host[@]}" install -y --no-install-recommends mmdebstrap >/dev/null; } ||
    die "cannot install mmdebstrap"
fi

# ---- apt sources and options: the same as this machine's -----------------------------
sources=()
if [[ -n ${GONET_FRESH_SOURCES:-} ]]; then
  read -r -a sources <<<"$GONET_FRESH_SOURCES"
else
  if [[ -f /etc/apt/sources.list ]] && grep -qE '^[[:space:]]*deb' /etc/apt/sources.list; then
    sources+=(/etc/apt/sources.list)
  fi
  for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && sources+=("$f")
  done
fi
((${#sources[@]})) || die "no apt sources found in /etc/apt/sources.list*"
# Settings this machine needs to reach its mirror (proxy, no Valid-Until check on a
# snapshot mirror) go into the root too, as the machine's own apt configuration would.
aptopts=()
while IFS= read -r line; do
  aptopts+=(--aptopt="$line")
done < <(apt-config dump | grep -E '^Acquire::((https?|ftp)::Proxy|Check-Valid-Until|Check-Date) ' || true)
include=()
if cat "${sources[@]}" | grep -qE '^[^#]*https://'; then include=(--include=ca-certificates); fi
log "apt sources: ${sources[*]}${aptopts:+ (+ ${#aptopts[@]} apt option(s))}"

# ---- the bare minbase root, cached per day and configuration -------------------------
key=$( { cat "${sources[@]}"; printf '%s\n' "${aptopts[@]}" "${include[@]}"; mmdebstrap --version; } |
      sha256sum | cut -c1-12)
tarball="$cache_dir/$SUITE-minbase-$(date +%Y%m%d)-$key.tar"
mkdir -p "$cache_dir"
if [[ -s $tarball ]]; then
  log "using cached bare root $tarball"
else
  log "building bare $SUITE minbase root with mmdebstrap (cache: $tarball)"
  find "$cache_dir" -maxdepth 1 -type f -name "$SUITE-minbase-*.tar*" -delete
  mmdebstrap --variant=minbase --mode=root --format=tar "${aptopts[@]}" "${include[@]}" \
    "$SUITE" "$tarball.tmp" "${sources[@]}" >"$cache_dir/mmdebstrap.log" 2>&1 ||
    { tail -n 30 "$cache_dir/mmdebstrap.log"; rm -f "$tarball.tmp"; die "mmdebstrap failed"; }
  mv "$tarball.tmp" "$tarball"
  log "bare root: $(du -h "$tarball" | cut -f1) tarball"
fi

# ---- unpack, clone, mount; cleanup on any exit -----------------------------------------
mkdir -p "$work_parent" "$logs"
work=$(mktemp -d "$work_parent/gonet-fresh.XXXXXX")
root=$(realpath "$work")/root
mkdir "$root"
mounted=()

under_root_mounts() { awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' /proc/self/mountinfo; }

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -x $root/usr/bin/bazel && -d $root/root/gonet ]]; then
    timeout 60 chroot "$root" /bin/sh -c 'cd /root/gonet && bazel shutdown' >/dev/null 2>&1
  fi
  # Anything still running inside the root (started by this script) is stopped.
  local pid pids=()
  for pid in /proc/[0-9]*; do
    [[ $(readlink "$pid/root" 2>/dev/null) == "$root" ]] && pids+=("${pid#/proc/}")
  done
  if ((${#pids[@]})); then
    log "stopping processes left in the root: ${pids[*]}"
    kill -TERM "${pids[@]}" 2>/dev/null; sleep 2; kill -KILL "${pids[@]}" 2>/dev/null; sleep 1
  fi
  local i m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    m=${mounted[i]}
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "WARNING: cannot unmount $m"
  done
  if [[ -n $(under_root_mounts) ]]; then
    log "WARNING: still mounted under $root, NOT removing it: $(under_root_mounts | tr '\n' ' ')"
  elif [[ $keep == 1 ]]; then
    log "kept the (unmounted) root: $root"
  else
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "unpacking the bare root into $root"
tar -C "$root" --numeric-owner -xpf "$tarball"

log "cloning $repo at ${sha:0:12} into the root's /root/gonet"
git clone -q --no-local "$repo" "$root/root/gonet"
git -C "$root/root/gonet" -c advice.detachedHead=false checkout -q --detach "$sha"
[[ $(git -C "$root/root/gonet" rev-parse HEAD) == "$sha" ]] || die "clone is not at $sha"

# Host networking files a fresh machine has: the resolver, and Debian's default hosts.
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
cat >"$root/etc/hosts" <<'EOF'
127.0.0.1	localhost

# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
EOF

mnt() {  # mount args..., target last
  local target=${*: -1}
  mkdir -p "$target"
  mount "$@"
  mounted+=("$target")
  mount --make-rslave "$target" 2>/dev/null || true  # nothing propagates back to the host
}
mnt -t proc proc "$root/proc"
mnt -t sysfs sysfs "$root/sys"
mnt --bind /dev "$root/dev"
mnt --bind /dev/pts "$root/dev/pts"
mnt -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
log "mounted: ${mounted[*]#"$root"}"

# ---- the README's two commands, as a fresh root login would run them ------------------
declare -A result secs
in_root() {  # name, command
  local name=$1 cmd=$2 out="$logs/$1.log" start=$SECONDS rc=0 n=0
  log "[$name] chroot: cd /root/gonet && $cmd    (log: $out)"
  timeout --kill-after=30 "$step_timeout" \
    chroot "$root" /usr/bin/env -i HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
      TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      /bin/bash -c "cd /root/gonet && $cmd" </dev/null >"$out" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5
    if ((++n % 12 == 0)) && kill -0 "$pid" 2>/dev/null; then
      log "[$name] ... $(tail -n 1 "$out" | tr -d '\r' | cut -c1-140)"
    fi
  done
  wait "$pid" || rc=$?
  secs[$name]=$((SECONDS - start))
  echo "----- last lines of: $cmd -----"
  tail -n 25 "$out"
  echo "----- end ($cmd: exit $rc, ${secs[$name]}s) -----"
  ((rc == 124)) && log "[$name] timed out after ${step_timeout}s"
  result[$name]=$rc
}

in_root tour './bazelw run //examples:tour'
in_root test './bazelw test //...'

status=0
for name in tour test; do ((result[$name] == 0)) || status=1; done
log "summary: './bazelw run //examples:tour' exit ${result[tour]} (${secs[tour]}s)," \
    "'./bazelw test //...' exit ${result[test]} (${secs[test]}s); logs in $logs"
if ((status == 0)); then
  log "PASS: the README's two commands pass on a fresh Debian 12 ($SECONDS s in all)"
else
  log "FAIL: the README's commands do not pass on a fresh Debian 12 ($SECONDS s in all)"
fi
exit $status
