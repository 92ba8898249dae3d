#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ibup vmext from the command line, outside the agent: the VM size for the check step
# (--vm-size, and --metadata-url against the loopback metadata server), the background
# work (how it was started, its log), and the entry script's own error statuses
# (unknown operation, no binary in the package).
set -uo pipefail
ibup=${1:?usage: test-vmext-cli.sh IBUP FAKE-IMDS SOURCE_DIR}
fake=${2:?}
src=${3:?}
tmp=$(mktemp -d)
pid='' holder=''
# shellcheck disable=SC2317 # run by the trap
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
fail=0

cp -a "$src/tests/fixtures/hbv3" "$tmp/root"
h=$tmp/handler
mkdir -p "$h/config"
cat >"$h/HandlerEnvironment.json" <<JSON
[{"name": "Ibup.InfiniBand", "version": 1.0, "handlerEnvironment": {"logFolder": "$tmp/log",
  "configFolder": "$h/config", "statusFolder": "$h/status", "heartbeatFile": "$h/heartbeat.log"}}]
JSON
printf '%s' '{"runtimeSettings":[{"handlerSettings":{"publicSettings":{"ipoib":false}}}]}' >"$h/config/0.settings"

# status SEQ KEY: a key of status/<SEQ>.status, through python's json (the agent's reader).
status() {
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))[0]["status"]
k=sys.argv[2]
print(s["formattedMessage"]["message"] if k == "message" else
      [x["formattedMessage"]["message"] for x in s["substatus"] if x["name"] == "check"][0]
      if k == "check" else s[k])' "$h/status/$1.status" "$2"
}

expect() { # WHAT CONDITION...
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; return 1; fi
}

ConfigSequenceNumber=0 "$ibup" --root "$tmp/root" vmext enable --handler-dir "$h" \
  --vm-size Standard_HB120rs_v3 >/dev/null 2>&1
expect "--vm-size: the check knows the size" grep -q "(HBv3)" <<<"$(status 0 check)"

# The metadata service over loopback: a real HTTP server, the size it serves.
"$fake" ok >"$tmp/port" &
pid=$!
for _ in $(seq 1 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
cp "$h/config/0.settings" "$h/config/1.settings"
ConfigSequenceNumber=1 "$ibup" --root "$tmp/root" vmext enable --handler-dir "$h" \
  --metadata-url "http://127.0.0.1:$(head -n 1 "$tmp/port")" >/dev/null 2>&1
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
expect "--metadata-url: the size from the metadata service" grep -q "(HBv3)" <<<"$(status 1 check)" ||
  grep "VM size unknown" "$tmp/log/ibup-vmext.log" # why, under load (a 1.5 s limit)

# Without a size: generic checks, still a success.
cp "$h/config/0.settings" "$h/config/2.settings"
(cd "$h" && ConfigSequenceNumber=2 "$ibup" --root "$tmp/root" vmext enable >/dev/null 2>&1)
expect "the working directory is the handler directory" test "$(status 2 status)" = success
expect "mrseq after a success" test "$(cat "$h/mrseq")" = 2

# --wait and --worker: bad values are usage errors (1, the extension's code), nothing run.
rc=0
ConfigSequenceNumber=2 "$ibup" --root "$tmp/root" vmext enable --handler-dir "$h" --wait -1 \
  >/dev/null 2>"$tmp/err" || rc=$?
expect "--wait -1: exit 1, one line" test "$rc:$(wc -l <"$tmp/err")" = "1:2"
rc=0
"$ibup" --root "$tmp/root" vmext disable --worker --handler-dir "$h" >/dev/null 2>&1 || rc=$?
expect "--worker with disable: exit 1" test "$rc" = 1

# The background work's log: which way it was started, and its steps.
cp "$h/config/0.settings" "$h/config/6.settings"
ConfigSequenceNumber=6 "$ibup" --root "$tmp/root" vmext enable --handler-dir "$h" \
  >"$tmp/out" 2>&1
expect "enable says how the work was started" \
  grep -q "in the background as process [0-9]* (systemd is not running) (log: $tmp/log/ibup-vmext.log)" "$tmp/out"
expect "enable waited for the verdict" grep -q "^ibup vmext enable: success (sequence number 6, code 0)" "$tmp/out"
expect "the worker's log has its steps" grep -q "sequence number 6: check: checking the node" "$tmp/log/ibup-vmext.log"
expect "no worker left" test -z "$(pgrep -f -- "--worker --handler-dir $h" || true)"

# A worker killed before its verdict: the enable waiting for it says so (error, 14).
mkdir -p "$tmp/root/var/lib/ibup"
# Another ibup run holding the lock: one process, so that killing it lets go.
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(60)' "$tmp/root/var/lib/ibup/lock" "$tmp/locked" >/dev/null 2>&1 &
holder=$!
for _ in $(seq 1 100); do [ -e "$tmp/locked" ] && break; sleep 0.1; done
cp "$h/config/0.settings" "$h/config/7.settings"
ConfigSequenceNumber=7 "$ibup" --root "$tmp/root" vmext enable --handler-dir "$h" --wait 20 \
  >"$tmp/out" 2>&1 &
waiter=$!
wpid=
for _ in $(seq 1 100); do
  wpid=$(sed -n 's/^process \([0-9]*\) 7$/\1/p' "$h/worker" 2>/dev/null)
  [ -n "$wpid" ] && grep -q "waiting for another ibup run" "$h/status/7.status" 2>/dev/null && break
  sleep 0.1
done
expect "a worker for 7 waits for the lock" grep -q "waiting for another ibup run" "$h/status/7.status"
[ -n "$wpid" ] && kill -9 "$wpid"
rc=0
wait "$waiter" || rc=$?
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
holder=
expect "enable: the worker ended without a verdict: exit 14" test "$rc" = 14
expect "... an error status saying so" grep -q "ended without a verdict" <<<"$(status 7 message)"

# The package's entry script, before ibup runs.
pkg=$tmp/pkg
mkdir -p "$pkg/config"
cp "$src/packaging/vmext/ibup-vmext.sh" "$src/packaging/vmext/HandlerManifest.json" "$pkg/"
: >"$pkg/config/3.settings"
rc=0
sh "$pkg/ibup-vmext.sh" 'frob"nicate' >/dev/null 2>&1 || rc=$?
h=$pkg
expect "ibup-vmext.sh: unknown operation exits 1" test "$rc" = 1
expect "... with an error status (newest settings: 3)" test "$(status 3 status)" = error
expect "... quoting nothing that would break its JSON" grep -q "unknown operation 'frobnicate'" <<<"$(status 3 message)"
rc=0
ConfigSequenceNumber=4 sh "$pkg/ibup-vmext.sh" enable >/dev/null 2>&1 || rc=$?
expect "ibup-vmext.sh: no bin/ibup exits 14" test "$rc" = 14
expect "... with an error status" test "$(status 4 code)" = 14
mkdir -p "$pkg/bin"
cp "$ibup" "$pkg/bin/ibup"
uname -m >"$pkg/bin/ARCH"
rc=0
ConfigSequenceNumber=5 IBUP_ROOT=$tmp/root sh "$pkg/ibup-vmext.sh" enable >/dev/null 2>&1 || rc=$?
expect "ibup-vmext.sh: no HandlerEnvironment.json: ibup's error status, exit 1" \
  test "$rc:$(status 5 code)" = "1:1"

[ "$fail" = 0 ] && echo "all vmext command-line checks passed"
exit "$fail"
