// Trial kinds of weight sharing in every TrialStore: the SupernetTask
// of shards and scores, the kind and task checks of the schema, ranking
// only real results (TRAIN, RETRAIN), and leasing each trial only to a
// worker that runs its kind.
#include <cstdint>
#include <string>
#include <vector>

#include "controller/store/store_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace nas::controller::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

using TrialKindsTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(TrialKindsTest);
// The schema's own checks.
using PostgresTrialKindsTest = StoreTest;

// A shard's task, with a seed above 2^63 so that its JSON string form
// matters.
nas::v1::SupernetTask ShardTask(int shard) {
  nas::v1::SupernetTask task;
  task.set_checkpoint_version(3);
  task.set_round(1);
  task.set_shard_index(shard);
  task.set_num_shards(4);
  task.set_steps(50);
  task.set_learning_rate(0.025);
  task.set_batch_size(128);
  task.set_momentum(-1);
  task.set_weight_decay(5e-4);
  task.set_init_seed(0x8000000000000005ULL);
  return task;
}

nas::v1::SupernetTask ScoreTask() {
  nas::v1::SupernetTask task;
  task.set_checkpoint_version(8);
  task.set_bn_recalibration_batches(20);
  task.set_max_validation_images(500);
  return task;
}

// StoreTest::Trial(i) as a trial of `kind`, with the task its kind needs.
NewTrial KindTrial(int i, nas::v1::TrialKind kind) {
  NewTrial trial = StoreTest::Trial(i);
  trial.kind = kind;
  if (kind == nas::v1::TRIAL_KIND_SUPERNET_SHARD) trial.task = ShardTask(i);
  if (kind == nas::v1::TRIAL_KIND_SCORE_INHERITED) trial.task = ScoreTask();
  return trial;
}

nas::v1::RegisterWorkerRequest ChainWorker(
    std::vector<nas::v1::DatasetName> datasets,
    std::vector<nas::v1::TrialKind> kinds) {
  nas::v1::RegisterWorkerRequest worker;
  worker.set_host("h");
  nas::v1::Capabilities* caps = worker.mutable_capabilities();
  caps->set_estimator("torch");
  nas::v1::Capability* c = caps->add_can_run();
  c->set_space(nas::v1::SPACE_KIND_CHAIN);
  for (nas::v1::DatasetName d : datasets) c->add_datasets(d);
  for (nas::v1::TrialKind k : kinds) c->add_kinds(k);
  return worker;
}

TEST_P(TrialKindsTest, TaskRoundTripsThroughListGetAndLease) {
  auto search = store().CreateSearch(Spec("ws", 3), "");
  ASSERT_TRUE(search.ok()) << search.status();
  ASSERT_TRUE(store()
                  .AddTrials(search->id(), 0,
                             {KindTrial(0, nas::v1::TRIAL_KIND_SUPERNET_SHARD),
                              KindTrial(1, nas::v1::TRIAL_KIND_SCORE_INHERITED),
                              KindTrial(2, nas::v1::TRIAL_KIND_RETRAIN)})
                  .ok());
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT count(*) FROM trials WHERE task IS NULL")[0][0]
                  .as<int>(),
              1)
        << "a RETRAIN trial has no task: NULL, not {}";
    // Zero fields are written too, so SQL reads shard 0 as 0, not NULL.
    EXPECT_EQ(db().Query("SELECT task->>'shard_index' FROM trials WHERE "
                         "kind = 'SUPERNET_SHARD'")[0][0]
                  .c_str(),
              std::string("0"));
  }

  auto listed = store().ListTrials(search->id(), {}, -1, 10);
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);
  EXPECT_EQ((*listed)[0].kind(), nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  EXPECT_TRUE(MessageDifferencer::Equals((*listed)[0].task(), ShardTask(0)))
      << (*listed)[0].task().DebugString();
  EXPECT_EQ((*listed)[1].kind(), nas::v1::TRIAL_KIND_SCORE_INHERITED);
  EXPECT_TRUE(MessageDifferencer::Equals((*listed)[1].task(), ScoreTask()));
  EXPECT_EQ((*listed)[2].kind(), nas::v1::TRIAL_KIND_RETRAIN);
  EXPECT_FALSE((*listed)[2].has_task());

  auto got = store().GetTrial((*listed)[1].id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(got->task(), ScoreTask()));

  const nas::v1::TrialAssignment shard = Lease("w");
  EXPECT_EQ(shard.kind(), nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  EXPECT_TRUE(MessageDifferencer::Equals(shard.task(), ShardTask(0)))
      << shard.task().DebugString();
  EXPECT_EQ(shard.task().init_seed(), 0x8000000000000005ULL);
  Lease("w");
  const nas::v1::TrialAssignment retrain = Lease("w");
  EXPECT_EQ(retrain.kind(), nas::v1::TRIAL_KIND_RETRAIN);
  EXPECT_FALSE(retrain.has_task());
}

TEST_P(TrialKindsTest, AddTrialsRefusesATaskThatDoesNotFitTheKind) {
  const int64_t id = NewSearch(3, 0);
  NewTrial shard_without_task =
      KindTrial(0, nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  shard_without_task.task.reset();
  absl::Status added = store().AddTrials(id, 0, {Trial(0), shard_without_task});
  EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument) << added;
  EXPECT_NE(added.message().find("trials[1]: a SUPERNET_SHARD trial needs a "
                                 "SupernetTask"),
            std::string::npos)
      << added;
  NewTrial train_with_task = Trial(0);
  train_with_task.task = ScoreTask();
  added = store().AddTrials(id, 0, {train_with_task});
  EXPECT_EQ(added.code(), absl::StatusCode::kInvalidArgument) << added;
  auto trials = store().ListTrials(id, {}, -1, 10);
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_TRUE(trials->empty()) << "nothing added";
}

TEST_F(PostgresTrialKindsTest,
       SchemaAllowsTheFourKindsAndTasksOnlyWhereTheyBelong) {
  const int64_t id = NewSearch(9, 0);
  const std::string insert =
      "INSERT INTO trials (search_id, number, kind, task) VALUES (" +
      std::to_string(id) + ", ";
  db().Query(insert + "0, 'TRAIN', NULL)");
  db().Query(insert + "1, 'SUPERNET_SHARD', '{\"round\": 1}')");
  db().Query(insert + "2, 'SCORE_INHERITED', '{}')");
  db().Query(insert + "3, 'RETRAIN', NULL)");
  EXPECT_THROW(db().Query(insert + "4, 'EVOLVE', NULL)"),
               pqxx::check_violation);
  EXPECT_THROW(db().Query(insert + "4, 'SUPERNET_SHARD', NULL)"),
               pqxx::check_violation);
  EXPECT_THROW(db().Query(insert + "4, 'RETRAIN', '{}')"),
               pqxx::check_violation);
  auto trials = store().ListTrials(id, {}, -1, 10);
  ASSERT_TRUE(trials.ok()) << trials.status();
  ASSERT_EQ(trials->size(), 4u);
  EXPECT_EQ((*trials)[1].task().round(), 1);
  EXPECT_EQ((*trials)[2].kind(), nas::v1::TRIAL_KIND_SCORE_INHERITED);
  EXPECT_TRUE((*trials)[2].has_task());
}

// Shards and inherited-weight scores score higher than the real results
// here; neither may rank.
TEST_P(TrialKindsTest, BestTrialsRankOnlyTrainAndRetrain) {
  auto search = store().CreateSearch(Spec("ws", 4), "");
  ASSERT_TRUE(search.ok()) << search.status();
  const std::vector<std::pair<nas::v1::TrialKind, double>> trials = {
      {nas::v1::TRIAL_KIND_SUPERNET_SHARD, 0.99},
      {nas::v1::TRIAL_KIND_SCORE_INHERITED, 0.98},
      {nas::v1::TRIAL_KIND_RETRAIN, 0.70},
      {nas::v1::TRIAL_KIND_TRAIN, 0.80}};
  std::vector<NewTrial> batch;
  for (size_t i = 0; i < trials.size(); ++i) {
    batch.push_back(KindTrial(static_cast<int>(i), trials[i].first));
  }
  ASSERT_TRUE(store().AddTrials(search->id(), 0, batch).ok());
  for (const auto& [kind, accuracy] : trials) {
    const nas::v1::TrialAssignment a = Lease("w");
    ASSERT_EQ(a.kind(), kind);
    nas::v1::TrialMetrics metrics;
    metrics.set_val_accuracy(accuracy);
    ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), metrics).ok());
  }
  auto best = store().BestTrials(search->id(), 10);
  ASSERT_TRUE(best.ok()) << best.status();
  std::vector<int32_t> numbers;
  for (const nas::v1::Trial& trial : *best) numbers.push_back(trial.number());
  EXPECT_EQ(numbers, (std::vector<int32_t>{3, 2}));
  if (!postgres()) return;

  const pqxx::result view =
      db().Query("SELECT rank, number FROM best_trials WHERE search_id = " +
                 std::to_string(search->id()) + " ORDER BY rank");
  ASSERT_EQ(view.size(), 2u);
  EXPECT_EQ(view[0]["rank"].as<int>(), 1);
  EXPECT_EQ(view[0]["number"].as<int>(), 3);
  EXPECT_EQ(view[1]["number"].as<int>(), 2);
  // trial_history shows every kind, with its task.
  EXPECT_EQ(db().Query("SELECT count(*) FROM trial_history WHERE kind IN "
                       "('SUPERNET_SHARD', 'SCORE_INHERITED') AND task IS NOT "
                       "NULL")[0][0]
                .as<int>(),
            2);
}

TEST_P(TrialKindsTest, TrialsAreLeasedOnlyToWorkersThatRunTheirKind) {
  // Spec(): chain on Fashion-MNIST. A shard first, then a retrain.
  auto search = store().CreateSearch(Spec("ws", 2), "");
  ASSERT_TRUE(search.ok()) << search.status();
  ASSERT_TRUE(store()
                  .AddTrials(search->id(), 0,
                             {KindTrial(0, nas::v1::TRIAL_KIND_SUPERNET_SHARD),
                              KindTrial(1, nas::v1::TRIAL_KIND_RETRAIN)})
                  .ok());
  // Declares no kinds: TRAIN and RETRAIN, as before weight sharing.
  auto trainer = store().RegisterWorker(
      ChainWorker({nas::v1::DATASET_NAME_FASHION_MNIST}, {}));
  auto elsewhere = store().RegisterWorker(ChainWorker(
      {nas::v1::DATASET_NAME_CIFAR10}, {nas::v1::TRIAL_KIND_SUPERNET_SHARD}));
  auto shards = store().RegisterWorker(
      ChainWorker({}, {nas::v1::TRIAL_KIND_SUPERNET_SHARD}));
  ASSERT_TRUE(trainer.ok() && elsewhere.ok() && shards.ok());

  const nas::v1::TrialAssignment retrain = Lease(*trainer);
  EXPECT_EQ(retrain.trial_number(), 1) << "the shard is skipped, not leased";
  EXPECT_EQ(retrain.kind(), nas::v1::TRIAL_KIND_RETRAIN);
  auto none = store().LeaseTrial(*elsewhere, absl::Seconds(30));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value()) << "shards, but of another data set";
  none = store().LeaseTrial(*trainer, absl::Seconds(30));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value()) << "a trainer is never leased a shard";
  const nas::v1::TrialAssignment shard = Lease(*shards);
  EXPECT_EQ(shard.trial_number(), 0);
  EXPECT_EQ(shard.kind(), nas::v1::TRIAL_KIND_SUPERNET_SHARD);
}

}  // namespace
}  // namespace nas::controller::testing
