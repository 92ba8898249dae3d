#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# `ibup env` on a live kernel whose fabric is Soft-RoCE (rxe0 on a0, rxe1 on b0), proven
# against UCX itself (Debian's ucx-utils). UCX_NET_DEVICES is a UCP setting
# (src/ucp/core/ucp_context.c): `ucx_info -d` prints the UCT layer's devices and does not
# apply it, while `ucx_info -p -u t` prints the resources of a UCP context
# (ucp_context_print_info), which does. So: after eval "$(ibup env)", the UCP context's
# network resources are exactly the ports ibup selected, where without it UCP also
# takes TCP over the interfaces; and UCX accepts the GID index ibup chose.
# Asserts: exit codes, the JSON (fabric, ports, GID index = the RoCE v2 IPv4 GID of
# sysfs), the UCP context's network devices with and without the environment, that
# ucx_info -d is the same either way, and no UCX warning about the variables.

command -v ucx_info >/dev/null || vm_skip "ucx_info is not installed (package ucx-utils)"

# net_devices FILE: the devices of the network transports in FILE, sorted, one line.
# FILE is ucx_info -p output ("# resource N : md M dev D flags -- tl/dev") or ucx_info -d
# output ("# Transport: tl" then "# Device: dev").
net_devices() {
  awk '/# *resource [0-9]+ *:/ { n = split($NF, a, "/"); print a[1], a[2] }
       /# *Transport:/ { t = $3 } /# *Device:/ { print t, $3 }' "$1" |
    awk '$1 !~ /^(self|posix|sysv|cma|knem|xpmem)$/ { print $2 }' | sort -u | paste -sd' '
}

vm_test json ibup env --json
assert_json_valid "env --json" "$VM_OUT"
assert_json "fabric" "$VM_OUT" '.fabric' soft_roce
assert_json "ports" "$VM_OUT" '[.ports[] | "\(.device):\(.port)"] | join(",")' "${VM_RXE[0]}:1,${VM_RXE[1]}:1"
# GID 1 of an rxe port is its IPv4-mapped RoCE v2 GID (GID 0 the link-local one).
gid_type=$(cat "/sys/class/infiniband/${VM_RXE[0]}/ports/1/gid_attrs/types/1")
assert_eq "GID 1 type" "RoCE v2" "$gid_type"
assert_json "UCX_IB_GID_INDEX" "$VM_OUT" '.variables[] | select(.name == "UCX_IB_GID_INDEX") | .value' 1
assert_json "UCX_IB_PKEY unset on RoCE" "$VM_OUT" '.variables[] | select(.name == "UCX_IB_PKEY") | .value' null

vm_test sh ibup env
cp "$VM_OUT" env.sh
vm_log "ibup env:"
sed 's/^/#   /' env.sh

vm_test ucx-without ucx_info -p -u t
without=$(net_devices "$VM_OUT")
vm_log "UCP context's network devices without ibup env: $without"
assert_match "UCP takes TCP without ibup env" "(^| )${VM_NETDEV[0]}( |$)" "$without"
vm_test ucx-d-without ucx_info -d
uct_without=$(net_devices "$VM_OUT")

ucx_with() {
  # shellcheck disable=SC1091 # written by the step above
  . ./env.sh || exit 1
  ucx_info "$@"
}
vm_test ucx-with ucx_with -p -u t
with=$(net_devices "$VM_OUT")
vm_log "UCP context's network devices with ibup env: $with"
assert_eq "UCP context's network devices" "${VM_RXE[0]}:1 ${VM_RXE[1]}:1" "$with"
assert_true "no UCX warning" bash -c "! grep -Ei 'warn|error|invalid' '$VM_ERR'"
# The UCT layer's listing does not apply UCP's device list.
vm_test ucx-d-with ucx_with -d
assert_eq "ucx_info -d ignores UCX_NET_DEVICES" "$uct_without" "$(net_devices "$VM_OUT")"

# The launcher forms carry the same assignment.
vm_test mpirun ibup env --format mpirun --mpi openmpi
assert_match "mpirun flags" "-x UCX_NET_DEVICES=${VM_RXE[0]}:1,${VM_RXE[1]}:1( |$)" "$(cat "$VM_OUT")"

# Two processes move data over the selected devices with that environment: UCX's own
# ucx_perftest, its transports limited to RC verbs (and UD, which RC's wire-up needs;
# intra-node UCX would otherwise take shared memory), so that the bytes cross the
# Soft-RoCE devices ibup chose.
perftest_pair() {
  # shellcheck disable=SC1091 # written by the step above
  . ./env.sh || exit 1
  export UCX_TLS=rc_verbs,ud_verbs,self
  # One host: both devices' IPv4-mapped GIDs (ibup's choice, right across hosts) are
  # local addresses of one namespace, and the kernel would loop the packets through lo;
  # the link-local GID keeps them on the veth pairs (as `ibup bench --to` does).
  export UCX_IB_GID_INDEX=0
  timeout -k 5 80 ucx_perftest -p 13337 >perftest-server.out 2>&1 &
  local server=$! rc
  sleep 2
  ucx_perftest 127.0.0.1 -p 13337 -t tag_bw -s 65536 -n 200
  rc=$?
  wait "$server" || rc=$?
  return "$rc"
}
rx_before=$(cat "/sys/class/infiniband/${VM_RXE[0]}/ports/1/hw_counters/rcvd_pkts" 2>/dev/null || echo 0)
tx_before=$(cat "/sys/class/infiniband/${VM_RXE[0]}/ports/1/hw_counters/sent_pkts" 2>/dev/null || echo 0)
rx1_before=$(cat "/sys/class/infiniband/${VM_RXE[1]}/ports/1/hw_counters/rcvd_pkts" 2>/dev/null || echo 0)
tx1_before=$(cat "/sys/class/infiniband/${VM_RXE[1]}/ports/1/hw_counters/sent_pkts" 2>/dev/null || echo 0)
vm_test -t 90 ucx-perftest perftest_pair
vm_log "ucx_perftest: $(grep -v '^ *$' "$VM_OUT" | tail -n 1)"
moved=$(($(cat "/sys/class/infiniband/${VM_RXE[0]}/ports/1/hw_counters/rcvd_pkts") - rx_before +
  $(cat "/sys/class/infiniband/${VM_RXE[0]}/ports/1/hw_counters/sent_pkts") - tx_before +
  $(cat "/sys/class/infiniband/${VM_RXE[1]}/ports/1/hw_counters/rcvd_pkts") - rx1_before +
  $(cat "/sys/class/infiniband/${VM_RXE[1]}/ports/1/hw_counters/sent_pkts") - tx1_before))
assert_num "packets through the Soft-RoCE devices during ucx_perftest" "$moved" -ge $((65536 * 200 / 1024))
