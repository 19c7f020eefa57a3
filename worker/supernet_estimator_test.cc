// The supernet estimator (and the torch estimator's RETRAIN) with real
// LibTorch on real data: NAS_DATA_DIR must hold fashion_mnist/
// (scripts/prepare_data.sh); the tests skip without it. Small on purpose:
// a one-stage chain, a few steps, a few validation images.
#include "worker/supernet_estimator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/spec/space_from_proto.h"
#include "common/tensor/tensor_archive.h"
#include "worker/torch_estimator.h"
#include "worker/test_datasets.h"
#include "worker/train/supernet.h"

namespace nas::worker {
namespace {

// Versions in memory; counts fetches.
class FakeCheckpoints : public CheckpointSource {
 public:
  absl::StatusOr<std::string> FetchSupernet(int64_t search_id,
                                            int64_t version) override {
    ++fetches;
    if (!error.ok()) return error;
    auto it = versions.find({search_id, version});
    if (it == versions.end()) return absl::NotFoundError("no such version");
    return it->second;
  }
  std::map<std::pair<int64_t, int64_t>, std::string> versions;
  absl::Status error;
  int fetches = 0;
};

// Trial states in memory, as the controller keeps one per trial.
class FakeStates : public TrialStateStore {
 public:
  absl::Status SaveTrialState(const nas::v1::TrialAssignment& a,
                              const std::string& bytes) override {
    ++saves;
    states[a.trial_id()] = bytes;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> LoadTrialState(
      const nas::v1::TrialAssignment& a) override {
    auto it = states.find(a.trial_id());
    if (it == states.end()) return absl::NotFoundError("no saved state");
    return it->second;
  }
  std::map<int64_t, std::string> states;
  int saves = 0;
};

using test_data::DataDir;
using test_data::Datasets;

// Decisions: stage1.depth {1, 2}, stage1.width {8, 16}, stage1.layer1.op and
// stage1.layer2.op {conv3x3, skip}.
nas::v1::SearchSpace ChainSpace() {
  nas::v1::SearchSpace space;
  nas::v1::ChainSpace* chain = space.mutable_chain();
  chain->set_stem_channels(8);
  chain->set_stem_stride(2);
  nas::v1::ChainStage* stage = chain->add_stages();
  stage->add_depths(1);
  stage->add_depths(2);
  stage->add_widths(8);
  stage->add_widths(16);
  stage->add_ops("conv3x3");
  stage->add_ops("skip");
  stage->set_stride(2);
  return space;
}

train::SupernetSpace SupernetSpaceOf(const nas::v1::SearchSpace& proto) {
  absl::StatusOr<spec::SpaceConfig> config = spec::SearchSpaceConfig(proto);
  EXPECT_TRUE(config.ok()) << config.status();
  return train::SupernetSpace{*config, space::InputShape{1, 28, 28, 10}};
}

nas::v1::TrialAssignment Assignment(nas::v1::TrialKind kind) {
  nas::v1::TrialAssignment a;
  a.set_trial_id(1);
  a.set_search_id(5);
  a.set_kind(kind);
  a.mutable_dataset()->set_name(nas::v1::DATASET_NAME_FASHION_MNIST);
  a.mutable_dataset()->set_validation_fraction(0.1);
  *a.mutable_space() = ChainSpace();
  a.set_seed(11);
  return a;
}

nas::v1::TrialAssignment Shard(int64_t from_version, int steps) {
  nas::v1::TrialAssignment a = Assignment(nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  nas::v1::SupernetTask* t = a.mutable_task();
  t->set_checkpoint_version(from_version);
  t->set_shard_index(1);
  t->set_num_shards(4);
  t->set_steps(steps);
  t->set_learning_rate(0.05);
  t->set_batch_size(16);
  t->set_momentum(0.9);
  t->set_weight_decay(-1);  // off
  t->set_init_seed(3);
  return a;
}

nas::v1::TrialAssignment Score(int64_t version, std::vector<int> choices) {
  nas::v1::TrialAssignment a = Assignment(nas::v1::TRIAL_KIND_SCORE_INHERITED);
  for (int c : choices) a.mutable_architecture()->add_choices(c);
  nas::v1::SupernetTask* t = a.mutable_task();
  t->set_checkpoint_version(version);
  t->set_batch_size(32);
  t->set_bn_recalibration_batches(2);
  t->set_max_validation_images(128);
  return a;
}

class SupernetEstimatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (DataDir() == nullptr) {
      GTEST_SKIP() << "NAS_DATA_DIR is not set (run scripts/prepare_data.sh)";
    }
  }

  SupernetEstimatorOptions Options() {
    SupernetEstimatorOptions options;
    options.device = "cpu";
    return options;
  }

  // A supernet version made the way the controller makes them: a shard's
  // upload (merging one shard is the shard).
  std::string TrainedVersion(int64_t from_version, int steps = 3) {
    SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);
    absl::StatusOr<Evaluation> shard =
        estimator.Evaluate(Shard(from_version, steps), nullptr);
    EXPECT_TRUE(shard.ok()) << shard.status();
    return shard.ok() ? shard->upload : "";
  }

  FakeCheckpoints checkpoints_;
};

TEST_F(SupernetEstimatorTest, ShardFromVersionZeroUploadsALoadableSupernet) {
  SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);
  std::vector<nas::v1::EpochMetrics> reports;
  absl::StatusOr<Evaluation> shard =
      estimator.Evaluate(Shard(0, 3), [&](const nas::v1::EpochMetrics& m) {
        reports.push_back(m);
        return true;
      });
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(checkpoints_.fetches, 0);
  EXPECT_FALSE(shard->stopped);
  EXPECT_EQ(shard->merge_weight, 3 * 16);
  EXPECT_GT(shard->metrics.train_seconds(), 0);
  EXPECT_FALSE(shard->metrics.has_val_accuracy());
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_EQ(reports[0].epoch(), 1);
  EXPECT_GT(reports[0].train_loss(), 0);

  tensor::TensorMap tensors;
  std::string error;
  ASSERT_TRUE(tensor::Parse(shard->upload, &tensors, &error)) << error;
  train::SupernetPtr loaded = train::SupernetFromTensors(
      SupernetSpaceOf(ChainSpace()), tensors, &error);
  ASSERT_NE(loaded, nullptr) << error;
  // Trained: not the initial weights of version 0.
  std::string init_error;
  train::SupernetPtr initial =
      train::CreateSupernet(SupernetSpaceOf(ChainSpace()), 3, &init_error);
  ASSERT_NE(initial, nullptr) << init_error;
  EXPECT_NE(tensor::Serialize(train::SupernetTensors(*initial)), shard->upload);
}

TEST_F(SupernetEstimatorTest, ZeroStepsIsOnePassOverTheShardsPart) {
  SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);
  nas::v1::TrialAssignment a = Shard(0, 0);
  // 54,000 training images in 500 parts of 108: 4 batches of 32.
  a.mutable_task()->set_num_shards(500);
  a.mutable_task()->set_batch_size(32);
  absl::StatusOr<Evaluation> shard = estimator.Evaluate(a, nullptr);
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_EQ(shard->merge_weight, 4 * 32);
}

TEST_F(SupernetEstimatorTest, AStoppedShardUploadsNothing) {
  SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);
  absl::StatusOr<Evaluation> shard = estimator.Evaluate(
      Shard(0, 2), [](const nas::v1::EpochMetrics&) { return false; });
  ASSERT_TRUE(shard.ok()) << shard.status();
  EXPECT_TRUE(shard->stopped);
  EXPECT_TRUE(shard->upload.empty());
}

TEST_F(SupernetEstimatorTest, ScoresFetchEachVersionOnce) {
  checkpoints_.versions[{5, 1}] = TrainedVersion(0);
  checkpoints_.versions[{5, 2}] = checkpoints_.versions[{5, 1}];
  SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);

  absl::StatusOr<Evaluation> a =
      estimator.Evaluate(Score(1, {1, 1, 0, 1}), nullptr);
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<Evaluation> b =
      estimator.Evaluate(Score(1, {0, 0, 1, 0}), nullptr);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(checkpoints_.fetches, 1);
  absl::StatusOr<Evaluation> c =
      estimator.Evaluate(Score(2, {1, 1, 0, 1}), nullptr);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(checkpoints_.fetches, 2);
  // The same weights under another version number score the same.
  EXPECT_EQ(c->metrics.val_loss(), a->metrics.val_loss());

  const nas::v1::TrialMetrics& m = a->metrics;
  EXPECT_GE(m.val_accuracy(), 0);
  EXPECT_LE(m.val_accuracy(), 1);
  EXPECT_GT(m.val_loss(), 0);
  EXPECT_GT(m.params(), 0);
  EXPECT_GT(m.flops(), 0);
  EXPECT_GT(m.latency_ms(), 0);
  EXPECT_GT(m.train_seconds(), 0);
  EXPECT_FALSE(m.has_test_accuracy());
  EXPECT_TRUE(a->upload.empty());
  // Deeper and wider: more parameters.
  EXPECT_GT(a->metrics.params(), b->metrics.params());
}

// Weight sharing's fidelity for early stopping: a candidate fine-tuned
// from its inherited weights reports each epoch's validation, saves its
// state at its rung, and, stopped there and resumed from that state by a
// fresh estimator, ends exactly as the run that was never stopped.
TEST_F(SupernetEstimatorTest, FineTunedScoresReportEpochsAndResume) {
  // 200 steps of 16 images: a supernet that has learnt something.
  checkpoints_.versions[{5, 1}] = TrainedVersion(0, 200);
  nas::v1::TrialAssignment a = Score(1, {1, 1, 0, 0});
  nas::v1::TrainingBudget* fine_tune = a.mutable_task()->mutable_fine_tune();
  fine_tune->set_epochs(3);
  fine_tune->set_data_fraction(0.01);
  fine_tune->set_batch_size(32);
  fine_tune->set_learning_rate(0.02);
  a.add_checkpoint_epochs(1);

  FakeStates whole_states;
  std::vector<nas::v1::EpochMetrics> whole_reports;
  SupernetEstimator whole_run(Options(), Datasets(), &checkpoints_,
                              &whole_states);
  absl::StatusOr<Evaluation> whole =
      whole_run.Evaluate(a, [&](const nas::v1::EpochMetrics& m) {
        whole_reports.push_back(m);
        return true;
      });
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_EQ(whole_reports.size(), 3u);
  EXPECT_EQ(whole_reports[2].epoch(), 3);
  EXPECT_EQ(whole_states.saves, 1);
  const nas::v1::TrialMetrics& m = whole->metrics;
  EXPECT_EQ(m.val_accuracy(), whole_reports[2].val_accuracy());
  EXPECT_EQ(m.val_loss(), whole_reports[2].val_loss());
  EXPECT_FALSE(m.has_test_accuracy()) << "a score is an estimate";
  EXPECT_GT(m.latency_ms(), 0);
  EXPECT_GT(m.params(), 0);
  EXPECT_GT(m.train_seconds(), 0);
  EXPECT_TRUE(whole->upload.empty());
  // Inherited weights are a head start: after one epoch on 540 images the
  // candidate is well ahead of the same network trained from scratch on
  // the same images with the same budget.
  TorchEstimatorOptions scratch_options;
  scratch_options.device = "cpu";
  TorchEstimator scratch(scratch_options, Datasets());
  nas::v1::TrialAssignment from_scratch = Assignment(nas::v1::TRIAL_KIND_TRAIN);
  *from_scratch.mutable_architecture() = a.architecture();
  *from_scratch.mutable_budget() = *fine_tune;
  std::vector<double> scratch_accuracy;
  ASSERT_TRUE(scratch
                  .Evaluate(from_scratch,
                            [&](const nas::v1::EpochMetrics& e) {
                              scratch_accuracy.push_back(e.val_accuracy());
                              return true;
                            })
                  .ok());
  ASSERT_EQ(scratch_accuracy.size(), 3u);
  EXPECT_GT(whole_reports[0].val_accuracy(), scratch_accuracy[0] + 0.1)
      << "from scratch: " << scratch_accuracy[0];

  // Stopped at the rung after epoch 1, as early stopping's reply says.
  FakeStates states;
  SupernetEstimator first(Options(), Datasets(), &checkpoints_, &states);
  int reports = 0;
  absl::StatusOr<Evaluation> stopped =
      first.Evaluate(a, [&](const nas::v1::EpochMetrics&) {
        ++reports;
        return false;
      });
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stopped);
  EXPECT_EQ(reports, 1);
  ASSERT_EQ(states.saves, 1);

  // A later attempt on another worker goes on after epoch 1.
  a.set_resume(true);
  a.set_attempt(2);
  SupernetEstimator second(Options(), Datasets(), &checkpoints_, &states);
  std::vector<int> epochs;
  absl::StatusOr<Evaluation> resumed =
      second.Evaluate(a, [&](const nas::v1::EpochMetrics& e) {
        epochs.push_back(e.epoch());
        return true;
      });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(epochs, (std::vector<int>{2, 3}));
  EXPECT_EQ(resumed->metrics.val_accuracy(), m.val_accuracy());
  EXPECT_EQ(resumed->metrics.val_loss(), m.val_loss());
}

TEST_F(SupernetEstimatorTest, AShardTrainsACopyAndTheVersionStaysCached) {
  checkpoints_.versions[{5, 1}] = TrainedVersion(0);
  SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);
  absl::StatusOr<Evaluation> before =
      estimator.Evaluate(Score(1, {1, 1, 0, 0}), nullptr);
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(checkpoints_.fetches, 1);

  // Two shards of round 1 on this worker: both start from the cached
  // version, and neither changes it.
  absl::StatusOr<Evaluation> shard = estimator.Evaluate(Shard(1, 3), nullptr);
  ASSERT_TRUE(shard.ok()) << shard.status();
  absl::StatusOr<Evaluation> again = estimator.Evaluate(Shard(1, 3), nullptr);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(checkpoints_.fetches, 1);
  const std::string& version_one = checkpoints_.versions[{5, 1}];
  EXPECT_NE(shard->upload, version_one);

  absl::StatusOr<Evaluation> after =
      estimator.Evaluate(Score(1, {1, 1, 0, 0}), nullptr);
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(checkpoints_.fetches, 1);  // still cached, and untrained
  EXPECT_EQ(after->metrics.val_loss(), before->metrics.val_loss());
}

TEST_F(SupernetEstimatorTest, CorruptOrForeignArchivesAreRefused) {
  SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);
  checkpoints_.versions[{5, 1}] = "NASTNSR1 but not really";
  absl::Status corrupt =
      estimator.Evaluate(Score(1, {0, 0, 0, 0}), nullptr).status();
  EXPECT_EQ(corrupt.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(FaultOf(corrupt), nas::v1::FAULT_KIND_TRIAL);
  EXPECT_NE(corrupt.message().find(
                "supernet version 1 of search 5 is not a tensor archive"),
            std::string::npos)
      << corrupt;

  tensor::TensorMap foreign;
  foreign["stem.conv.weight"] = tensor::Tensor{{2}, {1.0f, 2.0f}};
  checkpoints_.versions[{5, 2}] = tensor::Serialize(foreign);
  absl::Status mismatch =
      estimator.Evaluate(Score(2, {0, 0, 0, 0}), nullptr).status();
  EXPECT_EQ(mismatch.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(mismatch.message().find("does not fit this search's space"),
            std::string::npos)
      << mismatch;

  // The source's own errors pass through with their fault.
  checkpoints_.error = absl::UnavailableError("controller unreachable");
  absl::Status unavailable = estimator.Evaluate(Shard(3, 1), nullptr).status();
  EXPECT_EQ(unavailable.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FaultOf(unavailable), nas::v1::FAULT_KIND_WORKER);
}

TEST_F(SupernetEstimatorTest, BadTasksAreTrialFaultsWithoutAFetch) {
  SupernetEstimator estimator(Options(), Datasets(), &checkpoints_);
  absl::Status arch =
      estimator.Evaluate(Score(1, {0, 5, 0, 0}), nullptr).status();
  EXPECT_EQ(arch.code(), absl::StatusCode::kInvalidArgument) << arch;
  nas::v1::TrialAssignment shard = Shard(0, 1);
  shard.mutable_task()->set_shard_index(4);
  absl::Status index = estimator.Evaluate(shard, nullptr).status();
  EXPECT_EQ(index.code(), absl::StatusCode::kInvalidArgument) << index;
  absl::Status version =
      estimator.Evaluate(Score(0, {0, 0, 0, 0}), nullptr).status();
  EXPECT_EQ(version.code(), absl::StatusCode::kInvalidArgument) << version;
  EXPECT_EQ(checkpoints_.fetches, 0);
}

TEST_F(SupernetEstimatorTest, MissingDataIsAWorkerFault) {
  SupernetEstimator estimator(
      Options(), std::make_shared<DatasetCache>("/nonexistent"), &checkpoints_);
  absl::Status missing = estimator.Evaluate(Shard(0, 1), nullptr).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kFailedPrecondition) << missing;
}

TEST_F(SupernetEstimatorTest, StandAloneTrialsUploadTheTrainedNetwork) {
  TorchEstimatorOptions options;
  options.device = "cpu";
  TorchEstimator estimator(options, Datasets());
  nas::v1::TrialAssignment a = Assignment(nas::v1::TRIAL_KIND_RETRAIN);
  for (int c : {1, 1, 0, 1}) a.mutable_architecture()->add_choices(c);
  a.mutable_budget()->set_epochs(1);
  a.mutable_budget()->set_data_fraction(0.005);
  a.mutable_budget()->set_batch_size(64);
  a.mutable_budget()->set_learning_rate(0.1);
  const ProgressFn go_on = [](const nas::v1::EpochMetrics&) { return true; };
  absl::StatusOr<Evaluation> retrain = estimator.Evaluate(a, go_on);
  ASSERT_TRUE(retrain.ok()) << retrain.status();
  ASSERT_FALSE(retrain->upload.empty());
  EXPECT_GT(retrain->metrics.test_accuracy(), 0);

  // The upload loads into the candidate's stand-alone network.
  tensor::TensorMap weights;
  std::string error;
  ASSERT_TRUE(tensor::Parse(retrain->upload, &weights, &error)) << error;
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(ChainSpace());
  ASSERT_TRUE(space.ok()) << space.status();
  const space::NetworkSpec network =
      (*space)->Network({1, 1, 0, 1}, space::InputShape{1, 28, 28, 10});
  std::vector<float> images(2 * 28 * 28, 0.5f), logits;
  ASSERT_TRUE(
      train::StandaloneLogits(network, weights, images, 2, &logits, &error))
      << error;
  EXPECT_EQ(logits.size(), 20u);

  // TRAIN trains the same way and keeps the same network (for export).
  a.set_kind(nas::v1::TRIAL_KIND_TRAIN);
  absl::StatusOr<Evaluation> train = estimator.Evaluate(a, go_on);
  ASSERT_TRUE(train.ok()) << train.status();
  EXPECT_TRUE(train->upload == retrain->upload);
  EXPECT_EQ(train->metrics.test_loss(), retrain->metrics.test_loss());
}

}  // namespace
}  // namespace nas::worker
