#include "worker/routing_estimator.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nas::worker {
namespace {

// Records the kinds it is given and declares one chain capability.
class RecordingEstimator : public Estimator {
 public:
  explicit RecordingEstimator(std::string label, bool declare_kinds = false)
      : label_(std::move(label)), declare_kinds_(declare_kinds) {}
  absl::StatusOr<Evaluation> Evaluate(const nas::v1::TrialAssignment& a,
                                      const ProgressFn&) override {
    kinds.push_back(a.kind());
    return Evaluation();
  }
  nas::v1::Capabilities Capabilities() const override {
    nas::v1::Capabilities caps;
    caps.set_estimator(label_);
    nas::v1::Capability* c = caps.add_can_run();
    c->set_space(nas::v1::SPACE_KIND_CHAIN);
    c->add_datasets(nas::v1::DATASET_NAME_MNIST);
    c->add_datasets(nas::v1::DATASET_NAME_CIFAR10);
    if (declare_kinds_) c->add_kinds(nas::v1::TRIAL_KIND_SCORE_INHERITED);
    return caps;
  }
  std::vector<nas::v1::TrialKind> kinds;

 private:
  std::string label_;
  bool declare_kinds_;
};

nas::v1::TrialAssignment OfKind(int kind) {
  nas::v1::TrialAssignment a;
  a.set_kind(static_cast<nas::v1::TrialKind>(kind));
  return a;
}

TEST(RoutingEstimatorTest, HandsEachKindToItsEstimator) {
  RecordingEstimator torch("torch"), supernet("supernet");
  RoutingEstimator router(
      {{{nas::v1::TRIAL_KIND_TRAIN, nas::v1::TRIAL_KIND_RETRAIN}, &torch},
       {{nas::v1::TRIAL_KIND_SUPERNET_SHARD,
         nas::v1::TRIAL_KIND_SCORE_INHERITED},
        &supernet}});
  for (int kind :
       {nas::v1::TRIAL_KIND_UNSPECIFIED, nas::v1::TRIAL_KIND_TRAIN,
        nas::v1::TRIAL_KIND_SUPERNET_SHARD, nas::v1::TRIAL_KIND_RETRAIN,
        nas::v1::TRIAL_KIND_SCORE_INHERITED}) {
    ASSERT_TRUE(router.Evaluate(OfKind(kind), nullptr).ok()) << kind;
  }
  EXPECT_EQ(torch.kinds,
            (std::vector<nas::v1::TrialKind>{nas::v1::TRIAL_KIND_UNSPECIFIED,
                                             nas::v1::TRIAL_KIND_TRAIN,
                                             nas::v1::TRIAL_KIND_RETRAIN}));
  EXPECT_EQ(supernet.kinds, (std::vector<nas::v1::TrialKind>{
                                nas::v1::TRIAL_KIND_SUPERNET_SHARD,
                                nas::v1::TRIAL_KIND_SCORE_INHERITED}));
}

TEST(RoutingEstimatorTest, KindsItCannotRunAreClearErrors) {
  RecordingEstimator tabular("tabular");
  RoutingEstimator router(
      {{{nas::v1::TRIAL_KIND_TRAIN, nas::v1::TRIAL_KIND_RETRAIN}, &tabular}});
  absl::Status other =
      router.Evaluate(OfKind(nas::v1::TRIAL_KIND_SUPERNET_SHARD), nullptr)
          .status();
  // Another worker may run it: a worker fault, not the trial's.
  EXPECT_EQ(other.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(FaultOf(other), nas::v1::FAULT_KIND_WORKER);
  EXPECT_NE(other.message().find("TRIAL_KIND_SUPERNET_SHARD"),
            std::string::npos)
      << other;
  absl::Status unknown = router.Evaluate(OfKind(42), nullptr).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FaultOf(unknown), nas::v1::FAULT_KIND_TRIAL);
  EXPECT_NE(unknown.message().find("unknown trial kind 42"), std::string::npos)
      << unknown;
  EXPECT_TRUE(tabular.kinds.empty());
}

TEST(RoutingEstimatorTest, CapabilitiesMergeKindsPerSpaceAndData) {
  RecordingEstimator torch("torch"), supernet("supernet");
  RoutingEstimator router(
      {{{nas::v1::TRIAL_KIND_TRAIN, nas::v1::TRIAL_KIND_RETRAIN}, &torch},
       {{nas::v1::TRIAL_KIND_SUPERNET_SHARD,
         nas::v1::TRIAL_KIND_SCORE_INHERITED},
        &supernet}});
  const nas::v1::Capabilities caps = router.Capabilities();
  EXPECT_EQ(caps.estimator(), "torch+supernet");
  ASSERT_EQ(caps.can_run_size(), 1);
  const nas::v1::Capability& c = caps.can_run(0);
  EXPECT_EQ(c.space(), nas::v1::SPACE_KIND_CHAIN);
  EXPECT_EQ(c.datasets_size(), 2);
  EXPECT_EQ(
      std::vector<int>(c.kinds().begin(), c.kinds().end()),
      (std::vector<int>{nas::v1::TRIAL_KIND_TRAIN, nas::v1::TRIAL_KIND_RETRAIN,
                        nas::v1::TRIAL_KIND_SUPERNET_SHARD,
                        nas::v1::TRIAL_KIND_SCORE_INHERITED}));

  // An estimator's own kinds win over its route's.
  RecordingEstimator scorer("supernet", /*declare_kinds=*/true);
  RoutingEstimator narrow({{{nas::v1::TRIAL_KIND_SUPERNET_SHARD,
                             nas::v1::TRIAL_KIND_SCORE_INHERITED},
                            &scorer}});
  EXPECT_EQ(narrow.Capabilities().can_run(0).kinds_size(), 1);
}

TEST(RoutingEstimatorTest, TrainAndRetrainOnlyDeclareNoKinds) {
  RecordingEstimator tabular("tabular");
  RoutingEstimator router(
      {{{nas::v1::TRIAL_KIND_TRAIN, nas::v1::TRIAL_KIND_RETRAIN}, &tabular}});
  const nas::v1::Capabilities caps = router.Capabilities();
  EXPECT_EQ(caps.estimator(), "tabular");
  ASSERT_EQ(caps.can_run_size(), 1);
  EXPECT_EQ(caps.can_run(0).kinds_size(), 0);
}

}  // namespace
}  // namespace nas::worker
