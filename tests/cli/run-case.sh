#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one golden case: `ibup --root FIXTURE ARGS...`, then compare stdout, stderr and
# the exit code with FIXTURE/expected/CASE.{out,err,rc}. JSON output is also validated
# against docs/<command>.schema.json (a --dry-run's plan: docs/plan.schema.json).
# IBUP_UPDATE_GOLDEN=1 rewrites the expected files.
#
#   --expected DIR   the expected files are DIR/CASE.{out,err,rc}
#   --setup 'CMD ARG...'
#                    ibup runs on a copy of FIXTURE (without its expected/) that
#                    `CMD ARG... TREE` changes first; the copy is made of hard links, so
#                    CMD removes a file before writing it, never writes through one. The
#                    copy's path reads /srv/image in the output. CMD and ARGs are words
#                    (split on white space, no quoting).
set -euo pipefail

usage() {
  echo "usage: run-case.sh [--expected DIR] [--setup 'CMD ARG...'] IBUP SOURCE_DIR FIXTURE CASE [ARGS...]" >&2
  exit 2
}
expected='' setup=''
while [ $# -gt 0 ]; do
  case $1 in
  --expected) [ $# -ge 2 ] || usage; expected=$2; shift 2 ;;
  --setup) [ $# -ge 2 ] || usage; setup=$2; shift 2 ;;
  *) break ;;
  esac
done
[ $# -ge 4 ] || usage
ibup=$1 src=$2 fixture=$3 case=$4
shift 4
expected=${expected:-$fixture/expected}

# Pick a python that has jsonschema (the distribution's, ahead of any other on PATH).
python=
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import jsonschema' 2>/dev/null; then python=$p; break; fi
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$fixture
if [ -n "$setup" ]; then
  root=$tmp/image
  cp -al "$fixture" "$root" 2>/dev/null || { rm -rf "$root"; cp -a "$fixture" "$root"; }
  rm -rf "$root/expected"
  read -ra cmd <<<"$setup"
  "${cmd[@]}" "$root"
fi
rc=0
"$ibup" --root "$root" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
echo "$rc" >"$tmp/rc"
[ -z "$setup" ] || sed -i "s|$root|/srv/image|g" "$tmp/out" "$tmp/err"

exp="$expected/$case"
if [ "${IBUP_UPDATE_GOLDEN:-0}" = 1 ]; then
  mkdir -p "$expected"
  cp "$tmp/out" "$exp.out"
  cp "$tmp/err" "$exp.err"
  cp "$tmp/rc" "$exp.rc"
fi

fail=0
for part in out err rc; do
  if [ ! -f "$exp.$part" ]; then
    echo "missing $exp.$part (run with IBUP_UPDATE_GOLDEN=1 and review the diff)" >&2
    fail=1
  elif ! diff -u "$exp.$part" "$tmp/$part" >&2; then
    echo "FAIL: $case: $part differs from $exp.$part" >&2
    fail=1
  fi
done

case " $* " in
*" --json "* | *" -j "*)
  if [ -s "$tmp/out" ]; then
    schema="$src/docs/$1.schema.json"
    case " $* " in *" --dry-run "*) schema=$src/docs/plan.schema.json ;; esac
    if [ -z "$python" ]; then
      echo "FAIL: python3-jsonschema is needed to validate $case" >&2
      fail=1
    elif ! "$python" "$src/tests/cli/validate-json.py" "$schema" "$tmp/out"; then
      echo "FAIL: $case: output does not match $schema" >&2
      fail=1
    fi
  fi
  ;;
esac
exit "$fail"
