#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup ipoib enable|disable` on a writable copy of the HBv3 fixture, through the plan and
# its executor: --dry-run shows the plan (unified diffs, the systemctl command) and
# writes nothing; enable writes the unit, udev rule and network-manager exclusions and
# enables the unit with the real `systemctl --root`; a second enable plans nothing;
# waagent.conf changes on exactly one line and disable gives it back byte for byte; a
# run that fails part way is refused until --resume, which finishes it; a plan that no
# longer matches the journal is refused with what changed.
set -uo pipefail
ibup=${1:?usage: test-ipoib-enable.sh IBUP FIXTURE SCHEMA-DIR}
fixture=${2:?}
docs=${3:?}
here=$(dirname "$0")
# shellcheck source-path=SCRIPTDIR source=lib-root.sh
. "$here/lib-root.sh"
command -v systemctl >/dev/null || { echo "SKIP: systemctl (Debian's systemd) is needed"; exit 77; }
python=/usr/bin/python3
writable_root "$fixture"
mkdir -p "$root/etc/NetworkManager" "$root/etc/systemd/network" "$root/lib/systemd/system"
touch "$root/lib/systemd/system/walinuxagent.service"
cp "$root/etc/waagent.conf" "$tmp/waagent.conf.orig"
fail=0
ib() { "$ibup" --root "$root" ipoib "$@"; }
files=(etc/systemd/system/ibup-ipoib.service etc/udev/rules.d/90-ibup-ipoib.rules
  etc/NetworkManager/conf.d/90-ibup-ipoib.conf etc/systemd/network/05-ibup-ipoib.network)
wants=etc/systemd/system/multi-user.target.wants/ibup-ipoib.service
journal=var/lib/ibup/journal.json

# 1. The dry run is the plan: diffs and the command, nothing done.
ib enable --dry-run >"$tmp/out" || { echo "FAIL: enable --dry-run failed"; fail=1; }
for f in "${files[@]}"; do
  [ ! -e "$root/$f" ] || { echo "FAIL: --dry-run wrote /$f"; fail=1; }
  if ! grep -qx -- "+++ b/$f" "$tmp/out"; then echo "FAIL: --dry-run does not show /$f as a diff"; fail=1; fi
done
grep -qx '+ExecStart=/usr/sbin/ibup ipoib apply --wait 120' "$tmp/out" || { echo "FAIL: the unit's diff"; fail=1; }
grep -qx "systemctl --root=$root enable ibup-ipoib.service" "$tmp/out" ||
  { echo "FAIL: --dry-run does not show the systemctl command:"; cat "$tmp/out"; fail=1; }
[ ! -e "$root/$wants" ] || { echo "FAIL: --dry-run enabled the unit"; fail=1; }
[ ! -e "$root/var/lib/ibup" ] || { echo "FAIL: --dry-run made the state directory"; fail=1; }
ib enable --dry-run --json >"$tmp/plan.json" || { echo "FAIL: --dry-run --json failed"; fail=1; }
"$python" "$here/validate-json.py" "$docs/plan.schema.json" "$tmp/plan.json" || { echo "FAIL: the plan's JSON"; fail=1; }
[ "$(jq -r '[.dry_run, (.steps|length), .steps[0].kind, .steps[0].status, .steps[4].kind] | join(" ")' "$tmp/plan.json")" = \
  "true 5 write_file planned unit" ] || { echo "FAIL: the plan's JSON says:"; cat "$tmp/plan.json"; fail=1; }

# 2. Enable, for real; then again: nothing planned.
ib enable >"$tmp/out" || { echo "FAIL: enable failed"; cat "$tmp/out"; fail=1; }
for f in "${files[@]}"; do
  [ -f "$root/$f" ] || { echo "FAIL: /$f not written"; fail=1; }
done
grep -q '^ExecStart=/usr/sbin/ibup ipoib apply --wait 120$' "$root/${files[0]}" ||
  { echo "FAIL: the unit does not run apply"; cat "$root/${files[0]}"; fail=1; }
grep -q 'ATTR{type}=="32".*SYSTEMD_WANTS}+="ibup-ipoib.service"' "$root/${files[1]}" ||
  { echo "FAIL: the udev rule does not start the unit for IPoIB interfaces"; fail=1; }
grep -q '^unmanaged-devices=type:infiniband$' "$root/${files[2]}" || { echo "FAIL: NetworkManager"; fail=1; }
grep -q '^Unmanaged=yes$' "$root/${files[3]}" || { echo "FAIL: systemd-networkd"; fail=1; }
[ -L "$root/$wants" ] || { echo "FAIL: the unit was not enabled (no $wants)"; fail=1; }
[ ! -e "$root/$journal" ] || { echo "FAIL: the journal outlived a successful run"; fail=1; }
sum1=$(cd "$root" && sha256sum "${files[@]}")
ib enable >"$tmp/out2" || fail=1
[ "$(cd "$root" && sha256sum "${files[@]}")" = "$sum1" ] || { echo "FAIL: a second enable changed files"; fail=1; }
[ "$(grep -c '^unchanged ' "$tmp/out2")" = 4 ] || { echo "FAIL: a second enable rewrote:"; cat "$tmp/out2"; fail=1; }
grep -q "^Nothing to do: 'ibup ipoib enable --via systemd' changes nothing.$" "$tmp/out2" ||
  { echo "FAIL: a second enable planned something:"; cat "$tmp/out2"; fail=1; }
ib enable --json --dry-run >"$tmp/plan2.json"
# check knows ibup's unit addresses IPoIB: the agent's OS.EnableRDMA is not needed then.
"$ibup" --root "$root" check --vm-size Standard_HB120rs_v3 --json >"$tmp/check.json" 2>/dev/null
[ "$(jq -r '.checks[] | select(.id == "waagent_rdma") | .verdict' "$tmp/check.json")" = pass ] ||
  { echo "FAIL: check does not see ibup's enabled unit:"; jq -c '.checks[] | select(.id == "waagent_rdma")' "$tmp/check.json"; fail=1; }
[ "$(jq '.steps|length' "$tmp/plan2.json")" = 0 ] || { echo "FAIL: a second plan is not empty"; fail=1; }

# 3. waagent: one line changes, in place; again: unchanged.
ib enable --via waagent >"$tmp/out3" 2>"$tmp/err3" || { echo "FAIL: enable --via waagent failed"; cat "$tmp/err3"; fail=1; }
d=$(diff "$tmp/waagent.conf.orig" "$root/etc/waagent.conf")
[ "$d" = $'17c17\n< # OS.EnableRDMA=y\n---\n> OS.EnableRDMA=y' ] ||
  { echo "FAIL: waagent.conf diff is not the one line:"; echo "$d"; fail=1; }
cmp -s "$tmp/waagent.conf.orig" "$root/etc/waagent.conf.ibup-orig" || { echo "FAIL: no backup"; fail=1; }
grep -q 'no walinuxagent' "$tmp/err3" && { echo "FAIL: the agent's unit was not found"; fail=1; }
ib enable --via waagent >"$tmp/out4"
grep -q '^unchanged /etc/waagent.conf (OS.EnableRDMA=y)$' "$tmp/out4" || { echo "FAIL: not idempotent"; fail=1; }

# 4. disable: ibup's files and the unit's link go; waagent.conf is the original again,
# byte for byte (its commented default stays a comment).
ib disable >"$tmp/out5" || { echo "FAIL: disable failed"; cat "$tmp/out5"; fail=1; }
for f in "${files[@]}" "$wants"; do
  if [ -e "$root/$f" ] || [ -L "$root/$f" ]; then echo "FAIL: /$f left behind"; fail=1; fi
done
cmp -s "$tmp/waagent.conf.orig" "$root/etc/waagent.conf" ||
  { echo "FAIL: disable did not give waagent.conf back:"; diff "$tmp/waagent.conf.orig" "$root/etc/waagent.conf"; fail=1; }
ib disable >"$tmp/out6" || fail=1
grep -q '^Nothing to do' "$tmp/out6" || { echo "FAIL: a second disable planned something"; cat "$tmp/out6"; fail=1; }

# 5. A run that fails at its second step (etc/udev is a file, so rules.d cannot be made):
# the first step is done and journaled, the error names the step, a plain rerun is
# refused, and --resume finishes once the cause is gone.
rm -rf "$root/etc/udev"
: >"$root/etc/udev"
rc=0; ib enable >"$tmp/out7" 2>"$tmp/err7" || rc=$?
[ "$rc" = 3 ] || { echo "FAIL: a failed step gave exit $rc"; fail=1; }
grep -q "^ibup: step 2 of 5 (write_file /etc/udev/rules.d/90-ibup-ipoib.rules) failed: " "$tmp/err7" ||
  { echo "FAIL: the failed step is not named:"; cat "$tmp/err7"; fail=1; }
[ -f "$root/${files[0]}" ] || { echo "FAIL: step 1 was not done"; fail=1; }
[ "$(jq .done "$root/$journal" 2>/dev/null)" = 1 ] || { echo "FAIL: the journal does not say 1 step done"; fail=1; }
rc=0; ib enable >/dev/null 2>"$tmp/err8" || rc=$?
if [ "$rc" != 3 ] || ! grep -q -- "--resume" "$tmp/err8"; then echo "FAIL: a plain rerun was not refused ($rc):"; cat "$tmp/err8"; fail=1; fi
rm "$root/etc/udev"
rc=0; ib enable --resume >"$tmp/out9" 2>"$tmp/err9" || rc=$?
[ "$rc" = 0 ] || { echo "FAIL: --resume gave exit $rc:"; cat "$tmp/err9"; fail=1; }
grep -q '^Finished the run that stopped after 1 steps.$' "$tmp/out9" || { echo "FAIL: --resume did not say so:"; cat "$tmp/out9"; fail=1; }
for f in "${files[@]}"; do [ -f "$root/$f" ] || { echo "FAIL: --resume left /$f out"; fail=1; }; done
[ ! -e "$root/$journal" ] || { echo "FAIL: the journal outlived --resume"; fail=1; }

# 6. The host changed between the failure and --resume: refused, saying what changed.
ib disable >/dev/null
rm -rf "$root/etc/udev"
: >"$root/etc/udev"
ib enable >/dev/null 2>&1
rm "$root/etc/udev"
echo "# an admin's edit" >>"$root/${files[0]}"
rc=0; ib enable --resume >/dev/null 2>"$tmp/err10" || rc=$?
if [ "$rc" != 3 ] || ! grep -q 'the host changed since the run stopped' "$tmp/err10"; then
  echo "FAIL: a changed plan was resumed ($rc):"; cat "$tmp/err10"; fail=1
fi
rm "$root/$journal"
ib disable >/dev/null

# 7. A waagent.conf holding a NUL byte is refused whole, never cut short.
printf 'OS.EnableRDMA=n\nX=1\0tail\nResourceDisk.Format=y\n' >"$root/etc/waagent.conf"
sum=$(sha256sum <"$root/etc/waagent.conf")
rc=0; ib enable --via waagent >/dev/null 2>"$tmp/err11" || rc=$?
[ "$rc" = 3 ] || { echo "FAIL: a NUL in waagent.conf gave exit $rc"; fail=1; }
[ "$(sha256sum <"$root/etc/waagent.conf")" = "$sum" ] || { echo "FAIL: waagent.conf with a NUL was changed"; fail=1; }

# Usage errors.
rc=0; ib enable --via carrier-pigeon 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: bad --via gave $rc"; fail=1; }
rc=0; ib show --wait 3 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: --wait on show gave $rc"; fail=1; }
rc=0; ib show --resume 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: --resume on show gave $rc"; fail=1; }
rc=0; ib frobnicate 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: unknown subcommand gave $rc"; fail=1; }
[ "$fail" = 0 ] && echo "all enable/disable checks passed"
exit "$fail"
