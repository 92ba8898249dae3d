#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The command line's contract: help, version, usage errors (exit 2 with a "Try" line),
# failures to read (exit 3), write errors on stdout, and global options on either side.
set -uo pipefail

ibup=${1:?usage: test-behaviour.sh IBUP}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect RC PATTERN-ON-STREAM STREAM -- ARGS...
expect() {
  local want_rc=$1 pattern=$2 stream=$3
  shift 4
  local rc=0
  "$ibup" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" != "$want_rc" ]; then
    echo "FAIL: ibup $*: exit $rc, expected $want_rc" >&2
    sed 's/^/  stderr: /' "$tmp/err" >&2
    failures=$((failures + 1))
    return
  fi
  if ! grep -Eq -- "$pattern" "$tmp/$stream"; then
    echo "FAIL: ibup $*: $stream lacks /$pattern/" >&2
    sed "s/^/  $stream: /" "$tmp/$stream" >&2
    failures=$((failures + 1))
  fi
}

expect 0 '^ibup [0-9]+\.[0-9]+\.[0-9]+$' out -- --version
expect 0 '^Usage: ibup \[OPTIONS\] COMMAND' out -- --help
expect 0 '^  status ' out -- --help
expect 0 '^Usage: ibup status' out -- help status
expect 0 '^Usage: ibup status' out -- status --help
expect 0 '^Usage: ibup \[OPTIONS\]' out -- help
expect 0 '^Usage: ibup help' out -- help --help
expect 2 "^Try 'ibup --help'\.$" err -- help nosuch
expect 2 "^ibup: no command given$" err --
expect 2 "^Try 'ibup --help'\.$" err --
expect 2 "^ibup: unknown command 'nosuch'$" err -- nosuch
expect 2 "^ibup: unknown option '-x'$" err -- -x status
expect 2 "^Try 'ibup status --help'\.$" err -- status --bogus
expect 2 "^ibup: unexpected argument 'extra'$" err -- status extra
expect 2 "needs a directory" err -- --root= status
# A missing argument names the option (not "-" and a NUL byte); unknown long options too.
expect 2 "^ibup: option '--root' needs an argument$" err -- --root
if LC_ALL=C grep -qP '\x00' "$tmp/err"; then
  echo "FAIL: a NUL byte on stderr" >&2
  failures=$((failures + 1))
fi
expect 2 "^ibup: unknown option '--bogus'$" err -- --bogus status
expect 2 "^ibup: unknown option '--json=1'$" err -- --json=1 status
# Not a URL is a usage error, not "No route to host".
expect 2 "^ibup: --metadata-url needs an http:// or https:// URL, not 'notaurl'$" err \
  -- status --metadata-url notaurl
expect 2 "URL, not 'ftp://x'" err -- check --metadata-url ftp://x
expect 3 "^ibup: cannot open root '/nonexistent/ibup-root': No such file or directory$" err \
  -- --root /nonexistent/ibup-root status
expect 0 '^Usage: ibup env' out -- env --help
expect 2 "^ibup: --format takes sh, mpirun, srun or mpich, not 'csh'$" err -- env --format csh
expect 2 "^ibup: --mpi takes openmpi, hpcx, intel, mpich or all, not 'lam'$" err -- env --mpi lam
expect 2 "^ibup: --json and --format are exclusive$" err -- env --json --format sh
# Usage errors print nothing on stdout.
"$ibup" status --bogus >"$tmp/out" 2>/dev/null
if [ -s "$tmp/out" ]; then
  echo "FAIL: a usage error wrote to stdout" >&2
  failures=$((failures + 1))
fi

# Global options after the command mean the same as before it.
mkdir -p "$tmp/root/etc"
echo 'ID=testos' >"$tmp/root/etc/os-release"
a=$("$ibup" --root "$tmp/root" --json status)
b=$("$ibup" status --json --root "$tmp/root")
if [ "$a" != "$b" ] || ! grep -q '"os_id": "testos"' <<<"$a"; then
  echo "FAIL: global options differ before and after the command" >&2
  failures=$((failures + 1))
fi
# IBUP_ROOT stands for --root.
c=$(IBUP_ROOT="$tmp/root" "$ibup" status --json)
if [ "$a" != "$c" ]; then
  echo "FAIL: IBUP_ROOT is not the same as --root" >&2
  failures=$((failures + 1))
fi

# A write error on stdout is a failure (exit 3), not a silent success.
if [ -w /dev/full ]; then
  rc=0
  "$ibup" --root "$tmp/root" status --json >/dev/full 2>"$tmp/err" || rc=$?
  if [ "$rc" != 3 ] || ! grep -q 'cannot write' "$tmp/err"; then
    echo "FAIL: writing to /dev/full gave exit $rc" >&2
    failures=$((failures + 1))
  fi
fi

# A reader that goes away early (a closed pipe) is not an error.
rc=0
"$ibup" --help | head -n 1 >/dev/null || rc=$?
[ "$rc" = 0 ] || { echo "FAIL: closed pipe gave exit $rc" >&2; failures=$((failures + 1)); }

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed" >&2
  exit 1
fi
echo "all command-line checks passed"
