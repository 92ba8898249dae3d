#!/bin/bash
# SPDX-License-Identifier: MIT
# ibup-sweep on a host without RDMA devices, under Open MPI: bad options give one
# line on stderr and exit 2 (as a singleton and under mpirun), one rank gives 2, and
# ranks without a device give exit 3 naming the rank and the reason. The real sweeps
# run in the Soft-RoCE guest (tests/vm/tests/sweep-mpi.sh).
# Usage: test-sweep-mpi-cli.sh IBUP-SWEEP
set -u
sweep=${1:?usage: $0 IBUP-SWEEP}
command -v mpirun >/dev/null || { echo "SKIP: no mpirun (package openmpi-bin)"; exit 77; }
if [ -d /sys/class/infiniband ] && [ -n "$(ls -A /sys/class/infiniband)" ]; then
  echo "SKIP: this host has RDMA devices; the no-device case would not be one"
  exit 77
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
export ASAN_OPTIONS=detect_leaks=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

# check NAME WANT_RC WANT_REGEX CMD...: exit code and the one ibup-sweep line on stderr.
check() {
  local name=$1 want=$2 re=$3 rc lines
  shift 3
  timeout -k 5 120 "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  lines=$(grep -c '^ibup-sweep:' "$tmp/err")
  if [ "$rc" != "$want" ] || ! grep -Eq "$re" "$tmp/err" || [ "$lines" != 1 ]; then
    echo "FAIL $name: exit $rc (want $want), $lines ibup-sweep lines; stderr:"
    sed 's/^/  /' "$tmp/err"
    fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}

check unknown-option 2 "^ibup-sweep: unknown option '--bogus'" "$sweep" --bogus
check bad-duration 2 '^ibup-sweep: --duration wants seconds' "$sweep" --duration 0
check bad-size 2 '^ibup-sweep: --size wants bytes' "$sweep" --size 12x
check bad-reconnects 2 '^ibup-sweep: --reconnects wants 0 to 16' "$sweep" --reconnects 17
check quick-and-pairs 2 '^ibup-sweep: --quick cannot be combined' "$sweep" --quick --pairs /dev/null
check one-rank 2 '^ibup-sweep: needs at least 2 ranks' "$sweep"
check mpirun-bad-option 2 "^ibup-sweep: unknown option '--bogus'" mpirun -np 2 "$sweep" --bogus
check no-device 3 '^ibup-sweep: rank 0 \([^)]*\): no InfiniBand or RoCE device' mpirun -np 2 "$sweep"
check missing-device 3 "^ibup-sweep: rank 0 \([^)]*\): no RDMA device 'mlx5_ib7'" \
  mpirun -np 2 "$sweep" --device mlx5_ib7,mlx5_ib7
if ! "$sweep" --help >"$tmp/help" 2>&1 || ! grep -q -- '--per-hca' "$tmp/help"; then
  echo "FAIL help"
  fails=$((fails + 1))
fi
[ "$fails" = 0 ]
