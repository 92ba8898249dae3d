#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ibup check on a writable copy of the HBv3 fixture, changed between runs: the counter
# baseline (first run, a rise, saturation), a port going Down/Polling, a degraded rate,
# an admin's expectations file (and a broken one), and what NHC gets to see.
set -uo pipefail
ibup=${1:?usage: test-check.sh IBUP FIXTURE}
fixture=${2:?}
# shellcheck source-path=SCRIPTDIR source=lib-root.sh
. "$(dirname "$0")/lib-root.sh"
writable_root "$fixture"
state=$tmp/state
mkdir -p "$state"
# This test is about counters and ports: the agent's settings are checked elsewhere.
rm -f "$root/etc/waagent.conf"
port=$root/sys/class/infiniband/mlx5_ib0/ports/1
fail=0

# run EXPECTED-RC ARGS... ; output in $tmp/out and $tmp/err
run() {
  local want=$1 rc=0
  shift
  "$ibup" --root "$root" check --vm-size Standard_HB120rs_v3 "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" != "$want" ]; then
    echo "FAIL: check $*: exit $rc, expected $want"; sed 's/^/  /' "$tmp/out" "$tmp/err"; fail=1
    return 1
  fi
}
has() {
  if ! grep -Eq -- "$1" "$tmp/out"; then
    echo "FAIL: output lacks /$1/:"; sed 's/^/  /' "$tmp/out"; fail=1
  fi
}

# The counters the fixture may lack are written here, so the test does not depend on it.
mkdir -p "$port/counters"
for c in symbol_error link_error_recovery link_downed port_rcv_errors port_xmit_discards; do
  [ -f "$port/counters/$c" ] || echo 0 >"$port/counters/$c"
done
echo 3 >"$port/counters/symbol_error"
echo 1 >"$port/counters/link_downed"

run 0 --state-dir "$state" && has '^PASS  error_counters +mlx5_ib0/1: no error counter saturated \(first check: baseline taken\)'
[ -s "$state/counters.json" ] || { echo "FAIL: no baseline written"; fail=1; }
grep -q '"0015:5dff:fd33:ff56/1"' "$state/counters.json" ||
  { echo "FAIL: baseline not keyed by port GUID"; cat "$state/counters.json"; fail=1; }

run 0 --state-dir "$state" && has '^PASS  error_counters +mlx5_ib0/1: no error counter rose since the last check'

echo 10 >"$port/counters/symbol_error"
echo 3 >"$port/counters/link_downed"
run 0 --state-dir "$state" && has '^WARN  error_counters +mlx5_ib0/1: symbol_error \+7, link_downed \+2'
echo 12 >"$port/counters/symbol_error"
run 1 --state-dir "$state" --strict --nhc &&
  has '^check_ibup: error_counters mlx5_ib0/1: symbol_error \+2, expected error counters steady\. FaultCode: NHC2003$'
echo 255 >"$port/counters/link_downed"
run 1 --state-dir "$state" --strict --nhc && has 'link_downed saturated at 255.*FaultCode: NHC2005$'
# --no-state sees saturation, and writes nothing.
rm -f "$state/counters.json"
run 0 --no-state --state-dir "$state" && has 'link_downed saturated at 255'
echo 0 >"$port/counters/link_downed"
run 0 --no-state && has '^PASS  error_counters +mlx5_ib0/1: no error counter saturated \(no baseline kept\)$'
[ ! -e "$state/counters.json" ] || { echo "FAIL: --no-state wrote a baseline"; fail=1; }
echo 0 >"$port/counters/link_downed"

# A port without a link partner.
cp "$port/state" "$tmp/state.bak"; cp "$port/phys_state" "$tmp/phys.bak"
echo "1: DOWN" >"$port/state"; echo "2: Polling" >"$port/phys_state"
run 1 --no-state && has '^FAIL  port_state +mlx5_ib0/1: down, polling \(expected active, link_up\)' &&
  has 'fix: the port sees no link partner \(Down/Polling\): stop \(deallocate\) and start the VM'
run 1 --no-state --nhc &&
  has '^check_ibup: port_state mlx5_ib0/1: down, polling, expected active, link_up\. FaultCode: NHC2004$'
echo "2: INIT" >"$port/state"; echo "5: LinkUp" >"$port/phys_state"
run 1 --no-state && has 'no subnet manager has configured the port \(Init\)'
cp "$tmp/state.bak" "$port/state"; cp "$tmp/phys.bak" "$port/phys_state"

# A link trained at a lower width.
cp "$port/rate" "$tmp/rate.bak"
echo "100 Gb/sec (2X HDR)" >"$port/rate"
run 1 --no-state && has '^FAIL  port_rate +mlx5_ib0/1: 100 Gb/s \(2X HDR\) \(expected 200 Gb/s \(Standard_HB120rs_v3\)\)'
# A rate a hair below: the message shows the digits that differ.
echo "199.99999999 Gb/sec (4X HDR)" >"$port/rate"
run 1 --no-state && has '^FAIL  port_rate +mlx5_ib0/1: 199\.99999999 Gb/s \(4X HDR\) \(expected 200 Gb/s'
cp "$tmp/rate.bak" "$port/rate"

# The admin's expectations win; a broken admin file is named and skipped.
mkdir -p "$root/etc/ibup/expect.d"
echo '{"sizes":[{"family":"lab","match":["Standard_HB120rs_v3"],"ib_hcas":2,"ib_rate_gbps":200}]}' \
  >"$root/etc/ibup/expect.d/50-lab.json"
run 1 --no-state && has '^FAIL  ib_hca_count +1 InfiniBand HCA \(expected 2 \(Standard_HB120rs_v3\)\)' && has '\(lab\)'
echo '{"sizes": [' >"$root/etc/ibup/expect.d/40-broken.json"
run 1 --no-state
grep -q "^ibup: warning: ignoring '/etc/ibup/expect.d/40-broken.json': line 2" "$tmp/err" ||
  { echo "FAIL: broken expectations file not reported:"; cat "$tmp/err"; fail=1; }
rm -r "$root/etc/ibup"

# Overrides on the command line; bad values are usage errors.
run 1 --no-state --expect-rate 400 && has 'expected 400 Gb/s'
run 2 --expect-rate fast
run 2 --expect-hcas 1.5
run 2 --nhc --json

# waagent.conf is read as the agent reads it: keys case-sensitive, switches not,
# quotes and a '#' comment stripped (test-waagent-agent.py compares with the agent).
waagent() {
  printf '%s\n' "$1" >"$root/etc/waagent.conf"
  run "$2" --no-state && has "^$3"
}
waagent 'os.enablerdma=y' 0 "WARN  waagent_rdma"
waagent 'OS.EnableRDMA=Y' 0 "PASS  waagent_rdma"
waagent 'OS.EnableRDMA="y"' 0 "PASS  waagent_rdma"
waagent 'OS.EnableRDMA=y#c' 0 "PASS  waagent_rdma"
# CheckRdmaDriver=y turns the agent's RDMA setup on too (enable_rdma()), but not on SR-IOV.
waagent 'OS.CheckRdmaDriver=y' 0 'WARN  waagent_rdma .*expected OS.CheckRdmaDriver=n'
rm -f "$root/etc/waagent.conf"
exit "$fail"
