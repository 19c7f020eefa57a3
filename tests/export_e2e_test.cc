// The winning model taken away and used, end to end: a real search trains
// on Fashion-MNIST, `nasctl export` writes its best model, `nas-predict`
// classifies the official test images with it and gets the accuracy the
// worker measured, a PNG gets the class its pixels got from the IDX file,
// and Python's nas_client.load_model computes the same logits. Trials that
// trained no network are refused with a reason.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/hash/sha256.h"
#include "common/spec/model_manifest.h"
#include "gtest/gtest.h"
#include "stb_image_write.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kSearch[] = R"(
name: export-fashion
seed: 3
dataset: {name: fashion_mnist}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
      - {depths: [1], widths: [16, 24], ops: [conv3x3, ir_k5_e3], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 3, parallelism: 2, max_attempts: 2}
training: {epochs: 1, data_fraction: 0.25, batch_size: 64, learning_rate: 0.05}
)";

constexpr char kTabularSearch[] = R"(
name: export-tabular
seed: 1
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 3, parallelism: 1}
training: {epochs: 1}
)";

std::string DataDir() {
  const char* dir = std::getenv("NAS_DATA_DIR");
  return dir && *dir ? dir : NAS_SOURCE_DIR "/data";
}

std::string ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

struct Outcome {
  int rc;
  std::string output;
};

class ExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    images_ = DataDir() + "/fashion_mnist/t10k-images-idx3-ubyte";
    labels_ = DataDir() + "/fashion_mnist/t10k-labels-idx1-ubyte";
    if (!std::filesystem::exists(images_)) {
      GTEST_SKIP() << "no Fashion-MNIST under " << DataDir()
                   << " (scripts/prepare_data.sh)";
    }
  }

  Outcome Command(const std::vector<std::string>& argv) {
    Subprocess run(argv, cluster_.log_dir() + "/command-" +
                             std::to_string(runs_++) + ".log");
    const int rc = run.Wait(seconds(300));
    return {rc, run.ReadLog()};
  }
  Outcome Nasctl(std::vector<std::string> args) {
    args.insert(args.begin(), {NAS_NASCTL_BINARY, "--controller",
                               cluster_.address(), "--plaintext"});
    return Command(args);
  }
  Outcome Predict(std::vector<std::string> args) {
    args.insert(args.begin(), NAS_PREDICT_BINARY);
    return Command(args);
  }

  Cluster cluster_;
  std::string images_, labels_;
  int runs_ = 0;
};

// Every whitespace-separated number of every line of `text`.
std::vector<std::vector<double>> Rows(const std::string& text) {
  std::vector<std::vector<double>> rows;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<double> row;
    for (absl::string_view field :
         absl::StrSplit(line, ' ', absl::SkipEmpty())) {
      double v;
      if (absl::SimpleAtod(field, &v)) row.push_back(v);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

TEST_F(ExportTest, BestModelReproducesItsTestAccuracyInCppAndPython) {
  ASSERT_TRUE(cluster_.StartController()) << cluster_.Logs();
  cluster_.StartWorkers(2);
  nas::v1::Search search;
  ASSERT_TRUE(RunSearchToCompletion(cluster_, ParseSpec(kSearch), &search));
  nas::v1::GetBestTrialsResponse best;
  ASSERT_TRUE(GetBestTrials(cluster_.search(), search.id(), 1, &best).ok());
  ASSERT_EQ(best.trials_size(), 1);
  const nas::v1::Trial& winner = best.trials(0);

  const std::string dir = cluster_.log_dir() + "/model";
  Outcome exported = Nasctl({"export", std::to_string(search.id()), "-o", dir});
  ASSERT_EQ(exported.rc, 0) << exported.output;
  EXPECT_TRUE(absl::StrContains(
      exported.output, absl::StrCat("exported trial ", winner.number())))
      << exported.output;

  absl::StatusOr<nas::v1::ModelManifest> manifest =
      spec::ManifestFromJson(ReadFile(dir + "/model.json"));
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->search_id(), search.id());
  EXPECT_EQ(manifest->trial_number(), winner.number());
  EXPECT_EQ(manifest->trial_kind(), nas::v1::TRIAL_KIND_TRAIN);
  EXPECT_EQ(manifest->class_names(9), "Ankle boot");
  EXPECT_EQ(manifest->architecture().text(), winner.architecture().text());
  EXPECT_TRUE(manifest->network().has_chain());
  EXPECT_EQ(manifest->metrics().test_accuracy(),
            winner.metrics().test_accuracy());
  const std::string weights = ReadFile(dir + "/weights.nastensor");
  EXPECT_EQ(hash::Sha256Hex(weights), manifest->weights().sha256());

  // The whole official test set, as the worker evaluated it after training.
  Outcome predicted = Predict({dir, images_, "--labels", labels_});
  ASSERT_EQ(predicted.rc, 0) << predicted.output;
  const size_t last = predicted.output.rfind("accuracy ");
  ASSERT_NE(last, std::string::npos) << predicted.output.substr(0, 2000);
  double accuracy = 0;
  ASSERT_TRUE(absl::SimpleAtod(
      predicted.output.substr(last + 9,
                              predicted.output.find(' ', last + 9) - last - 9),
      &accuracy));
  // Two images of 10,000: float summation order may differ on a near tie.
  EXPECT_NEAR(accuracy, winner.metrics().test_accuracy(), 2e-4)
      << predicted.output.substr(last);
  EXPECT_TRUE(absl::StrContains(predicted.output, "(10000 images)") ||
              absl::StrContains(predicted.output, "of 10000 images)"));

  // A PNG of the first test image gets the class its IDX copy got.
  Outcome first = Predict({dir, images_, "--limit", "1", "--top", "1"});
  ASSERT_EQ(first.rc, 0) << first.output;
  const std::string idx_bytes = ReadFile(images_);
  const std::string png = cluster_.log_dir() + "/first.png";
  ASSERT_NE(stbi_write_png(png.c_str(), 28, 28, 1, idx_bytes.data() + 16, 28),
            0);
  Outcome from_png = Predict({dir, png, "--top", "1"});
  ASSERT_EQ(from_png.rc, 0) << from_png.output;
  const std::string top_class = std::string(absl::StripAsciiWhitespace(
      first.output.substr(first.output.find("  ") + 2)));
  EXPECT_TRUE(absl::StrContains(from_png.output, top_class))
      << first.output << " vs " << from_png.output;

  // Python rebuilds the same network from the same files.
  Outcome cpp = Predict({dir, images_, "--limit", "64", "--logits"});
  ASSERT_EQ(cpp.rc, 0) << cpp.output;
  Outcome python = Command(
      {"/usr/bin/env", "PYTHONPATH=" NAS_SOURCE_DIR "/clients/python",
       "/usr/bin/python3", NAS_SOURCE_DIR "/clients/python/nas_client/model.py",
       dir, "--idx", images_, "--count", "64", "--logits"});
  if (python.rc != 0 &&
      absl::StrContains(python.output, "No module named 'torch'")) {
    GTEST_SKIP() << "python3-torch is not installed";
  }
  ASSERT_EQ(python.rc, 0) << python.output;
  const auto cpp_rows = Rows(cpp.output), python_rows = Rows(python.output);
  ASSERT_EQ(cpp_rows.size(), 64u) << cpp.output.substr(0, 500);
  ASSERT_EQ(python_rows.size(), 64u) << python.output.substr(0, 500);
  for (size_t i = 0; i < cpp_rows.size(); ++i) {
    ASSERT_EQ(cpp_rows[i].size(), 10u);
    ASSERT_EQ(python_rows[i].size(), 10u);
    for (size_t c = 0; c < 10; ++c) {
      EXPECT_NEAR(cpp_rows[i][c], python_rows[i][c],
                  1e-4 * (1 + std::abs(cpp_rows[i][c])))
          << "image " << i << " class " << c;
    }
  }

  // The Python example users start from: load_model, predict, ONNX.
  Outcome stubs = Command(
      {"/usr/bin/python3", NAS_SOURCE_DIR "/clients/python/generate_stubs.py"});
  ASSERT_EQ(stubs.rc, 0) << stubs.output;
  Outcome example =
      Command({"/usr/bin/env", "PYTHONPATH=" NAS_SOURCE_DIR "/clients/python",
               "/usr/bin/python3",
               NAS_SOURCE_DIR "/examples/python/use_exported_model.py", dir,
               images_, labels_});
  ASSERT_EQ(example.rc, 0) << example.output;
  EXPECT_TRUE(absl::StrContains(example.output, "image 7: ") &&
              absl::StrContains(example.output, "(label: "))
      << example.output;
  EXPECT_TRUE(absl::StrContains(example.output, "wrote " + dir + "/model.onnx"))
      << example.output;
  EXPECT_GT(ReadFile(dir + "/model.onnx").size(), 1000u);

  // A damaged weights file is refused, not used.
  std::string damaged = weights;
  damaged[damaged.size() / 2] ^= 0x55;
  std::ofstream(dir + "/weights.nastensor", std::ios::binary) << damaged;
  Outcome refused = Predict({dir, images_, "--limit", "1"});
  EXPECT_EQ(refused.rc, 1);
  EXPECT_TRUE(absl::StrContains(refused.output, "does not match"))
      << refused.output;
}

TEST_F(ExportTest, EachTrainedTrialExportsAndOthersAreRefusedWithAReason) {
  ASSERT_TRUE(cluster_.StartController()) << cluster_.Logs();
  cluster_.StartWorkers(2);
  nas::v1::Search search;
  ASSERT_TRUE(RunSearchToCompletion(cluster_, ParseSpec(kSearch), &search));
  const std::string id = std::to_string(search.id());
  for (const nas::v1::Trial& trial :
       ListAllTrialsOrFail(cluster_.search(), search.id())) {
    const std::string dir =
        absl::StrCat(cluster_.log_dir(), "/trial-", trial.number());
    Outcome run = Nasctl(
        {"export", id, "--trial", std::to_string(trial.number()), "-o", dir});
    ASSERT_EQ(run.rc, 0) << run.output;
    Outcome predicted = Predict({dir, images_, "--limit", "2"});
    EXPECT_EQ(predicted.rc, 0) << predicted.output;
  }

  Outcome missing = Nasctl(
      {"export", id, "--trial", "99", "-o", cluster_.log_dir() + "/none"});
  EXPECT_EQ(missing.rc, 1);
  EXPECT_TRUE(absl::StrContains(missing.output, "NOT_FOUND") &&
              absl::StrContains(missing.output, "has no trial 99"))
      << missing.output;
  EXPECT_FALSE(std::filesystem::exists(cluster_.log_dir() + "/none"));
  Outcome no_dir = Nasctl({"export", id});
  EXPECT_EQ(no_dir.rc, 2) << no_dir.output;

  // Table look-ups train nothing: nothing to export, and the reason says so.
  if (!std::filesystem::exists(NAS_NB201_TABLE)) return;
  cluster_.StartWorkersWith(1, {std::string("--table=") + NAS_NB201_TABLE});
  nas::v1::Search tabular;
  ASSERT_TRUE(
      RunSearchToCompletion(cluster_, ParseSpec(kTabularSearch), &tabular));
  const std::string tabular_id = std::to_string(tabular.id());
  Outcome best =
      Nasctl({"export", tabular_id, "-o", cluster_.log_dir() + "/t"});
  EXPECT_EQ(best.rc, 1);
  EXPECT_TRUE(absl::StrContains(best.output, "FAILED_PRECONDITION") &&
              absl::StrContains(best.output, "kept its weights"))
      << best.output;
  Outcome one = Nasctl(
      {"export", tabular_id, "--trial", "0", "-o", cluster_.log_dir() + "/t"});
  EXPECT_EQ(one.rc, 1);
  EXPECT_TRUE(absl::StrContains(one.output, "kept no weights")) << one.output;
}

TEST(PredictCommand, RefusesAFolderWithoutAModel) {
  Subprocess run({NAS_PREDICT_BINARY, ::testing::TempDir(), "x.png"},
                 ::testing::TempDir() + "/predict-no-model.log");
  EXPECT_EQ(run.Wait(seconds(30)), 1);
  EXPECT_TRUE(absl::StrContains(run.ReadLog(), "model.json")) << run.ReadLog();
}

}  // namespace
}  // namespace nas::testing
