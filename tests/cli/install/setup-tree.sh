#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Make a copy of a fixture look like a distribution for a golden `ibup install` case
# (cases.list, run by run-case.sh --setup): its etc/os-release becomes
# os-release/OS-RELEASE, its /lib/modules KERNEL ("-": the fixture's), then each SETUP
# step (comma-separated, "-": none) is applied. TREE is made of hard links: every file
# changed here is removed first, never written through.
set -euo pipefail

[ $# -eq 4 ] || { echo "usage: setup-tree.sh OS-RELEASE KERNEL SETUP TREE" >&2; exit 2; }
here=$(dirname -- "$(readlink -f -- "$0")")
osr=$1 kernel=$2 setup=$3 tree=$4

# Secure Boot on: the firmware's variable set, shim validating, the kernel in lockdown.
secure_boot() {
  local efi=$1/sys/firmware/efi/efivars
  mkdir -p "$efi" "$1/sys/kernel/security"
  rm -f "$efi/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c" "$1/sys/kernel/security/lockdown"
  printf '\x06\x00\x00\x00\x01' >"$efi/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
  echo 'none [integrity] confidentiality' >"$1/sys/kernel/security/lockdown"
}

rm -f "$tree/etc/os-release"
cp "$here/os-release/$osr" "$tree/etc/os-release"
if [ "$kernel" != - ]; then
  rm -rf "$tree/lib/modules"
  mkdir -p "$tree/lib/modules/$kernel"
fi
IFS=, read -ra steps <<<"$setup"
for s in "${steps[@]}"; do
  case $s in
  -) ;;
  apt) mkdir -p "$tree/usr/bin" && rm -f "$tree/usr/bin/apt-get" && : >"$tree/usr/bin/apt-get" ;;
  sb) secure_boot "$tree" ;;
  sbvaloff)
    # Secure Boot on, but shim's validation disabled (mokutil --disable-validation).
    secure_boot "$tree"
    rm -f "$tree/sys/kernel/security/lockdown"
    printf '\x06\x00\x00\x00\x01' \
      >"$tree/sys/firmware/efi/efivars/MokSBStateRT-605dab50-e046-4300-abb6-3dd810dd8b23"
    ;;
  newer=*)
    # A newer kernel the next boot may pick, without the out-of-tree modules.
    mkdir -p "$tree/lib/modules/${s#newer=}"
    : >"$tree/lib/modules/${s#newer=}/modules.dep"
    ;;
  nokernel) rm -rf "${tree:?}/lib/modules" "${tree:?}/boot" ;;
  *) echo "setup-tree.sh: unknown setup step '$s'" >&2; exit 2 ;;
  esac
done
