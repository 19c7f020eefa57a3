#include "worker/tabular_estimator.h"

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace nas::worker {
namespace {

constexpr char kOptimum[] =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
    "nor_conv_3x3~1|nor_conv_1x1~2|";
// Op indices in the default (full) op list: none, skip_connect,
// nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
const std::vector<int> kOptimumChoices = {3, 3, 3, 1, 3, 2};

constexpr char kAllConv3[] =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
    "nor_conv_3x3~1|nor_conv_3x3~2|";
constexpr char kAllSkip[] =
    "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|"
    "skip_connect~1|skip_connect~2|";

// Writes `text` to a fresh file under the test's temporary folder.
std::string WriteTable(const std::string& name, const std::string& text) {
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/tabular_", name, ".csv");
  std::ofstream(path) << text;
  return path;
}

std::string SmallTable() {
  return absl::StrCat("arch,cifar10_test_acc_200ep\n", kOptimum, ",94.3733\n",
                      kAllConv3, ",93.5\n", kAllSkip, ",10.25\n");
}

std::unique_ptr<TabularEstimator> LoadOrDie(const std::string& path,
                                            double sigma = 0) {
  auto estimator = TabularEstimator::Load(path, sigma);
  EXPECT_TRUE(estimator.ok()) << estimator.status();
  return estimator.ok() ? std::move(*estimator) : nullptr;
}

nas::v1::TrialAssignment Nb201Assignment(const std::vector<int>& choices,
                                         uint64_t seed = 1) {
  nas::v1::TrialAssignment a;
  a.set_trial_id(7);
  a.set_seed(seed);
  a.mutable_dataset()->set_name(nas::v1::DATASET_NAME_CIFAR10);
  a.mutable_space()->mutable_nb201();  // all defaults: the benchmark's space
  for (int c : choices) a.mutable_architecture()->add_choices(c);
  return a;
}

const ProgressFn kContinue = [](const nas::v1::EpochMetrics&) { return true; };

TEST(TabularEstimator, LooksUpExactAccuracies) {
  auto estimator = LoadOrDie(WriteTable("small", SmallTable()));
  ASSERT_NE(estimator, nullptr);
  EXPECT_EQ(estimator->size(), 3u);
  EXPECT_EQ(estimator->Lookup(kAllConv3), 93.5);
  EXPECT_FALSE(
      estimator->Lookup("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"));

  std::vector<nas::v1::EpochMetrics> epochs;
  auto evaluation = estimator->Evaluate(Nb201Assignment(kOptimumChoices),
                                        [&](const nas::v1::EpochMetrics& m) {
                                          epochs.push_back(m);
                                          return true;
                                        });
  ASSERT_TRUE(evaluation.ok()) << evaluation.status();
  EXPECT_FALSE(evaluation->stopped);
  const nas::v1::TrialMetrics& m = evaluation->metrics;
  EXPECT_DOUBLE_EQ(m.val_accuracy(), 0.943733);
  EXPECT_DOUBLE_EQ(m.test_accuracy(), 0.943733);
  EXPECT_GT(m.params(), 0);
  EXPECT_GT(m.flops(), m.params());
  // Not measured: unset (NULL in the store), not 0.
  EXPECT_FALSE(m.has_latency_ms());
  EXPECT_FALSE(m.has_val_loss());
  EXPECT_FALSE(m.has_test_loss());
  EXPECT_TRUE(m.has_train_seconds());
  EXPECT_GE(m.train_seconds(), 0);
  EXPECT_LT(m.train_seconds(), 1);
  ASSERT_EQ(epochs.size(), 1u);
  EXPECT_EQ(epochs[0].epoch(), 1);
  EXPECT_DOUBLE_EQ(epochs[0].val_accuracy(), 0.943733);
}

TEST(TabularEstimator, MapsChoicesThroughTheSpacesOpSubset) {
  auto estimator = LoadOrDie(WriteTable("subset", SmallTable()));
  ASSERT_NE(estimator, nullptr);
  nas::v1::TrialAssignment a = Nb201Assignment({1, 1, 1, 1, 1, 1});
  a.mutable_space()->mutable_nb201()->add_ops("nor_conv_1x1");
  a.mutable_space()->mutable_nb201()->add_ops("skip_connect");
  auto evaluation = estimator->Evaluate(a, kContinue);
  ASSERT_TRUE(evaluation.ok()) << evaluation.status();
  EXPECT_DOUBLE_EQ(evaluation->metrics.test_accuracy(), 0.1025);
}

TEST(TabularEstimator, ParamsAndFlopsFollowTheSpacesNetwork) {
  auto estimator = LoadOrDie(WriteTable("size", SmallTable()));
  ASSERT_NE(estimator, nullptr);
  nas::v1::TrialAssignment conv = Nb201Assignment({3, 3, 3, 3, 3, 3});
  nas::v1::TrialAssignment skip = Nb201Assignment({1, 1, 1, 1, 1, 1});
  auto conv_eval = estimator->Evaluate(conv, kContinue);
  auto skip_eval = estimator->Evaluate(skip, kContinue);
  ASSERT_TRUE(conv_eval.ok() && skip_eval.ok());
  EXPECT_GT(conv_eval->metrics.params(), skip_eval->metrics.params());
  EXPECT_GT(conv_eval->metrics.flops(), skip_eval->metrics.flops());
  // MNIST images are smaller: fewer multiply-accumulates, same accuracy.
  conv.mutable_dataset()->set_name(nas::v1::DATASET_NAME_MNIST);
  auto mnist_eval = estimator->Evaluate(conv, kContinue);
  ASSERT_TRUE(mnist_eval.ok());
  EXPECT_LT(mnist_eval->metrics.flops(), conv_eval->metrics.flops());
  EXPECT_EQ(mnist_eval->metrics.test_accuracy(),
            conv_eval->metrics.test_accuracy());
}

TEST(TabularEstimator, UnknownArchitectureIsNotFound) {
  auto estimator = LoadOrDie(WriteTable("unknown", SmallTable()));
  ASSERT_NE(estimator, nullptr);
  auto evaluation =
      estimator->Evaluate(Nb201Assignment({0, 0, 0, 0, 0, 0}), kContinue);
  ASSERT_FALSE(evaluation.ok());
  EXPECT_EQ(evaluation.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(evaluation.status().message().find(
                "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"),
            std::string::npos)
      << evaluation.status();
}

TEST(TabularEstimator, ChoicesOutsideTheSpaceAreInvalid) {
  auto estimator = LoadOrDie(WriteTable("range", SmallTable()));
  ASSERT_NE(estimator, nullptr);
  auto evaluation =
      estimator->Evaluate(Nb201Assignment({3, 3, 3, 9, 3, 3}), kContinue);
  EXPECT_EQ(evaluation.status().code(), absl::StatusCode::kInvalidArgument);
  evaluation = estimator->Evaluate(Nb201Assignment({3, 3}), kContinue);
  EXPECT_EQ(evaluation.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TabularEstimator, RefusesSpacesOtherThanNb201) {
  auto estimator = LoadOrDie(WriteTable("chain", SmallTable()));
  ASSERT_NE(estimator, nullptr);
  nas::v1::TrialAssignment a;
  nas::v1::ChainStage* stage = a.mutable_space()->mutable_chain()->add_stages();
  stage->add_depths(1);
  stage->add_widths(8);
  stage->add_ops("conv3x3");
  a.mutable_architecture()->add_choices(0);
  bool called = false;
  auto evaluation = estimator->Evaluate(a, [&](const nas::v1::EpochMetrics&) {
    called = true;
    return true;
  });
  ASSERT_FALSE(evaluation.ok());
  EXPECT_EQ(evaluation.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(evaluation.status().message(),
            "the tabular estimator only knows the NAS-Bench-201 cell space");
  EXPECT_FALSE(called);
}

TEST(TabularEstimator, StopsWhenTheProgressCallbackSaysSo) {
  auto estimator = LoadOrDie(WriteTable("stop", SmallTable()));
  ASSERT_NE(estimator, nullptr);
  int calls = 0;
  auto evaluation = estimator->Evaluate(Nb201Assignment(kOptimumChoices),
                                        [&](const nas::v1::EpochMetrics&) {
                                          ++calls;
                                          return false;
                                        });
  ASSERT_TRUE(evaluation.ok()) << evaluation.status();
  EXPECT_TRUE(evaluation->stopped);
  EXPECT_EQ(calls, 1);
}

// Each malformed table is refused with the offending line's number.
TEST(TabularEstimator, MalformedTablesNameTheLine) {
  const std::string header = "arch,cifar10_test_acc_200ep\n";
  struct Case {
    std::string name;
    std::string text;
    std::string expected;  // a substring of the message
  };
  const std::vector<Case> cases = {
      {"header", "arch,acc\n" + absl::StrCat(kAllSkip, ",10\n"),
       ":1: expected the header"},
      {"empty", "", ":1: empty file"},
      {"no_rows", header, ":1: the table has no rows"},
      {"fields", header + absl::StrCat(kAllSkip, ",10\n", kAllConv3, ",93,1\n"),
       ":3: expected 2 comma-separated fields, got 3"},
      {"missing_accuracy", header + absl::StrCat(kAllSkip, "\n"),
       ":2: expected 2 comma-separated fields, got 1"},
      {"bad_string", header + "|skip_connect~0|+|conv~0|,50\n",
       ":2: bad NAS-Bench-201 string"},
      {"unknown_op",
       header + "|conv9~0|+|none~0|none~1|+|none~0|none~1|none~2|,50\n",
       ":2: bad NAS-Bench-201 string: node 1: unknown op \"conv9\""},
      {"not_a_number", header + absl::StrCat(kAllSkip, ",ten\n"),
       ":2: accuracy \"ten\" is not a percentage in [0, 100]"},
      {"above_100",
       header + absl::StrCat(kAllConv3, ",93\n", kAllSkip, ",100.5\n"),
       ":3: accuracy \"100.5\" is not a percentage"},
      {"negative", header + absl::StrCat(kAllSkip, ",-1\n"),
       ":2: accuracy \"-1\" is not a percentage"},
      {"nan", header + absl::StrCat(kAllSkip, ",nan\n"),
       ":2: accuracy \"nan\" is not a percentage"},
      {"duplicate",
       header + absl::StrCat(kAllSkip, ",10\n", kAllConv3, ",93\n", kAllSkip,
                             ",11\n"),
       ":4: duplicate architecture"},
  };
  for (const Case& c : cases) {
    const std::string path = WriteTable("bad_" + c.name, c.text);
    auto estimator = TabularEstimator::Load(path);
    ASSERT_FALSE(estimator.ok()) << c.name;
    EXPECT_EQ(estimator.status().code(), absl::StatusCode::kInvalidArgument)
        << c.name;
    EXPECT_NE(estimator.status().message().find(path + c.expected),
              std::string::npos)
        << c.name << ": " << estimator.status();
  }
}

TEST(TabularEstimator, AcceptsCrlfAndBlankLines) {
  auto estimator = LoadOrDie(WriteTable(
      "crlf", absl::StrCat("arch,cifar10_test_acc_200ep\r\n", kAllSkip,
                           ",10.5\r\n\r\n", kAllConv3, ",93\r\n")));
  ASSERT_NE(estimator, nullptr);
  EXPECT_EQ(estimator->size(), 2u);
  EXPECT_EQ(estimator->Lookup(kAllSkip), 10.5);
}

TEST(TabularEstimator, MissingFileAndBadSigmaAreRefused) {
  EXPECT_EQ(TabularEstimator::Load(::testing::TempDir() + "/no_such_table.csv")
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  const std::string path = WriteTable("sigma", SmallTable());
  EXPECT_EQ(TabularEstimator::Load(path, -0.5).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(TabularEstimator::Load(path, std::nan("")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TabularEstimator, NoiseHasTheRequestedMeanAndSpread) {
  constexpr double kSigma = 0.5;
  auto estimator = LoadOrDie(WriteTable("noise", SmallTable()), kSigma);
  ASSERT_NE(estimator, nullptr);
  constexpr int kDraws = 20000;
  double sum = 0, sum_squares = 0;
  int within_one_sigma = 0;
  for (uint64_t seed = 0; seed < kDraws; ++seed) {
    const double noise = estimator->NoisyAccuracy(50, seed) - 50;
    sum += noise;
    sum_squares += noise * noise;
    within_one_sigma += std::abs(noise) < kSigma;
  }
  const double mean = sum / kDraws;
  const double stddev = std::sqrt(sum_squares / kDraws - mean * mean);
  // Standard errors: sigma / sqrt(n) = 0.0035 for the mean, about
  // sigma / sqrt(2n) = 0.0025 for the standard deviation; 5 of each.
  EXPECT_NEAR(mean, 0, 0.018);
  EXPECT_NEAR(stddev, kSigma, 0.0125);
  // Normal, not merely the right variance: 68.3% within one sigma.
  EXPECT_NEAR(within_one_sigma / static_cast<double>(kDraws), 0.6827, 0.017);
}

TEST(TabularEstimator, NoiseIsDeterministicPerTrialSeed) {
  auto estimator = LoadOrDie(WriteTable("seeded", SmallTable()), 0.5);
  ASSERT_NE(estimator, nullptr);
  auto evaluate = [&](uint64_t seed) {
    auto evaluation =
        estimator->Evaluate(Nb201Assignment(kOptimumChoices, seed), kContinue);
    EXPECT_TRUE(evaluation.ok()) << evaluation.status();
    return evaluation.ok() ? evaluation->metrics : nas::v1::TrialMetrics();
  };
  const nas::v1::TrialMetrics first = evaluate(42);
  const nas::v1::TrialMetrics retry = evaluate(42);
  const nas::v1::TrialMetrics other = evaluate(43);
  EXPECT_EQ(first.val_accuracy(), retry.val_accuracy());
  EXPECT_NE(first.val_accuracy(), other.val_accuracy());
  EXPECT_NE(first.val_accuracy(), 0.943733);
  // The test accuracy is the table's, without noise.
  EXPECT_DOUBLE_EQ(first.test_accuracy(), 0.943733);
  EXPECT_DOUBLE_EQ(other.test_accuracy(), 0.943733);
  // A second worker that loaded the same table agrees.
  auto twin = LoadOrDie(WriteTable("seeded_twin", SmallTable()), 0.5);
  ASSERT_NE(twin, nullptr);
  EXPECT_DOUBLE_EQ(twin->NoisyAccuracy(94.3733, 42) / 100,
                   first.val_accuracy());
}

TEST(TabularEstimator, NoisyAccuracyStaysAPercentage) {
  auto estimator = LoadOrDie(WriteTable("clamp", SmallTable()), 5);
  ASSERT_NE(estimator, nullptr);
  int at_top = 0, at_bottom = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const double high = estimator->NoisyAccuracy(99.5, seed);
    const double low = estimator->NoisyAccuracy(0.5, seed);
    ASSERT_GE(high, 0);
    ASSERT_LE(high, 100);
    ASSERT_GE(low, 0);
    ASSERT_LE(low, 100);
    at_top += high == 100;
    at_bottom += low == 0;
  }
  // About 46% of draws exceed +0.5 / 5 = 0.1 sigma.
  EXPECT_GT(at_top, 700);
  EXPECT_GT(at_bottom, 700);
}

TEST(TabularEstimator, RealTableHasEveryCellAndTheOptimum) {
  const std::string path = NAS_NB201_TABLE;
  if (!std::ifstream(path)) GTEST_SKIP() << "no table at " << path;
  auto estimator = LoadOrDie(path);
  ASSERT_NE(estimator, nullptr);
  EXPECT_EQ(estimator->size(), 15625u);
  ASSERT_TRUE(estimator->Lookup(kOptimum).has_value());
  EXPECT_NEAR(*estimator->Lookup(kOptimum), 94.37, 0.005);
  auto evaluation =
      estimator->Evaluate(Nb201Assignment(kOptimumChoices), kContinue);
  ASSERT_TRUE(evaluation.ok()) << evaluation.status();
  EXPECT_NEAR(evaluation->metrics.test_accuracy(), 0.9437, 0.00005);
  // Every cell of the full space is in the table.
  int missing = 0;
  for (int code = 0; code < 15625; ++code) {
    std::vector<int> choices;
    for (int e = 0, rest = code; e < 6; ++e, rest /= 5)
      choices.push_back(rest % 5);
    missing += !estimator->Evaluate(Nb201Assignment(choices), kContinue).ok();
  }
  EXPECT_EQ(missing, 0);
}

}  // namespace
}  // namespace nas::worker
