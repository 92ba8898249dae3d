#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A busy host renames files all the time. openat2's RESOLVE_IN_ROOT refuses a ".."
# (sys/class/net/* link to ../../devices/...) with EAGAIN whenever a rename races the
# walk; ibup must retry, never drop what it reads. Runs `status --json` on a fixture
# while renaming in a loop, and compares each output with the golden file. (The
# race is probabilistic: before the retry, about one run in fifteen lost an IPoIB
# interface here.)
set -uo pipefail
ibup=${1:?usage: test-busy-host.sh IBUP FIXTURE}
fixture=${2:?}
tmp=$(mktemp -d)
rpid=
# shellcheck disable=SC2317 # run by the trap
cleanup() { [ -n "$rpid" ] && kill "$rpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
touch "$tmp/a"
(while :; do mv "$tmp/a" "$tmp/b"; mv "$tmp/b" "$tmp/a"; done) 2>/dev/null &
rpid=$!
fail=0
for i in $(seq 1 40); do
  if ! "$ibup" --root "$fixture" status --json 2>"$tmp/err" | cmp -s - "$fixture/expected/status-json.out"; then
    echo "FAIL run $i: output differs from the golden file; stderr: $(head -c 300 "$tmp/err")"
    fail=1
  fi
done
[ "$fail" = 0 ] && echo "ok   40 runs under renames"
exit "$fail"
