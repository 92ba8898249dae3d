#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ibup env's outputs say the same thing as its JSON: `eval "$(ibup env)"` exports exactly
# the variables whose value is not null, with those values, and unsets none; the mpirun
# and mpich forms, split into words as `mpirun $(ibup env -f mpirun)` splits them, carry
# the same assignments; the srun form, split as Slurm splits --export (at commas outside
# quotes, quotes around a whole NAME=value dropped), does too, after ALL.
set -uo pipefail
ibup=${1:?usage: test-env.sh IBUP FIXTURES}
fixtures=${2:?usage: test-env.sh IBUP FIXTURES}
command -v jq >/dev/null || { echo "skip: jq is not installed"; exit 77; }
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

# slurm_split WORD: the NAME=value items of --export=..., one per line, as Slurm reads them.
slurm_split() {
  local s=${1#--export=} tok='' q='' c i
  for ((i = 0; i <= ${#s}; i++)); do
    c=${s:i:1}
    if [[ -n $q ]]; then
      [[ $c == "$q" ]] && q=''
      tok+=$c
    elif [[ $c == '"' || $c == "'" ]]; then
      q=$c
      tok+=$c
    elif [[ $c == , || $i == "${#s}" ]]; then
      if [[ ${#tok} -ge 2 && ${tok:0:1} == ["\"'"] && ${tok: -1} == "${tok:0:1}" ]]; then
        tok=${tok:1:${#tok}-2}
      fi
      printf '%s\n' "$tok"
      tok=''
    else
      tok+=$c
    fi
  done
}

check() {
  local fx=$1
  shift
  local json want got words i
  json=$("$ibup" --root "$fixtures/$fx" env --json "$@") || { fail "$fx: env --json"; return; }
  want=$(jq -r '.variables[] | select(.value != null) | "\(.name)=\(.value)"' <<<"$json")

  # sh: in a clean environment, the assignments are exactly the non-null variables.
  # shellcheck disable=SC2016 # expanded by the inner bash
  got=$(env -i J="$json" bash -c 'eval "$("$0" --root "$1" env "${@:2}")" &&
    for n in $(jq -r ".variables[].name" <<<"$J"); do
      [ -z "${!n+x}" ] || printf "%s=%s\n" "$n" "${!n}"
    done' "$ibup" "$fixtures/$fx" "$@")
  [[ $got == "$want" ]] || fail "$fx: sh output gives"$'\n'"$got"$'\n'"not"$'\n'"$want"

  # mpirun: words -x NAME=value.
  # shellcheck disable=SC2207 # word splitting is what is being tested
  words=($("$ibup" --root "$fixtures/$fx" env --format mpirun "$@"))
  got=''
  for ((i = 0; i < ${#words[@]}; i += 2)); do
    [[ ${words[i]} == -x ]] || fail "$fx: mpirun word ${words[i]} is not -x"
    got+=${words[i + 1]}$'\n'
  done
  [[ ${got%$'\n'} == "$want" ]] || fail "$fx: mpirun output gives"$'\n'"$got"

  # mpich: words -env NAME value.
  # shellcheck disable=SC2207
  words=($("$ibup" --root "$fixtures/$fx" env --format mpich "$@"))
  got=''
  for ((i = 0; i < ${#words[@]}; i += 3)); do
    [[ ${words[i]} == -env ]] || fail "$fx: mpich word ${words[i]} is not -env"
    got+=${words[i + 1]}=${words[i + 2]}$'\n'
  done
  [[ ${got%$'\n'} == "$want" ]] || fail "$fx: mpich output gives"$'\n'"$got"

  # srun: one word; ALL first, then the assignments.
  local srun
  srun=$("$ibup" --root "$fixtures/$fx" env --format srun "$@")
  [[ $srun != *' '* ]] || fail "$fx: srun output is not one word"
  got=$(slurm_split "$srun")
  [[ $got == "ALL"$'\n'"$want" ]] || fail "$fx: srun output gives"$'\n'"$got"
}

check hbv3
check nd-h100-v5 --vm-size Standard_ND96isr_H100_v5
check roce-cx6dx --mpi intel
check softroce --mpi hpcx
check ib-down-polling --mpi mpich
[ "$failures" = 0 ] && echo "env output checks passed"
exit $((failures > 0))
