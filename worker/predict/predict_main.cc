// nas-predict: classifies images with a model `nasctl export` wrote.
//
//   nas-predict MODEL_DIR IMAGE...          top classes of each image
//   nas-predict MODEL_DIR t10k-images-idx3-ubyte --labels \
//       t10k-labels-idx1-ubyte --limit 20   and the accuracy on them
//
// Runs on the CPU; the network is rebuilt from model.json exactly as the
// worker trained it, and fed as it was trained (docs/export.md).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/hash/sha256.h"
#include "common/spec/model_manifest.h"
#include "common/tensor/tensor_archive.h"
#include "worker/predict/image_input.h"
#include "worker/train/supernet.h"

ABSL_FLAG(int, top, 3, "How many classes to print per image, best first.");
ABSL_FLAG(std::string, labels, "",
          "An IDX label file for an IDX image file: prints each image's "
          "label and the accuracy.");
ABSL_FLAG(int, limit, 0,
          "Classify at most this many images of each IDX file (0: all).");
ABSL_FLAG(bool, logits, false,
          "Print each image's raw logits (one line, space-separated) "
          "instead of classes.");

namespace {

// Images per forward pass: bounded memory for a whole test set.
constexpr int64_t kBatch = 500;

int Fail(const std::string& message) {
  std::cerr << "nas-predict: " << message << "\n";
  return 1;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

struct Model {
  nas::v1::ModelManifest manifest;
  nas::space::NetworkSpec network;
  nas::tensor::TensorMap weights;
};

absl::StatusOr<Model> LoadModel(const std::string& dir) {
  Model model;
  absl::StatusOr<std::string> json = ReadFile(dir + "/model.json");
  if (!json.ok()) return json.status();
  absl::StatusOr<nas::v1::ModelManifest> manifest =
      nas::spec::ManifestFromJson(*json);
  if (!manifest.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, "/model.json: ", manifest.status().message()));
  }
  model.manifest = *std::move(manifest);
  absl::StatusOr<nas::space::NetworkSpec> network =
      nas::spec::NetworkOfManifest(model.manifest);
  if (!network.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(dir, "/model.json: ", network.status().message()));
  }
  model.network = *std::move(network);
  const nas::v1::ModelWeights& expected = model.manifest.weights();
  const std::string path = absl::StrCat(dir, "/", expected.file());
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  if (static_cast<int64_t>(bytes->size()) != expected.size() ||
      nas::hash::Sha256Hex(*bytes) != expected.sha256()) {
    return absl::DataLossError(absl::StrCat(
        path,
        " does not match model.json's size and SHA-256; export the "
        "model again"));
  }
  std::string error;
  if (!nas::tensor::Parse(*bytes, &model.weights, &error)) {
    return absl::DataLossError(absl::StrCat(path, ": ", error));
  }
  return model;
}

std::string ClassName(const nas::v1::ModelManifest& manifest, int index) {
  if (index >= 0 && index < manifest.class_names_size()) {
    return manifest.class_names(index);
  }
  return absl::StrCat("class ", index);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "classifies images with an exported model.\n\n"
      "  nas-predict MODEL_DIR IMAGE... [--top=3] [--logits]\n"
      "  nas-predict MODEL_DIR IMAGES.idx [--labels=LABELS.idx] "
      "[--limit=N]\n\n"
      "MODEL_DIR is what `nasctl export` wrote. IMAGE: PNG or JPEG files "
      "(converted to the model's channels and size) or IDX image files.");
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  if (positional.size() < 3) {
    return Fail("usage: nas-predict MODEL_DIR IMAGE... (--help for more)");
  }
  const int top = absl::GetFlag(FLAGS_top);
  if (top < 1) return Fail("--top must be at least 1");
  absl::StatusOr<Model> model = LoadModel(positional[1]);
  if (!model.ok()) return Fail(std::string(model.status().message()));
  const nas::v1::ModelInput& input = model->manifest.input();

  std::vector<nas::predict::Image> images;
  for (size_t i = 2; i < positional.size(); ++i) {
    absl::StatusOr<std::vector<nas::predict::Image>> read =
        nas::predict::ReadImages(positional[i], absl::GetFlag(FLAGS_limit));
    if (!read.ok()) return Fail(std::string(read.status().message()));
    for (auto& image : *read) images.push_back(std::move(image));
  }
  std::vector<int> labels;
  if (const std::string path = absl::GetFlag(FLAGS_labels); !path.empty()) {
    if (positional.size() != 3) {
      return Fail("--labels goes with exactly one IDX image file");
    }
    absl::StatusOr<std::vector<int>> read = nas::predict::ReadIdxLabels(path);
    if (!read.ok()) return Fail(std::string(read.status().message()));
    labels = *std::move(read);
    if (labels.size() < images.size()) {
      return Fail(absl::StrCat(path, " has ", labels.size(), " labels for ",
                               images.size(), " images"));
    }
  }

  const int classes = input.num_classes();
  const size_t per_image =
      static_cast<size_t>(input.channels()) * input.height() * input.width();
  int correct = 0;
  for (size_t start = 0; start < images.size(); start += kBatch) {
    const size_t end = std::min(images.size(), start + kBatch);
    std::vector<float> batch;
    batch.reserve((end - start) * per_image);
    for (size_t i = start; i < end; ++i) {
      std::vector<float> x = nas::predict::ToModelInput(images[i], input);
      batch.insert(batch.end(), x.begin(), x.end());
    }
    std::vector<float> logits;
    std::string error;
    if (!nas::train::StandaloneLogits(model->network, model->weights, batch,
                                      static_cast<int64_t>(end - start),
                                      &logits, &error)) {
      return Fail(absl::StrCat(positional[1], ": ", error));
    }
    for (size_t i = start; i < end; ++i) {
      const float* row = logits.data() + (i - start) * classes;
      if (absl::GetFlag(FLAGS_logits)) {
        for (int c = 0; c < classes; ++c) {
          std::printf(c == 0 ? "%.9g" : " %.9g", row[c]);
        }
        std::printf("\n");
        continue;
      }
      // Softmax in double, shifted by the largest logit.
      const float largest = *std::max_element(row, row + classes);
      std::vector<double> p(classes);
      double sum = 0;
      for (int c = 0; c < classes; ++c)
        sum += p[c] = std::exp(row[c] - largest);
      std::vector<int> order(classes);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(),
                       [&](int a, int b) { return p[a] > p[b]; });
      std::string line = images[i].name;
      for (int k = 0; k < std::min(top, classes); ++k) {
        absl::StrAppend(&line, k == 0 ? "  " : ", ",
                        ClassName(model->manifest, order[k]), " ",
                        absl::StrFormat("%.1f%%", 100 * p[order[k]] / sum));
      }
      if (!labels.empty()) {
        absl::StrAppend(
            &line, "  (label: ", ClassName(model->manifest, labels[i]), ")");
        correct += order[0] == labels[i];
      }
      std::printf("%s\n", line.c_str());
    }
  }
  if (!labels.empty() && !absl::GetFlag(FLAGS_logits)) {
    std::printf("accuracy %.4f (%d of %zu images)\n",
                static_cast<double>(correct) / images.size(), correct,
                images.size());
  }
  return 0;
}
