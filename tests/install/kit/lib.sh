# SPDX-License-Identifier: MIT
# Sourced by the install test kit: the content-addressed cache every kit script builds into.
# shellcheck shell=bash
#
# A kit product (a package repository, a vendor stand-in) is built once per distinct input
# and kept under $IBUP_KIT_CACHE (default /var/cache/ibup-ci/install-kit): the entry's name
# is the sha256 of the kit's own scripts and the product's arguments, so a warm run
# rebuilds nothing and a changed script rebuilds only what it makes. A build happens in a
# temporary directory beside the entry and is renamed into place when complete, under a
# lock, so an interrupted or concurrent build never leaves a half-built entry.

KIT_DIR=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
KIT_CACHE=${IBUP_KIT_CACHE:-/var/cache/ibup-ci/install-kit}

kit_die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

# kit_need TOOL...: exit 77 (skipped) naming the first tool that is not installed.
kit_need() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || {
      echo "${0##*/}: '$t' is not installed (tools/deps.sh --test)" >&2
      exit 77
    }
  done
}

# kit_key NAME ARG...: the cache key of product NAME built with ARGs.
kit_key() {
  {
    printf '%s\n' "$@"
    cat "$KIT_DIR"/*.sh
  } | sha256sum | cut -c1-16
}

# kit_cached NAME BUILDER ARG...: print the cache entry of product NAME, building it first
# with "BUILDER OUTDIR ARG..." when it is not there yet.
kit_cached() {
  local name=$1 builder=$2 key dir tmp
  shift 2
  key=$(kit_key "$name" "$@")
  dir=$KIT_CACHE/$name-$key
  mkdir -p "$KIT_CACHE"
  if [ ! -d "$dir" ]; then
    exec 9>"$KIT_CACHE/.lock"
    flock 9
    if [ ! -d "$dir" ]; then
      tmp=$(mktemp -d "$KIT_CACHE/.build-$name.XXXXXX")
      echo "${0##*/}: building $name ($key)" >&2
      if ! "$builder" "$tmp" "$@" >&2; then
        rm -rf "$tmp"
        kit_die "building $name failed"
      fi
      chmod 755 "$tmp"
      mv "$tmp" "$dir"
    fi
    exec 9>&-
  fi
  printf '%s\n' "$dir"
}

# kit_rpm_env: make rpm (and dnf, zypper, ibup's rpm -q) keep the database of a tree in
# /var/lib/rpm as EL and SLES do; Debian's rpm defaults to ~/.rpmdb (see make-tree.sh).
kit_rpm_env() {
  mkdir -p "$KIT_CACHE/home"
  [ -f "$KIT_CACHE/home/.rpmmacros" ] || echo '%_dbpath /var/lib/rpm' >"$KIT_CACHE/home/.rpmmacros"
  export HOME=$KIT_CACHE/home
}
