#!/usr/bin/env bash
# run.sh - run `ibup status` on hostile fake roots.
#
# usage: tests/hostile/run.sh IBUP [CASE...]
#
# Every case starts from a copy of the hbv3 fixture (tests/fixtures/hbv3,
# without expected/), breaks something in it, and runs
#   IBUP --root ROOT status --json   and   IBUP --root ROOT status
# Each run must: finish within the time limit (timeout 20 s), not crash
# (exit code < 128; no sanitizer report on stderr), exit 0 (or the case's RC:
# 3 where the RDMA devices cannot be listed), print valid JSON
# (--json), never print the same warning line twice, and, where the case
# breaks something reportable, print one warning line naming it (exactly
# once).  Each case also checks that what could still be read is still
# reported (e.g. the other device with its rate).  Cases that feed huge files
# run under an address-space limit of 512 MiB (prlimit --as), except under
# AddressSanitizer, which needs a huge address space: there ASAN_OPTIONS
# max_allocation_size_mb=512 bounds what one allocation may take instead.
# ASan is detected from IBUP_ASAN=1 or from the binary (libasan, __asan_init).
# Cases that need an unprivileged user run ibup through setpriv as 65534.
#
# Prints `PASS name` or `FAIL name: reason` per case (`SKIP name: reason`
# when this machine cannot run it; CASE... picks some; --list lists them)
# and exits 1 if any failed.  IBUP_HOSTILE_KEEP=DIR keeps
# the roots and outputs of failed cases in DIR.
set -uo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
REPO=$(cd -- "$HERE/../.." && pwd -P)
FIXTURE="$REPO/tests/fixtures/hbv3"
TIME_LIMIT=20
AS_LIMIT=$((512 * 1024 * 1024))

# Paths inside the hbv3 fixture.
CLASS=sys/class/infiniband
IB=$CLASS/mlx5_ib0
P=$IB/ports/1
KERNEL=5.15.0-1068-azure

CASES=(baseline garbage-rate garbage-state garbage-node_guid garbage-pkeys0 garbage-gids0
	nul-fw_ver binary-fw_ver escape-in-rate hostile-os-release-values
	missing-rate missing-state missing-ports empty-class
	dir-rate dir-fw_ver fifo-rate fifo-files
	loop-class loop-ports escape-etc escape-canary escape-device-link escape-canary-no-openat2
	huge-rate huge-gid huge-proc-modules huge-modules-dep huge-os-release huge-limits-conf
	huge-ofed-info huge-cpuinfo
	many-devices unreadable-pkeys unreadable-ports
	malformed-limits malformed-os-release
	class-is-file unreadable-class check-class-is-file check-unreadable-class
	check-unreadable-ports
	escape-counter-name escape-osrelease escape-ipoib-name escape-check-values
	inf-link-speed escape-expect-d-name huge-counters
	port-01 table-01 chardev-rate chardev-fw_ver)

usage() { sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

# ---------------------------------------------------------------- helpers

# garbage FILE: 100 random bytes (from /dev/urandom) into FILE.
garbage() { head -c 100 /dev/urandom >"$1"; }

# garbage_text FILE: 100 random bytes without NUL into FILE (so the reader
# gets them as a string instead of failing on the NUL).
garbage_text() { head -c 1000 /dev/urandom | tr -d '\000' | head -c 100 >"$1"; }

# real REL: the symlink-free path of ROOT/REL (REL must exist).
real() { realpath -e -- "$ROOT/$1"; }

# Expectations of the current case, set by its case_* function.
WARN=()     # fixed strings: each must be in exactly one warning line
ABSENT=()   # fixed strings that must appear nowhere (stdout, stderr)
CHECKS=()   # python expressions over the JSON (j; dev(name); port(name, n))
TEXT=()     # fixed strings the text output must contain
NO_WARN=0   # 1: no warning at all
CLEAN=0     # 1: stdout and stderr must carry no control characters
BOUNDED=0   # 1: run under the address-space (or ASan allocation) limit
NOBODY=0    # 1: run as an unprivileged user (65534)
PRELOAD=''  # a library to LD_PRELOAD into ibup
SKIP=''     # why the case cannot run here
RC=0        # the exit code both runs must have
CMD=(status) # the command and its options (--json is added for the JSON run)
ROOT=''

# ---------------------------------------------------------------- cases
# Each case_<name> gets the case root in $ROOT (a copy of hbv3) and breaks it.

case_baseline() {
	NO_WARN=1
	CHECKS=('len(j["devices"]) == 2' 'port("mlx5_ib0", 1)["rate_gbps"] == 200'
		'port("mlx5_an0", 1)["rate_gbps"] == 40' 'j["ipoib"][0]["pkey"] == "0x800b"')
	TEXT=(mlx5_ib0 '200 Gb/s' mlx5_an0 '40 Gb/s')
}

# The other device and the rest of this port are still reported.
still_there() {
	CHECKS+=('port("mlx5_an0", 1)["rate_gbps"] == 40' 'port("mlx5_an0", 1)["state"] == "active"'
		'dev("mlx5_ib0")["fw_ver"] == "20.31.1014"')
	TEXT+=(mlx5_an0 '40 Gb/s' mlx5_ib0)
}

case_garbage_rate() {
	garbage "$ROOT/$P/rate"
	WARN=("'/$P/rate'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] is None' 'port("mlx5_ib0", 1)["lid"] == 958'
		'port("mlx5_ib0", 1)["state"] == "active"')
}

case_garbage_state() {
	garbage "$ROOT/$P/state"
	WARN=("'/$P/state'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["state"] is None' 'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_garbage_node_guid() {
	garbage "$ROOT/$IB/node_guid"
	WARN=("'/$IB/node_guid'")
	still_there
	CHECKS+=('dev("mlx5_ib0")["node_guid"] is None' 'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_garbage_pkeys0() {
	garbage "$ROOT/$P/pkeys/0"
	WARN=("'/$P/pkeys/0'")
	still_there
	CHECKS+=('"0x800b" not in port("mlx5_ib0", 1)["pkeys"]' '"0x7fff" in port("mlx5_ib0", 1)["pkeys"]'
		'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_garbage_gids0() {
	garbage "$ROOT/$P/gids/0"
	WARN=("'/$P/gids/0'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] == 200' '"0x800b" in port("mlx5_ib0", 1)["pkeys"]')
}

case_nul_fw_ver() {
	printf '20.31\0.1014\n' >"$ROOT/$IB/fw_ver"
	WARN=("'/$IB/fw_ver'")
	CHECKS=('dev("mlx5_ib0")["fw_ver"] in (None, "20.31")' 'dev("mlx5_ib0")["board_id"] == "MT_0000000223"'
		'port("mlx5_ib0", 1)["rate_gbps"] == 200' 'port("mlx5_an0", 1)["rate_gbps"] == 40')
}

# Binary (non-UTF-8, control characters) in a string attribute that has no
# format to check: the JSON must stay valid, no raw control bytes reach the
# terminal.
case_binary_fw_ver() {
	garbage_text "$ROOT/$IB/fw_ver"
	printf '\033[2J\033]0;pwned\007\377\376\n' >"$ROOT/$IB/board_id"
	CLEAN=1
	still_there
	CHECKS=('port("mlx5_ib0", 1)["rate_gbps"] == 200' 'port("mlx5_an0", 1)["rate_gbps"] == 40')
}

# Terminal escapes in a malformed value: the warning must name the file once
# and not pass the escapes through.
case_escape_in_rate() {
	printf '\033]0;pwned\007\033[2J200 Gb/sec (4X HDR)\n' >"$ROOT/$P/rate"
	WARN=("'/$P/rate'")
	CLEAN=1
	still_there
}

case_hostile_os_release_values() {
	printf 'ID=ubu\033[31mntu\nVERSION_ID="22.04\377"\nPRETTY_NAME="\033]0;pwned\007Evil \001\002 OS \xc3\x28"\n' \
		>"$ROOT/etc/os-release"
	CLEAN=1
	still_there
	CHECKS+=('j["platform"]["kernel"] == "5.15.0-1068-azure"')
}

case_missing_rate() {
	rm -f -- "$ROOT/$P/rate"
	WARN=("'/$P/rate'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["lid"] == 958' 'port("mlx5_ib0", 1)["state"] == "active"')
}

case_missing_state() {
	rm -f -- "$ROOT/$P/state"
	WARN=("'/$P/state'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_missing_ports() {
	rm -rf -- "$(real "$IB/ports")"
	WARN=("'/$IB/ports'")
	still_there
	CHECKS+=('dev("mlx5_ib0")["ports"] == []')
}

case_empty_class() {
	rm -f -- "$ROOT/$CLASS"/*
	NO_WARN=1
	CHECKS=('j["devices"] == []' 'j["platform"]["kernel"] == "5.15.0-1068-azure"')
}

case_dir_rate() {
	rm -f -- "$ROOT/$P/rate"
	mkdir -- "$ROOT/$P/rate"
	WARN=("'/$P/rate'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["lid"] == 958')
}

case_dir_fw_ver() {
	rm -f -- "$ROOT/$IB/fw_ver"
	mkdir -- "$ROOT/$IB/fw_ver"
	WARN=("'/$IB/fw_ver'")
	CHECKS=('dev("mlx5_ib0")["fw_ver"] is None' 'port("mlx5_ib0", 1)["rate_gbps"] == 200'
		'port("mlx5_an0", 1)["rate_gbps"] == 40')
}

case_fifo_rate() {
	rm -f -- "$ROOT/$P/rate"
	mkfifo -- "$ROOT/$P/rate"
	WARN=("'/$P/rate'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["lid"] == 958')
}

# FIFOs in place of the files read whole or line by line: nothing may block.
case_fifo_files() {
	local f
	for f in etc/os-release proc/modules proc/cpuinfo etc/security/limits.conf usr/bin/ofed_info \
		"usr/lib/modules/$KERNEL/modules.dep" sys/class/infiniband_verbs/abi_version \
		"$IB/node_type" "$P/counters/port_xmit_data" "$P/gids/0"; do
		rm -f -- "$ROOT/$f"
		mkfifo -- "$ROOT/$f"
	done
	WARN=("'/etc/os-release'" "'/proc/modules'" "'/etc/security/limits.conf'" "'/$IB/node_type'"
		"'/$P/gids/0'")
	CHECKS=('port("mlx5_ib0", 1)["rate_gbps"] == 200' 'port("mlx5_an0", 1)["rate_gbps"] == 40')
}

case_loop_class() {
	ln -s loop0 "$ROOT/$CLASS/loop0"
	WARN=("'/$CLASS/loop0'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_loop_ports() {
	ln -s 2 "$(real "$IB/ports")/2"
	ln -s 4 "$(real "$IB/ports")/3"
	ln -s 3 "$(real "$IB/ports")/4"
	WARN=("'/$IB/ports/2'" "'/$IB/ports/3'" "'/$IB/ports/4'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

# A device link that climbs far above the root: it must stay in the root.
case_escape_etc() {
	ln -s ../../../../../../../etc "$ROOT/$CLASS/evil"
	WARN=("'/$CLASS/evil/ports'")
	still_there
	CHECKS+=('dev("evil")["node_guid"] is None' 'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

# canary_device DIR: a complete fake RDMA device outside every root, with
# values that must never show up in ibup's output.
canary_device() {
	mkdir -p -- "$1/ports/1"
	printf '1: CA\n' >"$1/node_type"
	printf 'dead:beef:0bad:f00d\n' >"$1/node_guid"
	printf '66.66.6666\n' >"$1/fw_ver"
	printf '4: ACTIVE\n' >"$1/ports/1/state"
	printf '600 Gb/sec (12X HDR)\n' >"$1/ports/1/rate"
	printf 'InfiniBand\n' >"$1/ports/1/link_layer"
}

# Relative and absolute symlinks to a real device outside the root.
case_escape_canary() {
	local c="$WORK/canary-${ROOT##*/}" up=''
	canary_device "$c/dev"
	chmod -R a+rX "$c"
	# enough ../ to leave the root from sys/class/infiniband, then down to it
	up=$(printf '../%.0s' {1..40})
	ln -s "$up${c#/}/dev" "$ROOT/$CLASS/evil"
	ln -s "$c/dev" "$ROOT/$CLASS/evil2"
	WARN=("'/$CLASS/evil'" "'/$CLASS/evil2'")
	ABSENT=(66.66.6666 dead:beef 12X)
	still_there
}

# The same on a kernel without openat2 (before 5.6, e.g. RHEL 7/8): an
# LD_PRELOAD shim makes syscall(SYS_openat2) fail with ENOSYS, so the
# library takes its fallback path.  Skipped without a C compiler.
case_escape_canary_no_openat2() {
	if ! no_openat2_shim; then
		SKIP="no C compiler to build the openat2 shim"
		return 0
	fi
	PRELOAD=$WORK/no-openat2.so
	case_escape_canary
}

# no_openat2_shim: build $WORK/no-openat2.so (once).
no_openat2_shim() {
	[[ ! -f $WORK/no-openat2.so ]] || return 0
	local cc
	cc=$(command -v cc || command -v gcc || command -v clang) || return 1
	cat >"$WORK/no-openat2.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

long syscall(long nr, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;

	if (nr == SYS_openat2) {
		errno = ENOSYS;
		return -1;
	}
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	return real(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
EOF
	"$cc" -shared -fPIC -O2 -o "$WORK/no-openat2.so" "$WORK/no-openat2.c" -ldl 2>/dev/null
}

# The PCI `device` link of a device pointing at a PCI dir outside the root.
case_escape_device_link() {
	local c="$WORK/canary-${ROOT##*/}/dead:00:00.0" up
	mkdir -p -- "$c"
	printf '0x15b3\n' >"$c/vendor"
	printf '0x6666\n' >"$c/device"
	printf '6\n' >"$c/numa_node"
	chmod -R a+rX "${c%/*}"
	up=$(printf '../%.0s' {1..40})
	ln -sfn "$up${c#/}" "$(real "$IB")/device"
	WARN=("'/$IB/device'")
	ABSENT=(0x6666)
	still_there
	CHECKS+=('dev("mlx5_ib0")["pci_device_id"] != "0x6666"' 'dev("mlx5_ib0")["numa_node"] != 6'
		'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

# huge REL: make REL a sparse 1 GiB file.
huge() {
	rm -f -- "$ROOT/$1"
	truncate -s 1G -- "$ROOT/$1"
	BOUNDED=1
}

case_huge_rate() {
	huge "$P/rate"
	WARN=("'/$P/rate'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["lid"] == 958')
}

case_huge_gid() {
	huge "$P/gids/0"
	WARN=("'/$P/gids/0'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_huge_proc_modules() {
	huge proc/modules
	WARN=("'/proc/modules'")
	still_there
}

# modules.dep only adds where modules come from; a broken one may go unsaid,
# but it must not cost unbounded memory or time.
case_huge_modules_dep() {
	huge "usr/lib/modules/$KERNEL/modules.dep"
	still_there
	CHECKS+=('len(j["drivers"]["modules"]) == 13')
}

case_huge_os_release() {
	huge etc/os-release
	WARN=("'/etc/os-release'")
	still_there
	CHECKS+=('j["platform"]["kernel"] == "5.15.0-1068-azure"')
}

case_huge_limits_conf() {
	huge etc/security/limits.conf
	WARN=("'/etc/security/limits.conf'")
	still_there
	CHECKS+=('j["limits"]["memlock_configured"] == "unlimited"')
}

case_huge_ofed_info() {
	huge usr/bin/ofed_info
	still_there
	CHECKS+=('len(j["drivers"]["modules"]) == 13')
}

case_huge_cpuinfo() {
	huge proc/cpuinfo
	still_there
	CHECKS+=('j["platform"]["hypervisor"] == "hyperv"')
}

# 5000 entries in sys/class/infiniband, all links to mlx5_ib0's device dir:
# the library takes the first 4096 and says so once.
case_many_devices() {
	local t i
	t=$(readlink -- "$ROOT/$IB")
	for ((i = 0; i < 5000; i++)); do
		ln -s "$t" "$ROOT/$CLASS/x$i"
	done
	WARN=("more than 4096 entries in '/$CLASS'")
	still_there
	CHECKS+=('len(j["devices"]) == 4096' 'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

# chmod 000, as an unprivileged user (root would read through it).
unreadable() {
	chmod -R a+rX "$ROOT"
	chmod 000 "$(real "$1")"
	NOBODY=1
}

case_unreadable_pkeys() {
	unreadable "$P/pkeys"
	WARN=("'/$P/pkeys'")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_unreadable_ports() {
	unreadable "$IB/ports"
	WARN=("'/$IB/ports'")
	still_there
}

case_malformed_limits() {
	printf '*               soft    memlock\n' >>"$ROOT/etc/security/limits.conf"
	WARN=("'/etc/security/limits.conf'")
	still_there
	CHECKS+=('j["limits"]["memlock_configured"] == "unlimited"')
}

# Unreadable is not absent: a device class that cannot be listed is "could not
# check" (exit 3), never "no RDMA device" (status 0, check 4 or --allow-none 0).
case_class_is_file() {
	rm -rf -- "${ROOT:?}/$CLASS"
	printf 'not a directory\n' >"$ROOT/$CLASS"
	WARN=("'/$CLASS'")
	RC=3
	CHECKS=('j["devices"] == []' 'j["platform"]["kernel"] == "5.15.0-1068-azure"')
	TEXT=('RDMA devices unknown')
}

case_unreadable_class() {
	unreadable "$CLASS"
	WARN=("'/$CLASS'")
	RC=3
	CHECKS=('j["devices"] == []')
	TEXT=('RDMA devices unknown')
}

case_check_class_is_file() {
	case_class_is_file
	CMD=(check --allow-none --no-state)
	CHECKS=('j["verdict"] == "unknown"' 'j["checks"][0]["id"] == "rdma_readable"')
	TEXT=('Could not check')
}

case_check_unreadable_class() {
	case_unreadable_class
	CMD=(check --allow-none --no-state)
	CHECKS=('j["verdict"] == "unknown"')
	TEXT=('Could not check')
}

# The InfiniBand HCA's ports/ unreadable: only the Accelerated Networking device is
# seen, which is no fabric; but the HCA may be one, so this is not "none" either.
case_check_unreadable_ports() {
	unreadable "$IB/ports"
	CMD=(check --allow-none --no-state)
	WARN=("'/$IB/ports'")
	RC=3
	CHECKS=('j["verdict"] == "unknown"' 'j["fabric"] is False')
	TEXT=('Could not check')
}

# ESC, BEL, a C1 CSI (U+009B) and a byte that is not UTF-8: what a terminal must
# not get, and what JSON cannot hold.
EVIL=$'\e]0;pwned\a\e[2J\xc2\x9b31m\xff'

case_escape_counter_name() {
	printf '5\n' >"$ROOT/$P/counters/x${EVIL}"
	CMD=(status -v --counters)
	CLEAN=1
	still_there
	CHECKS+=('any(k.startswith("x?") for k in port("mlx5_ib0", 1)["counters"])')
}

case_escape_osrelease() {
	printf '5.15%s\n' "$EVIL" >"$ROOT/proc/sys/kernel/osrelease"
	CLEAN=1
	still_there
	CHECKS+=('j["platform"]["kernel"].startswith("5.15?]0;pwned")')
}

case_escape_ipoib_name() {
	local t
	t=$(readlink -- "$ROOT/sys/class/net/ib0")
	rm -f -- "$ROOT/sys/class/net/ib0"
	ln -s -- "$t" "$ROOT/sys/class/net/ib${EVIL}"
	CMD=(ipoib show)
	CLEAN=1
	CHECKS=('j["pairs"][0]["interface"].startswith("ib?]0;pwned")')
}

case_escape_check_values() {
	mkdir -p -- "$ROOT/etc/slurm"
	printf 'PropagateResourceLimits=%s\n' "$EVIL" >"$ROOT/etc/slurm/slurm.conf"
	printf 'OS.EnableRDMA=y%s\nOS.CheckRdmaDriver=%s\n' "$EVIL" "$EVIL" >"$ROOT/etc/waagent.conf"
	CMD=(check --no-state --vm-size Standard_HB120rs_v3)
	CLEAN=1
	CHECKS=('j["verdict"] in ("pass", "warn")'
		'any(c["id"] == "slurm_limits" and c["seen"].startswith("PropagateResourceLimits=?]0;pwned") for c in j["checks"])')
}

# JSON has no infinity: "inf GT/s" is a warning and null, not an empty document.
case_inf_link_speed() {
	printf 'inf GT/s PCIe\n' >"$(real "$IB/device")/current_link_speed"
	WARN=("current_link_speed of '0101:00:00.0'")
	still_there
	CHECKS+=('dev("mlx5_ib0")["pci_link_speed_gts"] is None')
}

# An admin's expectations file whose name is not UTF-8 and carries escapes.
case_escape_expect_d_name() {
	mkdir -p -- "$ROOT/etc/ibup/expect.d"
	printf '{"sizes":[{"family":"lab","match":["Standard_HB120rs_v3"],"ib_hcas":1}]}\n' \
		>"$ROOT/etc/ibup/expect.d/10-lab${EVIL}.json"
	CMD=(check --no-state --vm-size Standard_HB120rs_v3)
	CLEAN=1
	CHECKS=('j["family"] == "lab"' 'j["expectations"].startswith("etc/ibup/expect.d/10-lab?")')
}

# Counters at and past 2^63 stay exact: an integer up to INT64_MAX, then the
# decimal string (docs/status.schema.json), never -1 or a clamped value.
case_huge_counters() {
	printf '18446744073709551615\n' >"$ROOT/$P/counters/port_rcv_packets"
	printf '9223372036854775808\n' >"$ROOT/$P/counters/port_xmit_packets"
	printf '9223372036854775807\n' >"$ROOT/$P/counters/port_xmit_wait"
	printf '18446744073709551615\n' >"$ROOT/$P/counters/port_xmit_data"
	printf '2305843009213693952\n' >"$ROOT/$P/counters/port_rcv_data"
	CMD=(status --counters)
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["counters"]["port_rcv_packets"] == "18446744073709551615"'
		'port("mlx5_ib0", 1)["counters"]["port_xmit_packets"] == "9223372036854775808"'
		'port("mlx5_ib0", 1)["counters"]["port_xmit_wait"] == 9223372036854775807'
		'port("mlx5_ib0", 1)["xmit_bytes"] == str((2**64 - 1) * 4)'
		'port("mlx5_ib0", 1)["rcv_bytes"] == "9223372036854775808"')
}

# ports/01 next to ports/1: the kernel names ports "%u", so 01 is not port 1 again.
case_port_01() {
	cp -a -- "$(real "$IB/ports")/1" "$(real "$IB/ports")/01"
	still_there
	CHECKS+=('len(dev("mlx5_ib0")["ports"]) == 1' 'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

# pkeys/00 next to pkeys/0: read once.
case_table_01() {
	cp -- "$ROOT/$P/pkeys/0" "$ROOT/$P/pkeys/00"
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["pkeys"].count("0x800b") == 1')
}

# A device node where an attribute should be: refused unread ("Invalid argument"),
# not read (/dev/zero's NULs, or /dev/urandom's noise, as the value).
chardev() {
	rm -f -- "$ROOT/$1"
	if ! mknod -- "$ROOT/$1" c 1 "$2" 2>/dev/null; then
		SKIP="mknod needs root"
		return 0
	fi
}

case_chardev_rate() {
	chardev "$P/rate" 5
	WARN=("'/$P/rate': Invalid argument")
	still_there
	CHECKS+=('port("mlx5_ib0", 1)["rate_gbps"] is None' 'port("mlx5_ib0", 1)["lid"] == 958')
}

case_chardev_fw_ver() {
	chardev "$IB/fw_ver" 9
	WARN=("'/$IB/fw_ver': Invalid argument")
	CHECKS=('dev("mlx5_ib0")["fw_ver"] is None' 'port("mlx5_ib0", 1)["rate_gbps"] == 200')
}

case_malformed_os_release() {
	garbage "$ROOT/etc/os-release"
	still_there
	CHECKS+=('j["platform"]["kernel"] == "5.15.0-1068-azure"')
}

# ---------------------------------------------------------------- runner

asan_in_use() {
	[[ ${IBUP_ASAN:-0} == 1 ]] && return 0
	# Not grep -q: it would stop reading, and under pipefail the writer's SIGPIPE
	# would make the pipeline fail (and ASan go undetected) when the machine is busy.
	ldd -- "$IBUP" 2>/dev/null | grep libasan >/dev/null && return 0
	nm -- "$IBUP" 2>/dev/null | grep __asan_init >/dev/null && return 0
	return 1
}

# json_checks OUT CHECK...: validate the JSON in OUT and evaluate the checks;
# prints what failed.
json_checks() {
	python3 - "$@" <<'PY'
import json, sys
try:
    with open(sys.argv[1], "rb") as f:
        j = json.loads(f.read().decode("utf-8"))
except Exception as e:
    print(f"invalid JSON: {type(e).__name__}: {e}"[:300])
    sys.exit(1)

def dev(name):
    for d in j["devices"]:
        if d["name"] == name:
            return d
    raise KeyError(f"no device {name}")

def port(name, n):
    for p in dev(name)["ports"]:
        if p["port"] == n:
            return p
    raise KeyError(f"no port {n} on {name}")

bad = 0
for c in sys.argv[2:]:
    try:
        ok = eval(c)
    except Exception as e:
        ok = False
        c += f" ({type(e).__name__}: {e})"
    if not ok:
        print(f"JSON check failed: {c}"[:300])
        bad = 1
sys.exit(bad)
PY
}

# run_ibup OUTDIR MODE: run ibup (MODE json or text) on $ROOT; leaves
# OUTDIR/MODE.{out,err,rc,time}.
run_ibup() {
	local o=$1/$2 rc start end
	local -a cmd=(timeout -k 5 "$TIME_LIMIT")
	local asan_opts=${ASAN_OPTIONS:-}
	if ((BOUNDED)); then
		if ((ASAN)); then
			asan_opts+="${asan_opts:+:}max_allocation_size_mb=512"
		else
			cmd+=(prlimit "--as=$AS_LIMIT" --)
		fi
	fi
	((!NOBODY)) || cmd+=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
	if [[ -n $PRELOAD ]]; then
		# ASan wants to be first in the library list; the shim only wraps syscall().
		asan_opts+="${asan_opts:+:}verify_asan_link_order=0"
		cmd+=(env "LD_PRELOAD=$PRELOAD")
	fi
	cmd+=("$IBUP" --root "$ROOT" "${CMD[@]}")
	[[ $2 != json ]] || cmd+=(--json)
	start=$(date +%s%N)
	ASAN_OPTIONS=$asan_opts "${cmd[@]}" >"$o.out" 2>"$o.err" </dev/null
	rc=$?
	end=$(date +%s%N)
	echo "$rc" >"$o.rc"
	echo "$(((end - start) / 1000000))" >"$o.time"
}

# check_run OUTDIR MODE: the checks of one run; appends reasons to REASONS.
check_run() {
	local o=$1/$2 m=$2 rc w n line
	rc=$(<"$o.rc")
	if ((rc == 124 || rc == 137)); then
		REASONS+=("$m: timed out after ${TIME_LIMIT}s")
		return
	fi
	((rc < 128)) || REASONS+=("$m: killed by signal $((rc - 128))")
	if grep -aqE 'Sanitizer|runtime error:' "$o.err"; then
		REASONS+=("$m: sanitizer report: $(grep -aE -m1 'ERROR: |runtime error:' "$o.err" | cut -c1-200)")
	fi
	((rc == RC)) || REASONS+=("$m: exit code $rc, not $RC (stderr: $(grep -av '^ibup: warning' "$o.err" | head -n 2 | tr '\n' ' ' | cut -c1-200))")
	if [[ $m == json ]]; then
		if ! line=$(json_checks "$o.out" "${CHECKS[@]}"); then
			while IFS= read -r w; do REASONS+=("$m: $w"); done <<<"$line"
		fi
	else
		for w in "${TEXT[@]}"; do
			grep -aqF -- "$w" "$o.out" || REASONS+=("$m: output lacks '$w'")
		done
	fi
	for w in "${WARN[@]}"; do
		n=$(grep -a '^ibup: warning: ' "$o.err" | grep -acF -- "$w")
		((n == 1)) || REASONS+=("$m: $n warning lines name $w (want 1)")
	done
	if ((NO_WARN)) && grep -aq '^ibup: warning: ' "$o.err"; then
		REASONS+=("$m: unexpected warning: $(grep -a -m1 '^ibup: warning: ' "$o.err" | cut -c1-200)")
	fi
	line=$(grep -a '^ibup: ' "$o.err" | sort | uniq -d | head -n 1)
	[[ -z $line ]] || REASONS+=("$m: warning repeated: ${line:0:200}")
	for w in "${ABSENT[@]}"; do
		! grep -aqF -- "$w" "$o.out" "$o.err" || REASONS+=("$m: output contains '$w' from outside the root")
	done
	if ((CLEAN)); then
		if LC_ALL=C grep -aqP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$o.out" "$o.err"; then
			REASONS+=("$m: control characters reach the terminal: $(LC_ALL=C grep -ahP '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]' "$o.out" "$o.err" | head -n 1 | cut -c1-120 | od -An -c | tr -s ' \n' ' ' | cut -c1-200)")
		fi
	fi
}

run_case() {
	local name=$1 dir="$WORK/$1" m reason
	WARN=() ABSENT=() CHECKS=() TEXT=() NO_WARN=0 CLEAN=0 BOUNDED=0 NOBODY=0 REASONS=()
	PRELOAD='' SKIP='' RC=0 CMD=(status)
	ROOT="$dir/root"
	mkdir -p -- "$ROOT"
	cp -a -- "$FIXTURE/." "$ROOT/"
	rm -rf -- "$ROOT/expected"
	if ! "case_${name//-/_}" 2>"$dir/setup.err"; then
		printf 'FAIL %s: setting the case up failed: %s\n' "$name" "$(head -c 200 "$dir/setup.err")"
		return 1
	fi
	if [[ -n $SKIP ]]; then
		printf 'SKIP %s: %s\n' "$name" "$SKIP"
		rm -rf -- "$dir"
		return 0
	fi
	if ((NOBODY)) && [[ $(id -u) != 0 ]]; then
		# Not root: this user already cannot read the chmod 000 dir.
		NOBODY=0
	fi
	for m in json text; do
		run_ibup "$dir" "$m"
		check_run "$dir" "$m"
	done
	if ((${#REASONS[@]} == 0)); then
		printf 'PASS %s (%s ms, %s ms)\n' "$name" "$(<"$dir/json.time")" "$(<"$dir/text.time")"
		chmod -R u+rwX "$dir" 2>/dev/null
		rm -rf -- "$dir"
		return 0
	fi
	reason=$(printf '%s; ' "${REASONS[@]}")
	printf 'FAIL %s: %s\n' "$name" "${reason%; }"
	if [[ -n ${IBUP_HOSTILE_KEEP:-} ]]; then
		mkdir -p -- "$IBUP_HOSTILE_KEEP"
		chmod -R u+rwX "$dir" 2>/dev/null
		rm -rf -- "${IBUP_HOSTILE_KEEP:?}/$name"
		mv -- "$dir" "$IBUP_HOSTILE_KEEP/$name"
	fi
	return 1
}

main() {
	case ${1:-} in
	'' | -h | --help)
		usage
		[[ -n ${1:-} ]] || return 2
		return 0
		;;
	--list)
		printf '%s\n' "${CASES[@]}"
		return 0
		;;
	esac
	[[ -x $1 ]] || { printf 'run.sh: %s is not executable\n' "$1" >&2; return 2; }
	IBUP=$(realpath -e -- "$1")
	shift
	local -a names=("$@")
	((${#names[@]})) || names=("${CASES[@]}")
	local n c
	for n in "${names[@]}"; do
		declare -F "case_${n//-/_}" >/dev/null || { printf 'run.sh: unknown case %s\n' "$n" >&2; return 2; }
	done
	for c in python3 timeout prlimit setpriv mkfifo truncate realpath; do
		command -v "$c" >/dev/null || { printf 'run.sh: %s is needed\n' "$c" >&2; return 2; }
	done
	[[ -d $FIXTURE/sys ]] || { printf 'run.sh: no fixture at %s\n' "$FIXTURE" >&2; return 2; }

	ASAN=0
	if asan_in_use; then ASAN=1; fi
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/ibup-hostile.XXXXXX")
	# The unprivileged cases need to reach their roots.
	chmod 755 "$WORK"
	trap 'chmod -R u+rwX "$WORK" 2>/dev/null; rm -rf -- "$WORK"' EXIT
	printf 'hostile: %s, %d case(s), ASan %s\n' "$IBUP" "${#names[@]}" "$( ((ASAN)) && echo yes || echo no)"

	local failed=0
	for n in "${names[@]}"; do
		run_case "$n" || failed=$((failed + 1))
	done
	printf 'hostile: %d passed, %d failed\n' "$((${#names[@]} - failed))" "$failed"
	((failed == 0))
}

IBUP='' WORK='' ASAN=0
REASONS=()
main "$@"
