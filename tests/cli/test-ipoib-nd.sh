#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A Network Direct size (retired, not SR-IOV): NdDriverVersion in KVP pool 0, the address
# in SharedConfig.xml. apply gives the driver its line through /dev/hvnd_rdma and sets
# the ofa-v2-ib0 address in the first dat.conf that exists, changing only that line.
set -uo pipefail
ibup=${1:?usage: test-ipoib-nd.sh IBUP FIXTURE}
fixture=${2:?}
# shellcheck source-path=SCRIPTDIR source=lib-root.sh
. "$(dirname "$0")/lib-root.sh"
writable_root "$fixture"
python3 - "$root/var/lib/hyperv/.kvp_pool_0" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"NdDriverVersion".ljust(512, b"\0") + b"142.0".ljust(2048, b"\0"))
PY
mkdir -p "$root/dev" "$root/etc/rdma"
: >"$root/dev/hvnd_rdma"    # a regular file stands in for the character device
cat >"$root/etc/rdma/dat.conf" <<'CONF'
# DAT v2.0, v1.2 configuration file
ofa-v2-mlx4_0-1 u2.0 nonthreadsafe default libdaplofa.so.2 dapl.2.0 "mlx4_0 1" ""
ofa-v2-ib0 u2.0 nonthreadsafe default libdaplofa.so.2 dapl.2.0 "ib0 0" ""
ofa-v2-ib1 u2.0 nonthreadsafe default libdaplofa.so.2 dapl.2.0 "ib1 0" ""
CONF
cp "$root/etc/rdma/dat.conf" "$tmp/dat.orig"
fail=0
rc=0
"$ibup" --root "$root" ipoib apply >"$tmp/out" 2>"$tmp/err" || rc=$?
[ "$rc" = 1 ] || { echo "FAIL: exit $rc (the Ethernet RDMA NIC is not in this kernel: expected 1)"; fail=1; }
grep -q '^Note:      Network Direct VM (NdDriverVersion 142.0)' "$tmp/out" || { echo "FAIL: no ND note"; cat "$tmp/out"; fail=1; }
[ "$(cat "$root/dev/hvnd_rdma")" = 'rdmaMacAddress="00:15:5D:33:FF:5F" rdmaIPv4Address="172.16.1.20"' ] ||
  { echo "FAIL: /dev/hvnd_rdma got '$(cat "$root/dev/hvnd_rdma")'"; fail=1; }
d=$(diff "$tmp/dat.orig" "$root/etc/rdma/dat.conf")
[ "$d" = $'3c3\n< ofa-v2-ib0 u2.0 nonthreadsafe default libdaplofa.so.2 dapl.2.0 "ib0 0" ""\n---\n> ofa-v2-ib0 u2.0 nonthreadsafe default libdaplofa.so.2 dapl.2.0 "172.16.1.20 0" ""' ] ||
  { echo "FAIL: dat.conf diff:"; echo "$d"; fail=1; }
"$ibup" --root "$root" ipoib apply >/dev/null 2>&1
cmp -s "$root/etc/rdma/dat.conf.ibup-orig" "$tmp/dat.orig" || { echo "FAIL: no one-time backup"; fail=1; }
[ "$(grep -c 172.16.1.20 "$root/etc/rdma/dat.conf")" = 1 ] || { echo "FAIL: a second apply is not idempotent"; fail=1; }
[ "$fail" = 0 ] && echo "Network Direct checks passed"
exit "$fail"
