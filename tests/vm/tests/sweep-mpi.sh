#!/bin/bash
# SPDX-License-Identifier: MIT
# vm-test-timeout: 900
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# ibup-sweep, the fabric sweep's MPI program, on four Soft-RoCE "nodes" (rxe0..rxe3,
# each on its own veth joined by br0, one rank per device, link-local GIDs), launched
# by Open MPI's mpirun and by Slurm's srun (slurmctld, slurmd and munge in the guest;
# the image has them). The runner puts the ibup-sweep built next to the ibup binary
# into the guest; a build without MPI has none, and the test is skipped.
#  - a healthy fabric: exit 0, every pair measured once, nothing named (relative
#    floor 0.5, latency ceiling 20 times the median: the guest's noise); its spread is
#    the noise (printed); the faults below cut the rate to a tenth of the healthy
#    lowest, and the floor of the runs below is half the healthy median bandwidth
#    (--bw-min: with few nodes a slow one is in most pairs, so the fleet median cannot
#    be the reference); their latency ceiling is 5 ms (--lat-max), half the slow
#    path's delay: a healthy pair measured beside the throttled one under a loaded CI
#    host once took 2 ms, seven times the healthy median;
#  - one node slowed (netem rate on both ends of its veth): that node is named, and
#    only it, with no bad link, its pairs at most a quarter of the healthy lowest; the
#    heat map is written;
#  - one path slowed (a tc filter on two veths delays by 10 ms and throttles only the
#    packets between two nodes): that pair is named, and neither node;
#  - the same slow node under srun --mpi=pmix;
#  - a connection stalled on purpose (every packet of one node dropped for 3 s): the
#    pair is re-connected (--reconnects) and measured, the run file counts it.
# The RC ACK timeout is 2^18 x 4.096 us (1.1 s): at 2^20 (4.3 s) connections between
# this kernel's rxe devices stalled in most sweeps (see tests/vm/README.md, "The
# sweep"); a pair silent for 4 s is re-connected, up to 3 times (--reconnects), and
# every re-connection is printed.
# Completion events (not polling): the ranks share two emulated CPUs.

command -v mpirun >/dev/null || vm_skip "mpirun is not installed (package openmpi-bin)"
for c in slurmctld slurmd srun munged; do
  command -v "$c" >/dev/null || vm_skip "$c is not installed (packages slurmctld, slurmd, slurm-client, munge)"
done
command -v ibup-sweep >/dev/null || vm_skip "no ibup-sweep in the guest (built when CMake finds MPI)"

N=4
for ((i = ${#VM_RXE[@]}; i < N; i++)); do
  vm_net_add_node --rxe || vm_fail "adding node $i"
done
for ((i = 0; i < N; i++)); do
  vm_wait_rxe "${VM_RXE[$i]}" 30 || vm_fail "${VM_RXE[$i]} not active"
done
devs=$(IFS=,; echo "${VM_RXE[*]}")

# Open MPI as root in one guest: no ssh, shared memory between the ranks (MPI's own
# traffic stays off the rxe devices), every rank may share the two CPUs.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_osc=^ucx
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none
export ASAN_OPTIONS=detect_leaks=0 # Open MPI keeps its allocations to the end

# Each rank is a node of its own: label node<rank>, device rxe<rank>.
cat >/tmp/sweep-rank.sh <<'EOF'
#!/bin/sh
IBUP_NODE=node${OMPI_COMM_WORLD_RANK:-$SLURM_PROCID}
export IBUP_NODE
exec ibup-sweep --label-from-env IBUP_NODE "$@"
EOF
chmod +x /tmp/sweep-rank.sh

# The steps run in child shells: what they use is exported.
# rxe's ACK timeout is 4.096 us x 2^14 = 67 ms by default; under emulation an ACK can
# be later than that (and a shaped link's surely is), and rxe then retransmits what was
# never lost. 2^18 (1.1 s) is the guest's setting; real fabrics keep the default.
# A connection between this kernel's rxe devices can stall for good (see
# tests/vm/README.md): nothing completing for 4 s re-connects the pair, up to 3 times.
SWEEP_ARGS="--device $devs --gid-index 0 --duration 1 --depth 16 --qp-timeout 18 --lat-iterations 100 --timeout-ms 4000 --reconnects 3"
HEALTHY_ARGS="--bw-rel 0.5 --lat-rel 20"
export N SWEEP_ARGS

sweep_mpirun() {
  # shellcheck disable=SC2086 # the options are words
  mpirun -np "$N" /tmp/sweep-rank.sh $SWEEP_ARGS "$@"
}

# bad_nodes FILE / bad_links FILE: the analysis of a run file, as labels.
bad_nodes() { jq -r '[.analysis.bad_nodes[].label] | join(",")' "$1"; }
bad_links() { jq -r '[.analysis.bad_links[] | "\(.label_a)-\(.label_b)"] | join(",")' "$1"; }
# log_reconnects FILE: which pairs stalled and were re-connected in that run.
log_reconnects() {
  vm_log "$1: re-connections $(jq -c '[.measurements[] | select(.reconnects > 0) | "\(.a)-\(.b) x\(.reconnects)"]' "$1")"
}

# --- healthy: nothing named -------------------------------------------------------------
# shellcheck disable=SC2086 # the options are words
vm_test -t 240 healthy sweep_mpirun $HEALTHY_ARGS --output healthy.json --csv healthy.csv
vm_log "healthy sweep:"
sed 's/^/#   /' "$VM_OUT"
sed 's/^/#   /' "$VM_ERR"
assert_json_valid "run file" healthy.json
log_reconnects healthy.json
assert_json "nodes" healthy.json '[.nodes[].label] | join(",")' node0,node1,node2,node3
assert_json "every pair once" healthy.json \
  '[.measurements[] | select(.attempt == 0) | "\(.a)-\(.b)"] | unique | length' $((N * (N - 1) / 2))
assert_json "no errors" healthy.json '[.measurements[] | select(.error != null)] | length' 0
assert_json "no bad node" healthy.json '.analysis.bad_nodes | length' 0
assert_json "no bad link" healthy.json '.analysis.bad_links | length' 0
sync_ms=$(jq '.round_sync_s * 1000' healthy.json)
vm_log "per-round synchronisation in the guest: $sync_ms ms"
assert_num "round sync measured" "$sync_ms" -gt 0
bws='[.measurements[] | .bw_ab_gbps, .bw_ba_gbps | numbers]'
median=$(jq "$bws | sort | .[length / 2 | floor]" healthy.json)
lo=$(jq "$bws | min" healthy.json)
# The noise: the relative standard deviation of the healthy directions.
noise=$(jq "$bws | (add / length) as \$m | (map((. - \$m) * (. - \$m)) | add / length | sqrt) / \$m" healthy.json)
vm_log "healthy bandwidth: median $median Gb/s, lowest $lo Gb/s, noise (relative sd) $noise"
assert_num "bandwidth measured" "$median" -gt 0
# The faults leave a tenth of the healthy lowest rate.
rate_mbit=$(awk -v l="$lo" 'BEGIN { r = int(l * 1000 / 10); print (r < 1 ? 1 : r) }')
vm_log "fault rate: $rate_mbit mbit/s"
lat=$(jq '[.measurements[] | .lat_us | numbers] | sort | .[length / 2 | floor]' healthy.json)
floor=$(awk -v m="$median" 'BEGIN { printf "%.6f", m / 2 }')
ceiling=5000
vm_log "the faulty runs' floor: $floor Gb/s, ceiling: $ceiling us (healthy median latency $lat us)"
SWEEP_ARGS="$SWEEP_ARGS --bw-min $floor --lat-max $ceiling"
export SWEEP_ARGS
assert_num "CSV rows" "$(wc -l <healthy.csv)" -eq $((N + 1))

# --- a connection that stalls: re-connected, then measured --------------------------------
# Only node0-node1 (a pair list); once the sweep says it starts, every packet leaving
# node0's veth is dropped for 3 s: nothing completes for --timeout-ms (2 s), both ends
# re-connect, and once the drop ends a connection measures. The run file counts the
# re-connections, the summary notes them, and the pair is measured, not failed.
printf 'node0 node1\n' >/tmp/pair01
stall_dev=${VM_NETDEV[0]}
export stall_dev # the step runs in a child shell, which has no arrays
stall_run() {
  sweep_mpirun --pairs /tmp/pair01 --timeout-ms 2000 --reconnects 5 --max-retests 0 \
    --output stall.json 2>/tmp/stall.err &
  local p=$! i
  for ((i = 0; i < 1200; i++)); do
    grep -q 'rounds of' /tmp/stall.err && break
    sleep 0.05
  done
  tc qdisc add dev "$stall_dev" root netem loss 100% limit 100000 || return 1
  sleep 3
  tc qdisc del dev "$stall_dev" root
  wait "$p"
}
vm_test -t 180 stall stall_run
sed 's/^/#   /' "$VM_OUT"
sed 's/^/#   /' /tmp/stall.err
assert_json_valid "stall run file" stall.json
log_reconnects stall.json
assert_json "the pair measured" stall.json '[.measurements[] | select(.error == null and .bw_ab_gbps > 0)] | length' 1
assert_num "re-connections" "$(jq '.measurements[0].reconnects' stall.json)" -ge 1
assert_match "summary notes them" "re-connected" "$(cat "$VM_OUT")"

# --- one slow node: named, and only it -----------------------------------------------------
slow=2
slow_on() {
  tc qdisc add dev "${VM_NETDEV[$slow]}" root netem rate "${rate_mbit}mbit" limit 100000 &&
    tc qdisc add dev "${VM_PEER[$slow]}" root netem rate "${rate_mbit}mbit" limit 100000
}
slow_off() {
  tc qdisc del dev "${VM_NETDEV[$slow]}" root
  tc qdisc del dev "${VM_PEER[$slow]}" root
}
assert_true "slow node shaped" slow_on
vm_test -t 300 -e 1 slow-node sweep_mpirun --output slow.json --svg slow.svg
vm_log "slow node sweep:"
sed 's/^/#   /' "$VM_OUT"
sed 's/^/#   /' "$VM_ERR"
slow_off
assert_json_valid "slow run file" slow.json
log_reconnects slow.json
assert_eq "bad nodes" "node$slow" "$(bad_nodes slow.json)"
assert_eq "bad links" "" "$(bad_links slow.json)"
assert_match "summary names the node" "node$slow" "$(cat "$VM_OUT")"
slow_out=$(jq ".analysis.nodes[$slow].median_out_gbps" slow.json)
slow_in=$(jq ".analysis.nodes[$slow].median_in_gbps" slow.json)
vm_log "slowed node: median out $slow_out, in $slow_in Gb/s (healthy lowest $lo, noise $noise)"
assert_num "slowed node's out at most a quarter of the healthy lowest" "$slow_out" -le "$(awk -v l="$lo" 'BEGIN { print l / 4 }')"
assert_num "slowed node's in at most a quarter of the healthy lowest" "$slow_in" -le "$(awk -v l="$lo" 'BEGIN { print l / 4 }')"
assert_true "heat map is SVG" grep -q '<svg' slow.svg

# --- one slow path: the pair, and neither node ------------------------------------------
pa=0 pb=1
ll_of() { ip -6 -o addr show dev "$1" scope link | awk '{ print $4 }' | cut -d/ -f1; }
path_on() {
  local from=$1 to=$2 dst
  dst=$(ll_of "${VM_NETDEV[$to]}")
  [ -n "$dst" ] || return 1
  # Every priority to band 0 (1:1): only what the filter picks goes to the slow band.
  # Band 0's queue holds a whole window of rxe's bursts: the veth had no queue at all,
  # and a default pfifo (1000 packets) dropped the other pairs' packets under load.
  tc qdisc add dev "${VM_NETDEV[$from]}" root handle 1: prio bands 3 priomap 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 &&
    tc qdisc add dev "${VM_NETDEV[$from]}" parent 1:1 handle 10: pfifo limit 100000 &&
    tc qdisc add dev "${VM_NETDEV[$from]}" parent 1:3 handle 30: netem delay 10ms \
      rate "${rate_mbit}mbit" limit 100000 &&
    tc filter add dev "${VM_NETDEV[$from]}" parent 1: protocol ipv6 prio 1 u32 \
      match ip6 dst "$dst/128" flowid 1:3
}
assert_true "path $pa->$pb shaped" path_on $pa $pb
assert_true "path $pb->$pa shaped" path_on $pb $pa
vm_test -t 300 -e 1 slow-path sweep_mpirun --output path.json
for i in $pa $pb; do
  vm_log "${VM_NETDEV[$i]}'s queues: $(tc -s qdisc show dev "${VM_NETDEV[$i]}" | grep -o '^qdisc [a-z_]* [0-9a-f:]*\|dropped [0-9]*' | paste -sd ' ')"
done
vm_log "slow path sweep:"
sed 's/^/#   /' "$VM_OUT"
sed 's/^/#   /' "$VM_ERR"
tc qdisc del dev "${VM_NETDEV[$pa]}" root
tc qdisc del dev "${VM_NETDEV[$pb]}" root
assert_json_valid "path run file" path.json
log_reconnects path.json
assert_eq "no bad node" "" "$(bad_nodes path.json)"
assert_eq "bad link" "node$pa-node$pb" "$(bad_links path.json)"

vm_export healthy.json healthy.json
vm_export slow.json slow.json
vm_export slow.svg slow.svg
vm_export path.json path.json

# --- the same slow node under Slurm: srun --mpi=pmix --------------------------------------
host=$(hostname)
export host # slurm_up runs in a child shell
slurm_up() {
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm \
    /run/munge /var/log/munge /var/lib/munge || return 1
  chown -R munge:munge /etc/munge /run/munge /var/log/munge /var/lib/munge || return 1
  chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key || return 1
  [ -s /etc/munge/munge.key ] || mungekey -c -k /etc/munge/munge.key || return 1
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key || return 1
  runuser -u munge -- /usr/sbin/munged || return 1
  cat >/etc/slurm/slurm.conf <<CONF
ClusterName=ibupvm
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$host NodeHostname=$host NodeAddr=127.0.0.1 CPUs=$N State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE
CONF
  # slurmd will not start without a cgroup plugin, and the guest mounts no cgroup
  # file system. cgroup/v2 wants systemd's slice (system.slice/...scope), which the
  # guest lacks; cgroup/v1 on hierarchies mounted here works.
  if ! mountpoint -q /sys/fs/cgroup; then
    mount -t tmpfs cgroup /sys/fs/cgroup || return 1
    for c in freezer cpuset memory devices cpu,cpuacct; do
      mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" "$c" "/sys/fs/cgroup/$c" || return 1
    done
  fi
  echo CgroupPlugin=cgroup/v1 >/etc/slurm/cgroup.conf || return 1
  # Slurm's PMIx plugin loads pmix2/lib/libpmix.so, a link only libpmix-dev ships (and
  # that package does not install in the minbase root); the library is libpmix.so.2.
  local pm=/usr/lib/x86_64-linux-gnu/pmix2/lib
  [ -e "$pm/libpmix.so" ] || ln -s libpmix.so.2 "$pm/libpmix.so" || return 1
  slurmctld || return 1
  slurmd -N "$host" || { timeout 10 slurmd -D -N "$host" 2>&1 | tail -5 >&2; return 1; }
  for _ in $(seq 1 300); do
    [ "$(sinfo -h -o %T 2>/dev/null)" = idle ] && return 0
    sleep 0.2
  done
  echo "the Slurm node never became idle: $(sinfo 2>&1)" >&2
  tail -5 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2
  return 1
}
slurm_down() {
  scontrol shutdown >/dev/null 2>&1
  pkill -x munged
}
sweep_srun() {
  # shellcheck disable=SC2086 # the options are words
  srun -n "$N" --mpi=pmix /tmp/sweep-rank.sh $SWEEP_ARGS "$@"
}
if vm_test -t 120 slurm-up slurm_up; then
  vm_log "srun's MPI plugins: $(srun --mpi=list 2>&1 | tr '\n' ' ')"
  assert_true "slow node shaped again" slow_on
  vm_test -t 300 -e 1 srun-slow-node sweep_srun --output srun.json
  vm_log "slow node sweep under srun:"
  sed 's/^/#   /' "$VM_OUT"
  sed 's/^/#   /' "$VM_ERR"
  slow_off
  assert_json_valid "srun run file" srun.json
  log_reconnects srun.json
  assert_json "launcher" srun.json .params.launcher srun
  assert_eq "srun: bad nodes" "node$slow" "$(bad_nodes srun.json)"
  assert_eq "srun: bad links" "" "$(bad_links srun.json)"
  vm_export srun.json srun.json
else
  sed 's/^/#   /' "$VM_ERR"
fi
slurm_down
