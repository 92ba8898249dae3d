#!/bin/bash
# SPDX-License-Identifier: MIT
# vm-test-timeout: 600
# Sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# `ibup bench` on real kernel RDMA: every test in every mode, with real assertions.
#  - loopback on rxe0: the five tests with --verify: exit 0, bandwidth > 0, finite
#    latencies in order (min <= median <= p99 <= max), every payload verified;
#  - --all: the 23 sizes 2 B .. 8 MiB, each with bandwidth > 0, and for the tests
#    whose receives stay posted across sizes (send_bw, send_lat) each verified;
#  - --duration: runs as long as asked;
#  - two devices of this host (rxe1 -> rxe0): the link-local GIDs are chosen by
#    themselves, and the bytes crossed the wire (rxe1's sent_pkts grew); a post asks
#    for at most 16 read response packets (4 KiB reads in chains of 4, 16 KiB one by
#    one), smaller reads and writes chained by 16;
#  - two "hosts": a --server on rxe0 and a client on rxe1 over TCP, every test;
#  - a peer killed mid-run, both ways and in a latency spin: an error (exit 3) with a
#    reason, within the timeout, never a hang;
#  - pass/fail: --expect-gbps / --expect-usec give 1 when missed, 0 when met;
#  - libibverbs missing (an empty file in its place): bench says so, status still works;
#  - bad choices: a GID index the port lacks, a device that does not exist (also on
#    the server side: the client says why the server refused).

srv=${VM_RXE[0]} cli=${VM_RXE[1]} srv_ip=${VM_IP[0]}

# lat_ok FILE: the latency figures of every result are finite and ordered.
lat_ok() {
  jq -e '[.results[] | .lat_min_us > 0 and .lat_min_us <= .lat_median_us
          and .lat_median_us <= .lat_p99_us and .lat_p99_us <= .lat_p999_us
          and .lat_p999_us <= .lat_max_us and .lat_mean_us >= .lat_min_us
          and .lat_mean_us <= .lat_max_us and .lat_stdev_us >= 0] | all' "$1" >/dev/null
}

# --- loopback, every test, verified ------------------------------------------------------
for t in write_bw read_bw send_bw; do
  vm_test -t 120 "loopback-$t" ibup bench --json -t "$t" -d "$srv" -n 300 --verify
  assert_json_valid "$t json" "$VM_OUT"
  assert_json "$t mode" "$VM_OUT" .mode loopback
  assert_json "$t verified" "$VM_OUT" '.results[0].verified' true
  assert_json "$t iterations" "$VM_OUT" '.results[0].iterations' 300
  assert_num "$t average Gb/s" "$(jq .results[0].bw_avg_gbps "$VM_OUT")" -gt 0
  assert_json "$t peak >= average" "$VM_OUT" '.results[0].bw_peak_gbps >= .results[0].bw_avg_gbps' true
  assert_json "$t MiB/s matches Gb/s" "$VM_OUT" \
    '(.results[0].bw_avg_mibps * 1048576 * 8 / 1e9 - .results[0].bw_avg_gbps) | fabs < 1e-6' true
  assert_json "$t RoCE v2 IPv4-mapped GID" "$VM_OUT" '.local.gid | startswith("0000:0000:0000:0000:0000:ffff:")' true
  assert_json "$t error" "$VM_OUT" .error null
done
for t in write_lat send_lat; do
  vm_test -t 120 "loopback-$t" ibup bench --json -t "$t" -d "$srv" -n 300 --verify
  assert_json "$t verified" "$VM_OUT" '.results[0].verified' true
  assert_json "$t round trips" "$VM_OUT" '.results[0].iterations' 300
  assert_json "$t size" "$VM_OUT" '.results[0].size' 2
  assert_true "$t latencies finite and ordered" lat_ok "$VM_OUT"
done
# A latency message bigger than the inline limit, and a bandwidth run with several QPs.
vm_test -t 120 loopback-write-lat-4k ibup bench --json -t write_lat -d "$srv" -s 4K -n 100 --verify
assert_json "4 KiB write_lat verified" "$VM_OUT" '.results[0].verified' true
vm_test -t 120 loopback-qps ibup bench --json -t write_bw -d "$srv" -q 4 -n 100 --verify
assert_json "4 QPs" "$VM_OUT" .qps 4
assert_json "4 QPs: messages of all of them" "$VM_OUT" '.results[0].iterations' 400
assert_json "4 QPs verified" "$VM_OUT" '.results[0].verified' true

# Text output: the header names the devices, one row per size.
vm_test -t 60 text ibup bench -t send_bw -d "$srv" -s 1K -n 100
assert_match "text header" "^ibup bench send_bw \\(loopback\\)" "$(head -1 "$VM_OUT")"
assert_match "text row" "^ +1024 +100 " "$(tail -1 "$VM_OUT")"

# --- every size ----------------------------------------------------------------------------
vm_test -t 240 all-sizes ibup bench --json -t write_bw -d "$srv" --all -n 8
assert_json "23 sizes" "$VM_OUT" '.results | length' 23
assert_json "sizes 2 B .. 8 MiB" "$VM_OUT" '[.results[].size] == [range(1;24) | pow(2;.)]' true
assert_json "every size moved data" "$VM_OUT" '[.results[].bw_avg_gbps > 0] | all' true
# Receives stay posted from one size to the next: they must fit every size of the run.
vm_test -t 240 all-sizes-send ibup bench --json -t send_bw -d "$srv" --all -n 8 --verify
assert_json "send_bw: 23 sizes verified" "$VM_OUT" '[.results[] | select(.verified)] | length' 23
vm_test -t 240 all-sizes-send-lat ibup bench --json -t send_lat -d "$srv" --all -n 5 --verify
assert_json "send_lat: 23 sizes verified" "$VM_OUT" '[.results[] | select(.verified)] | length' 23
assert_true "send_lat: every size's latencies" lat_ok "$VM_OUT"

# --- duration ------------------------------------------------------------------------------
vm_test -t 60 duration-bw ibup bench --json -t write_bw -d "$srv" -D 2
assert_num "write_bw ran ~2 s" "$(jq .results[0].seconds "$VM_OUT")" -ge 1.9
assert_num "write_bw messages" "$(jq .results[0].iterations "$VM_OUT")" -gt 0
vm_test -t 60 duration-lat ibup bench --json -t send_lat -d "$srv" -D 1
assert_num "send_lat ran ~1 s" "$(jq .results[0].seconds "$VM_OUT")" -ge 0.9
assert_true "duration latencies" lat_ok "$VM_OUT"

# --- two devices of this host ----------------------------------------------------------
pkts_before=$(cat "/sys/class/infiniband/$cli/ports/1/hw_counters/sent_pkts")
vm_test -t 120 local-write-bw ibup bench --json -t write_bw -d "$cli" --to "$srv" -n 200 --verify
pkts_after=$(cat "/sys/class/infiniband/$cli/ports/1/hw_counters/sent_pkts")
assert_json "local mode" "$VM_OUT" .mode local
assert_json "client device" "$VM_OUT" .local.device "$cli"
assert_json "server device" "$VM_OUT" .remote.device "$srv"
assert_json "link-local GID chosen" "$VM_OUT" '.local.gid | startswith("fe80:")' true
assert_json "local verified" "$VM_OUT" '.results[0].verified' true
# 200 x 64 KiB at a 1024-byte MTU: at least 12800 packets left rxe1.
assert_num "packets sent by $cli" "$((pkts_after - pkts_before))" -ge 12800
# A post asks for at most 16 response packets of reads larger than the path MTU (1024
# here); smaller reads, and writes, go in chains (min(cq-mod, 16) up to 8 KiB). Every
# read verified, every way of posting.
vm_test -t 120 local-read-1k ibup bench --json -t read_bw -d "$cli" --to "$srv" -s 1K -n 400 --verify
assert_json "read path MTU" "$VM_OUT" .local.mtu 1024
assert_json "1 KiB reads chained" "$VM_OUT" '.results[0].post_list' 16
assert_json "1 KiB reads verified" "$VM_OUT" '.results[0].verified' true
vm_test -t 120 local-read-4k ibup bench --json -t read_bw -d "$cli" --to "$srv" -s 4K -n 400 --verify
assert_json "4 KiB reads in chains of 4" "$VM_OUT" '.results[0].post_list' 4
assert_json "4 KiB reads verified" "$VM_OUT" '.results[0].verified' true
vm_test -t 120 local-read-16k ibup bench --json -t read_bw -d "$cli" --to "$srv" -s 16K -n 200 --verify
assert_json "16 KiB reads one per post" "$VM_OUT" '.results[0].post_list' 1
assert_json "16 KiB reads verified" "$VM_OUT" '.results[0].verified' true
vm_test -t 120 local-write-4k ibup bench --json -t write_bw -d "$cli" --to "$srv" -s 4K -n 400
assert_json "4 KiB writes chained" "$VM_OUT" '.results[0].post_list' 16
vm_test -t 120 local-write-lat ibup bench --json -t write_lat -d "$cli" --to "$srv" -n 200 --verify
assert_true "local latencies" lat_ok "$VM_OUT"
assert_json "each side on a CPU of its own" "$VM_OUT" '.local.cpu != null and .remote.cpu != null and .local.cpu != .remote.cpu' true
# --to alone: the client on the default device (the first: rxe0), the server on rxe1.
vm_test -t 60 local-default-client ibup bench --json --to "$cli" -n 50
assert_json "--to alone: local mode" "$VM_OUT" .mode local
assert_json "--to alone: default client device" "$VM_OUT" .local.device "$srv"
assert_json "--to alone: server device" "$VM_OUT" .remote.device "$cli"

# --- two hosts: server and client over TCP --------------------------------------------
# wait_listen: until a server listens on 18515.
wait_listen() {
  local _
  for _ in $(seq 1 100); do
    ss -ltn 2>/dev/null | grep -q ':18515 ' && return 0
    sleep 0.1
  done
  return 1
}
for t in write_bw read_bw send_bw write_lat send_lat; do
  timeout -k 5 120 ibup bench --server -d "$srv" -x 0 --json >"server-$t.json" 2>"server-$t.err" &
  spid=$!
  assert_true "server listens ($t)" wait_listen
  vm_test -t 120 "client-$t" ibup bench --json -t "$t" -d "$cli" -x 0 -n 200 --verify "$srv_ip"
  wait "$spid"
  assert_eq "server exit status ($t)" 0 "$?"
  assert_json "client mode ($t)" "$VM_OUT" .mode client
  assert_json "client verified ($t)" "$VM_OUT" '.results[0].verified' true
  assert_json "server saw the test ($t)" "server-$t.json" .test "$t"
  assert_json "server device ($t)" "server-$t.json" .local.device "$srv"
  assert_json "client knows the server's device ($t)" "$VM_OUT" .remote.device "$srv"
done

# --- a peer killed mid-run ---------------------------------------------------------------
# server_killed TEST PATTERN: a server SIGKILLed 3 s into a 30 s TEST run; the client
# stops with exit 3 and a reason matching PATTERN, long before the run would end.
server_killed() {
  local t=$1 pattern=$2 start elapsed spid
  ibup bench --server -d "$srv" -x 0 >/dev/null 2>&1 &
  spid=$!
  assert_true "server listens ($t, to be killed)" wait_listen
  (sleep 3 && kill -9 "$spid") &
  start=$(date +%s)
  vm_test -t 60 -e 3 "server-killed-$t" ibup bench -t "$t" -d "$cli" -x 0 -D 30 --timeout 5 "$srv_ip"
  elapsed=$(($(date +%s) - start))
  wait
  assert_match "client says why ($t)" "$pattern" "$(cat "$VM_ERR")"
  assert_num "client stopped long before the 30 s run ($t)" "$elapsed" -lt 20
}
# During a bandwidth run, and while the client spins on memory (write_lat).
server_killed write_bw "^ibup: bench: "
server_killed write_lat "(closed the connection|stopped|does not answer)"

# The client dies: the server does not wait forever.
timeout -k 5 60 ibup bench --server -d "$srv" -x 0 >/dev/null 2>server-orphan.err &
spid=$!
assert_true "server listens (client killed)" wait_listen
timeout -s KILL 3 ibup bench -t send_bw -d "$cli" -x 0 -D 30 "$srv_ip" >/dev/null 2>&1
start=$(date +%s)
wait "$spid"
rc=$?
assert_eq "orphaned server exit status" 3 "$rc"
assert_match "orphaned server says why" "closed the connection" "$(cat server-orphan.err)"
assert_num "orphaned server stopped at once" "$(($(date +%s) - start))" -lt 15

# --- pass / fail ---------------------------------------------------------------------------
vm_test -t 60 -e 1 expect-gbps-missed ibup bench -t write_bw -d "$srv" -n 100 --expect-gbps 10000
assert_match "below expectation named" "BELOW EXPECTATION" "$(cat "$VM_OUT")"
vm_test -t 60 -e 0 expect-gbps-met ibup bench -t write_bw -d "$srv" -n 100 --expect-gbps 0.0001
vm_test -t 60 -e 1 expect-usec-missed ibup bench --json -t send_lat -d "$srv" -n 100 --expect-usec 0.001
assert_json "JSON pass false" "$VM_OUT" .expect.pass false
vm_test -t 60 -e 0 expect-usec-met ibup bench --json -t send_lat -d "$srv" -n 100 --expect-usec 100000
assert_json "JSON pass true" "$VM_OUT" .expect.pass true

# --- rdma-core missing --------------------------------------------------------------------
# libibverbs is loaded with dlopen: without it bench says so (exit 3) and status still works.
# without_verbs CMD...: run CMD in a mount namespace where libibverbs.so.1 is empty.
without_verbs() {
  # shellcheck disable=SC2016 # expanded by the inner sh
  unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh \
    "$(readlink -f /usr/lib/x86_64-linux-gnu/libibverbs.so.1)" "$@"
}
vm_test -t 30 -e 3 no-libibverbs without_verbs ibup bench -d "$srv" -n 10
assert_match "missing libibverbs named" "^ibup: bench: cannot load libibverbs.so.1, rdma-core's verbs library" "$(cat "$VM_ERR")"
vm_test -t 30 status-without-libibverbs without_verbs ibup status --json
assert_json "status without libibverbs sees the devices" "$VM_OUT" '.devices | length' "${#VM_RXE[@]}"

# --- bad choices ---------------------------------------------------------------------------
vm_test -t 30 -e 3 bad-gid ibup bench -d "$srv" -x 999 -n 10
assert_match "bad GID says so" "no usable GID" "$(cat "$VM_ERR")"
vm_test -t 30 -e 4 no-such-device ibup bench -d nosuch -n 10
assert_match "no such device" "no RDMA device 'nosuch'" "$(cat "$VM_ERR")"
timeout -k 5 60 ibup bench --server -d nosuch >/dev/null 2>&1 &
spid=$!
assert_true "refusing server listens" wait_listen
vm_test -t 30 -e 3 server-refuses ibup bench -d "$cli" -x 0 -n 10 "$srv_ip"
wait "$spid"
assert_match "client relays the server's reason" "peer: no RDMA device 'nosuch'" "$(cat "$VM_ERR")"
vm_test -t 30 -e 3 nobody-listens ibup bench -d "$cli" -x 0 -n 10 --timeout 2 "$srv_ip"
assert_match "nobody listens" "cannot reach an ibup bench server" "$(cat "$VM_ERR")"
