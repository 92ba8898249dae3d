#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs inside a booted Debian 12 container (systemd as PID 1; test-vmext-systemd.sh
# starts it): ibup vmext's background work as a transient systemd unit, started the
# way the Azure Linux agent starts extension commands (waagent 2.7's cgroupapi.py:
# "systemd-run --unit=<cmd>_<uuid> --scope --slice=<extension slice> <command>", in a
# session of its own; on timeout, extensionprocessutil.py kills that process group).
# Its output goes to $OUT; "pass" or "fail" goes to $RESULT.
set -uo pipefail
set -m # each background command its own process group, as the agent's setsid gives
OUT=/ibup-test/out
RESULT=/ibup-test/result
exec >"$OUT" 2>&1
H=/var/lib/waagent/Ibup.InfiniBand-1.0.0
SLICE=azure-vmextensions-Ibup.InfiniBand.slice
LOG=/var/log/azure/Ibup.InfiniBand/ibup-vmext.log
fail=0 holder='' n=0

expect() { # WHAT CONDITION...
  local what=$1
  shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
# st SEQ FILTER: a jq filter on status/<SEQ>.status's status object.
st() { jq -r ".[0].status | $2" "$H/status/$1.status" 2>/dev/null; }
# until_ SECONDS CONDITION...: poll every 0.1 s.
until_() {
  local i n=$(($1 * 10))
  shift
  for ((i = 0; i < n; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}
active() { systemctl is-active --quiet "$1"; }
inactive() { ! systemctl is-active --quiet "$1"; }
state_is() { [ "$(st "$1" .status)" = "$2" ]; }
message_has() { grep -q -- "$2" <<<"$(st "$1" .formattedMessage.message)"; }
started() { journalctl -q -o cat --no-pager -u "$1" | grep -c "^Started $1"; }

# agent OP SEQ ARGS...: an extension command as the agent runs it, in the background;
# its pid (= its process group) in $apid, its scope in $ascope, output in /tmp/OP-SEQ.
agent() {
  local op=$1 seq=$2
  shift 2
  n=$((n + 1))
  ascope=${op}_$seq-$n
  (cd "$H" && ConfigSequenceNumber=$seq exec systemd-run --unit="$ascope" --scope \
    --slice=$SLICE --quiet "$H/ibup-vmext.sh" "$op" "$@") >"/tmp/$op-$seq" 2>&1 &
  apid=$!
}
hold_lock() { # another ibup run changing the host: it holds ibup's one lock
  mkdir -p /var/lib/ibup
  rm -f /tmp/locked
  flock /var/lib/ibup/lock sh -c ': >/tmp/locked; exec sleep 300' &
  holder=$!
  until_ 10 test -e /tmp/locked
}
release_lock() {
  kill -- -"$holder" 2>/dev/null
  wait "$holder" 2>/dev/null
  holder=
}
settings() { # SEQ JSON
  printf '{"runtimeSettings":[{"handlerSettings":{"publicSettings":%s}}]}' "$2" \
    >"$H/config/$1.settings"
}

echo "systemd $(systemctl --version | head -n 1 | cut -d' ' -f2), $(systemctl is-system-running)"

# --- 0: the agent's timeout kills enable; the unit goes on, and finishes ------------
settings 0 '{"check": false}'
hold_lock
agent enable 0
pid0=$apid scope0=$ascope
until_ 20 active ibup-vmext-0.service
expect "enable 0 runs its work as ibup-vmext-0.service" active ibup-vmext-0.service
until_ 10 message_has 0 "waiting for another ibup run"
expect "... which waits for ibup's lock, status transitioning" state_is 0 transitioning
wpid=$(systemctl show -p MainPID --value ibup-vmext-0.service)
expect "... in its own cgroup, outside the agent's scope" \
  grep -q "^0::/system.slice/ibup-vmext-0.service$" "/proc/$wpid/cgroup"
expect "enable itself runs in the agent's scope" \
  grep -q "^0::/azure.slice/.*/$SLICE/$scope0.scope$\|^0::/$SLICE/$scope0.scope$" "/proc/$pid0/cgroup"
expect "enable is still waiting for the verdict" kill -0 "$pid0"
# The agent's timeout: SIGKILL to enable's process group; then its scope goes too.
kill -KILL -- -"$pid0"
wait "$pid0" 2>/dev/null
systemctl stop "$scope0.scope" 2>/dev/null
sleep 1
expect "the agent's kill ended enable and its scope" \
  test ! -e "/proc/$pid0" -a "$(systemctl is-active "$scope0.scope")" != active
worker0() { # the unit runs, with the same main process as before the kill
  [ "${wpid:-0}" -gt 0 ] && active ibup-vmext-0.service &&
    [ "$(systemctl show -p MainPID --value ibup-vmext-0.service)" = "$wpid" ]
}
expect "after the agent's kill: the unit still runs, the same process" worker0
expect "... and the status is still transitioning" state_is 0 transitioning

# The agent runs enable again (after a restart): it joins the running work.
agent enable 0 --wait 1
wait "$apid"
rc=$?
expect "a second enable joins: exit 0" test "$rc" = 0
expect "... saying so" grep -q "sequence number 0 is being applied already, in the background (systemd unit ibup-vmext-0.service)" /tmp/enable-0
expect "... one unit, one start" test "$(started ibup-vmext-0.service)" = 1

release_lock
until_ 30 state_is 0 success
expect "the worker's verdict: success" state_is 0 success
expect "... with the substatus install, ipoib, check" \
  test "$(st 0 '[.substatus[].name] | join(",")')" = "install,ipoib,check"
expect "... mrseq 0" test "$(cat "$H/mrseq" 2>/dev/null)" = 0
until_ 10 test "$(systemctl show -p LoadState --value ibup-vmext-0.service)" = not-found
expect "the unit is gone once done (--collect)" \
  test "$(systemctl show -p LoadState --value ibup-vmext-0.service)" = not-found
expect "the journal has the unit's start" test "$(started ibup-vmext-0.service)" = 1
expect "the unit's output is in the log folder" \
  grep -q "ibup vmext\[$wpid\]: applying the settings of sequence number 0" "$LOG"

agent enable 0
wait "$apid"
rc=$?
expect "enable 0 again: applied already (mrseq), exit 0" \
  grep -q "sequence number 0 is applied already (mrseq)" /tmp/enable-0
expect "... exit 0, no unit started" test "$rc:$(started ibup-vmext-0.service)" = 0:1

# --- 1: disable stops the running unit ----------------------------------------------
settings 1 '{"check": false}'
hold_lock
agent enable 1 --wait 0
wait "$apid"
rc=$?
expect "enable 1 --wait 0 returns at once: exit 0" test "$rc" = 0
expect "... the unit runs" active ibup-vmext-1.service
expect "... status transitioning" state_is 1 transitioning
agent disable 1
dpid=$apid
until_ 30 inactive ibup-vmext-1.service
expect "disable stops ibup-vmext-1.service" inactive ibup-vmext-1.service
release_lock # disable then takes the lock for its own plan
wait "$dpid"
rc=$?
expect "disable: exit 0" test "$rc" = 0
expect "... saying what it stopped" grep -q "stopped the background work of sequence number 1 (systemd unit ibup-vmext-1.service)" /tmp/disable-1
expect "... status success, disabled" state_is 1 success
expect "... no mrseq" test ! -e "$H/mrseq"

# --- 3: a worker killed before its verdict (out of memory, say): its unit says so -------
settings 3 '{"check": false}'
hold_lock
agent enable 3 --wait 0
wait "$apid"
until_ 10 message_has 3 "waiting for another ibup run"
kill -KILL "$(systemctl show -p MainPID --value ibup-vmext-3.service)"
until_ 10 state_is 3 error
release_lock
expect "a killed worker: its unit's ExecStopPost writes an error status" state_is 3 error
expect "... saying how it ended" \
  message_has 3 "ibup-vmext-3.service) ended without a verdict (signal, killed KILL)"
expect "... code 14, no mrseq" test "$(st 3 .code):$(cat "$H/mrseq" 2>/dev/null)" = 14:

# --- 2: the whole work, with the check, on this container's live root -----------------
settings 2 '{}'
agent enable 2 --wait 60
wait "$apid"
rc=$?
s=$(st 2 .status) code=$(st 2 .code)
echo "enable 2: exit $rc, status $s, code $code: $(st 2 .formattedMessage.message)"
expect "enable 2 ran its work as ibup-vmext-2.service" test "$(started ibup-vmext-2.service)" = 1
expect "... a final status (success or error)" grep -qx "success\|error" <<<"$s"
expect "... the exit code is the status's code" test "$rc" = "$code"
expect "... with the substatus install, ipoib, check" \
  test "$(st 2 '[.substatus[].name] | join(",")')" = "install,ipoib,check"
if [ "$s" = success ]; then
  expect "... mrseq 2" test "$(cat "$H/mrseq" 2>/dev/null)" = 2
else
  expect "... no mrseq after an error" test ! -e "$H/mrseq"
fi

[ -n "$holder" ] && release_lock
if [ "$fail" != 0 ]; then
  for f in /tmp/enable-* /tmp/disable-*; do
    echo "--- $f"
    cat "$f"
  done
  echo "--- the worker's log"
  cat "$LOG"
fi
if [ "$fail" = 0 ]; then echo pass >"$RESULT"; else echo fail >"$RESULT"; fi
