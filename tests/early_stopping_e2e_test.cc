// Early stopping end to end: nas-controller and nas-worker processes over
// loopback gRPC, a real PostgreSQL, real LibTorch on the MNIST subset.
// ASHA stops trials at their rungs and promotes others; a trial whose worker
// is killed after a rung goes on from the state it saved there, on another
// worker.
#include <signal.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

constexpr char kSmallStage[] =
    "{depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], "
    "stride: 2}";

std::string SpecYaml(const std::string& name, int max_trials, int parallelism,
                     int epochs, double data_fraction,
                     const std::string& early_stopping,
                     const std::string& stage = kSmallStage) {
  return absl::StrCat(R"(
name: )", name, R"(
seed: 3
dataset: {name: mnist, validation_fraction: 0.1}
space:
  chain:
    stem_channels: 8
    stages:
      - )", stage, R"(
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: )", max_trials, ", parallelism: ", parallelism, R"(, max_attempts: 3}
training: {epochs: )", epochs, ", data_fraction: ", data_fraction, R"(, batch_size: 64, learning_rate: 0.05}
early_stopping: )", early_stopping, "\n");
}

std::string Sql(Cluster& cluster, const std::string& query) {
  return cluster.db().QueryScalar(query);
}

TEST(EarlyStoppingEndToEnd, AshaStopsAtRungsAndPromotes) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  nas::v1::Search search;
  ASSERT_TRUE(RunSearchToCompletion(
      cluster,
      ParseSpec(SpecYaml("e2e-asha", 10, 2, 4, 0.2,
                         "{asha: {min_epochs: 1, reduction_factor: 2}}")),
      &search));

  const std::vector<nas::v1::Trial> trials =
      ListAllTrialsOrFail(cluster.search(), search.id());
  ASSERT_EQ(trials.size(), 10u);
  int stopped = 0, completed = 0;
  for (const nas::v1::Trial& t : trials) {
    ASSERT_TRUE(t.has_rung()) << "trial #" << t.number();
    if (t.state() == nas::v1::TRIAL_STATE_STOPPED) {
      ++stopped;
      // Stopped at a rung (epoch 1 or 2), with its curve up to there and
      // the last epoch's validation metrics; never tested.
      EXPECT_TRUE(absl::StrContains(t.reason(), "is not in the top 1/2"))
          << t.reason();
      const int rung_epoch = t.rung() == 0 ? 1 : 2;
      ASSERT_EQ(t.epochs_size(), rung_epoch) << t.reason();
      EXPECT_EQ(t.metrics().val_accuracy(),
                t.epochs(rung_epoch - 1).val_accuracy());
      EXPECT_FALSE(t.metrics().has_test_accuracy());
      EXPECT_GT(t.metrics().train_seconds(), 0);
    } else {
      ASSERT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED) << t.reason();
      ++completed;
      EXPECT_EQ(t.epochs_size(), 4);
      EXPECT_EQ(t.rung(), 1) << "passed both rungs (epochs 1 and 2)";
      EXPECT_TRUE(t.metrics().has_test_accuracy());
    }
  }
  EXPECT_GT(stopped, 0) << cluster.Logs();
  EXPECT_GT(completed, 0);
  EXPECT_EQ(search.counts().stopped(), stopped);

  // Only trials that trained the full budget rank.
  nas::v1::GetBestTrialsResponse best;
  ASSERT_TRUE(GetBestTrials(cluster.search(), search.id(), 10, &best).ok());
  EXPECT_EQ(best.trials_size(), completed);
  for (const nas::v1::Trial& t : best.trials()) {
    EXPECT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED);
  }
  // SQL shows each trial's rung. Every trial saved its state at rung 0
  // (and the completed ones at rung 1), and the states of ended trials are
  // gone: nothing will resume them.
  const std::string id = absl::StrCat(search.id());
  EXPECT_EQ(Sql(cluster, "SELECT count(*) FROM trial_history WHERE rung IS "
                         "NOT NULL AND search_id = " + id),
            "10");
  const std::string log = cluster.controller()->ReadLog();
  int uploads = 0;
  for (size_t at = log.find("uploaded the weights of trial");
       at != std::string::npos;
       at = log.find("uploaded the weights of trial", at + 1)) {
    ++uploads;
  }
  EXPECT_GE(uploads, 10 + completed);
  // A completed trial's state was replaced by its final network, kept for
  // export; a stopped trial keeps nothing.
  EXPECT_EQ(Sql(cluster, "SELECT count(*) FILTER (WHERE t.state = "
                         "'COMPLETED') || '/' || count(*) FROM checkpoints k "
                         "JOIN trials t ON t.id = k.trial_id WHERE "
                         "t.search_id = " + id),
            absl::StrCat(completed, "/", completed));
  for (const nas::v1::Trial& t : trials) {
    if (t.state() != nas::v1::TRIAL_STATE_COMPLETED) continue;
    nas::v1::ModelManifest manifest;
    std::string weights;
    const grpc::Status exported = ExportModel(cluster.search(), search.id(),
                                              t.number(), &manifest, &weights);
    EXPECT_TRUE(exported.ok()) << "trial #" << t.number() << ": "
                               << exported.error_message();
  }
  EXPECT_TRUE(absl::StrContains(cluster.controller()->ReadLog(), "stopped: rung"))
      << cluster.Logs();
}

// ASHA with promotion (Li et al.): a trial at the rung (epoch 1 of 3) goes
// on only in the top third of the trials there, else it pauses; a paused
// trial that later arrivals put in that top is resumed from the state it
// saved at the rung, on whichever worker leases it, before any new trial.
TEST(EarlyStoppingEndToEnd, PausedTrialsArePromotedAndResumeFromTheirRung) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  nas::v1::Search search;
  ASSERT_TRUE(RunSearchToCompletion(
      cluster,
      ParseSpec(SpecYaml("e2e-promote", 9, 2, 3, 0.2,
                         "{asha: {min_epochs: 1, reduction_factor: 3, "
                         "promote: true}}")),
      &search));

  const std::vector<nas::v1::Trial> trials =
      ListAllTrialsOrFail(cluster.search(), search.id());
  ASSERT_EQ(trials.size(), 9u);
  const std::string id = absl::StrCat(search.id());
  int completed = 0, resumed = 0;
  for (const nas::v1::Trial& t : trials) {
    ASSERT_TRUE(t.has_rung()) << "trial #" << t.number();
    if (t.state() == nas::v1::TRIAL_STATE_STOPPED) {
      EXPECT_TRUE(absl::StrContains(t.reason(), "paused")) << t.reason();
      EXPECT_FALSE(absl::StrContains(t.reason(), "promoted")) << t.reason();
      ASSERT_EQ(t.epochs_size(), 1) << t.reason();
      continue;
    }
    ASSERT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED) << t.reason();
    ++completed;
    ASSERT_EQ(t.epochs_size(), 3) << "its curve stays whole";
    EXPECT_TRUE(t.metrics().has_test_accuracy());
    if (!absl::StrContains(t.reason(), "promoted past rung 0")) continue;
    ++resumed;
    // Paused, then leased again: it went on after epoch 1 from its state
    // instead of training again.
    EXPECT_GE(t.attempt(), 2) << t.reason();
    EXPECT_EQ(
        Sql(cluster, absl::StrCat("SELECT min(epoch) FROM epoch_metrics "
                                  "WHERE trial_id = ",
                                  t.id(), " AND attempt = ", t.attempt())),
        "2")
        << t.reason();
  }
  EXPECT_GT(completed, 0) << cluster.Logs();
  EXPECT_LT(completed, 9) << "nothing paused for good";
  EXPECT_GT(resumed, 0) << "no paused trial was promoted: " << cluster.Logs();
  EXPECT_EQ(Sql(cluster,
                "SELECT sum(promotions) FROM trial_history WHERE "
                "search_id = " +
                    id),
            absl::StrCat(resumed));
  // The worker that took a promoted trial fetched its state.
  std::string worker_logs;
  for (const auto& worker : cluster.workers()) worker_logs += worker->ReadLog();
  EXPECT_TRUE(absl::StrContains(worker_logs, "resumed after epoch 1"))
      << cluster.Logs();
  // The paused trials' states went with the search's end; the completed
  // ones keep their final networks.
  EXPECT_EQ(Sql(cluster,
                "SELECT count(*) FROM checkpoints k JOIN trials t "
                "ON t.id = k.trial_id WHERE t.state = 'STOPPED' AND "
                "t.search_id = " +
                    id),
            "0");
}

TEST(EarlyStoppingEndToEnd, KilledWorkerResumesFromTheRungState) {
  ClusterOptions options;
  options.lease_seconds = 4;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(1);
  nas::v1::Search search;
  // One trial of 8 epochs with rungs at 2 and 6: alone, it is always
  // promoted, and saves its state after epochs 2 and 6. Its one
  // architecture trains for about a second per epoch, so the kill after
  // epoch 2 lands well before the next save.
  ASSERT_TRUE(CreateSearch(
                  cluster.search(),
                  ParseSpec(SpecYaml(
                      "e2e-resume", 1, 1, 8, 1.0,
                      "{asha: {min_epochs: 2, reduction_factor: 3}}",
                      "{depths: [2], widths: [16], ops: [ir_k3_e3], "
                      "stride: 2}")),
                  &search)
                  .ok());
  const std::string id = absl::StrCat(search.id());
  // Kill the worker once the trial has saved its state after epoch 2.
  ASSERT_TRUE(WaitFor(
      [&] {
        return Sql(cluster, "SELECT count(*) FROM epoch_metrics WHERE epoch "
                            ">= 2 AND search_id = " + id) != "0";
      },
      std::chrono::seconds(300)))
      << cluster.Logs();
  cluster.workers()[0]->Signal(SIGKILL);
  const std::string reported = Sql(
      cluster, "SELECT max(epoch) FROM epoch_metrics WHERE search_id = " + id);
  ASSERT_TRUE(reported == "2" || reported == "3" || reported == "4")
      << reported;

  cluster.StartWorkers(1);
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), search.id(),
                                 std::chrono::minutes(10)))
      << cluster.Logs();
  const std::vector<nas::v1::Trial> trials =
      ListAllTrialsOrFail(cluster.search(), search.id());
  ASSERT_EQ(trials.size(), 1u);
  const nas::v1::Trial& t = trials[0];
  ASSERT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED) << t.reason();
  EXPECT_EQ(t.attempt(), 2);
  // The curve is whole: epochs 1-2 from the first attempt, 3-8 from the
  // second, which went on after epoch 2 instead of training again.
  ASSERT_EQ(t.epochs_size(), 8);
  for (int e = 0; e < 8; ++e) EXPECT_EQ(t.epochs(e).epoch(), e + 1);
  EXPECT_EQ(Sql(cluster, "SELECT min(epoch) FROM epoch_metrics WHERE attempt "
                         "= 2 AND search_id = " + id),
            "3");
  const std::string second_log = cluster.workers()[1]->ReadLog();
  EXPECT_TRUE(absl::StrContains(second_log, "resumed after epoch 2"))
      << second_log;
  EXPECT_TRUE(absl::StrContains(cluster.controller()->ReadLog(),
                                "fetched the saved state of trial"))
      << cluster.Logs();
  EXPECT_GT(t.metrics().test_accuracy(), 0.8) << cluster.Logs();
}

// Weight sharing with ASHA: candidates inherit the supernet's weights and
// are fine-tuned for 3 epochs, judged at the rung after epoch 1; the
// retrained answer comes from the candidates that finished fine-tuning.
constexpr char kFineTunedWeightSharing[] = R"(
name: e2e-ws-asha
seed: 4
dataset: {name: mnist, validation_fraction: 0.1}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 8, parallelism: 2, max_attempts: 3}
training: {epochs: 1, data_fraction: 0.3, batch_size: 64, learning_rate: 0.05}
estimation:
  weight_sharing:
    supernet: {rounds: 1, shards_per_round: 1, steps_per_shard: 300, batch_size: 64, learning_rate: 0.1}
    candidates:
      bn_recalibration_batches: 5
      fine_tune: {epochs: 3, data_fraction: 0.1, batch_size: 64}
    retrain_top_k: 1
early_stopping: {asha: {min_epochs: 1, reduction_factor: 3}}
)";

TEST(EarlyStoppingEndToEnd, WeightSharingCandidatesStopDuringFineTuning) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  nas::v1::Search search;
  ASSERT_TRUE(RunSearchToCompletion(
      cluster, ParseSpec(kFineTunedWeightSharing), &search));

  const std::vector<nas::v1::Trial> trials =
      ListAllTrialsOrFail(cluster.search(), search.id());
  std::vector<const nas::v1::Trial*> candidates, retrains;
  for (const nas::v1::Trial& t : trials) {
    if (t.kind() == nas::v1::TRIAL_KIND_SCORE_INHERITED) candidates.push_back(&t);
    if (t.kind() == nas::v1::TRIAL_KIND_RETRAIN) retrains.push_back(&t);
  }
  ASSERT_EQ(candidates.size(), 8u);
  ASSERT_EQ(retrains.size(), 1u);
  int stopped = 0;
  for (const nas::v1::Trial* t : candidates) {
    ASSERT_TRUE(t->has_rung()) << "candidate #" << t->number();
    EXPECT_FALSE(t->metrics().has_test_accuracy()) << "a score is an estimate";
    if (t->state() == nas::v1::TRIAL_STATE_STOPPED) {
      ++stopped;
      // Stopped after its first fine-tuning epoch, with that epoch's
      // validation as its (lower-fidelity) score.
      ASSERT_EQ(t->epochs_size(), 1) << t->reason();
      EXPECT_EQ(t->metrics().val_accuracy(), t->epochs(0).val_accuracy());
    } else {
      ASSERT_EQ(t->state(), nas::v1::TRIAL_STATE_COMPLETED) << t->reason();
      ASSERT_EQ(t->epochs_size(), 3);
      EXPECT_EQ(t->metrics().val_accuracy(), t->epochs(2).val_accuracy());
      EXPECT_GT(t->metrics().latency_ms(), 0);
    }
  }
  EXPECT_GT(stopped, 0) << cluster.Logs();
  EXPECT_LT(stopped, 8);
  // Fine-tuning starts from inherited weights: after one short epoch (11
  // steps) every candidate is well above chance (10%).
  for (const nas::v1::Trial* t : candidates) {
    EXPECT_GT(t->epochs(0).val_accuracy(), 0.25) << "candidate #" << t->number();
  }

  // The retrained candidate is the best one that finished fine-tuning.
  const nas::v1::Trial* best = nullptr;
  for (const nas::v1::Trial* t : candidates) {
    if (t->state() != nas::v1::TRIAL_STATE_COMPLETED) continue;
    if (best == nullptr ||
        t->metrics().val_accuracy() > best->metrics().val_accuracy()) {
      best = t;
    }
  }
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(retrains[0]->architecture().text(), best->architecture().text());
  EXPECT_EQ(retrains[0]->state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_FALSE(retrains[0]->has_rung()) << "retraining is never pruned";
  // The candidates saved their fine-tuning state at the rung; nothing is
  // left once they ended.
  const std::string id = absl::StrCat(search.id());
  EXPECT_EQ(Sql(cluster, "SELECT count(*) FROM checkpoints k JOIN trials t "
                         "ON t.id = k.trial_id WHERE t.kind = "
                         "'SCORE_INHERITED' AND t.search_id = " + id),
            "0");
  EXPECT_EQ(Sql(cluster, "SELECT count(*) FROM trial_history WHERE kind = "
                         "'SCORE_INHERITED' AND rung IS NOT NULL AND "
                         "search_id = " + id),
            "8");
}

TEST(EarlyStoppingEndToEnd, BadRuleIsRefusedWithTheField) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  nas::v1::Search search;
  nas::v1::SearchSpec spec = ParseSpec(SpecYaml("bad", 2, 1, 4, 0.1, "asha"));
  spec.mutable_early_stopping()->mutable_asha()->set_max_epochs(9);
  const grpc::Status status = CreateSearch(cluster.search(), spec, &search);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(),
                                "early_stopping.asha.max_epochs: must equal "
                                "training.epochs (4)"))
      << status.error_message();
}

}  // namespace
}  // namespace nas::testing
