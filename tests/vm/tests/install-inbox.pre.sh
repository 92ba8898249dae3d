#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host side of install-inbox, run by run-guest.sh before the guest boots, on a copy of
# the inbox tree (build-image.sh --variant inbox: Debian without the RDMA user space).
#  - before: the tree has no rdma-core, libibverbs or providers (dpkg-query on its
#    database), no libibverbs.so.1;
#  - `ibup install --stack inbox --root ROOT --dry-run` plans the apt commands in the
#    chroot and changes nothing;
#  - `ibup install --stack inbox --root ROOT` installs them through apt from Debian's
#    archive: exit 0, every package installed, the rxe provider on disk, and the files
#    of ibup's own the plan showed (memlock limits, the kernel hook) written;
#  - a second install prints "Nothing to do", exits 0 and leaves dpkg's database as
#    it was.
# The guest then boots from this tree (install-inbox.sh).
# Usage: install-inbox.pre.sh ROOT IBUP   (IBUP_VM_ARTIFACTS: a directory for logs)
set -uo pipefail
root=${1:?root tree}
ibup=${2:?ibup binary}
art=${IBUP_VM_ARTIFACTS:-$(mktemp -d)}
fails=0

ok() { echo "ok   $*"; }
fail() {
  echo "FAIL $*"
  fails=$((fails + 1))
}

# The packages the inbox stack brings on Debian (libibverbs1 and librdmacm1 as their
# dependencies); ibverbs-providers is only a Recommends of libibverbs1.
pkgs=(rdma-core ibverbs-providers ibverbs-utils infiniband-diags perftest rdmacm-utils
  libibverbs1 librdmacm1)
installed() {
  # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
  [ "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}
libdir=$root/usr/lib/x86_64-linux-gnu

# --- before -------------------------------------------------------------------------
for p in "${pkgs[@]}"; do
  if installed "$p"; then fail "before the install, $p is already installed"; else ok "before: $p not installed"; fi
done
if [ -e "$libdir/libibverbs.so.1" ]; then fail "before: $libdir/libibverbs.so.1 exists"; else ok "before: no libibverbs.so.1"; fi
status_sum() { sha256sum <"$root/var/lib/dpkg/status" | cut -d' ' -f1; }
sum0=$(status_sum)

# --- the plan -------------------------------------------------------------------------
"$ibup" install --stack inbox --root "$root" --dry-run >"$art/dry-run.txt" 2>"$art/dry-run.err"
rc=$?
if [ "$rc" = 0 ]; then ok "--dry-run exits 0"; else fail "--dry-run exited $rc: $(head -n 3 "$art/dry-run.err")"; fi
sed 's/^/     | /' "$art/dry-run.txt"
if grep -F "chroot $root " "$art/dry-run.txt" | grep -q 'apt-get update'; then
  ok "the plan runs apt-get update in the chroot"
else
  fail "the plan has no 'chroot $root apt-get update'"
fi
install_line=$(grep -F "chroot $root " "$art/dry-run.txt" | grep -m1 'apt-get .*install' || true)
if [ -n "$install_line" ]; then ok "the plan runs apt-get install in the chroot"; else fail "the plan has no 'chroot $root apt-get install'"; fi
for p in rdma-core ibverbs-providers ibverbs-utils infiniband-diags perftest rdmacm-utils; do
  if [[ " $install_line " == *" $p "* ]]; then ok "planned: $p"; else fail "the plan's apt-get install does not name $p"; fi
done
if [ "$(status_sum)" = "$sum0" ]; then ok "--dry-run changed no package"; else fail "--dry-run changed dpkg's database"; fi

# --- the install ------------------------------------------------------------------------
t0=$(date +%s)
"$ibup" install --stack inbox --root "$root" >"$art/install.txt" 2>"$art/install.err"
rc=$?
took=$(($(date +%s) - t0))
if [ "$rc" = 0 ]; then
  ok "ibup install --stack inbox --root exits 0 ($took s)"
else
  fail "ibup install --stack inbox --root exited $rc after $took s: $(tail -n 5 "$art/install.err" | tr '\n' ' ')"
  tail -n 30 "$art/install.txt" "$art/install.err" | sed 's/^/     | /'
fi
for p in "${pkgs[@]}"; do
  if installed "$p"; then ok "after: $p installed"; else fail "after the install, $p is not installed"; fi
done
if [ -e "$libdir/libibverbs.so.1" ]; then ok "after: libibverbs.so.1"; else fail "after: no $libdir/libibverbs.so.1"; fi
if compgen -G "$libdir/libibverbs/librxe-rdmav*.so" >/dev/null; then
  ok "after: the rxe provider ($(basename "$(compgen -G "$libdir/libibverbs/librxe-rdmav*.so" | head -n 1)"))"
else
  fail "after: no rxe provider in $libdir/libibverbs"
fi
# The files ibup itself writes (memlock limits, the kernel hook): each one the plan
# showed is in the tree now.
mapfile -t own < <(sed -n 's|^+++ b/||p' "$art/dry-run.txt")
[ "${#own[@]}" -gt 0 ] || fail "the plan shows no file of ibup's own"
for f in "${own[@]}"; do
  if [ -f "$root/$f" ]; then ok "after: /$f written"; else fail "after: the planned /$f is not in the tree"; fi
done
sed 's/^/     | /' "$art/install.txt"

# --- again: nothing to do ------------------------------------------------------------------
sum1=$(status_sum)
"$ibup" install --stack inbox --root "$root" --dry-run >"$art/dry-run2.txt" 2>&1
rc=$?
if [ "$rc" = 0 ] && grep -q 'Nothing to do' "$art/dry-run2.txt"; then
  ok "a second --dry-run plans nothing"
else
  fail "a second --dry-run (exit $rc) plans something: $(head -n 5 "$art/dry-run2.txt" | tr '\n' ' ')"
fi
if grep -q 'apt-get' "$art/dry-run2.txt"; then fail "a second --dry-run still plans apt-get"; else ok "a second --dry-run plans no apt-get"; fi
"$ibup" install --stack inbox --root "$root" >"$art/install2.txt" 2>"$art/install2.err"
rc=$?
if [ "$rc" = 0 ]; then ok "a second install exits 0"; else fail "a second install exited $rc: $(tail -n 3 "$art/install2.err" | tr '\n' ' ')"; fi
if grep -q 'Nothing to do' "$art/install2.txt"; then
  ok "a second install prints: $(grep -m1 'Nothing to do' "$art/install2.txt")"
else
  fail "a second install does not say 'Nothing to do': $(head -n 5 "$art/install2.txt" | tr '\n' ' ')"
fi
if [ "$(status_sum)" = "$sum1" ]; then ok "a second install changed no package"; else fail "a second install changed dpkg's database"; fi

[ "$fails" = 0 ] || {
  echo "FAIL $fails failed assertions"
  exit 1
}
echo "ok   inbox install proven on the host side"
