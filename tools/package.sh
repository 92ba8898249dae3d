#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Build the Debian package (dpkg-buildpackage, then lintian) and the RPM (rpmbuild with
# packaging/rpm/ibup.spec; with the portable binary of tools/portable.sh when it is built)
# from the files git tracks, and check each holds exactly what
# `cmake --install` puts down, apart from what the format itself adds (the Debian
# copyright and changelog, the RPM license file) and man pages being compressed.
# Everything goes to build/packages/; the .deb is build/packages/ibup_<version>_<arch>.deb.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<'USAGE'
Usage: tools/package.sh [deb] [rpm]

Build the named packages (default: both) into build/packages/ and compare their
contents with `cmake --install`. Needs dpkg-dev, debhelper, lintian and rpm
(tools/deps.sh --test installs them) and the build dependencies.
USAGE
}

kinds=()
for arg in "$@"; do
  case $arg in
  deb | rpm) kinds+=("$arg") ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    usage >&2
    exit 2
    ;;
  esac
done
[ "${#kinds[@]}" -gt 0 ] || kinds=(deb rpm)

out=$PWD/build/packages
version=$(sed -n 's/^project(ibup VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
[ -n "$version" ] || {
  echo "package.sh: no version in CMakeLists.txt" >&2
  exit 3
}
mkdir -p "$out"

# A source tree of the tracked files as they are in the working tree.
source_tree() {
  mkdir -p "$1"
  git ls-files -z | tar --null -T - -cf - | tar -xf - -C "$1"
}

# The files (and symlinks) under a tree, one path a line, man pages without .gz.
files_of() {
  (cd "$1" && find . ! -type d | sed 's|^\.||; s|\(/man/man[0-9]/.*\)\.gz$|\1|' | sort)
}

# What `cmake --install` puts down with the packages' options; $1 names the extra ones.
cmake_install_tree() {
  local dest=$out/$1-cmake-install build=$out/$1-cmake-build
  shift
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DIBUP_TESTS=OFF \
    -DIBUP_MAN=ON -DCMAKE_INSTALL_PREFIX=/usr "$@" >/dev/null
  cmake --build "$build" >/dev/null
  rm -rf "$dest"
  DESTDIR=$dest cmake --install "$build" >/dev/null
  printf '%s\n' "$dest"
}

compare() {
  local what=$1 pkg_list=$2 cmake_list=$3
  if ! diff -u "$cmake_list" "$pkg_list"; then
    echo "package.sh: the $what package's files differ from cmake --install's (- cmake, + package)" >&2
    exit 1
  fi
  echo "$what: $(wc -l <"$pkg_list") files, the same as cmake --install"
}

build_deb() {
  local changelog_version src deb tree
  changelog_version=$(dpkg-parsechangelog -S Version)
  if [ "$changelog_version" != "$version" ]; then
    echo "package.sh: debian/changelog says $changelog_version, CMakeLists.txt $version" >&2
    exit 1
  fi
  rm -rf "$out/deb" "$out"/ibup_*.deb
  src=$out/deb/ibup-$version
  source_tree "$src"
  (cd "$src" && dpkg-buildpackage -b -us -uc -j"$(nproc)" >"$out/deb/build.log" 2>&1) || {
    tail -n 40 "$out/deb/build.log" >&2
    echo "package.sh: dpkg-buildpackage failed (log: $out/deb/build.log)" >&2
    exit 1
  }
  deb=$(echo "$out"/deb/ibup_"$version"_*.deb)
  [ -f "$deb" ] || {
    echo "package.sh: no .deb built" >&2
    exit 1
  }
  # (lintian's advice not to run as root is noise here: it only reads the package.)
  lintian --fail-on error,warning "$out"/deb/ibup_"$version"_*.changes \
    2> >(grep -v '^running with root privileges is not recommended' >&2)
  echo "lintian: $(basename "$deb") clean"
  cp "$deb" "$out/"

  tree=$out/deb/contents
  dpkg-deb -x "$deb" "$tree"
  # dpkg requires the copyright and changelog in /usr/share/doc/ibup; cmake has no say.
  files_of "$tree" | grep -v '^/usr/share/doc/ibup/' >"$out/deb/files"
  files_of "$(cmake_install_tree deb -DIBUP_ZSH_COMPLETION_DIR=share/zsh/vendor-completions)" \
    >"$out/deb/cmake-files"
  compare deb "$out/deb/files" "$out/deb/cmake-files"
}

build_rpm() {
  local top=$out/rpm rpm tree spec_version
  spec_version=$(sed -n 's/^Version:[[:space:]]*//p' packaging/rpm/ibup.spec)
  if [ "$spec_version" != "$version" ]; then
    echo "package.sh: ibup.spec says $spec_version, CMakeLists.txt $version" >&2
    exit 1
  fi
  rm -rf "$top" "$out"/ibup-*.rpm
  mkdir -p "$top/SOURCES"
  source_tree "$top/ibup-$version"
  tar -C "$top" -czf "$top/SOURCES/ibup-$version.tar.gz" "ibup-$version"
  rm -rf "${top:?}/ibup-$version"
  # The portable binary, when tools/portable.sh has built it, is the one the RPM ships
  # (EL8's glibc 2.28 and later); otherwise this host's build.
  local prebuilt=()
  if [ -x build/portable/ibup ]; then
    prebuilt=(--define "prebuilt $PWD/build/portable/ibup")
  fi
  # --nodeps: the BuildRequires are RPM names, which dpkg's database does not know.
  rpmbuild --define "_topdir $top" "${prebuilt[@]}" --nodeps -bb packaging/rpm/ibup.spec >"$top/build.log" 2>&1 || {
    tail -n 40 "$top/build.log" >&2
    echo "package.sh: rpmbuild failed (log: $top/build.log)" >&2
    exit 1
  }
  rpm=$(echo "$top"/RPMS/*/ibup-"$version"-*.rpm)
  [ -f "$rpm" ] || {
    echo "package.sh: no .rpm built" >&2
    exit 1
  }
  cp "$rpm" "$out/"
  tree=$top/contents
  mkdir -p "$tree"
  (cd "$tree" && rpm2cpio "$rpm" | cpio -idm --quiet)
  # rpmbuild adds the %license file and the binary's build-id link.
  files_of "$tree" | grep -Ev '^/usr/share/licenses/ibup[^/]*/|^/usr/lib/\.build-id/' >"$top/files"
  files_of "$(cmake_install_tree rpm)" >"$top/cmake-files"
  compare rpm "$top/files" "$top/cmake-files"
}

for kind in "${kinds[@]}"; do
  "build_$kind"
done
