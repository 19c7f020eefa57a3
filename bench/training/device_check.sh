#!/bin/bash
# Everything this project checks on a lent GPU machine, as one prepared run
# (no gRPC or PostgreSQL there; PyTorch's LibTorch, CMake and ninja are).
# Needs in .devdata/ (carried, not committed): fashion_mnist/*.gz (the IDX
# files, gzipped) and googletest/ (a copy of /usr/src/googletest). Logs and
# tables go to $OUT. Stages, most important first: build; the CUDA tests
# of worker/train; bench/training (speed against Python, accuracy); the
# supernet's cost on the GPU.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-device-out}
mkdir -p "$OUT"
stage() { echo "== $(date +%T) $*"; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
data=/tmp/nas-data
mkdir -p $data/fashion_mnist
for f in .devdata/fashion_mnist/*.gz; do
  gunzip -c "$f" > "$data/fashion_mnist/$(basename "$f" .gz)"
done

stage configure
export BUILD_DIR=build-gpu JOBS=16
configure() {
  cmake -S . -B $BUILD_DIR -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DNAS_TRAIN_ONLY=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_PREFIX_PATH="$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')" \
    -DNAS_GTEST_SOURCE_DIR="$PWD/.devdata/googletest" "$@" \
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
