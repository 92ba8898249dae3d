#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# Devices that come and go: a Soft-RoCE device added with `rdma link add` is in the
# next `ibup status --json`, and gone from the one after `rdma link del`; and ibup
# status (JSON and text) run in a tight loop while devices are added and removed
# never fails: exit 0 and one valid JSON document every time, the two devices that
# stay are always listed, and nothing but the known devices ever shows up.

vm_net_add_node --no-rxe # c0, no rxe yet
vm_net_add_node --no-rxe # d0, no rxe yet
hp_if=${VM_NETDEV[2]} hp2_if=${VM_NETDEV[3]}
stable="${VM_RXE[0]} ${VM_RXE[1]}"

names() { jq -r '[.devices[].name] | join(" ")' "$1"; }

vm_test before ibup status --json && cp "$VM_OUT" before.json
assert_eq "devices before" "$stable" "$(names before.json)"

# Added: in the very next status.
vm_test add rdma link add rxehp type rxe netdev "$hp_if"
vm_test added ibup status --json && cp "$VM_OUT" added.json
assert_eq "devices after rdma link add" "$stable rxehp" "$(names added.json)"
assert_json "rxehp kind" added.json '.devices[] | select(.name == "rxehp") | .kind' soft_roce
assert_json "rxehp netdev" added.json '.devices[] | select(.name == "rxehp") | .ports[0].netdev' "$hp_if"

# Once its port is up, it is reported active with its GIDs.
vm_test -t 40 wait-active vm_wait_rxe rxehp 30
vm_test active ibup status --json && cp "$VM_OUT" active.json
assert_json "rxehp state" active.json '.devices[] | select(.name == "rxehp") | .ports[0].state' active
assert_json "rxehp gid 0" active.json '.devices[] | select(.name == "rxehp") | .ports[0].gids[0].gid' \
  "$(cat /sys/class/infiniband/rxehp/ports/1/gids/0)"

# Removed: gone from the very next status.
vm_test del rdma link del rxehp
vm_test removed ibup status --json && cp "$VM_OUT" removed.json
assert_eq "devices after rdma link del" "$stable" "$(names removed.json)"

# The race: churn two devices in the background while ibup status runs in a loop;
# the churn goes on until the loop has made its runs (so every run overlaps it).
runs_wanted=30
churn() {
  local i=0
  while [ ! -e churn.stop ]; do
    i=$((i + 1))
    rdma link add rxehp type rxe netdev "$hp_if" || echo "add rxehp failed at $i"
    rdma link add rxehq type rxe netdev "$hp2_if" || echo "add rxehq failed at $i"
    rdma link del rxehp || echo "del rxehp failed at $i"
    rdma link del rxehq || echo "del rxehq failed at $i"
    echo "$i" >churn.count
  done
}
rm -f churn.stop
echo 0 >churn.count
churn >churn.log 2>&1 &
churn_pid=$!

runs=0 bad_rc=0 bad_json=0 bad_set=0 seen_extra=0 text_runs=0
first_problem=''
problem() {
  [ -n "$first_problem" ] || first_problem="run $runs: $*"
  printf '    run %d: %s\n' "$runs" "$*"
}
# A bound for a machine that is slow or busy (emulated CPUs): 30 runs take ~60 s on a
# quiet one, and the loop stops as soon as it has them (the test as a whole has 300 s).
deadline=$((SECONDS + 240))
while [ "$runs" -lt "$runs_wanted" ] && [ "$SECONDS" -lt "$deadline" ] && kill -0 "$churn_pid" 2>/dev/null; do
  runs=$((runs + 1))
  timeout 20 ibup status --json >loop.json 2>loop.err
  rc=$?
  if [ "$rc" != 0 ]; then
    bad_rc=$((bad_rc + 1))
    problem "ibup status --json exit $rc: $(head -c 300 loop.err)"
    cp loop.json "fail-$runs.json"
    continue
  fi
  if ! jq -e '.schema_version == 1 and (.devices | type == "array")' loop.json >/dev/null 2>&1 ||
    [ "$(jq -s length loop.json 2>/dev/null)" != 1 ]; then
    bad_json=$((bad_json + 1))
    problem "not one valid status document: $(head -c 300 loop.json | tr -s "\n " " ")"
    cp loop.json "fail-$runs.json"
    continue
  fi
  set_now=$(names loop.json)
  case " $set_now " in
  *" ${VM_RXE[0]} ${VM_RXE[1]} "*) ;;
  *) bad_set=$((bad_set + 1)); problem "a device that stays is missing: '$set_now'" ;;
  esac
  extra=$(jq -r '.devices[].name' loop.json | grep -cvxE "${VM_RXE[0]}|${VM_RXE[1]}|rxehp|rxehq")
  if [ "$extra" != 0 ]; then
    bad_set=$((bad_set + 1))
    problem "an unknown device: '$set_now'"
  fi
  [ "$set_now" = "$stable" ] || seen_extra=$((seen_extra + 1))
  # Every other round also the human table.
  if [ $((runs % 2)) = 0 ]; then
    text_runs=$((text_runs + 1))
    timeout 20 ibup status >loop.txt 2>loop.err
    rc=$?
    if [ "$rc" != 0 ]; then
      bad_rc=$((bad_rc + 1))
      problem "ibup status (text) exit $rc: $(head -c 300 loop.err)"
    fi
  fi
done
churn_alive=0
kill -0 "$churn_pid" 2>/dev/null && churn_alive=1
touch churn.stop
for _ in $(seq 1 300); do
  kill -0 "$churn_pid" 2>/dev/null || break
  sleep 0.1
done
still_running=0
if kill -0 "$churn_pid" 2>/dev/null; then
  still_running=1
  kill "$churn_pid"
fi
wait "$churn_pid"
cycles=$(cat churn.count)
vm_log "ibup status ran $runs times (JSON) and $text_runs times (text) during $cycles add/del cycles; $seen_extra runs saw a churned device"
[ -z "$first_problem" ] || vm_log "first problem: $first_problem"
[ ! -s churn.log ] || {
  vm_log "churn log:"
  sed 's/^/    /' churn.log | head -n 20
}

assert_eq "churn still going when the loop ended" 1 "$churn_alive"
assert_eq "churn stopped when asked" 0 "$still_running"
assert_eq "rdma link add/del failures in the churn" 0 "$(grep -c failed churn.log)"
assert_num "add/del cycles done" "${cycles:-0}" -ge 10
assert_num "ibup status --json runs during the churn" "$runs" -ge "$runs_wanted"
assert_eq "runs with a non-zero exit" 0 "$bad_rc"
assert_eq "runs without one valid JSON document" 0 "$bad_json"
assert_eq "runs with a wrong device set" 0 "$bad_set"

# Afterwards the system is back to the two devices, and ibup agrees.
vm_test after ibup status --json && cp "$VM_OUT" after.json
assert_eq "devices after the churn" "$stable" "$(names after.json)"
