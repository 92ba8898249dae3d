# SPDX-License-Identifier: MIT
# Sourced by the install tests: arguments, the kit, a scratch directory, fake-http, checks.
# shellcheck shell=bash
#
# Usage of a test: test-X.sh IBUP FAKE_HTTP SOURCE_DIR. The trees are built by the kit
# (tests/install/kit) from real packages with the real package managers; they need root
# (chroot, dnf --installroot, zypper --root). A missing tool is a skip (77), never a pass.

[ $# -eq 3 ] || {
  echo "usage: ${0##*/} IBUP FAKE_HTTP SOURCE_DIR" >&2
  exit 2
}
ibup=$(readlink -f -- "$1")
fake_http=$(readlink -f -- "$2")
src=$(readlink -f -- "$3")
kit=$src/tests/install/kit
# shellcheck source=tests/install/kit/lib.sh
. "$kit/lib.sh"

if [ "$(id -u)" != 0 ]; then
  echo "${0##*/}: needs root (chroot, dnf --installroot, zypper --root)" >&2
  exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ibup-install-test.XXXXXX")
http_pid=
cleanup() {
  local m
  [ -z "$http_pid" ] || kill "$http_pid" 2>/dev/null || true
  # What a test mounted inside the scratch directory first, deepest first.
  for m in $(findmnt -rn -o TARGET | grep "^$tmp/" | sort -r); do
    umount "$m" || umount -l "$m" || true
  done
  if mountpoint -q "$tmp"; then
    umount "$tmp" || umount -l "$tmp" || true
  fi
  # Never delete through a mount point.
  mountpoint -q "$tmp" || rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
# The trees live in memory when possible: extracting a Debian userland of many small files
# onto a busy disk took ten times as long. IBUP_INSTALL_TMPFS=0 keeps them on disk.
if [ "${IBUP_INSTALL_TMPFS:-1}" = 1 ]; then
  mount -t tmpfs -o size=3g,mode=700 ibup-install-test "$tmp" 2>/dev/null || true
fi
# rpm, dnf, zypper and ibup's `rpm -q --root` agree on /var/lib/rpm (kit/make-tree.sh).
kit_rpm_env

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# make_tree KIND DIR: a fresh tree from the kit (kit/make-tree.sh).
make_tree() {
  local rc=0
  "$kit/make-tree.sh" "$1" "$2" 2>"$tmp/make-tree.log" || rc=$?
  [ "$rc" = 77 ] && exit 77
  [ "$rc" = 0 ] || {
    cat "$tmp/make-tree.log" >&2
    fail "could not build the $1 tree"
  }
}

# kit_product SCRIPT ARG...: a cached kit product's directory (77 when a tool is missing).
kit_product() {
  local out rc=0
  out=$("$kit/$1" "${@:2}") || rc=$?
  [ "$rc" = 77 ] && exit 77
  [ "$rc" = 0 ] || fail "kit/$1 ${*:2} failed"
  printf '%s\n' "$out"
}

# serve DIR: fake-http serving DIR's files under /files/ (and 301 from /downloads/);
# sets $base to http://127.0.0.1:PORT.
serve() {
  local port
  coproc HTTP { exec "$fake_http" "$1"; }
  # shellcheck disable=SC2153 # set by coproc
  http_pid=$HTTP_PID
  read -r port <&"${HTTP[0]}" || fail "fake-http did not start"
  # shellcheck disable=SC2034 # used by the tests that source this file
  base=http://127.0.0.1:$port
}

# run_ibup NAME ARG...: run ibup, keeping stdout, stderr and the exit code in
# $tmp/NAME.{out,err,rc}; sets $rc.
run_ibup() {
  local name=$1
  shift
  rc=0
  "$ibup" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  echo "$rc" >"$tmp/$name.rc"
}

# expect_rc NAME CODE: the run NAME exited with CODE, else show its output and fail.
expect_rc() {
  local got
  got=$(cat "$tmp/$1.rc")
  if [ "$got" != "$2" ]; then
    echo "--- $1: stdout" >&2
    cat "$tmp/$1.out" >&2
    echo "--- $1: stderr" >&2
    cat "$tmp/$1.err" >&2
    fail "$1: exit code $got, expected $2"
  fi
}

# expect_in NAME out|err TEXT: the run's stdout or stderr contains TEXT (fixed string).
expect_in() {
  grep -qF -- "$3" "$tmp/$1.$2" || {
    cat "$tmp/$1.out" "$tmp/$1.err" >&2
    fail "$1: '$3' not in its std$2"
  }
}

# installed ROOT PKG...: each package's marker is in ROOT (its files really landed) and the
# tree's own database lists it.
installed() {
  local root=$1 p
  shift
  for p in "$@"; do
    [ -f "$root/usr/share/ibup-kit/installed/$p" ] || fail "$p: its files are not in $root"
  done
}

# not_installed ROOT PKG...: the opposite.
not_installed() {
  local root=$1 p
  shift
  for p in "$@"; do
    [ ! -e "$root/usr/share/ibup-kit/installed/$p" ] || fail "$p is installed in $root"
  done
}
