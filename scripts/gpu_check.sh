#!/bin/bash
# The checks that need a CUDA machine, as one prepared run (no gRPC or
# PostgreSQL there; PyTorch's LibTorch 2.x, CMake and ninja are). Stages,
# most important first: the Torch-only build (NAS_TRAIN_ONLY) against the
# machine's LibTorch; worker/train's tests with NAS_TEST_DEVICE=cuda;
# bench/training (speed against Python eager, accuracy on Fashion-MNIST);
# the supernet's cost on the GPU (bench/supernet).
#
#   scripts/gpu_check.sh [DATA_DIR] [GTEST_SOURCE_DIR]
#
# DATA_DIR holds fashion_mnist/ (scripts/prepare_data.sh); without it the
# gzipped IDX files in .devdata/fashion_mnist/ are unpacked. GTEST_SOURCE_DIR
# (default .devdata/googletest) is a copy of /usr/src/googletest, for a
# machine without GoogleTest. Logs and tables go to $OUT (default
# /tmp/gpu_check). bench/training/README.md has the results.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
stage() { echo "== $(date +%T) $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
data=${1:-}
if [ -z "$data" ]; then
  data=/tmp/nas-data
  mkdir -p $data/fashion_mnist
  for f in .devdata/fashion_mnist/*.gz; do
    gunzip -c "$f" > "$data/fashion_mnist/$(basename "$f" .gz)"
  done
fi
gtest=$(realpath "${2:-.devdata/googletest}")

stage configure
export BUILD_DIR=build-gpu JOBS=16
configure() {
  cmake -S . -B $BUILD_DIR -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DNAS_TRAIN_ONLY=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')" \
    -DNAS_GTEST_SOURCE_DIR="$gtest" "$@" \
    >> "$OUT/configure.log" 2>&1
}
configure || { tail -40 "$OUT/configure.log"; exit 1; }
grep -i "cuda" "$OUT/configure.log" | head -5
stage build
targets="training_bench nas_train_test supernet_throughput"
build() {
  cmake --build $BUILD_DIR -j$JOBS --target $targets -- -k 0 \
    >> "$OUT/build.log" 2>&1
}
if ! build; then
  grep -A8 "error" "$OUT/build.log" | head -60
  if grep -q "cuda_tools" "$OUT/build.log"; then
    stage "rebuild without the CUDA-only file"
    configure -DNAS_CUDA=OFF && build
  fi
fi
ls -la $BUILD_DIR/bench/training/training_bench \
  $BUILD_DIR/worker/train/nas_train_test || true

stage "tests of worker/train on CUDA"
NAS_TEST_DEVICE=cuda timeout 100 $BUILD_DIR/worker/train/nas_train_test \
  --gtest_filter='TrainStep*:Supernet*:ZeroCost*:TrainerTest.*' > "$OUT/tests.log" 2>&1
echo "tests rc $?"
grep -E "^\[ +(OK|FAILED|SKIPPED|PASSED) +\]|Failure|Expected|actual|largest" \
  "$OUT/tests.log" | head -40

stage "bench/training"
BASELINE_FILE="$OUT/baseline.txt" PROFILE_FILE="$OUT/profile.txt" \
  timeout 260 bench/training/run.sh \
  --device cuda --steps 60 --data_dir $data --epochs 2 --seeds 2 \
  2>&1 | tee "$OUT/training.md"

stage "bench/supernet on CUDA"
timeout 90 $BUILD_DIR/bench/supernet/supernet_throughput $data \
  --device cuda --candidates 40 --baseline_candidates 4 2>&1 |
  tee "$OUT/supernet.md"
stage done
