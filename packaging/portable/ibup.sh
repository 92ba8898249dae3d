#!/bin/sh
# SPDX-License-Identifier: MIT
# sbin/ibup of the portable tarball (tools/portable.sh --tarball): the real program is
# libexec/ibup/ibup beside it, built to need GNU libc 2.28 (RHEL 8's) or newer. On an
# older libc the dynamic linker would only say "version `GLIBC_2.28' not found"; this
# says it in words, and exits 4 (unsupported), before running it.
need=2.28

self=$(readlink -f "$0" 2>/dev/null) || self=$0
real=$(dirname "$self")/../libexec/ibup/ibup

# "glibc 2.28" from getconf; else ldd's first line, "ldd (GNU libc) 2.28".
have=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc \([0-9][0-9.]*\).*/\1/p')
[ -n "$have" ] ||
  have=$(ldd --version 2>/dev/null | head -n 1 | grep -Ei 'gnu|glibc' |
    sed -n 's/.* \([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p')

# 0 when version $1 is at least $2 (both major.minor).
at_least() {
  a1=${1%%.*} a2=${1#*.} b1=${2%%.*} b2=${2#*.}
  a2=${a2%%.*}
  [ "$a1" -gt "$b1" ] || { [ "$a1" -eq "$b1" ] && [ "$a2" -ge "$b2" ]; }
}

case $have in
[0-9]*.[0-9]*) ;;
*)
  echo "ibup: this build needs GNU libc $need or newer, and this system's C library is not GNU libc (no 'getconf GNU_LIBC_VERSION', no 'ldd --version' naming it)" >&2
  exit 4
  ;;
esac
if ! at_least "$have" "$need"; then
  echo "ibup: this build needs GNU libc $need or newer (RHEL 8 has 2.28); this system has $have: use the distribution's ibup package, or build ibup from source here" >&2
  exit 4
fi
if [ ! -x "$real" ]; then
  echo "ibup: '$real' is missing: unpack the whole tarball, keeping sbin/ and libexec/ side by side" >&2
  exit 3
fi
exec "$real" "$@"
