#!/bin/bash
# Builds zero_cost_bench (Torch only) and runs it on the NAS-Bench-201 table
# beside the checkout; every argument is passed on (README.md).
#
#   bench/zero_cost/run.sh [--table PATH] [--count 2000] [--seed 1] ...
#
# BUILD_DIR (default build) and JOBS (default 2) tune the build; NICE
# (default 19) the run's priority.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/build_torch_only.sh zero_cost_bench
exec nice -n "${NICE:-19}" "$BUILD_DIR/bench/zero_cost/zero_cost_bench" "$@"
