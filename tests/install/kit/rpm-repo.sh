#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build (or reuse) a local RPM repository standing in for a distribution's own: small
# packages named exactly like the real inbox RDMA packages, with the real packages'
# Requires between them, plus the distribution's release package (it owns os-release)
# and the kernel packages of one target kernel. Every package installs a marker file,
# /usr/share/ibup-kit/installed/<name>, so a test can prove a package manager really
# installed it. Prints the repository's directory (repodata/ beside the .rpm files).
#
# Usage: rpm-repo.sh el9|el8|sles15
# Needs rpmbuild (Debian's rpm) and createrepo_c (createrepo-c); exit 77 without them.
set -euo pipefail
# shellcheck source=tests/install/kit/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

# The target kernel of each tree, as `uname -r` would print it there.
kit_kernel() {
  case $1 in
  el9) echo 5.14.0-570.12.1.el9_6.x86_64 ;;
  el8) echo 4.18.0-553.el8_10.x86_64 ;;
  sles15) echo 6.4.0-150600.23.25-default ;;
  *) kit_die "unknown distribution '$1' (el9, el8, sles15)" ;;
  esac
}

# The packages: "name version release arch requires(comma-separated, or -)".
# Versions follow the distributions' own (AlmaLinux 9.6 / 8.10, SLES 15 SP6).
packages() {
  local k
  case $1 in
  el9 | el8)
    local d=$1 rc=54.0 pt=25.01.0 kv kr
    [ "$d" = el8 ] && rc=48.0 pt=4.5
    k=$(kit_kernel "$d")
    kv=${k%%-*} kr=${k#*-} kr=${kr%.x86_64}
    echo "bash 5.1.8 9.$d noarch -"
    echo "almalinux-release ${d#el}.$([ "$d" = el9 ] && echo 6 || echo 10) 1.$d noarch -"
    echo "kernel-core $kv $kr x86_64 -"
    echo "kernel-modules $kv $kr x86_64 kernel-core = $kv-$kr"
    echo "kernel-modules-extra $kv $kr x86_64 kernel-modules = $kv-$kr"
    echo "kernel-devel $kv $kr x86_64 -"
    echo "kernel-headers $kv $kr x86_64 -"
    echo "kernel-devel-matched $kv $kr x86_64 kernel-core = $kv-$kr,kernel-devel = $kv-$kr"
    echo "rdma-core $rc 1.$d noarch -"
    echo "rdma-core-devel $rc 1.$d noarch libibverbs,librdmacm,libibumad"
    echo "libibverbs $rc 1.$d noarch rdma-core"
    echo "libibverbs-utils $rc 1.$d noarch libibverbs"
    echo "librdmacm $rc 1.$d noarch rdma-core"
    echo "librdmacm-utils $rc 1.$d noarch librdmacm,libibverbs"
    echo "libibumad $rc 1.$d noarch rdma-core"
    echo "infiniband-diags $rc 1.$d noarch libibumad,rdma-core"
    echo "srp_daemon $rc 1.$d noarch libibumad"
    echo "opensm 3.3.24 7.$d noarch libibumad"
    echo "perftest $pt 1.$d noarch libibverbs,librdmacm,libibumad"
    echo "mstflint 4.28.0 1.$d noarch -"
    ;;
  sles15)
    k=$(kit_kernel sles15)
    local kv=6.4.0 kr=150600.23.25.1 rc=49.1 rr=150600.1.3
    echo "sles-release 15.6 150600.64.3.1 noarch -"
    echo "kernel-default $kv $kr x86_64 -"
    echo "kernel-devel $kv $kr noarch -"
    echo "kernel-default-devel $kv $kr x86_64 kernel-devel = $kv-$kr"
    echo "rdma-core $rc $rr noarch -"
    echo "rdma-core-devel $rc $rr noarch libibverbs,librdmacm1,libibumad3"
    echo "libibverbs1 $rc $rr noarch rdma-core"
    echo "libmlx5-1 $rc $rr noarch libibverbs1"
    echo "libmlx4-1 $rc $rr noarch libibverbs1"
    echo "libibverbs $rc $rr noarch rdma-core,libibverbs1,libmlx5-1,libmlx4-1"
    echo "libibverbs-utils $rc $rr noarch libibverbs1"
    echo "librdmacm1 $rc $rr noarch rdma-core"
    echo "librdmacm-utils $rc $rr noarch librdmacm1,libibverbs1"
    echo "libibumad3 $rc $rr noarch rdma-core"
    echo "infiniband-diags $rc $rr noarch libibumad3,rdma-core"
    echo "perftest 4.5.0.mlnxlibs 150600.3.3.1 noarch libibverbs1,librdmacm1,libibumad3"
    ;;
  *) kit_die "unknown distribution '$1' (el9, el8, sles15)" ;;
  esac
}

# os-release of each distribution, as its release package ships it.
os_release() {
  case $1 in
  el9) printf '%s\n' 'NAME="AlmaLinux"' 'VERSION="9.6 (Sage Margay)"' 'ID="almalinux"' \
    'ID_LIKE="rhel centos fedora"' 'VERSION_ID="9.6"' 'PLATFORM_ID="platform:el9"' \
    'PRETTY_NAME="AlmaLinux 9.6 (Sage Margay)"' ;;
  el8) printf '%s\n' 'NAME="AlmaLinux"' 'VERSION="8.10 (Cerulean Leopard)"' 'ID="almalinux"' \
    'ID_LIKE="rhel centos fedora"' 'VERSION_ID="8.10"' 'PLATFORM_ID="platform:el8"' \
    'PRETTY_NAME="AlmaLinux 8.10 (Cerulean Leopard)"' ;;
  sles15) printf '%s\n' 'NAME="SLES"' 'VERSION="15-SP6"' 'VERSION_ID="15.6"' \
    'PRETTY_NAME="SUSE Linux Enterprise Server 15 SP6"' 'ID="sles"' 'ID_LIKE="suse"' \
    'CPE_NAME="cpe:/o:suse:sles:15:sp6"' ;;
  esac
}

# spec DISTRO NAME VERSION RELEASE ARCH REQUIRES: one package's spec on stdout (kit_spec),
# with what the release and kernel packages install besides the marker.
spec() {
  local d=$1 name=$2 k prov=- install='' files=''
  k=$(kit_kernel "$d")
  # The shell scriptlets need; only trees with a real shell (make-tree.sh el9-dkms) get it.
  [ "$name" = bash ] && prov=/bin/sh,/bin/bash
  case $name in
  almalinux-release | sles-release)
    install=$(
      echo "mkdir -p %{buildroot}/usr/lib %{buildroot}/etc"
      echo "cat >%{buildroot}/usr/lib/os-release <<'OSR'"
      os_release "$d"
      echo "OSR"
      echo "ln -s ../usr/lib/os-release %{buildroot}/etc/os-release"
    )
    files=$(printf '%s\n' /usr/lib/os-release /etc/os-release)
    ;;
  kernel-core | kernel-default)
    # The kernel image, its module directory, and build -> the devel tree, like the real one.
    install=$(
      echo "mkdir -p %{buildroot}/boot %{buildroot}/lib/modules/$k/kernel/drivers/infiniband"
      echo "echo 'kernel $k' >%{buildroot}/lib/modules/$k/vmlinuz"
      echo "cp %{buildroot}/lib/modules/$k/vmlinuz %{buildroot}/boot/vmlinuz-$k"
      if [ "$name" = kernel-core ]; then
        echo "ln -s /usr/src/kernels/$k %{buildroot}/lib/modules/$k/build"
      else
        echo "ln -s /usr/src/linux-${k%-default}-obj/x86_64/default %{buildroot}/lib/modules/$k/build"
      fi
    )
    files=$(printf '%s\n' /boot/vmlinuz-"$k" /lib/modules/"$k")
    ;;
  kernel-devel)
    local src=/usr/src/kernels/$k what=devel
    [ "$d" = sles15 ] && src=/usr/src/linux-${k%-default} what=sources
    install=$(printf '%s\n' "mkdir -p %{buildroot}$src" \
      "echo 'kernel $what $k' >%{buildroot}$src/Makefile")
    files=$src
    ;;
  kernel-default-devel)
    local obj=/usr/src/linux-${k%-default}-obj
    install=$(printf '%s\n' "mkdir -p %{buildroot}$obj/x86_64/default" \
      "echo 'kernel obj $k' >%{buildroot}$obj/x86_64/default/Makefile")
    files=$obj
    ;;
  esac
  kit_spec "$name" "$3" "$4" "$5" "$6" "$prov" "$install" "$files"
}

build() {
  local out=$1 d=$2 name ver rel arch req
  while read -r name ver rel arch req; do
    spec "$d" "$name" "$ver" "$rel" "$arch" "$req" | kit_rpmbuild "$out" "$arch"
  done < <(packages "$d")
  createrepo_c --quiet "$out"
  kit_kernel "$d" >"$out/kernel-release"
}

main() {
  [ $# -eq 1 ] || kit_die "usage: rpm-repo.sh el9|el8|sles15"
  kit_kernel "$1" >/dev/null
  kit_need rpmbuild createrepo_c
  kit_cached "rpm-repo-$1" build "$1"
}

main "$@"
