#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# From a fresh checkout to ibup's answer: install the build dependencies, build the
# hardened release configuration, and run `ibup status` on this machine, then
# `ibup install --list`: which driver stack `ibup install` would install here and why
# (it changes nothing; `sudo build/release/ibup install --dry-run` shows the plan).
# The release preset builds no tests, so nothing the tests need is installed here
# (tools/test.sh installs those); CI runs this script in a fresh Debian 12 tree
# (tools/fresh-tree.sh quickstart) to keep it working for a newcomer.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
  tools/deps.sh
elif command -v sudo >/dev/null; then
  sudo tools/deps.sh
else
  echo "build.sh: installing the build dependencies needs root, and there is no sudo;" \
    "run 'tools/deps.sh' as root, then this again" >&2
  exit 3
fi
cmake --preset release >/dev/null
cmake --build --preset release
echo
build/release/ibup status "$@"
echo
exec build/release/ibup install --list
