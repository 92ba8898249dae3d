#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ibup metrics --listen against hostile clients: one that connects and sends nothing,
# one that sends half a request, an oversized request, garbage, wrong methods and
# paths, a flood of idle connections, a client that resets. After each, the responder
# must still serve GET /metrics (the same text as stdout) within a bounded time.
set -uo pipefail
ibup=${1:?usage: test-metrics-listen.sh IBUP FIXTURE}
fixture=${2:?}
tmp=$(mktemp -d)
pid=
# shellcheck disable=SC2317 # run by the trap
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
command -v python3 >/dev/null || { echo "SKIP: python3 is needed"; exit 77; }

# start [PREFIX...] -- ARGS...: the responder on a free loopback port, its command
# line prefixed (prlimit); sets $pid and $port.
start() {
  local -a prefix=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do prefix+=("$1"); shift; done
  [ $# -gt 0 ] && shift
  rm -f "$tmp/err"
  "${prefix[@]}" "$ibup" --root "$fixture" metrics --listen 127.0.0.1:0 "$@" 2>"$tmp/err" &
  pid=$!
  port=
  for _ in $(seq 1 100); do
    port=$(sed -n 's/^ibup: serving \/metrics on port \([0-9]*\)$/\1/p' "$tmp/err")
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { echo "FAIL: the responder did not start: $(cat "$tmp/err")"; exit 1; }
}

"$ibup" --root "$fixture" metrics >"$tmp/expected" || { echo "FAIL: metrics"; exit 1; }
start
fail=0
timeout 60 python3 - "$port" "$tmp/expected" <<'PY' || fail=1
import socket, sys, time

port = int(sys.argv[1])
expected = open(sys.argv[2], "rb").read()
failed = False


def check(cond, what):
    global failed
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failed = True


def connect():
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def exchange(data, shut=True):
    """Send @data, read the answer to the end: (status, headers, body, seconds)."""
    t0 = time.monotonic()
    s = connect()
    try:
        s.sendall(data)
    except OSError:
        pass
    if shut:
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    buf = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    except OSError:
        pass
    s.close()
    head, _, body = buf.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        status = None
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode()
    return status, headers, body, time.monotonic() - t0


def scrape_ok(what, limit=3.0):
    status, headers, body, secs = exchange(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check(status == 200 and body == expected and secs < limit and
          headers.get("content-type") == "text/plain; version=0.0.4; charset=utf-8" and
          headers.get("content-length") == str(len(expected)),
          "%s: GET /metrics gives the metrics (%s in %.2f s)" % (what, status, secs))


scrape_ok("first scrape")
status, headers, body, _ = exchange(b"HEAD /metrics HTTP/1.0\r\n\r\n")
check(status == 200 and body == b"" and headers.get("content-length") == str(len(expected)),
      "HEAD /metrics: 200, the length, no body")
status, *_ = exchange(b"GET /metrics?name[]=x HTTP/1.1\r\n\r\n")
check(status == 200, "a query string is ignored (%s)" % status)
for path in (b"/", b"/metric", b"/metrics/x", b"/metricsx", b"/../metrics"):
    status, *_ = exchange(b"GET " + path + b" HTTP/1.1\r\n\r\n")
    check(status == 404, "GET %s: 404 (%s)" % (path.decode(), status))
for method in (b"POST", b"PUT", b"DELETE", b"OPTIONS", b"BREW"):
    status, headers, *_ = exchange(method + b" /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    check(status == 405 and headers.get("allow") == "GET, HEAD",
          "%s /metrics: 405 with Allow (%s)" % (method.decode(), status))
for garbage in (b"\x00\x01\x02\xff\xfe\r\n\r\n", b"GET\r\n\r\n", b"GET /metrics\r\n\r\n",
                b"GET /metrics HTTP/2.0\r\n\r\n", b"GET  /metrics HTTP/1.1\r\n\r\n",
                b"GET metrics HTTP/1.1\r\n\r\n", b"\r\n\r\n",
                bytes(range(256)) * 4 + b"\n\n"):
    status, *_ = exchange(garbage)
    check(status == 400, "garbage %r...: 400 (%s)" % (garbage[:16], status))
scrape_ok("after garbage")

# Oversized: a request line, then headers past 8 KiB; and 64 KiB with no newline at all.
status, *_ = exchange(b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 16384 + b"\r\n\r\n",
                      shut=False)
check(status in (431, None), "an oversized head is refused (%s)" % status)
status, *_ = exchange(b"G" * 65536, shut=False)
check(status in (431, 400, None), "64 KiB without a newline is refused (%s)" % status)
scrape_ok("after oversized requests")

# A client that connects and sends nothing, and one that sends half a request: neither
# holds up the next scrape, and the responder drops them after its read timeout.
idle = connect()
half = connect()
half.sendall(b"GET /metrics HTTP/1.1\r\nHost:")
scrape_ok("while a client sends nothing and another half a request")
t0 = time.monotonic()
idle.settimeout(10)
try:
    dropped = idle.recv(1) == b""
except OSError:
    dropped = True
secs = time.monotonic() - t0
check(dropped and secs < 8, "the silent client is dropped after the read timeout (%.1f s)" % secs)
idle.close()
half.close()

# A client that resets its connection at once.
for _ in range(20):
    s = connect()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.sendall(b"GET /metrics HTTP/1.1\r\n\r\n")
    s.close()
scrape_ok("after 20 clients that reset")

# A flood: 200 idle connections at once; the oldest are dropped to make room.
flood = [connect() for _ in range(200)]
scrape_ok("with 200 idle connections open")
for s in flood:
    s.close()
# Many scrapes in a row.
t0 = time.monotonic()
for _ in range(50):
    status, _, body, _ = exchange(b"GET /metrics HTTP/1.0\r\n\r\n")
    if status != 200 or body != expected:
        break
check(status == 200 and body == expected, "50 scrapes in a row (%.2f s)" % (time.monotonic() - t0))
sys.exit(1 if failed else 0)
PY
if ! kill -0 "$pid" 2>/dev/null; then
  echo "FAIL: the responder died: $(cat "$tmp/err")"
  fail=1
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
if grep -v '^ibup: serving /metrics on port' "$tmp/err"; then
  echo "FAIL: unexpected diagnostics above"
  fail=1
fi

# --max-scrapes: the responder ends by itself, exit 0.
start -- --max-scrapes 2
for _ in 1 2; do
  timeout 10 python3 -c 'import socket,sys; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n"); [None for _ in iter(lambda: s.recv(65536), b"")]' "$port"
done
rc=0
timeout 10 tail --pid="$pid" -f /dev/null || rc=$?
wait "$pid" 2>/dev/null || rc=$?
pid=
if [ "$rc" = 0 ]; then
  echo "ok   --max-scrapes 2 ends after two answers, exit 0"
else
  echo "FAIL: --max-scrapes: exit $rc"
  fail=1
fi

# Out of file descriptors (RLIMIT_NOFILE 20, 60 clients): no busy loop, and the
# responder serves again once the flood is gone.
start prlimit --nofile=20 --
timeout 30 python3 - "$port" "$tmp/expected" <<'PY' || fail=1
import socket, sys, time
port = int(sys.argv[1])
expected = open(sys.argv[2], "rb").read()
flood = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
time.sleep(1)
for s in flood:
    s.close()
time.sleep(0.2)
t0 = time.monotonic()
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
buf = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
ok = buf.startswith(b"HTTP/1.1 200 OK") and buf.endswith(expected)
print(("ok   " if ok else "FAIL ") +
      "out of descriptors: serves again after the flood (%.2f s)" % (time.monotonic() - t0))
sys.exit(0 if ok else 1)
PY
cpu=$(ps -o cputimes= -p "$pid" 2>/dev/null | tr -d ' ')
if [ -n "$cpu" ] && [ "$cpu" -le 1 ]; then
  echo "ok   out of descriptors: no busy loop (${cpu} s of CPU)"
else
  echo "FAIL: out of descriptors: ${cpu:-?} s of CPU, or the responder died: $(cat "$tmp/err")"
  fail=1
fi
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=

# Another process on the same port: a clear failure, exit 3.
start
rc=0
timeout 10 "$ibup" --root "$fixture" metrics --listen "127.0.0.1:$port" 2>"$tmp/err2" || rc=$?
if [ "$rc" = 3 ] && grep -q "cannot listen on '127.0.0.1:$port': Address already in use" "$tmp/err2"; then
  echo "ok   a port in use is exit 3 with one line"
else
  echo "FAIL: port in use: rc $rc, $(cat "$tmp/err2")"
  fail=1
fi
exit "$fail"
