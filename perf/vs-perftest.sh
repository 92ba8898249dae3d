#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup bench` against perftest on the Soft-RoCE tier: both tools run in the QEMU guest
# of tests/vm (real rdma_rxe devices on veth pairs), between the same two devices
# (client rxe1, server rxe0, GID index 0), with the same message sizes and iteration
# counts, alternately, R times each (the order flips every repetition). It prints,
# per test and size, the median of each tool, their ratio, each tool's min-max over
# the R runs, the median and min-max of the R paired ratios (each repetition's two
# runs were back to back, so a change in the host's load moves both), and how often
# each tool's requester had to resend (the client rxe device's completer_retry_err,
# and the server's duplicate_request, summed over the R runs):
#   bandwidth (write_bw, read_bw, send_bw): average Gb/s (10^9 bit/s); ibup's
#     bw_avg_gbps against perftest's "BW average" (MiB/s x 2^20 x 8 / 1e9, or MsgRate x
#     size where that figure is the more precise one); ratio ibup/perftest;
#   latency (write_lat, send_lat): one-way microseconds; ibup's lat_median_us against
#     perftest's t_typical (also a median), ratio perftest/ibup, and ibup's p99 beside
#     perftest's 99% percentile.
# Every ratio is oriented so that > 1 means ibup did better.
#
# Soft-RoCE is the kernel's software RoCE, and the guest runs under TCG (CPU
# emulation, no KVM): absolute figures are far below real hardware (tens of MB/s,
# tens of microseconds) and depend on the host's load. Read the ratios, not the
# figures; the spread columns show how much the load moved them. perftest uses its
# defaults otherwise (tx depth 128, CQ moderation 100, no inline on rxe), ibup its own
# (depth 128, CQ moderation 32, inline up to 236 bytes): the defaults are compared.
# Each perftest process is pinned to one vCPU (server 0, client 1): perftest times with
# rdtsc and the guest's TSCs are not synchronized across vCPUs (unpinned, it sometimes
# prints 0.00 MB/sec). ibup is not pinned from outside: it times with clock_gettime and
# pins its own two threads, one CPU each (client first, server second).
# Not a test: it fails (exit 1, one line) only when a tool fails or prints no figure.
# The guest half is perf/vs-perftest.guest.sh.
set -euo pipefail
{

PROG=${0##*/}
cd "$(dirname "$0")/.."

usage() {
  cat <<EOF
Usage: perf/$PROG [--ibup PATH] [--reps N] [--quick | --only TEST[:SIZES]]... [--qp-timeout N] [--out FILE] [-v]

Compare \`ibup bench\` with perftest in the Soft-RoCE guest (tests/vm) and print a
Markdown table (Gb/s and microseconds; ratios > 1 mean ibup did better).

  --ibup PATH   the ibup binary (default build/release/ibup, built when missing)
  --reps N      runs of each tool per row, alternating (default 5)
  --quick       fewer rows: bandwidth 64 B and 64 KiB, read_bw also 1 KiB and
                4 KiB, latency 2 B and 1 KiB
  --only TEST[:SIZES]
                only these rows: TEST is write_bw, read_bw, send_bw, write_lat or
                send_lat; SIZES a comma-separated list of bytes, K and M allowed
                (default: the full run's sizes of that test); repeatable, e.g.
                --only read_bw:1K,4K,64K
  --qp-timeout N both tools' RC ACK timeout, 4.096 us x 2^N (ibup --qp-timeout, perftest
                -u; default: each tool's own, 14 for both)
  --out FILE    also write the table (Markdown) to FILE
  --log FILE    keep the guest console in FILE (default: kept only on failure)
  -v            copy the guest console to stderr while it runs
  -h, --help    show this help

Full run: bandwidth sizes 2, 64, 1024, 4096, 65536, 1048576 bytes (iterations:
64 MiB worth, at least 200, at most 20000 messages), latency sizes 2, 64, 1024, 4096
(5000 round trips); about 15 minutes under TCG with --reps 5 on an idle host.
EOF
}

die() {
  printf '%s: error: %s\n' "$PROG" "$1" >&2
  exit "${2:-1}"
}

ibup=build/release/ibup
reps=5
quick=0
only=()
out=''
log=''
qp_timeout=''
verbose=()
need() { [ $# -ge 2 ] || die "$1 needs a value" 2; }
while [ $# -gt 0 ]; do
  case $1 in
  --ibup) need "$@"; ibup=$2; shift 2 ;;
  --reps) need "$@"; reps=$2; shift 2 ;;
  --quick) quick=1; shift ;;
  --only) need "$@"; only+=("$2"); shift 2 ;;
  --out) need "$@"; out=$2; shift 2 ;;
  --qp-timeout) need "$@"; qp_timeout=$2; shift 2 ;;
  --log) need "$@"; log=$2; shift 2 ;;
  -v | --verbose) verbose=(-v); shift ;;
  -h | --help) usage; exit 0 ;;
  *) printf '%s: unknown argument %s\n' "$PROG" "$1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $reps =~ ^[1-9][0-9]*$ ]] || die "--reps wants a positive number, got '$reps'" 2
[ -z "$qp_timeout" ] || { [[ $qp_timeout =~ ^[0-9]+$ ]] && [ "$qp_timeout" -ge 1 ] && [ "$qp_timeout" -le 31 ]; } ||
  die "--qp-timeout wants 1 to 31, got '$qp_timeout'" 2
[ "$quick" = 0 ] || [ ${#only[@]} = 0 ] || die "--quick and --only do not go together" 2

# ---------------------------------------------------------------------------------
# The plan: one entry per row, "TEST SIZE ITERS STEP-TIMEOUT".

# size_bytes TEXT: bytes, with a K or M suffix; empty when it is not a size.
size_bytes() {
  case $1 in
  [1-9]*[Kk]) [[ ${1%?} =~ ^[0-9]+$ ]] && echo $((${1%?} * 1024)) ;;
  [1-9]*[Mm]) [[ ${1%?} =~ ^[0-9]+$ ]] && echo $((${1%?} * 1048576)) ;;
  [1-9]*) [[ $1 =~ ^[0-9]+$ ]] && echo "$1" ;;
  esac
}

full_bw_sizes=(2 64 1024 4096 65536 1048576)
full_lat_sizes=(2 64 1024 4096)
lat_iters=5000 # about half a second of round trips; p99 is then 50 samples
plan=()
budget=0 # the guest's limit: every step's timeout, plus the perftest server start

# add_row TEST SIZE
add_row() {
  local test=$1 size=$2 iters t
  if [[ $test == *_bw ]]; then
    # 64 MiB of data (over a second at Soft-RoCE's 30-70 MB/s), 200 to 20000
    # messages (small messages go at 10-25 thousand a second: about a second).
    iters=$(((64 * 1048576 + size - 1) / size))
    ((iters >= 200)) || iters=200
    ((iters <= 20000)) || iters=20000
    # 30 s, plus the data at 1 MiB/s and the messages at 1000/s (a 20th of TCG's pace).
    t=$((30 + size * iters / 1048576 + iters / 1000))
  else
    iters=$lat_iters
    t=30
  fi
  plan+=("$test $size $iters $t")
  budget=$((budget + reps * (2 * t + 25)))
}

if [ ${#only[@]} -gt 0 ]; then
  for spec in "${only[@]}"; do
    test=${spec%%:*}
    case $test in
    write_bw | read_bw | send_bw) sizes=("${full_bw_sizes[@]}") ;;
    write_lat | send_lat) sizes=("${full_lat_sizes[@]}") ;;
    *) die "--only: unknown test '$test' (write_bw, read_bw, send_bw, write_lat, send_lat)" 2 ;;
    esac
    if [[ $spec == *:* ]]; then
      IFS=, read -r -a sizes <<<"${spec#*:}"
      [ ${#sizes[@]} -gt 0 ] || die "--only $spec: no size after the colon" 2
      for i in "${!sizes[@]}"; do
        b=$(size_bytes "${sizes[i]}")
        [ -n "$b" ] || die "--only $spec: '${sizes[i]}' is not a size" 2
        if [[ $test == *_lat ]]; then
          ((b >= 2 && b <= 8388608)) || die "--only $spec: latency sizes are 2 B to 8 MiB" 2
        else
          ((b >= 1 && b <= 8388608)) || die "--only $spec: sizes are 1 B to 8 MiB" 2
        fi
        sizes[i]=$b
      done
    fi
    for size in "${sizes[@]}"; do
      add_row "$test" "$size"
    done
  done
elif [ "$quick" = 1 ]; then
  for test in write_bw read_bw send_bw; do
    add_row "$test" 64
    if [ "$test" = read_bw ]; then
      add_row "$test" 1024
      add_row "$test" 4096
    fi
    add_row "$test" 65536
  done
  for test in write_lat send_lat; do
    add_row "$test" 2
    add_row "$test" 1024
  done
else
  for test in write_bw read_bw send_bw; do
    for size in "${full_bw_sizes[@]}"; do
      add_row "$test" "$size"
    done
  done
  for test in write_lat send_lat; do
    for size in "${full_lat_sizes[@]}"; do
      add_row "$test" "$size"
    done
  done
fi
runs=$((${#plan[@]} * reps * 2))

if [ "$ibup" = build/release/ibup ] && [ ! -x "$ibup" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release >/dev/null
fi
[ -x "$ibup" ] || die "no ibup binary at $ibup" 2
command -v python3 >/dev/null || die "python3 is needed for the table"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vs-perftest.XXXXXX")
keep=0
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { [ "$keep" = 1 ] || rm -rf -- "$tmp"; }
trap cleanup EXIT
[ -n "$log" ] || log=$tmp/console.log

{
  printf 'VSP_REPS=%q\n' "$reps"
  [ -z "$qp_timeout" ] || printf 'VSP_QP_TIMEOUT=%q\n' "$qp_timeout"
  printf 'VSP_PLAN=(\n'
  printf '  %q\n' "${plan[@]}"
  printf ')\n'
} >"$tmp/vs-perftest.conf"

printf '%s: %d rows x %d reps x 2 tools = %d runs in the Soft-RoCE guest (ibup %s)\n' \
  "$PROG" "${#plan[@]}" "$reps" "$runs" "$ibup" >&2

# ---------------------------------------------------------------------------------
# The guest.

t0=$(date +%s)
set +e
tests/vm/run-guest.sh --ibup "$ibup" --test perf/vs-perftest.guest.sh \
  --add "$tmp/vs-perftest.conf:/etc/vs-perftest.conf" \
  --test-timeout "$budget" --timeout "$((budget + 300))" --log "$log" "${verbose[@]}" \
  >"$tmp/runner.out" 2>&1
rc=$?
set -e
wall=$(($(date +%s) - t0))

clean=$tmp/console.txt
tr -d '\r' <"$log" >"$clean" 2>/dev/null || : >"$clean"
if [ "$rc" != 0 ] || ! grep -q '^VSP-DONE ' "$clean"; then
  keep=1
  reason=$(grep -m1 '^VSP-FAIL ' "$clean" | cut -d' ' -f2- || true)
  if [ -z "$reason" ]; then
    case $rc in
    77) reason="the Soft-RoCE guest cannot run here (run-guest.sh exit 77: $(grep -m1 'SKIP' "$tmp/runner.out" || true))" ;;
    *) reason="the guest run failed (run-guest.sh exit $rc): $(grep -m1 -E '^FAIL|error' "$tmp/runner.out" || tail -n 1 "$tmp/runner.out")" ;;
    esac
  fi
  die "$reason [console: $log; runner output: $tmp/runner.out]"
fi

# ---------------------------------------------------------------------------------
# The table.

grep '^VSP-ROW \|^VSP-INFO ' "$clean" >"$tmp/rows.txt" || true
md=$tmp/table.md
if ! python3 - "$tmp/rows.txt" "$reps" "$wall" "$(uptime | sed 's/.*load average: //')" \
  "${plan[@]}" >"$md" 2>"$tmp/table.err" <<'PY'; then
import datetime, math, statistics, sys

rows_file, reps, wall, load, plan = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
runs, info = {}, {}
for line in open(rows_file, encoding="utf-8", errors="replace"):
    f = line.split()
    if f[0] == "VSP-INFO" and len(f) >= 2:
        info[f[1]] = " ".join(f[2:])
        continue
    if f[0] != "VSP-ROW" or len(f) < 6:
        continue
    tool, test, size, rep = f[1], f[2], int(f[3]), int(f[4])
    runs[(tool, test, size, rep)] = {k: float(v) for k, v in (kv.split("=", 1) for kv in f[5:])}


def num(v):
    """Three significant digits, never in exponent form."""
    if v == 0:
        return "0"
    d = max(0, 2 - math.floor(math.log10(abs(v))))
    return f"{v:.{d}f}"


def size_label(s):
    for unit, n in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if s >= n and s % n == 0:
            return f"{s // n} {unit}"
    return f"{s} B"


def table(header, body):
    """Markdown, padded to line up in a terminal; figures right-aligned."""
    w = [max(len(r[i]) for r in [header] + body) for i in range(len(header))]
    cell = lambda r: "| " + " | ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(r)) + " |"
    rule = "|" + "|".join(" " + "-" * w[i] + (" " if i < 2 else ":") for i in range(len(header))) + "|"
    return [cell(header), rule] + [cell(r) for r in body]


bw_rows, lat_rows, worse, missing = [], [], [], []
for entry in plan:
    test, size, iters, _ = entry.split()
    size, iters = int(size), int(iters)
    is_bw = test.endswith("_bw")
    key = "bw" if is_bw else "med"
    vals = {}
    for tool in ("ibup", "perftest"):
        got = [runs.get((tool, test, size, r)) for r in range(1, reps + 1)]
        if any(g is None or g.get(key, 0) <= 0 for g in got):
            missing.append(f"{tool} {test} {size}")
            continue
        vals[tool] = got
    if len(vals) < 2:
        continue
    med = {t: statistics.median(g[key] for g in vals[t]) for t in vals}
    lo = {t: min(g[key] for g in vals[t]) for t in vals}
    hi = {t: max(g[key] for g in vals[t]) for t in vals}
    ratio = med["ibup"] / med["perftest"] if is_bw else med["perftest"] / med["ibup"]
    spread = {t: f"{num(lo[t])}–{num(hi[t])}" for t in vals}
    # Each repetition ran the two tools back to back: their ratio is less exposed to
    # the host's load, which changes over minutes, than the two medians.
    pairs = [(a[key] / b[key] if is_bw else b[key] / a[key]) for a, b in zip(vals["ibup"], vals["perftest"])]
    paired = f"{statistics.median(pairs):.2f} ({min(pairs):.2f}–{max(pairs):.2f})"
    def resends(got):
        if any(g.get("retry", -1) < 0 for g in got):
            return "?"
        text = str(int(sum(g["retry"] for g in got)))
        if all(g.get("dup", -1) >= 0 for g in got):
            text += f" ({int(sum(g['dup'] for g in got))})"
        return text

    retry = {t: resends(vals[t]) for t in vals}
    row = [test, size_label(size), str(iters), num(med["ibup"]), num(med["perftest"]), f"{ratio:.2f}",
           paired, spread["ibup"], spread["perftest"], f"{retry['ibup']} / {retry['perftest']}"]
    if is_bw:
        bw_rows.append(row)
    else:
        p99 = {t: statistics.median(g["p99"] for g in vals[t]) for t in vals}
        lat_rows.append(row + [num(p99["ibup"]), num(p99["perftest"])])
    if ratio < 1:
        overlap = lo["ibup"] <= hi["perftest"] and lo["perftest"] <= hi["ibup"]
        worse.append(f"{test} {size_label(size)}: ratio {ratio:.2f}, paired {paired} (ibup {spread['ibup']}, "
                     f"perftest {spread['perftest']}; {'ranges overlap' if overlap else 'ranges do not overlap'})")
if missing:
    sys.exit("no figure for: " + ", ".join(missing))

print("## `ibup bench` vs perftest on Soft-RoCE (QEMU/TCG guest)")
print()
print(f"{datetime.date.today().isoformat()}; guest kernel {info.get('kernel', '?')}, {info.get('cpus', '?')} vCPUs under TCG; "
      f"{info.get('ibup', 'ibup ?')}, perftest {info.get('perftest', '?')}; client rxe1, server rxe0 (GID 0); "
      f"median of {reps} alternating runs per tool; spread = min–max over those runs; "
      f"run-guest.sh wall time {wall} s (boot included); host load average at the end {load}.")
print()
print(f"Guest clocksource {info.get('clocksource', '?')}; rxe max_qp_rd_atom {info.get('max_qp_rd_atom', '?')} "
      "(perftest's default number of outstanding reads, -o); perftest server pinned to vCPU 0, "
      "client to vCPU 1 (rdtsc, unsynchronized TSCs); ibup pins its own threads "
      "(client vCPU 0, server vCPU 1).")
print()
print("Ratio > 1 means ibup did better: bandwidth ibup/perftest, latency perftest/ibup. "
      "Soft-RoCE under emulation: compare the ratios, not the absolute figures. "
      "Paired ratios: the median and min–max of the per-repetition ratios (each repetition ran the two "
      "tools back to back). "
      "Resends: the client rxe device's completer_retry_err, summed over the runs (each one re-sends "
      "every request in flight; for reads, a lost or out-of-order response); in parentheses the "
      "server device's duplicate_request, the requests that arrived twice.")
print()
if bw_rows:
    print("### Bandwidth (average Gb/s, 10^9 bit/s)")
    print()
    print("\n".join(table(["test", "size", "iters", "ibup", "perftest", "ibup/perftest",
                           "paired ratios", "ibup spread", "perftest spread", "resends (dup.) ibup / perftest"],
                          bw_rows)))
    print()
if lat_rows:
    print("### Latency (one-way µs; ibup median vs perftest t_typical)")
    print()
    print("\n".join(table(["test", "size", "iters", "ibup", "perftest", "perftest/ibup",
                           "paired ratios", "ibup spread", "perftest spread", "resends (dup.) ibup / perftest",
                           "ibup p99", "perftest 99%"], lat_rows)))
    print()
print("Rows where ibup did worse (ratio < 1):" + (" none." if not worse else ""))
for w in worse:
    print(f"- {w}")
PY
  keep=1
  die "could not make the table: $(tail -n 1 "$tmp/table.err") [console: $log]"
fi

cat "$md"
if [ -n "$out" ]; then
  cp -- "$md" "$out"
  printf '%s: table written to %s\n' "$PROG" "$out" >&2
fi
printf '%s: %d runs, guest run %d s\n' "$PROG" "$runs" "$wall" >&2
exit 0
}
