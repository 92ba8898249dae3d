#!/bin/bash
# SPDX-License-Identifier: MIT
# The Soft-RoCE guest's test harness.  /init sources it and calls vm_main; every test
# in /usr/share/ibup-vm/tests/NAME.sh runs in its own bash process with this file
# sourced, under a whole-test timeout, after a fresh network (vm_net_setup).
#
# Console protocol, read by tests/vm/run-guest.sh on the host (lines start at column 0):
#   IBUP-VM-SETUP ok | IBUP-VM-SETUP FAIL <reason>
#   IBUP-VM-BEGIN <test>
#   IBUP-VM-TEST <test> PASS|FAIL|SKIP [<reason>]
#   IBUP-VM-DONE rc=<n> pass=<n> fail=<n> skip=<n>
# Everything else on the console is diagnostics ("# ..." lines are the harness's own).
#
# API for tests (bash; the test file is sourced, so plain commands run in order):
#   vm_test [-t SECS] [-e RC] NAME CMD...   run one step under `timeout` (default
#                   $VM_STEP_TIMEOUT s); PASS when it exits RC (default 0).  Its stdout
#                   is kept in the file $VM_OUT, stderr in $VM_ERR.  CMD may be a shell
#                   function of the test (it runs in a child bash that sees exported
#                   variables and every function).  Returns 0 on PASS, 1 on FAIL.
#   assert_eq WHAT EXPECTED ACTUAL          string equality
#   assert_ne WHAT UNEXPECTED ACTUAL
#   assert_match WHAT REGEX ACTUAL          bash [[ =~ ]]
#   assert_num WHAT ACTUAL OP NUMBER        OP is one of -gt -ge -lt -le -eq (awk, floats ok)
#   assert_json WHAT FILE FILTER EXPECTED   `jq -r FILTER FILE` equals EXPECTED
#   assert_json_valid WHAT FILE             FILE holds exactly one JSON value
#   assert_same_json WHAT FILTER F1 F2      jq -S FILTER equal on both files (diff shown)
#   assert_true WHAT CMD...                 CMD exits 0 (no timeout: keep it quick)
#   vm_fail REASON / vm_skip REASON / vm_log MSG
#   vm_net_setup [N] / vm_net_teardown      N rxe "nodes" on veth pairs through br0
#                   (each test starts with 2: rxe0 on a0 10.99.0.1, rxe1 on b0 10.99.0.2)
#   vm_net_add_node [--rxe|--no-rxe]        one more node (c0 10.99.0.3, rxe2, ...)
#   vm_ipv6_expand ADDR                     IPv6 text form to sysfs GID notation
#   vm_export NAME PATH                     send a file/dir to the host (see below)
#   vm_wait_rxe DEV [SECS]                  until DEV's port 1 is ACTIVE with GIDs 0 and 1
# A test file may raise its own whole-test limit with a line "# vm-test-timeout: SECS".
# A test PASSes when it made at least one assertion (vm_test counts as one) and none
# failed; it is SKIPped by vm_skip; anything else is a FAIL.

VM_HOME=${VM_HOME:-/usr/share/ibup-vm}
VM_STEP_TIMEOUT=${VM_STEP_TIMEOUT:-60}
VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-300}
VM_WORKROOT=${VM_WORKROOT:-/tmp/ibup-vm}
export VM_HOME VM_STEP_TIMEOUT VM_TEST_TIMEOUT VM_WORKROOT

# The default "cluster": node i has veth pair <x>0/<x>1; <x>1 is a port of bridge br0,
# <x>0 carries 10.99.0.<i+1>/24 and the Soft-RoCE device rxe<i>.  The addresses exist
# only inside the guest, which has no network card.
VM_NODE_LETTERS=(a b c d e f g h)
VM_SUBNET=10.99.0
VM_BRIDGE=br0
VM_RXE=()
VM_NETDEV=()
VM_PEER=()
VM_IP=()

VM_FAILS=0
VM_ASSERTS=0
VM_REASON=''
VM_OUT=/dev/null
VM_ERR=/dev/null

vm_log() { printf '# %s\n' "$*"; }

vm_fail() {
  VM_FAILS=$((VM_FAILS + 1))
  [ -n "$VM_REASON" ] || VM_REASON=$*
  printf '  FAIL %s\n' "$*"
}

vm_pass() {
  VM_ASSERTS=$((VM_ASSERTS + 1))
  printf '  ok   %s\n' "$*"
}

vm_skip() {
  printf '%s\n' "$*" >"$VM_WORK/skip"
  printf '  SKIP %s\n' "$*"
  exit 77
}

assert_eq() {
  VM_ASSERTS=$((VM_ASSERTS + 1))
  if [ "$2" = "$3" ]; then
    printf '  ok   %s = %s\n' "$1" "$3"
  else
    vm_fail "$1: expected '$2', got '$3'"
  fi
}

assert_ne() {
  VM_ASSERTS=$((VM_ASSERTS + 1))
  if [ "$2" != "$3" ]; then
    printf '  ok   %s != %s\n' "$1" "$2"
  else
    vm_fail "$1: must not be '$2'"
  fi
}

assert_match() {
  VM_ASSERTS=$((VM_ASSERTS + 1))
  if [[ $3 =~ $2 ]]; then
    printf '  ok   %s ~ %s\n' "$1" "$2"
  else
    vm_fail "$1: '$3' does not match /$2/"
  fi
}

assert_num() {
  local what=$1 actual=$2 op=$3 want=$4 awkop
  VM_ASSERTS=$((VM_ASSERTS + 1))
  case $op in
  -gt) awkop='>' ;; -ge) awkop='>=' ;; -lt) awkop='<' ;; -le) awkop='<=' ;; -eq) awkop='==' ;;
  *) vm_fail "$what: bad operator '$op'"; return ;;
  esac
  if [[ $actual =~ ^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$ ]] &&
    awk -v a="$actual" -v b="$want" "BEGIN { exit !(a + 0 $awkop b + 0) }"; then
    printf '  ok   %s = %s (%s %s)\n' "$what" "$actual" "$op" "$want"
  else
    vm_fail "$what: '$actual' is not $op $want"
  fi
}

assert_json() {
  local what=$1 file=$2 filter=$3 want=$4 got
  if ! got=$(jq -r "$filter" "$file" 2>&1); then
    VM_ASSERTS=$((VM_ASSERTS + 1))
    vm_fail "$what: jq '$filter' failed: $got"
    return
  fi
  assert_eq "$what" "$want" "$got"
}

# assert_same_json WHAT FILTER FILE1 FILE2: jq FILTER gives the same value (keys
# sorted) on both files; on a difference the diff is shown, not the whole values.
assert_same_json() {
  local what=$1 filter=$2 a=$3 b=$4 ja jb
  VM_ASSERTS=$((VM_ASSERTS + 1))
  if ! ja=$(jq -S "$filter" "$a" 2>&1) || ! jb=$(jq -S "$filter" "$b" 2>&1); then
    vm_fail "$what: jq '$filter' failed on $a or $b"
    return
  fi
  if [ "$ja" = "$jb" ]; then
    printf '  ok   %s (%s bytes of JSON equal)\n' "$what" "${#ja}"
  else
    vm_fail "$what: '$filter' of ${a##*/} and ${b##*/} differ"
    printf '    --- diff %s %s ---\n' "${a##*/}" "${b##*/}"
    diff <(printf '%s\n' "$ja") <(printf '%s\n' "$jb") | head -n 40 | sed 's/^/    | /'
  fi
}

assert_json_valid() {
  local what=$1 file=$2 n
  VM_ASSERTS=$((VM_ASSERTS + 1))
  if n=$(jq -s 'length' "$file" 2>/dev/null) && [ "$n" = 1 ]; then
    printf '  ok   %s is one JSON value\n' "$what"
  else
    vm_fail "$what: not exactly one JSON value ($(head -c 200 "$file" | tr '\n' ' '))"
  fi
}

assert_true() {
  local what=$1
  shift
  VM_ASSERTS=$((VM_ASSERTS + 1))
  if "$@"; then
    printf '  ok   %s\n' "$what"
  else
    vm_fail "$what: '$*' exited $?"
  fi
}

# vm_test [-t SECS] [-e RC] NAME CMD...
vm_test() {
  local t=$VM_STEP_TIMEOUT want=0 name rc start
  while :; do
    case $1 in
    -t) t=$2; shift 2 ;;
    -e) want=$2; shift 2 ;;
    *) break ;;
    esac
  done
  name=$1
  shift
  VM_STEPS=$((${VM_STEPS:-0} + 1))
  VM_OUT="$VM_WORK/step$VM_STEPS.out"
  VM_ERR="$VM_WORK/step$VM_STEPS.err"
  VM_ASSERTS=$((VM_ASSERTS + 1))
  start=$(date +%s.%N)
  if declare -F "$1" >/dev/null; then
    # A function of the test: give the child bash every function.
    # shellcheck disable=SC2046 # function names are single words
    export -f $(declare -F | awk '{ print $3 }')
    timeout -k 5 "$t" bash -c '"$@"' vm-step "$@" >"$VM_OUT" 2>"$VM_ERR" </dev/null
  else
    timeout -k 5 "$t" "$@" >"$VM_OUT" 2>"$VM_ERR" </dev/null
  fi
  rc=$?
  local took
  took=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
  if [ "$rc" = "$want" ]; then
    printf '  ok   step %s (%s s)\n' "$name" "$took"
    return 0
  fi
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    vm_fail "step $name: timed out after $t s: $*"
  else
    vm_fail "step $name: exit $rc (expected $want): $*"
  fi
  vm__show "$VM_OUT" stdout
  vm__show "$VM_ERR" stderr
  return 1
}

vm__show() {
  [ -s "$1" ] || return 0
  printf '    --- %s (last 25 lines) ---\n' "$2"
  tail -n 25 "$1" | sed 's/^/    | /'
}

# vm_ipv6_expand ADDR: print ADDR (any IPv6 text form, also ::ffff:a.b.c.d) in the
# kernel's sysfs GID notation, eight 4-digit lower-case hex groups.
vm_ipv6_expand() {
  local a=$1 head tail i n g out=''
  local -a hg tg groups
  if [[ $a =~ ^(.*:)([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    a=${BASH_REMATCH[1]}$(printf '%x:%x' $((BASH_REMATCH[2] * 256 + BASH_REMATCH[3])) \
      $((BASH_REMATCH[4] * 256 + BASH_REMATCH[5])))
  fi
  if [[ $a == *::* ]]; then
    head=${a%%::*} tail=${a#*::}
  else
    head=$a tail=''
  fi
  IFS=: read -r -a hg <<<"$head"
  IFS=: read -r -a tg <<<"$tail"
  n=$((8 - ${#hg[@]} - ${#tg[@]}))
  if [[ $a == *::* ]]; then [ "$n" -ge 1 ] || return 1; else [ "$n" = 0 ] || return 1; fi
  groups=("${hg[@]}")
  for ((i = 0; i < n; i++)); do groups+=(0); done
  groups+=("${tg[@]}")
  for g in "${groups[@]}"; do
    [[ $g =~ ^[0-9A-Fa-f]{1,4}$ ]] || return 1
    out+=$(printf '%04x' "$((16#$g))"):
  done
  printf '%s\n' "${out%:}"
}

# vm_export NAME PATH: send a file or directory to the host over the console (tar.gz,
# base64, with its sha256); run-guest.sh unpacks it into its work directory under
# artifacts/<test>/NAME and a host-side check (tests/<test>.host.sh) can use it.
vm_export() {
  local name=$1 path=$2 tgz sum
  tgz=$VM_WORK/.export-$name.tgz
  tar -C "$(dirname "$path")" -czf "$tgz" "$(basename "$path")" || return 1
  sum=$(sha256sum <"$tgz" | cut -d' ' -f1)
  printf '\nIBUP-VM-FILE-BEGIN %s %s %s\n' "$VM_TEST" "$name" "$sum"
  base64 -w 76 "$tgz"
  printf 'IBUP-VM-FILE-END %s %s\n' "$VM_TEST" "$name"
}

# ---------------------------------------------------------------------------------
# The network.

vm_wait_rxe() {
  local dev=$1 secs=${2:-30} i=0 p
  p=/sys/class/infiniband/$dev/ports/1
  while [ "$i" -lt $((secs * 10)) ]; do
    if [ -r "$p/state" ] && [[ $(cat "$p/state") == *ACTIVE* ]] &&
      [[ $(cat "$p/gids/0" 2>/dev/null) == fe80:* ]] &&
      [[ $(cat "$p/gids/1" 2>/dev/null) == 0000:0000:0000:0000:0000:ffff:* ]]; then
      return 0
    fi
    sleep 0.1
    i=$((i + 1))
  done
  echo "vm_wait_rxe: $dev not active with link-local and IPv4 GIDs after $secs s" >&2
  return 1
}

# vm_net_setup [N]: the bridge and N (default 2) nodes; fills VM_RXE, VM_NETDEV,
# VM_PEER, VM_IP (index i = node i) and waits until every rxe port is ACTIVE.
vm_net_setup() {
  local n=${1:-2} i
  sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || return 1
  ip link add "$VM_BRIDGE" type bridge || return 1
  ip link set "$VM_BRIDGE" up || return 1
  VM_RXE=() VM_NETDEV=() VM_PEER=() VM_IP=()
  for ((i = 0; i < n; i++)); do
    vm_net_add_node --rxe || return 1
  done
  for ((i = 0; i < n; i++)); do
    vm_wait_rxe "${VM_RXE[$i]}" 30 || return 1
  done
}

# vm_net_add_node [--rxe|--no-rxe]: one more node i (veth <x>0 on the bridge through <x>1,
# 10.99.0.<i+1>/24 on <x>0, rxe<i> on <x>0 unless --no-rxe, in which case VM_RXE[i]
# is empty).  Does not wait for the rxe port; vm_wait_rxe does.
vm_net_add_node() {
  local i=${#VM_NETDEV[@]} x rxe=''
  x=${VM_NODE_LETTERS[$i]:?too many nodes}
  ip link add "${x}0" type veth peer name "${x}1" || return 1
  ip link set "${x}1" master "$VM_BRIDGE" || return 1
  ip addr add "$VM_SUBNET.$((i + 1))/24" dev "${x}0" || return 1
  ip link set "${x}1" up || return 1
  ip link set "${x}0" up || return 1
  if [ "${1:-}" != --no-rxe ]; then
    rxe=rxe$i
    rdma link add "$rxe" type rxe netdev "${x}0" || return 1
  fi
  VM_RXE+=("$rxe") VM_NETDEV+=("${x}0") VM_PEER+=("${x}1") VM_IP+=("$VM_SUBNET.$((i + 1))")
}

vm_net_teardown() {
  local d x
  for d in /sys/class/infiniband/*; do
    [ -e "$d" ] || continue
    rdma link del "${d##*/}" 2>/dev/null
  done
  for x in /sys/class/net/*; do
    x=${x##*/}
    case $x in lo) continue ;; esac
    ip link del "$x" 2>/dev/null
  done
  VM_RXE=() VM_NETDEV=() VM_PEER=() VM_IP=()
  return 0
}

# ---------------------------------------------------------------------------------
# Running tests (in the guest's /init).

vm__load_modules() {
  local m
  for m in rdma_rxe ib_uverbs rdma_ucm ib_umad veth bridge; do
    modprobe "$m" || {
      echo "modprobe $m failed; dmesg: $(dmesg | tail -n 5)"
      return 1
    }
  done
}

# vm__run_one NAME FILE: the body of one test's process.
vm__run_one() {
  VM_TEST=$1
  VM_WORK=$VM_WORKROOT/$1
  export VM_TEST VM_WORK
  cd "$VM_WORK" || exit 1
  if ! vm_net_setup 2; then
    VM_ASSERTS=1
    vm_fail "network setup failed"
  else
    # shellcheck source=/dev/null
    . "$2"
  fi
  if [ "$VM_FAILS" -gt 0 ]; then
    if [ "$VM_FAILS" -gt 1 ]; then
      printf '%s [and %d more failures]\n' "$VM_REASON" "$((VM_FAILS - 1))" >"$VM_WORK/reason"
    else
      printf '%s\n' "$VM_REASON" >"$VM_WORK/reason"
    fi
    exit 1
  fi
  if [ "$VM_ASSERTS" = 0 ]; then
    echo "the test made no assertion" >"$VM_WORK/reason"
    exit 1
  fi
  exit 0
}

vm_main() {
  local name file rc verdict reason start took tpid limit=$VM_TEST_TIMEOUT
  local pass=0 fail=0 skip=0
  export PATH=/usr/sbin:/usr/bin:/sbin:/bin
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:print_summary=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
  ulimit -l unlimited 2>/dev/null # verbs pin memory
  if [ -r /etc/ibup-vm.conf ]; then
    # shellcheck source=/dev/null
    . /etc/ibup-vm.conf
  fi
  local setup_err
  if ! setup_err=$(vm__load_modules 2>&1); then
    echo "IBUP-VM-SETUP FAIL $(printf '%s' "$setup_err" | tr '\n' ' ')"
    return 3
  fi
  echo "IBUP-VM-SETUP ok kernel=$(uname -r) ibup=$(ibup --version 2>&1 | head -1)"
  mkdir -p "$VM_WORKROOT"
  for name in ${VM_TESTS:-}; do
    file=$VM_HOME/tests/$name.sh
    echo "IBUP-VM-BEGIN $name"
    rm -rf "${VM_WORKROOT:?}/$name"
    mkdir -p "$VM_WORKROOT/$name"
    start=$(date +%s)
    if [ ! -r "$file" ]; then
      rc=1
      echo "no such test file: $file" >"$VM_WORKROOT/$name/reason"
    else
      # A test may ask for more time than VM_TEST_TIMEOUT with a header line
      # "# vm-test-timeout: SECS".
      limit=$(sed -n 's/^# vm-test-timeout: *\([0-9][0-9]*\) *$/\1/p' "$file" | head -n 1)
      limit=${limit:-$VM_TEST_TIMEOUT}
      [ "$limit" -ge "$VM_TEST_TIMEOUT" ] || limit=$VM_TEST_TIMEOUT
      # Own process group (timeout makes one): kill what the test left running.
      # shellcheck disable=SC2016 # the child bash expands them
      timeout -k 10 "$limit" bash -c '. "$1"; vm__run_one "$2" "$3"' vm-test \
        "$VM_HOME/harness.sh" "$name" "$file" </dev/null &
      tpid=$!
      wait "$tpid"
      rc=$?
      kill -KILL -- "-$tpid" 2>/dev/null
    fi
    took=$(($(date +%s) - start))
    reason=''
    case $rc in
    0) verdict=PASS pass=$((pass + 1)) ;;
    77)
      verdict=SKIP skip=$((skip + 1))
      reason=$(cat "$VM_WORKROOT/$name/skip" 2>/dev/null)
      ;;
    *)
      verdict=FAIL fail=$((fail + 1))
      if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        reason="test timed out after $limit s"
      else
        reason=$(head -n 1 "$VM_WORKROOT/$name/reason" 2>/dev/null)
        reason=${reason:-exit status $rc}
      fi
      ;;
    esac
    echo "IBUP-VM-TEST $name $verdict${reason:+ $reason} (${took}s)"
    vm_net_teardown
  done
  echo "IBUP-VM-SUMMARY pass=$pass fail=$fail skip=$skip"
  [ "$fail" = 0 ] && [ $((pass + skip)) -gt 0 ]
}
