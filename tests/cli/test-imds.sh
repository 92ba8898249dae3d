#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The metadata client against a real HTTP server on loopback (tests/fakes/fake-imds):
# success, throttling, a server that never answers, garbage, a body too large, an
# error document, a hang-up. None may crash, hang past its limit, or mis-report.
set -uo pipefail
ibup=${1:?usage: test-imds.sh IBUP FAKE-IMDS FIXTURE}
fake=${2:?}
fixture=${3:?}
tmp=$(mktemp -d)
pid=
# shellcheck disable=SC2317 # run by the trap
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0

start() {
  # A fresh file per server: the background shell truncates it only when it gets to run.
  local f="$tmp/port.$1"
  rm -f "$f"
  "$fake" "$1" >"$f" &
  pid=$!
  for _ in $(seq 1 50); do
    [ -s "$f" ] && break
    sleep 0.1
  done
  port=$(head -n 1 "$f")
}
stop() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=; }

# case MODE WANT-SIZE WANT-STDERR-PATTERN MAX-SECONDS
case_() {
  local mode=$1 want=$2 pattern=$3 max=$4 rc=0 t0 t1 got
  start "$mode"
  t0=$(date +%s%N)
  "$ibup" --root "$fixture" status --json --metadata-url "http://127.0.0.1:$port" \
    >"$tmp/out" 2>"$tmp/err" || rc=$?
  t1=$(date +%s%N)
  stop
  got=$(python3 -c 'import json,sys; v=json.load(sys.stdin)["platform"]["vm_size"]; print(v if v else "null")' <"$tmp/out" 2>/dev/null) ||
    got="(no JSON)"
  local ms=$(((t1 - t0) / 1000000))
  if [ "$rc" != 0 ]; then
    echo "FAIL $mode: exit $rc"; fail=1
  elif [ "$got" != "$want" ]; then
    echo "FAIL $mode: vm_size '$got', expected '$want'"; fail=1
  elif [ -n "$pattern" ] && { [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -Eq "$pattern" "$tmp/err"; }; then
    echo "FAIL $mode (port $port): stderr is not one line matching /$pattern/: [$(cat "$tmp/err")]"; fail=1
  elif [ -z "$pattern" ] && [ -s "$tmp/err" ]; then
    echo "FAIL $mode: unexpected stderr:"; cat "$tmp/err"; fail=1
  elif [ "$ms" -gt $((max * 1000)) ]; then
    echo "FAIL $mode: took ${ms} ms, limit ${max} s"; fail=1
  else
    echo "ok   $mode: vm_size $got in ${ms} ms ${pattern:+($(cat "$tmp/err"))}"
  fi
}

case_ ok Standard_HB120rs_v3 "" 5
case_ throttled null 'VM size unknown: the metadata service: too many requests \(HTTP 429\)$' 5
case_ slow null 'VM size unknown: the metadata service: no answer within 1500 ms$' 4
case_ garbage null 'the metadata service: the answer is not JSON' 5
case_ novmsize null 'the metadata service: the answer has no vmSize$' 5
case_ huge null 'the metadata service: the answer is larger than 256 KiB$' 5
case_ badrequest null 'the metadata service: HTTP 400: Bad request\. api-version is invalid' 5
case_ hangup null 'VM size unknown: the metadata service: the connection closed without an answer$' 5
case_ bigheader null 'VM size unknown: the metadata service: curl refused the answer' 5
# The server's words reach the terminal sanitized: no control character.
case_ escape null 'VM size unknown: the metadata service: HTTP 500: \?\]0;pwned\?\?\[2J\?\?31mboom$' 5
if LC_ALL=C grep -qP '[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]|\xc2[\x80-\x9f]' "$tmp/err"; then
  echo "FAIL escape: control characters on stderr"; fail=1
fi

# A failure of any kind is one warning, and check goes on to give its verdict.
for mode in bigheader escape garbage huge hangup; do
  start "$mode"
  rc=0
  "$ibup" --root "$fixture" check --no-state --metadata-url "http://127.0.0.1:$port" \
    >"$tmp/out" 2>"$tmp/err" || rc=$?
  stop
  if [ "$rc" -gt 1 ] || ! grep -q 'passed' "$tmp/out" || [ "$(wc -l <"$tmp/err")" != 1 ]; then
    echo "FAIL check with $mode: exit $rc, stdout $(wc -l <"$tmp/out") lines, stderr: $(cat "$tmp/err")"; fail=1
  else
    echo "ok   check with $mode: exit $rc, $(cat "$tmp/err")"
  fi
done

# Nobody listening: refused at once.
rc=0
"$ibup" --root "$fixture" status --json --metadata-url http://127.0.0.1:1 >"$tmp/out" 2>"$tmp/err" || rc=$?
if [ "$rc" != 0 ] || ! grep -q 'Connection refused' "$tmp/err"; then
  echo "FAIL refused: exit $rc: $(cat "$tmp/err")"; fail=1
else
  echo "ok   refused: $(cat "$tmp/err")"
fi
# --vm-size wins and asks nobody.
v=$("$ibup" --root "$fixture" status --json --vm-size Standard_ND96isr_H100_v5 --metadata-url http://127.0.0.1:1 |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["platform"]["vm_size"])')
[ "$v" = Standard_ND96isr_H100_v5 ] || { echo "FAIL --vm-size gave '$v'"; fail=1; }
exit "$fail"
