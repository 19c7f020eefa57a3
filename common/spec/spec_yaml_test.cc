#include "common/spec/spec_yaml.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace nas::spec {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// A minimal valid spec, one section per line so that line N is section N.
const std::vector<std::pair<std::string, std::string>>& BaseSections() {
  static const auto* const sections =
      new std::vector<std::pair<std::string, std::string>>{
          {"name", "name: t"},
          {"dataset", "dataset: {name: mnist}"},
          {"space",
           "space: {chain: {stages: [{depths: [1, 2], widths: [8, 16], ops: "
           "[conv3x3, skip], stride: 2}]}}"},
          {"strategy", "strategy: random"},
          {"objectives",
           "objectives: [{metric: val_accuracy, direction: maximize}]"},
          {"budget", "budget: {max_trials: 4}"},
          {"training", "training: {epochs: 1}"},
      };
  return *sections;
}

// The base spec with some sections replaced ("" drops a section) and extra
// lines appended after line 7.
std::string Spec(const std::map<std::string, std::string>& replace,
                 const std::vector<std::string>& extra = {}) {
  std::vector<std::string> lines;
  for (const auto& [key, line] : BaseSections()) {
    auto it = replace.find(key);
    // A dropped section leaves a comment so line numbers do not move.
    lines.push_back(it == replace.end()  ? line
                    : it->second.empty() ? "# dropped"
                                         : it->second);
  }
  lines.insert(lines.end(), extra.begin(), extra.end());
  return absl::StrJoin(lines, "\n") + "\n";
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/nas_spec_test_",
                      getpid(), "_", name);
}

TEST(SpecYamlTest, ParsesTheDemoExample) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecFile(NAS_EXAMPLES_DIR "/demo_fashion_mnist_from_scratch.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name(), "fashion-demo");
  EXPECT_EQ(spec->seed(), 7u);
  EXPECT_EQ(spec->dataset().name(), nas::v1::DATASET_NAME_FASHION_MNIST);
  EXPECT_DOUBLE_EQ(spec->dataset().validation_fraction(), 0.1);
  ASSERT_TRUE(spec->space().has_chain());
  const nas::v1::ChainSpace& chain = spec->space().chain();
  EXPECT_EQ(chain.stem_channels(), 16);
  ASSERT_EQ(chain.stages_size(), 2);
  EXPECT_THAT(chain.stages(1).depths(), ::testing::ElementsAre(1, 2, 3));
  EXPECT_THAT(chain.stages(1).widths(), ::testing::ElementsAre(32, 48));
  EXPECT_THAT(chain.stages(1).ops(),
              ::testing::ElementsAre("conv3x3", "ir_k3_e3", "ir_k3_e6",
                                     "ir_k5_e6", "skip"));
  EXPECT_EQ(chain.stages(0).stride(), 2);
  EXPECT_TRUE(spec->strategy().has_random());
  ASSERT_EQ(spec->objectives_size(), 1);
  EXPECT_EQ(spec->objectives(0).metric(), "val_accuracy");
  EXPECT_EQ(spec->objectives(0).direction(), nas::v1::DIRECTION_MAXIMIZE);
  EXPECT_EQ(spec->budget().max_trials(), 8);
  EXPECT_EQ(spec->budget().parallelism(), 2);
  EXPECT_EQ(spec->budget().max_attempts(), 3);
  EXPECT_EQ(spec->training().epochs(), 2);
  EXPECT_DOUBLE_EQ(spec->training().data_fraction(), 1.0);
  EXPECT_EQ(spec->training().batch_size(), 128);
  EXPECT_DOUBLE_EQ(spec->training().learning_rate(), 0.05);
}

TEST(SpecYamlTest, ParsesTheWeightSharingDemo) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecFile(NAS_EXAMPLES_DIR "/demo_fashion_mnist.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->estimation().has_weight_sharing());
  const nas::v1::WeightSharingConfig& ws = spec->estimation().weight_sharing();
  EXPECT_EQ(ws.supernet().rounds(), 5);
  EXPECT_EQ(ws.supernet().shards_per_round(), 2);
  EXPECT_EQ(ws.supernet().steps_per_shard(), 0);
  EXPECT_EQ(ws.candidates().bn_recalibration_batches(), 8);
  EXPECT_EQ(ws.candidates().max_validation_images(), 2000);
  EXPECT_EQ(ws.retrain_top_k(), 2);
  EXPECT_EQ(spec->budget().max_trials(), 200);
}

TEST(SpecYamlTest, ParsesTheNb201Example) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecFile(NAS_EXAMPLES_DIR "/nb201_mnist_small.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->space().has_nb201());
  EXPECT_EQ(spec->space().nb201().channels(), 8);
  EXPECT_EQ(spec->space().nb201().cells_per_stage(), 1);
  EXPECT_EQ(spec->space().nb201().ops_size(), 5);
  EXPECT_EQ(spec->dataset().name(), nas::v1::DATASET_NAME_MNIST);
  EXPECT_DOUBLE_EQ(spec->dataset().validation_fraction(), 0.1);  // default
  EXPECT_EQ(spec->budget().max_attempts(), 3);                   // default
  ASSERT_EQ(spec->objectives_size(), 2);
  EXPECT_EQ(spec->objectives(1).direction(), nas::v1::DIRECTION_MINIMIZE);
}

TEST(SpecYamlTest, ParsesConstraints) {
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(
      Spec({}, {"constraints: [\"latency_ms <= 5\", \"params<=1e6\", "
                "\"val_accuracy >= 0.25\"]"}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_EQ(spec->constraints_size(), 3);
  EXPECT_EQ(spec->constraints(0).metric(), "latency_ms");
  EXPECT_EQ(spec->constraints(0).op(), nas::v1::COMPARISON_LESS_EQUAL);
  EXPECT_DOUBLE_EQ(spec->constraints(0).bound(), 5);
  EXPECT_EQ(spec->constraints(1).metric(), "params");
  EXPECT_DOUBLE_EQ(spec->constraints(1).bound(), 1e6);
  EXPECT_EQ(spec->constraints(2).op(), nas::v1::COMPARISON_GREATER_EQUAL);
  EXPECT_DOUBLE_EQ(spec->constraints(2).bound(), 0.25);
}

TEST(SpecYamlTest, ParsesTheMultiObjectiveExample) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecFile(NAS_EXAMPLES_DIR "/multi_objective.yaml");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->objectives_size(), 2);
  EXPECT_EQ(spec->constraints_size(), 2);
}

TEST(SpecYamlTest, FillsDefaults) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecYaml(Spec({{"space", "space: {nb201: }"}}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->space().nb201().channels(), 16);
  EXPECT_EQ(spec->space().nb201().cells_per_stage(), 5);
  EXPECT_EQ(spec->space().nb201().ops_size(), 5);
  EXPECT_EQ(spec->budget().parallelism(), 1);
  EXPECT_EQ(spec->budget().max_attempts(), 3);
  EXPECT_EQ(spec->training().batch_size(), 128);
  EXPECT_DOUBLE_EQ(spec->training().data_fraction(), 1.0);
  EXPECT_DOUBLE_EQ(spec->training().learning_rate(), 0.05);
  EXPECT_EQ(spec->seed(), 0u);
}

TEST(SpecYamlTest, WeightSharingGetsDefaultsAndKeepsWhatIsWritten) {
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(
      Spec({}, {"estimation:", "  weight_sharing:",
                "    supernet: {rounds: 2, steps_per_shard: 50, momentum: 0}",
                "    candidates: {bn_recalibration_batches: 5}",
                "    retrain_top_k: 2"}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  const nas::v1::WeightSharingConfig& ws = spec->estimation().weight_sharing();
  EXPECT_EQ(ws.supernet().rounds(), 2);
  EXPECT_EQ(ws.supernet().shards_per_round(), 4);
  EXPECT_EQ(ws.supernet().steps_per_shard(), 50);
  EXPECT_EQ(ws.supernet().batch_size(), 128);
  EXPECT_DOUBLE_EQ(ws.supernet().learning_rate(), 0.05);
  EXPECT_DOUBLE_EQ(ws.supernet().momentum(), 0);  // written: no momentum
  EXPECT_DOUBLE_EQ(ws.supernet().weight_decay(), 5e-4);
  EXPECT_EQ(ws.candidates().bn_recalibration_batches(), 5);
  EXPECT_EQ(ws.retrain_top_k(), 2);

  absl::StatusOr<nas::v1::SearchSpec> shorthand =
      ParseSearchSpecYaml(Spec({}, {"estimation: weight_sharing"}));
  ASSERT_TRUE(shorthand.ok()) << shorthand.status();
  EXPECT_EQ(shorthand->estimation().weight_sharing().supernet().rounds(), 8);
  EXPECT_EQ(shorthand->estimation().weight_sharing().retrain_top_k(), 3);

  absl::StatusOr<nas::v1::SearchSpec> scratch =
      ParseSearchSpecYaml(Spec({}, {"estimation: from_scratch"}));
  ASSERT_TRUE(scratch.ok()) << scratch.status();
  EXPECT_TRUE(scratch->estimation().has_from_scratch());
}

TEST(SpecYamlTest, StrategyShorthandEqualsMapping) {
  absl::StatusOr<nas::v1::SearchSpec> shorthand = ParseSearchSpecYaml(Spec({}));
  absl::StatusOr<nas::v1::SearchSpec> mapping =
      ParseSearchSpecYaml(Spec({{"strategy", "strategy: {random: {}}"}}));
  absl::StatusOr<nas::v1::SearchSpec> bare =
      ParseSearchSpecYaml(Spec({{"strategy", "strategy: {random: }"}}));
  ASSERT_TRUE(shorthand.ok()) << shorthand.status();
  ASSERT_TRUE(mapping.ok()) << mapping.status();
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_EQ(shorthand->SerializeAsString(), mapping->SerializeAsString());
  EXPECT_EQ(shorthand->SerializeAsString(), bare->SerializeAsString());
}

TEST(SpecYamlTest, ParsesEveryStrategy) {
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(
      Spec({{"strategy",
             "strategy: {evolution: {population_size: 30, sample_size: 4}}"}}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->strategy().evolution().population_size(), 30);
  EXPECT_EQ(spec->strategy().evolution().sample_size(), 4);

  spec = ParseSearchSpecYaml(
      Spec({{"strategy",
             "strategy: {reinforce: {learning_rate: 0.1, entropy_weight: -1, "
             "baseline_decay: 0.8}}"}}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_DOUBLE_EQ(spec->strategy().reinforce().learning_rate(), 0.1);
  EXPECT_DOUBLE_EQ(spec->strategy().reinforce().entropy_weight(), -1);
  EXPECT_DOUBLE_EQ(spec->strategy().reinforce().baseline_decay(), 0.8);

  spec = ParseSearchSpecYaml(
      Spec({{"strategy",
             "strategy: {gp_bayes_opt: {initial_random_trials: 5, max_train: "
             "50}}"}}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->strategy().gp_bayes_opt().initial_random_trials(), 5);
  EXPECT_EQ(spec->strategy().gp_bayes_opt().max_train(), 50);

  // The shorthand works for every strategy; its options take their defaults.
  for (const char* name :
       {"random", "evolution", "reinforce", "gp_bayes_opt", "local_search"}) {
    spec = ParseSearchSpecYaml(
        Spec({{"strategy", absl::StrCat("strategy: ", name)}}));
    ASSERT_TRUE(spec.ok()) << name << ": " << spec.status();
    const google::protobuf::FieldDescriptor* field =
        nas::v1::StrategySpec::descriptor()->FindFieldByName(name);
    ASSERT_NE(field, nullptr) << name;
    EXPECT_EQ(spec->strategy().kind_case(), field->number()) << name;
  }
  spec =
      ParseSearchSpecYaml(Spec({{"strategy", "strategy: {local_search: }"}}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_TRUE(spec->strategy().has_local_search());
}

TEST(SpecYamlTest, AcceptsYamlNumberForms) {
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(
      Spec({{"training",
             "training: {epochs: +3, learning_rate: 1e-2, data_fraction: .5}"}},
           {"seed: 18446744073709551615"}));
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->training().epochs(), 3);
  EXPECT_DOUBLE_EQ(spec->training().learning_rate(), 0.01);
  EXPECT_DOUBLE_EQ(spec->training().data_fraction(), 0.5);
  EXPECT_EQ(spec->seed(), 18446744073709551615u);
}

// One mistake, and the start of the message it must give: the path, then
// the line, then the reason.
struct Mistake {
  std::string label;
  std::string yaml;
  std::string expected_prefix;
};

void PrintTo(const Mistake& mistake, std::ostream* os) { *os << mistake.label; }

class SpecYamlMistakeTest : public ::testing::TestWithParam<Mistake> {};

TEST_P(SpecYamlMistakeTest, IsInvalidArgumentNamingThePath) {
  const Mistake& mistake = GetParam();
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(mistake.yaml);
  ASSERT_FALSE(spec.ok()) << mistake.yaml;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              StartsWith(mistake.expected_prefix))
      << mistake.yaml;
}

std::string Stage(const std::string& fields) {
  return absl::StrCat("space: {chain: {stages: [{", fields, "}]}}");
}
const char kGoodStage[] =
    "depths: [1, 2], widths: [8, 16], ops: [conv3x3, skip]";

const std::vector<Mistake>& YamlMistakes() {
  static const auto* const kMistakes = new std::vector<Mistake>{
      // Ops and choice lists.
      Mistake{
          "unknown_chain_op",
          Spec({{"space",
                 Stage("depths: [1], widths: [8], ops: [conv3x3, conv9x9]")}}),
          "space.chain.stages[0].ops[1] (line 3): unknown op \"conv9x9\"; "
          "expected one of conv3x3, conv5x5"},
      Mistake{"unknown_nb201_op",
              Spec({{"space", "space: {nb201: {ops: [none, conv3x3]}}"}}),
              "space.nb201.ops[1] (line 3): unknown op \"conv3x3\""},
      // Estimation.
      Mistake{"unknown_estimation", Spec({}, {"estimation: supernet"}),
              "estimation (line 8): unknown estimation \"supernet\"; "
              "expected from_scratch, weight_sharing or zero_cost"},
      Mistake{"two_estimations",
              Spec({}, {"estimation: {from_scratch: {}, weight_sharing: {}}"}),
              "estimation (line 8): exactly one estimation may be given"},
      Mistake{"unknown_supernet_key",
              Spec({}, {"estimation: {weight_sharing: {supernet: {epochs: 8}}}"}),
              "estimation.weight_sharing.supernet.epochs (line 8): unknown"},
      Mistake{"zero_rounds",
              Spec({}, {"estimation: {weight_sharing: {supernet: {rounds: 0}}}"}),
              "estimation.weight_sharing.supernet.rounds (line 8): must be "
              "between 1 and 1000, got 0"},
      Mistake{"top_k_over_max_trials",
              Spec({}, {"estimation: {weight_sharing: {retrain_top_k: 5}}"}),
              "estimation.weight_sharing.retrain_top_k (line 8): must be "
              "between 1 and 4, got 5"},
      Mistake{"momentum_one",
              Spec({}, {"estimation: {weight_sharing: {supernet: {momentum: 1}}}"}),
              "estimation.weight_sharing.supernet.momentum (line 8): must be "
              "below 1"},
      Mistake{"empty_depths",
              Spec({{"space", Stage("depths: [], widths: [8], ops: [skip]")}}),
              "space.chain.stages[0].depths (line 3): must list at least one "
              "depth"},
      Mistake{"empty_widths",
              Spec({{"space", Stage("depths: [1], widths: [], ops: [skip]")}}),
              "space.chain.stages[0].widths (line 3): must list at least one "
              "width"},
      Mistake{"empty_chain_ops",
              Spec({{"space", Stage("depths: [1], widths: [8], ops: []")}}),
              "space.chain.stages[0].ops (line 3): must list at least one op"},
      Mistake{"missing_chain_ops",
              Spec({{"space", Stage("depths: [1], widths: [8]")}}),
              "space.chain.stages[0].ops (in space.chain.stages[0] at line 3): "
              "must list"},
      Mistake{"empty_nb201_ops", Spec({{"space", "space: {nb201: {ops: []}}"}}),
              "space.nb201.ops (line 3): must list at least one op"},
      Mistake{"empty_stages", Spec({{"space", "space: {chain: {stages: []}}"}}),
              "space.chain.stages (line 3): must list at least one stage"},
      Mistake{
          "duplicate_op",
          Spec({{"space",
                 Stage(
                     "depths: [1], widths: [8], ops: [skip, conv3x3, skip]")}}),
          "space.chain.stages[0].ops[2] (line 3): duplicate op \"skip\" (also "
          "at index 0)"},
      Mistake{"duplicate_nb201_op",
              Spec({{"space", "space: {nb201: {ops: [none, none]}}"}}),
              "space.nb201.ops[1] (line 3): duplicate op"},
      Mistake{
          "duplicate_depth",
          Spec({{"space", Stage("depths: [2, 2], widths: [8], ops: [skip]")}}),
          "space.chain.stages[0].depths[1] (line 3): duplicate depth 2"},
      Mistake{"duplicate_width",
              Spec({{"space",
                     Stage("depths: [1], widths: [8, 16, 8], ops: [skip]")}}),
              "space.chain.stages[0].widths[2] (line 3): duplicate width 8"},
      Mistake{
          "depth_too_big",
          Spec({{"space", Stage("depths: [33], widths: [8], ops: [skip]")}}),
          "space.chain.stages[0].depths[0] (line 3): must be between 1 and 32, "
          "got 33"},
      Mistake{"width_zero",
              Spec({{"space", Stage("depths: [1], widths: [0], ops: [skip]")}}),
              "space.chain.stages[0].widths[0] (line 3): must be between 1 and "
              "4096, got 0"},
      Mistake{"stride_three",
              Spec({{"space", Stage(absl::StrCat(kGoodStage, ", stride: 3"))}}),
              "space.chain.stages[0].stride (line 3): must be 1 or 2, got 3"},
      Mistake{"stride_zero_written",
              Spec({{"space", Stage(absl::StrCat(kGoodStage, ", stride: 0"))}}),
              "space.chain.stages[0].stride (line 3): must be 1 or 2, got 0"},
      Mistake{
          "nb201_channels_zero_written",
          Spec({{"space", "space: {nb201: {channels: 0}}"}}),
          "space.nb201.channels (line 3): must be between 1 and 1024, got 0"},
      Mistake{"nb201_cells_absurd",
              Spec({{"space", "space: {nb201: {cells_per_stage: 100}}"}}),
              "space.nb201.cells_per_stage (line 3): must be between 1 and 32, "
              "got 100"},
      Mistake{"stem_channels_negative",
              Spec({{"space", "space: {chain: {stem_channels: -1}}"}}),
              "space.chain.stem_channels (line 3): must be between 1 and 1024, "
              "got -1"},
      // Space kind.
      Mistake{
          "both_kinds", Spec({{"space", "space: {nb201: {}, chain: {}}"}}),
          "space (line 3): exactly one of nb201, chain may be given, got both"},
      Mistake{"neither_kind", Spec({{"space", "space: {}"}}),
              "space (line 3): required; set exactly one of nb201, chain"},
      Mistake{"no_space", Spec({{"space", ""}}), "space: required"},
      Mistake{"space_is_a_list", Spec({{"space", "space: [nb201]"}}),
              "space (line 3): expected a mapping, got a list"},
      // Strategy.
      Mistake{"unknown_strategy_key",
              Spec({{"strategy", "strategy: {bayes: {}}"}}),
              "strategy.bayes (line 4): unknown strategy; expected one of "
              "random, evolution, reinforce, gp_bayes_opt, local_search"},
      Mistake{"two_strategies",
              Spec({{"strategy", "strategy: {random: {}, evolution: {}}"}}),
              "strategy (line 4): exactly one strategy may be given, got "
              "random and evolution"},
      Mistake{"unknown_strategy_option",
              Spec({{"strategy", "strategy: {evolution: {population: 30}}"}}),
              "strategy.evolution.population (line 4): unknown key; expected "
              "one of population_size, sample_size (did you mean "
              "population_size?)"},
      Mistake{
          "word_for_strategy_option",
          Spec({{"strategy", "strategy: {gp_bayes_opt: {max_train: lots}}"}}),
          "strategy.gp_bayes_opt.max_train (line 4): expected an integer, "
          "got \"lots\""},
      Mistake{
          "nan_strategy_option",
          Spec({{"strategy", "strategy: {reinforce: {entropy_weight: .nan}}"}}),
          "strategy.reinforce.entropy_weight (line 4): must be a finite "
          "number, got nan"},
      Mistake{"unknown_strategy_name", Spec({{"strategy", "strategy: bayes"}}),
              "strategy (line 4): unknown strategy \"bayes\"; expected one of "
              "random"},
      Mistake{"random_with_options",
              Spec({{"strategy", "strategy: {random: {population: 8}}"}}),
              "strategy.random.population (line 4): unknown key"},
      Mistake{"no_strategy", Spec({{"strategy", ""}}),
              "strategy: required; set one of random"},
      Mistake{"empty_strategy", Spec({{"strategy", "strategy: {}"}}),
              "strategy (line 4): required"},
      // Objectives.
      Mistake{
          "test_accuracy_objective",
          Spec(
              {{"objectives",
                "objectives: [{metric: test_accuracy, direction: maximize}]"}}),
          "objectives[0].metric (line 5): test_accuracy cannot be an "
          "objective: the search must never see test data"},
      Mistake{"unknown_metric",
              Spec({{"objectives",
                     "objectives: [{metric: accuracy, direction: maximize}]"}}),
              "objectives[0].metric (line 5): unknown metric \"accuracy\""},
      // Constraints.
      Mistake{"constraint_without_operator",
              Spec({}, {"constraints: [\"latency_ms < 5\"]"}),
              "constraints[0] (line 8): expected \"<metric> <= <number>\""},
      Mistake{"constraint_nan_bound",
              Spec({}, {"constraints: [\"params <= nan\"]"}),
              "constraints[0] (line 8): the bound must be a finite number"},
      Mistake{"constraint_unknown_metric",
              Spec({}, {"constraints:", "  - \"params <= 1e6\"",
                        "  - \"speed >= 3\""}),
              "constraints[1].metric (line 10): unknown metric \"speed\""},
      Mistake{"constraint_not_text",
              Spec({}, {"constraints: [{metric: params}]"}),
              "constraints[0] (line 8): expected text"},
      Mistake{"duplicate_metric",
              Spec({{"objectives",
                     "objectives: [{metric: params, direction: minimize}, "
                     "{metric: params, direction: maximize}]"}}),
              "objectives[1].metric (line 5): duplicate metric \"params\""},
      Mistake{"missing_direction",
              Spec({{"objectives", "objectives: [{metric: params}]"}}),
              "objectives[0].direction (in objectives[0] at line 5): required"},
      Mistake{"unknown_direction",
              Spec({{"objectives",
                     "objectives: [{metric: params, direction: max}]"}}),
              "objectives[0].direction (line 5): unknown direction \"max\""},
      Mistake{"empty_objectives", Spec({{"objectives", "objectives: []"}}),
              "objectives (line 5): at least one objective is required"},
      Mistake{"no_objectives", Spec({{"objectives", ""}}),
              "objectives: at least one objective is required"},
      Mistake{
          "five_objectives",
          Spec({{"objectives",
                 "objectives: [{metric: val_accuracy, direction: maximize}, "
                 "{metric: val_loss, direction: minimize}, {metric: params, "
                 "direction: minimize}, {metric: flops, direction: minimize}, "
                 "{metric: latency_ms, direction: minimize}]"}}),
          "objectives (line 5): at most 4 objectives are allowed, got 5"},
      Mistake{
          "objective_not_a_mapping",
          Spec({{"objectives", "objectives: [val_accuracy]"}}),
          "objectives[0] (line 5): expected a mapping, got \"val_accuracy\""},
      // Budget.
      Mistake{
          "negative_max_trials", Spec({{"budget", "budget: {max_trials: -5}"}}),
          "budget.max_trials (line 6): must be between 1 and 100000, got -5"},
      Mistake{"absurd_max_trials",
              Spec({{"budget", "budget: {max_trials: 1000000000}"}}),
              "budget.max_trials (line 6): must be between 1 and 100000, got "
              "1000000000"},
      Mistake{
          "overflowing_max_trials",
          Spec({{"budget", "budget: {max_trials: 99999999999}"}}),
          "budget.max_trials (line 6): integer out of range, got 99999999999"},
      Mistake{
          "zero_max_trials_written",
          Spec({{"budget", "budget: {max_trials: 0}"}}),
          "budget.max_trials (line 6): must be between 1 and 100000, got 0"},
      Mistake{"missing_max_trials",
              Spec({{"budget", "budget: {parallelism: 2}"}}),
              "budget.max_trials (in budget at line 6): required; must be "
              "between 1 and 100000"},
      Mistake{"no_budget", Spec({{"budget", ""}}),
              "budget.max_trials: required"},
      Mistake{"zero_parallelism_written",
              Spec({{"budget", "budget: {max_trials: 4, parallelism: 0}"}}),
              "budget.parallelism (line 6): must be between 1 and 1024, got 0"},
      Mistake{
          "absurd_parallelism",
          Spec({{"budget", "budget: {max_trials: 4, parallelism: 5000}"}}),
          "budget.parallelism (line 6): must be between 1 and 1024, got 5000"},
      Mistake{
          "absurd_attempts",
          Spec({{"budget", "budget: {max_trials: 4, max_attempts: 101}"}}),
          "budget.max_attempts (line 6): must be between 1 and 100, got 101"},
      // Training.
      Mistake{
          "nan_learning_rate",
          Spec({{"training", "training: {epochs: 1, learning_rate: .nan}"}}),
          "training.learning_rate (line 7): must be a finite number in (0, "
          "10], got nan"},
      Mistake{
          "inf_data_fraction",
          Spec({{"training", "training: {epochs: 1, data_fraction: .inf}"}}),
          "training.data_fraction (line 7): must be a finite number in (0, 1], "
          "got inf"},
      Mistake{
          "negative_learning_rate",
          Spec({{"training", "training: {epochs: 1, learning_rate: -0.1}"}}),
          "training.learning_rate (line 7): must be in (0, 10], got -0.1"},
      Mistake{"zero_learning_rate_written",
              Spec({{"training", "training: {epochs: 1, learning_rate: 0.0}"}}),
              "training.learning_rate (line 7): must be in (0, 10], got 0"},
      Mistake{"missing_epochs",
              Spec({{"training", "training: {batch_size: 32}"}}),
              "training.epochs (in training at line 7): required; must be "
              "between 1 and 1000"},
      Mistake{"absurd_epochs", Spec({{"training", "training: {epochs: 1001}"}}),
              "training.epochs (line 7): must be between 1 and 1000, got 1001"},
      Mistake{"absurd_batch_size",
              Spec({{"training", "training: {epochs: 1, batch_size: 70000}"}}),
              "training.batch_size (line 7): must be between 1 and 65536, got "
              "70000"},
      // Dataset and name.
      Mistake{"unknown_dataset",
              Spec({{"dataset", "dataset: {name: imagenet}"}}),
              "dataset.name (line 2): unknown dataset \"imagenet\"; expected "
              "one of fashion_mnist, mnist, cifar10"},
      Mistake{"missing_dataset_name",
              Spec({{"dataset", "dataset: {validation_fraction: 0.2}"}}),
              "dataset.name (in dataset at line 2): required"},
      Mistake{"no_dataset", Spec({{"dataset", ""}}), "dataset.name: required"},
      Mistake{
          "validation_fraction_too_big",
          Spec({{"dataset",
                 "dataset: {name: mnist, validation_fraction: 0.9}"}}),
          "dataset.validation_fraction (line 2): must be in (0, 0.5], got 0.9"},
      Mistake{
          "validation_fraction_zero_written",
          Spec({{"dataset", "dataset: {name: mnist, validation_fraction: 0}"}}),
          "dataset.validation_fraction (line 2): must be in (0, 0.5], got 0"},
      Mistake{"name_too_long",
              Spec({{"name", absl::StrCat("name: ", std::string(201, 'x'))}}),
              "name (line 1): must be at most 200 characters, got 201"},
      // Types.
      Mistake{"word_for_integer",
              Spec({{"budget", "budget: {max_trials: ten}"}}),
              "budget.max_trials (line 6): expected an integer, got \"ten\""},
      Mistake{"quoted_integer",
              Spec({{"budget", "budget: {max_trials: \"4\"}"}}),
              "budget.max_trials (line 6): expected an integer, got \"4\""},
      Mistake{"fraction_for_integer",
              Spec({{"training", "training: {epochs: 1.5}"}}),
              "training.epochs (line 7): expected an integer, got \"1.5\""},
      Mistake{"null_integer", Spec({{"training", "training: {epochs: }"}}),
              "training.epochs (line 7): expected an integer, got nothing"},
      Mistake{
          "word_for_number",
          Spec({{"training", "training: {epochs: 1, learning_rate: fast}"}}),
          "training.learning_rate (line 7): expected a number, got \"fast\""},
      Mistake{
          "scalar_for_list",
          Spec({{"space", Stage("depths: 3, widths: [8], ops: [skip]")}}),
          "space.chain.stages[0].depths (line 3): expected a list, got \"3\""},
      Mistake{"list_for_integer",
              Spec({{"budget", "budget: {max_trials: [4]}"}}),
              "budget.max_trials (line 6): expected an integer, got a list"},
      Mistake{"scalar_for_mapping", Spec({{"dataset", "dataset: mnist"}}),
              "dataset (line 2): expected a mapping, got \"mnist\""},
      Mistake{"negative_seed", Spec({}, {"seed: -1"}),
              "seed (line 8): expected an integer"},
      // Unknown and duplicate keys.
      Mistake{"unknown_stage_key",
              Spec({{"space", Stage("depths: [1], widht: [8], ops: [skip]")}}),
              "space.chain.stages[0].widht (line 3): unknown key; expected one "
              "of depths, widths, ops, stride (did you mean widths?)"},
      Mistake{"unknown_top_level_key", Spec({}, {"epochs: 3"}),
              "epochs (line 8): unknown key; expected one of name, seed, "
              "dataset, space"},
      Mistake{
          "unknown_training_key", Spec({{"training", "training: {epoch: 3}"}}),
          "training.epoch (line 7): unknown key; expected one of epochs, "
          "data_fraction, batch_size, learning_rate (did you mean epochs?)"},
      Mistake{"unknown_nb201_key",
              Spec({{"space", "space: {nb201: {cells: 3}}"}}),
              "space.nb201.cells (line 3): unknown key"},
      Mistake{"duplicate_top_level_key", Spec({}, {"budget: {max_trials: 5}"}),
              "budget (line 8): duplicate key; first given at line 6"},
      Mistake{
          "duplicate_nested_key",
          Spec({{"budget", "budget: {max_trials: 4, max_trials: 5}"}}),
          "budget.max_trials (line 6): duplicate key; first given at line 6"},
      // Whole documents.
      Mistake{"syntax_error", Spec({{"budget", "budget: {max_trials: 4"}}),
              "YAML syntax error at line "},
      Mistake{"bad_indentation", "name: t\n  dataset: x\n",
              "YAML syntax error at line 2"},
      Mistake{"two_documents", Spec({}) + "---\nname: u\n",
              "the text holds 2 YAML documents"},
      Mistake{"three_documents", Spec({}) + "---\nname: u\n---\nname: v\n",
              "the text holds 3 YAML documents"},
      // yaml-cpp's LoadAll never returned on these (bench/fuzz found ","):
      // the parser yields the same empty document forever.
      Mistake{"lone_comma", ",", "YAML syntax error at line 1, column 1"},
      Mistake{"comma_then_flow", ",[##", "YAML syntax error at line 1"},
      Mistake{"comma_after_spec", Spec({}) + ",\n", "YAML syntax error"},
      Mistake{"empty_text", "", "the spec is empty"},
      Mistake{"only_comments", "# nothing\n", "the spec is empty"},
      Mistake{"top_level_list", "- name: t\n",
              "the spec must be a YAML mapping"},
      Mistake{"deep_nesting", "name: " + std::string(5000, '['), "YAML"}};
  return *kMistakes;
}

INSTANTIATE_TEST_SUITE_P(Mistakes, SpecYamlMistakeTest,
                         ::testing::ValuesIn(YamlMistakes()),
                         [](const ::testing::TestParamInfo<Mistake>& info) {
                           return info.param.label;
                         });

TEST(SpecYamlTest, BlockStyleErrorsNameTheLine) {
  const std::string yaml = R"(name: block
dataset:
  name: fashion_mnist
space:
  chain:
    stages:
      - depths: [1]
        widths: [8]
        ops: [conv3x3]
      - depths: [1, 2]
        widths: [16]
        ops: [conv3x3, ir_k3_e3, conv9x9]
strategy: random
objectives:
  - metric: val_accuracy
    direction: maximize
budget:
  max_trials: 4
training:
  epochs: 1
)";
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(yaml);
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(
      std::string(spec.status().message()),
      StartsWith(
          "space.chain.stages[1].ops[2] (line 12): unknown op \"conv9x9\""));

  spec = ParseSearchSpecYaml(
      absl::StrReplaceAll(yaml, {{"max_trials: 4", "max_trials: ten"}}));
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(
      std::string(spec.status().message()),
      StartsWith(
          "budget.max_trials (line 18): expected an integer, got \"ten\""));

  spec = ParseSearchSpecYaml(absl::StrReplaceAll(
      yaml, {{"        widths: [16]\n",
              "        widths: [16]\n        widths: [24]\n"}}));
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              StartsWith("space.chain.stages[1].widths (line 12): duplicate "
                         "key; first given at line 11"));
}

TEST(SpecYamlTest, SyntaxErrorsGiveLineAndColumn) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecYaml("name: t\nbudget: {max_trials: [4}\n");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("line 2, column"));
}

TEST(SpecYamlTest, AliasesCannotMultiplyWork) {
  std::string widths;
  for (int w = 1; w <= 2000; ++w)
    absl::StrAppend(&widths, w == 1 ? "" : ", ", w);
  std::string stages;
  for (int i = 0; i < 600; ++i)
    absl::StrAppend(&stages, i == 0 ? "" : ", ", "*s");
  const std::string yaml =
      Spec({{"space",
             absl::StrCat("space: {chain: {stages: [&s {depths: [1], widths: [",
                          widths, "], ops: [skip]}, ", stages, "]}}")}});
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(yaml);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("the spec is too large"));
}

TEST(SpecYamlTest, OddKeysAreQuotedInPaths) {
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(
      Spec({{"budget", "budget: {max_trials: 4, \"a\\tb\": 1}"}}));
  ASSERT_FALSE(spec.ok());
  EXPECT_THAT(std::string(spec.status().message()),
              StartsWith("budget.\"a\\tb\" (line 6): unknown key"));
}

TEST(SpecYamlTest, RefusesTextOverTheLimit) {
  std::string text = Spec({});
  text.append(kMaxSpecBytes, '#');
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(text);
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()), HasSubstr("1 MiB"));
}

TEST(SpecYamlTest, RefusesOversizedFile) {
  const std::string path = TempPath("big.yaml");
  {
    std::FILE* file = std::fopen(path.c_str(), "w");
    ASSERT_NE(file, nullptr);
    const std::string base = Spec({});
    std::fputs(base.c_str(), file);
    const std::string comment = "# " + std::string(1022, 'x') + "\n";
    for (size_t written = base.size(); written <= kMaxSpecBytes;
         written += comment.size()) {
      std::fputs(comment.c_str(), file);
    }
    std::fclose(file);
  }
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecFile(path);
  std::remove(path.c_str());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              StartsWith(path + ": file is "));
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("at most 1048576 bytes (1 MiB)"));
}

TEST(SpecYamlTest, RefusesHugeFileWithoutReadingIt) {
  // 100 MB, sparse: costs no disk, and would take visible time to read.
  const std::string path = TempPath("huge.yaml");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 100'000'000), 0);
  ::close(fd);
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecFile(path);
  std::remove(path.c_str());
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("file is 100000000 bytes"));
}

TEST(SpecYamlTest, RefusesOversizedPipeAfterTheLimit) {
  // A pipe has no size up front: the reader must stop one byte past the limit.
  ::signal(SIGPIPE, SIG_IGN);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  std::thread writer([fd = fds[1]] {
    const std::string chunk(64 * 1024, '#');
    for (size_t sent = 0; sent < 16 * kMaxSpecBytes;) {
      const ssize_t n = ::write(fd, chunk.data(), chunk.size());
      if (n <= 0) break;  // the reader gave up: EPIPE
      sent += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  absl::StatusOr<nas::v1::SearchSpec> spec =
      ParseSearchSpecFile(absl::StrCat("/proc/self/fd/", fds[0]));
  ::close(fds[0]);
  writer.join();
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(spec.status().message()),
              HasSubstr("more than 1048576 bytes"));
}

TEST(SpecYamlTest, FileErrorsNameTheFile) {
  const std::string missing = TempPath("missing.yaml");
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecFile(missing);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(spec.status().message()),
              StartsWith(missing + ": cannot open: "));

  spec = ParseSearchSpecFile(NAS_EXAMPLES_DIR);
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kFailedPrecondition);

  // Parse errors read as for text, after the file name.
  const std::string bad = TempPath("bad.yaml");
  std::FILE* file = std::fopen(bad.c_str(), "w");
  ASSERT_NE(file, nullptr);
  std::fputs(Spec({{"budget", "budget: {max_trials: -5}"}}).c_str(), file);
  std::fclose(file);
  spec = ParseSearchSpecFile(bad);
  std::remove(bad.c_str());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(
      std::string(spec.status().message()),
      StartsWith(bad + ": budget.max_trials (line 6): must be between"));
}

}  // namespace
}  // namespace nas::spec
