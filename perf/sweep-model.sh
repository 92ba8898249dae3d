#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sweep's scale simulation (perf/sweep-model.c): detection precision and recall on a
# modelled fat tree of 16 ... 4096 nodes, and the sweep's time by a model (never a
# measurement). Builds the release preset's sweep-model when it is not there, then runs
# it with the arguments given (--quick, --seeds N, --sync-from RUN.json, ...). The 4096-node
# row holds a full sweep's 8.4 million measurements: about 1.1 GB of memory.
set -euo pipefail
cd "$(dirname "$0")/.."

model=${SWEEP_MODEL:-build/release/perf/sweep-model}
if [ ! -x "$model" ]; then
  cmake --preset release >/dev/null
  cmake --build --preset release --target sweep-model >/dev/null
fi
exec "$model" "$@"
