#!/bin/bash
# SPDX-License-Identifier: MIT
# vm-image: inbox
# vm-test-timeout: 300
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# A real inbox install, proven: the guest booted from the tree that had no RDMA user
# space until install-inbox.pre.sh ran `ibup install --stack inbox --root` into it on
# the host (apt, Debian's archive).  Here, on the booted result:
#  - dpkg knows rdma-core, ibverbs-providers, ibverbs-utils, perftest, ... as installed;
#  - ibv_devinfo (the installed ibverbs-utils, through the installed rxe provider)
#    lists rxe0 and rxe1, rxe0's port active on Ethernet;
#  - `ibup bench` loopback on rxe0 moves verified data (write_bw and send_bw), and
#    rxe0's packet counters grew by at least the payload's packets;
#  - the installed perftest's ib_write_bw runs rxe1 -> rxe0;
#  - `ibup check` calls this node what it is: Soft-RoCE only, no InfiniBand fabric.

dev=${VM_RXE[0]} peer=${VM_RXE[1]} dev_ip=${VM_IP[0]}

for p in rdma-core libibverbs1 ibverbs-providers ibverbs-utils infiniband-diags perftest rdmacm-utils; do
  assert_eq "dpkg: $p installed" installed "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>&1)"
done

vm_test devinfo-list ibv_devinfo -l
assert_match "ibv_devinfo -l lists $dev" "(^|[[:space:]])$dev($|[[:space:]])" "$(cat "$VM_OUT")"
assert_match "ibv_devinfo -l lists $peer" "(^|[[:space:]])$peer($|[[:space:]])" "$(cat "$VM_OUT")"
vm_test devinfo ibv_devinfo -d "$dev"
out=$(cat "$VM_OUT")
assert_match "ibv_devinfo: hca_id $dev" "hca_id:[[:space:]]+$dev" "$out"
assert_match "ibv_devinfo: port active" "state:[[:space:]]+PORT_ACTIVE" "$out"
assert_match "ibv_devinfo: link layer Ethernet" "link_layer:[[:space:]]+Ethernet" "$out"

# ibup bench through the installed libibverbs and rxe provider.
counter=/sys/class/infiniband/$dev/ports/1/hw_counters
for t in write_bw send_bw; do
  sent0=$(cat "$counter/sent_pkts")
  vm_test -t 120 "bench-$t" ibup bench --json -t "$t" -d "$dev" -s 64K -n 200 --verify
  sent1=$(cat "$counter/sent_pkts")
  assert_json_valid "$t json" "$VM_OUT"
  assert_json "$t mode" "$VM_OUT" .mode loopback
  assert_json "$t device" "$VM_OUT" .local.device "$dev"
  assert_json "$t verified" "$VM_OUT" '.results[0].verified' true
  assert_json "$t iterations" "$VM_OUT" '.results[0].iterations' 200
  assert_num "$t average Gb/s" "$(jq .results[0].bw_avg_gbps "$VM_OUT")" -gt 0
  assert_json "$t error" "$VM_OUT" .error null
  # 200 x 64 KiB at the 1024-byte RoCE MTU: at least 12800 packets left rxe0.
  assert_num "$t packets sent on $dev" "$((sent1 - sent0))" -ge 12800
done

# The distribution's perftest, as installed, between the two devices (link-local GIDs).
timeout -k 5 90 ib_write_bw -d "$dev" -x 0 -F -s 65536 -n 100 >server.out 2>&1 &
srv_pid=$!
for _ in $(seq 1 100); do
  ss -ltn 2>/dev/null | grep -q ':18515 ' && break
  sleep 0.1
done
vm_test -t 90 perftest-write-bw ib_write_bw -d "$peer" -x 0 -F -s 65536 -n 100 "$dev_ip"
wait "$srv_pid"
assert_eq "ib_write_bw server exit" 0 "$?"
# The result line: "#bytes #iterations BW-peak BW-average MsgRate".
bw=$(awk '$1 == 65536 && NF >= 4 { print $4; exit }' "$VM_OUT")
vm_log "ib_write_bw $peer -> $dev: ${bw:-?} MB/s"
assert_num "ib_write_bw average MB/s" "${bw:-none}" -gt 0

n=${#VM_RXE[@]}
vm_test -e 4 check ibup check --vm-size Standard_D4s_v5
assert_match "check: Soft-RoCE is no InfiniBand fabric" \
  "^No InfiniBand fabric on this node: no InfiniBand device \\($n soft_roce\\)" "$(cat "$VM_OUT")"
