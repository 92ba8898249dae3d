#!/bin/bash
# SPDX-License-Identifier: MIT
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# Infrastructure sanity: real RDMA WRITE traffic between the two Soft-RoCE devices,
# rxe1 (client, on b0) -> rxe0 (server, on a0), through the veth pairs and the bridge.
# GID index 0 (IPv6 link-local) is used: with the IPv4-mapped GID both addresses are
# local to the one namespace and the kernel would route the packets through lo.
# Asserts: both ends exit 0, both report an average bandwidth > 0, and the bytes really
# crossed the wire (a0's receive counter and rxe1's sent_pkts grew by the payload).

size=65536
iters=200
payload=$((size * iters))
srv=${VM_RXE[0]} cli=${VM_RXE[1]} srv_ip=${VM_IP[0]}
srv_if=${VM_NETDEV[0]}

rx_before=$(cat "/sys/class/net/$srv_if/statistics/rx_bytes")
pkts_before=$(cat "/sys/class/infiniband/$cli/ports/1/hw_counters/sent_pkts")

# Server in the background (its own timeout), client as a step.
timeout -k 5 90 ib_write_bw -d "$srv" -x 0 -F -s "$size" -n "$iters" >server.out 2>&1 &
server_pid=$!
# Wait until the server listens on perftest's default port 18515.
for _ in $(seq 1 100); do
  ss -ltn 2>/dev/null | grep -q ':18515 ' && break
  sleep 0.1
done

vm_test -t 90 client ib_write_bw -d "$cli" -x 0 -F -s "$size" -n "$iters" "$srv_ip"
client_out=$VM_OUT
wait "$server_pid"
server_rc=$?
assert_eq "server exit status" 0 "$server_rc"

# The result line: "#bytes #iterations BW-peak BW-average MsgRate".
bw_of() { awk -v s="$size" '$1 == s && NF >= 4 { print $4; exit }' "$1"; }
bw_client=$(bw_of "$client_out")
bw_server=$(bw_of server.out)
vm_log "average bandwidth: client ${bw_client:-?} MB/s, server ${bw_server:-?} MB/s"
assert_num "client average MB/s" "${bw_client:-none}" -gt 0
assert_num "server average MB/s" "${bw_server:-none}" -gt 0

rx_after=$(cat "/sys/class/net/$srv_if/statistics/rx_bytes")
pkts_after=$(cat "/sys/class/infiniband/$cli/ports/1/hw_counters/sent_pkts")
assert_num "bytes received on $srv_if" "$((rx_after - rx_before))" -ge "$payload"
# 1024-byte RoCE MTU: at least payload/1024 packets.
assert_num "packets sent by $cli" "$((pkts_after - pkts_before))" -ge "$((payload / 1024))"
