#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup bench` without RDMA hardware: the command line (usage errors are exit 2 with one
# line), a host without InfiniBand or RoCE (exit 4, and a JSON document that follows
# docs/bench.schema.json), and the server's side of the TCP exchange against clients
# that are not ibup, that hang up, or that go silent (exit 3 with the reason, within
# --timeout, never a hang). The RDMA runs themselves are the Soft-RoCE tier's
# (tests/vm/tests/bench-softroce.sh). Needs python3 with jsonschema, and ss (iproute2).
set -uo pipefail

ibup=${1:?usage: test-bench.sh IBUP SOURCE_DIR}
src=${2:?usage: test-bench.sh IBUP SOURCE_DIR}
tmp=$(mktemp -d)
trap 'jobs -p | xargs -r kill 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# usage ARGS...: exit 2, one error line and the "Try" line, nothing on stdout.
usage() {
  local rc=0
  "$ibup" bench "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" = 2 ] || fail "ibup bench $*: exit $rc, expected 2"
  [ "$(wc -l <"$tmp/err")" = 2 ] || fail "ibup bench $*: stderr is not one error and the Try line: $(cat "$tmp/err")"
  grep -q "^Try 'ibup bench --help'\.$" "$tmp/err" || fail "ibup bench $*: no Try line"
  [ ! -s "$tmp/out" ] || fail "ibup bench $*: wrote to stdout"
}
usage -t nosuch
usage -s 0
usage -s 9M
usage -s 12Q
usage -s 64K -a
usage -n 0
usage -n 10 -D 1
usage -q 65
usage -q 2 -t write_lat
usage --depth 0
usage -t write_lat -s 1
usage --expect-gbps 10 -t send_lat
usage --expect-usec 10 -t read_bw
usage --expect-gbps -1
usage --server somehost
usage --server --to mlx5_1
usage --to mlx5_1 somehost
usage --bind 127.0.0.1
usage --server --expect-gbps 1
usage -p 70000
usage --timeout 0
usage --qp-timeout 0
usage --qp-timeout 32
usage host1 host2
usage --nosuch
usage --root /tmp

# Help names every test and the units.
"$ibup" bench --help >"$tmp/help" || fail "bench --help failed"
for w in write_bw read_bw send_bw write_lat send_lat 'Gb/s is 10^9 bit/s'; do
  grep -q -- "$w" "$tmp/help" || fail "bench --help lacks '$w'"
done

# Sizes take binary suffixes: 8M is the largest, accepted (then no device here: 3 or 4).
rc=0
"$ibup" bench -s 8M -n 1 >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" = 2 ] && fail "-s 8M rejected: $(cat "$tmp/err")"

# This host has no InfiniBand or RoCE device with an active port: exit 4, one line.
if [ -z "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
  rc=0
  "$ibup" bench >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" = 4 ] || fail "bench with no device: exit $rc, expected 4"
  [ "$(cat "$tmp/err")" = "ibup: bench: no InfiniBand or RoCE device with an active port" ] ||
    fail "bench with no device: stderr '$(cat "$tmp/err")'"
  rc=0
  "$ibup" bench --json -t send_lat >"$tmp/doc.json" 2>/dev/null || rc=$?
  [ "$rc" = 4 ] || fail "bench --json with no device: exit $rc"
  python3 "$src/tests/cli/validate-json.py" "$src/docs/bench.schema.json" "$tmp/doc.json" ||
    fail "bench --json does not follow docs/bench.schema.json"
  grep -q '"error": "no InfiniBand or RoCE device with an active port"' "$tmp/doc.json" ||
    fail "bench --json lacks the error: $(cat "$tmp/doc.json")"
  rc=0
  "$ibup" bench -d mlx5_9 >/dev/null 2>"$tmp/err" || rc=$?
  if [ "$rc" != 4 ] || ! grep -q "no RDMA device 'mlx5_9'" "$tmp/err"; then
    fail "bench -d mlx5_9: exit $rc, $(cat "$tmp/err")"
  fi
fi

# A free TCP port for the server tests.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

# nobody listening: exit 3, named.
rc=0
"$ibup" bench -p "$port" --timeout 2 127.0.0.1 >/dev/null 2>"$tmp/err" || rc=$?
if [ -z "$(ls /sys/class/infiniband 2>/dev/null)" ]; then
  if [ "$rc" != 3 ] || ! grep -q "cannot reach an ibup bench server at 127.0.0.1 port $port" "$tmp/err"; then
    fail "client with no server: exit $rc, $(cat "$tmp/err")"
  fi
fi

# serve ARGS: start `ibup bench --server` on $port in the background; wait until it listens.
serve() {
  "$ibup" bench --server --bind 127.0.0.1 -p "$port" "$@" >"$tmp/srv.out" 2>"$tmp/srv.err" &
  spid=$!
  for _ in $(seq 1 100); do
    [ -n "$(ss -ltnH "sport = :$port" 2>/dev/null)" ] && return
    sleep 0.05
  done
  fail "the server does not listen on $port"
}
# expect_server RC PATTERN SECONDS: the server ended with RC and PATTERN on stderr in time.
expect_server() {
  local want=$1 pattern=$2 limit=$3 rc=0 waited=0
  while kill -0 "$spid" 2>/dev/null && [ "$waited" -lt $((limit * 10)) ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  if kill -0 "$spid" 2>/dev/null; then
    kill "$spid"
    fail "server still running after ${limit}s ($pattern)"
    return
  fi
  wait "$spid" || rc=$?
  [ "$rc" = "$want" ] || fail "server: exit $rc, expected $want ($(cat "$tmp/srv.err"))"
  grep -Eq -- "$pattern" "$tmp/srv.err" || fail "server stderr lacks /$pattern/: $(cat "$tmp/srv.err")"
}
# client PYTHON-BODY: a TCP client (socket s connected to the server).
client() {
  python3 -c "import socket, time
s = socket.create_connection(('127.0.0.1', $port), 2)
$1"
}

# A client that connects and hangs up at once.
serve
client 's.close()'
expect_server 3 "reading the client's request: the client closed the connection" 5

# A client that is not ibup: perftest's key messages.
serve
client 's.sendall(b"0000:0000:000000:000000:00000000:0000000000000000:00000000\0" * 8); time.sleep(1)'
expect_server 3 "the client is not ibup bench" 5

# A client that connects and says nothing: the server gives up after --timeout.
serve --timeout 2
start=$SECONDS
client 'time.sleep(6)' &
expect_server 3 "reading the client's request: it sent nothing for the timeout" 5
[ $((SECONDS - start)) -le 5 ] || fail "silent client: the server waited $((SECONDS - start)) s"
wait

# A client asking for a test id this ibup does not know (999): the server says so,
# and --json still prints its document, with "test": null.
serve --json
client 'import struct
p = struct.pack(">8s8Ii2I4xQQ24Q", b"IBUPBNCH", 1, 999, 1, 128, 1, 1, 0, 1, 0, 0, 0, 1000, 0,
                65536, *([0] * 23))
s.sendall(p + bytes(4096)); time.sleep(1)'
expect_server 3 "unknown test|impossible test" 5
python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(d["test"] is not None)' \
  "$tmp/srv.out" || fail "server --json with test 999: no document with test null: $(head -c 300 "$tmp/srv.out")"

if [ "$failures" -gt 0 ]; then
  echo "$failures failures" >&2
  exit 1
fi
echo "bench command line and exchange: all passed"
