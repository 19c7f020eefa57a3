#include "common/spec/early_stopping.h"

#include <string>
#include <vector>

#include "common/spec/spec_validation.h"
#include "common/spec/spec_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr const char* kBase = R"(
name: es
dataset: {name: fashion_mnist}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 20, parallelism: 2}
training: {epochs: 9}
)";

absl::StatusOr<nas::v1::SearchSpec> Parse(const std::string& extra) {
  return ParseSearchSpecYaml(std::string(kBase) + extra);
}

TEST(RungEpochsTest, GeometricBelowTheFullBudget) {
  EXPECT_THAT(RungEpochs(1, 9, 3), ElementsAre(1, 3));
  EXPECT_THAT(RungEpochs(1, 27, 3), ElementsAre(1, 3, 9));
  EXPECT_THAT(RungEpochs(2, 20, 2), ElementsAre(2, 4, 8, 16));
  EXPECT_THAT(RungEpochs(1, 10, 3), ElementsAre(1, 3, 9));
  EXPECT_THAT(RungEpochs(5, 5, 3), IsEmpty());
  EXPECT_EQ(HyperbandBrackets(1, 9, 3), 3);
  EXPECT_EQ(HyperbandBrackets(1, 27, 3), 4);
}

TEST(EarlyStoppingSpecTest, AshaDefaultsFromTraining) {
  absl::StatusOr<nas::v1::SearchSpec> spec = Parse("early_stopping: asha\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const nas::v1::AshaConfig& asha = spec->early_stopping().asha();
  EXPECT_EQ(asha.min_epochs(), 1);
  EXPECT_EQ(asha.max_epochs(), 9);
  EXPECT_EQ(asha.reduction_factor(), 3);
  EXPECT_THAT(TrialRungEpochs(*spec, 0), ElementsAre(1, 3));
  EXPECT_THAT(TrialRungEpochs(*spec, 7), ElementsAre(1, 3));
}

TEST(EarlyStoppingSpecTest, PromoteIsOffUnlessAsked) {
  absl::StatusOr<nas::v1::SearchSpec> stops = Parse("early_stopping: asha\n");
  ASSERT_TRUE(stops.ok()) << stops.status();
  EXPECT_FALSE(PromotesTrials(*stops));
  absl::StatusOr<nas::v1::SearchSpec> asha =
      Parse("early_stopping: {asha: {promote: true}}\n");
  ASSERT_TRUE(asha.ok()) << asha.status();
  EXPECT_TRUE(PromotesTrials(*asha));
  EXPECT_THAT(TrialRungEpochs(*asha, 0), ElementsAre(1, 3));
  absl::StatusOr<nas::v1::SearchSpec> hyperband =
      Parse("early_stopping: {hyperband: {promote: true}}\n");
  ASSERT_TRUE(hyperband.ok()) << hyperband.status();
  EXPECT_TRUE(PromotesTrials(*hyperband));
  absl::StatusOr<nas::v1::SearchSpec> written_off =
      Parse("early_stopping: {asha: {promote: false}}\n");
  ASSERT_TRUE(written_off.ok()) << written_off.status();
  EXPECT_FALSE(PromotesTrials(*written_off));
}

TEST(EarlyStoppingSpecTest, HyperbandBracketsByTrialNumber) {
  absl::StatusOr<nas::v1::SearchSpec> spec = Parse(
      "early_stopping: {hyperband: {min_epochs: 1, max_epochs: 9, "
      "reduction_factor: 3}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(TrialRungEpochs(*spec, 0), ElementsAre(1, 3));
  EXPECT_THAT(TrialRungEpochs(*spec, 1), ElementsAre(3));
  EXPECT_THAT(TrialRungEpochs(*spec, 2), IsEmpty());
  EXPECT_THAT(TrialRungEpochs(*spec, 3), ElementsAre(1, 3));
}

TEST(EarlyStoppingSpecTest, MedianHasNoRungs) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      Parse("early_stopping: {median: {warmup_epochs: 2}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->early_stopping().median().warmup_epochs(), 2);
  EXPECT_EQ(spec->early_stopping().median().min_trials(), 3);
  EXPECT_THAT(TrialRungEpochs(*spec, 0), IsEmpty());
}

TEST(EarlyStoppingSpecTest, ZeroWarmupWrittenIsKept) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      Parse("early_stopping: {median: {warmup_epochs: 0}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->early_stopping().median().warmup_epochs(), 0);
}

TEST(EarlyStoppingSpecTest, ErrorsNameTheField) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"early_stopping: {asha: {max_epochs: 27}}\n",
       "early_stopping.asha.max_epochs (line 9): must equal training.epochs "
       "(9)"},
      {"early_stopping: {asha: {min_epochs: 9}}\n",
       "early_stopping.asha.min_epochs (line 9): must be between 1 and 8, "
       "got 9"},
      {"early_stopping: {hyperband: {reduction_factor: 1}}\n",
       "early_stopping.hyperband.reduction_factor (line 9): must be between "
       "2 and 100, got 1"},
      {"early_stopping: {median: {warmup_epochs: 9}}\n",
       "early_stopping.median.warmup_epochs (line 9): must be between 0 and "
       "8, got 9"},
      {"early_stopping: sha\n",
       "early_stopping (line 9): unknown early_stopping \"sha\"; expected "
       "one of asha, hyperband, median"},
      {"early_stopping: {asha: {}, median: {}}\n",
       "exactly one early_stopping may be given"},
      {"early_stopping: asha\nestimation: weight_sharing\n",
       "early_stopping (line 9): with weight sharing, early stopping judges "
       "each candidate's fine-tuning epochs from its inherited weights: set "
       "estimation.weight_sharing.candidates.fine_tune.epochs"},
      {"early_stopping: {asha: {promote: true}}\nestimation: "
       "{weight_sharing: {candidates: {fine_tune: {epochs: 9}}}}\n",
       "early_stopping.asha.promote (line 9): applies "
       "to trials trained from scratch"},
      {"early_stopping: {asha: {promote: yes}}\n",
       "early_stopping.asha.promote (line 9): expected true or false"},
      {"early_stopping: {asha: {promote: \"true\"}}\n",
       "early_stopping.asha.promote (line 9): expected true or false"},
      {"early_stopping: asha\nestimation: zero_cost\n",
       "early_stopping (line 9): does not apply to zero-cost estimation"},
      {"early_stopping: {asha: {max_epochs: 9}}\nestimation: "
       "{weight_sharing: {candidates: {fine_tune: {epochs: 4}}}}\n",
       "early_stopping.asha.max_epochs (line 9): must equal "
       "estimation.weight_sharing.candidates.fine_tune.epochs (4)"},
      {"early_stopping: asha\nestimation: "
       "{weight_sharing: {candidates: {fine_tune: {epochs: 1}}}}\n",
       "early_stopping.asha (in early_stopping at line 9): needs "
       "estimation.weight_sharing.candidates.fine_tune.epochs of at least 2"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<nas::v1::SearchSpec> spec = Parse(c.yaml);
    ASSERT_FALSE(spec.ok()) << c.yaml;
    EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(spec.status().message()), HasSubstr(c.message))
        << c.yaml;
  }
}

TEST(EarlyStoppingSpecTest, WeightSharingJudgesFineTuningEpochs) {
  absl::StatusOr<nas::v1::SearchSpec> spec = Parse(
      "early_stopping: {hyperband: {reduction_factor: 2}}\n"
      "estimation:\n"
      "  weight_sharing:\n"
      "    supernet: {batch_size: 96}\n"
      "    candidates: {fine_tune: {epochs: 4}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  const nas::v1::TrainingBudget& fine_tune =
      spec->estimation().weight_sharing().candidates().fine_tune();
  EXPECT_EQ(fine_tune.epochs(), 4);
  EXPECT_EQ(fine_tune.data_fraction(), 0.1);
  EXPECT_EQ(fine_tune.learning_rate(), 0.01);
  EXPECT_EQ(fine_tune.batch_size(), 96) << "the supernet's batch";
  // The rule's budget is the fine-tuning's, not training's 9 epochs.
  EXPECT_EQ(spec->early_stopping().hyperband().max_epochs(), 4);
  EXPECT_THAT(TrialRungEpochs(*spec, 0), ElementsAre(1, 2));

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"estimation: {weight_sharing: {candidates: {fine_tune: {}}}}\n",
       "estimation.weight_sharing.candidates.fine_tune.epochs (in "
       "estimation.weight_sharing.candidates.fine_tune at line 9): required"},
      {"estimation: {weight_sharing: {candidates: {fine_tune: {epochs: 2, "
       "data_fraction: 1.5}}}}\n",
       "estimation.weight_sharing.candidates.fine_tune.data_fraction (line 9): "
       "must be in (0, 1], got 1.5"},
      {"estimation: {weight_sharing: {candidates: {fine_tune: {epochs: 2, "
       "steps: 5}}}}\n",
       "steps"},
  };
  for (const auto& [yaml, message] : bad) {
    absl::StatusOr<nas::v1::SearchSpec> refused = Parse(yaml);
    ASSERT_FALSE(refused.ok()) << yaml;
    EXPECT_THAT(std::string(refused.status().message()), HasSubstr(message))
        << yaml;
  }
}

TEST(EarlyStoppingSpecTest, ValidatesHandBuiltProtos) {
  absl::StatusOr<nas::v1::SearchSpec> spec = Parse("");
  ASSERT_TRUE(spec.ok());
  spec->mutable_early_stopping()->mutable_asha()->set_max_epochs(3);
  spec->mutable_training()->set_epochs(1);
  const absl::Status s = ValidateEarlyStopping(*spec);
  EXPECT_THAT(std::string(s.message()), HasSubstr("must equal"));
}

}  // namespace
}  // namespace nas::spec

namespace nas::spec {
namespace {

TEST(EarlyStoppingSpecTest, TheExampleParses) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecFile(NAS_EXAMPLES_DIR "/asha_fashion_mnist.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_THAT(TrialRungEpochs(*spec, 5), ElementsAre(1, 3));
  spec = ParseSearchSpecFile(NAS_EXAMPLES_DIR
                             "/weight_sharing_asha_fashion_mnist.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->early_stopping().asha().max_epochs(), 9);
  EXPECT_EQ(spec->estimation()
                .weight_sharing()
                .candidates()
                .fine_tune()
                .batch_size(),
            128);
}

}  // namespace
}  // namespace nas::spec

namespace nas::spec {
namespace {

TEST(ZeroCostSpecTest, DefaultsAndErrors) {
  absl::StatusOr<nas::v1::SearchSpec> spec = Parse("estimation: zero_cost\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->estimation().zero_cost().score(), "synflow");
  EXPECT_EQ(spec->estimation().zero_cost().batch_size(), 64);
  EXPECT_EQ(spec->estimation().zero_cost().train_top_k(), 3);
  spec = Parse("estimation: {zero_cost: {score: naswot, train_top_k: 2}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->estimation().zero_cost().score(), "naswot");
  EXPECT_EQ(spec->estimation().zero_cost().train_top_k(), 2);

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"estimation: {zero_cost: {score: snip}}\n",
       "estimation.zero_cost.score (line 9): unknown score \"snip\"; expected "
       "one of synflow, naswot, grad_norm, params, flops"},
      {"estimation: {zero_cost: {train_top_k: 21}}\n",
       "estimation.zero_cost.train_top_k (line 9): must be between 1 and 20, "
       "got 21"},
      {"estimation: {zero_cost: {batch_size: 1}}\n",
       "estimation.zero_cost.batch_size (line 9): must be between 2 and 1024, "
       "got 1"},
      {"estimation: {zero_cost: {scores: synflow}}\n", "scores"},
  };
  for (const auto& [yaml, message] : cases) {
    absl::StatusOr<nas::v1::SearchSpec> bad = Parse(yaml);
    ASSERT_FALSE(bad.ok()) << yaml;
    EXPECT_THAT(std::string(bad.status().message()), HasSubstr(message))
        << yaml;
  }
}

}  // namespace
}  // namespace nas::spec

namespace nas::spec {
namespace {

TEST(ZeroCostSpecTest, TheExampleParses) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecFile(NAS_EXAMPLES_DIR "/zero_cost_fashion_mnist.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->estimation().zero_cost().score(), "grad_norm");
  EXPECT_EQ(spec->estimation().zero_cost().train_top_k(), 3);
}

}  // namespace
}  // namespace nas::spec
