# SPDX-License-Identifier: MIT
# Sourced by the command-line tests that change a fixture between runs.
# shellcheck shell=bash

# writable_root FIXTURE: a temporary copy of FIXTURE's system tree (not its expected/
# golden files) in $root, under $tmp, both removed when the test exits.
writable_root() {
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064 # the path is fixed now, on purpose
  trap "rm -rf '$tmp'" EXIT
  root=$tmp/root
  mkdir -p "$root"
  (cd "$1" && tar --exclude=./expected -cf - .) | (cd "$root" && tar -xf -)
}
