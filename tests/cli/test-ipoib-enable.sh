#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup ipoib enable|disable` on a writable copy of the HBv3 fixture: the systemd unit,
# udev rule and network-manager exclusions written once (idempotent), `--dry-run`
# writing nothing, waagent.conf changed on exactly one line (and back), and the calls to
# systemctl (a stand-in that records them).
set -uo pipefail
ibup=${1:?usage: test-ipoib-enable.sh IBUP FIXTURE FAKES-BIN}
fixture=${2:?}
fakes=${3:?}
# shellcheck source-path=SCRIPTDIR source=lib-root.sh
. "$(dirname "$0")/lib-root.sh"
writable_root "$fixture"
mkdir -p "$root/etc/NetworkManager" "$root/etc/systemd/network" "$root/lib/systemd/system"
touch "$root/lib/systemd/system/walinuxagent.service"
cp "$root/etc/waagent.conf" "$tmp/waagent.conf.orig"
export IBUP_FAKE_LOG=$tmp/calls PATH="$fakes:$PATH"
fail=0
ib() { "$ibup" --root "$root" ipoib "$@"; }
files=(etc/systemd/system/ibup-ipoib.service etc/udev/rules.d/90-ibup-ipoib.rules
  etc/NetworkManager/conf.d/90-ibup-ipoib.conf etc/systemd/network/05-ibup-ipoib.network)

ib enable --dry-run >"$tmp/out" || { echo "FAIL: enable --dry-run failed"; fail=1; }
for f in "${files[@]}"; do
  [ ! -e "$root/$f" ] || { echo "FAIL: --dry-run wrote /$f"; fail=1; }
  grep -q "^would write /$f:" "$tmp/out" || { echo "FAIL: --dry-run does not show /$f"; fail=1; }
done
[ ! -e "$IBUP_FAKE_LOG" ] || { echo "FAIL: --dry-run ran: $(cat "$IBUP_FAKE_LOG")"; fail=1; }

ib enable >"$tmp/out" || { echo "FAIL: enable failed"; fail=1; }
for f in "${files[@]}"; do
  [ -f "$root/$f" ] || { echo "FAIL: /$f not written"; fail=1; }
done
grep -q '^ExecStart=/usr/sbin/ibup ipoib apply --wait 120$' "$root/${files[0]}" ||
  { echo "FAIL: the unit does not run apply"; cat "$root/${files[0]}"; fail=1; }
grep -q 'ATTR{type}=="32".*SYSTEMD_WANTS}+="ibup-ipoib.service"' "$root/${files[1]}" ||
  { echo "FAIL: the udev rule does not start the unit for IPoIB interfaces"; fail=1; }
grep -q '^unmanaged-devices=type:infiniband$' "$root/${files[2]}" || { echo "FAIL: NetworkManager"; fail=1; }
grep -q '^Unmanaged=yes$' "$root/${files[3]}" || { echo "FAIL: systemd-networkd"; fail=1; }
grep -qx "systemctl --root=$root enable ibup-ipoib.service" "$IBUP_FAKE_LOG" ||
  { echo "FAIL: the unit was not enabled: $(cat "$IBUP_FAKE_LOG")"; fail=1; }
sum1=$(cd "$root" && sha256sum "${files[@]}")
ib enable >"$tmp/out2" || fail=1
[ "$(cd "$root" && sha256sum "${files[@]}")" = "$sum1" ] || { echo "FAIL: a second enable changed files"; fail=1; }
[ "$(grep -c '^unchanged ' "$tmp/out2")" = 4 ] || { echo "FAIL: a second enable rewrote:"; cat "$tmp/out2"; fail=1; }

# waagent: one line changes, in place.
ib enable --via waagent >"$tmp/out3" || { echo "FAIL: enable --via waagent failed"; fail=1; }
d=$(diff "$tmp/waagent.conf.orig" "$root/etc/waagent.conf")
[ "$d" = $'17c17\n< # OS.EnableRDMA=y\n---\n> OS.EnableRDMA=y' ] ||
  { echo "FAIL: waagent.conf diff is not the one line:"; echo "$d"; fail=1; }
cmp -s "$tmp/waagent.conf.orig" "$root/etc/waagent.conf.ibup-orig" || { echo "FAIL: no backup"; fail=1; }
grep -q 'no walinuxagent' "$tmp/out3" && { echo "FAIL: the agent's unit was not found"; fail=1; }
ib enable --via waagent >"$tmp/out4"
grep -q '^unchanged /etc/waagent.conf (OS.EnableRDMA=y)$' "$tmp/out4" || { echo "FAIL: not idempotent"; fail=1; }

# disable: ibup's files go, waagent gets back what it had (absent: off).
ib disable >"$tmp/out5" || { echo "FAIL: disable failed"; fail=1; }
for f in "${files[@]}"; do
  [ ! -e "$root/$f" ] || { echo "FAIL: /$f left behind"; fail=1; }
done
grep -qx 'OS.EnableRDMA=n' "$root/etc/waagent.conf" || { echo "FAIL: OS.EnableRDMA not turned off"; fail=1; }
[ "$(diff "$tmp/waagent.conf.orig" "$root/etc/waagent.conf" | grep -c '^[<>]')" = 2 ] ||
  { echo "FAIL: disable touched more than the one line"; fail=1; }
ib disable >"$tmp/out6" || fail=1

# Usage errors.
rc=0; ib enable --via carrier-pigeon 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: bad --via gave $rc"; fail=1; }
rc=0; ib show --wait 3 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: --wait on show gave $rc"; fail=1; }
rc=0; ib frobnicate 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: unknown subcommand gave $rc"; fail=1; }
[ "$fail" = 0 ] && echo "all enable/disable checks passed"
exit "$fail"
