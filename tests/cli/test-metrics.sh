#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ibup metrics beyond the golden files: the textfile written whole (never half), usage
# errors, an HCA temperature from hwmon, hostile label values escaped, and the VM size
# cached in the state directory so that a scrape does not ask the metadata service.
set -uo pipefail
ibup=${1:?usage: test-metrics.sh IBUP FAKE-IMDS FIXTURE}
fake=${2:?}
fixture=${3:?}
# shellcheck source-path=SCRIPTDIR source=lib-root.sh
. "$(dirname "$0")/lib-root.sh"
writable_root "$fixture"
pid=
# shellcheck disable=SC2317 # run by the trap
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

# The textfile: the same text as stdout, under its name, and nothing else left behind.
mkdir "$tmp/textfile"
"$ibup" --root "$root" metrics >"$tmp/stdout" || bad "metrics to stdout"
if "$ibup" --root "$root" metrics --textfile "$tmp/textfile" >"$tmp/out" 2>"$tmp/err" &&
  [ ! -s "$tmp/out" ] && [ ! -s "$tmp/err" ] && cmp -s "$tmp/stdout" "$tmp/textfile/ibup.prom" &&
  [ "$(ls -A "$tmp/textfile")" = ibup.prom ]; then
  ok "--textfile writes DIR/ibup.prom, the text of stdout, and nothing else"
else
  bad "--textfile: $(ls -A "$tmp/textfile") $(cat "$tmp/err")"
fi
# Replaced, not appended to; its mode kept.
chmod 0640 "$tmp/textfile/ibup.prom"
echo "stale" >>"$tmp/textfile/ibup.prom"
"$ibup" --root "$root" metrics --textfile "$tmp/textfile" || bad "second --textfile"
if cmp -s "$tmp/stdout" "$tmp/textfile/ibup.prom" &&
  [ "$(stat -c %a "$tmp/textfile/ibup.prom")" = 640 ]; then
  ok "--textfile replaces the file whole and keeps its mode"
else
  bad "--textfile did not replace the file"
fi
rc=0
"$ibup" --root "$root" metrics --textfile "$tmp/missing" 2>"$tmp/err" || rc=$?
if [ "$rc" = 3 ] && grep -q "cannot open the textfile directory '$tmp/missing'" "$tmp/err"; then
  ok "a missing textfile directory is exit 3 with one line"
else
  bad "missing textfile directory: rc $rc, $(cat "$tmp/err")"
fi

# Usage errors: exit 2, one line and the hint.
usage_case() {
  local rc=0
  "$ibup" --root "$root" metrics "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  if [ "$rc" = 2 ] && [ ! -s "$tmp/out" ] && tail -n 1 "$tmp/err" | grep -q "Try 'ibup metrics --help'"; then
    ok "usage error: $*"
  else
    bad "usage error expected for '$*': rc $rc, $(cat "$tmp/err")"
  fi
}
usage_case --json
usage_case --textfile "$tmp/textfile" --listen 9999
usage_case --listen 127.0.0.1
usage_case --listen localhost:9100
usage_case --listen 127.0.0.1:99999
usage_case --listen '[::1:9100'
usage_case --max-scrapes 1
usage_case --listen 0 --max-scrapes 0
usage_case extra
if "$ibup" metrics --help | grep -q "See ibup-metrics(8)." &&
  "$ibup" --help | grep -q "^  metrics "; then
  ok "--help, and the command in ibup's list"
else
  bad "help"
fi

# An HCA temperature from hwmon under the PCI device; a hostile label escaped.
hwmon=$(find "$root/sys/devices" -type d -name '0101:00:00.0' | head -n 1)/hwmon/hwmon3
mkdir -p "$hwmon"
echo 47500 >"$hwmon/temp1_input"
printf 'asic "main"\\\n' >"$hwmon/temp1_label"
echo 51000 >"$hwmon/temp2_input"
echo garbage >"$hwmon/temp3_input"
"$ibup" --root "$root" metrics >"$tmp/out" 2>"$tmp/err" || bad "metrics with hwmon"
want='ibup_device_temperature_celsius{device="mlx5_ib0",kind="infiniband",sensor="asic \"main\"\\"} 47.5
ibup_device_temperature_celsius{device="mlx5_ib0",kind="infiniband",sensor="temp2"} 51'
if [ "$(grep '^ibup_device_temperature_celsius' "$tmp/out")" = "$want" ]; then
  ok "hwmon temperatures, in degrees Celsius, label escaped; garbage skipped"
else
  bad "temperatures: $(grep temperature "$tmp/out")"
fi
if command -v promtool >/dev/null; then
  promtool check metrics <"$tmp/out" || bad "promtool on the hwmon output"
fi
rm -rf "${hwmon%/hwmon3}"

# Hostile values: quotes, backslashes and control bytes in labels, a counter at 2^64-1
# (bytes overflow 64 bits), a counter that is not a number, a counter file named with a
# quote. The text still parses, and nothing raw reaches it.
ib=$root/sys/class/infiniband/mlx5_ib0
printf 'fw"1\\2\033[31m\n' >"$ib/fw_ver"
echo 18446744073709551615 >"$ib/ports/1/counters/port_rcv_data"
echo "N/A (no PMA)" >"$ib/ports/1/counters/symbol_error"
echo 7 >"$ib/ports/1/hw_counters/we\"ird"
echo 8 >"$ib/ports/1/hw_counters/$(printf 'bad\377utf8')"
"$ibup" --root "$root" metrics >"$tmp/out" 2>"$tmp/err" || bad "metrics on hostile values"
if grep -qF 'fw_ver="fw\"1\\2?[31m"' "$tmp/out" &&
  grep -qF 'ibup_port_receive_bytes_total{device="mlx5_ib0",port="1",kind="infiniband"} 7.3786976294838206e+19' "$tmp/out" &&
  ! grep -q 'ibup_port_symbol_errors_total{device="mlx5_ib0"' "$tmp/out" &&
  grep -qF 'counter="we\"ird"} 7' "$tmp/out" &&
  grep -qF 'counter="bad?utf8"} 8' "$tmp/out" &&
  ! LC_ALL=C grep -aqP '[\x00-\x08\x0b-\x1f\x7f]' "$tmp/out"; then
  ok "hostile label values escaped, a 2^64-1 counter in bytes, garbage left out"
else
  bad "hostile values: $(grep -E 'fw_ver|receive_bytes|we' "$tmp/out")"
fi
if command -v promtool >/dev/null; then
  promtool check metrics <"$tmp/out" || bad "promtool on the hostile output"
fi

# The VM size: asked once, then taken from var/lib/ibup/vm-size while fresh.
f="$tmp/port"
"$fake" ok >"$f" &
pid=$!
for _ in $(seq 1 50); do [ -s "$f" ] && break; sleep 0.1; done
port=$(head -n 1 "$f")
"$ibup" --root "$root" metrics --metadata-url "http://127.0.0.1:$port" >"$tmp/out" 2>"$tmp/err" ||
  bad "metrics with the metadata service"
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
pid=
if grep -q '^ibup_node_info{vm_size="Standard_HB120rs_v3",family="HBv3"' "$tmp/out" &&
  grep -Eq '^[0-9]+ Standard_HB120rs_v3$' "$root/var/lib/ibup/vm-size"; then
  ok "the metadata service's answer is used and cached"
else
  bad "vm size from the service: $(grep node_info "$tmp/out") $(cat "$tmp/err")"
fi
# The service is gone now: the cache answers, and nothing is asked (no warning).
"$ibup" --root "$root" metrics --metadata-url "http://127.0.0.1:$port" >"$tmp/out" 2>"$tmp/err" ||
  bad "metrics from the cache"
if grep -q '^ibup_node_info{vm_size="Standard_HB120rs_v3"' "$tmp/out" && [ ! -s "$tmp/err" ]; then
  ok "a fresh cache answers without the service"
else
  bad "cache: $(grep node_info "$tmp/out") $(cat "$tmp/err")"
fi
# A stale entry is not trusted: the service is asked (and, gone, the size is unknown).
echo "1000 Standard_HB120rs_v3" >"$root/var/lib/ibup/vm-size"
"$ibup" --root "$root" metrics --metadata-url "http://127.0.0.1:$port" >"$tmp/out" 2>"$tmp/err" ||
  bad "metrics with a stale cache"
if grep -q '^ibup_node_info{vm_size=""' "$tmp/out" && grep -q "VM size unknown" "$tmp/err"; then
  ok "a stale cache is not trusted"
else
  bad "stale cache: $(grep node_info "$tmp/out") $(cat "$tmp/err")"
fi
# --vm-size wins and asks nothing.
"$ibup" --root "$root" metrics --vm-size Standard_HC44rs --metadata-url "http://127.0.0.1:$port" \
  >"$tmp/out" 2>"$tmp/err" || bad "metrics --vm-size"
if grep -q '^ibup_node_info{vm_size="Standard_HC44rs",family="HC"' "$tmp/out" && [ ! -s "$tmp/err" ]; then
  ok "--vm-size is taken as given"
else
  bad "--vm-size: $(grep node_info "$tmp/out") $(cat "$tmp/err")"
fi
# The scrape never touches check's counter baseline.
if [ ! -e "$root/var/lib/ibup/counters.json" ]; then
  ok "no counter baseline written"
else
  bad "a scrape wrote check's counter baseline"
fi
exit "$fail"
