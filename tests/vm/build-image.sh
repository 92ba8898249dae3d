#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build (or reuse) the Soft-RoCE guest image: Debian's current kernel plus a minbase
# Debian root filesystem packed as a gzip'd newc cpio initramfs.
#
# The image is cached outside the source tree under a key that is the sha256 of every
# input (kernel package and version, suite, package list, module list, this script's
# own content), so a second run with the same inputs only prints the cached directory.
# A build happens in a temporary directory beside the cache entry and is renamed into
# place at the end: an interrupted build never leaves a half-built entry behind.
#
# On success the cache entry's directory is the ONLY thing printed on stdout; it holds
#   vmlinuz            the kernel
#   initramfs.cpio.gz  the root filesystem (no /init: the runner appends one)
#   files.txt          every path in the root filesystem (the runner uses it to decide
#                      which host libraries the guest lacks)
#   kernel-release     the kernel's release string (uname -r in the guest)
#   inputs.txt         what the key was computed from
# With --variant inbox the entry holds the root filesystem unpacked instead of packed:
#   rootfs/            the tree, WITHOUT the RDMA user space (rdma-core, ibverbs-*,
#                      perftest, infiniband-diags, rdmacm-utils, ucx-utils), with apt,
#                      its sources and fresh package lists kept, so that
#                      `chroot rootfs apt-get install ...` works against Debian's archive
#   files.txt, vmlinuz, kernel-release, inputs.txt as above (no initramfs.cpio.gz)
# run-guest.sh --image inbox copies that tree, lets a host command install into it,
# then packs and boots the copy.
# Progress goes to stderr.  Nothing is installed: the host needs debootstrap, cpio,
# gzip, apt-get/apt-cache and dpkg (see tests/vm/README.md).  Needs root (debootstrap).
set -euo pipefail
# The whole script is one { } group: bash parses it completely before running it, so
# editing this file while a (long) run is going does not break that run.
{

PROG=${0##*/}
SELF=$(readlink -f -- "${BASH_SOURCE[0]}")

usage() {
  cat <<EOF
Usage: $PROG [OPTIONS]

Build or reuse the cached Soft-RoCE guest image; print its directory on stdout.

Options:
  --cache DIR             cache root (default: \${XDG_CACHE_HOME:-\$HOME/.cache}/ibup-vm,
                          or \$IBUP_VM_CACHE)
  --extra-packages "A B"  more Debian packages for the root filesystem (part of the key)
  --extra-modules "P Q"   more kernel module paths to keep, relative to
                          lib/modules/<ver>/kernel, e.g. "drivers/net/macvlan.ko"
                          (part of the key)
  --variant NAME          "rdma" (default): the RDMA user space installed, packed as
                          the initramfs; "inbox": without it, apt kept, left unpacked
                          as rootfs/ for an install into a copy (part of the key)
  --suite NAME            Debian suite (default: bookworm)
  --kernel-suite NAME     take the kernel (linux-image-amd64's image) from this suite
                          of the same mirror, e.g. bookworm-backports (default: the
                          suite's own; part of the key).  apt reads that suite through
                          lists of its own under the cache, signed as the host's are.
  --mirror URL            Debian mirror (default: the one in the host's apt sources,
                          or \$IBUP_VM_MIRROR)
  --force                 rebuild even when the cache entry exists
  --prune                 after a successful run, delete every other cache entry
  --print-key             print the cache key and exit (builds nothing)
  -h, --help              show this help

Exit status: 0 ok (directory printed), 1 build failed, 2 usage error,
77 debootstrap is not installed and the image is not cached.
EOF
}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

cache_root=${IBUP_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ibup-vm}
suite=bookworm
kernel_suite=''
mirror=${IBUP_VM_MIRROR:-}
extra_packages=''
extra_modules=''
force=0 prune=0 print_key=0
variant=rdma

while [ $# -gt 0 ]; do
  case $1 in
  --cache) cache_root=${2:?--cache needs a directory}; shift 2 ;;
  --cache=*) cache_root=${1#*=}; shift ;;
  --extra-packages) extra_packages=${2?--extra-packages needs a list}; shift 2 ;;
  --extra-packages=*) extra_packages=${1#*=}; shift ;;
  --extra-modules) extra_modules=${2?--extra-modules needs a list}; shift 2 ;;
  --extra-modules=*) extra_modules=${1#*=}; shift ;;
  --variant) variant=${2:?--variant needs a name}; shift 2 ;;
  --variant=*) variant=${1#*=}; shift ;;
  --suite) suite=${2:?--suite needs a name}; shift 2 ;;
  --kernel-suite) kernel_suite=${2:?--kernel-suite needs a name}; shift 2 ;;
  --kernel-suite=*) kernel_suite=${1#*=}; shift ;;
  --mirror) mirror=${2:?--mirror needs a URL}; shift 2 ;;
  --force) force=1; shift ;;
  --prune) prune=1; shift ;;
  --print-key) print_key=1; shift ;;
  -h | --help) usage; exit 0 ;;
  *) log "unknown option '$1'"; usage >&2; exit 2 ;;
  esac
done

# The root filesystem's packages.  ibup needs libjansson4; the tests need the rest.
# The inbox variant leaves out the RDMA user space: `ibup install --stack inbox`
# brings it (and apt needs nothing more than minbase has).
case $variant in
rdma)
  # Open MPI and Slurm (with munge) launch the sweep's MPI program in sweep-mpi.
  base_packages=(kmod iproute2 rdma-core ibverbs-providers ibverbs-utils perftest ucx-utils
    infiniband-diags rdmacm-utils jq libjansson4 procps openmpi-bin slurmd slurmctld
    slurm-client munge)
  ;;
inbox) base_packages=(kmod iproute2 jq libjansson4 procps) ;;
*) log "unknown variant '$variant' (rdma or inbox)"; usage >&2; exit 2 ;;
esac
# The kernel modules kept, relative to lib/modules/<ver>/kernel.  net/ holds the
# bridge (net/bridge), llc/stp, netem and the UDP tunnel rxe sends through;
# drivers/infiniband holds ib_core, ib_uverbs, rdma_cm/rdma_ucm (which need configfs)
# and rdma_rxe.
base_modules=(drivers/infiniband net lib crypto arch fs/configfs
  drivers/net/veth.ko drivers/net/dummy.ko)

read -r -a extra_pkg_arr <<<"${extra_packages//,/ }"
read -r -a extra_mod_arr <<<"${extra_modules//,/ }"
mapfile -t packages < <(printf '%s\n' "${base_packages[@]}" "${extra_pkg_arr[@]}" | sed '/^$/d' | sort -u)
mapfile -t modules < <(printf '%s\n' "${base_modules[@]}" "${extra_mod_arr[@]}" | sed '/^$/d' | sort -u)
for p in "${packages[@]}"; do
  [[ $p =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "not a Debian package name: '$p'"
done
for m in "${modules[@]}"; do
  [[ $m != /* && $m != *..* ]] || die "module path must be relative to kernel/: '$m'"
done

find_mirror() {
  # deb822 .sources stanzas and one-line sources.list entries; the first URI that
  # serves "$suite" with component main.
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    awk -v suite="$suite" '
      function flush() {
        if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && (" " comps " ") ~ / main /) {
          split(uris, u, " "); if (u[1] != "") { print u[1]; found = 1; exit }
        }
        types = suites = comps = uris = ""
      }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      /^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
      /^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
      /^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
      /^Components:/ { sub(/^Components:[ \t]*/, ""); comps = $0 }
      END { if (!found) flush() }
    ' "$f"
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } |
    sed -e 's/#.*//' -e 's/\[[^]]*\]//' |
    awk -v suite="$suite" '$1 == "deb" && $3 == suite { for (i = 4; i <= NF; i++) if ($i == "main") { print $2; exit } }'
}
[ -n "$mirror" ] || mirror=$(find_mirror | head -1) || true
[[ $suite =~ ^[a-z0-9][a-z0-9.-]*$ ]] || die "not a Debian suite name: '$suite'"
[ -z "$kernel_suite" ] || [[ $kernel_suite =~ ^[a-z0-9][a-z0-9.-]*$ ]] ||
  die "not a Debian suite name: '$kernel_suite'"
[ "$kernel_suite" != "$suite" ] || kernel_suite=''

# apt as the host has it, or, for --kernel-suite, with a sources list and package
# lists of its own under the cache (Debian's archive keyring checks their signatures
# as it does the host's).
apt_opts=()
if [ -n "$kernel_suite" ]; then
  [ -n "$mirror" ] || die "no Debian mirror for '$suite' in /etc/apt/sources*; pass --mirror URL"
  aptdir="$cache_root/.apt-$kernel_suite"
  mkdir -p "$aptdir/lists/partial" "$aptdir/archives/partial"
  line="deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $kernel_suite main"
  [ "$(cat "$aptdir/sources.list" 2>/dev/null)" = "$line" ] || printf '%s\n' "$line" >"$aptdir/sources.list"
  apt_opts=(-o "Dir::Etc::SourceList=$aptdir/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$aptdir/lists" -o "Dir::Cache::Archives=$aptdir/archives"
    -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o Dir::State::status=/dev/null)
fi

# ---------------------------------------------------------------------------------
# Which kernel: linux-image-amd64 depends on exactly one linux-image-<abi>-amd64 at
# one version.  apt-cache takes about half a second, so the answer is memoised under
# a signature of the apt package lists (same lists, same answer).

apt_lists_sig() {
  local lists
  lists=$(apt-config "${apt_opts[@]}" shell L Dir::State::lists/d 2>/dev/null | sed -n "s/^L='\(.*\)'$/\1/p")
  lists=${lists:-/var/lib/apt/lists/}
  { stat -c '%n %s %Y' "$lists"/*Packages* 2>/dev/null || true; } | sha256sum | cut -c1-16
}

resolve_kernel_uncached() {
  local out dep pkg ver
  out=$(apt-cache "${apt_opts[@]}" show --no-all-versions linux-image-amd64 2>/dev/null) || return 1
  dep=$(sed -n 's/^Depends: *//p' <<<"$out" | tr ',' '\n' | grep -o 'linux-image-[0-9][^ ]*-amd64 *(= *[^)]*)' | head -1) || true
  if [ -n "$dep" ]; then
    pkg=${dep%% *}
    ver=${dep#*(=}
    ver=${ver%)*}
    ver=${ver// /}
  else
    # Older or unusual metadata: ask apt-cache depends, then the version separately.
    pkg=$(apt-cache "${apt_opts[@]}" depends linux-image-amd64 2>/dev/null |
      sed -n 's/^ *Depends: *\(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -1)
    [ -n "$pkg" ] || return 1
    ver=$(apt-cache "${apt_opts[@]}" show --no-all-versions "$pkg" 2>/dev/null | sed -n 's/^Version: *//p' | head -1)
  fi
  [ -n "$pkg" ] && [ -n "$ver" ] || return 1
  printf '%s %s\n' "$pkg" "$ver"
}

resolve_kernel() {
  local sig memo res ksuite=${kernel_suite:-$suite}
  command -v apt-cache >/dev/null || die "apt-cache not found: the guest kernel comes from Debian's archive"
  sig=$(apt_lists_sig)
  memo="$cache_root/.kernel-$ksuite-$sig"
  if [ -s "$memo" ]; then
    cat "$memo"
    return
  fi
  if ! res=$(resolve_kernel_uncached); then
    if [ "$(id -u)" = 0 ]; then
      log "apt does not know linux-image-amd64; refreshing the package lists (apt-get update)"
      apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root update -qq >&2 || die "apt-get update failed"
      sig=$(apt_lists_sig)
      memo="$cache_root/.kernel-$ksuite-$sig"
      res=$(resolve_kernel_uncached) || die "linux-image-amd64 not found in the apt sources"
    else
      die "linux-image-amd64 not found by apt-cache; run 'apt-get update' as root"
    fi
  fi
  mkdir -p "$cache_root"
  rm -f "$cache_root"/.kernel-"$ksuite"-* 2>/dev/null || true
  printf '%s\n' "$res" >"$memo.$$" && mv -f "$memo.$$" "$memo"
  printf '%s\n' "$res"
}

read -r kernel_pkg kernel_ver < <(resolve_kernel) || die "could not resolve the kernel package"
[ -n "${kernel_ver:-}" ] || die "could not resolve the kernel package"

inputs=$(
  printf 'builder-sha256 %s\n' "$(sha256sum <"$SELF" | cut -d' ' -f1)"
  printf 'suite %s\n' "$suite"
  [ -z "$kernel_suite" ] || printf 'kernel-suite %s\n' "$kernel_suite"
  [ "$variant" = rdma ] || printf 'variant %s\n' "$variant"
  printf 'kernel %s %s\n' "$kernel_pkg" "$kernel_ver"
  printf 'packages %s\n' "${packages[*]}"
  printf 'modules %s\n' "${modules[*]}"
)
key=$(sha256sum <<<"$inputs" | cut -c1-32)
if [ "$print_key" = 1 ]; then
  printf '%s\n' "$key"
  exit 0
fi
dest="$cache_root/$key"

prune_others() {
  [ "$prune" = 1 ] || return 0
  local d
  for d in "$cache_root"/*/; do
    d=${d%/}
    [ "$d" = "$dest" ] && continue
    [ -f "$d/inputs.txt" ] || continue
    log "pruning old image ${d##*/}"
    rm -rf --one-file-system -- "$d"
  done
  for d in "$cache_root"/.lock-*; do
    [ -e "$d" ] || continue
    [ "$d" = "$cache_root/.lock-$key" ] || [ -d "$cache_root/${d##*/.lock-}" ] || rm -f -- "$d"
  done
}

entry_ok() {
  [ -s "$1/vmlinuz" ] && [ -s "$1/files.txt" ] && [ -s "$1/kernel-release" ] || return 1
  if [ "$variant" = inbox ]; then
    [ -x "$1/rootfs/usr/bin/apt-get" ]
  else
    [ -s "$1/initramfs.cpio.gz" ]
  fi
}

if [ "$force" = 0 ] && entry_ok "$dest"; then
  prune_others
  printf '%s\n' "$dest"
  exit 0
fi

# ---------------------------------------------------------------------------------
# Build.

PATH=$PATH:/usr/sbin:/sbin
debootstrap=$(command -v "${IBUP_VM_DEBOOTSTRAP:-debootstrap}" || true)
if [ -z "$debootstrap" ]; then
  log "debootstrap is not installed (apt-get install debootstrap); cannot build the guest image"
  exit 77
fi
for tool in cpio gzip dpkg apt-get chroot flock; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed"
done
[ "$(id -u)" = 0 ] || die "building the guest image needs root (debootstrap, chroot); run once as root or use a cache built by root (--cache)"

[ -n "$mirror" ] || die "no Debian mirror for '$suite' in /etc/apt/sources*; pass --mirror URL"

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock-$key"
if ! flock -n 9; then
  log "another build of image $key is running; waiting for it"
  flock 9
fi
if [ "$force" = 0 ] && entry_ok "$dest"; then # built by the one we waited for
  prune_others
  printf '%s\n' "$dest"
  exit 0
fi

unmount_under() {
  # Unmount anything (proc, sys, ...) a killed debootstrap left mounted under $1.
  local m
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v p="$1/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r)
}
remove_tree() {
  [ -n "$1" ] && [ -d "$1" ] || return 0
  unmount_under "$1"
  rm -rf --one-file-system -- "$1"
}

# Leftovers of builds that were killed (their pid is gone).
for old in "$cache_root"/.tmp-*; do
  [ -d "$old" ] || continue
  pid=${old##*-}
  if ! kill -0 "$pid" 2>/dev/null; then
    log "removing leftover of an interrupted build: ${old##*/}"
    remove_tree "$old"
  fi
done

tmp="$cache_root/.tmp-$key-$$"
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  local rc=$?
  remove_tree "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$tmp/out" "$tmp/kernel" "$tmp/deb"
root="$tmp/rootfs"
t0=$(date +%s)

log "image $key: kernel $kernel_pkg $kernel_ver, suite $suite, mirror $mirror"
log "packages: ${packages[*]}"

log "downloading $kernel_pkg=$kernel_ver"
# apt's download sandbox user cannot write into root's cache directory.
download() { (cd "$tmp/deb" && apt-get "${apt_opts[@]}" download -qq -o APT::Sandbox::User=root "$kernel_pkg=$kernel_ver") >&2; }
if ! download; then
  log "download failed; refreshing the package lists and retrying"
  apt-get "${apt_opts[@]}" -o APT::Sandbox::User=root update -qq >&2 || true
  download || die "apt-get download $kernel_pkg=$kernel_ver failed"
fi
deb=$(find "$tmp/deb" -name '*.deb' | head -1)
dpkg -x "$deb" "$tmp/kernel"
rm -rf "$tmp/deb"
vmlinuz=$(find "$tmp/kernel/boot" -name 'vmlinuz-*' | head -1)
[ -n "$vmlinuz" ] || die "no vmlinuz in $kernel_pkg"
release=${vmlinuz##*/vmlinuz-}
kmods="$tmp/kernel/lib/modules/$release"
[ -d "$kmods" ] || kmods="$tmp/kernel/usr/lib/modules/$release"
[ -d "$kmods/kernel" ] || die "no modules for $release in $kernel_pkg"
ls "$kmods"/kernel/drivers/infiniband/sw/rxe/rdma_rxe.ko* >/dev/null 2>&1 ||
  die "$kernel_pkg has no rdma_rxe module"

log "debootstrap $suite (minbase) into the temporary root; this takes a few minutes"
if ! "$debootstrap" --variant=minbase --include="$(
  IFS=,
  echo "${packages[*]}"
)" "$suite" "$root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
  tail -n 30 "$tmp/debootstrap.log" >&2
  [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
  die "debootstrap failed"
fi
unmount_under "$root"

log "copying the kernel modules ($release)"
mdest="$root/lib/modules/$release"
mkdir -p "$mdest/kernel"
cp -a "$kmods"/modules.order "$kmods"/modules.builtin "$kmods"/modules.builtin.modinfo "$mdest"/ 2>/dev/null || true
for m in "${modules[@]}"; do
  found=0
  for src in "$kmods/kernel/$m" "$kmods/kernel/$m".*; do
    [ -e "$src" ] || continue
    found=1
    rel=${src#"$kmods/kernel/"}
    mkdir -p "$mdest/kernel/$(dirname "$rel")"
    cp -a "$src" "$mdest/kernel/$rel"
  done
  [ "$found" = 1 ] || die "kernel module path '$m' not in $kernel_pkg"
done
chroot "$root" /sbin/depmod -a "$release" || die "depmod failed"
chroot "$root" /sbin/modinfo -k "$release" rdma_rxe >/dev/null || die "rdma_rxe missing after depmod"

log "trimming the root filesystem"
rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
  "$root"/usr/share/locale/* "$root"/usr/share/lintian "$root"/usr/share/bash-completion \
  "$root"/var/log/* "$root"/debootstrap "$root"/usr/lib/udev/hwdb.bin "$root"/etc/udev/hwdb.bin
if [ "$variant" = inbox ]; then
  # apt stays usable: its sources (debootstrap wrote the mirror), fresh lists, and the
  # cache directories without the packages debootstrap downloaded.
  rm -f "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin
  log "apt-get update in the tree (the inbox install runs apt there)"
  chroot "$root" apt-get update -qq >&2 || die "apt-get update in the tree failed"
  for p in rdma-core libibverbs1 ibverbs-providers; do
    # shellcheck disable=SC2016 # a dpkg-query format, not a shell expansion
    if chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
      die "$p is installed in the inbox tree (one of ${packages[*]} depends on it)"
    fi
  done
  rm -f "$root"/var/cache/apt/*.bin
else
  rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/*
fi
rm -f "$root"/etc/hostname "$root"/etc/machine-id
printf 'ibup-vm\n' >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 ibup-vm\n::1 localhost\n' >"$root/etc/hosts"
# The kernel opens /dev/console before /init runs; without the node /init starts with
# no stdin/stdout.  /init mounts devtmpfs over /dev afterwards.
rm -rf "${root:?}/dev"
mkdir -p "$root/dev" "$root/proc" "$root/sys" "$root/run" "$root/tmp"
mknod -m 600 "$root/dev/console" c 5 1
mknod -m 666 "$root/dev/null" c 1 3
chmod 1777 "$root/tmp"

(cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort >"$tmp/out/files.txt")
if [ "$variant" = inbox ]; then
  mv -T "$root" "$tmp/out/rootfs"
else
  log "packing the initramfs"
  (cd "$root" && cpio --quiet -o -H newc -R 0:0 <"$tmp/out/files.txt") | gzip -6 -n >"$tmp/out/initramfs.cpio.gz"
fi
cp "$vmlinuz" "$tmp/out/vmlinuz"
printf '%s\n' "$release" >"$tmp/out/kernel-release"
{
  printf '%s\n' "$inputs"
  printf 'mirror %s\n' "$mirror"
  printf 'built %s on %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(uname -n)"
} >"$tmp/out/inputs.txt"
remove_tree "$root"

# Publish atomically: rename the finished directory into place.
old_entry=''
if [ -e "$dest" ]; then # --force, or a broken entry: move it aside first
  old_entry="$tmp/old"
  mv -T "$dest" "$old_entry"
fi
mv -T "$tmp/out" "$dest"
if [ "$variant" = inbox ]; then
  log "image ready in $(($(date +%s) - t0)) s: $dest ($(du -sh "$dest/rootfs" | cut -f1) tree)"
else
  log "image ready in $(($(date +%s) - t0)) s: $dest ($(du -sh "$dest/initramfs.cpio.gz" | cut -f1) initramfs)"
fi
prune_others
printf '%s\n' "$dest"
exit
}
