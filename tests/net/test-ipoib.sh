#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup ipoib apply` for real, in a network namespace: interfaces carrying the IPoIB
# names of a fixture root's sysfs (the fixture gives their 20-byte addresses, the KVP
# pool gives the pairs). apply must add exactly the platform's addresses, a second
# apply must change nothing, an interface that appears late must be picked up within
# --wait, and one that never appears must be named with exit 1. Needs root; skips 77.
set -uo pipefail
ibup=${1:?usage: test-ipoib.sh IBUP FIXTURE}
fixture=${2:?}
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
  echo "skip: needs root and iproute2"
  exit 77
fi
ns=ibup-ipoib-$$
ip netns add "$ns" 2>/dev/null || { echo "skip: cannot create a network namespace"; exit 77; }
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
in_ns() { ip netns exec "$ns" "$@"; }
fail=0

# The eight ND H100 v5 IPoIB interfaces, except ib5 (late) and ib7 (never).
for i in 0 1 2 3 4 6; do
  in_ns ip link add "ib$i" type veth peer name "peer$i"
done
addr_of() { in_ns ip -4 -o addr show dev "$1" | awk '{print $4}' | sort | tr '\n' ' '; }

# 1. ib5 appears 1.5 s into a 5 s wait; ib7 never does.
( sleep 1.5; in_ns ip link add ib5 type veth peer name peer5 ) &
rc=0
in_ns "$ibup" --root "$fixture" ipoib apply --wait 5 >"$tmp/out" 2>"$tmp/err" || rc=$?
wait
if [ "$rc" != 1 ]; then echo "FAIL: first apply exit $rc, expected 1"; cat "$tmp/out" "$tmp/err"; fail=1; fi
if ! grep -q '^ibup: 172.16.2.17 (00:15:5d:33:ff:67) not applied: the running kernel has no interface of this name$' "$tmp/err"; then
  echo "FAIL: the missing ib7 is not named:"; cat "$tmp/err"; fail=1
fi
[ "$(wc -l <"$tmp/err")" = 1 ] || { echo "FAIL: more than one error line:"; cat "$tmp/err"; fail=1; }
for i in 0 1 2 3 4 5 6; do
  want="172.16.2.1$i/16 "
  got=$(addr_of "ib$i")
  if [ "$got" != "$want" ]; then echo "FAIL: ib$i has '$got', expected '$want'"; fail=1; fi
  in_ns ip -o link show "ib$i" | grep -q '<[^>]*UP' || { echo "FAIL: ib$i is not up"; fail=1; }
done
grep -c ' added$' "$tmp/out" | grep -qx 7 || { echo "FAIL: expected 7 'added' lines:"; cat "$tmp/out"; fail=1; }

# 2. Again: nothing to change; the addresses are not duplicated; ib7 still missing.
rc=0
in_ns "$ibup" --root "$fixture" ipoib apply >"$tmp/out2" 2>"$tmp/err2" || rc=$?
[ "$rc" = 1 ] || { echo "FAIL: second apply exit $rc, expected 1"; fail=1; }
grep -c ' present$' "$tmp/out2" | grep -qx 7 || { echo "FAIL: second apply changed something:"; cat "$tmp/out2"; fail=1; }
[ "$(addr_of ib3)" = "172.16.2.13/16 " ] || { echo "FAIL: ib3 now has '$(addr_of ib3)'"; fail=1; }

# 3. Never removes what it did not add: an address of the admin's stays.
in_ns ip addr add 192.168.50.5/24 dev ib0
in_ns "$ibup" --root "$fixture" ipoib apply >/dev/null 2>&1
[ "$(addr_of ib0)" = "172.16.2.10/16 192.168.50.5/24 " ] || { echo "FAIL: ib0 has '$(addr_of ib0)'"; fail=1; }

# 4. With ib7 there, everything applies: exit 0.
in_ns ip link add ib7 type veth peer name peer7
rc=0
in_ns "$ibup" --root "$fixture" ipoib apply --json >"$tmp/out4" 2>"$tmp/err4" || rc=$?
[ "$rc" = 0 ] || { echo "FAIL: full apply exit $rc"; cat "$tmp/err4"; fail=1; }
python3 - "$tmp/out4" <<'PY' || fail=1
import json, sys
d = json.load(open(sys.argv[1]))
states = sorted(p["state"] for p in d["pairs"])
want = ["applied"] + ["present"] * 7
if states != want:
    sys.exit(f"FAIL: states {states}, expected {want}")
PY
[ "$(addr_of ib7)" = "172.16.2.17/16 " ] || { echo "FAIL: ib7 has '$(addr_of ib7)'"; fail=1; }

# 5. --dry-run changes nothing.
in_ns ip addr flush dev ib6
in_ns "$ibup" --root "$fixture" ipoib apply --dry-run >"$tmp/out5" 2>&1
[ -z "$(addr_of ib6)" ] || { echo "FAIL: --dry-run added '$(addr_of ib6)'"; fail=1; }
grep -q '^00:15:5d:33:ff:66  172.16.2.16 *ib6 *to add$' "$tmp/out5" ||
  { echo "FAIL: --dry-run does not say what it would do:"; cat "$tmp/out5"; fail=1; }

[ "$fail" = 0 ] && echo "all IPoIB apply checks passed"
exit "$fail"
