// Data set loading: IDX (MNIST, Fashion-MNIST) and CIFAR-10 binary files,
// read fully into uint8 tensors.
#include "worker/train/dataset.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <utility>

#include "common/space/datasets.h"
#include "worker/train/trainer.h"

namespace nas::train {
namespace {

bool FileExists(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return static_cast<bool>(file);
}

// Reads a whole file; on failure names it in *error.
bool ReadFile(const std::string& path, std::vector<uint8_t>* bytes,
              std::string* error) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    *error = "cannot open " + path;
    if (FileExists(path + ".gz"))
      *error += " (found " + path + ".gz: gunzip it)";
    return false;
  }
  bytes->assign(std::istreambuf_iterator<char>(file),
                std::istreambuf_iterator<char>());
  if (file.bad()) {
    *error = "cannot read " + path;
    return false;
  }
  return true;
}

uint32_t BigEndian32(const std::vector<uint8_t>& bytes, size_t offset) {
  return (uint32_t{bytes[offset]} << 24) | (uint32_t{bytes[offset + 1]} << 16) |
         (uint32_t{bytes[offset + 2]} << 8) | uint32_t{bytes[offset + 3]};
}

torch::Tensor ToTensor(std::vector<uint8_t>&& bytes, size_t offset,
                       std::vector<int64_t> sizes) {
  auto tensor = torch::empty(sizes, torch::kUInt8);
  std::memcpy(tensor.data_ptr<uint8_t>(), bytes.data() + offset,
              static_cast<size_t>(tensor.numel()));
  bytes.clear();
  bytes.shrink_to_fit();
  return tensor;
}

// IDX images: magic 2051, count, rows, cols (big-endian), then pixels.
bool ReadIdxImages(const std::string& path, torch::Tensor* images,
                   std::string* error) {
  std::vector<uint8_t> bytes;
  if (!ReadFile(path, &bytes, error)) return false;
  if (bytes.size() < 16 || BigEndian32(bytes, 0) != 2051) {
    *error = path + ": not an IDX image file (magic 2051 expected)";
    return false;
  }
  const int64_t n = BigEndian32(bytes, 4);
  const int64_t rows = BigEndian32(bytes, 8);
  const int64_t cols = BigEndian32(bytes, 12);
  if (n < 1 || rows < 1 || cols < 1 || rows > 4096 || cols > 4096 ||
      static_cast<int64_t>(bytes.size()) != 16 + n * rows * cols) {
    *error = path + ": size does not match its header (" + std::to_string(n) +
             " images of " + std::to_string(rows) + "x" + std::to_string(cols) +
             ")";
    return false;
  }
  *images = ToTensor(std::move(bytes), 16, {n, 1, rows, cols});
  return true;
}

// IDX labels: magic 2049, count (big-endian), then one byte per label.
bool ReadIdxLabels(const std::string& path, torch::Tensor* labels,
                   std::string* error) {
  std::vector<uint8_t> bytes;
  if (!ReadFile(path, &bytes, error)) return false;
  if (bytes.size() < 8 || BigEndian32(bytes, 0) != 2049) {
    *error = path + ": not an IDX label file (magic 2049 expected)";
    return false;
  }
  const int64_t n = BigEndian32(bytes, 4);
  if (static_cast<int64_t>(bytes.size()) != 8 + n) {
    *error = path + ": size does not match its header (" + std::to_string(n) +
             " labels)";
    return false;
  }
  *labels = ToTensor(std::move(bytes), 8, {n}).to(torch::kInt64);
  return true;
}

bool ReadIdxPair(const std::string& dir, const std::string& prefix,
                 torch::Tensor* images, torch::Tensor* labels,
                 std::string* error) {
  const std::string image_path = dir + "/" + prefix + "-images-idx3-ubyte";
  const std::string label_path = dir + "/" + prefix + "-labels-idx1-ubyte";
  if (!ReadIdxImages(image_path, images, error) ||
      !ReadIdxLabels(label_path, labels, error)) {
    return false;
  }
  if (images->size(0) != labels->size(0)) {
    *error = image_path + " has " + std::to_string(images->size(0)) +
             " images but " + label_path + " has " +
             std::to_string(labels->size(0)) + " labels";
    return false;
  }
  return true;
}

// CIFAR-10 binary: records of 1 label byte + 3x32x32 pixels (channel-major).
bool ReadCifarBatches(const std::string& dir,
                      const std::vector<std::string>& files,
                      torch::Tensor* images, torch::Tensor* labels,
                      std::string* error) {
  constexpr int64_t kPixels = 3 * 32 * 32;
  constexpr int64_t kRecord = 1 + kPixels;
  std::vector<torch::Tensor> image_parts, label_parts;
  for (const std::string& file : files) {
    const std::string path = dir + "/" + file;
    std::vector<uint8_t> bytes;
    if (!ReadFile(path, &bytes, error)) return false;
    if (bytes.empty() || bytes.size() % kRecord != 0) {
      *error = path + ": size " + std::to_string(bytes.size()) +
               " is not a multiple of the CIFAR-10 record size 3073";
      return false;
    }
    const int64_t n = static_cast<int64_t>(bytes.size()) / kRecord;
    auto records = ToTensor(std::move(bytes), 0, {n, kRecord});
    label_parts.push_back(records.select(1, 0).to(torch::kInt64));
    image_parts.push_back(
        records.slice(1, 1, kRecord).reshape({n, 3, 32, 32}).contiguous());
  }
  *images = torch::cat(image_parts);
  *labels = torch::cat(label_parts);
  return true;
}

// The folder that holds `probe`: `dir` itself or one of `subdirs` under it.
std::string FindFolder(const std::string& dir,
                       const std::vector<std::string>& subdirs,
                       const std::string& probe) {
  if (FileExists(dir + "/" + probe)) return dir;
  for (const std::string& sub : subdirs) {
    if (FileExists(dir + "/" + sub + "/" + probe)) return dir + "/" + sub;
  }
  return dir;  // let the reader report the missing file under `dir`
}

std::shared_ptr<const Dataset> Load(const std::string& name,
                                    const std::string& dir,
                                    std::string* error) {
  torch::Tensor train_images, train_labels, test_images, test_labels;
  if (name == "fashion_mnist" || name == "mnist") {
    const std::string folder =
        FindFolder(dir, {name}, "train-images-idx3-ubyte");
    if (!ReadIdxPair(folder, "train", &train_images, &train_labels, error) ||
        !ReadIdxPair(folder, "t10k", &test_images, &test_labels, error)) {
      return nullptr;
    }
    const space::DatasetInfo& info = *space::FindDataset(name);
    return MakeDataset(name, info.shape.num_classes, info.mean, info.std,
                       train_images, train_labels, test_images, test_labels,
                       error);
  }
  if (name == "cifar10") {
    const std::string folder = FindFolder(
        dir, {"cifar10", "cifar-10-batches-bin"}, "data_batch_1.bin");
    if (!ReadCifarBatches(
            folder,
            {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
             "data_batch_4.bin", "data_batch_5.bin"},
            &train_images, &train_labels, error) ||
        !ReadCifarBatches(folder, {"test_batch.bin"}, &test_images,
                          &test_labels, error)) {
      return nullptr;
    }
    const space::DatasetInfo& info = *space::FindDataset(name);
    return MakeDataset(name, info.shape.num_classes, info.mean, info.std,
                       train_images, train_labels, test_images, test_labels,
                       error);
  }
  *error = "unknown data set \"" + name +
           "\" (expected fashion_mnist, mnist or cifar10)";
  return nullptr;
}

}  // namespace

Dataset::Dataset(std::string name, space::InputShape shape,
                 std::vector<float> mean, std::vector<float> std,
                 torch::Tensor train_images, torch::Tensor train_labels,
                 torch::Tensor test_images, torch::Tensor test_labels)
    : name_(std::move(name)),
      shape_(shape),
      mean_(std::move(mean)),
      std_(std::move(std)),
      train_images_(std::move(train_images)),
      train_labels_(std::move(train_labels)),
      test_images_(std::move(test_images)),
      test_labels_(std::move(test_labels)) {}

torch::Tensor Dataset::Normalize(const torch::Tensor& images) const {
  torch::Tensor x = images.to(torch::kFloat32);
  for (size_t c = 0; c < mean_.size(); ++c) {
    // (x / 255 - mean) / std, with scalars only (no per-batch tensor copies).
    x.select(1, static_cast<int64_t>(c))
        .sub_(255.0 * mean_[c])
        .div_(255.0 * std_[c]);
  }
  return x;
}

std::shared_ptr<const Dataset> MakeDataset(
    const std::string& name, int num_classes, std::vector<float> mean,
    std::vector<float> std, torch::Tensor train_images,
    torch::Tensor train_labels, torch::Tensor test_images,
    torch::Tensor test_labels, std::string* error) {
  auto fail = [&](const std::string& message) {
    if (error) *error = name + ": " + message;
    return nullptr;
  };
  if (train_images.dim() != 4 || test_images.dim() != 4 ||
      train_images.scalar_type() != torch::kUInt8 ||
      test_images.scalar_type() != torch::kUInt8) {
    return fail("images must be uint8 tensors [N, C, H, W]");
  }
  if (train_images.sizes().slice(1) != test_images.sizes().slice(1)) {
    return fail("train and test images differ in shape");
  }
  if (train_labels.dim() != 1 || test_labels.dim() != 1 ||
      train_labels.scalar_type() != torch::kInt64 ||
      test_labels.scalar_type() != torch::kInt64 ||
      train_labels.size(0) != train_images.size(0) ||
      test_labels.size(0) != test_images.size(0)) {
    return fail("labels must be int64 tensors [N] matching the images");
  }
  if (train_images.size(0) < 2 || test_images.size(0) < 1) {
    return fail("too few images");
  }
  const int64_t channels = train_images.size(1);
  if (static_cast<int64_t>(mean.size()) != channels ||
      static_cast<int64_t>(std.size()) != channels) {
    return fail("one mean and std per channel expected");
  }
  for (const auto& labels : {train_labels, test_labels}) {
    if (labels.min().item<int64_t>() < 0 ||
        labels.max().item<int64_t>() >= num_classes) {
      return fail("labels must be in [0, " + std::to_string(num_classes) + ")");
    }
  }
  space::InputShape shape;
  shape.channels = static_cast<int>(channels);
  shape.height = static_cast<int>(train_images.size(2));
  shape.width = static_cast<int>(train_images.size(3));
  shape.num_classes = num_classes;
  return std::make_shared<const Dataset>(
      name, shape, std::move(mean), std::move(std), train_images.contiguous(),
      train_labels.contiguous(), test_images.contiguous(),
      test_labels.contiguous());
}

std::shared_ptr<const Dataset> LoadDataset(const std::string& name,
                                           const std::string& dir,
                                           std::string* error) {
  std::string message;
  std::shared_ptr<const Dataset> data;
  try {
    data = Load(name, dir, &message);
  } catch (const c10::Error& e) {
    message = "loading " + name + ": " + e.what_without_backtrace();
  } catch (const std::exception& e) {
    message = "loading " + name + ": " + e.what();
  }
  if (!data && error) *error = message;
  return data;
}

space::InputShape DatasetShape(const Dataset& data) { return data.shape(); }
int64_t DatasetTrainSize(const Dataset& data) {
  return data.train_images().size(0);
}
int64_t DatasetTestSize(const Dataset& data) {
  return data.test_images().size(0);
}

}  // namespace nas::train
