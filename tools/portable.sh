#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The portable build: one ibup binary for every distribution `ibup install` supports,
# EL8 (glibc 2.28) included, for the tarball, the RPM and the VM extension.
#
#   1. Build it in a Debian 11 (bullseye) tree made from Debian's registry with
#      mmdebstrap (glibc 2.31 headers, CMake 3.18, so no presets: plain -D options):
#      the release flags (-O2, hardening, no tests) with IBUP_STATIC_DEPS=ON, which
#      links jansson and expat from Debian's .a files. libmnl stays shared (every
#      target has it through iproute2); libibverbs, libcurl and libcrypto are loaded
#      with dlopen as always.
#   2. Check the ELF: no GLIBC_ symbol version newer than 2.28 (the wrapper's $need,
#      packaging/portable/ibup.sh), and nothing in NEEDED but libc's own libraries
#      and libmnl.
#   3. In the Debian 11 tree, with libjansson4 and libexpat1 removed, run its
#      `--version` and `status --root` on the hbv3 fixture against the golden output.
#
# Out: build/portable/ibup, and with --tarball build/portable/ibup-<version>-<arch>.tar.gz
# (sbin/ibup the wrapper that refuses an older glibc in words, libexec/ibup/ibup the
# program, man pages, completions, data; unpack it into /usr/local or /opt/ibup with
# --strip-components=1).
#
# The tree is a tarball cached under $IBUP_CI_CACHE (default /var/cache/ibup-ci) keyed
# on its content: suite, mirrors and package list (not this script, so a change to the
# build steps does not rebuild it). Each run extracts a fresh copy into a tmpfs
# (IBUP_CI_TMPFS=0: on disk) and removes it. Needs root (chroot, mounts).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: tools/portable.sh [--tarball]

Build the portable ibup in a Debian 11 chroot, check it needs glibc 2.28 at most and
not jansson or expat, and run it there on a fixture (see the comment at the top of
this script). --tarball also makes the release tarball. Environment: IBUP_CI_CACHE
(default /var/cache/ibup-ci), IBUP_DEBIAN_MIRROR (default http://deb.debian.org/debian),
IBUP_DEBIAN_SECURITY (default http://deb.debian.org/debian-security).
USAGE
}

self=$(readlink -f "$0")
repo=$(cd "$(dirname "$self")/.." && pwd)
cache=${IBUP_CI_CACHE:-/var/cache/ibup-ci}
mirror=${IBUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${IBUP_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}
suite=bullseye
out=$repo/build/portable
wrapper=$repo/packaging/portable/ibup.sh
# What the build needs (tools/deps.sh's build list, with the compiler's libc headers
# and binutils spelled out): installed when the tree is made, so a run needs no network.
build_packages=(gcc libc6-dev binutils cmake ninja-build pkg-config libjansson-dev libmnl-dev
  libexpat1-dev libcurl4-openssl-dev libibverbs-dev scdoc)
# The oldest glibc the binary must run on, as the wrapper says it.
need=$(sed -n 's/^need=//p' "$wrapper")

# shellcheck source=tools/lib-tree.sh
. "$repo/tools/lib-tree.sh"

log() { printf "portable: [%3ds] %s\n" "$SECONDS" "$*" >&2; }
die() {
  log "$*"
  exit 1
}

tarball=0
for arg in "$@"; do
  case $arg in
  --tarball) tarball=1 ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
done
[ -n "$need" ] || die "no need= line in $wrapper"
[ "$(id -u)" = 0 ] || die "needs root (chroot and mounts)"
for tool in mmdebstrap zstd git flock objdump readelf; do
  command -v "$tool" >/dev/null || die "needs $tool (tools/deps.sh --test installs it)"
done
# One portable run at a time per cache, which makes the tree's tarball. Its own lock and
# temporary names, not fresh-tree.sh's: this uses no shared apt directory, so it need not
# wait for a fresh-tree run.
mkdir -p "$cache"
exec 9>"$cache/portable.lock"
flock -w 1800 9 || die "another run has held $cache/portable.lock for 30 minutes"
# A tree tarball left half-written by an interrupted run (none is being written: the lock).
rm -f "$cache"/.portable.*

# A fresh copy of the build tree, made once per (suite, mirrors, package list).
new_tree() {
  tree_new "$(tree_base_tarball portable "portable build tree 1" "${build_packages[@]}")" portable 4g
  log "Debian 11 tree in $tree"
}

new_tree
# The tracked files as they are in the working tree (as tools/package.sh builds).
mkdir -p "$tree/root/ibup"
git -C "$repo" ls-files -z | (cd "$repo" && tar --null -T - -cf -) | tar -xf - -C "$tree/root/ibup"

log "configure and build (CMake $(in_tree 'cmake --version | sed -n "1s/.* //p"'), $(in_tree 'ldd --version | sed -n "1s/.* //p"' | sed 's/^/glibc /'))"
rc=0
in_tree 'cmake -S /root/ibup -B /root/build -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" -DIBUP_HARDEN=ON -DIBUP_TESTS=OFF \
    -DIBUP_STATIC_DEPS=ON -DIBUP_MAN=ON -DCMAKE_INSTALL_PREFIX=/usr
  cmake --build /root/build
  DESTDIR=/root/stage cmake --install /root/build' >"$tree/root/build.log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  tail -n 40 "$tree/root/build.log" >&2
  die "the build failed (exit $rc)"
fi
rm -rf "$out"
mkdir -p "$out"
# Named ibup only once every check below passed: nothing takes a binary that failed one.
bin=$out/ibup.unchecked
cp "$tree/root/build/ibup" "$bin"
log "built $bin ($(stat -c %s "$bin") bytes)"

# The ELF: every GLIBC_ version it asks for, then the newest against $need.
versions=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV)
newest=$(tail -n 1 <<<"$versions")
log "glibc symbol versions: $(tr '\n' ' ' <<<"$versions")"
if [ "$(printf '%s\n' "GLIBC_$need" "$newest" | sort -V | tail -n 1)" != "GLIBC_$need" ]; then
  objdump -T "$bin" | awk -v need="$need" '
    match($0, /GLIBC_[0-9.]+/) {
      split(substr($0, RSTART + 6, RLENGTH - 6), v, ".")
      split(need, n, ".")
      if (v[1] > n[1] || (v[1] == n[1] && v[2] > n[2])) print "  " $NF " (" substr($0, RSTART, RLENGTH) ")"
    }' >&2
  die "$bin needs $newest, newer than glibc $need: replace the symbols above with syscall() or a fallback"
fi
needed=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
log "NEEDED: $(tr '\n' ' ' <<<"$needed")"
while read -r lib; do
  case $lib in
  libc.so.6 | libm.so.6 | libdl.so.2 | libpthread.so.0 | librt.so.1 | libmnl.so.0 | ld-linux*) ;;
  *) die "$bin needs $lib: only glibc's libraries and libmnl may be (jansson and expat are linked in: IBUP_STATIC_DEPS)" ;;
  esac
done <<<"$needed"

# Run it where glibc is 2.31 and neither jansson nor expat is installed.
cp -a "$repo/tests/fixtures/hbv3" "$tree/tmp/fixture"
rc=0
in_tree 'dpkg --purge --force-depends libjansson4 libexpat1 >/dev/null 2>&1
  ! ls /usr/lib/*/libjansson.so.* /usr/lib/*/libexpat.so.* 2>/dev/null
  /root/build/ibup --version
  /root/build/ibup status --root /tmp/fixture >/tmp/status.out
  diff -u /tmp/fixture/expected/status.out /tmp/status.out' >"$tree/root/run.log" 2>&1 || rc=$?
if [ "$rc" != 0 ]; then
  cat "$tree/root/run.log" >&2
  die "the portable binary failed in the Debian 11 tree (exit $rc)"
fi
log "in Debian 11 without libjansson4 and libexpat1: '$(head -n 1 "$tree/root/run.log")'; status on hbv3 equals its golden output"
mv "$bin" "$out/ibup"

if [ "$tarball" = 1 ]; then
  version=$(sed -n 's/^project(ibup VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")
  name=ibup-$version-$(uname -m)
  stage=$out/$name
  cp -a "$tree/root/stage/usr" "$stage"
  mkdir -p "$stage/libexec/ibup"
  mv "$stage/sbin/ibup" "$stage/libexec/ibup/ibup"
  install -m 755 "$wrapper" "$stage/sbin/ibup"
  cp "$repo/LICENSE" "$stage/"
  # The wrapper on this machine: it runs the program, and refuses an old glibc in words.
  "$stage/sbin/ibup" --version >/dev/null || die "the tarball's sbin/ibup does not run here"
  fake=$(mktemp -d)
  printf '#!/bin/sh\necho "glibc 2.17"\n' >"$fake/getconf"
  chmod +x "$fake/getconf"
  rc=0
  msg=$(PATH=$fake:$PATH "$stage/sbin/ibup" --version 2>&1) || rc=$?
  rm -rf "$fake"
  if [ "$rc" != 4 ] || ! grep -q "needs GNU libc $need or newer.*has 2.17" <<<"$msg"; then
    die "the wrapper did not refuse glibc 2.17 (exit $rc: $msg)"
  fi
  # And in the Debian 11 tree, through a symlink as an admin would put it on PATH.
  cp -a "$stage" "$tree/opt/ibup"
  ln -s /opt/ibup/sbin/ibup "$tree/usr/local/sbin/ibup"
  in_tree 'ibup --version' >/dev/null || die "the tarball's sbin/ibup does not run in Debian 11"
  # The same bytes for the same commit: times from it, no name or time in the gzip header.
  tar -C "$out" --owner=0 --group=0 --numeric-owner --sort=name \
    --mtime="@$(git -C "$repo" log -1 --format=%ct)" -cf - "$name" | gzip -n >"$out/$name.tar.gz"
  log "tarball $out/$name.tar.gz: $(tar -tzf "$out/$name.tar.gz" | grep -vc '/$') files"
fi
log "done: $out/ibup runs on glibc $need and newer"
