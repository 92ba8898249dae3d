#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Bad platform data for `ibup ipoib`: a truncated or oversized KVP pool, IPoIB_Data
# that lies about its count or carries a bad MAC or address, non-text bytes, and a
# malformed SharedConfig.xml. Each gives one clear line and exit 3, never a crash.
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
        f.write(k.encode().ljust(512, b"\0") + v.encode("latin-1").ljust(2048, b"\0"))
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

pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9'
head -c 2000 "$pool" >"$tmp/cut" && cp "$tmp/cut" "$pool"
expect truncated-pool '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, record 1: '
pool 'IPoIB_Data=NUMPAIRS:2|00155D33FF56:172.16.1.9'
expect count-mismatch '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column [0-9]+: '
pool 'IPoIB_Data=00155D33FF56:172.16.1.9'
expect no-numpairs '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column 1: '
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF5:172.16.1.9'
expect bad-mac '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column [0-9]+: '
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.256'
expect bad-ipv4 '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, IPoIB_Data column [0-9]+: '
pool $'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9\x01'
expect non-text '^ibup: bad IPoIB data from the platform: /var/lib/hyperv/.kvp_pool_0, record 1: '
rm -f "$pool"
mkdir -p "$root/var/lib/waagent"
printf '<SharedConfig>\n<Instances><Instance rdmaMacAddress="00155D33FF56"' >"$root/var/lib/waagent/SharedConfig.xml"
expect bad-sharedconfig '^ibup: bad IPoIB data from the platform: /var/lib/waagent/SharedConfig.xml, line 2: '
# Repeated keys: the last record is the one hv_kvp_daemon wrote last.
rm -f "$root/var/lib/waagent/SharedConfig.xml"
pool 'IPoIB_Data=NUMPAIRS:1|00155D33FF00:172.16.9.9' 'IPoIB_Data=NUMPAIRS:1|00155D33FF56:172.16.1.9'
"$ibup" --root "$root" ipoib show >"$tmp/out" 2>&1
if ! grep -q '^00:15:5d:33:ff:56  172.16.1.9 ' "$tmp/out"; then
  echo "FAIL repeated-key: $(cat "$tmp/out")"
  fail=1
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
