#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# How long `ibup status --json` and `ibup check --json` take, whole process included
# (exec, dynamic linking, every sysfs read, JSON out): the median and spread of N runs
# on the 8-HCA ND H100 v5 fixture and on a synthetic 64-device root. Goals on the 8-HCA
# fixture: status under 5 ms, check under 10 ms (without the metadata call).
# Not a test: machines are shared and noisy, so it prints figures, never pass/fail.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-200}
ibup=${1:-build/release/ibup}
if [ ! -x "$ibup" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
perf/make-synthetic-root.sh 64 "$tmp/syn64" >/dev/null

/usr/bin/env python3 - "$ibup" "$runs" tests/fixtures/nd-h100-v5 "$tmp/syn64" <<'PY'
import statistics, subprocess, sys, time

ibup, runs, roots = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
cases = [
    ("status --json", ["status", "--json"]),
    ("check --json", ["check", "--json", "--no-state", "--vm-size", "Standard_ND96isr_H100_v5"]),
]
print(f"{runs} runs each (after 10 warm-up runs), wall time per run, whole process")
print(f"{'command':<14} {'root':<28} {'devices':>7} {'median ms':>10} {'p10 ms':>8} {'p90 ms':>8} {'min ms':>8}")
for label, args in cases:
    for root in roots:
        argv = [ibup, "--root", root] + args
        out = subprocess.run([ibup, "--root", root, "status", "--json"], check=True,
                             capture_output=True, text=True).stdout
        ndev = out.count('"kind"')
        for _ in range(10):
            subprocess.run(argv, capture_output=True)
        t = []
        for _ in range(runs):
            t0 = time.perf_counter_ns()
            subprocess.run(argv, capture_output=True)
            t.append((time.perf_counter_ns() - t0) / 1e6)
        t.sort()
        q = statistics.quantiles(t, n=10)
        name = root if len(root) <= 28 else "..." + root[-25:]
        print(f"{label:<14} {name:<28} {ndev:>7} {statistics.median(t):>10.2f} {q[0]:>8.2f} {q[-1]:>8.2f} {t[0]:>8.2f}")
# The floor: the same process start with nothing to read.
argv = [ibup, "--version"]
t = []
for _ in range(runs):
    t0 = time.perf_counter_ns()
    subprocess.run(argv, check=True, capture_output=True)
    t.append((time.perf_counter_ns() - t0) / 1e6)
print(f"{'--version':<14} {'(start-up floor)':<28} {'':>7} {statistics.median(t):>10.2f}")
PY
