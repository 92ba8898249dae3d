#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The install test kit itself, without ibup: its trees and stand-ins behave like the real
# things the install tests take them for.
#   - dnf installs the EL9 inbox packages into an EL9 tree and zypper the SLES ones into a
#     SLES 15 tree, offline, with their Requires; the files land and rpm -q lists them;
#   - doca-host, installed with apt in a Debian 12 chroot, lays down its repository; apt
#     installs doca-ofed from it and succeeds although the DKMS build failed (the vendor
#     scripts hide it), and dkms status shows the module was not installed;
#   - mlnxofedinstall records its arguments, refuses an unknown one with 22, returns the
#     exit code asked for, installs ofed_info on success; uninstall.sh takes it away.
#
# Usage: test-kit.sh IBUP FAKE_HTTP SOURCE_DIR (IBUP is not used)
set -euo pipefail
# shellcheck source=tests/install/lib-install.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib-install.sh"

kit_need dnf zypper

# EL9 through dnf.
make_tree el9 "$tmp/el9"
if ! grep -qx 'ID="almalinux"' "$tmp/el9/etc/os-release" ||
  ! grep -qx 'VERSION_ID="9.6"' "$tmp/el9/etc/os-release"; then
  fail "the EL9 tree's os-release is not AlmaLinux 9.6"
fi
dnf -y -q --installroot="$tmp/el9" --releasever=9 install rdma-core libibverbs-utils \
  infiniband-diags perftest librdmacm-utils >"$tmp/dnf.log" 2>&1 ||
  fail "dnf failed: $(cat "$tmp/dnf.log")"
installed "$tmp/el9" rdma-core libibverbs libibverbs-utils librdmacm librdmacm-utils \
  libibumad infiniband-diags perftest
rpm -q --root "$tmp/el9" libibverbs >/dev/null || fail "rpm -q does not list libibverbs"
rm -rf "${tmp:?}/el9"

# SLES 15 SP6 through zypper.
make_tree sles15 "$tmp/sles"
zypper --non-interactive --quiet --root "$tmp/sles" install --no-recommends rdma-core \
  libibverbs-utils librdmacm-utils infiniband-diags perftest >"$tmp/zypper.log" 2>&1 ||
  fail "zypper failed: $(cat "$tmp/zypper.log")"
installed "$tmp/sles" rdma-core libibverbs1 libibverbs-utils librdmacm1 libibumad3 perftest
rm -rf "${tmp:?}/sles"

# MLNX_OFED: the tarball's installer and uninstaller.
mofed=$(kit_product vendor.sh mofed)
tar -C "$tmp" -xzf "$mofed"/MLNX_OFED_LINUX-*.tgz
inst=$(echo "$tmp"/MLNX_OFED_LINUX-*/mlnxofedinstall)
m=$tmp/mofed-root
mkdir -p "$m"
export IBUP_FAKE_MOFED_ROOT=$m
rc=0
"$inst" --bogus >/dev/null 2>&1 || rc=$?
[ "$rc" = 22 ] || fail "an unknown argument gave $rc, not 22"
rc=0
IBUP_FAKE_MOFED_EXIT=28 "$inst" --add-kernel-support >/dev/null 2>&1 || rc=$?
[ "$rc" = 28 ] || fail "IBUP_FAKE_MOFED_EXIT=28 gave $rc"
[ ! -e "$m/usr/bin/ofed_info" ] || fail "a failed run installed ofed_info"
"$inst" --add-kernel-support --skip-repo >/dev/null
[ "$("$m/usr/bin/ofed_info")" = "MLNX_OFED_LINUX-24.10-3.2.5.0:" ] || fail "ofed_info is wrong"
[ "$(tail -n 1 "$m/var/log/ibup-fake-mofed.log")" = \
  "mlnxofedinstall --add-kernel-support --skip-repo" ] || fail "the arguments were not recorded"
"$m/usr/sbin/ofed_uninstall.sh" --force >/dev/null
[ ! -e "$m/usr/bin/ofed_info" ] || fail "ofed_uninstall.sh left ofed_info"
unset IBUP_FAKE_MOFED_ROOT

# DOCA on Debian 12: apt succeeds, DKMS did not.
make_tree debian12 "$tmp/deb"
k=$(cat "$(kit_product debian-base.sh)/kernel-release")
doca=$(kit_product vendor.sh doca-deb broken)
cp "$doca"/doca-host_*.deb "$tmp/deb/tmp/"
in_deb() {
  chroot "$tmp/deb" env DEBIAN_FRONTEND=noninteractive "$@" >>"$tmp/apt.log" 2>&1 ||
    fail "$* failed: $(cat "$tmp/apt.log")"
}
in_deb apt-get install -y --no-install-recommends "/tmp/$(basename "$doca"/doca-host_*.deb)"
grep -q '^deb .*file:/usr/share/doca-host-.*/repo ./$' "$tmp/deb/etc/apt/sources.list.d/doca.list" ||
  fail "doca-host laid down no repository definition"
in_deb apt-get update
in_deb apt-get install -y --no-install-recommends doca-ofed
installed "$tmp/deb" doca-ofed mlnx-ofed-kernel-dkms ibverbs-providers
status=$(chroot "$tmp/deb" dkms status -m mlnx-ofed-kernel -k "$k" 2>/dev/null) || true
grep -q ': installed' <<<"$status" && fail "the broken module was installed"
grep -q "implicit declaration of function .init_timer" \
  "$tmp/deb/var/lib/dkms/mlnx-ofed-kernel/25.10/build/make.log" ||
  fail "the DKMS build did not fail on init_timer()"
echo "install kit: ok"
