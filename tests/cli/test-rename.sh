#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup rename` on fixture roots: the plan (JSON against its schema), refusing to rename
# another root's devices, schemes and their errors, and --enable/--disable writing and
# removing the udev rule through the executor (a second --enable plans nothing).
set -uo pipefail
ibup=${1:?usage: test-rename.sh IBUP FIXTURES DOCS}
fixtures=${2:?}
docs=${3:?}
here=$(dirname "$0")
# shellcheck source-path=SCRIPTDIR source=lib-root.sh
. "$here/lib-root.sh"
writable_root "$fixtures/nd-h100-v5"
fail=0
rule=etc/udev/rules.d/60-ibup-rename.rules

"$ibup" --root "$root" rename --dry-run --json >"$tmp/plan.json" || { echo "FAIL: --dry-run --json"; fail=1; }
/usr/bin/python3 "$here/validate-json.py" "$docs/plan.schema.json" "$tmp/plan.json" || { echo "FAIL: plan schema"; fail=1; }
[ "$(jq -r '[.steps[] | .command | join(" ")] | .[1]' "$tmp/plan.json")" = "rdma dev set mlx5_1 name mlx5_ib0" ] ||
  { echo "FAIL: the plan's second step:"; jq -c '.steps[1]' "$tmp/plan.json"; fail=1; }

rc=0; "$ibup" --root "$root" rename >/dev/null 2>"$tmp/err" || rc=$?
if ! { [ "$rc" = 2 ] && grep -q 'only --dry-run' "$tmp/err"; }; then echo "FAIL: renaming another root's devices gave $rc"; fail=1; fi

printf '# the fabric in NUMA order\na3c9:00:02.0 eth_rdma\nonly\n' >"$tmp/scheme"
"$ibup" --root "$root" rename --dry-run --scheme "$tmp/scheme" >"$tmp/out" || fail=1
if ! { grep -qx 'rdma dev set mlx5_0 name eth_rdma' "$tmp/out" && [ "$(grep -c '^rdma dev set' "$tmp/out")" = 1 ]; }; then
  echo "FAIL: an 'only' scheme:"; cat "$tmp/out"; fail=1
fi
printf 'only\n0101:00:00.0 mlx5_8\n' >"$tmp/bad"
rc=0; "$ibup" --root "$root" rename --dry-run --scheme "$tmp/bad" >/dev/null 2>"$tmp/err" || rc=$?
if ! { [ "$rc" = 3 ] && grep -q "cannot rename: 'mlx5_1' cannot be 'mlx5_8'" "$tmp/err"; }; then
  echo "FAIL: a taken name gave $rc: $(cat "$tmp/err")"; fail=1
fi
printf 'mlx5_1 x\n' >"$tmp/bad"
rc=0; "$ibup" --root "$root" rename --dry-run --scheme "$tmp/bad" >/dev/null 2>"$tmp/err" || rc=$?
if ! { [ "$rc" = 3 ] && grep -q "line 1: the key is" "$tmp/err"; }; then echo "FAIL: a bad scheme gave $rc: $(cat "$tmp/err")"; fail=1; fi

"$ibup" --root "$root" rename --enable >"$tmp/out" || { echo "FAIL: --enable"; fail=1; }
grep -q 'SUBSYSTEM=="infiniband", RUN+="/usr/sbin/ibup rename --device %k"' "$root/$rule" ||
  { echo "FAIL: the rule:"; cat "$root/$rule"; fail=1; }
"$ibup" --root "$root" rename --enable >"$tmp/out" || fail=1
grep -q '^Nothing to do' "$tmp/out" || { echo "FAIL: a second --enable planned:"; cat "$tmp/out"; fail=1; }
"$ibup" --root "$root" rename --disable >/dev/null || fail=1
[ ! -e "$root/$rule" ] || { echo "FAIL: --disable left the rule"; fail=1; }

rc=0; "$ibup" --root "$root" rename --enable --disable 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: --enable --disable gave $rc"; fail=1; }
rc=0; "$ibup" --root "$root" rename --dry-run --device nonesuch 2>/dev/null || rc=$?; [ "$rc" = 2 ] || { echo "FAIL: an unknown --device gave $rc"; fail=1; }
[ "$fail" = 0 ] && echo "all rename checks passed"
exit "$fail"
