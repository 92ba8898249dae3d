#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prove what a newcomer does, on a fresh minimal Debian 12 (bookworm) tree built from
# Debian's registry with mmdebstrap, run in a chroot with nothing else installed:
#
#   quickstart     clone this checkout's commit and run `tools/build.sh` (the README's
#                  first command): it must exit 0 and print the status header.
#   test-presets   clone, run `tools/deps.sh --test` (the test command's dependency step),
#                  then configure and build every test preset and check the tools
#                  tools/test.sh calls are there, so a missing test dependency fails.
#   deb FILE.deb   dpkg -i + apt-get -f install the package, run `ibup status --root` on
#                  a fixture against its golden output, check its man pages, then check
#                  `dpkg -r` removes every file it installed and `dpkg -P` the state.
#
# The base tree is a tarball cached under $IBUP_CI_CACHE (default /var/cache/ibup-ci),
# keyed on the suite, the package list and this script's hash; each stage extracts a
# copy. Downloaded .debs are kept in $IBUP_CI_CACHE/apt-archives, bind-mounted as the
# tree's /var/cache/apt/archives: apt still resolves and installs everything itself,
# it only does not fetch the same file twice. The tree is a tmpfs (IBUP_CI_TMPFS=0: on
# disk, under $TMPDIR or /var/tmp). Needs root (chroot, mounts).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: tools/fresh-tree.sh quickstart | test-presets | deb FILE.deb

Run a newcomer's step in a fresh Debian 12 chroot (see the comment at the top of this
script). Environment: IBUP_CI_CACHE (default /var/cache/ibup-ci), IBUP_DEBIAN_MIRROR
(default http://deb.debian.org/debian), IBUP_DEBIAN_SECURITY (default
http://deb.debian.org/debian-security).
USAGE
}

self=$(readlink -f "$0")
repo=$(cd "$(dirname "$self")/.." && pwd)
cache=${IBUP_CI_CACHE:-/var/cache/ibup-ci}
mirror=${IBUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${IBUP_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
suite=bookworm
# Nothing beyond minbase (essential + apt): what the quick start needs, it installs.
base_packages=()

log() { printf "fresh-tree: [%3ds] %s\n" "$SECONDS" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

[ $# -ge 1 ] || {
  usage >&2
  exit 2
}
mode=$1
shift
case $mode in
quickstart | test-presets) [ $# -eq 0 ] || die "'$mode' takes no arguments" ;;
deb) if [ $# -ne 1 ] || [ ! -f "$1" ]; then die "deb: give one .deb file"; fi ;;
-h | --help)
  usage
  exit 0
  ;;
*)
  usage >&2
  exit 2
  ;;
esac
[ "$(id -u)" = 0 ] || die "needs root (chroot and mounts)"
for tool in mmdebstrap zstd git flock; do
  command -v "$tool" >/dev/null || die "needs $tool (tools/deps.sh --test installs it)"
done
# One run at a time per cache: the trees share its .deb directory, and apt in two of
# them would fight over its lock (CI runs of several checkouts may share a machine).
mkdir -p "$cache"
exec 9>"$cache/lock"
flock -w 1800 9 || die "another fresh-tree run has held $cache/lock for 30 minutes"
# A base tree left half-written by an interrupted run (none is being written: the lock).
rm -f "$cache"/.base.*

# The base tree: built once per (suite, mirror, package list, this script).
base_tarball() {
  local key tarball tmp
  key=$(printf '%s\n' "$suite" "$mirror" "$security" "${base_packages[*]:-}" \
    "$(sha256sum <"$self")" | sha256sum | cut -c1-16)
  tarball=$cache/debian-$suite-$key.tar.zst
  if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    tmp=$(mktemp "$cache/.base.XXXXXX.tar.zst")
    log "building the base tree (mmdebstrap $suite minbase), cached as $tarball"
    local include=()
    [ "${#base_packages[@]}" -eq 0 ] || include=("--include=$(
      IFS=,
      echo "${base_packages[*]}"
    )")
    if ! mmdebstrap --quiet --variant=minbase "${include[@]}" "$suite" "$tmp" \
      "deb $mirror $suite main" "deb $mirror $suite-updates main" \
      "deb $security $suite-security main"; then
      rm -f "$tmp"
      die "mmdebstrap failed"
    fi
    chmod 644 "$tmp"
    mv "$tmp" "$tarball"
  fi
  # Other keys belong to other versions of this script (branches sharing the machine);
  # drop those no run has used for a week.
  touch "$tarball"
  find "$cache" -maxdepth 1 -name "debian-$suite-*.tar.zst" -mtime +7 -delete
  printf '%s\n' "$tarball"
}

tree=
mounts=()
cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true
  done
  mounts=()
  [ -n "$tree" ] && [ -d "$tree" ] || return 0
  # Never delete through a mount point: that would reach the host's /dev or the cache.
  if findmnt -rn -o TARGET | grep -qE "^$tree(/|\$)"; then
    log "leaving $tree: something is still mounted under it"
    return 0
  fi
  rm -rf --one-file-system "$tree"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bind() {
  mkdir -p "$tree$2"
  mount --bind "$1" "$tree$2"
  mounts+=("$tree$2")
}

# A fresh copy of the base tree, with what a booted machine has: /proc, /sys, /dev and
# a resolver. $tree is removed again on exit.
new_tree() {
  local tarball
  tarball=$(base_tarball)
  tree=$(mktemp -d "${TMPDIR:-/var/tmp}/ibup-fresh.XXXXXX")
  # In memory by default: extracting and deleting a tree of many small files on a busy
  # disk took longer than the build in it. IBUP_CI_TMPFS=0 keeps it on disk.
  if [ "${IBUP_CI_TMPFS:-1}" = 1 ]; then
    mount -t tmpfs -o "size=${IBUP_CI_TMPFS_SIZE:-8g},mode=755" ibup-fresh "$tree"
    mounts+=("$tree")
  fi
  tar -C "$tree" --zstd -xpf "$tarball"
  mkdir -p "$tree/proc" "$cache/apt-archives/partial"
  mount -t proc proc "$tree/proc"
  mounts+=("$tree/proc")
  bind /sys /sys
  bind /dev /dev
  bind /dev/pts /dev/pts
  bind "$cache/apt-archives" /var/cache/apt/archives
  cp -L /etc/resolv.conf "$tree/etc/resolv.conf"
  log "fresh tree in $tree"
}

# Run a script in the tree as root with a login-like environment and nothing inherited.
in_tree() {
  chroot "$tree" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -euo pipefail -c "$1"
}

# `git clone` of this checkout into /root/ibup, at the commit checked out here.
clone() {
  local commit
  commit=$(git -C "$repo" rev-parse HEAD)
  git -C "$repo" diff --quiet HEAD -- ||
    log "note: uncommitted changes in $repo are not in the clone (commit ${commit:0:12})"
  git clone -q "$repo" "$tree/root/ibup"
  git -C "$tree/root/ibup" -c advice.detachedHead=false checkout -q "$commit"
}

quickstart() {
  new_tree
  clone
  log "tools/build.sh in a fresh Debian 12 tree"
  local out=$tree/root/build.log rc=0
  in_tree 'cd /root/ibup && tools/build.sh' >"$out" 2>&1 || rc=$?
  if [ "$rc" != 0 ] || ! grep -q '^System:' "$out"; then
    tail -n 40 "$out" >&2
    die "quickstart: tools/build.sh exited $rc$(grep -q '^System:' "$out" || echo ', no System: line')"
  fi
  sed -n '/^System:/,$p' "$out"
  log "quickstart: tools/build.sh exited 0 and printed the status"
}

test_presets() {
  local tests configures
  new_tree
  clone
  # Test presets and the configure presets they use, as CMakePresets.json has them.
  tests=$(jq -r '.testPresets[].name' "$repo/CMakePresets.json" | tr '\n' ' ')
  configures=$(jq -r '.testPresets[].configurePreset' "$repo/CMakePresets.json" | sort -u | tr '\n' ' ')
  log "tools/deps.sh --test, then configure and build: $configures"
  local out=$tree/root/test-presets.log rc=0
  in_tree "cd /root/ibup && tools/deps.sh --test
    for p in $configures; do
      echo \"== \$p\"
      cmake --preset \"\$p\" >/dev/null
      cmake --build --preset \"\$p\" >/dev/null
    done
    for p in $tests; do
      ctest --preset \"\$p\" -N >/dev/null
    done
    # What tools/test.sh calls besides the build.
    for c in clang-format shellcheck cppcheck python3 jq; do
      command -v \"\$c\" >/dev/null || { echo \"missing \$c\"; exit 1; }
    done
    python3 -c 'import jsonschema'" >"$out" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 40 "$out" >&2
    die "test-presets: failed (exit $rc)"
  fi
  log "test-presets: every test preset configured and built after tools/deps.sh --test"
}

deb() {
  local deb_file=$1 name
  name=$(dpkg-deb -f "$deb_file" Package)
  new_tree
  cp "$deb_file" "$tree/tmp/"
  cp -a "$repo/tests/fixtures/hbv3" "$tree/tmp/fixture"
  log "dpkg -i $(basename "$deb_file") in a fresh Debian 12 tree"
  local out=$tree/root/deb.log rc=0
  in_tree "name=$name deb=/tmp/$(basename "$deb_file")
    export DEBIAN_FRONTEND=noninteractive
    find / -xdev -type d 2>/dev/null | sort >/tmp/dirs-before
    apt-get update -qq
    dpkg -i \"\$deb\" || apt-get -f install -y -qq --no-install-recommends
    dpkg-query -W -f='\${Status}\n' \"\$name\" | grep -qx 'install ok installed'
    ibup status --root /tmp/fixture >/tmp/status.out
    diff -u /tmp/fixture/expected/status.out /tmp/status.out
    for page in ibup ibup-status ibup-check ibup-ipoib ibup-bench ibup-rename ibup-env ibup-metrics ibup-vmext ibup-install; do
      zcat /usr/share/man/man8/\$page.8.gz | grep -q '^\.TH' || { echo \"no man page \$page(8)\"; exit 1; }
    done
    dpkg -L \"\$name\" | sort >/tmp/installed
    mkdir -p /var/lib/ibup && echo '{}' >/var/lib/ibup/counters.json
    dpkg -r \"\$name\"
    left=0
    while read -r p; do
      [ \"\$p\" != /. ] || continue
      [ -e \"\$p\" ] || [ -L \"\$p\" ] || continue
      # A directory may stay when it was there before or another package owns it.
      if [ -d \"\$p\" ] && { grep -qxF \"\$p\" /tmp/dirs-before || dpkg -S \"\$p\" >/dev/null 2>&1; }; then
        continue
      fi
      echo \"left after dpkg -r: \$p\"
      left=1
    done </tmp/installed
    [ \$left = 0 ]
    [ -d /var/lib/ibup ] || { echo 'dpkg -r removed the state directory'; exit 1; }
    dpkg -P \"\$name\"
    [ ! -e /var/lib/ibup ] || { echo 'dpkg -P left /var/lib/ibup'; exit 1; }
    echo \"installed \$(wc -l </tmp/installed) paths; removed; purged\"" >"$out" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 40 "$out" >&2
    die "deb: failed (exit $rc)"
  fi
  tail -n 1 "$out"
  log "deb: installed, ran status on a fixture, had its man pages, removed and purged cleanly"
}

case $mode in
quickstart) quickstart ;;
test-presets) test_presets ;;
deb) deb "$1" ;;
esac
