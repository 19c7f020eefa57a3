#!/usr/bin/env bash
# The checks that need a CUDA machine, as one script: builds the Torch-only
# part of the tree (NAS_TRAIN_ONLY: search spaces, tensor archive, trainer,
# supernet) against the machine's LibTorch 2.x, runs its unit tests with
# NAS_TEST_DEVICE=cuda, and measures supernet throughput on CUDA and on the
# CPU of the same machine.
# Usage: scripts/gpu_check.sh DATA_DIR GTEST_SOURCE_DIR [OUT_DIR]
#   DATA_DIR holds fashion_mnist/ (scripts/prepare_data.sh); GTEST_SOURCE_DIR
#   is a copy of /usr/src/googletest when the machine has no GoogleTest.
set -uo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=$1
GTEST_DIR=$2
OUT_DIR=${3:-/tmp/gpu_check}
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
TORCH_PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')
python3 -c 'import torch;print("torch", torch.__version__, "cuda", torch.version.cuda)'
start=$(date +%s)
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DNAS_TRAIN_ONLY=ON \
  -DCMAKE_PREFIX_PATH="$TORCH_PREFIX" -DNAS_GTEST_SOURCE_DIR="$GTEST_DIR" \
  >"$OUT_DIR/cmake.log" 2>&1 || { tail -40 "$OUT_DIR/cmake.log"; exit 1; }
ninja -C build-gpu nas_tensor_test nas_space_test nas_train_test supernet_throughput \
  >"$OUT_DIR/build.log" 2>&1 || { grep -B2 -A20 -m3 'error' "$OUT_DIR/build.log"; exit 1; }
echo "build: $(( $(date +%s) - start )) s"
build-gpu/common/tensor/nas_tensor_test 2>&1 | tail -2
build-gpu/common/space/nas_space_test 2>&1 | tail -2
NAS_TEST_DEVICE=cuda NAS_DATA_DIR="$DATA_DIR" build-gpu/worker/train/nas_train_test \
  >"$OUT_DIR/train_test.log" 2>&1
status=$?
grep -E '^\[  (FAILED|PASSED|SKIPPED) |OK \] Supernet|Failure|accuracy' "$OUT_DIR/train_test.log"
for device in cuda cpu; do
  build-gpu/bench/supernet/supernet_throughput "$DATA_DIR" --device "$device" \
    --shard_steps 300 --candidates 50 --baseline_candidates 3 2>&1 | tee -a "$OUT_DIR/throughput.md"
done
exit $status
