#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run Soft-RoCE tests in a QEMU guest: real kernel RDMA (rdma_rxe) on veth pairs.
#
# Gets the cached guest image from build-image.sh, appends a small second initramfs
# (the ibup binary with the shared libraries the guest lacks, the harness, the tests,
# tools/capture-fixture.sh when the repository has it), boots it under a hard
# wall-clock timeout, and reads the verdicts from the serial console.
# A test whose header says "# vm-image: inbox" runs in a guest booted from a copy of
# the inbox tree (build-image.sh --variant inbox) after its NAME.pre.sh changed that
# copy on the host; tests of different images run in one guest per image.
# See tests/vm/README.md.
set -euo pipefail
# The whole script is one { } group: bash parses it completely before running it, so
# editing this file while a (long) run is going does not break that run.
{

PROG=${0##*/}
SELF_SCRIPT=$(readlink -f -- "${BASH_SOURCE[0]}")
HERE=$(cd "$(dirname "$SELF_SCRIPT")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)

usage() {
  cat <<EOF
Usage: $PROG --ibup PATH [--test SPEC] [OPTIONS]

Boot the Soft-RoCE guest and run tests in it against the given ibup binary.

  --ibup PATH            the ibup executable to test (or \$IBUP_VM_IBUP)
  --test SPEC            "all" (default), a test name from tests/vm/tests (e.g.
                         rxe-traffic), a path to a test script, or a comma- or
                         space-separated list of those
  --timeout SECS         hard wall-clock limit for the guest (default 1200, or
                         \$IBUP_VM_TIMEOUT); past it the VM is killed and the run fails
  --test-timeout SECS    limit for one test inside the guest (default 300)
  --step-timeout SECS    default limit for one vm_test step (default 60)
  --log FILE             where to write the serial console (default: in a
                         temporary directory, kept and named when the run fails)
  --cache DIR            image cache root (see build-image.sh --cache)
  --extra-packages "A B" more Debian packages in the image (see build-image.sh)
  --kernel-suite NAME    the guest kernel from that suite, e.g. bookworm-backports
                         (see build-image.sh)
  --image NAME           "rdma" (the image with the RDMA user space) or "inbox" (a
                         copy of the tree without it, changed on the host by the
                         tests' NAME.pre.sh hooks, then packed); default: what each
                         test's "# vm-image:" header line says, else rdma
  --capture-tool PATH    the capture-fixture script to put in the guest as
                         /usr/bin/capture-fixture.sh (default: tools/capture-fixture.sh
                         when it exists; "none" for none)
  --add SRC:DEST         put the host file SRC into the guest at DEST (repeatable)
  --sweep PATH           the ibup-sweep executable (the fabric sweep's MPI program) to
                         put in the guest as /usr/bin/ibup-sweep (default: ibup-sweep
                         next to the ibup binary when there is one, "auto"; "none"
                         for none)
  --pre-timeout SECS     limit for each test's NAME.pre.sh on the host (default 900)
  --accel NAME           QEMU accelerator (default tcg, or \$IBUP_VM_ACCEL)
  --memory SIZE          guest memory (default 3G)
  --smp N                guest CPUs (default 2)
  -v, --verbose          copy the console to stderr while the guest runs
  --list                 list the test names and exit
  -h, --help             show this help

Environment: IBUP_VM_IBUP, IBUP_VM_TIMEOUT, IBUP_VM_ACCEL (defaults of the options
above), IBUP_VM_QEMU (the QEMU binary), IBUP_VM_CACHE, IBUP_VM_MIRROR (build-image.sh).

Exit status: 0 every test passed (or skipped) and the guest finished; 1 a test failed,
or the guest hung, panicked or never printed its DONE marker; 2 usage error;
77 qemu-system-x86_64 is not installed, or debootstrap is not and the image is not cached.
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() { # die MESSAGE [STATUS]
  log "error: $1"
  exit "${2:-1}"
}

ibup=${IBUP_VM_IBUP:-}
test_spec=all
timeout_s=${IBUP_VM_TIMEOUT:-1200}
test_timeout=300
step_timeout=60
log_file=''
cache_args=()
capture_tool=auto
image_kind=''
pre_timeout=900
orig_args=("$@")
adds=()
sweep=auto
accel=${IBUP_VM_ACCEL:-tcg}
memory=3G
smp=2
verbose=0
list=0

need() { [ $# -ge 2 ] || die "$1 needs a value" 2; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }
while [ $# -gt 0 ]; do
  case $1 in
  --ibup) need "$@"; ibup=$2; shift 2 ;;
  --test) need "$@"; test_spec=$2; shift 2 ;;
  --timeout) need "$@"; timeout_s=$2; shift 2 ;;
  --test-timeout) need "$@"; test_timeout=$2; shift 2 ;;
  --step-timeout) need "$@"; step_timeout=$2; shift 2 ;;
  --log) need "$@"; log_file=$2; shift 2 ;;
  --cache) need "$@"; cache_args+=(--cache "$2"); shift 2 ;;
  --extra-packages) need "$@"; cache_args+=(--extra-packages "$2"); shift 2 ;;
  --kernel-suite) need "$@"; cache_args+=(--kernel-suite "$2"); shift 2 ;;
  --capture-tool) need "$@"; capture_tool=$2; shift 2 ;;
  --image) need "$@"; image_kind=$2; shift 2 ;;
  --pre-timeout) need "$@"; pre_timeout=$2; shift 2 ;;
  --add) need "$@"; adds+=("$2"); shift 2 ;;
  --sweep) need "$@"; sweep=$2; shift 2 ;;
  --accel) need "$@"; accel=$2; shift 2 ;;
  --memory) need "$@"; memory=$2; shift 2 ;;
  --smp) need "$@"; smp=$2; shift 2 ;;
  -v | --verbose) verbose=1; shift ;;
  --list) list=1; shift ;;
  -h | --help) usage; exit 0 ;;
  *) log "unknown argument '$1'"; usage >&2; exit 2 ;;
  esac
done
for n in "$timeout_s" "$test_timeout" "$step_timeout" "$smp" "$pre_timeout"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || die "not a positive number: '$n'" 2
done

# ---------------------------------------------------------------------------------
# Which tests.

tests_dir=$HERE/tests
declare -a test_names=() test_files=()
add_test() {
  local name=$1 file=$2 n
  for n in "${test_names[@]}"; do
    [ "$n" != "$name" ] || return 0
  done
  [[ $name =~ ^[A-Za-z0-9_.-]+$ ]] || die "bad test name '$name'" 2
  test_names+=("$name")
  test_files+=("$file")
}
read -r -a specs <<<"${test_spec//,/ }"
[ "${#specs[@]}" -gt 0 ] || die "--test is empty" 2
for s in "${specs[@]}"; do
  if [ "$s" = all ]; then
    for f in "$tests_dir"/*.sh; do
      [ -e "$f" ] || continue
      [[ $f != *.host.sh && $f != *.pre.sh ]] || continue
      b=${f##*/}
      add_test "${b%.sh}" "$f"
    done
  elif [ -f "$tests_dir/$s.sh" ] && [[ $s != *.host && $s != *.pre ]]; then
    add_test "$s" "$tests_dir/$s.sh"
  elif [ -f "$s" ]; then
    b=${s##*/}
    add_test "${b%.sh}" "$(readlink -f -- "$s")"
  else
    die "no test '$s' (not in $tests_dir, not a file); see --list" 2
  fi
done
if [ "$list" = 1 ]; then
  printf '%s\n' "${test_names[@]}"
  exit 0
fi
[ "${#test_names[@]}" -gt 0 ] || die "no tests selected" 2
case $image_kind in
'' | rdma | inbox) ;;
*) die "--image wants rdma or inbox, got '$image_kind'" 2 ;;
esac

# Which image each test wants.  Tests of several images: this script runs once per
# image, one after the other (a guest keeps both cores busy), the verdicts combined.
test_image() {
  local i
  i=$(sed -n 's/^# vm-image: *\([a-z]*\) *$/\1/p' "$1" | head -n 1)
  printf '%s\n' "${i:-rdma}"
}
if [ -z "$image_kind" ]; then
  declare -A group=()
  group_order=()
  for i in "${!test_names[@]}"; do
    g=$(test_image "${test_files[$i]}")
    case $g in rdma | inbox) ;; *) die "${test_files[$i]}: unknown vm-image '$g'" 2 ;; esac
    [ -n "${group[$g]:-}" ] || group_order+=("$g")
    group[$g]="${group[$g]:+${group[$g]},}${test_files[$i]}"
  done
  if [ "${#group_order[@]}" = 1 ]; then
    image_kind=${group_order[0]}
  else
    worst=0 all_skipped=1
    for g in "${group_order[@]}"; do
      extra=(--image "$g" --test "${group[$g]}")
      if [ -n "$log_file" ] && [ "$g" != rdma ]; then
        extra+=(--log "${log_file%.log}-$g.log")
      fi
      log "the $g image, for: ${group[$g]//"$tests_dir/"/}"
      set +e
      "$SELF_SCRIPT" "${orig_args[@]}" "${extra[@]}"
      grc=$?
      set -e
      [ "$grc" = 77 ] || all_skipped=0
      case $grc in
      0 | 77) ;;
      2) worst=2 ;;
      *) [ "$worst" = 2 ] || worst=1 ;;
      esac
    done
    [ "$all_skipped" = 0 ] || exit 77
    exit "$worst"
  fi
fi

[ -n "$ibup" ] || die "--ibup PATH is required" 2
if ! [ -f "$ibup" ] || ! [ -x "$ibup" ]; then
  die "ibup binary '$ibup' is not an executable file" 2
fi
ibup=$(readlink -f -- "$ibup")
if [ "$sweep" = auto ]; then
  sweep=$(dirname -- "$ibup")/ibup-sweep
  [ -x "$sweep" ] || sweep=none
fi
if [ "$sweep" != none ]; then
  { [ -f "$sweep" ] && [ -x "$sweep" ]; } || die "ibup-sweep '$sweep' is not an executable file" 2
  sweep=$(readlink -f -- "$sweep")
fi

# ---------------------------------------------------------------------------------
# Prerequisites: only a missing QEMU (or debootstrap, below) means "skip".

qemu=$(command -v "${IBUP_VM_QEMU:-qemu-system-x86_64}" || true)
if [ -z "$qemu" ]; then
  log "SKIP: ${IBUP_VM_QEMU:-qemu-system-x86_64} is not installed (apt-get install qemu-system-x86)"
  exit 77
fi
for tool in cpio gzip timeout flock ldd; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done

t_start=$(date +%s.%N)
set +e
image=$("$HERE/build-image.sh" "${cache_args[@]}" --variant "$image_kind")
rc=$?
set -e
if [ "$rc" = 77 ]; then
  log "SKIP: debootstrap is not installed and the guest image is not cached"
  exit 77
fi
if [ "$rc" != 0 ] || ! [ -d "$image" ]; then
  die "could not build the guest image (build-image.sh exit $rc)"
fi
t_image=$(date +%s.%N)

work=$(mktemp -d "${TMPDIR:-/tmp}/ibup-vm-run.XXXXXX")
keep_work=0
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  unmount_under "$work/rootfs"
  rm -rf --one-file-system -- "$work/rootfs"
  if [ "$keep_work" = 0 ]; then
    rm -rf -- "$work"
  fi
}
unmount_under() { # anything a pre-boot hook left mounted under $1 (proc, sys, ...)
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r)
}
trap cleanup EXIT
[ -n "$log_file" ] || {
  log_file=$work/console.log
}
mkdir -p "$(dirname "$log_file")"
log_file=$(readlink -f -- "$log_file")

# ---------------------------------------------------------------------------------
# The inbox image: a copy of the cached tree, changed on the host by each selected
# test's NAME.pre.sh (ROOT IBUP as arguments; IBUP_VM_ARTIFACTS a directory of its
# own), then packed.  A hook's status: 0 ok, 77 skip the test, else it fails the test.

declare -A pre_rc=()
base_initrd=$image/initramfs.cpio.gz
files_list=$image/files.txt
if [ "$image_kind" = inbox ]; then
  [ "$(id -u)" = 0 ] || die "the inbox image is installed into as root (chroot)"
  t_pre=$(date +%s.%N)
  root=$work/rootfs
  cp -a -- "$image/rootfs" "$root"
  # apt in the tree resolves the archive's name with this host's resolver.
  if [ -f /etc/resolv.conf ]; then
    rm -f -- "$root/etc/resolv.conf"
    cp -L -- /etc/resolv.conf "$root/etc/resolv.conf"
  fi
  for i in "${!test_names[@]}"; do
    name=${test_names[$i]}
    hook=${test_files[$i]%.sh}.pre.sh
    [ -f "$hook" ] || continue
    mkdir -p "$work/pre/$name"
    log "pre-boot step $name.pre.sh (limit $pre_timeout s)"
    set +e
    IBUP_VM_ARTIFACTS=$work/pre/$name timeout -k 10 "$pre_timeout" \
      bash "$hook" "$root" "$ibup" >"$work/pre-$name.log" 2>&1 </dev/null
    pre_rc[$name]=$?
    set -e
    unmount_under "$root"
    [ "${pre_rc[$name]}" != 124 ] || echo "FAIL killed after $pre_timeout s" >>"$work/pre-$name.log"
  done
  # The guest has no network: apt's lists and downloaded packages (~170 MB after an
  # install) stay out of the initramfs; dpkg's database goes in.
  rm -f -- "$root/etc/resolv.conf"
  rm -rf -- "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
  t_pack=$(date +%s.%N)
  files_list=$work/files.txt
  (cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort >"$files_list")
  base_initrd=$work/rootfs.cpio.gz
  (cd "$root" && cpio --quiet -o -H newc -R 0:0 <"$files_list") | gzip -1 -n >"$base_initrd"
  rm -rf --one-file-system -- "$root"
  log "inbox image: copy and pre-boot steps $(secs "$t_pre" "$t_pack") s, packed in" \
    "$(secs "$t_pack" "$(date +%s.%N)") s ($(du -h "$base_initrd" | cut -f1))"
fi

# ---------------------------------------------------------------------------------
# The per-run overlay initramfs.

ov=$work/overlay
mkdir -p "$ov/usr/bin" "$ov/usr/share/ibup-vm/tests" "$ov/etc"
install -m 0755 "$HERE/guest/init" "$ov/init"
install -m 0644 "$HERE/guest/harness.sh" "$ov/usr/share/ibup-vm/harness.sh"
for i in "${!test_names[@]}"; do
  install -m 0644 "${test_files[$i]}" "$ov/usr/share/ibup-vm/tests/${test_names[$i]}.sh"
done
install -m 0755 "$ibup" "$ov/usr/bin/ibup"

# Shared libraries: every one ldd resolves that the guest image does not have at the
# same (canonical) path.  Host and guest are both Debian 12, so same path, same ABI;
# this brings libasan/libubsan for a sanitizer build, or a locally built library.
declare -A guest_files=()
while IFS= read -r f; do guest_files[$f]=1; done <"$files_list"
libs_copied=()
bins=("$ibup")
if [ "$sweep" != none ]; then
  install -m 0755 "$sweep" "$ov/usr/bin/ibup-sweep"
  bins+=("$sweep")
fi
for bin in "${bins[@]}"; do
  if ldd_out=$(ldd "$bin" 2>&1); then
    if missing=$(grep '=> not found' <<<"$ldd_out"); then
      die "ldd cannot resolve libraries of $bin: $missing"
    fi
    while read -r lib; do
      [ -n "$lib" ] || continue
      canon_dir=$(readlink -f -- "$(dirname "$lib")")
      rel=${canon_dir#/}/${lib##*/}
      lexical=${lib#/}
      if [ -n "${guest_files[$rel]:-}" ] || [ -n "${guest_files[$lexical]:-}" ] ||
        [ -n "${guest_files[usr/$lexical]:-}" ]; then
        continue
      fi
      mkdir -p "$ov/$canon_dir"
      cp -L -- "$lib" "$ov/$rel"
      libs_copied+=("/$rel")
      guest_files[$rel]=1
    done < <(awk '$2 == "=>" && $3 ~ /^\// { print $3; next } $1 ~ /^\// { print $1 }' <<<"$ldd_out")
  elif ! grep -q 'not a dynamic executable\|statically linked' <<<"$ldd_out"; then
    die "ldd $bin failed: $ldd_out"
  fi
done

if [ "$capture_tool" = auto ]; then
  capture_tool=$REPO/tools/capture-fixture.sh
  [ -f "$capture_tool" ] || capture_tool=none
fi
if [ "$capture_tool" != none ]; then
  [ -f "$capture_tool" ] || die "capture tool '$capture_tool' not found" 2
  install -m 0755 "$capture_tool" "$ov/usr/bin/capture-fixture.sh"
fi
for a in "${adds[@]}"; do
  src=${a%%:*} dst=${a#*:}
  if ! [ -f "$src" ] || [ "$dst" = "$a" ] || [[ $dst != /* ]]; then
    die "--add wants SRC:/ABS/DEST, got '$a'" 2
  fi
  mkdir -p "$ov$(dirname "$dst")"
  cp -L -- "$src" "$ov$dst"
done

{
  printf 'VM_TESTS=%q\n' "${test_names[*]}"
  printf 'VM_TEST_TIMEOUT=%q\n' "$test_timeout"
  printf 'VM_STEP_TIMEOUT=%q\n' "$step_timeout"
} >"$ov/etc/ibup-vm.conf"

# Directory entries only for directories the guest does not already have (a directory
# entry for an existing one would reset its mode), then every file.
(
  cd "$ov"
  find . -mindepth 1 \( -type d -o -type f -o -type l \) | sed 's|^\./||' | LC_ALL=C sort |
    while IFS= read -r p; do
      if [ -d "$p" ] && [ -n "${guest_files[$p]:-}" ]; then continue; fi
      printf '%s\n' "$p"
    done | cpio --quiet -o -H newc -R 0:0
) | gzip -1 -n >"$work/overlay.cpio.gz"
cat "$base_initrd" "$work/overlay.cpio.gz" >"$work/initrd"

# ---------------------------------------------------------------------------------
# Boot.  One guest at a time per cache (the machines have two cores).

lock_dir=$(dirname "$image")
exec 8>"$lock_dir/.qemu.lock"
if ! flock -n 8; then
  log "another guest is running; waiting for it (at most $timeout_s s)"
  flock -w "$timeout_s" 8 || die "waited $timeout_s s for another guest to finish"
fi

qemu_args=(-accel "$accel" -smp "$smp" -m "$memory" -nodefaults -nographic -no-reboot
  -serial stdio -monitor none -nic none
  -kernel "$image/vmlinuz" -initrd "$work/initrd"
  -append "console=ttyS0 quiet rdinit=/init panic=-1")
log "image $image$([ "${#libs_copied[@]}" = 0 ] || printf ' + %s' "${libs_copied[*]}")"
log "booting ($accel, ${smp} CPUs, $memory) for: ${test_names[*]} (limit $timeout_s s; console: $log_file)"
t_boot=$(date +%s.%N)
set +e
if [ "$verbose" = 1 ]; then
  timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null 2>"$work/qemu.err" | tee "$log_file" >&2
  qrc=${PIPESTATUS[0]}
else
  timeout -k 10 "$timeout_s" "$qemu" "${qemu_args[@]}" </dev/null >"$log_file" 2>"$work/qemu.err"
  qrc=$?
fi
set -e
t_end=$(date +%s.%N)
exec 8>&-

# ---------------------------------------------------------------------------------
# Verdicts.

clean=$work/console.txt
# Without carriage returns and the firmware's terminal escape sequences.
tr -d '\r' <"$log_file" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\x1b[a-z]//g' >"$clean"

# Console text without the base64 of exported files.
readable() {
  awk '/^IBUP-VM-FILE-BEGIN / { print; on = 1; n = 0; next }
       /^IBUP-VM-FILE-END / { if (on) print "    [" n " lines of base64]"; on = 0; print; next }
       on { n++; next } { print }'
}

tail_console() {
  printf '%s\n' "----- last 40 console lines ($log_file) -----"
  readable <"$clean" | tail -n 40
  printf '%s\n' "----- end of console -----"
  if [ -s "$work/qemu.err" ]; then
    printf '%s\n' "----- qemu stderr -----"
    tail -n 20 "$work/qemu.err"
  fi
}

section_of() { # the console lines of one test, BEGIN to verdict
  awk -v n="$1" '$0 == "IBUP-VM-BEGIN " n { on = 1 } on { print } on && index($0, "IBUP-VM-TEST " n " ") == 1 { exit }' "$clean"
}

# extract_artifacts TEST DIR: the files the test sent with vm_export, into DIR/NAME/.
extract_artifacts() {
  local test=$1 dir=$2 name sum
  mkdir -p "$dir"
  while read -r name sum; do
    awk -v t="$test" -v n="$name" '
      $0 ~ "^IBUP-VM-FILE-BEGIN " && $2 == t && $3 == n { on = 1; next }
      $0 ~ "^IBUP-VM-FILE-END " && $2 == t && $3 == n { exit }
      on && /^[A-Za-z0-9+\/=]+$/ { print }' "$clean" | base64 -d >"$dir/$name.tgz" 2>/dev/null || true
    if [ "$(sha256sum <"$dir/$name.tgz" | cut -d' ' -f1)" != "$sum" ]; then
      echo "artifact $name of $test arrived damaged over the console" >&2
      return 1
    fi
    mkdir -p "$dir/$name"
    tar -C "$dir/$name" -xzf "$dir/$name.tgz" || return 1
  done < <(awk -v t="$test" '$1 == "IBUP-VM-FILE-BEGIN" && $2 == t { print $3, $4 }' "$clean")
}

# host_check TEST: run tests/TEST.host.sh ARTIFACT_DIR IBUP when it exists.  Prints
# nothing and returns 0 when there is none; otherwise its output is kept in
# $work/host-TEST.log and its status returned (77: skipped).
host_check() {
  local test=$1 hook=$tests_dir/$1.host.sh art=$work/artifacts/$1
  [ -f "$hook" ] || return 0
  if ! extract_artifacts "$test" "$art" >"$work/host-$test.log" 2>&1; then
    return 1
  fi
  IBUP_VM_ARTIFACTS=$art IBUP_VM_CLEAN_CONSOLE=$clean \
    timeout -k 5 300 bash "$hook" "$art" "$ibup" >>"$work/host-$test.log" 2>&1
}


pass=0 fail=0 skip=0
problems=()
declare -a failed_tests=()
for name in "${test_names[@]}"; do
  if [ -n "${pre_rc[$name]:-}" ]; then
    sed 's/^/    pre| /' "$work/pre-$name.log"
    case ${pre_rc[$name]} in
    0) ;;
    77)
      printf 'SKIP %s: pre-boot step skipped: %s\n' "$name" "$(tail -n 1 "$work/pre-$name.log")"
      skip=$((skip + 1))
      continue
      ;;
    *)
      printf 'FAIL %s: pre-boot step (%s.pre.sh, exit %s) failed: %s\n' "$name" "$name" \
        "${pre_rc[$name]}" "$(grep -m1 '^FAIL' "$work/pre-$name.log" || tail -n 1 "$work/pre-$name.log")"
      fail=$((fail + 1))
      failed_tests+=("$name")
      continue
      ;;
    esac
  fi
  line=$(grep -m1 "^IBUP-VM-TEST $name " "$clean" || true)
  if [ -z "$line" ]; then
    printf 'FAIL %s: no verdict (the guest did not finish it)\n' "$name"
    fail=$((fail + 1))
    failed_tests+=("$name")
    continue
  fi
  rest=${line#"IBUP-VM-TEST $name "}
  verdict=${rest%% *}
  detail=''
  [ "$rest" = "$verdict" ] || detail=${rest#"$verdict" }
  if [ "$verdict" = PASS ] && [ -f "$tests_dir/$name.host.sh" ]; then
    set +e
    host_check "$name"
    hrc=$?
    set -e
    sed 's/^/    host| /' "$work/host-$name.log"
    case $hrc in
    0) detail="${detail:+$detail; }host check passed" ;;
    77) detail="${detail:+$detail; }host check skipped" ;;
    *)
      verdict=FAIL
      detail="host check ($name.host.sh) failed: $(tail -n 1 "$work/host-$name.log")"
      ;;
    esac
  fi
  case $verdict in
  PASS) pass=$((pass + 1)) ;;
  SKIP) skip=$((skip + 1)) ;;
  *) verdict=FAIL fail=$((fail + 1)) failed_tests+=("$name") ;;
  esac
  printf '%s %s%s\n' "$verdict" "$name" "${detail:+: $detail}"
done

done_line=$(grep -m1 '^IBUP-VM-DONE rc=' "$clean" || true)
setup_line=$(grep -m1 '^IBUP-VM-SETUP ' "$clean" || true)
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
  [ -n "$done_line" ] && log "note: the guest finished but did not power off; killed at the limit"
  [ -n "$done_line" ] || problems+=("the guest did not finish within $timeout_s s (killed)")
fi
if [ -z "$done_line" ]; then
  problems+=("no IBUP-VM-DONE marker on the console (qemu exit $qrc)")
else
  done_rc=${done_line#IBUP-VM-DONE rc=}
  done_rc=${done_rc%% *}
  [ "$done_rc" = 0 ] || problems+=("the guest reported rc=$done_rc")
fi
case $setup_line in
'IBUP-VM-SETUP ok'*) ;;
'') [ -z "$done_line" ] || problems+=("no IBUP-VM-SETUP line") ;;
*) problems+=("guest setup failed: ${setup_line#IBUP-VM-SETUP }") ;;
esac
if grep -q 'Kernel panic' "$clean"; then
  problems+=("the guest kernel panicked: $(grep -m1 'Kernel panic' "$clean")")
fi
if grep -qE '(^|\] )(BUG:|Oops|WARNING: CPU)' "$clean"; then
  log "note: the guest kernel logged: $(grep -m1 -E '(^|\] )(BUG:|Oops|WARNING: CPU)' "$clean")"
fi
if [ $((pass + skip)) = 0 ] && [ "$fail" = 0 ]; then
  problems+=("no test ran")
fi

timing="image $(secs "$t_start" "$t_image") s, guest $(secs "$t_boot" "$t_end") s"
if [ "$fail" = 0 ] && [ "${#problems[@]}" = 0 ]; then
  printf 'vm: %d passed, %d failed, %d skipped (%s)\n' "$pass" "$fail" "$skip" "$timing"
  exit 0
fi

keep_work=1
for name in "${failed_tests[@]}"; do
  printf '%s\n' "----- console of $name -----"
  section_of "$name" | readable | tail -n 80
done
for p in "${problems[@]}"; do
  printf 'FAIL guest: %s\n' "$p"
done
tail_console
printf 'vm: %d passed, %d failed, %d skipped (%s); console log: %s; work dir: %s\n' \
  "$pass" "$fail" "$skip" "$timing" "$log_file" "$work"
exit 1
}
