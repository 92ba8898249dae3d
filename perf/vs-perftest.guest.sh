#!/bin/bash
# SPDX-License-Identifier: MIT
# The guest half of perf/vs-perftest.sh: run by tests/vm/run-guest.sh as a test
# script, sourced by tests/vm/guest/harness.sh in the Soft-RoCE guest (see its API).
# Not a test of its own: it only runs the plan perf/vs-perftest.sh put into the guest
# as /etc/vs-perftest.conf and prints one line per run on the console.
#
# The plan (bash, sourced): VSP_REPS=N and VSP_PLAN=("TEST SIZE ITERS TIMEOUT" ...), and
# VSP_QP_TIMEOUT=N when both tools get that RC ACK timeout (ibup --qp-timeout, perftest -u).
# For each entry and each repetition it runs `ibup bench` (client rxe1, server rxe0,
# one process) and the perftest pair (server ib_TEST on rxe0, client on rxe1 connecting
# to 10.99.0.1, GID index 0), alternating which tool goes first.
# perftest times with rdtsc, and the guest's vCPUs have unsynchronized TSCs ("Marking
# TSC unstable" at boot): a perftest process that migrates mid-run can print 0.00 MB/sec.
# So each perftest process is pinned to one vCPU (server 0, client 1), which is also
# where two busy-polling processes on two vCPUs end up anyway. ibup times with
# clock_gettime(CLOCK_MONOTONIC) (hpet in the guest), which needs no pinning.
#
# Console lines (column 0), read by perf/vs-perftest.sh:
#   VSP-INFO KEY VALUE...    (KEY "again": a perftest run that printed zeros, re-run)
#   VSP-ROW TOOL TEST SIZE REP wall=S bw=GBPS peak=GBPS mpps=MPPS retry=N dup=M   bandwidth
#   VSP-ROW TOOL TEST SIZE REP wall=S med=US p99=US min=US avg=US max=US retry=N dup=M   latency
#   VSP-FAIL REASON          the first failure; nothing runs after it
#   VSP-DONE RUNS
# perftest's bandwidth is converted to Gb/s here: from "BW average[MB/sec]" (MiB/s,
# x 2^20 x 8 / 1e9) or from MsgRate[Mpps] x size, whichever of the two printed
# figures has the finer resolution (at 2 bytes the MB/sec column has one digit).
# retry=N is how often the client's requester went back to resend during the run: the
# growth of its rxe device's completer_retry_err counter (a lost or out-of-order
# response, or the retransmission timer). Each one re-sends every request in flight,
# and one that waits for the timer stalls the queue pair. dup=M is the growth of the
# server device's duplicate_request: the requests that arrived twice, so M/N is how
# many were in flight at a resend. -1 when the device has no such counter.

vsp_conf=/etc/vs-perftest.conf
vsp_srv=${VM_RXE[0]} vsp_cli=${VM_RXE[1]} vsp_srv_ip=${VM_IP[0]}
vsp_runs=0
vsp_srv_cpu=0 vsp_cli_cpu=$(($(nproc) > 1 ? 1 : 0))

vsp_fail() {
  printf 'VSP-FAIL %s\n' "$*"
  vm_fail "$*"
}

vsp_is_bw() { [[ $1 == *_bw ]]; }

# vsp_numbers VALUE...: every value is a number > 0.
vsp_numbers() {
  local v
  for v in "$@"; do
    [[ $v =~ ^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] || return 1
    awk -v v="$v" 'BEGIN { exit !(v + 0 > 0) }' || return 1
  done
}

# vsp_counter DEV NAME: an rxe hw counter of port 1, or -1.
vsp_counter() {
  local v
  if read -r v 2>/dev/null <"/sys/class/infiniband/$1/ports/1/hw_counters/$2" &&
    [[ $v =~ ^[0-9]+$ ]]; then
    printf '%s' "$v"
  else
    printf -- '-1'
  fi
}

# vsp_retries: "RESENDS DUPLICATES", the client's completer_retry_err and the server's
# duplicate_request (-1 when the device has no such counter).
vsp_retries() {
  printf '%s %s' "$(vsp_counter "$vsp_cli" completer_retry_err)" \
    "$(vsp_counter "$vsp_srv" duplicate_request)"
}

# vsp_retry_delta BEFORE: "retry=N dup=M" since BEFORE (vsp_retries), -1 when unknown.
vsp_retry_delta() {
  local r0 d0 r1 d1
  read -r r0 d0 <<<"$1"
  read -r r1 d1 <<<"$(vsp_retries)"
  if [ "$r0" -ge 0 ] && [ "$r1" -ge 0 ]; then
    printf 'retry=%s' "$((r1 - r0))"
  else
    printf 'retry=-1'
  fi
  if [ "$d0" -ge 0 ] && [ "$d1" -ge 0 ]; then
    printf ' dup=%s' "$((d1 - d0))"
  else
    printf ' dup=-1'
  fi
}

vsp_wall() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }

# vsp_tail FILE: its last non-empty line, for a failure message.
vsp_tail() { grep -v '^[[:space:]]*$' "$1" 2>/dev/null | tail -n 1 | tr -s ' \t' ' '; }

vsp_show() { # keep the evidence on the console
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    printf '    --- %s (last 15 lines) ---\n' "$f"
    tail -n 15 "$f" | sed 's/^/    | /'
  done
}

vsp_exit_text() { # vsp_exit_text RC SECS
  case $1 in
  124 | 137) printf 'timed out after %s s' "$2" ;;
  *) printf 'exit %s' "$1" ;;
  esac
}

# vsp_ibup TEST SIZE ITERS TIMEOUT REP
vsp_ibup() {
  local test=$1 size=$2 iters=$3 t=$4 rep=$5 rc start wall msg f r0 retry
  local what="ibup bench -t $test -s $size -n $iters (rep $rep)"
  r0=$(vsp_retries)
  start=$(date +%s.%N)
  timeout -k 5 "$t" ibup bench -t "$test" -d "$vsp_cli" --to "$vsp_srv" -s "$size" \
    -n "$iters" ${VSP_QP_TIMEOUT:+--qp-timeout "$VSP_QP_TIMEOUT"} --json >ibup.json 2>ibup.err </dev/null
  rc=$?
  wall=$(vsp_wall "$start")
  retry=$(vsp_retry_delta "$r0")
  if [ "$rc" != 0 ]; then
    msg=$(jq -r '.error // empty' ibup.json 2>/dev/null | head -n 1)
    [ -n "$msg" ] || msg=$(vsp_tail ibup.err)
    vsp_fail "$what: $(vsp_exit_text "$rc" "$t")${msg:+: $msg}"
    vsp_show ibup.json ibup.err
    return 1
  fi
  if vsp_is_bw "$test"; then
    f=$(jq -r --argjson s "$size" '.results[] | select(.size == $s) |
      [.bw_avg_gbps, .bw_peak_gbps, .msg_rate_mpps] | map(tostring) | join(" ")' ibup.json 2>/dev/null)
  else
    f=$(jq -r --argjson s "$size" '.results[] | select(.size == $s) |
      [.lat_median_us, .lat_p99_us, .lat_min_us, .lat_mean_us, .lat_max_us] |
      map(tostring) | join(" ")' ibup.json 2>/dev/null)
  fi
  local -a v
  read -r -a v <<<"$f"
  if ! vsp_numbers "${v[@]}" || [ "${#v[@]}" -lt 3 ]; then
    vsp_fail "$what: exit 0 but no figure for size $size in its JSON (got '${f:-nothing}')"
    vsp_show ibup.json ibup.err
    return 1
  fi
  if vsp_is_bw "$test"; then
    printf 'VSP-ROW ibup %s %s %s wall=%s bw=%s peak=%s mpps=%s %s\n' "$test" "$size" "$rep" \
      "$wall" "${v[0]}" "${v[1]}" "${v[2]}" "$retry"
  else
    printf 'VSP-ROW ibup %s %s %s wall=%s med=%s p99=%s min=%s avg=%s max=%s %s\n' "$test" \
      "$size" "$rep" "$wall" "${v[0]}" "${v[1]}" "${v[2]}" "${v[3]}" "${v[4]}" "$retry"
  fi
}

# vsp_perftest TEST SIZE ITERS TIMEOUT REP
vsp_perftest() {
  local test=$1 size=$2 iters=$3 t=$4 rep=$5 spid crc src start wall line i up=0 r0 retry
  local what="perftest ib_$test -s $size -n $iters (rep $rep)"
  r0=$(vsp_retries)
  start=$(date +%s.%N)
  timeout -k 5 "$t" taskset -c "$vsp_srv_cpu" "ib_$test" -d "$vsp_srv" -x 0 -F ${VSP_QP_TIMEOUT:+-u "$VSP_QP_TIMEOUT"} \
    -s "$size" -n "$iters" >pt-server.out 2>&1 </dev/null &
  spid=$!
  # The client must not start before the server listens on 18515.
  for ((i = 0; i < 200; i++)); do
    if ss -ltn 2>/dev/null | grep -q ':18515 '; then
      up=1
      break
    fi
    kill -0 "$spid" 2>/dev/null || break
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    kill "$spid" 2>/dev/null
    wait "$spid"
    vsp_fail "$what: the server on $vsp_srv never listened on port 18515: $(vsp_tail pt-server.out)"
    vsp_show pt-server.out
    return 1
  fi
  timeout -k 5 "$t" taskset -c "$vsp_cli_cpu" "ib_$test" -d "$vsp_cli" -x 0 -F ${VSP_QP_TIMEOUT:+-u "$VSP_QP_TIMEOUT"} \
    -s "$size" -n "$iters" "$vsp_srv_ip" >pt-client.out 2>&1 </dev/null
  crc=$?
  wait "$spid"
  src=$?
  wall=$(vsp_wall "$start")
  retry=$(vsp_retry_delta "$r0")
  if [ "$crc" != 0 ]; then
    vsp_fail "$what: client $(vsp_exit_text "$crc" "$t"): $(vsp_tail pt-client.out)"
    vsp_show pt-client.out pt-server.out
    return 1
  fi
  if [ "$src" != 0 ]; then
    vsp_fail "$what: server $(vsp_exit_text "$src" "$t"): $(vsp_tail pt-server.out)"
    vsp_show pt-client.out pt-server.out
    return 1
  fi
  # The result row starts with the size and the iteration count (TABs inside).
  line=$(awk -v s="$size" '$1 == s && $2 ~ /^[0-9]+$/ { $1 = $1; print; exit }' pt-client.out)
  local -a v
  read -r -a v <<<"$line"
  if vsp_is_bw "$test"; then
    # #bytes #iterations BW-peak[MB/sec] BW-average[MB/sec] MsgRate[Mpps]
    if [ "${#v[@]}" -lt 5 ] || ! vsp_numbers "${v[2]}" "${v[3]}" "${v[4]}"; then
      if [ "${vsp_again:-0}" = 1 ]; then
        printf 'VSP-INFO again %s: exit 0 but no bandwidth figure (row %s)\n' "$what" "${line:-none}"
        return 2
      fi
      vsp_fail "$what: exit 0 but no bandwidth figure in its output (row '${line:-none}')"
      vsp_show pt-client.out
      return 1
    fi
    awk -v s="$size" -v peak="${v[2]}" -v avg="${v[3]}" -v mpps="${v[4]}" 'BEGIN {
      mib = 1048576 * 8 / 1e9
      # Resolution of each printed figure: 0.01 MB/sec, 0.000001 Mpps.
      bw = (0.005 / avg <= 0.0000005 / mpps) ? avg * mib : mpps * s * 8 / 1e3
      printf "bw=%.9g peak=%.9g mpps=%s\n", bw, peak * mib, mpps
    }' >pt.fig
    printf 'VSP-ROW perftest %s %s %s wall=%s %s %s\n' "$test" "$size" "$rep" "$wall" "$(cat pt.fig)" "$retry"
  else
    # #bytes #iterations t_min t_max t_typical t_avg t_stdev 99% 99.9%
    if [ "${#v[@]}" -lt 9 ] || ! vsp_numbers "${v[2]}" "${v[3]}" "${v[4]}" "${v[5]}" "${v[7]}"; then
      if [ "${vsp_again:-0}" = 1 ]; then
        printf 'VSP-INFO again %s: exit 0 but no latency figure (row %s)\n' "$what" "${line:-none}"
        return 2
      fi
      vsp_fail "$what: exit 0 but no latency figure in its output (row '${line:-none}')"
      vsp_show pt-client.out
      return 1
    fi
    printf 'VSP-ROW perftest %s %s %s wall=%s med=%s p99=%s min=%s avg=%s max=%s %s\n' "$test" \
      "$size" "$rep" "$wall" "${v[4]}" "${v[7]}" "${v[2]}" "${v[5]}" "${v[3]}" "$retry"
  fi
}

# vsp_perftest_twice ARGS: vsp_perftest, run once more when perftest exited 0 but
# printed zeros (its rdtsc timing now and then gives 0.00 MB/sec in this guest even
# pinned); any other failure, or zeros twice, ends the plan.
vsp_perftest_twice() {
  local rc
  vsp_again=1 vsp_perftest "$@"
  rc=$?
  [ "$rc" = 2 ] || return "$rc"
  vsp_again=0 vsp_perftest "$@"
}

vsp_main() {
  local entry test size iters t rep
  # shellcheck source=/dev/null
  . "$vsp_conf" || {
    vsp_fail "no plan in $vsp_conf"
    return 1
  }
  printf 'VSP-INFO kernel %s\n' "$(uname -r)"
  printf 'VSP-INFO cpus %s\n' "$(nproc)"
  printf 'VSP-INFO ibup %s\n' "$(ibup --version 2>&1 | head -n 1)"
  printf 'VSP-INFO perftest %s\n' "$(ib_write_bw --version 2>&1 | grep -m1 -o '[0-9][0-9.]*[0-9]')"
  printf 'VSP-INFO clocksource %s\n' "$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
  printf 'VSP-INFO max_qp_rd_atom %s\n' "$(ibv_devinfo -v -d "$vsp_srv" | awk '$1 == "max_qp_rd_atom:" { print $2; exit }')"
  printf 'VSP-INFO devices client %s server %s (%s), perftest -x 0\n' "$vsp_cli" "$vsp_srv" "$vsp_srv_ip"
  printf 'VSP-INFO pinning perftest server on vCPU %s, client on vCPU %s\n' "$vsp_srv_cpu" "$vsp_cli_cpu"
  for entry in "${VSP_PLAN[@]}"; do
    read -r test size iters t <<<"$entry"
    for ((rep = 1; rep <= VSP_REPS; rep++)); do
      # Alternate which tool goes first, so that neither always runs on a warm system.
      if ((rep % 2)); then
        vsp_ibup "$test" "$size" "$iters" "$t" "$rep" || return 1
        vsp_perftest_twice "$test" "$size" "$iters" "$t" "$rep" || return 1
      else
        vsp_perftest_twice "$test" "$size" "$iters" "$t" "$rep" || return 1
        vsp_ibup "$test" "$size" "$iters" "$t" "$rep" || return 1
      fi
      vsp_runs=$((vsp_runs + 2))
    done
  done
  printf 'VSP-DONE %s\n' "$vsp_runs"
}

if vsp_main; then
  assert_eq "runs completed" "$((${#VSP_PLAN[@]} * VSP_REPS * 2))" "$vsp_runs"
fi
