// The zero-cost estimator on real data (NAS_DATA_DIR must hold
// fashion_mnist/; the tests skip without it): every proxy scores a small
// chain network in well under a second, deterministically, and agrees with
// the worker/train function it adapts.
#include "worker/zero_cost_estimator.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "common/spec/space_from_proto.h"
#include "gtest/gtest.h"
#include "worker/test_datasets.h"
#include "worker/train/trainer.h"
#include "worker/train/zero_cost.h"

namespace nas::worker {
namespace {

using test_data::DataDir;
using test_data::Datasets;

// Decisions: stage1.depth {1, 2}, stage1.width {8, 16}, the ops {conv3x3,
// ir_k3_e3}.
nas::v1::TrialAssignment Assignment(const std::string& proxy,
                                    std::vector<int> choices) {
  nas::v1::TrialAssignment a;
  a.set_trial_id(1);
  a.set_search_id(2);
  a.set_kind(nas::v1::TRIAL_KIND_ZERO_COST);
  a.mutable_dataset()->set_name(nas::v1::DATASET_NAME_FASHION_MNIST);
  a.mutable_dataset()->set_validation_fraction(0.1);
  nas::v1::ChainSpace* chain = a.mutable_space()->mutable_chain();
  chain->set_stem_channels(8);
  chain->set_stem_stride(2);
  nas::v1::ChainStage* stage = chain->add_stages();
  stage->add_depths(1);
  stage->add_depths(2);
  stage->add_widths(8);
  stage->add_widths(16);
  stage->add_ops("conv3x3");
  stage->add_ops("ir_k3_e3");
  stage->set_stride(2);
  for (int c : choices) a.mutable_architecture()->add_choices(c);
  a.mutable_zero_cost()->set_score(proxy);
  a.mutable_zero_cost()->set_batch_size(16);
  a.set_seed(7);
  return a;
}

class ZeroCostEstimatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (DataDir() == nullptr) {
      GTEST_SKIP() << "NAS_DATA_DIR is not set (run scripts/prepare_data.sh)";
    }
  }
  ZeroCostEstimator estimator_{ZeroCostEstimatorOptions{}, Datasets()};
};

TEST_F(ZeroCostEstimatorTest, EveryProxyScoresDeterministically) {
  for (const char* proxy : {"synflow", "naswot", "grad_norm", "params",
                            "flops"}) {
    SCOPED_TRACE(proxy);
    const nas::v1::TrialAssignment a = Assignment(proxy, {1, 1, 0, 1});
    absl::StatusOr<Evaluation> first = estimator_.Evaluate(a, nullptr);
    ASSERT_TRUE(first.ok()) << first.status();
    const nas::v1::TrialMetrics& m = first->metrics;
    ASSERT_TRUE(m.has_zero_cost_score());
    EXPECT_TRUE(std::isfinite(m.zero_cost_score()));
    EXPECT_GT(m.params(), 0);
    EXPECT_GT(m.flops(), 0);
    EXPECT_LT(m.train_seconds(), 5.0);
    EXPECT_FALSE(m.has_val_accuracy()) << "nothing was trained";
    EXPECT_TRUE(first->upload.empty());
    absl::StatusOr<Evaluation> again = estimator_.Evaluate(a, nullptr);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->metrics.zero_cost_score(), m.zero_cost_score());
  }
}

TEST_F(ZeroCostEstimatorTest, ScoresAreThoseOfWorkerTrain) {
  const nas::v1::TrialAssignment a = Assignment("synflow", {1, 1, 1, 1});
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(a.space());
  ASSERT_TRUE(space.ok());
  const space::NetworkSpec network =
      (*space)->Network({1, 1, 1, 1}, space::InputShape{1, 28, 28, 10});
  train::ZeroCostOptions options;
  options.seed = 7;
  double synflow = 0;
  std::string error;
  ASSERT_TRUE(train::SynflowScore(network, options, &synflow, &error)) << error;
  absl::StatusOr<Evaluation> e = estimator_.Evaluate(a, nullptr);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_DOUBLE_EQ(e->metrics.zero_cost_score(), std::log(synflow));
  EXPECT_EQ(e->metrics.params(), train::CountParameters(network));

  // The bigger network has more parameters, and params says so.
  absl::StatusOr<Evaluation> small =
      estimator_.Evaluate(Assignment("params", {0, 0, 0, 0}), nullptr);
  absl::StatusOr<Evaluation> big =
      estimator_.Evaluate(Assignment("params", {1, 1, 1, 1}), nullptr);
  ASSERT_TRUE(small.ok() && big.ok());
  EXPECT_LT(small->metrics.zero_cost_score(), big->metrics.zero_cost_score());
}

TEST_F(ZeroCostEstimatorTest, RefusesOtherKindsAndBadArchitectures) {
  nas::v1::TrialAssignment a = Assignment("synflow", {0, 0, 0, 0});
  a.set_kind(nas::v1::TRIAL_KIND_TRAIN);
  EXPECT_EQ(estimator_.Evaluate(a, nullptr).status().code(),
            absl::StatusCode::kFailedPrecondition);
  absl::StatusOr<Evaluation> bad =
      estimator_.Evaluate(Assignment("synflow", {5, 0, 0, 0}), nullptr);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FaultOf(bad.status()), nas::v1::FAULT_KIND_TRIAL);
  EXPECT_EQ(
      estimator_.Evaluate(Assignment("snip", {0, 0, 0, 0}), nullptr)
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(ZeroCostEstimatorTest, DeclaresZeroCostTrials) {
  const nas::v1::Capabilities caps = estimator_.Capabilities();
  EXPECT_EQ(caps.estimator(), "zero_cost");
  ASSERT_GT(caps.can_run_size(), 0);
  for (const nas::v1::Capability& c : caps.can_run()) {
    ASSERT_EQ(c.kinds_size(), 1);
    EXPECT_EQ(c.kinds(0), nas::v1::TRIAL_KIND_ZERO_COST);
  }
}

}  // namespace
}  // namespace nas::worker
