#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# From a fresh checkout to ibup's answer: install the build dependencies, build the
# hardened release configuration, and run `ibup status` on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then
  tools/deps.sh
else
  sudo tools/deps.sh
fi
cmake --preset release >/dev/null
cmake --build --preset release
echo
exec build/release/ibup status "$@"
