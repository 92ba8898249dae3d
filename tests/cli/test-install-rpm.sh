#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup install --stack inbox --root TREE` with the real dnf and zypper: small packages
# named like the distributions' are built with rpmbuild into a local repository
# (createrepo_c) that the tree's own repository files name; the install puts them into
# the tree's rpm database, and a second install plans nothing.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: test-install-rpm.sh IBUP SOURCE_DIR" >&2; exit 2; }
ibup=$1 src=$2
for tool in rpmbuild createrepo_c dnf zypper; do
  command -v "$tool" >/dev/null || { echo "skip: $tool is not installed"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# The inbox packages ibup plans on RHEL and SLES (kernel packages need a kernel: none here).
repo=$tmp/repo
mkdir -p "$tmp/rpmbuild/SPECS" "$repo"
for p in rdma-core libibverbs-utils infiniband-diags perftest librdmacm-utils; do
  cat >"$tmp/rpmbuild/SPECS/$p.spec" <<SPEC
Name: $p
Version: 48.0
Release: 1
Summary: a stand-in for the distribution's $p
License: MIT
BuildArch: noarch
%description
A stand-in for the distribution's $p.
%install
mkdir -p %{buildroot}/usr/share/doc/$p
echo $p >%{buildroot}/usr/share/doc/$p/stand-in
%files
/usr/share/doc/$p/stand-in
SPEC
  rpmbuild --quiet --define "_topdir $tmp/rpmbuild" -bb "$tmp/rpmbuild/SPECS/$p.spec" >/dev/null
done
cp "$tmp"/rpmbuild/RPMS/noarch/*.rpm "$repo/"
createrepo_c -q "$repo"

# install_into NAME OS-RELEASE REPO-DIR: a tree whose package manager knows the repository.
install_into() {
  local name=$1 osr=$2 repodir=$3 tree=$tmp/$1 rc
  mkdir -p "$tree/$repodir" "$tree/etc"
  cp "$src/tests/cli/install/os-release/$osr" "$tree/etc/os-release"
  printf '[local]\nname=local\nbaseurl=file://%s\ngpgcheck=0\nenabled=1\nautorefresh=1\n' \
    "$repo" >"$tree/$repodir/local.repo"
  rc=0
  "$ibup" --root "$tree" install --stack inbox >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  if [ "$rc" != 0 ]; then
    echo "FAIL: $name: install exited $rc" >&2
    cat "$tmp/$name.err" >&2
    fail=1
    return
  fi
  for p in rdma-core libibverbs-utils infiniband-diags perftest librdmacm-utils; do
    if [ ! -e "$tree/usr/share/doc/$p/stand-in" ]; then
      echo "FAIL: $name: $p was not installed into the tree" >&2
      fail=1
    fi
  done
  grep -q "^ran: $4" "$tmp/$name.out" || {
    echo "FAIL: $name: no '$4' in:" >&2
    cat "$tmp/$name.out" >&2
    fail=1
  }
  # The kernel hook (kernel-install's plugin) says what it checks and never fails.
  rc=0
  sh "$tree/etc/kernel/install.d/90-ibup-check.install" add 6.6.0-test \
    >/dev/null 2>"$tmp/$name.hook" || rc=$?
  if [ "$rc" != 0 ] || ! grep -q "for kernel 6.6.0-test" "$tmp/$name.hook"; then
    echo "FAIL: $name: the kernel hook exited $rc:" >&2
    cat "$tmp/$name.hook" >&2
    fail=1
  fi
  rc=0
  "$ibup" --root "$tree" install --stack inbox >"$tmp/$name.again" 2>&1 || rc=$?
  if [ "$rc" != 0 ] || ! grep -q "^Nothing to do" "$tmp/$name.again"; then
    echo "FAIL: $name: the second install planned something (exit $rc):" >&2
    cat "$tmp/$name.again" >&2
    fail=1
  fi
}

install_into rocky9 rocky9 etc/yum.repos.d \
  "dnf -y --installroot=$tmp/rocky9 --releasever=9.4 install rdma-core libibverbs-utils"
install_into sles15sp6 sles15sp6 etc/zypp/repos.d \
  "zypper --non-interactive --root $tmp/sles15sp6 install --no-recommends rdma-core"

[ "$fail" = 0 ] && echo "install into RPM trees with dnf and zypper: passed"
exit "$fail"
