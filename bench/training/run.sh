#!/bin/bash
# The training-speed benchmark in one command (README.md): builds
# training_bench (Torch only), measures the Python eager float32 baseline on
# the same device, then every step of the fast path against it, and with
# --data_dir the accuracy check on Fashion-MNIST. Arguments go to
# training_bench, e.g.
#
#   bench/training/run.sh --device cuda --data_dir data
#
# BUILD_DIR (default build) and JOBS (default 2) tune the build; PYTHON
# (default python3) runs the baseline; BASELINE_FILE keeps its figures;
# PROFILE_FILE gets a torch.profiler table of the baseline's steps.
set -euo pipefail
cd "$(dirname "$0")/../.."
source bench/build_torch_only.sh training_bench
device=cuda
steps=100
repeats=3
networks=nb201,chain
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i += 2)); do
  case "${args[i]}" in
    --device) device=${args[i + 1]} ;;
    --steps) steps=${args[i + 1]} ;;
    --repeats) repeats=${args[i + 1]} ;;
    --networks) networks=${args[i + 1]} ;;
  esac
done
baseline=${BASELINE_FILE:-$(mktemp)}
"${PYTHON:-python3}" bench/training/eager_baseline.py --device "$device" \
  --steps "$steps" --repeats "$repeats" --networks "$networks" \
  --out "$baseline" ${PROFILE_FILE:+--profile "$PROFILE_FILE"}
exec "$BUILD_DIR/bench/training/training_bench" --device "$device" \
  --baseline "$baseline" "$@"
