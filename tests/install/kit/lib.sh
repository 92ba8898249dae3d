# SPDX-License-Identifier: MIT
# Sourced by the install test kit: the content-addressed cache every kit script builds into.
# shellcheck shell=bash
#
# A kit product (a package repository, a vendor stand-in) is built once per distinct input
# and kept under $IBUP_KIT_CACHE (default /var/cache/ibup-ci/install-kit): the entry's name
# is the sha256 of the script that builds it, this file and the product's arguments, so a
# warm run rebuilds nothing and a changed script rebuilds only what it makes. A build happens in a
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

# kit_key NAME ARG...: the cache key of product NAME built with ARGs by the running
# script (its own text and this file's are part of the key; a script that uses another
# kit product passes that product's path as an ARG).
kit_key() {
  {
    printf '%s\n' "$@"
    # A script whose product owes nothing to this file's helpers sets KIT_KEY_LIB=0.
    [ "${KIT_KEY_LIB:-1}" = 0 ] || cat "$KIT_DIR/lib.sh"
    cat "$(readlink -f -- "$0")"
  } | sha256sum | cut -c1-16
}

# kit_cached NAME BUILDER ARG...: print the cache entry of product NAME, building it first
# with "BUILDER OUTDIR ARG..." when it is not there yet.
kit_cached() {
  local name=$1 builder=$2 key dir tmp rc
  shift 2
  key=$(kit_key "$name" "$@")
  dir=$KIT_CACHE/$name-$key
  mkdir -p "$KIT_CACHE"
  if [ ! -d "$dir" ]; then
    exec 9>"$KIT_CACHE/.lock-$name"
    flock 9
    if [ ! -d "$dir" ]; then
      tmp=$(mktemp -d "$KIT_CACHE/.build-$name.XXXXXX")
      echo "${0##*/}: building $name ($key)" >&2
      # A subshell outside any `if`, so set -e holds inside the builder; its scratch
      # files go to a directory removed whatever happens.
      mkdir -p "$tmp.scratch"
      set +e
      (
        set -e
        TMPDIR=$tmp.scratch "$builder" "$tmp" "$@" >&2
      )
      rc=$?
      set -e
      rm -rf "$tmp.scratch"
      if [ "$rc" != 0 ]; then
        rm -rf "$tmp"
        kit_die "building $name failed"
      fi
      chmod 755 "$tmp"
      mv "$tmp" "$dir"
    fi
    exec 9>&-
  fi
  # Other keys of this product belong to other versions of the kit (branches sharing the
  # machine); drop those no run has used for a week.
  touch "$dir"
  find "$KIT_CACHE" -maxdepth 1 -name "$name-*" ! -name "${dir##*/}" -mtime +7 \
    -exec rm -rf {} + 2>/dev/null || true
  printf '%s\n' "$dir"
}

# kit_rpm_env: make rpm (and dnf, zypper, ibup's rpm -q) keep the database of a tree in
# /var/lib/rpm as EL and SLES do; Debian's rpm defaults to ~/.rpmdb (see make-tree.sh).
kit_rpm_env() {
  mkdir -p "$KIT_CACHE/home"
  [ -f "$KIT_CACHE/home/.rpmmacros" ] || echo '%_dbpath /var/lib/rpm' >"$KIT_CACHE/home/.rpmmacros"
  export HOME=$KIT_CACHE/home
}

# kit_spec NAME VERSION RELEASE ARCH REQUIRES PROVIDES INSTALL FILES [POST [PREUN]]: the
# spec of a kit package on stdout. REQUIRES and PROVIDES are comma-separated (or -);
# INSTALL is the %install script and FILES the %files list (one path a line; either may be
# empty), to which the marker /usr/share/ibup-kit/installed/NAME is added; POST and PREUN
# are the %post and %preun scriptlets (run by rpm with /bin/sh inside the target root).
kit_spec() {
  local name=$1 ver=$2 rel=$3 arch=$4 req=$5 prov=$6 install=$7 files=$8
  local post=${9:-} preun=${10:-} r
  echo "Name: $name"
  echo "Version: $ver"
  echo "Release: $rel"
  echo "Summary: ibup test stand-in for the $name package"
  echo "License: MIT"
  echo "BuildArch: $arch"
  echo "AutoReqProv: no"
  if [ "$prov" != - ]; then
    IFS=, read -ra r <<<"$prov"
    printf 'Provides: %s\n' "${r[@]}"
  fi
  if [ "$req" != - ]; then
    IFS=, read -ra r <<<"$req"
    printf 'Requires: %s\n' "${r[@]}"
  fi
  echo "%description"
  echo "Stand-in for $name in ibup's install tests."
  echo "%install"
  echo "mkdir -p %{buildroot}/usr/share/ibup-kit/installed"
  echo "echo '%{name}-%{version}-%{release}' >%{buildroot}/usr/share/ibup-kit/installed/%{name}"
  [ -z "$install" ] || printf '%s\n' "$install"
  [ -z "$post" ] || printf '%%post\n%s\n' "$post"
  [ -z "$preun" ] || printf '%%preun\n%s\n' "$preun"
  echo "%files"
  echo "/usr/share/ibup-kit/installed/%{name}"
  [ -z "$files" ] || printf '%s\n' "$files"
}

# kit_rpmbuild OUTDIR ARCH: build the package whose spec (kit_spec) is on stdin into
# OUTDIR/NAME-VERSION-RELEASE.ARCH.rpm, the repository convention. No debuginfo, no brp
# scripts (nothing to strip or byte-compile).
kit_rpmbuild() {
  local out=$1 arch=$2 top
  top=$(mktemp -d)
  mkdir -p "$out"
  cat >"$top/kit.spec"
  rpmbuild -bb --quiet --target "$arch" \
    --define "_topdir $top" --define "_rpmdir $out" \
    --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' \
    --define 'debug_package %{nil}' --define '__os_install_post %{nil}' \
    "$top/kit.spec" >/dev/null
  rm -rf "$top"
}

# kit_rpm OUTDIR STAGE NAME VERSION RELEASE ARCH REQUIRES [POST [PREUN]]: build
# OUTDIR/NAME-VERSION-RELEASE.ARCH.rpm holding the files under STAGE, plus the marker
# (kit_spec). REQUIRES is comma-separated (or -); POST and PREUN are the scriptlets.
kit_rpm() {
  local out=$1 stage=$2 name=$3 ver=$4 rel=$5 arch=$6 req=$7 post=${8:-} preun=${9:-}
  kit_spec "$name" "$ver" "$rel" "$arch" "$req" - "cp -a '$stage/.' %{buildroot}/" \
    "$(cd "$stage" && find . -mindepth 1 \( -type f -o -type l \) | sed 's|^\.||')" \
    "$post" "$preun" | kit_rpmbuild "$out" "$arch"
}

# kit_deb OUTDIR STAGE NAME VERSION ARCH DEPENDS [POSTINST [PRERM]]: build
# OUTDIR/NAME_VERSION_ARCH.deb holding the files under STAGE plus the marker
# /usr/share/ibup-kit/installed/NAME, as kit_rpm.
kit_deb() {
  local out=$1 stage=$2 name=$3 ver=$4 arch=$5 dep=$6 postinst=${7:-} prerm=${8:-}
  mkdir -p "$stage/usr/share/ibup-kit/installed" "$stage/DEBIAN" "$out"
  echo "${name}_$ver" >"$stage/usr/share/ibup-kit/installed/$name"
  {
    echo "Package: $name"
    echo "Version: $ver"
    echo "Architecture: $arch"
    echo "Maintainer: ibup tests <ibup@localhost>"
    [ "$dep" = - ] || echo "Depends: ${dep//,/, }"
    echo "Description: ibup test stand-in for the $name package"
  } >"$stage/DEBIAN/control"
  if [ -n "$postinst" ]; then
    printf '%s\n' "$postinst" >"$stage/DEBIAN/postinst"
    chmod 755 "$stage/DEBIAN/postinst"
  fi
  if [ -n "$prerm" ]; then
    printf '%s\n' "$prerm" >"$stage/DEBIAN/prerm"
    chmod 755 "$stage/DEBIAN/prerm"
  fi
  dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/${name}_${ver}_$arch.deb" >/dev/null
}
