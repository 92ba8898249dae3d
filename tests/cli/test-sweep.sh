#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup sweep --analyze` on saved runs (tests/cli/sweep/*.json, written by make-runs.py):
# the summary, --json (checked against docs/sweep.schema.json), other thresholds, the
# drain plan, the CSV matrix and the SVG heat map (a bad node is the first row and column,
# all red), standard input; and the command line's and the files' errors (one line, exit
# 2 or 3, nothing on stdout). Golden files in tests/cli/sweep/expected/;
# IBUP_UPDATE_GOLDEN=1 rewrites them. Needs python3 with jsonschema.
set -uo pipefail

ibup=${1:?usage: test-sweep.sh IBUP SOURCE_DIR}
src=${2:?usage: test-sweep.sh IBUP SOURCE_DIR}
dir=$src/tests/cli/sweep
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# An empty root: no admin expectations under /etc/ibup/expect.d can change a verdict.
mkdir -p "$tmp/root"

# golden NAME ARGS...: stdout, stderr and the exit code against expected/NAME.*
golden() {
  local name=$1 rc=0
  shift
  (cd "$dir" && "$ibup" --root "$tmp/root" sweep "$@") >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  echo "$rc" >"$tmp/$name.rc"
  if [ "${IBUP_UPDATE_GOLDEN:-0}" = 1 ]; then
    mkdir -p "$dir/expected"
    for part in out err rc; do cp "$tmp/$name.$part" "$dir/expected/$name.$part"; done
  fi
  for part in out err rc; do
    if ! diff -u "$dir/expected/$name.$part" "$tmp/$name.$part" >&2; then
      fail "$name: $part differs from expected/$name.$part"
    fi
  done
  case " $* " in
  *" --json "*)
    python3 "$src/tests/cli/validate-json.py" "$src/docs/sweep.schema.json" "$tmp/$name.out" ||
      fail "$name: output does not match docs/sweep.schema.json"
    ;;
  esac
}

golden hb120 --analyze hb120-8.json
golden hb120-json --analyze hb120-8.json --json
golden hb120-relative --analyze hb120-8.json --no-vm-size
golden hb120-bw-min --analyze hb120-8.json --bw-min 100
golden hb120-lat-max --analyze hb120-8.json --lat-max 1.8 --json
golden hb120-as-hbv4-drain --analyze hb120-8.json --vm-size Standard_HB176rs_v4 --drain --dry-run
golden hb120-as-hbv4 --analyze hb120-8.json --vm-size Standard_HB176rs_v4
golden hb120-drain-dry-run --analyze hb120-8.json --drain --dry-run
golden rxe --analyze rxe-4.json
golden hb120-quick --analyze hb120-quick.json
golden rxe-json --analyze rxe-4.json --json
# Runs of the Soft-RoCE guest's sweep test (tests/vm/tests/sweep-mpi.sh): one node
# slowed, then one path; with the floor and ceiling that test set, they name the node,
# then the link, as the README shows; the heat map is the README's.
golden guest-node --analyze guest-slow-node.json --bw-min 0.07235 --lat-max 1640.4
golden guest-path --analyze guest-slow-path.json --bw-min 0.07235 --lat-max 1640.4
(cd "$dir" && "$ibup" --root "$tmp/root" sweep --analyze guest-slow-node.json --bw-min 0.07235 \
  --lat-max 1640.4 --svg "$tmp/guest.svg" >/dev/null 2>&1)
if [ "${IBUP_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$tmp/guest.svg" "$src/docs/sweep-guest.svg"; fi
diff -u "$src/docs/sweep-guest.svg" "$tmp/guest.svg" >&2 || fail "the guest run's heat map differs from docs/sweep-guest.svg"

# The saved runs themselves follow the schema.
for f in "$dir"/*.json; do
  python3 "$src/tests/cli/validate-json.py" "$src/docs/sweep.schema.json" "$f" ||
    fail "$(basename "$f") does not match docs/sweep.schema.json"
done

# Standard input.
"$ibup" --root "$tmp/root" sweep --analyze - <"$dir/rxe-4.json" >"$tmp/stdin.out" 2>&1 ||
  fail "--analyze - exits $?"
diff -u "$dir/expected/rxe.out" "$tmp/stdin.out" >&2 || fail "--analyze - differs from the file's summary"

# Reports: the CSV matrix, the heat map with the bad node first, all its cells red.
rc=0
(cd "$dir" && "$ibup" --root "$tmp/root" sweep --analyze hb120-8.json --csv "$tmp/bw.csv" \
  --csv-latency "$tmp/lat.csv" --svg "$tmp/map.svg") >/dev/null 2>"$tmp/err" || rc=$?
[ "$rc" = 1 ] || fail "reports: exit $rc, expected 1: $(cat "$tmp/err")"
if [ "${IBUP_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$tmp/bw.csv" "$dir/expected/hb120-bw.csv"; fi
diff -u "$dir/expected/hb120-bw.csv" "$tmp/bw.csv" >&2 || fail "the bandwidth CSV differs"
[ "$(head -c 13 "$tmp/lat.csv")" = "node,cn00,cn0" ] || fail "the latency CSV has no header: $(head -1 "$tmp/lat.csv")"
python3 - "$tmp/map.svg" <<'PY' || fail "the heat map"
import sys
import xml.etree.ElementTree as ET

ns = "{http://www.w3.org/2000/svg}"
root = ET.parse(sys.argv[1]).getroot()
assert root.tag == ns + "svg", root.tag
labels = [t.text for t in root.iter(ns + "text") if t.get("text-anchor") == "end"]
assert labels[0] == "cn05", labels
cells = {(r.get("x"), r.get("y")): r.get("fill") for r in root.iter(ns + "rect")}
xs = sorted({int(x) for x, _ in cells if x is not None and int(x) >= 120})
first = str(xs[0])
row = [f for (x, y), f in cells.items() if y == first and x != first]
col = [f for (x, y), f in cells.items() if x == first and y != first]
assert len(row) == 7 and len(col) == 7, (row, col)
red = lambda c: int(c[1:3], 16) > int(c[3:5], 16)
assert all(red(c) for c in row + col), (row, col)
green = [f for (x, y), f in cells.items() if x != first and y != first and f == "#2e9d4a"]
assert len(green) == 6 * 7 - 1, len(green)  # all but cn02->cn07 (and its diagonal)
PY

# usage ARGS...: exit 2, the error and the Try line, nothing on stdout.
usage() {
  local rc=0
  "$ibup" --root "$tmp/root" sweep "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" = 2 ] || fail "ibup sweep $*: exit $rc, expected 2"
  [ "$(wc -l <"$tmp/err")" = 2 ] || fail "ibup sweep $*: stderr is not one error and the Try line: $(cat "$tmp/err")"
  grep -q "^Try 'ibup sweep --help'\.$" "$tmp/err" || fail "ibup sweep $*: no Try line"
  [ ! -s "$tmp/out" ] || fail "ibup sweep $*: wrote to stdout"
}
usage
usage --analyze
usage --analyze x.json extra
usage --analyze x.json --dry-run
usage --analyze x.json --drain --json
usage --analyze x.json --bw-rel 1.5
usage --analyze x.json --bw-rel 0
usage --analyze x.json --bw-min fast
usage --analyze x.json --node-frac 1
usage --analyze x.json --vm-size Standard_HB120rs_v3 --no-vm-size
usage --analyze x.json --nosuch
usage --analyze ''

# failure ARGS... -- MESSAGE: exit 3, that one line, nothing on stdout.
failure() {
  local rc=0 args=() want
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  want=$2
  (cd "$dir" && "$ibup" --root "$tmp/root" sweep "${args[@]}") >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" = 3 ] || fail "ibup sweep ${args[*]}: exit $rc, expected 3"
  [ "$(cat "$tmp/err")" = "$want" ] || fail "ibup sweep ${args[*]}: stderr '$(cat "$tmp/err")', expected '$want'"
  [ ! -s "$tmp/out" ] || fail "ibup sweep ${args[*]}: wrote to stdout"
}
printf '{"schema_version": 1,\n  "nodes": [' >"$tmp/cut.json"
python3 - "$dir/rxe-4.json" "$tmp" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
doc["measurements"][0]["b"] = 9
json.dump(doc, open(sys.argv[2] + "/stranger.json", "w"))
doc["measurements"] = []
json.dump(doc, open(sys.argv[2] + "/empty.json", "w"))
PY
failure --analyze nosuch.json -- "ibup: cannot open the run 'nosuch.json': No such file or directory"
failure --analyze "$tmp/cut.json" -- "ibup: '$tmp/cut.json' is not a sweep run: line 2 column 12: ']' expected near end of file"
failure --analyze "$tmp/stranger.json" -- "ibup: '$tmp/stranger.json' is not a sweep run: measurements[0]: rank out of range (4 nodes)"
failure --analyze "$tmp/empty.json" -- "ibup: '$tmp/empty.json' holds no measurements"
failure --analyze make-runs.py -- "ibup: 'make-runs.py' is not a sweep run: line 1 column 1: '[' or '{' expected near '#'"
failure --analyze rxe-4.json --csv "$tmp/nodir/bw.csv" -- "ibup: cannot write '$tmp/nodir/bw.csv': No such file or directory"

if [ "$failures" -gt 0 ]; then
  echo "$failures failure(s)" >&2
  exit 1
fi
echo "ibup sweep --analyze: all checks passed"
