#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host side of sweep-mpi (run by run-guest.sh after the guest): the run files the guest's
# sweeps wrote validate against docs/sweep.schema.json, and `ibup sweep --analyze` on
# this host, given the thresholds each run recorded, names the same bad nodes and links
# from them without measuring.
# Usage: sweep-mpi.host.sh ARTIFACT_DIR IBUP
set -uo pipefail
art=${1:?artifact directory}
ibup=${2:?ibup binary}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
schema=$repo/docs/sweep.schema.json
fails=0
for f in healthy.json slow.json path.json srun.json; do
  run=$art/$f/$f
  if ! [ -s "$run" ]; then
    [ "$f" = srun.json ] && continue # only when Slurm came up
    echo "FAIL $f did not come from the guest"
    fails=$((fails + 1))
    continue
  fi
  if [ -f "$schema" ] && python3 -c 'import jsonschema' 2>/dev/null; then
    if out=$(python3 -c 'import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))' "$schema" "$run" 2>&1); then
      echo "ok   $f validates against docs/sweep.schema.json"
    else
      echo "FAIL $f against the schema: $(tail -n 3 <<<"$out")"
      fails=$((fails + 1))
    fi
  fi
  # Re-analysis on the host, when this ibup has `sweep --analyze`, with the thresholds
  # the guest's run used (the file records them).
  mapfile -t thr < <(jq -r '.analysis.thresholds |
    (if .bw_min_gbps != null then "--bw-min", .bw_min_gbps else "--bw-rel", .bw_rel end),
    (if .lat_max_us != null then "--lat-max", .lat_max_us else "--lat-rel", .lat_rel end),
    "--node-frac", .node_frac | tostring' "$run")
  if "$ibup" sweep --analyze "$run" "${thr[@]}" --json >"$art/$f.analyzed" 2>"$art/$f.err"; then rc=0; else rc=$?; fi
  if [ "$rc" = 0 ] || [ "$rc" = 1 ]; then
    want=$(jq -c '[.analysis.bad_nodes[].label, (.analysis.bad_links[] | "\(.label_a)-\(.label_b)")]' "$run")
    got=$(jq -c '[.analysis.bad_nodes[].label, (.analysis.bad_links[] | "\(.label_a)-\(.label_b)")]' "$art/$f.analyzed")
    if [ "$want" = "$got" ]; then
      echo "ok   ibup sweep --analyze $f: $got"
    else
      echo "FAIL ibup sweep --analyze $f: $got, the guest said $want"
      fails=$((fails + 1))
    fi
  else
    echo "ok   this ibup has no sweep --analyze (exit $rc): not re-analysed"
  fi
done
[ "$fails" = 0 ]
