#!/bin/bash
# Builds one Torch-only bench target (sourced by the benches' run.sh, from the
# repository root): configures BUILD_DIR (default build) with NAS_TRAIN_ONLY
# when it has no build yet, so that a machine without gRPC or PostgreSQL (a
# GPU box) can run the benches. JOBS (default 2) sets the parallelism.
BUILD_DIR=${BUILD_DIR:-build}
if [ ! -f "$BUILD_DIR/build.ninja" ] && [ ! -f "$BUILD_DIR/Makefile" ]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DNAS_TRAIN_ONLY=ON
fi
cmake --build "$BUILD_DIR" -j"${JOBS:-2}" --target "$1"
