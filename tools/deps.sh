#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Install what ibup needs: to build (default), or to build and run every test (--test).
# Debian and Ubuntu use apt-get; RHEL-family (dnf, with EPEL for scdoc and ShellCheck)
# and SLES (zypper) are handled with their own package names.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: tools/deps.sh [--test] [--print]

Install the packages ibup needs to build; with --test, also those the test suite
needs (linters, the JSON-schema validator, QEMU and debootstrap for the Soft-RoCE
guest tests). --print only prints the install command. Run as root.
USAGE
}

test=0 print=0
for arg in "$@"; do
  case $arg in
  --test) test=1 ;;
  --print) print=1 ;;
  -h | --help) usage; exit 0 ;;
  *) echo "deps.sh: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
  esac
done

# Build: compiler, CMake + Ninja, jansson; scdoc for the man pages.
apt_build=(gcc cmake ninja-build pkg-config libjansson-dev libmnl-dev libexpat1-dev libcurl4-openssl-dev libibverbs-dev scdoc)
dnf_build=(gcc cmake ninja-build pkgconf-pkg-config jansson-devel libmnl-devel expat-devel libcurl-devel rdma-core-devel scdoc)
zypper_build=(gcc cmake ninja pkg-config libjansson-devel libmnl-devel libexpat-devel libcurl-devel rdma-core-devel scdoc)
# Tests: cmocka, the schema validator, linters, and the Soft-RoCE guest's tools.
# valgrind for the valgrind preset; git, mmdebstrap and zstd for the fresh-tree checks
# (tools/fresh-tree.sh); dpkg-dev, debhelper, lintian and rpm to build and check the
# packages (tools/package.sh); promtool (Debian's prometheus) lints `ibup metrics`;
# the Azure Linux agent (waagent) drives the VM-extension tests and checks the
# waagent.conf reader; systemctl (systemd) enables units under --root in plan tests;
# systemd-nspawn (systemd-container) boots the container of the vmext systemd test;
# dnf, zypper and createrepo-c (with rpm, mmdebstrap and dpkg-dev) build and drive the
# EL and SLES trees of the `ibup install` tests (tests/install/kit); Open MPI's headers
# build ibup-sweep (the sweep's MPI program).
apt_test=(libcmocka-dev python3 python3-jsonschema clang libclang-rt-14-dev clang-format cppcheck shellcheck
  qemu-system-x86 ipxe-qemu debootstrap cpio iproute2 jq bash-completion valgrind
  git mmdebstrap zstd dpkg-dev debhelper lintian rpm prometheus waagent systemd systemd-container
  dnf zypper createrepo-c libopenmpi-dev openmpi-bin)
dnf_test=(libcmocka-devel python3 python3-jsonschema clang compiler-rt clang-tools-extra cppcheck ShellCheck
  qemu-kvm debootstrap cpio iproute jq bash-completion valgrind git rpm-build openmpi-devel)
zypper_test=(libcmocka-devel python3 python3-jsonschema clang llvm-compiler-rt clang-tools cppcheck ShellCheck
  qemu-x86 debootstrap cpio iproute2 jq bash-completion valgrind git rpm-build openmpi4-devel)

run() {
  if [ "$print" = 1 ]; then
    echo "$*"
  else
    "$@"
  fi
}

if command -v apt-get >/dev/null; then
  pkgs=("${apt_build[@]}")
  [ "$test" = 1 ] && pkgs+=("${apt_test[@]}")
  export DEBIAN_FRONTEND=noninteractive
  if [ "$print" = 1 ]; then
    run apt-get install -y --no-install-recommends "${pkgs[@]}"
  else
    missing=()
    for p in "${pkgs[@]}"; do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
        missing+=("$p")
    done
    # Only refresh the package lists when something is missing: a warm machine needs no network.
    if [ "${#missing[@]}" -gt 0 ]; then
      apt-get update -qq
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
  fi
elif command -v dnf >/dev/null; then
  pkgs=("${dnf_build[@]}")
  [ "$test" = 1 ] && pkgs+=("${dnf_test[@]}")
  run dnf install -y "${pkgs[@]}"
elif command -v zypper >/dev/null; then
  pkgs=("${zypper_build[@]}")
  [ "$test" = 1 ] && pkgs+=("${zypper_test[@]}")
  run zypper --non-interactive install "${pkgs[@]}"
else
  echo "deps.sh: no apt-get, dnf or zypper found; install by hand: ${apt_build[*]}" >&2
  exit 3
fi
