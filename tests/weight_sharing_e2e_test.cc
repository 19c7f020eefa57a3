// Weight sharing end to end: nas-controller and nas-worker processes over
// loopback gRPC, a real PostgreSQL, real LibTorch on the MNIST subset. A
// search runs its three phases (supernet rounds merged by the controller,
// candidates scored with inherited weights, the best retrained), and
// survives a shard worker killed mid-round.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/tensor/tensor_archive.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

// The e2e test's small chain space; shards of a few dozen steps train in
// seconds on one core.
constexpr char kWeightSharingSearch[] = R"(
name: e2e-weight-sharing
seed: 5
dataset: {name: mnist, validation_fraction: 0.1}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
      - {depths: [1], widths: [16, 24], ops: [conv3x3, ir_k3_e3], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 10, parallelism: 2, max_attempts: 3}
training: {epochs: 2, data_fraction: 1.0, batch_size: 64, learning_rate: 0.05}
estimation:
  weight_sharing:
    supernet: {rounds: 2, shards_per_round: 2, steps_per_shard: 150, batch_size: 64, learning_rate: 0.1}
    candidates: {bn_recalibration_batches: 5}
    retrain_top_k: 2
)";

std::string Sql(Cluster& cluster, const std::string& query) {
  return cluster.db().QueryScalar(query);
}

// The bytes of a stored checkpoint, read back through SQL.
std::string CheckpointBytes(Cluster& cluster, const std::string& where) {
  const std::string hex = Sql(
      cluster,
      absl::StrCat("SELECT encode(string_agg(c.data, ''::bytea ORDER BY "
                   "c.seq), 'hex') FROM checkpoint_chunks c JOIN checkpoints k "
                   "ON k.id = c.checkpoint_id WHERE ",
                   where));
  return absl::HexStringToBytes(hex);
}

int CountLines(const std::string& text, const std::string& needle) {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    n += absl::StrContains(line, needle);
  }
  return n;
}

TEST(WeightSharingEndToEnd, ThreePhasesMergeScoreAndRetrain) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  nas::v1::Search search;
  ASSERT_TRUE(
      RunSearchToCompletion(cluster, ParseSpec(kWeightSharingSearch), &search));
  EXPECT_EQ(search.state_reason(), "");
  EXPECT_EQ(search.supernet_version(), 2);

  // 2 rounds x 2 shards, 10 candidates, 2 retrainings; all completed.
  const std::vector<nas::v1::Trial> trials =
      ListAllTrialsOrFail(cluster.search(), search.id());
  std::map<nas::v1::TrialKind, int> completed;
  for (const nas::v1::Trial& t : trials) {
    EXPECT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED)
        << t.number() << ": " << t.reason();
    ++completed[t.kind()];
  }
  EXPECT_EQ(completed[nas::v1::TRIAL_KIND_SUPERNET_SHARD], 4);
  EXPECT_EQ(completed[nas::v1::TRIAL_KIND_SCORE_INHERITED], 10);
  EXPECT_EQ(completed[nas::v1::TRIAL_KIND_RETRAIN], 2);
  EXPECT_EQ(completed[nas::v1::TRIAL_KIND_TRAIN], 0);

  // Phases in order: every shard before any candidate, every candidate
  // before any retraining.
  int last_phase = 0;
  for (const nas::v1::Trial& t : trials) {
    const int phase = t.kind() == nas::v1::TRIAL_KIND_SUPERNET_SHARD  ? 1
                      : t.kind() == nas::v1::TRIAL_KIND_SCORE_INHERITED ? 2
                                                                       : 3;
    EXPECT_GE(phase, last_phase) << "trial #" << t.number();
    last_phase = phase;
  }

  // Candidates inherited the last version and scored well above chance
  // (10%): the supernet learned.
  double best_score = 0;
  std::vector<std::pair<double, std::string>> scores;
  for (const nas::v1::Trial& t : trials) {
    if (t.kind() != nas::v1::TRIAL_KIND_SCORE_INHERITED) continue;
    EXPECT_EQ(t.task().checkpoint_version(), 2);
    EXPECT_GT(t.metrics().params(), 0);
    EXPECT_GT(t.metrics().flops(), 0);
    EXPECT_TRUE(t.metrics().has_latency_ms());
    best_score = std::max(best_score, t.metrics().val_accuracy());
    scores.emplace_back(t.metrics().val_accuracy(), t.architecture().text());
  }
  EXPECT_GT(best_score, 0.4) << cluster.Logs();

  // The retrained ones are the two best scored, and only they rank as best
  // trials, with real (stand-alone) results.
  std::sort(scores.rbegin(), scores.rend());
  std::set<std::string> retrained;
  for (const nas::v1::Trial& t : trials) {
    if (t.kind() == nas::v1::TRIAL_KIND_RETRAIN) {
      retrained.insert(t.architecture().text());
      EXPECT_EQ(t.epochs_size(), 2);
    }
  }
  EXPECT_EQ(retrained,
            (std::set<std::string>{scores[0].second, scores[1].second}));
  nas::v1::GetBestTrialsResponse best;
  ASSERT_TRUE(GetBestTrials(cluster.search(), search.id(), 5, &best).ok());
  ASSERT_EQ(best.trials_size(), 2);
  for (const nas::v1::Trial& t : best.trials()) {
    EXPECT_EQ(t.kind(), nas::v1::TRIAL_KIND_RETRAIN);
  }
  EXPECT_GT(best.trials(0).metrics().test_accuracy(), 0.8);
  const std::string id = absl::StrCat(search.id());
  // The view ranks the two retrained trials and nothing else.
  EXPECT_EQ(Sql(cluster,
                "SELECT count(*) FILTER (WHERE t.kind <> 'RETRAIN') || '/' || "
                "count(*) FROM best_trials b JOIN trials t ON t.id = "
                "b.trial_id WHERE b.search_id = " + id),
            "0/2");

  // Lineage in SQL: versions 1 and 2, each merged from its round's two
  // shards and started from the one before; the retrainings kept weights.
  EXPECT_EQ(Sql(cluster,
                "SELECT string_agg(version || '<' || parent_version, ',' "
                "ORDER BY version) FROM checkpoints WHERE version > 0 AND "
                "search_id = " + id),
            "1<0,2<1");
  EXPECT_EQ(Sql(cluster,
                "SELECT count(*) FROM checkpoints k JOIN trials t ON "
                "t.id = k.trial_id WHERE t.kind = 'RETRAIN' AND k.size > 0 "
                "AND t.search_id = " + id),
            "2");

  // The answer exports: the best retrained network with its weights.
  {
    nas::v1::ModelManifest manifest;
    std::string bytes;
    const grpc::Status status =
        ExportModel(cluster.search(), search.id(), -1, &manifest, &bytes);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(manifest.trial_number(), best.trials(0).number());
    EXPECT_EQ(manifest.trial_kind(), nas::v1::TRIAL_KIND_RETRAIN);
    tensor::TensorMap weights;
    std::string error;
    ASSERT_TRUE(tensor::Parse(bytes, &weights, &error)) << error;
    EXPECT_EQ(weights.count("classifier.weight"), 1u);
  }

  // The merge is the weighted average of the round's shard uploads.
  const std::string merged_ids =
      Sql(cluster, "SELECT array_to_string(merged_trial_ids, ',') FROM "
                   "checkpoints WHERE version = 1 AND search_id = " + id);
  std::vector<const tensor::TensorMap*> parts;
  std::vector<tensor::TensorMap> shards;
  std::vector<double> weights;
  shards.reserve(2);
  for (absl::string_view trial_id : absl::StrSplit(merged_ids, ',')) {
    std::string error;
    ASSERT_TRUE(tensor::Parse(
        CheckpointBytes(cluster, absl::StrCat("k.trial_id = ", trial_id)),
        &shards.emplace_back(), &error))
        << error;
    double weight = 0;
    ASSERT_TRUE(absl::SimpleAtod(
        Sql(cluster, absl::StrCat("SELECT merge_weight FROM checkpoints "
                                  "WHERE trial_id = ", trial_id)),
        &weight));
    EXPECT_GT(weight, 0);
    weights.push_back(weight);
  }
  ASSERT_EQ(shards.size(), 2u);
  for (const tensor::TensorMap& s : shards) parts.push_back(&s);
  tensor::TensorMap expected, stored;
  std::string error;
  ASSERT_TRUE(tensor::WeightedAverage(parts, weights, &expected, &error))
      << error;
  ASSERT_TRUE(tensor::Parse(
      CheckpointBytes(cluster, "k.version = 1 AND k.search_id = " + id),
      &stored, &error))
      << error;
  ASSERT_EQ(stored.size(), expected.size());
  for (const auto& [name, tensor] : expected) {
    ASSERT_EQ(stored.count(name), 1u) << name;
    EXPECT_EQ(stored.at(name).values, tensor.values) << name;
  }

  // Ten candidates of version 2 were scored by two workers, each of which
  // fetched it once and scored the rest from its cached copy.
  const std::string log = cluster.controller()->ReadLog();
  const int fetches = CountLines(
      log, absl::StrCat("fetched search ", id, " supernet version 2 ("));
  EXPECT_GE(fetches, 1) << log;
  EXPECT_LE(fetches, 2) << log;
}

// `nasctl watch` shows each shard's round and slice from its started event
// (it read "round 1, shard 1/0" for every shard when the event had no task).
TEST(WeightSharingEndToEnd, AShardsStartedEventNamesItsRoundAndShard) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int64_t id =
      CreateSearchOrFail(cluster.search(), ParseSpec(kWeightSharingSearch));
  ASSERT_GT(id, 0);
  nas::v1::WatchSearchRequest watch;
  watch.set_search_id(id);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  auto reader = cluster.search().WatchSearch(&context, watch);
  nas::v1::SearchEvent event;
  ASSERT_TRUE(reader->Read(&event));  // the snapshot: subscribed
  const std::string worker = RegisterWorkerOrFail(cluster.worker_api(), "w");
  const nas::v1::TrialAssignment second_shard = [&] {
    AcquireTrialOrFail(cluster.worker_api(), worker, 5000);
    return AcquireTrialOrFail(cluster.worker_api(), worker, 5000);
  }();
  ASSERT_EQ(second_shard.kind(), nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  std::vector<nas::v1::SupernetTask> started;
  while (started.size() < 2 && reader->Read(&event)) {
    if (event.has_trial_started())
      started.push_back(event.trial_started().task());
  }
  context.TryCancel();
  ASSERT_EQ(started.size(), 2u);
  EXPECT_EQ(started[1].num_shards(), 2);
  EXPECT_EQ(started[1].shard_index(), second_shard.task().shard_index());
  EXPECT_NE(started[0].shard_index(), started[1].shard_index());
  EXPECT_EQ(started[1].round(), 0);
}

TEST(WeightSharingEndToEnd, AShardWorkerKilledMidRoundIsRetried) {
  ClusterOptions options;
  options.lease_seconds = 3;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  nas::v1::SearchSpec spec = ParseSpec(kWeightSharingSearch);
  auto* ws = spec.mutable_estimation()->mutable_weight_sharing();
  // Long enough shards that one is surely mid-way when killed.
  ws->mutable_supernet()->set_steps_per_shard(400);
  ws->set_retrain_top_k(1);
  spec.mutable_budget()->set_max_trials(3);
  spec.mutable_training()->set_epochs(1);
  spec.mutable_training()->set_data_fraction(0.2);
  nas::v1::Search search;
  ASSERT_TRUE(CreateSearch(cluster.search(), spec, &search).ok());
  cluster.StartWorkers(2);
  const std::string id = absl::StrCat(search.id());

  // Kill the worker of a running shard. A shard can finish between the
  // query that finds it and the kill (a few hundred steps take a second or
  // two on a fast machine), so the kill counts only if the shard is still
  // RUNNING under the dead worker afterwards; otherwise try the next one.
  bool killed_mid_shard = false;
  std::string trial_id;
  int killed_attempt = 0;
  std::set<std::string> killed_workers;
  for (int tries = 0; tries < 5 && !killed_mid_shard; ++tries) {
    std::string victim;
    ASSERT_TRUE(WaitFor(
        [&] {
          const std::string running =
              Sql(cluster,
                  "SELECT string_agg(id || ' ' || worker_id, ',' ORDER BY "
                  "number) FROM trials WHERE state = 'RUNNING' AND kind = "
                  "'SUPERNET_SHARD' AND search_id = " + id);
          for (absl::string_view row : absl::StrSplit(
                   running, ',', absl::SkipEmpty())) {
            const std::vector<std::string> fields = absl::StrSplit(row, ' ');
            if (fields.size() == 2 && !killed_workers.count(fields[1])) {
              trial_id = fields[0];
              victim = fields[1];
              return true;
            }
          }
          return false;
        },
        std::chrono::seconds(60)))
        << cluster.Logs();
    // Each worker logs the id it registered as.
    Subprocess* worker = nullptr;
    for (auto& candidate : cluster.workers()) {
      if (candidate->running() &&
          absl::StrContains(candidate->ReadLog(), "registered as " + victim)) {
        worker = candidate.get();
      }
    }
    ASSERT_NE(worker, nullptr) << victim << cluster.Logs();
    worker->Signal(SIGKILL);
    killed_workers.insert(victim);
    cluster.StartWorkers(1);
    // Only the lease's expiry (3 s) can change a dead worker's trial.
    const std::vector<std::string> after = absl::StrSplit(
        Sql(cluster, "SELECT state || ' ' || worker_id || ' ' || attempt "
                     "FROM trials WHERE id = " + trial_id),
        ' ');
    killed_mid_shard = after.size() == 3 && after[0] == "RUNNING" &&
                       after[1] == victim &&
                       absl::SimpleAtoi(after[2], &killed_attempt);
  }
  ASSERT_TRUE(killed_mid_shard) << cluster.Logs();

  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), search.id(),
                                 std::chrono::minutes(10)))
      << cluster.Logs();
  ASSERT_TRUE(GetSearch(cluster.search(), search.id(), &search).ok());
  ASSERT_EQ(search.state(), nas::v1::SEARCH_STATE_COMPLETED)
      << search.state_reason() << cluster.Logs();
  // The killed shard was leased again and the versions have no gaps. (A
  // shard whose worker died in an earlier try may have been leased before.)
  EXPECT_EQ(Sql(cluster, "SELECT state || ' ' || attempt FROM trials WHERE "
                         "id = " + trial_id),
            absl::StrCat("COMPLETED ", killed_attempt + 1));
  EXPECT_EQ(Sql(cluster,
                "SELECT string_agg(version::text, ',' ORDER BY version) FROM "
                "checkpoints WHERE version > 0 AND search_id = " + id),
            "1,2");
  // Each version merged exactly its round's two shards.
  EXPECT_EQ(Sql(cluster,
                "SELECT count(*) FROM checkpoints WHERE version > 0 AND "
                "cardinality(merged_trial_ids) = 2 AND search_id = " + id),
            "2");
}

}  // namespace
}  // namespace nas::testing
