# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# shellcheck disable=SC2154 # cache, suite, mirror, security: set by the sourcing script
# Debian trees for the scripts that prove something in a fresh system (fresh-tree.sh,
# portable.sh): a minbase tree made once with mmdebstrap and cached as a tarball under
# a key, then a fresh copy per run, in a tmpfs by default, with /proc and /dev, removed
# again on exit. The sourcing script sets $cache, $suite, $mirror, $security and defines
# log() and die().

tree=
mounts=()

# tree_base_tarball PREFIX KEY PACKAGE... - the cached tarball's path on stdout, made
# when missing. KEY is whatever the tree's content depends on besides the suite, the
# mirrors and the packages. PREFIX names the temporary file of a build in progress
# ($cache/.PREFIX.*), which the caller removes under its lock after an interrupted run.
tree_base_tarball() {
  local prefix=$1 key tarball tmp include=()
  key=$(printf '%s\n' "$2" "$suite" "$mirror" "$security" "${*:3}" | sha256sum | cut -c1-16)
  shift 2
  tarball=$cache/debian-$suite-$key.tar.zst
  if [ ! -s "$tarball" ]; then
    mkdir -p "$cache"
    tmp=$(mktemp "$cache/.$prefix.XXXXXX.tar.zst")
    log "building the $suite tree (mmdebstrap minbase${*:+ + $*}), cached as $tarball"
    [ $# -eq 0 ] || include=("--include=$(
      IFS=,
      echo "$*"
    )")
    if ! mmdebstrap --quiet --variant=minbase "${include[@]}" "$suite" "$tmp" \
      "deb $mirror $suite main" "deb $mirror $suite-updates main" \
      "deb $security $suite-security main"; then
      rm -f "$tmp"
      die "mmdebstrap failed"
    fi
    chmod 644 "$tmp"
    mv "$tmp" "$tarball"
  fi
  # Other keys belong to other versions of the scripts (branches sharing the machine);
  # drop those no run has used for a week.
  touch "$tarball"
  find "$cache" -maxdepth 1 -name "debian-$suite-*.tar.zst" -mtime +7 -delete
  printf '%s\n' "$tarball"
}

tree_cleanup() {
  local i
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount "${mounts[i]}" 2>/dev/null || umount -l "${mounts[i]}" || true
  done
  mounts=()
  [ -n "$tree" ] && [ -d "$tree" ] || return 0
  # Never delete through a mount point: that would reach the host's /dev or the cache.
  if findmnt -rn -o TARGET | grep -qE "^$tree(/|\$)"; then
    log "leaving $tree: something is still mounted under it"
    return 0
  fi
  rm -rf --one-file-system "$tree"
}

# tree_bind HOST_DIR TREE_DIR
tree_bind() {
  mkdir -p "$tree$2"
  mount --bind "$1" "$tree$2"
  mounts+=("$tree$2")
}

# tree_new TARBALL NAME TMPFS_SIZE - a fresh copy of TARBALL in $tree, with /proc and
# /dev; removed on exit. In memory by default: extracting and deleting a tree of many
# small files on a busy disk took longer than the build in it (IBUP_CI_TMPFS=0: on disk).
tree_new() {
  tree=$(mktemp -d "${TMPDIR:-/var/tmp}/ibup-$2.XXXXXX")
  trap tree_cleanup EXIT
  trap 'exit 130' INT TERM
  if [ "${IBUP_CI_TMPFS:-1}" = 1 ]; then
    mount -t tmpfs -o "size=${IBUP_CI_TMPFS_SIZE:-$3},mode=755" "ibup-$2" "$tree"
    mounts+=("$tree")
  fi
  tar -C "$tree" --zstd -xpf "$1"
  mkdir -p "$tree/proc"
  mount -t proc proc "$tree/proc"
  mounts+=("$tree/proc")
  tree_bind /dev /dev
}

# Run a script in the tree as root with a login-like environment and nothing inherited.
in_tree() {
  chroot "$tree" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -euo pipefail -c "$1"
}
