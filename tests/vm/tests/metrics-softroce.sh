#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# `ibup metrics` on real RDMA devices: after traffic between the two Soft-RoCE devices
# the exposition lists both ports active with their rates, and counters that grew;
# the text is sent to the host, where promtool checks it (metrics-softroce.host.sh).

vm_test -t 90 traffic ibup bench -t write_bw -d "${VM_RXE[1]}" --to "${VM_RXE[0]}" -n 200
vm_test metrics ibup metrics
cp "$VM_OUT" metrics.prom
for d in "${VM_RXE[0]}" "${VM_RXE[1]}"; do
  assert_true "$d port 1 is active (4)" grep -q "^ibup_port_state{device=\"$d\",port=\"1\",kind=\"soft_roce\"} 4\$" metrics.prom
done
vm_test textfile ibup metrics --textfile /tmp
assert_true "the textfile is the same exposition" cmp -s <(grep -v '^ibup_check\|^ibup_node_ready' metrics.prom) \
  <(grep -v '^ibup_check\|^ibup_node_ready' /tmp/ibup.prom)
vm_export metrics metrics.prom
