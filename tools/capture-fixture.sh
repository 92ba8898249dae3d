#!/usr/bin/env bash
# capture-fixture.sh - snapshot the RDMA-relevant part of a host's /sys, /proc
# and /etc into a fixture root for the ibup tests.
set -euo pipefail
shopt -s nullglob

PROG=${0##*/}

usage() {
	cat <<EOF
usage: $PROG [-o OUTDIR] [--root SRC]

Copy an allow-list of files that ibup reads from the host rooted at SRC
(default /) into OUTDIR (default ./ibup-fixture-<hostname>), keeping their
paths, so that OUTDIR can be used as a test fixture root.

  -o, --output OUTDIR  where to write; must not exist or be empty
      --root SRC       root of the tree to capture (default /); symlinks
                       inside it are interpreted relative to SRC, as in a chroot
  -h, --help           show this help

What is copied (nothing else):
  /sys/class/infiniband/*           node_type node_guid sys_image_guid fw_ver
                                    hca_type hw_rev board_id node_desc parent,
                                    hw_counters/*, device link,
    ports/*/                        state phys_state rate link_layer lid sm_lid
                                    lid_mask_count sm_sl cap_mask, gids/*,
                                    gid_attrs/types/*, gid_attrs/ndevs/*,
                                    pkeys/*, counters/*, hw_counters/*
  PCI device dirs (from the above)  vendor device subsystem_vendor
                                    subsystem_device class numa_node
                                    {current,max}_link_{speed,width}
                                    sriov_totalvfs sriov_numvfs, driver and
                                    physfn links, net/* netdevs
  /sys/class/net/* (every netdev)   address type dev_port dev_id ifindex iflink
                                    operstate mtu addr_len carrier flags, IPoIB
                                    mode pkey umcast, master link, device link
                                    (+ the device's files above)
  /sys/class/dmi/id/                sys_vendor product_name product_version
                                    product_family chassis_vendor
                                    chassis_asset_tag board_vendor board_name
                                    bios_vendor bios_version bios_date
                                    (no serial numbers or UUIDs)
  /sys/bus/vmbus/                   devices/* links, each device's driver
                                    link, the driver dir and its back-link
                                    to the device (likewise for every PCI
                                    and virtio device captured)
  /sys/class/infiniband_verbs/      abi_version, */ibdev, */abi_version
  /sys/class/infiniband_mad/        abi_version, */ibdev, */port
  /sys/module/<RDMA module>/        initstate refcnt taint version
  /proc/sys/kernel/osrelease, /proc/cpuinfo (first processor block only),
  /proc/modules (RDMA-related lines only)
  /lib/modules/<kernel>/modules.dep (lines of RDMA-related modules only)
  /usr/bin/ofed_info (MLNX_OFED writes its release into this script)
  libibverbs.so.* in /usr/lib/<arch>-linux-gnu, /usr/lib64, /usr/lib, /lib64,
                                    /lib/<arch>-linux-gnu: the NAME only (an
                                    empty file; the name carries the release)
  /etc/os-release, /etc/security/limits.conf, /etc/security/limits.d/*,
  /etc/systemd/system.conf, /etc/systemd/system.conf.d/*,
  /usr/lib/systemd/system.conf.d/*, /etc/waagent.conf, /var/lib/hyperv/.kvp_pool_0,
  /var/lib/waagent/SharedConfig.xml, /opt/microsoft/*-topo.xml,
  /opt/microsoft/*/topo.xml (azhpc-images' NCCL topology files)

Files are read with head -c 4096 (sysfs attributes are at most one page;
ofed_info and modules.dep up to 1 MiB).
Symlinks are never followed blindly: every symlink met on a path is recreated
as a relative symlink inside OUTDIR and its target directory is created or
captured in turn; links pointing outside SRC are clamped to SRC.  Files that
cannot be read (e.g. EINVAL on an unused gid_attrs entry, root-only files when
run as a normal user) are skipped silently.  Runs fine without root.
EOF
}

die() {
	printf '%s: %s\n' "$PROG" "$*" >&2
	exit 2
}

RDMA_MOD_RE='^(ib_[a-z0-9_]+|rdma_[a-z0-9_]+|iw_cm|mlx4_[a-z0-9_]+|mlx5_[a-z0-9_]+|mlx_compat|mlxfw|mlxdevm|mana|mana_ib|rdma_rxe|siw|irdma|bnxt_re|qedr|efa|erdma|hns_roce[a-z0-9_]*|hfi1|ocrdma|vmw_pvrdma|ionic[a-z0-9_]*|nvidia_peermem|nv_peer_mem|rpcrdma|svcrdma|nvme_rdma|nvmet_rdma|knem|xpmem)$'
MAXREAD=4096
MAXCONF=1048576
# Where rdma-core's libibverbs may be (the directories ibup looks in).
LIB_DIRS=(usr/lib/x86_64-linux-gnu usr/lib/aarch64-linux-gnu usr/lib64 usr/lib lib64
	lib/x86_64-linux-gnu lib/aarch64-linux-gnu)

S=''            # source root, '' when it is /
O=''            # output root (absolute)
R=''            # result of resolve / follow_dir
NP='' RP=''     # results of normpath / relpath
NFILES=0
TMP=''
declare -A MADE=() LINKS=() SEEN=()

cleanup() { [[ -z $TMP ]] || rm -f -- "$TMP"; }

# normpath PATH: lexically normalise PATH (relative to the root) into NP;
# '..' never climbs above the root.
normpath() {
	local -a parts stack=()
	local c
	IFS=/ read -r -a parts <<<"$1"
	for c in "${parts[@]}"; do
		case $c in
		'' | .) ;;
		..) ((${#stack[@]} == 0)) || unset 'stack[${#stack[@]}-1]' ;;
		*) stack+=("$c") ;;
		esac
	done
	local IFS=/
	NP="${stack[*]}"
}

# relpath FROM_DIR TARGET: relative link text from FROM_DIR to TARGET (both
# normalised, root-relative) into RP, computed like kernfs does.
relpath() {
	local -a f=() t=()
	local n=0 max i out=''
	[[ -z $1 ]] || IFS=/ read -r -a f <<<"$1"
	[[ -z $2 ]] || IFS=/ read -r -a t <<<"$2"
	max=$((${#t[@]} - 1))
	while ((n < ${#f[@]} && n < max)) && [[ ${f[n]} == "${t[n]}" ]]; do
		n=$((n + 1))
	done
	for ((i = n; i < ${#f[@]}; i++)); do out+='../'; done
	for ((i = n; i < ${#t[@]}; i++)); do
		out+=${t[i]}
		((i == ${#t[@]} - 1)) || out+='/'
	done
	RP=${out:-.}
}

# ensure_dir REL: mkdir -p OUT/REL (once).
ensure_dir() {
	[[ -z ${MADE[$1]:-} ]] || return 0
	mkdir -p -- "$O/$1"
	MADE[$1]=1
}

# add_link REL TARGET_TEXT: recreate source symlink REL inside OUT, pointing
# (relatively) at the same place inside the root.
add_link() {
	local cur=$1 tgt=$2 dir=''
	[[ -z ${LINKS[$cur]:-} ]] || return 0
	[[ $cur != */* ]] || dir=${cur%/*}
	if [[ $tgt == /* ]]; then normpath "$tgt"; else normpath "$dir/$tgt"; fi
	relpath "$dir" "$NP"
	[[ -z $dir ]] || ensure_dir "$dir"
	ln -sfn -- "$RP" "$O/$cur"
	LINKS[$cur]=1
}

# resolve REL: walk REL one component at a time inside the source root,
# recreating every symlink met, and leave the symlink-free path in R.
# Fails on symlink loops or unreadable links.
resolve() {
	local rest=$1 done='' comp cur tgt hops=0
	while [[ -n $rest ]]; do
		comp=${rest%%/*}
		if [[ $rest == */* ]]; then rest=${rest#*/}; else rest=''; fi
		case $comp in
		'' | .) continue ;;
		..)
			if [[ $done == */* ]]; then done=${done%/*}; else done=''; fi
			continue
			;;
		esac
		cur=${done:+$done/}$comp
		if [[ -L $S/$cur ]]; then
			hops=$((hops + 1))
			((hops <= 40)) || return 1
			tgt=$(readlink -- "$S/$cur") || return 1
			add_link "$cur" "$tgt"
			[[ $tgt != /* ]] || done=''
			rest=$tgt${rest:+/$rest}
		else
			done=$cur
		fi
	done
	R=$done
}

# follow_dir REL: resolve REL; if it is a directory, create it in OUT.
follow_dir() {
	resolve "$1" || return 1
	[[ -d $S/$R ]] || return 1
	ensure_dir "$R"
}

# copy_phys REL [MAX]: copy one symlink-free regular file (first MAX bytes,
# default 4 KiB).
copy_phys() {
	local p=$1 max=${2:-$MAXREAD} content
	[[ -f $S/$p && ! -L $S/$p ]] || return 0
	[[ $p != */* ]] || ensure_dir "${p%/*}"
	# Attributes (small sysfs text) are read with the shell's own read: a process per
	# file costs tens of milliseconds on a slow machine, and a port has thousands.
	if [[ $p == sys/* && $max == "$MAXREAD" ]]; then
		if LC_ALL=C IFS= read -r -d '' -N "$max" content <"$S/$p" 2>/dev/null ||
			[[ -n ${content+set} ]]; then
			printf '%s' "$content" >"$O/$p"
			NFILES=$((NFILES + 1))
		fi
		return 0
	fi
	if head -c "$max" -- "$S/$p" >"$O/$p" 2>/dev/null; then
		NFILES=$((NFILES + 1))
	else
		rm -f -- "$O/$p"
	fi
}

# copy_file REL [MAX]: copy a file whose path may contain symlinks.
copy_file() {
	resolve "$1" || return 0
	copy_phys "$R" "${2:-$MAXREAD}"
}

# copy_dir_files DIR: copy_file every file in DIR (whose path may contain
# symlinks).
copy_dir_files() {
	local e
	if ! resolve "$1" || [[ ! -d $S/$R ]]; then return 0; fi
	for e in "$S/$R"/*; do
		copy_file "$1/${e##*/}"
	done
}

# cap_attrs DIR NAME...: copy the named attributes of symlink-free DIR.
cap_attrs() {
	local d=$1 n
	shift
	for n in "$@"; do
		if [[ -L $S/$d/$n ]]; then copy_file "$d/$n"; else copy_phys "$d/$n"; fi
	done
}

# cap_all DIR: copy every file directly in symlink-free DIR (DIR is made only
# when a file is copied: an empty dir would not survive git).
cap_all() {
	local d=$1 e
	[[ -d $S/$d ]] || return 0
	for e in "$S/$d"/*; do
		[[ -f $e ]] || continue
		cap_attrs "$d" "${e##*/}"
	done
}

# cap_netdev REL: one network interface.
cap_netdev() {
	resolve "$1" || return 0
	local d=$R
	[[ -d $S/$d && -z ${SEEN[$d]:-} ]] || return 0
	SEEN[$d]=1
	ensure_dir "$d"
	cap_attrs "$d" address type dev_port dev_id ifindex iflink operstate mtu addr_len carrier \
		flags mode pkey umcast
	if [[ -L $S/$d/master ]] && follow_dir "$d/master"; then cap_netdev "$R"; fi
	if [[ -L $S/$d/device ]] && follow_dir "$d/device"; then cap_pci "$R"; fi
}

# cap_driver DEV: DEV's driver link, the driver dir, and the driver's
# back-link to DEV (sysfs has one per bound device).
cap_driver() {
	local d=$1 b
	[[ -L $S/$d/driver ]] || return 0
	follow_dir "$d/driver" || return 0
	b="$R/${d##*/}"
	if [[ -L $S/$b ]]; then add_link "$b" "$(readlink -- "$S/$b")"; fi
}

# cap_pci DIR: a (PCI, VMBus, virtio...) device dir: its identity files,
# driver/physfn links and the netdevs under it.
cap_pci() {
	local d=$1 e
	[[ -d $S/$d && -z ${SEEN[$d]:-} ]] || return 0
	SEEN[$d]=1
	ensure_dir "$d"
	cap_attrs "$d" vendor device subsystem_vendor subsystem_device class numa_node \
		current_link_speed current_link_width max_link_speed max_link_width \
		sriov_totalvfs sriov_numvfs
	cap_driver "$d"
	if [[ -L $S/$d/physfn ]] && follow_dir "$d/physfn"; then cap_pci "$R"; fi
	for e in "$S/$d"/net/*; do
		cap_netdev "$d/net/${e##*/}"
	done
}

# cap_ibdev NAME: one RDMA device from /sys/class/infiniband.
cap_ibdev() {
	resolve "sys/class/infiniband/$1" || return 0
	local d=$R p pp sub
	[[ -d $S/$d ]] || return 0
	ensure_dir "$d"
	cap_attrs "$d" node_type node_guid sys_image_guid fw_ver hca_type hw_rev board_id node_desc \
		parent
	cap_all "$d/hw_counters"
	if [[ -L $S/$d/device ]] && follow_dir "$d/device"; then cap_pci "$R"; fi
	for p in "$S/$d"/ports/*; do
		[[ -d $p && ! -L $p ]] || continue
		pp="$d/ports/${p##*/}"
		ensure_dir "$pp"
		cap_attrs "$pp" state phys_state rate link_layer lid sm_lid lid_mask_count sm_sl cap_mask
		for sub in gids gid_attrs/types gid_attrs/ndevs pkeys counters hw_counters; do
			cap_all "$pp/$sub"
		done
	done
}

# cap_class CLASS ATTR...: a device class dir: its abi_version and ATTRs of
# every member.
cap_class() {
	local c=$1 d e
	shift
	resolve "sys/class/$c" || return 0
	d=$R
	[[ -d $S/$d ]] || return 0
	ensure_dir "$d"
	cap_attrs "$d" abi_version
	for e in "$S/$d"/*; do
		[[ -L $e || -d $e ]] || continue
		if follow_dir "$d/${e##*/}"; then cap_attrs "$R" "$@"; fi
	done
}

cap_sys() {
	local e d n

	if resolve sys/class/dmi/id && [[ -d $S/$R ]]; then
		cap_attrs "$R" sys_vendor product_name product_version product_family chassis_vendor \
			chassis_asset_tag board_vendor board_name bios_vendor bios_version bios_date
	fi

	if resolve sys/bus/vmbus && [[ -d $S/$R ]]; then
		d=$R
		[[ ! -d $S/$d/devices ]] || ensure_dir "$d/devices"
		for e in "$S/$d"/devices/*; do
			if follow_dir "$d/devices/${e##*/}"; then cap_driver "$R"; fi
		done
	fi

	if resolve sys/class/infiniband && [[ -d $S/$R ]]; then
		ensure_dir "$R"
		for e in "$S/$R"/*; do
			cap_ibdev "${e##*/}"
		done
	fi

	if resolve sys/class/net && [[ -d $S/$R ]]; then
		d=$R
		ensure_dir "$d"
		for e in "$S/$d"/*; do
			cap_netdev "$d/${e##*/}"
		done
	fi

	cap_class infiniband_verbs ibdev abi_version
	cap_class infiniband_mad ibdev port

	if resolve sys/module && [[ -d $S/$R ]]; then
		d=$R
		for e in "$S/$d"/*; do
			n=${e##*/}
			[[ $n =~ $RDMA_MOD_RE ]] || continue
			if follow_dir "$d/$n"; then cap_attrs "$R" initstate refcnt taint version; fi
		done
	fi
}

# copy_filtered REL MAXBYTES AWKPROG: copy REL through an awk filter (the
# awk variable re holds RDMA_MOD_RE).
copy_filtered() {
	resolve "$1" || return 0
	local p=$R
	[[ -f $S/$p ]] || return 0
	head -c "$2" -- "$S/$p" >"$TMP" 2>/dev/null || return 0
	[[ $p != */* ]] || ensure_dir "${p%/*}"
	if awk -v re="$RDMA_MOD_RE" "$3" "$TMP" >"$O/$p"; then
		NFILES=$((NFILES + 1))
	else
		rm -f -- "$O/$p"
	fi
}

cap_proc() {
	copy_file proc/sys/kernel/osrelease
	# first processor block: stop at the first empty line
	copy_filtered proc/cpuinfo 262144 '/^[[:space:]]*$/ { exit } { print }'
	# shellcheck disable=SC2016 # awk program, $1 is awk's field
	copy_filtered proc/modules "$MAXCONF" '$1 ~ re'
}

# The driver stack on disk: modules.dep of the running kernel, ofed_info,
# and the rdma-core library's name.
cap_stack() {
	local k='' d e
	if resolve proc/sys/kernel/osrelease && [[ -f $S/$R ]]; then
		k=$(head -c 256 -- "$S/$R" 2>/dev/null | head -n 1) || k=''
	fi
	if [[ -n $k && $k != */* && $k != . && $k != .. ]]; then
		# Keep "<path>/<name>.ko[.xz|.zst|.gz]:" lines whose module name
		# (dashes read as underscores, as modprobe does) is an RDMA one.
		# modprobe reads lib/modules; ibup falls back to usr/lib/modules.
		d="lib/modules/$k/modules.dep"
		if ! resolve "$d" || [[ ! -f $S/$R ]]; then d="usr/lib/modules/$k/modules.dep"; fi
		# shellcheck disable=SC2016 # awk program
		copy_filtered "$d" "$MAXCONF" '{
			n = $1; sub(/:.*/, "", n); sub(/.*\//, "", n); sub(/\.ko.*/, "", n)
			gsub(/-/, "_", n)
			if (n ~ re) print
		}'
	fi
	copy_file usr/bin/ofed_info "$MAXCONF"
	for d in "${LIB_DIRS[@]}"; do
		if ! resolve "$d" || [[ ! -d $S/$R ]]; then continue; fi
		for e in "$S/$R"/libibverbs.so.*; do
			[[ -f $e && ! -L $e ]] || continue
			ensure_dir "$R"
			if [[ ! -e $O/$R/${e##*/} ]]; then
				: >"$O/$R/${e##*/}"
				NFILES=$((NFILES + 1))
			fi
		done
	done
}

cap_etc() {
	copy_file etc/os-release
	copy_file etc/security/limits.conf
	copy_dir_files etc/security/limits.d
	copy_file etc/systemd/system.conf
	copy_dir_files etc/systemd/system.conf.d
	copy_dir_files usr/lib/systemd/system.conf.d
	copy_file etc/waagent.conf
	# The platform's IPoIB addresses: KVP pool 0 (binary records) and the legacy
	# SharedConfig.xml. Pool 0 holds what the host sends (IPoIB_Data, NdDriverVersion).
	copy_file var/lib/hyperv/.kvp_pool_0 $((1024 * 1024))
	copy_file var/lib/waagent/SharedConfig.xml
	# NCCL topology files of azhpc-images (ibup env's NCCL_TOPO_FILE).
	local t
	for t in "$S"/opt/microsoft/*-topo.xml "$S"/opt/microsoft/*/topo.xml; do
		copy_file "${t#"$S"/}" $((1024 * 1024))
	done
}

main() {
	local src=/ out=''
	while (($#)); do
		case $1 in
		-o | --output)
			[[ -n ${2:-} ]] || die "$1 needs a directory"
			out=$2
			shift 2
			;;
		--output=*) out=${1#*=}; shift ;;
		--root)
			[[ -n ${2:-} ]] || die "--root needs a directory"
			src=$2
			shift 2
			;;
		--root=*) src=${1#*=}; shift ;;
		-h | --help) usage; exit 0 ;;
		*) usage >&2; exit 2 ;;
		esac
	done
	[[ -n $out ]] || out="./ibup-fixture-$(uname -n)"

	[[ -d $src ]] || die "source root '$src' is not a directory"
	S=$(cd -- "$src" && pwd -P)
	[[ $S != / ]] || S=''

	if [[ -e $out ]]; then
		[[ -d $out ]] || die "'$out' exists and is not a directory"
		[[ -z $(ls -A -- "$out") ]] || die "'$out' is not empty"
	fi
	mkdir -p -- "$out"
	O=$(cd -- "$out" && pwd -P)
	[[ $O != / && $O != "${S:-/}" ]] || die "refusing to write into '$O'"

	TMP=$(mktemp)
	trap cleanup EXIT

	cap_etc
	cap_proc
	cap_stack
	cap_sys

	# A link whose target could not be captured (unreadable, outside the
	# allow-list, a loop) would dangle: drop it.  Repeat until stable, since
	# dropping one link can break a chain of others.
	local l nlinks=-1 ndropped=1
	while ((ndropped)); do
		ndropped=0 nlinks=0
		while IFS= read -r -d '' l; do
			if [[ -e $l ]]; then
				nlinks=$((nlinks + 1))
			else
				rm -f -- "$l"
				ndropped=$((ndropped + 1))
			fi
		done < <(find "$O" -type l -print0)
	done

	printf '%s: copied %d files and %d symlinks from %s to %s\n' "$PROG" "$NFILES" "$nlinks" "${S:-/}" "$O"
}

main "$@"
