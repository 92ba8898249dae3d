#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `ibup install --stack doca|mofed` with the kit's vendor stand-ins (kit/vendor.sh) served
# over loopback HTTP by fake-http, into trees where package scriptlets and DKMS really run
# (kit/make-tree.sh el9-dkms, debian12). One case per run:
#   doca-checksum       a wrong --sha256 is refused with both hashes; nothing installed
#   doca-el9            doca-host through a --manifest row, dnf, DKMS builds the module:
#                       dkms status says installed; a second run plans nothing
#   doca-dkms-el9       the module does not compile; the package scripts hide it, ibup's
#                       dkms status check does not: exit 3, the journal kept; after the
#                       administrator fixes the source and rebuilds, --resume finishes
#   doca-dkms-debian12  the same failure through apt in a Debian 12 chroot (--url/--sha256)
#   doca-held-debian12  Debian's rdma-core held: apt refuses, the journal is kept; once
#                       unheld, --resume installs DOCA (its rdma-core replaces Debian's),
#                       DKMS builds the module, and a second run plans nothing
#   doca-from-debian12  --from a file fetched elsewhere: a tampered copy refused with both
#                       hashes before anything runs; the right one installs, offline
#   doca-full-disk-debian12  the download's file system is full: the error named, nothing
#                       installed, the journal kept; --resume finishes with space again
#   mofed               the MLNX_OFED tarball: mlnxofedinstall's arguments checked; its
#                       exit code 172 named as the vendor documents it, journal kept;
#                       --resume finishes once the cause is gone
#
# Usage: test-vendor.sh IBUP FAKE_HTTP SOURCE_DIR CASE
set -euo pipefail
case=${4:?a case}
set -- "$1" "$2" "$3"
# shellcheck source=tests/install/lib-install.sh
. "$(dirname -- "$(readlink -f -- "$0")")/lib-install.sh"

root=$tmp/root
k=5.14.0-570.12.1.el9_6.x86_64
RC_DOCA=2510.0.11

# manifest FILE DISTRO STACK VERSION URL SHA256: a one-row manifest.
manifest() {
  cat >"$1" <<JSON
{
  "schema_version": 1,
  "description": "ibup install tests: the kit's vendor stand-ins on loopback",
  "rows": [
    {
      "distro": "$2",
      "arch": "x86_64",
      "stack": "$3",
      "version": "$4",
      "url": "$5",
      "sha256": "$6",
      "devices": "cx4+",
      "sources": { "version": "tests/install/kit/vendor.sh", "url": "fake-http",
                   "sha256": "tests/install/kit/vendor.sh" }
    }
  ]
}
JSON
}

# vendor KIND VARIANT: serve the stand-in; sets $file, $url (through the 301) and $sum.
vendor() {
  local dir
  dir=$(kit_product vendor.sh "$@")
  serve "$dir"
  read -r sum file <"$dir/SHA256SUMS"
  url=$base/downloads/$file
}

# dkms_status MODULE KERNEL: is the module installed for the kernel, says dkms in the tree.
# deb_version PACKAGE: its version in the Debian tree.
deb_version() {
  # shellcheck disable=SC2016 # dpkg-query's format, not the shell's
  chroot "$root" dpkg-query -W -f '${Version}' "$1"
}

dkms_status() {
  local out
  out=$(chroot "$root" dkms status -m "$1" -k "$2" 2>/dev/null) || true
  grep -q ": installed" <<<"$out"
}

case $case in
doca-checksum)
  kit_need dnf
  make_tree el9 "$root"
  vendor doca-rpm ok
  wrong=$(printf '%064d' 0)
  run_ibup bad --root "$root" install --stack doca --url "$url" --sha256 "$wrong"
  expect_rc bad 3
  expect_in bad err "$wrong"
  expect_in bad err "$sum"
  not_installed "$root" doca-host doca-ofed
  [ ! -e "$root/etc/yum.repos.d/doca.repo" ] || fail "the unverified package was installed"
  ;;
doca-el9)
  kit_need dnf
  make_tree el9-dkms "$root"
  vendor doca-rpm ok
  manifest "$tmp/manifest.json" rhel9 doca 3.2.2 "$url" "$sum"
  run_ibup install --root "$root" install --stack doca --manifest "$tmp/manifest.json"
  expect_rc install 0
  installed "$root" doca-host doca-ofed mlnx-ofa_kernel mlnx-ofa_kernel-dkms rdma-core \
    libibverbs-utils perftest
  grep -q "^rdma-core-$RC_DOCA" "$root/usr/share/ibup-kit/installed/rdma-core" ||
    fail "rdma-core is not DOCA's"
  dkms_status mlnx-ofa_kernel "$k" ||
    fail "DKMS did not install mlnx-ofa_kernel for $k"
  # DKMS put the module it built where it shadows the kernel's own (extra/).
  [ -n "$(find "$root/lib/modules/$k/extra" -name 'mlx5_ib.ko*' 2>/dev/null)" ] ||
    fail "no mlx5_ib.ko under the tree's /lib/modules/$k/extra"
  run_ibup second --root "$root" install --stack doca --manifest "$tmp/manifest.json"
  expect_rc second 0
  expect_in second out "Nothing to do"
  ;;
doca-dkms-el9)
  kit_need dnf
  make_tree el9-dkms "$root"
  vendor doca-rpm broken
  manifest "$tmp/manifest.json" rhel9 doca 3.2.2 "$url" "$sum"
  run_ibup broken --root "$root" install --stack doca --manifest "$tmp/manifest.json"
  expect_rc broken 3
  expect_in broken err "dkms"
  expect_in broken err "--resume"
  # The package manager said nothing was wrong: the vendor's scripts hid the failure.
  installed "$root" doca-ofed mlnx-ofa_kernel-dkms
  grep -q "implicit declaration of function .init_timer" \
    "$root/var/lib/dkms/mlnx-ofa_kernel/25.10/build/make.log" ||
    fail "the DKMS build did not fail the way the source does"
  [ -f "$root/var/lib/ibup/journal.json" ] || fail "no journal kept for --resume"
  # The administrator's fix: patch the source, rebuild; then ibup finishes the run.
  sed -i 's/init_timer(&kit_timer);.*/timer_setup(\&kit_timer, NULL, 0);/' \
    "$root/usr/src/mlnx-ofa_kernel-25.10/mlx5_ib.c"
  chroot "$root" dkms install -m mlnx-ofa_kernel -v 25.10 -k "$k" >"$tmp/dkms.log" 2>&1 || {
    cat "$tmp/dkms.log" >&2
    fail "the fixed source does not build"
  }
  run_ibup resume --root "$root" install --stack doca --manifest "$tmp/manifest.json" --resume
  expect_rc resume 0
  [ ! -e "$root/var/lib/ibup/journal.json" ] || fail "the resumed run left its journal"
  ;;
doca-dkms-debian12)
  make_tree debian12 "$root"
  kk=$(cat "$(kit_product debian-base.sh)/kernel-release")
  vendor doca-deb broken
  run_ibup broken --root "$root" install --stack doca --url "$url" --sha256 "$sum"
  expect_rc broken 3
  expect_in broken err "dkms"
  installed "$root" doca-host doca-ofed mlnx-ofed-kernel-dkms
  dkms_status mlnx-ofed-kernel "$kk" &&
    fail "dkms status says installed"
  [ -f "$root/var/lib/ibup/journal.json" ] || fail "no journal kept for --resume"
  ;;
doca-held-debian12)
  # Debian's own rdma-core is held, as images hold packages; DOCA's replaces it.
  make_tree debian12 "$root"
  kk=$(cat "$(kit_product debian-base.sh)/kernel-release")
  vendor doca-deb ok
  chroot "$root" apt-mark hold rdma-core >/dev/null
  debian_rc=$(deb_version rdma-core)
  run_ibup held --root "$root" install --stack doca --url "$url" --sha256 "$sum"
  expect_rc held 3
  # apt's own diagnostic reaches the user.
  expect_in held err "held broken packages"
  expect_in held err "--resume"
  [ -f "$root/var/lib/ibup/journal.json" ] || fail "no journal kept for --resume"
  not_installed "$root" doca-ofed
  [ "$(deb_version rdma-core)" = "$debian_rc" ] ||
    fail "the held rdma-core changed"
  chroot "$root" apt-mark unhold rdma-core >/dev/null
  run_ibup resume --root "$root" install --stack doca --url "$url" --sha256 "$sum" --resume
  expect_rc resume 0
  installed "$root" doca-ofed mlnx-ofed-kernel-dkms
  [ "$(deb_version rdma-core)" = "$RC_DOCA-1" ] ||
    fail "rdma-core is not DOCA's"
  dkms_status mlnx-ofed-kernel "$kk" || fail "DKMS did not install mlnx-ofed-kernel for $kk"
  run_ibup second --root "$root" install --stack doca --url "$url" --sha256 "$sum"
  expect_rc second 0
  expect_in second out "Nothing to do"
  ;;
doca-full-disk-debian12)
  # The download's file system is full: a precise message, nothing installed, the journal
  # kept; with space again, --resume installs DOCA.
  make_tree debian12 "$root"
  kk=$(cat "$(kit_product debian-base.sh)/kernel-release")
  vendor doca-deb ok
  small=$root/var/lib/ibup/install
  mkdir -p "$small"
  mount -t tmpfs -o size=8k ibup-install-full "$small" ||
    { echo "cannot mount a small tmpfs: skipped" >&2; exit 77; }
  run_ibup full --root "$root" install --stack doca --url "$url" --sha256 "$sum"
  expect_rc full 3
  expect_in full err "No space left on device"
  expect_in full err "--resume"
  [ -f "$root/var/lib/ibup/journal.json" ] || fail "no journal kept for --resume"
  not_installed "$root" doca-host doca-ofed
  umount "$small"
  run_ibup resume --root "$root" install --stack doca --url "$url" --sha256 "$sum" --resume
  expect_rc resume 0
  installed "$root" doca-host doca-ofed mlnx-ofed-kernel-dkms
  dkms_status mlnx-ofed-kernel "$kk" || fail "DKMS did not install mlnx-ofed-kernel for $kk"
  ;;
doca-from-debian12)
  # Air-gapped: the file was fetched elsewhere; its manifest row's URL is never asked for.
  make_tree debian12 "$root"
  dir=$(kit_product vendor.sh doca-deb ok)
  read -r sum file <"$dir/SHA256SUMS"
  manifest "$tmp/manifest.json" debian12 doca 3.2.2 \
    "https://www.mellanox.com/downloads/DOCA/DOCA_v3.2.2/host/$file" "$sum"
  cp "$dir/$file" "$tmp/tampered.deb"
  printf 'x' >>"$tmp/tampered.deb"
  bad=$(sha256sum "$tmp/tampered.deb" | cut -d' ' -f1)
  run_ibup tampered --root "$root" install --stack doca --manifest "$tmp/manifest.json" \
    --from "$tmp/tampered.deb"
  expect_rc tampered 3
  expect_in tampered err "$bad"
  expect_in tampered err "$sum"
  not_installed "$root" doca-host
  [ ! -e "$root/var/lib/ibup/journal.json" ] || fail "a refused file started a run"
  run_ibup from --root "$root" install --stack doca --manifest "$tmp/manifest.json" \
    --from "$dir/$file"
  expect_rc from 0
  installed "$root" doca-host doca-ofed
  ;;
mofed)
  make_tree el9-dkms "$root"
  vendor mofed
  manifest "$tmp/manifest.json" rhel9 mofed 24.10-3.2.5.0 "$url" "$sum"
  log=$root/var/log/ibup-fake-mofed.log
  # Prerequisites missing, as mlnxofedinstall reports it (the stand-in reads the code
  # from this file inside the tree it runs in).
  echo 172 >"$root/etc/ibup-fake-mofed-exit"
  IBUP_FAKE_MOFED_EXIT_FILE=/etc/ibup-fake-mofed-exit \
    run_ibup prereq --root "$root" install --stack mofed --manifest "$tmp/manifest.json"
  expect_rc prereq 3
  expect_in prereq err "172"
  expect_in prereq err "prerequisites"
  expect_in prereq err "--resume"
  [ -f "$root/var/lib/ibup/journal.json" ] || fail "no journal kept for --resume"
  [ ! -e "$root/usr/share/ibup-kit/installed/mlnx-ofed-all" ] || fail "installed anyway"
  args=$(tail -n 1 "$log")
  for a in "--add-kernel-support" "--kernel $k" "--kernel-sources /usr/src/kernels/$k" \
    "--skip-repo" "--distro rhel9.6" "--without-fw-update"; do
    case " $args " in *" $a "*) ;; *) fail "mlnxofedinstall was not given '$a': $args" ;; esac
  done
  rm "$root/etc/ibup-fake-mofed-exit"
  IBUP_FAKE_MOFED_EXIT_FILE=/etc/ibup-fake-mofed-exit \
    run_ibup resume --root "$root" install --stack mofed --manifest "$tmp/manifest.json" --resume
  expect_rc resume 0
  installed "$root" mlnx-ofed-all
  [ "$(chroot "$root" ofed_info -s)" = "MLNX_OFED_LINUX-24.10-3.2.5.0:" ] ||
    fail "ofed_info does not report MLNX_OFED"
  [ "$(wc -l <"$log")" = 2 ] || fail "mlnxofedinstall ran $(wc -l <"$log") times, expected 2"
  ;;
*) fail "unknown case '$case'" ;;
esac
echo "$case: ok"
