#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make an image tree that looks like a fresh EL or SLES install: the kit's local repository
# (rpm-repo.sh) defined inside the tree the way the distribution defines its own, and the
# release package and the target kernel installed into it by the real package manager.
# The tree is not cached: tests change it. Prints nothing; the tree is DIR.
#
# Usage: make-tree.sh el9|el8|sles15|debian12|el9-dkms DIR
#
#   el9, el8, sles15  only what the kit's packages install: no shell, nothing runs inside
#   debian12          Debian 12 with dkms, gcc, make and the current Debian kernel's headers
#                     (debian-base.sh); Debian's own sources are moved aside, so apt-get
#                     inside sees only what a test adds (no network needed)
#   el9-dkms          an EL9 tree over that Debian userland, so package scriptlets and dkms
#                     really run in it: the kit's stand-in bash provides /bin/sh, and the
#                     EL kernel's devel tree (/usr/src/kernels/K) is the Debian kernel's
#                     real headers, so a DKMS build for K really compiles
#
# Quirks of Debian's rpm, dnf and zypper (all handled here or in kit_rpm_env):
#  - Debian's rpm keeps its database in ~/.rpmdb (%_dbpath), also under --root; EL and SLES
#    keep it in /var/lib/rpm. kit_rpm_env points HOME at a directory whose .rpmmacros says
#    /var/lib/rpm, so rpm, dnf and zypper (and ibup, which inherits the environment) all
#    use the real location.
#  - dnf --installroot reads the repositories from DIR/etc/yum.repos.d when that directory
#    exists (never the host's), and caches under DIR/var/cache/dnf. The packages are not
#    signed: gpgcheck=0 in the .repo file.
#  - zypper --root keeps its repositories in DIR/etc/zypp/repos.d (added with `zypper --root
#    DIR addrepo --no-gpgcheck`) and its cache in DIR/var/cache/zypp. Debian's rpm prints an
#    "use Alien instead" warning when zypper runs it; that is harmless.
#  - Nothing runs offline-hostile: file:// repositories need no network.
set -euo pipefail
# shellcheck source=tests/install/kit/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

[ $# -eq 2 ] || kit_die "usage: make-tree.sh el9|el8|sles15|debian12|el9-dkms DIR"
distro=$1 root=$2
kit_rpm_env
mkdir -p "$root"
case $distro in
debian12 | el9-dkms)
  kit_need zstd
  base=$("$KIT_DIR/debian-base.sh")
  tar -C "$root" --zstd -xpf "$base/base.tar.zst"
  mv "$root/etc/apt/sources.list" "$root/etc/apt/sources.list.debian"
  ;;
esac
case $distro in
el9-dkms)
  kit_need dnf
  repo=$("$KIT_DIR/rpm-repo.sh" el9)
  k=$(cat "$repo/kernel-release")
  mkdir -p "$root/etc/yum.repos.d"
  cat >"$root/etc/yum.repos.d/almalinux-baseos.repo" <<REPO
[baseos]
name=AlmaLinux 9 - BaseOS (ibup test repository)
baseurl=file://$repo
enabled=1
gpgcheck=0
REPO
  # The Debian kernel's module tree goes; the EL kernel's devel tree is its headers.
  rm -rf "$root/lib/modules/$(cat "$base/kernel-release")"
  dnf -y -q --installroot="$root" --releasever=9 install bash almalinux-release kernel-core \
    kernel-devel >&2
  rm -rf "$root/usr/src/kernels/$k"
  ln -s "/usr/src/linux-headers-$(cat "$base/kernel-release")" "$root/usr/src/kernels/$k"
  ;;
el8 | el9)
  repo=$("$KIT_DIR/rpm-repo.sh" "$distro")
  kit_need dnf
  mkdir -p "$root/etc/yum.repos.d"
  cat >"$root/etc/yum.repos.d/almalinux-baseos.repo" <<REPO
[baseos]
name=AlmaLinux ${distro#el} - BaseOS (ibup test repository)
baseurl=file://$repo
enabled=1
gpgcheck=0
REPO
  dnf -y -q --installroot="$root" --releasever="${distro#el}" install almalinux-release kernel-core >&2
  ;;
sles15)
  repo=$("$KIT_DIR/rpm-repo.sh" "$distro")
  kit_need zypper
  zypper --non-interactive --quiet --root "$root" addrepo --no-gpgcheck "file://$repo" \
    SLE-Module-Basesystem15-SP6-Pool >&2
  zypper --non-interactive --quiet --root "$root" install --no-recommends sles-release \
    kernel-default >&2 2> >(grep -v -e 'use Alien' -e 'what you are doing' >&2)
  ;;
debian12) ;;
*) kit_die "unknown tree '$distro' (el9, el8, sles15, debian12, el9-dkms)" ;;
esac
