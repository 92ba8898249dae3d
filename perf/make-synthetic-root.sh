#!/usr/bin/env bash
# make-synthetic-root.sh - build a large fixture-like root for benchmarks.
#
# usage: perf/make-synthetic-root.sh N DIR
#
# Creates DIR (only DIR/{sys,proc,etc,usr,lib,lib64} are replaced) modelled on
# an Azure HPC VM (Hyper-V, Ubuntu 22.04, Azure DMI, synthetic eth0, inbox RDMA
# stack with uverbs/umad devices, memlock raised) with N InfiniBand devices
# mlx5_0..mlx5_{N-1}: ConnectX-7 VFs (0x101e) at PCI domains 0101, 0102, ...,
# 400 Gb/sec (4X NDR), 8 GIDs, 128 pkeys (tenant key + 0x7fff), PMA counters
# and mlx5 hw_counters per port, one IPoIB netdev ib<i> each, NUMA nodes
# round-robin over 4.  Uses the functions of tests/fixtures/lib-fixtures.sh.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=../tests/fixtures/lib-fixtures.sh
. "$HERE/../tests/fixtures/lib-fixtures.sh"

usage() { sed -n '2,12s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

main() {
	if [[ ${1:-} == -h || ${1:-} == --help ]]; then
		usage
		return 0
	fi
	if (($# != 2)) || [[ ! $1 =~ ^[0-9]+$ ]] || (($1 < 1 || $1 > 0xfe00)); then
		usage >&2
		return 2
	fi
	local n=$1 dir=$2 i dom pci pguid

	fx_begin "$dir" hbv4vmss000000
	mk_os ubuntu2204 5.15.0-1073-azure
	mk_cpuinfo epyc-9v33x vm
	mk_azure_dmi
	mk_hyperv
	mk_lo
	mk_netvsc eth0 00:22:48:5e:10:0a 2

	for ((i = 0; i < n; i++)); do
		printf -v dom '%04x' $((0x0101 + i))
		printf -v pguid '0015:5dff:fd%02x:%04x' $(((i >> 16) & 0xff)) $((i & 0xffff))
		mk_hv_pci_bus "$dom" "$(fx_hv_guid "$dom" $((1000 + i)))"
		mk_pci "$FX_OUT" "$dom:00:00.0" device=0x101e subsys_device=0x101e numa=$((i % 4))
		pci=$FX_OUT
		mk_ib_device "$pci" "mlx5_$i" node_guid="${pguid/:fd/:fe}" \
			sys_image_guid="$(printf 'a088:c203:00%02x:%04x' $(((i >> 16) & 0xff)) $((i & 0xffff)))" \
			fw=28.39.1002 board=MT_0000000838
		mk_port "mlx5_$i" 1 rate='400 Gb/sec (4X NDR)' lid="$(printf '0x%x' $((0x100 + i)))" sm_lid=0x1 \
			cap_mask=0x2659ec48 port_guid="$pguid" pkeys='0x8023 0x7fff' ngids=8 npkeys=128
		mk_ipoib "$pci" "ib$i" "$pguid" $((0x1049 + 0x40 * i)) $((3 + i)) pkey=0x8023
	done
	mk_modules ext=.ko rdma_ucm:28672 ib_ipoib:135168 ib_umad:40960 rdma_cm:135168 iw_cm:49152 \
		ib_cm:131072 mlx5_ib:397312 ib_uverbs:163840 ib_core:409600 mlx5_core:1847296 \
		mlxfw:36864 psample:20480 tls:114688 pci_hyperv_intf:16384
	mk_libibverbs 1.14.39.0
	mk_limits memlock_d=90-memlock.conf
	printf 'make-synthetic-root: %s with %d InfiniBand devices\n' "$FX_ROOT" "$n"
}

main "$@"
