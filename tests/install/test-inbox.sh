#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup install --stack inbox` into an EL9 tree through the real dnf, or a SLES 15 SP6 tree
# through the real zypper, from the kit's local repository: the packages' files land in
# the tree and its rpm database lists them; the kernel hook runs and never fails; a
# second run plans nothing; a package the
# package manager will not install (dnf's exclude=, as images hold packages) fails with
# the package manager named, leaves the journal, and --resume finishes once it is lifted.
#
# Usage: test-inbox.sh IBUP FAKE_HTTP SOURCE_DIR el9|el8|sles15
set -euo pipefail
distro=${4:?el9, el8 or sles15}
set -- "$1" "$2" "$3"
# shellcheck source=tests/install/lib-install.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib-install.sh"

case $distro in
el9 | el8)
  kit_need dnf
  pm=dnf release=${distro#el}
  pkgs=(rdma-core libibverbs libibverbs-utils infiniband-diags perftest librdmacm-utils
    kernel-modules-extra)
  ;;
sles15)
  kit_need zypper
  pm=zypper
  pkgs=(rdma-core libibverbs1 libibverbs-utils infiniband-diags perftest librdmacm-utils)
  ;;
*) fail "unknown distribution '$distro'" ;;
esac

root=$tmp/root
make_tree "$distro" "$root"
not_installed "$root" rdma-core perftest

# The plan names the package manager's command for an image tree.
run_ibup plan --root "$root" install --stack inbox --dry-run
expect_rc plan 0
case $pm in
dnf) expect_in plan out "dnf -y --installroot=$root --releasever=$release" ;;
zypper) expect_in plan out "zypper --non-interactive --root $root install --no-recommends" ;;
esac

run_ibup first --root "$root" install --stack inbox
expect_rc first 0
installed "$root" "${pkgs[@]}"
rpm -q --root "$root" rdma-core libibverbs-utils infiniband-diags perftest librdmacm-utils \
  >/dev/null || fail "the tree's rpm database does not list the inbox packages"
[ ! -e "$root/var/lib/ibup/journal.json" ] || fail "a finished run left its journal"

# The kernel hook (kernel-install's plugin on these distributions) says what it checks
# when a kernel lands, and never fails the kernel's installation.
hook=$root/etc/kernel/install.d/90-ibup-check.install
[ -x "$hook" ] || fail "no executable kernel-install hook at ${hook#"$root"}"
rc=0
sh "$hook" add 6.6.0-test >/dev/null 2>"$tmp/hook.err" || rc=$?
[ "$rc" = 0 ] || fail "the kernel hook exited $rc: $(cat "$tmp/hook.err")"
grep -q "for kernel 6.6.0-test" "$tmp/hook.err" || fail "the kernel hook did not name the kernel: $(cat "$tmp/hook.err")"

# Everything is there: nothing to do, and the package manager is not run again.
run_ibup second --root "$root" install --stack inbox
expect_rc second 0
expect_in second out "Nothing to do"

# A package the package manager refuses to install: remove perftest, then hold it the way
# images hold packages (dnf: exclude= in dnf.conf; zypper: a package lock).
case $pm in
dnf)
  dnf -y -q --installroot="$root" --releasever="$release" remove perftest >/dev/null
  mkdir -p "$root/etc/dnf"
  printf '[main]\nexclude=perftest\n' >"$root/etc/dnf/dnf.conf"
  ;;
zypper)
  zypper --non-interactive --quiet --root "$root" remove perftest >/dev/null 2>&1
  zypper --non-interactive --quiet --root "$root" addlock perftest >/dev/null
  ;;
esac
not_installed "$root" perftest
run_ibup held --root "$root" install --stack inbox
expect_rc held 3
expect_in held err "$pm"
expect_in held err "--resume"
[ -f "$root/var/lib/ibup/journal.json" ] || fail "the failed run left no journal for --resume"
not_installed "$root" perftest

# Without --resume the journaled run is not started afresh.
run_ibup again --root "$root" install --stack inbox
[ "$(cat "$tmp/again.rc")" != 0 ] || fail "a second run ignored the unfinished journal"

case $pm in
dnf) rm "$root/etc/dnf/dnf.conf" ;;
zypper) zypper --non-interactive --quiet --root "$root" removelock perftest >/dev/null ;;
esac
run_ibup resume --root "$root" install --stack inbox --resume
expect_rc resume 0
installed "$root" perftest
[ ! -e "$root/var/lib/ibup/journal.json" ] || fail "the resumed run left its journal"
echo "inbox install through $pm: ok"
