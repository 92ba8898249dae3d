#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Golden `ibup install` plans: each case of install/cases.list runs on a copy of a fixture
# with the distribution's os-release and kernel, and its stdout, stderr and exit code are
# compared with install/expected/NAME.*; JSON is validated against its schema (--list:
# docs/install.schema.json, plans: docs/plan.schema.json). IBUP_UPDATE_GOLDEN=1 rewrites.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: test-install.sh IBUP SOURCE_DIR" >&2; exit 2; }
ibup=$1 src=$2
here=$src/tests/cli/install
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Secure Boot on: the firmware's variable set, shim validating, the kernel in lockdown.
secure_boot() {
  local efi=$1/sys/firmware/efi/efivars
  mkdir -p "$efi" "$1/sys/kernel/security"
  rm -f "$efi/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c" "$1/sys/kernel/security/lockdown"
  printf '\x06\x00\x00\x00\x01' >"$efi/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"
  echo 'none [integrity] confidentiality' >"$1/sys/kernel/security/lockdown"
}

fail=0 n=0
while read -r name fixture osr kernel setup sep args; do
  case $name in '' | '#'*) continue ;; esac
  [ "$sep" = -- ] || { echo "install/cases.list: $name: no '--'" >&2; exit 2; }
  tree=$tmp/image
  rm -rf "$tree"
  # Hard links: quick; every file changed below is removed first, never written through.
  cp -al "$src/tests/fixtures/$fixture" "$tree" 2>/dev/null || cp -a "$src/tests/fixtures/$fixture" "$tree"
  rm -rf "$tree/expected" "$tree/etc/os-release"
  cp "$here/os-release/$osr" "$tree/etc/os-release"
  if [ "$kernel" != - ]; then
    rm -rf "$tree/lib/modules"
    mkdir -p "$tree/lib/modules/$kernel"
  fi
  IFS=, read -ra steps <<<"$setup"
  for s in "${steps[@]}"; do
    case $s in
    -) ;;
    apt) mkdir -p "$tree/usr/bin" && rm -f "$tree/usr/bin/apt-get" && : >"$tree/usr/bin/apt-get" ;;
    sb) secure_boot "$tree" ;;
    sbvaloff)
      # Secure Boot on, but shim's validation disabled (mokutil --disable-validation).
      secure_boot "$tree"
      rm -f "$tree/sys/kernel/security/lockdown"
      printf '\x06\x00\x00\x00\x01' \
        >"$tree/sys/firmware/efi/efivars/MokSBStateRT-605dab50-e046-4300-abb6-3dd810dd8b23"
      ;;
    newer=*)
      # A newer kernel the next boot may pick, without the out-of-tree modules.
      mkdir -p "$tree/lib/modules/${s#newer=}"
      : >"$tree/lib/modules/${s#newer=}/modules.dep"
      ;;
    nokernel) rm -rf "${tree:?}/lib/modules" "${tree:?}/boot" ;;
    *) echo "install/cases.list: $name: unknown setup '$s'" >&2; exit 2 ;;
    esac
  done
  # shellcheck disable=SC2086 # the arguments are words
  set -- $args
  rc=0
  "$ibup" --root "$tree" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  sed -i "s|$tree|/srv/image|g" "$tmp/out" "$tmp/err"
  echo "$rc" >"$tmp/rc"
  exp=$here/expected/$name
  if [ "${IBUP_UPDATE_GOLDEN:-0}" = 1 ]; then
    for part in out err rc; do cp "$tmp/$part" "$exp.$part"; done
  fi
  n=$((n + 1))
  for part in out err rc; do
    if [ ! -f "$exp.$part" ]; then
      echo "FAIL: $name: missing $exp.$part (IBUP_UPDATE_GOLDEN=1, then review)" >&2
      fail=1
    elif ! diff -u "$exp.$part" "$tmp/$part" >&2; then
      echo "FAIL: $name: $part differs" >&2
      fail=1
    fi
  done
  case " $args " in
  *" --json "*)
    schema=$src/docs/plan.schema.json
    case " $args " in *" --list "*) schema=$src/docs/install.schema.json ;; esac
    if [ -s "$tmp/out" ] && ! python3 "$src/tests/cli/validate-json.py" "$schema" "$tmp/out"; then
      echo "FAIL: $name: output does not match $schema" >&2
      fail=1
    fi
    ;;
  esac
done <"$here/cases.list"
echo "$n install cases"
exit "$fail"
