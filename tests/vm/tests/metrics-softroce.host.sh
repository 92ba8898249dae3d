#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host side of metrics-softroce (run by run-guest.sh after the guest, when the guest
# test passed): the exposition the guest's real devices gave passes promtool.
# Usage: metrics-softroce.host.sh ARTIFACT_DIR IBUP
set -uo pipefail
art=${1:?artifact directory}
prom=$art/metrics/metrics.prom
[ -s "$prom" ] || { echo "FAIL no metrics came from the guest ($prom)"; exit 1; }
command -v promtool >/dev/null || { echo "ok   promtool is not installed here: not checked"; exit 0; }
if out=$(promtool check metrics <"$prom" 2>&1); then
  echo "ok   promtool check metrics: the guest's exposition ($(grep -vc '^#' "$prom") samples)"
else
  echo "FAIL promtool check metrics: $out" | head -n 20
  exit 1
fi
