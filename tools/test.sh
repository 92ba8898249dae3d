#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it: install the dependencies, check formatting and
# lint, build the release configuration and test it, build the packages, prove the
# README's commands in fresh Debian 12 trees, build and run the portable binary in a
# Debian 11 tree (tools/portable.sh), then build with ASan+UBSan and -Werror and
# run every test (unit, command-line golden files, Soft-RoCE guest). Each stage's time
# is printed at the end (also after a failure), then ctest's summary line again.
# IBUP_CI_FRESH=0 skips the fresh-tree stages (they need Debian's registry).
# IBUP_CI_PORTABLE=0 skips the portable build in a Debian 11 tree (tools/portable.sh;
# default: as IBUP_CI_FRESH, since its first run needs the registry too).
set -euo pipefail
cd "$(dirname "$0")/.."

stage_names=() stage_secs=() stage_start=
step() {
  finish_stage
  printf '\n==> %s\n' "$*"
  stage_names+=("$*")
  stage_start=$SECONDS
}
finish_stage() {
  [ -n "$stage_start" ] || return 0
  stage_secs+=($((SECONDS - stage_start)))
  stage_start=
}
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}

fresh=${IBUP_CI_FRESH:-1}
portable=${IBUP_CI_PORTABLE:-$fresh}
summary=$(mktemp)
report() {
  local rc=$?
  finish_stage
  printf '\n==> time per stage\n'
  for i in "${!stage_names[@]}"; do
    printf '%5ds  %s\n' "${stage_secs[i]}" "${stage_names[i]}"
  done
  printf '%5ds  total%s\n' "$SECONDS" "$([ "$rc" = 0 ] || echo ", failed (exit $rc)")"
  [ "$fresh" = 1 ] || echo "(IBUP_CI_FRESH=0: the fresh Debian 12 stages were skipped)"
  [ "$portable" = 1 ] || echo "(IBUP_CI_PORTABLE=0: the portable build in Debian 11 was skipped)"
  # ctest's summary last, where CI reads it.
  grep -E '^[0-9]+% tests passed' "$summary" || true
  rm -f "$summary"
}
trap report EXIT

# Tests run as many at once as there are CPUs: they take their own ports, namespaces
# and temporary directories, and the caches they share are locked; the Soft-RoCE
# guest (vm-softroce) runs alone (RUN_SERIAL), as it keeps every core busy.
jobs=$(nproc 2>/dev/null || echo 1)

step "dependencies"
as_root tools/deps.sh --test

step "clang-format"
mapfile -t c_files < <(git ls-files '*.c' '*.h' 2>/dev/null || find include lib src sweep tests -name '*.[ch]')
clang-format --dry-run --Werror "${c_files[@]}"

step "shellcheck"
mapfile -t sh_files < <(git ls-files '*.sh' .ci/run tests/vm/guest/init packaging/bash-completion/ibup debian/postrm tests/fakes/bin 2>/dev/null | sort -u)
shellcheck -x "${sh_files[@]}"

step "release build (hardened) and its tests"
cmake --preset release >/dev/null
cmake --build --preset release
cmake --preset release-test >/dev/null
cmake --build --preset release-test
ctest --preset release-test -LE vm -j "$jobs" --no-label-summary >/dev/null ||
  ctest --preset release-test -LE vm --rerun-failed --output-on-failure --no-label-summary

if [ "$portable" = 1 ]; then
  step "portable build in Debian 11: glibc 2.28 at most, jansson and expat linked in, run there; tarball"
  as_root tools/portable.sh --tarball
fi

# The RPM ships the portable binary when the step above built it.
step "packages: .deb (lintian) and .rpm, each equal to cmake --install"
tools/package.sh deb rpm

if [ "$fresh" = 1 ]; then
  step "fresh Debian 12: the README's quick start (tools/build.sh)"
  as_root tools/fresh-tree.sh quickstart

  step "fresh Debian 12: tools/deps.sh --test, every test preset configured and built"
  as_root tools/fresh-tree.sh test-presets

  step "fresh Debian 12: the .deb installed, run on a fixture, removed, purged"
  as_root tools/fresh-tree.sh deb build/packages/ibup_*.deb
fi

step "fuzz smoke (libFuzzer, clang)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz
ctest --preset fuzz --no-label-summary

step "sanitizer build (ASan+UBSan, -Werror)"
cmake --preset ci >/dev/null
cmake --build --preset ci

step "cppcheck"
cppcheck --project=build/ci/compile_commands.json --enable=warning,performance,portability \
  --inline-suppr --suppress=missingIncludeSystem --error-exitcode=1 -q

step "tests (sanitizer build)"
ctest --preset ci -j "$jobs" --output-on-failure --no-label-summary | tee "$summary"
