#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The bash completion offers ibup's commands, subcommands and each command's options.
set -uo pipefail
src=${1:?usage: test-completion.sh SOURCE_DIR}
lib=/usr/share/bash-completion/bash_completion
[ -f "$lib" ] || { echo "skip: bash-completion is not installed"; exit 77; }
# shellcheck source=/dev/null
source "$lib"
# shellcheck source=/dev/null
source "$src/packaging/bash-completion/ibup"
fail=0

# complete WANT WORD...: the completions of the last word, space-separated.
complete_is() {
  local want=$1
  shift
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="$*"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _ibup
  if [ "${COMPREPLY[*]}" != "$want" ]; then
    echo "FAIL: '$*' completes to '${COMPREPLY[*]}', expected '$want'"
    fail=1
  fi
}

complete_is "status" ibup st
complete_is "check" ibup ch
complete_is "enable" ibup ipoib en
complete_is "--counters" ibup status --co
complete_is "--strict --state-dir" ibup check --st
complete_is "systemd waagent" ibup ipoib enable --via ""
complete_is "--dry-run" ibup ipoib apply --dr
complete_is "ipoib" ibup help ip
complete_is "bench" ibup be
complete_is "install" ibup ins
complete_is "auto inbox doca mofed" ibup install --stack ""
complete_is "refuse enroll" ibup install --secure-boot ""
complete_is "--replace --remove --reload-now --resume" ibup install --re
complete_is "bench" ibup help be
complete_is "write_bw read_bw send_bw write_lat send_lat" ibup bench -t ""
complete_is "write_lat" ibup bench --test write_l
complete_is "send_bw send_lat" ibup bench -d mlx5_0 -t s
complete_is "--verify --verbose --version" ibup bench --ver
complete_is "--expect-gbps --expect-usec" ibup bench -q 4 --exp
complete_is "mlx5_an0 mlx5_ib0" ibup --root "$src/tests/fixtures/hbv3" bench -d ""
complete_is "mlx5_ib0" ibup --root "$src/tests/fixtures/hbv3" bench --to mlx5_i
complete_is "" ibup bench --size ""
complete_is "metrics" ibup me
complete_is "metrics" ibup help me
complete_is "--textfile" ibup metrics --te
complete_is "--max-scrapes --metadata-url" ibup metrics --m
complete_is "" ibup metrics --listen ""
complete_is "--vm-size --verbose --version" ibup metrics --listen 9315 --v
complete_is "uninstall update" ibup vmext u
complete_is "--handler-dir" ibup vmext enable --ha
complete_is "env" ibup en
complete_is "env" ibup help en
complete_is "--format" ibup env --fo
complete_is "mpirun mpich" ibup env --format mp
complete_is "sh srun" ibup env -f s
complete_is "hpcx" ibup env --format srun --mpi h
complete_is "--mpi --metadata-url" ibup env --m
[ "$fail" = 0 ] && echo "completion checks passed"
exit "$fail"
