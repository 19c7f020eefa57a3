#!/usr/bin/env bash
# Chaos run: builds nas_chaos (and the controller and worker it starts), then
# runs it. Extra arguments go to nas_chaos, e.g. --trials=100. See README.md.
#
#   bench/chaos/run.sh [--trials=500] [--workers=8] ...
#
# BUILD_DIR (default build-rel) is the CMake build folder to use; it is
# configured (Release, Ninja) when missing. NAS_DATA_DIR (default data/)
# must hold mnist/ (scripts/prepare_data.sh or the README's data step).
# The run starts its own PostgreSQL on a free loopback port in a fresh /tmp
# folder and removes it afterwards; it never touches another server.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-rel}
JOBS=${JOBS:-2}
export NAS_DATA_DIR=${NAS_DATA_DIR:-$ROOT/data}

[[ -f "$NAS_DATA_DIR/mnist/train-images-idx3-ubyte" ]] ||
  { echo "run.sh: no MNIST under $NAS_DATA_DIR/mnist" >&2; exit 2; }

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
fi
nice cmake --build "$BUILD_DIR" --target nas_chaos nas-controller nas-worker -j "$JOBS"

exec nice "$BUILD_DIR/bench/chaos/nas_chaos" "$@"
