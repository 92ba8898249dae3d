#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build (or reuse) the vendor stand-ins ibup install downloads, faithful to NVIDIA's formats
# (docs: /work/shared/reference/install.md §2, §3). Prints the directory holding the file
# and SHA256SUMS (sha256sum format) for it; serve the directory with fake-http.
#
# Usage: vendor.sh doca-rpm ok|broken   doca-host RPM for EL9 (rhel9)
#        vendor.sh doca-deb ok|broken   doca-host .deb for Debian 12
#        vendor.sh mofed                MLNX_OFED_LINUX tarball for EL9.6
#
# doca-host, like the real one, is a "local repository" package: installing it lays down
# /usr/share/doca-host-<ver>-<build>[-_]<ofed>[-_]<distro>/repo (packages and their
# metadata) and the repository definition pointing at it (/etc/yum.repos.d/doca.repo, or
# /etc/apt/sources.list.d/doca.list), so the package manager can then install doca-ofed.
# doca-ofed pulls DOCA's own rdma-core (2510.0.11, newer than any distribution's), the
# OFED scripts (ofed_info) and the kernel modules as a DKMS package whose install script,
# like the real one, runs `dkms install` for each kernel with headers and hides a failed
# build (it exits 0). "broken" ships module source that does not compile on today's
# kernels (init_timer() was removed in 4.15: the API break old OFED sources hit); "ok"
# ships one that builds. Packages are unsigned (gpgcheck=0, [trusted=yes]).
#
# MLNX_OFED_LINUX-24.10-3.2.5.0-rhel9.6-x86_64.tgz holds mlnxofedinstall and uninstall.sh.
# mlnxofedinstall appends its arguments (one line per run) to $IBUP_FAKE_MOFED_LOG
# (default /var/log/ibup-fake-mofed.log in the root it installs into) and exits with the
# vendor's documented code given by $IBUP_FAKE_MOFED_EXIT or the content of the file
# $IBUP_FAKE_MOFED_EXIT_FILE (0 ok, 1 failed, 2 no firmware, 22 invalid parameter, 28 no
# free space, 171 not applicable, 172 prerequisites not met, 173 mst driver failed), with
# the vendor's messages. It installs (ofed_info, ofed_uninstall.sh, markers) into
# $IBUP_FAKE_MOFED_ROOT, or into / only when / is a kit tree (it has /usr/share/ibup-kit),
# so it never writes to the machine running the tests.
set -euo pipefail
# shellcheck source=tests/install/kit/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

DOCA_VER=3.2.2
DOCA_BUILD=035000
OFED=25.10
OFED_REL=25.10-1.7.1
RC=2510.0.11
MOFED=24.10-3.2.5.0

# The DKMS module's source: Kbuild, dkms.conf and one C file; $3: ok or broken.
dkms_source() {
  local dir=$1 module=$2 kind=$3 dest=$4
  mkdir -p "$dir"
  cat >"$dir/dkms.conf" <<CONF
PACKAGE_NAME="$module"
PACKAGE_VERSION="$OFED"
BUILT_MODULE_NAME[0]="mlx5_ib"
DEST_MODULE_LOCATION[0]="$dest"
MAKE[0]="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build modules"
CLEAN="make -C \${kernel_source_dir} M=\${dkms_tree}/\${PACKAGE_NAME}/\${PACKAGE_VERSION}/build clean"
AUTOINSTALL="yes"
CONF
  echo 'obj-m := mlx5_ib.o' >"$dir/Kbuild"
  {
    echo '// SPDX-License-Identifier: MIT'
    echo '/* Stand-in for mlx5_ib in ibup install tests: loads and does nothing. */'
    echo '#include <linux/module.h>'
    echo '#include <linux/timer.h>'
    echo 'static struct timer_list kit_timer;'
    echo 'static int __init kit_init(void)'
    echo '{'
    if [ "$kind" = broken ]; then
      echo '	init_timer(&kit_timer); /* removed in Linux 4.15 */'
    else
      echo '	timer_setup(&kit_timer, NULL, 0);'
    fi
    echo '	return 0;'
    echo '}'
    echo 'static void __exit kit_exit(void)'
    echo '{'
    echo '}'
    echo 'module_init(kit_init);'
    echo 'module_exit(kit_exit);'
    echo 'MODULE_LICENSE("Dual BSD/GPL");'
  } >"$dir/mlx5_ib.c"
}

# The install script of the DKMS package: build for every kernel with headers, and, like
# the vendor's, never fail the package manager when a build fails.
dkms_post() {
  local module=$1
  cat <<POST
dkms add -m $module -v $OFED >/dev/null 2>&1 || :
for k in \$(ls /lib/modules 2>/dev/null); do
	[ -e /lib/modules/\$k/build ] || continue
	dkms install -m $module -v $OFED -k \$k ||
		echo "Error! Bad return status for module build on kernel: \$k" >&2
done
exit 0
POST
}

dkms_preun() {
  echo "dkms remove -m $1 -v $OFED --all >/dev/null 2>&1 || :"
}

ofed_info() {
  cat <<'INFO'
#!/bin/bash
# ofed_info: the installed OFED release (stand-in).
if [ "${1:-}" = -s ]; then
	echo "OFED-internal-@OFED_REL@:"
else
	echo "OFED-internal-@OFED_REL@:"
	echo
	echo "Installed Packages:"
	echo "-------------------"
fi
INFO
}

# What the kernel package installs besides the modules, as the vendor's: openib.conf,
# the openibd init script and its systemd unit (enabled by whoever installs the stack).
openibd_files() {
  local s=$1
  mkdir -p "$s/etc/infiniband" "$s/etc/init.d" "$s/usr/lib/systemd/system"
  printf '%s\n' '# Start HCA driver upon boot' 'ONBOOT=yes' 'IPOIB_LOAD=yes' >"$s/etc/infiniband/openib.conf"
  # The LSB header is the vendor's: update-rc.d (systemctl enable's SysV sync) needs it.
  cat >"$s/etc/init.d/openibd" <<'INIT'
#!/bin/bash
### BEGIN INIT INFO
# Provides:       openibd
# Required-Start: $local_fs
# Required-Stop:
# Default-Start:  2 3 4 5
# Default-Stop:   0 1 6
# Description:    Activates/Deactivates InfiniBand Driver to start at boot time.
### END INIT INFO
# openibd (ibup test stand-in): loads nothing.
echo "openibd $*"
INIT
  chmod 755 "$s/etc/init.d/openibd"
  cat >"$s/usr/lib/systemd/system/openibd.service" <<'UNIT'
[Unit]
Description=openibd - configure Mellanox devices
Documentation=file:/etc/infiniband/openib.conf
After=wickedd.service wicked.service systemd-udev-settle.service
Before=network.target network-pre.target
DefaultDependencies=no

[Service]
Type=oneshot
RemainAfterExit=yes
TimeoutSec=300
ExecStart=/etc/init.d/openibd start bootid=%b
ExecStop=/etc/init.d/openibd stop

[Install]
WantedBy=sysinit.target
UNIT
}

stage() {
  local s
  s=$(mktemp -d "$TMPDIR_KIT/stage.XXXXXX")
  printf '%s\n' "$s"
}

build_doca_rpm() {
  local out=$1 kind=$2 repo_name repo s
  repo_name=doca-host-$DOCA_VER-${DOCA_BUILD}_${OFED}_rhel9
  repo=$(stage)/usr/share/$repo_name/repo
  mkdir -p "$repo"
  s=$(stage)
  dkms_source "$s/usr/src/mlnx-ofa_kernel-$OFED" mlnx-ofa_kernel "$kind" /extra/mlnx-ofa_kernel
  kit_rpm "$repo" "$s" mlnx-ofa_kernel-dkms "$OFED" "OFED.${OFED_REL//-/.}.1" noarch - \
    "$(dkms_post mlnx-ofa_kernel)" "$(dkms_preun mlnx-ofa_kernel)"
  s=$(stage)
  mkdir -p "$s/usr/bin"
  ofed_info | sed "s/@OFED_REL@/$OFED_REL/" >"$s/usr/bin/ofed_info"
  chmod 755 "$s/usr/bin/ofed_info"
  kit_rpm "$repo" "$s" ofed-scripts "$OFED" "OFED.${OFED_REL//-/.}" x86_64 -
  s=$(stage)
  openibd_files "$s"
  kit_rpm "$repo" "$s" mlnx-ofa_kernel "$OFED" "OFED.${OFED_REL//-/.}.1" x86_64 \
    "mlnx-ofa_kernel-dkms,ofed-scripts"
  kit_rpm "$repo" "$(stage)" mlnx-tools "$OFED" "0.2510.1" x86_64 -
  kit_rpm "$repo" "$(stage)" rdma-core "$RC" 1 x86_64 -
  local p
  for p in libibverbs librdmacm libibumad; do
    kit_rpm "$repo" "$(stage)" "$p" "$RC" 1 x86_64 rdma-core
  done
  kit_rpm "$repo" "$(stage)" libibverbs-utils "$RC" 1 x86_64 libibverbs
  kit_rpm "$repo" "$(stage)" librdmacm-utils "$RC" 1 x86_64 librdmacm,libibverbs
  kit_rpm "$repo" "$(stage)" infiniband-diags "$RC" 1 x86_64 libibumad
  kit_rpm "$repo" "$(stage)" perftest 25.10.0 0.112.g6e9d5b4.2510 x86_64 libibverbs,librdmacm
  kit_rpm "$repo" "$(stage)" ucx 1.20.0 1.2510 x86_64 libibverbs,librdmacm
  kit_rpm "$repo" "$(stage)" doca-ofed "$DOCA_VER" "$DOCA_BUILD" x86_64 \
    "mlnx-ofa_kernel,mlnx-tools,rdma-core >= $RC,libibverbs-utils,librdmacm-utils,infiniband-diags,perftest,ucx"
  createrepo_c --quiet "$repo"
  # The repository definition, as the real package lays it down (it signs its packages;
  # these are not).
  s=${repo%/usr/share/*}
  mkdir -p "$s/etc/yum.repos.d"
  cat >"$s/etc/yum.repos.d/doca.repo" <<REPO
[doca]
name=DOCA Online Repo
baseurl=file:///usr/share/$repo_name/repo
enabled=1
gpgcheck=0
REPO
  kit_rpm "$out" "$s" doca-host "$DOCA_VER" "${DOCA_BUILD}_${OFED}_rhel9" x86_64 -
}

build_doca_deb() {
  local out=$1 kind=$2 repo_name repo s p
  repo_name=doca-host-$DOCA_VER-$DOCA_BUILD-$OFED-debian12
  repo=$(stage)/usr/share/$repo_name/repo
  mkdir -p "$repo"
  s=$(stage)
  dkms_source "$s/usr/src/mlnx-ofed-kernel-$OFED" mlnx-ofed-kernel "$kind" /updates/dkms
  kit_deb "$repo" "$s" mlnx-ofed-kernel-dkms "$OFED.$OFED_REL.1-1" all dkms,make,gcc \
    "$(dkms_post mlnx-ofed-kernel)" "$(dkms_preun mlnx-ofed-kernel)"
  s=$(stage)
  mkdir -p "$s/usr/bin"
  ofed_info | sed "s/@OFED_REL@/$OFED_REL/" >"$s/usr/bin/ofed_info"
  chmod 755 "$s/usr/bin/ofed_info"
  kit_deb "$repo" "$s" ofed-scripts "$OFED.$OFED_REL-1" amd64 -
  s=$(stage)
  openibd_files "$s"
  kit_deb "$repo" "$s" mlnx-ofed-kernel-utils "$OFED.$OFED_REL.1-1" amd64 \
    "mlnx-ofed-kernel-dkms,ofed-scripts"
  kit_deb "$repo" "$(stage)" mlnx-tools "$OFED.0-1" amd64 -
  kit_deb "$repo" "$(stage)" rdma-core "$RC-1" amd64 -
  for p in libibverbs1 librdmacm1 libibumad3; do
    kit_deb "$repo" "$(stage)" "$p" "$RC-1" amd64 rdma-core
  done
  kit_deb "$repo" "$(stage)" ibverbs-providers "$RC-1" amd64 libibverbs1
  kit_deb "$repo" "$(stage)" ibverbs-utils "$RC-1" amd64 libibverbs1,ibverbs-providers
  kit_deb "$repo" "$(stage)" rdmacm-utils "$RC-1" amd64 librdmacm1
  kit_deb "$repo" "$(stage)" infiniband-diags "$RC-1" amd64 libibumad3
  kit_deb "$repo" "$(stage)" perftest "25.10.0-0.112.g6e9d5b4.2510" amd64 libibverbs1,librdmacm1
  kit_deb "$repo" "$(stage)" ucx "1.20.0-1.2510" amd64 libibverbs1,librdmacm1
  kit_deb "$repo" "$(stage)" doca-ofed "$DOCA_VER-$DOCA_BUILD" amd64 \
    "mlnx-ofed-kernel-utils,mlnx-tools,rdma-core (>= $RC),ibverbs-utils,rdmacm-utils,infiniband-diags,perftest,ucx"
  (cd "$repo" && dpkg-scanpackages --multiversion . /dev/null 2>/dev/null >Packages && gzip -9nk Packages)
  s=${repo%/usr/share/*}
  mkdir -p "$s/etc/apt/sources.list.d"
  echo "deb [trusted=yes] file:/usr/share/$repo_name/repo ./" >"$s/etc/apt/sources.list.d/doca.list"
  kit_deb "$out" "$s" doca-host "$DOCA_VER-$DOCA_BUILD-$OFED-debian12" amd64 -
}

mofed_install() {
  cat <<'INSTALL'
#!/bin/bash
# mlnxofedinstall (ibup test stand-in): records its arguments, answers the vendor's way.
VER=@MOFED@
root=${IBUP_FAKE_MOFED_ROOT:-}
if [ -z "$root" ] && [ -d /usr/share/ibup-kit ]; then
	root=/
fi
log=${IBUP_FAKE_MOFED_LOG:-${root:-/nonexistent}/var/log/ibup-fake-mofed.log}
mkdir -p "${log%/*}" 2>/dev/null
printf '%s\n' "mlnxofedinstall $*" >>"$log" 2>/dev/null
code=${IBUP_FAKE_MOFED_EXIT:-0}
if [ -n "${IBUP_FAKE_MOFED_EXIT_FILE:-}" ] && [ -s "$IBUP_FAKE_MOFED_EXIT_FILE" ]; then
	code=$(cat "$IBUP_FAKE_MOFED_EXIT_FILE")
fi
while [ $# -gt 0 ]; do
	case $1 in
	-h | --help) echo "Usage: mlnxofedinstall [OPTIONS]"; exit 0 ;;
	-k | --kernel | -s | --kernel-sources | --distro | --tmpdir) shift ;;
	--add-kernel-support | --add-kernel-support-build-only | --skip-distro-check | \
	--without-depcheck | --check-deps-only | --dkms | --force-dkms | --without-dkms | \
	--force | --without-fw-update | --fw-update-only | --skip-unsupported-devices-check | \
	--user-space-only | --kernel-only | --hpc | --basic | --all | --guest | --skip-repo | \
	-q | --without-*) ;;
	*) echo "Unsupported argument: $1" >&2; exit 22 ;;
	esac
	shift
done
if [ "$(id -u)" != 0 ]; then
	echo "Only root can run $0" >&2
	exit 1
fi
case $code in
0) ;;
1) echo "Error: mlnx-ofa_kernel installation failed! See /tmp/MLNX_OFED_LINUX.$$.logs/mlnx-ofa_kernel.rpminstall.log" >&2 ;;
2) echo "Failed to update Firmware: no firmware image found for the adapter" >&2 ;;
22) echo "Error: invalid parameter" >&2 ;;
28) echo "Error: Not enough free space in /tmp" >&2 ;;
171) echo "Error: the current kernel and distribution are not applicable for this package" >&2 ;;
172) echo "Error: One or more required packages for installing MLNX_OFED_LINUX are missing." >&2
	echo "Please install the missing packages using your Linux distribution Package Management tool." >&2 ;;
173) echo "Error: Failed to start the mst driver" >&2 ;;
esac
[ "$code" = 0 ] || exit "$code"
if [ -n "$root" ]; then
	mkdir -p "$root/usr/bin" "$root/usr/sbin" "$root/usr/share/ibup-kit/installed"
	printf '#!/bin/bash\necho "MLNX_OFED_LINUX-%s:"\n' "$VER" >"$root/usr/bin/ofed_info"
	chmod 755 "$root/usr/bin/ofed_info"
	cp "$(dirname "$0")/uninstall.sh" "$root/usr/sbin/ofed_uninstall.sh"
	cp -r "$(dirname "$0")/files/." "$root/"
	echo "MLNX_OFED_LINUX-$VER" >"$root/usr/share/ibup-kit/installed/mlnx-ofed-all"
fi
echo "Installation passed successfully"
echo "To load the new driver, run:"
echo "/etc/init.d/openibd restart"
exit 0
INSTALL
}

mofed_uninstall() {
  cat <<'UNINSTALL'
#!/bin/bash
# uninstall.sh / ofed_uninstall.sh (ibup test stand-in): records its arguments, removes
# what mlnxofedinstall installed.
root=${IBUP_FAKE_MOFED_ROOT:-}
if [ -z "$root" ] && [ -d /usr/share/ibup-kit ]; then
	root=/
fi
log=${IBUP_FAKE_MOFED_LOG:-${root:-/nonexistent}/var/log/ibup-fake-mofed.log}
printf '%s\n' "uninstall.sh $*" >>"$log" 2>/dev/null
[ -n "$root" ] && rm -f "$root/usr/bin/ofed_info" "$root/usr/sbin/ofed_uninstall.sh" \
	"$root/etc/infiniband/openib.conf" "$root/etc/init.d/openibd" \
	"$root/usr/lib/systemd/system/openibd.service" \
	"$root/usr/share/ibup-kit/installed/mlnx-ofed-all"
echo "Uninstall finished successfully"
exit 0
UNINSTALL
}

build_mofed() {
  local out=$1 name s
  name=MLNX_OFED_LINUX-$MOFED-rhel9.6-x86_64
  s=$(stage)/$name
  mkdir -p "$s/RPMS" "$s/docs"
  # What the installer lays down with the modules (kept beside it in the stand-in).
  openibd_files "$s/files"
  mofed_install | sed "s/@MOFED@/$MOFED/" >"$s/mlnxofedinstall"
  mofed_uninstall >"$s/uninstall.sh"
  chmod 755 "$s/mlnxofedinstall" "$s/uninstall.sh"
  echo "$MOFED" >"$s/.mlnx"
  echo x86_64 >"$s/.arch"
  echo rhel9.6 >"$s/distro"
  echo "MLNX_OFED_LINUX-$MOFED (OFED-$MOFED):" >"$s/docs/release_notes.txt"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "${s%/*}" \
    -czf "$out/$name.tgz" "$name"
}

main() {
  [ $# -ge 1 ] || kit_die "usage: vendor.sh doca-rpm|doca-deb ok|broken, or vendor.sh mofed"
  local what=$1 kind=${2:-ok}
  case $what/$kind in
  doca-rpm/ok | doca-rpm/broken) kit_need rpmbuild createrepo_c ;;
  doca-deb/ok | doca-deb/broken) kit_need dpkg-deb dpkg-scanpackages ;;
  mofed/ok) kit_need tar gzip ;;
  *) kit_die "usage: vendor.sh doca-rpm|doca-deb ok|broken, or vendor.sh mofed" ;;
  esac
  kit_cached "vendor-$what-$kind" build "$what" "$kind"
}

build() {
  local out=$1 what=$2 kind=$3
  TMPDIR_KIT=$(mktemp -d)
  case $what in
  doca-rpm) build_doca_rpm "$out" "$kind" ;;
  doca-deb) build_doca_deb "$out" "$kind" ;;
  mofed) build_mofed "$out" ;;
  esac
  rm -rf "$TMPDIR_KIT"
  (cd "$out" && sha256sum -- * >SHA256SUMS)
}

main "$@"
