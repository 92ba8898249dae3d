#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, as CI runs it: install the dependencies, check formatting and
# lint, build the release configuration, then build with ASan+UBSan and -Werror and run
# every test (unit, command-line golden files, Soft-RoCE guest). ctest's summary is last.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
if [ "$(id -u)" = 0 ]; then
  tools/deps.sh --test
else
  sudo tools/deps.sh --test
fi

step "clang-format"
mapfile -t c_files < <(git ls-files '*.c' '*.h' 2>/dev/null || find include lib src tests -name '*.[ch]')
clang-format --dry-run --Werror "${c_files[@]}"

step "shellcheck"
mapfile -t sh_files < <(git ls-files '*.sh' .ci/run tests/vm/guest/init packaging/bash-completion/ibup tests/fakes/bin 2>/dev/null | sort -u)
shellcheck -x "${sh_files[@]}"

step "release build (hardened) and its tests"
cmake --preset release >/dev/null
cmake --build --preset release
cmake --preset release-test >/dev/null
cmake --build --preset release-test
ctest --preset release-test -LE vm --no-label-summary >/dev/null ||
  ctest --preset release-test -LE vm --rerun-failed --output-on-failure --no-label-summary

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
ctest --preset ci --output-on-failure --no-label-summary
