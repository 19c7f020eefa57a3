#include "common/spec/spec_validation.h"

#include <cmath>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "common/spec/spec_yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::spec {
namespace {

using ::testing::StartsWith;

// The demo spec built by hand, as a client in another language would.
nas::v1::SearchSpec ValidSpec() {
  nas::v1::SearchSpec spec;
  spec.set_name("fashion-demo");
  spec.set_seed(7);
  spec.mutable_dataset()->set_name(nas::v1::DATASET_NAME_FASHION_MNIST);
  nas::v1::ChainSpace* chain = spec.mutable_space()->mutable_chain();
  nas::v1::ChainStage* first = chain->add_stages();
  first->add_depths(1);
  first->add_depths(2);
  first->add_widths(16);
  first->add_widths(24);
  for (const char* op : {"conv3x3", "ir_k3_e3", "ir_k5_e3"}) first->add_ops(op);
  first->set_stride(2);
  nas::v1::ChainStage* second = chain->add_stages();
  for (int depth : {1, 2, 3}) second->add_depths(depth);
  second->add_widths(32);
  second->add_widths(48);
  for (const char* op :
       {"conv3x3", "ir_k3_e3", "ir_k3_e6", "ir_k5_e6", "skip"}) {
    second->add_ops(op);
  }
  second->set_stride(2);
  spec.mutable_strategy()->mutable_random();
  nas::v1::Objective* objective = spec.add_objectives();
  objective->set_metric("val_accuracy");
  objective->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  spec.mutable_budget()->set_max_trials(8);
  spec.mutable_training()->set_epochs(2);
  return spec;
}

// ApplySpecDefaults then ValidateSearchSpec, as the controller does.
absl::Status DefaultAndValidate(nas::v1::SearchSpec spec) {
  ApplySpecDefaults(&spec);
  return ValidateSearchSpec(spec);
}

std::string MessageOf(const absl::Status& status) {
  return std::string(status.message());
}

TEST(SpecValidationTest, AcceptsTheHandBuiltDemo) {
  EXPECT_TRUE(DefaultAndValidate(ValidSpec()).ok())
      << DefaultAndValidate(ValidSpec());
}

TEST(SpecValidationTest, DefaultsFillOnlyUnsetFields) {
  nas::v1::SearchSpec spec = ValidSpec();
  spec.mutable_space()->mutable_chain()->mutable_stages(1)->clear_stride();
  spec.mutable_training()->set_batch_size(32);
  ApplySpecDefaults(&spec);
  EXPECT_DOUBLE_EQ(spec.dataset().validation_fraction(), 0.1);
  EXPECT_EQ(spec.space().chain().stem_channels(), 16);
  EXPECT_EQ(spec.space().chain().stages(0).stride(), 2);
  EXPECT_EQ(spec.space().chain().stages(1).stride(), 1);
  EXPECT_EQ(spec.budget().parallelism(), 1);
  EXPECT_EQ(spec.budget().max_attempts(), 3);
  EXPECT_EQ(spec.budget().max_trials(), 8);
  EXPECT_EQ(spec.training().batch_size(), 32);
  EXPECT_DOUBLE_EQ(spec.training().data_fraction(), 1.0);
  EXPECT_DOUBLE_EQ(spec.training().learning_rate(), 0.05);
  EXPECT_EQ(spec.training().epochs(), 2);
  EXPECT_FALSE(spec.objectives().empty());

  nas::v1::SearchSpec again = spec;
  ApplySpecDefaults(&again);
  EXPECT_EQ(again.SerializeAsString(), spec.SerializeAsString());
}

TEST(SpecValidationTest, DefaultsLeaveRequiredFieldsAndExplicitZerosAlone) {
  nas::v1::SearchSpec spec;
  ApplySpecDefaults(&spec, {"budget.parallelism"});
  EXPECT_EQ(spec.budget().parallelism(), 0);
  EXPECT_EQ(spec.budget().max_attempts(), 3);
  EXPECT_EQ(spec.budget().max_trials(), 0);
  EXPECT_EQ(spec.training().epochs(), 0);
  EXPECT_FALSE(spec.has_space());
  EXPECT_FALSE(spec.has_strategy());
}

TEST(SpecValidationTest, Nb201DefaultsToAllOps) {
  nas::v1::SearchSpec spec = ValidSpec();
  spec.mutable_space()->mutable_nb201();
  ApplySpecDefaults(&spec);
  EXPECT_EQ(spec.space().nb201().channels(), 16);
  EXPECT_EQ(spec.space().nb201().cells_per_stage(), 5);
  EXPECT_THAT(spec.space().nb201().ops(),
              ::testing::ElementsAre("none", "skip_connect", "nor_conv_1x1",
                                     "nor_conv_3x3", "avg_pool_3x3"));
  EXPECT_TRUE(ValidateSearchSpec(spec).ok());
}

TEST(SpecValidationTest, RequiresDefaultsFirst) {
  // A defaulted field left at 0 is out of range: the contract is defaults
  // first.
  absl::Status status = ValidateSearchSpec(ValidSpec());
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
}

TEST(SpecValidationTest, RequiredZeroWording) {
  nas::v1::SearchSpec spec = ValidSpec();
  spec.mutable_budget()->set_max_trials(0);
  ApplySpecDefaults(&spec);
  EXPECT_EQ(MessageOf(ValidateSearchSpec(spec)),
            "budget.max_trials: required; must be between 1 and 100000");
  EXPECT_EQ(MessageOf(ValidateSearchSpec(spec, {"budget.max_trials"})),
            "budget.max_trials: must be between 1 and 100000, got 0");
}

// A change to the valid spec and the start of the message it must give.
struct ProtoMistake {
  std::string label;
  std::string expected_prefix;
  void (*mutate)(nas::v1::SearchSpec*);
};

void PrintTo(const ProtoMistake& mistake, std::ostream* os) {
  *os << mistake.label;
}

class SpecValidationMistakeTest
    : public ::testing::TestWithParam<ProtoMistake> {};

TEST_P(SpecValidationMistakeTest, IsInvalidArgumentNamingThePath) {
  nas::v1::SearchSpec spec = ValidSpec();
  GetParam().mutate(&spec);
  absl::Status status = DefaultAndValidate(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(MessageOf(status), StartsWith(GetParam().expected_prefix));
}

nas::v1::ChainStage* Stage(nas::v1::SearchSpec* spec, int i) {
  return spec->mutable_space()->mutable_chain()->mutable_stages(i);
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

const std::vector<ProtoMistake>& ProtoMistakes() {
  static const auto* const kMistakes = new std::vector<ProtoMistake>{
      {"unknown_op",
       "space.chain.stages[1].ops[2]: unknown op \"conv9x9\"; expected one of ",
       [](nas::v1::SearchSpec* s) { Stage(s, 1)->set_ops(2, "conv9x9"); }},
      {"duplicate_op",
       "space.chain.stages[1].ops[5]: duplicate op \"skip\" (also at index 4)",
       [](nas::v1::SearchSpec* s) { Stage(s, 1)->add_ops("skip"); }},
      {"empty_ops", "space.chain.stages[0].ops: must list at least one op",
       [](nas::v1::SearchSpec* s) { Stage(s, 0)->clear_ops(); }},
      {"empty_depths",
       "space.chain.stages[0].depths: must list at least one depth",
       [](nas::v1::SearchSpec* s) { Stage(s, 0)->clear_depths(); }},
      {"duplicate_width", "space.chain.stages[1].widths[2]: duplicate width 32",
       [](nas::v1::SearchSpec* s) { Stage(s, 1)->add_widths(32); }},
      {"width_too_big",
       "space.chain.stages[1].widths[0]: must be between 1 and 4096, got 4097",
       [](nas::v1::SearchSpec* s) { Stage(s, 1)->set_widths(0, 4097); }},
      {"stride", "space.chain.stages[0].stride: must be 1 or 2, got 4",
       [](nas::v1::SearchSpec* s) { Stage(s, 0)->set_stride(4); }},
      {"no_stages", "space.chain.stages: must list at least one stage",
       [](nas::v1::SearchSpec* s) {
         s->mutable_space()->mutable_chain()->clear_stages();
       }},
      {"seventeen_stages",
       "space.chain.stages: at most 16 stages are allowed, got 17",
       [](nas::v1::SearchSpec* s) {
         for (int i = 0; i < 15; ++i)
           *s->mutable_space()->mutable_chain()->add_stages() = *Stage(s, 0);
       }},
      {"nb201_unknown_op", "space.nb201.ops[0]: unknown op \"skip\"",
       [](nas::v1::SearchSpec* s) {
         s->mutable_space()->mutable_nb201()->add_ops("skip");
       }},
      {"nb201_channels",
       "space.nb201.channels: must be between 1 and 1024, got 2048",
       [](nas::v1::SearchSpec* s) {
         s->mutable_space()->mutable_nb201()->set_channels(2048);
       }},
      {"no_space", "space: required; set exactly one of nb201, chain",
       [](nas::v1::SearchSpec* s) { s->clear_space(); }},
      {"no_strategy",
       "strategy: required; set one of random, evolution, reinforce, "
       "gp_bayes_opt, local_search",
       [](nas::v1::SearchSpec* s) { s->clear_strategy(); }},
      {"inf_strategy_option",
       "strategy.reinforce.entropy_weight: must be a finite number, got inf",
       [](nas::v1::SearchSpec* s) {
         s->mutable_strategy()->mutable_reinforce()->set_entropy_weight(kInf);
       }},
      {"no_dataset", "dataset.name: required",
       [](nas::v1::SearchSpec* s) { s->clear_dataset(); }},
      {"unknown_dataset_value", "dataset.name: unknown dataset value 42",
       [](nas::v1::SearchSpec* s) {
         s->mutable_dataset()->set_name(static_cast<nas::v1::DatasetName>(42));
       }},
      {"nan_validation_fraction",
       "dataset.validation_fraction: must be a finite number",
       [](nas::v1::SearchSpec* s) {
         s->mutable_dataset()->set_validation_fraction(kNaN);
       }},
      {"test_accuracy",
       "objectives[0].metric: test_accuracy cannot be an objective: the search "
       "must never see test data",
       [](nas::v1::SearchSpec* s) {
         s->mutable_objectives(0)->set_metric("test_accuracy");
       }},
      {"no_objectives", "objectives: at least one objective is required",
       [](nas::v1::SearchSpec* s) { s->clear_objectives(); }},
      {"empty_metric", "objectives[0].metric: required",
       [](nas::v1::SearchSpec* s) {
         s->mutable_objectives(0)->clear_metric();
       }},
      {"no_direction",
       "objectives[0].direction: required; maximize or minimize",
       [](nas::v1::SearchSpec* s) {
         s->mutable_objectives(0)->clear_direction();
       }},
      {"unknown_direction_value",
       "objectives[0].direction: unknown direction value 9",
       [](nas::v1::SearchSpec* s) {
         s->mutable_objectives(0)->set_direction(
             static_cast<nas::v1::Direction>(9));
       }},
      {"duplicate_metric",
       "objectives[1].metric: duplicate metric \"val_accuracy\"",
       [](nas::v1::SearchSpec* s) { *s->add_objectives() = s->objectives(0); }},
      {"negative_max_trials",
       "budget.max_trials: must be between 1 and 100000, got -5",
       [](nas::v1::SearchSpec* s) { s->mutable_budget()->set_max_trials(-5); }},
      {"absurd_max_trials",
       "budget.max_trials: must be between 1 and 100000, got 2000000000",
       [](nas::v1::SearchSpec* s) {
         s->mutable_budget()->set_max_trials(2000000000);
       }},
      {"negative_parallelism",
       "budget.parallelism: must be between 1 and 1024, got -1",
       [](nas::v1::SearchSpec* s) {
         s->mutable_budget()->set_parallelism(-1);
       }},
      {"absurd_max_attempts",
       "budget.max_attempts: must be between 1 and 100, got 1000",
       [](nas::v1::SearchSpec* s) {
         s->mutable_budget()->set_max_attempts(1000);
       }},
      {"no_epochs", "training.epochs: required; must be between 1 and 1000",
       [](nas::v1::SearchSpec* s) { s->mutable_training()->clear_epochs(); }},
      {"nan_learning_rate",
       "training.learning_rate: must be a finite number in (0, 10], got nan",
       [](nas::v1::SearchSpec* s) {
         s->mutable_training()->set_learning_rate(kNaN);
       }},
      {"inf_learning_rate",
       "training.learning_rate: must be a finite number in (0, 10], got inf",
       [](nas::v1::SearchSpec* s) {
         s->mutable_training()->set_learning_rate(kInf);
       }},
      {"huge_learning_rate",
       "training.learning_rate: must be in (0, 10], got 11",
       [](nas::v1::SearchSpec* s) {
         s->mutable_training()->set_learning_rate(11);
       }},
      {"data_fraction_above_one",
       "training.data_fraction: must be in (0, 1], got 1.5",
       [](nas::v1::SearchSpec* s) {
         s->mutable_training()->set_data_fraction(1.5);
       }},
      {"negative_inf_data_fraction",
       "training.data_fraction: must be a finite number in (0, 1], got -inf",
       [](nas::v1::SearchSpec* s) {
         s->mutable_training()->set_data_fraction(-kInf);
       }},
      {"batch_size",
       "training.batch_size: must be between 1 and 65536, got -128",
       [](nas::v1::SearchSpec* s) {
         s->mutable_training()->set_batch_size(-128);
       }},
      {"constraint_unknown_metric",
       "constraints[0].metric: unknown metric \"latency\"; expected one of ",
       [](nas::v1::SearchSpec* s) {
         nas::v1::Constraint* c = s->add_constraints();
         c->set_metric("latency");
         c->set_op(nas::v1::COMPARISON_LESS_EQUAL);
         c->set_bound(5);
       }},
      {"constraint_on_test_accuracy",
       "constraints[0].metric: test_accuracy cannot be an objective",
       [](nas::v1::SearchSpec* s) {
         nas::v1::Constraint* c = s->add_constraints();
         c->set_metric("test_accuracy");
         c->set_op(nas::v1::COMPARISON_GREATER_EQUAL);
         c->set_bound(0.5);
       }},
      {"constraint_without_op", "constraints[1].op: required; <= or >=",
       [](nas::v1::SearchSpec* s) {
         nas::v1::Constraint* ok = s->add_constraints();
         ok->set_metric("params");
         ok->set_op(nas::v1::COMPARISON_LESS_EQUAL);
         ok->set_bound(1e6);
         s->add_constraints()->set_metric("latency_ms");
       }},
      {"constraint_bad_op", "constraints[0].op: unknown comparison value 7",
       [](nas::v1::SearchSpec* s) {
         nas::v1::Constraint* c = s->add_constraints();
         c->set_metric("params");
         c->set_op(static_cast<nas::v1::Comparison>(7));
       }},
      {"constraint_nan_bound",
       "constraints[0].bound: must be a finite number",
       [](nas::v1::SearchSpec* s) {
         nas::v1::Constraint* c = s->add_constraints();
         c->set_metric("latency_ms");
         c->set_op(nas::v1::COMPARISON_LESS_EQUAL);
         c->set_bound(kNaN);
       }},
      {"constraint_inf_bound",
       "constraints[0].bound: must be a finite number",
       [](nas::v1::SearchSpec* s) {
         nas::v1::Constraint* c = s->add_constraints();
         c->set_metric("flops");
         c->set_op(nas::v1::COMPARISON_GREATER_EQUAL);
         c->set_bound(-kInf);
       }},
      {"too_many_constraints",
       "constraints: at most 8 constraints are allowed, got 9",
       [](nas::v1::SearchSpec* s) {
         for (int i = 0; i < 9; ++i) {
           nas::v1::Constraint* c = s->add_constraints();
           c->set_metric("params");
           c->set_op(nas::v1::COMPARISON_LESS_EQUAL);
           c->set_bound(i);
         }
       }},
      {"long_name", "name: must be at most 200 characters, got 300",
       [](nas::v1::SearchSpec* s) { s->set_name(std::string(300, 'n')); }},
      {"invalid_utf8_name",
       "name: must be valid UTF-8 text without control characters",
       [](nas::v1::SearchSpec* s) { s->set_name("bad\xff"); }},
      {"newline_in_name", "name: must be valid UTF-8",
       [](nas::v1::SearchSpec* s) { s->set_name("two\nlines"); }},
  };
  return *kMistakes;
}

INSTANTIATE_TEST_SUITE_P(
    Mistakes, SpecValidationMistakeTest, ::testing::ValuesIn(ProtoMistakes()),
    [](const ::testing::TestParamInfo<ProtoMistake>& info) {
      return info.param.label;
    });

TEST(SpecValidationTest, NameCountsCharactersNotBytes) {
  nas::v1::SearchSpec spec = ValidSpec();
  std::string name;
  for (int i = 0; i < 200; ++i) name += "\xc3\xa9";  // é, two bytes each
  spec.set_name(name);
  EXPECT_TRUE(DefaultAndValidate(spec).ok()) << DefaultAndValidate(spec);
  spec.set_name(name + "e");
  EXPECT_THAT(MessageOf(DefaultAndValidate(spec)),
              StartsWith("name: must be at most 200"));
}

TEST(SpecValidationTest, AcceptsLimits) {
  nas::v1::SearchSpec spec = ValidSpec();
  spec.mutable_budget()->set_max_trials(kMaxTrials);
  spec.mutable_budget()->set_parallelism(kMaxParallelism);
  spec.mutable_budget()->set_max_attempts(kMaxAttempts);
  spec.mutable_training()->set_epochs(kMaxEpochs);
  spec.mutable_training()->set_batch_size(kMaxBatchSize);
  spec.mutable_training()->set_learning_rate(kMaxLearningRate);
  spec.mutable_training()->set_data_fraction(1.0);
  spec.mutable_dataset()->set_validation_fraction(kMaxValidationFraction);
  for (const char* metric : {"val_loss", "params", "flops"}) {
    nas::v1::Objective* objective = spec.add_objectives();
    objective->set_metric(metric);
    objective->set_direction(nas::v1::DIRECTION_MINIMIZE);
  }
  Stage(&spec, 0)->set_widths(0, kMaxWidth);
  Stage(&spec, 0)->set_depths(0, kMaxDepth);
  EXPECT_TRUE(DefaultAndValidate(spec).ok()) << DefaultAndValidate(spec);
}

// The same mistake gives the same message from YAML and from a proto, apart
// from the line the YAML message adds after the path.
TEST(SpecValidationTest, YamlAndProtoErrorsAgree) {
  nas::v1::SearchSpec proto = ValidSpec();
  Stage(&proto, 1)->set_ops(2, "conv9x9");
  const std::string from_proto = MessageOf(DefaultAndValidate(proto));

  absl::StatusOr<nas::v1::SearchSpec> parsed =
      ParseSearchSpecFile(NAS_EXAMPLES_DIR "/demo_fashion_mnist_from_scratch.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  // The example file parses to exactly the hand-built spec after defaults.
  nas::v1::SearchSpec expected = ValidSpec();
  ApplySpecDefaults(&expected);
  expected.mutable_budget()->set_parallelism(2);
  expected.mutable_training()->set_data_fraction(1.0);
  EXPECT_EQ(parsed->SerializeAsString(), expected.SerializeAsString());

  const std::string yaml = R"(dataset: {name: fashion_mnist}
space:
  chain:
    stages:
      - {depths: [1, 2], widths: [16, 24], ops: [conv3x3, ir_k3_e3, ir_k5_e3], stride: 2}
      - {depths: [1, 2, 3], widths: [32, 48], ops: [conv3x3, ir_k3_e3, conv9x9, ir_k5_e6, skip], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 8}
training: {epochs: 2}
)";
  absl::StatusOr<nas::v1::SearchSpec> from_yaml = ParseSearchSpecYaml(yaml);
  ASSERT_FALSE(from_yaml.ok());
  std::string without_line = MessageOf(from_yaml.status());
  const std::string line = " (line 6)";
  ASSERT_NE(without_line.find(line), std::string::npos) << without_line;
  without_line.erase(without_line.find(line), line.size());
  EXPECT_EQ(without_line, from_proto);
}

}  // namespace
}  // namespace nas::spec
