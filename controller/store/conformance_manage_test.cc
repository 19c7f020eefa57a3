// Extending, deleting and archiving searches in every TrialStore.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

using ManageStoreTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(ManageStoreTest);
using PostgresManageTest = StoreTest;

// Runs every trial of a search with `n` trials to COMPLETED, and the search
// with them.
void CompleteAll(TrialStore& store, int64_t search_id, int n) {
  for (int i = 0; i < n; ++i) {
    absl::StatusOr<std::optional<nas::v1::TrialAssignment>> a =
        store.LeaseTrial("w-1", absl::Seconds(30));
    ASSERT_TRUE(a.ok() && a->has_value()) << a.status();
    nas::v1::TrialMetrics metrics;
    metrics.set_val_accuracy(0.5);
    ASSERT_TRUE(
        store
            .CompleteTrial(LeaseRef{"w-1", (*a)->trial_id(), (*a)->attempt()},
                           metrics)
            .ok());
  }
  absl::StatusOr<bool> done = store.CompleteSearchIfDone(search_id);
  ASSERT_TRUE(done.ok() && *done) << done.status();
}

TEST_P(ManageStoreTest, ExtendRaisesMaxTrialsOfARunningSearch) {
  const int64_t id = NewSearch(2, 2);
  auto extended = store().ExtendSearch(id, 5);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(extended->state(), nas::v1::SEARCH_STATE_RUNNING);
  EXPECT_EQ(extended->spec().budget().max_trials(), 5);
  if (postgres()) {
    // Both copies: the column CompleteSearchIfDone reads and the spec.
    const pqxx::result rows = db().Query(
        "SELECT max_trials, (spec->'budget'->>'max_trials')::int FROM "
        "searches");
    const pqxx::row row = rows[0];
    EXPECT_EQ(row[0].as<int>(), 5);
    EXPECT_EQ(row[1].as<int>(), 5);
  }
  // Two more trials fit now.
  EXPECT_TRUE(store().AddTrials(id, 2, {Trial(2), Trial(3)}).ok());
}

TEST_P(ManageStoreTest, ExtendReopensACompletedSearch) {
  const int64_t id = NewSearch(2, 2);
  CompleteAll(store(), id, 2);
  ASSERT_TRUE(store().SetSearchArchived(id, true).ok());

  auto extended = store().ExtendSearch(id, 4);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(extended->state(), nas::v1::SEARCH_STATE_RUNNING);
  EXPECT_FALSE(extended->has_finished_at());
  EXPECT_FALSE(extended->has_archived_at());
  EXPECT_EQ(extended->counts().completed(), 2);
  auto running = store().ListRunningSearchIds();
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(*running, std::vector<int64_t>{id});
  // It does not complete again before the new budget is used up.
  auto done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);
  ASSERT_TRUE(store().AddTrials(id, 2, {Trial(2), Trial(3)}).ok());
  CompleteAll(store(), id, 2);
  auto completed = store().GetSearch(id);
  ASSERT_TRUE(completed.ok());
  EXPECT_EQ(completed->state(), nas::v1::SEARCH_STATE_COMPLETED);
  EXPECT_EQ(completed->counts().completed(), 4);
}

TEST_P(ManageStoreTest, ExtendReopensAFailedSearchAndClearsItsReason) {
  const int64_t id = NewSearch(3, 1);
  ASSERT_TRUE(
      store()
          .EndSearch(id, nas::v1::SEARCH_STATE_FAILED, "every trial failed")
          .ok());
  auto extended = store().ExtendSearch(id, 4);
  ASSERT_TRUE(extended.ok()) << extended.status();
  EXPECT_EQ(extended->state(), nas::v1::SEARCH_STATE_RUNNING);
  EXPECT_EQ(extended->state_reason(), "");
}

TEST_P(ManageStoreTest, ExtendRefusesWhatItCannotDo) {
  const int64_t id = NewSearch(3, 0);
  auto same = store().ExtendSearch(id, 3);
  EXPECT_EQ(same.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      absl::StrContains(same.status().message(), "current max_trials 3"))
      << same.status();
  EXPECT_EQ(store().ExtendSearch(id, 2).status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_TRUE(store().CancelSearch(id).ok());
  auto cancelled = store().ExtendSearch(id, 10);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(cancelled.status().message(), "cancelled"))
      << cancelled.status();
  auto search = store().GetSearch(id);
  ASSERT_TRUE(search.ok());
  EXPECT_EQ(search->spec().budget().max_trials(), 3);
  EXPECT_EQ(store().ExtendSearch(424242, 10).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(ManageStoreTest, DeleteRemovesTheSearchTrialsAndEpochs) {
  const int64_t keep = NewSearch(1, 1);
  const int64_t id = NewSearch(2, 2);
  ASSERT_TRUE(store().CancelSearch(id).ok());
  // One epoch of the other search's trial, which must survive.
  const nas::v1::TrialAssignment a = Lease("w-1");
  ASSERT_EQ(a.search_id(), keep);
  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(1);
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w-1"), epoch, absl::Seconds(30)).ok());

  auto doomed = store().ListTrials(id, {}, -1, 10);
  ASSERT_TRUE(doomed.ok()) << doomed.status();
  auto deleted = store().DeleteSearch(id, /*force=*/false);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->search.id(), id);
  EXPECT_EQ(deleted->deleted_trials, 2);
  EXPECT_EQ(store().GetSearch(id).status().code(), absl::StatusCode::kNotFound);
  for (const nas::v1::Trial& trial : *doomed) {
    EXPECT_EQ(store().GetTrial(trial.id()).status().code(),
              absl::StatusCode::kNotFound)
        << "trial " << trial.number() << " of the deleted search";
  }
  EXPECT_EQ(GetTrial(keep, 0).epochs_size(), 1) << "the other search's epoch";
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT count(*) FROM searches WHERE id = " +
                         std::to_string(id))[0][0]
                  .as<int>(),
              0);
    EXPECT_EQ(db().Query("SELECT count(*) FROM trials WHERE search_id = " +
                         std::to_string(id))[0][0]
                  .as<int>(),
              0);
    EXPECT_EQ(db().Query("SELECT count(*) FROM trials")[0][0].as<int>(), 1);
    EXPECT_EQ(db().Query("SELECT count(*) FROM trial_epochs")[0][0].as<int>(),
              1);
  }
  EXPECT_EQ(store().DeleteSearch(id, false).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(ManageStoreTest, DeleteRefusesARunningSearchUnlessForced) {
  const int64_t id = NewSearch(2, 2);
  const nas::v1::TrialAssignment a = Lease("w-1");
  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(1);
  ASSERT_TRUE(
      store().RecordEpoch(Ref(a, "w-1"), epoch, absl::Seconds(30)).ok());

  auto refused = store().DeleteSearch(id, /*force=*/false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(refused.status().message(), "--force"))
      << refused.status();
  ASSERT_TRUE(store().GetSearch(id).ok());

  auto forced = store().DeleteSearch(id, /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->search.state(), nas::v1::SEARCH_STATE_CANCELLED);
  EXPECT_EQ(forced->deleted_trials, 2);
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT count(*) FROM trial_epochs")[0][0].as<int>(),
              0);
  }
  // The worker training one of its trials finds it gone and abandons it.
  epoch.set_epoch(2);
  EXPECT_EQ(store()
                .RecordEpoch(Ref(a, "w-1"), epoch, absl::Seconds(30))
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store().CompleteTrial(Ref(a, "w-1"), {}).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(ManageStoreTest, ArchivedSearchesAreListedOnlyWhenAsked) {
  const int64_t running = NewSearch(1, 0);
  const int64_t done = NewSearch(1, 0);
  ASSERT_TRUE(store().CancelSearch(done).ok());

  auto refused = store().SetSearchArchived(running, true);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);

  auto archived = store().SetSearchArchived(done, true);
  ASSERT_TRUE(archived.ok()) << archived.status();
  ASSERT_TRUE(archived->has_archived_at());
  EXPECT_GT(archived->archived_at().seconds(), 1600000000);
  // Archiving again keeps the first time.
  auto again = store().SetSearchArchived(done, true);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->archived_at().SerializeAsString(),
            archived->archived_at().SerializeAsString());

  auto ids = [&](bool include_archived) {
    std::vector<int64_t> out;
    SearchFilter filter;
    filter.include_archived = include_archived;
    auto listed = store().ListSearches(0, 10, filter);
    EXPECT_TRUE(listed.ok()) << listed.status();
    if (listed.ok()) {
      for (const nas::v1::Search& s : *listed) out.push_back(s.id());
    }
    return out;
  };
  EXPECT_EQ(ids(false), std::vector<int64_t>{running});
  EXPECT_EQ(ids(true), (std::vector<int64_t>{done, running}));
  // Still there by id.
  auto got = store().GetSearch(done);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->has_archived_at());

  auto unarchived = store().SetSearchArchived(done, false);
  ASSERT_TRUE(unarchived.ok()) << unarchived.status();
  EXPECT_FALSE(unarchived->has_archived_at());
  EXPECT_EQ(ids(false), (std::vector<int64_t>{done, running}));
  EXPECT_EQ(store().SetSearchArchived(424242, true).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(PostgresManageTest, ARunningSearchCannotBeArchivedInSql) {
  const int64_t id = NewSearch(1, 0);
  EXPECT_ANY_THROW(
      db().Query("UPDATE searches SET archived_at = now() WHERE id = " +
                 std::to_string(id)));
}

}  // namespace
}  // namespace nas::controller::testing
