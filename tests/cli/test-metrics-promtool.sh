#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Prometheus' own linter on ibup metrics over every fixture (and with a VM size, which
# adds the per-size checks): `promtool check metrics` parses the text format and checks
# names, HELP and TYPE lines, suffixes and units. Skipped (77) without promtool
# (Debian's prometheus package).
set -uo pipefail
ibup=${1:?usage: test-metrics-promtool.sh IBUP FIXTURES}
fixtures=${2:?}
command -v promtool >/dev/null || { echo "SKIP: promtool is not installed (apt-get install prometheus)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

lint() {
  local what=$1 root=$2 rc=0
  shift 2
  if ! "$ibup" --root "$root" metrics "$@" >"$tmp/out" 2>"$tmp/err"; then
    echo "FAIL $what: ibup metrics failed: $(cat "$tmp/err")"
    fail=1
    return
  fi
  promtool check metrics <"$tmp/out" >"$tmp/lint" 2>&1 || rc=$?
  if [ "$rc" = 0 ] && [ ! -s "$tmp/lint" ]; then
    echo "ok   $what: $(grep -vc '^#' "$tmp/out") samples, $(grep -c '^# TYPE' "$tmp/out") families"
  else
    echo "FAIL $what: promtool check metrics (exit $rc):"
    cat "$tmp/lint"
    fail=1
  fi
}

for dir in "$fixtures"/*/; do
  [ -f "$dir/etc/os-release" ] || continue
  lint "$(basename "$dir")" "$dir"
done
lint "hbv3 --vm-size" "$fixtures/hbv3" --vm-size Standard_HB120rs_v3
lint "ib-down-polling --vm-size" "$fixtures/ib-down-polling" --vm-size Standard_ND96isr_MI300X_v5
exit "$fail"
