// What a weight-sharing search adds to a search in every TrialStore:
// extra trials beyond max_trials (searches.extra_trials) before it
// completes, and trial counts per kind (Search.kind_counts).
#include <cstdint>
#include <string>
#include <vector>

#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace nas::controller::testing {
namespace {

using ExtraTrialsTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(ExtraTrialsTest);
// The column itself and its constraint.
using PostgresExtraTrialsTest = StoreTest;

// Spec(name, max_trials) with weight sharing: 2 rounds of 2 shards and 1
// retrain, so 5 extra trials.
nas::v1::SearchSpec WeightSharingSpec(const std::string& name, int max_trials) {
  nas::v1::SearchSpec spec = StoreTest::Spec(name, max_trials);
  nas::v1::WeightSharingConfig* ws =
      spec.mutable_estimation()->mutable_weight_sharing();
  ws->mutable_supernet()->set_rounds(2);
  ws->mutable_supernet()->set_shards_per_round(2);
  ws->set_retrain_top_k(1);
  return spec;
}

NewTrial TrialOfKind(int i, nas::v1::TrialKind kind) {
  NewTrial trial = StoreTest::Trial(i);
  trial.kind = kind;
  if (kind == nas::v1::TRIAL_KIND_SUPERNET_SHARD ||
      kind == nas::v1::TRIAL_KIND_SCORE_INHERITED) {
    trial.task = nas::v1::SupernetTask();
  }
  return trial;
}

int ExtraTrialsColumn(ScratchDatabase& db, int64_t id) {
  return db
      .Query("SELECT extra_trials FROM searches WHERE id = " +
             std::to_string(id))[0][0]
      .as<int>();
}

// Adds `n` TRAIN trials after the search's `count` and completes them.
void AddAndComplete(TrialStore& store, int64_t id, int count, int n) {
  std::vector<NewTrial> batch;
  for (int i = 0; i < n; ++i) batch.push_back(StoreTest::Trial(count + i));
  ASSERT_TRUE(store.AddTrials(id, count, batch).ok());
  for (int i = 0; i < n; ++i) {
    auto leased = store.LeaseTrial("w", absl::Seconds(30));
    ASSERT_TRUE(leased.ok() && leased->has_value());
    const nas::v1::TrialAssignment& a = **leased;
    ASSERT_TRUE(store
                    .CompleteTrial(LeaseRef{"w", a.trial_id(), a.attempt()},
                                   nas::v1::TrialMetrics())
                    .ok());
  }
}

TEST_F(PostgresExtraTrialsTest, CreateSearchStoresTheExtraTrials) {
  auto plain = store().CreateSearch(Spec("plain", 3), "");
  auto ws = store().CreateSearch(WeightSharingSpec("ws", 3), "");
  ASSERT_TRUE(plain.ok() && ws.ok());
  EXPECT_EQ(ExtraTrialsColumn(db(), plain->id()), 0);
  EXPECT_EQ(ExtraTrialsColumn(db(), ws->id()), 5);
  EXPECT_THROW(db().Query("UPDATE searches SET extra_trials = -1"),
               pqxx::check_violation);
}

TEST_P(ExtraTrialsTest, SearchCompletesOnlyAfterItsExtraTrials) {
  auto search = store().CreateSearch(WeightSharingSpec("ws", 2), "");
  ASSERT_TRUE(search.ok()) << search.status();
  const int64_t id = search->id();
  AddAndComplete(store(), id, 0, 2);
  auto done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_FALSE(*done) << "max_trials reached, but not the 5 extra trials";
  AddAndComplete(store(), id, 2, 4);
  done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done) << "6 of 7";
  AddAndComplete(store(), id, 6, 1);
  done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
  EXPECT_EQ(store().GetSearch(id)->state(), nas::v1::SEARCH_STATE_COMPLETED);
}

TEST_P(ExtraTrialsTest, ExtendSearchKeepsTheExtraTrials) {
  auto search = store().CreateSearch(WeightSharingSpec("ws", 1), "");
  ASSERT_TRUE(search.ok()) << search.status();
  const int64_t id = search->id();
  AddAndComplete(store(), id, 0, 6);
  ASSERT_TRUE(*store().CompleteSearchIfDone(id));
  auto extended = store().ExtendSearch(id, 2);
  ASSERT_TRUE(extended.ok()) << extended.status();
  if (postgres()) {
    EXPECT_EQ(ExtraTrialsColumn(db(), id), 5);
  }
  EXPECT_FALSE(*store().CompleteSearchIfDone(id)) << "needs 2 + 5";
  AddAndComplete(store(), id, 6, 1);
  EXPECT_TRUE(*store().CompleteSearchIfDone(id));
}

TEST_P(ExtraTrialsTest, KindCountsListKindsInNumberOrder) {
  auto ws = store().CreateSearch(WeightSharingSpec("ws", 2), "");
  auto empty = store().CreateSearch(Spec("empty", 1), "");
  auto plain = store().CreateSearch(Spec("plain", 1), "");
  ASSERT_TRUE(ws.ok() && empty.ok() && plain.ok());
  // By text RETRAIN < SCORE_INHERITED < SUPERNET_SHARD; by number the
  // reverse.
  ASSERT_TRUE(
      store()
          .AddTrials(ws->id(), 0,
                     {TrialOfKind(0, nas::v1::TRIAL_KIND_RETRAIN),
                      TrialOfKind(1, nas::v1::TRIAL_KIND_SUPERNET_SHARD),
                      TrialOfKind(2, nas::v1::TRIAL_KIND_SUPERNET_SHARD),
                      TrialOfKind(3, nas::v1::TRIAL_KIND_SCORE_INHERITED)})
          .ok());
  ASSERT_TRUE(store().AddTrials(plain->id(), 0, {Trial(0)}).ok());
  const nas::v1::TrialAssignment retrain = Lease("w");
  ASSERT_EQ(retrain.kind(), nas::v1::TRIAL_KIND_RETRAIN);
  ASSERT_TRUE(
      store().CompleteTrial(Ref(retrain, "w"), nas::v1::TrialMetrics()).ok());
  Lease("w");  // a shard, now RUNNING

  auto got = store().GetSearch(ws->id());
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->kind_counts_size(), 3) << got->DebugString();
  EXPECT_EQ(got->kind_counts(0).kind(), nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  EXPECT_EQ(got->kind_counts(0).counts().running(), 1);
  EXPECT_EQ(got->kind_counts(0).counts().pending(), 1);
  EXPECT_EQ(got->kind_counts(1).kind(), nas::v1::TRIAL_KIND_SCORE_INHERITED);
  EXPECT_EQ(got->kind_counts(1).counts().pending(), 1);
  EXPECT_EQ(got->kind_counts(2).kind(), nas::v1::TRIAL_KIND_RETRAIN);
  EXPECT_EQ(got->kind_counts(2).counts().completed(), 1);
  EXPECT_EQ(got->kind_counts(2).counts().pending(), 0);
  // counts stays the total over every kind.
  EXPECT_EQ(got->counts().pending(), 2);
  EXPECT_EQ(got->counts().running(), 1);
  EXPECT_EQ(got->counts().completed(), 1);

  auto listed = store().ListSearches(0, 10, SearchFilter());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 3u);  // newest first: plain, empty, ws
  ASSERT_EQ((*listed)[0].kind_counts_size(), 1);
  EXPECT_EQ((*listed)[0].kind_counts(0).kind(), nas::v1::TRIAL_KIND_TRAIN);
  EXPECT_EQ((*listed)[0].kind_counts(0).counts().pending(), 1);
  EXPECT_EQ((*listed)[1].kind_counts_size(), 0) << "no trials, no kinds";
  EXPECT_TRUE((*listed)[1].has_counts());
  EXPECT_EQ((*listed)[2].kind_counts_size(), 3);
  EXPECT_EQ((*listed)[2].kind_counts(0).kind(),
            nas::v1::TRIAL_KIND_SUPERNET_SHARD);
}

}  // namespace
}  // namespace nas::controller::testing
