#!/bin/bash
# Builds ranking_bench (Torch only) and runs it; every argument is passed on.
# Without arguments: the demo's chain space on Fashion-MNIST against the
# stored ground truth (bench/ranking/ground_truth.csv; rows it lacks are
# trained first, which is slow: see README.md), then every estimator.
#
#   bench/ranking/run.sh [--estimators supernet,shards,reduced] [--retrain] ...
#
# BUILD_DIR (default build) and JOBS (default 2) tune the build; NICE
# (default 19) the run's priority.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/build_torch_only.sh ranking_bench
exec nice -n "${NICE:-19}" "$BUILD_DIR/bench/ranking/ranking_bench" \
  --data_dir data --spec examples/demo_fashion_mnist_from_scratch.yaml \
  --truth bench/ranking/ground_truth.csv --truth_count 72 --truth_pool 4000 \
  --truth_seed 1 --threads 2 "$@"
