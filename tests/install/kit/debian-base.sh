#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build (or reuse) a Debian 12 minbase tree with what a DKMS build needs: Debian's dkms,
# gcc, make and the headers of the current Debian kernel (linux-headers-<abi>-amd64,
# resolved from Debian's registry), and Debian's own rdma-core (the inbox stack a vendor
# stack replaces). Packed as a zstd tarball in the kit cache; prints the
# tarball's path. It is the Debian 12 tree of the install tests, and the userland under
# the EL9 "dkms" tree (an EL tree from the kit has no shell: package scriptlets and dkms
# need one), so a DKMS build really runs, in a chroot, never in the host's /var/lib/dkms.
#
# Usage: debian-base.sh
# Environment: IBUP_DEBIAN_MIRROR (default http://deb.debian.org/debian).
# Needs mmdebstrap, zstd and network access to the registry when not cached (exit 77
# without the tools).
set -euo pipefail
# shellcheck source=tests/install/kit/lib.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib.sh"

mirror=${IBUP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${mirror%/debian}/debian-security
[ "$mirror" = http://deb.debian.org/debian ] && security=http://deb.debian.org/debian-security

build() {
  local out=$1 headers=$2
  # No documentation or translations: the tree is extracted for every test.
  mmdebstrap --quiet --variant=minbase \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --include="dkms,gcc,make,libc6-dev,kmod,rdma-core,$headers" bookworm "$out/base.tar.zst" \
    "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main"
  echo "${headers#linux-headers-}" >"$out/kernel-release"
}

kit_need mmdebstrap zstd apt-cache
# The headers of the kernel Debian installs today (linux-headers-amd64's dependency).
headers=$(apt-cache depends linux-headers-amd64 2>/dev/null |
  sed -n 's/^ *Depends: \(linux-headers-[0-9].*-amd64\)$/\1/p' | head -n 1)
[ -n "$headers" ] || kit_die "cannot resolve linux-headers-amd64 (apt-get update?)"
# Only this script and its arguments make the tarball: editing the kit's library does not
# rebuild it.
KIT_KEY_LIB=0
kit_cached debian-base build "$headers" "$mirror"
