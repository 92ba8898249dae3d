#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad platform data for `ibup ipoib`: IPoIB_Data that lies about its count or carries
# a bad MAC or address (or one no interface may have, or one address twice), non-text
# bytes, and a malformed SharedConfig.xml. Each gives one clear line and exit 3, never
# a crash. Odd unrelated KVP records and a cut last record are read past, as the agent
# reads them.
set -uo pipefail
ibup=${1:?usage: test-ipoib-input.sh IBUP FIXTURE}
fixture=${2:?}
# shellcheck source-path=SCRIPTDIR source=lib-root.sh
. "$(dirname "$0")/lib-root.sh"
writable_root "$fixture"
pool=$root/var/lib/hyperv/.kvp_pool_0
fail=0

# pool KEY=VALUE...: write whole 512+2048-byte records.
pool() {
  python3 - "$pool" "$@" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for kv in sys.argv[2:]:
        k, v = kv.split("=", 1)
        k, v = (x.encode("utf-8", "surrogateescape") for x in (k, v))
        f.write(k.ljust(512, b"\0") + v.ljust(2048, b"\0"))
PY
}

# expect NAME PATTERN: `ipoib show` exits 3 with exactly one stderr line matching.
expect() {
  local rc=0
  "$ibup" --root "$root" ipoib show >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" != 3 ] || [ "$(wc -l <"$tmp/err")" != 1 ] || ! grep -Eq "$2" "$tmp/err"; then
    echo "FAIL $1: exit $rc, stderr:"; sed 's/^/  /' "$tmp/err"; fail=1
  else
    echo "ok   $1: $(cat "$tmp/err")"
  fi
}

# show NAME PATTERN: `ipoib show` exits 0, stderr empty, stdout matching PATTERN.
show() {
  local rc=0
  "$ibup" --root "$root" ipoib show >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" != 0 ] || [ -s "$tmp/err" ] || ! grep -Eq "$2" "$tmp/out"; then
    echo "FAIL $1: exit $rc:"; sed 's/^/  /' "$tmp/out" "$tmp/err"; fail=1
  else
    echo "ok   $1"
  fi
}

# The pool is read as the agent reads it: an odd unrelated record (not ASCII, a
# tab, CR/LF, an empty key) costs nothing, nor does a last record cut short.
pool $'HostName=h\xe9\tst\r\n' $'K\x01ey=v' '=orphan' 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9'
show odd-records '^00:15:5d:33:ff:56  172.16.1.9 '
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9' 'HostName=hpc-vm'
head -c $((2560 + 600)) "$pool" >"$tmp/cut" && cp "$tmp/cut" "$pool"
show trailing-partial-record '^00:15:5d:33:ff:56  172.16.1.9 '
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9'
head -c 2000 "$pool" >"$tmp/cut" && cp "$tmp/cut" "$pool"
show cut-in-value '^00:15:5d:33:ff:56  172.16.1.9 '
# Addresses no interface may have, and one address for two ports.
for a in 0.0.0.0 255.255.255.255 127.0.0.1; do
  pool "IPoIB_Data=NUMPAIRS:1|00155D33FF56:$a"
  expect "address-$a" "^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column 25: $a is (not a host|a loopback) address\$"
done
pool 'IPoIB_Data=NUMPAIRS:2|00155D33FF56:172.16.1.9|00155D33FF57:172.16.1.9'
expect same-address-twice 'IPoIB_Data column 49: address 172.16.1.9 given to two MAC addresses$'
pool 'IPoIB_Data=NUMPAIRS:2|00155D33FF56:172.16.1.9'
expect count-mismatch '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column [0-9]+: '
pool 'IPoIB_Data=00155D33FF56:172.16.1.9'
expect no-numpairs '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column 1: '
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF5:172.16.1.9'
expect bad-mac '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column [0-9]+: '
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.256'
expect bad-ipv4 '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column [0-9]+: '
pool $'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9\x01'
expect non-text '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column 25: '
rm -f "$pool"
mkdir -p "$root/var/lib/waagent"
printf '<SharedConfig>\n<Instances><Instance rdmaMacAddress="00155D33FF56"' >"$root/var/lib/waagent/SharedConfig.xml"
expect bad-sharedconfig '^ibup: bad IPoIB data from the platform: /var/lib/waagent/SharedConfig.xml, line 2: '
# Repeated keys: the agent takes the first record (hv_kvp_daemon updates in place).
rm -f "$root/var/lib/waagent/SharedConfig.xml"
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9' 'IPoIB_Data=NUMPAIRS:1|00155D33FF00:172.16.9.9'
"$ibup" --root "$root" ipoib show >"$tmp/out" 2>&1
if ! grep -q '^00:15:5d:33:ff:56  172.16.1.9 ' "$tmp/out"; then
  echo "FAIL repeated-key: $(cat "$tmp/out")"
  fail=1
fi
# A pool that stays locked: the file and the holder are named, not just "busy". The
# holder's /proc/PID/comm is read under the root, so the fixture names it.
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9'
python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "r+b")
fcntl.lockf(f, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(15)' "$pool" >"$tmp/lock" &
lpid=$!
for _ in $(seq 1 50); do [ -s "$tmp/lock" ] && break; sleep 0.1; done
mkdir -p "$root/proc/$lpid"
echo hv_kvp_daemon >"$root/proc/$lpid/comm"
rc=0
"$ibup" --root "$root" ipoib show >"$tmp/out" 2>"$tmp/err" || rc=$?
kill "$lpid" 2>/dev/null
wait "$lpid" 2>/dev/null
if [ "$rc" != 3 ] ||
  ! grep -q "^ibup: warning: '/var/lib/hyperv/.kvp_pool_0' stayed locked for more than 5 s by hv_kvp_daemon (pid $lpid;" "$tmp/err"; then
  echo "FAIL locked-pool: exit $rc:"; sed 's/^/  /' "$tmp/err"; fail=1
else
  echo "ok   locked-pool: $(head -n 1 "$tmp/err")"
fi

# The Ethernet back end: the same key, interfaces matched by their plain MAC; the
# Accelerated Networking VF that shares eth0's MAC is enslaved to it and never chosen.
pool 'IPoIB_Data=NUMPAIRS:2|000D3A740185:172.16.3.4|00155D33FF56:172.16.1.9'
"$ibup" --root "$root" ipoib show >"$tmp/out" 2>&1
if ! grep -q '^00:0d:3a:74:01:85  172.16.3.4 *eth0 ' "$tmp/out" ||
  ! grep -q '^00:15:5d:33:ff:56  172.16.1.9 *ib0 ' "$tmp/out"; then
  echo "FAIL plain-mac: $(cat "$tmp/out")"
  fail=1
fi
exit "$fail"
