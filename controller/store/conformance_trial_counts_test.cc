// A search's trial counts in every TrialStore: GetSearch and ListSearches
// count exactly what the trials are, through every transition, before and
// after FoldTrialCounts, and while trials change concurrently; in
// PostgreSQL also against count(*) of the trials table, and a deleted
// search leaves no counts behind.
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "controller/store/proto_rows.h"
#include "controller/store/store_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace nas::controller::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

// Raw rows and SQL from outside the store.
using PostgresTrialCountsTest = StoreTest;

// Trials of a search by (kind, state) as the trials table names them.
using CountsByName = std::map<std::pair<std::string, std::string>, int>;

NewTrial KindTrial(int i, nas::v1::TrialKind kind) {
  NewTrial trial = StoreTestBase::Trial(i);
  trial.kind = kind;
  return trial;
}

// Three kinds that need no SupernetTask, so that kind_counts has several
// entries.
nas::v1::TrialKind KindOf(int i) {
  switch (i % 3) {
    case 0:
      return nas::v1::TRIAL_KIND_TRAIN;
    case 1:
      return nas::v1::TRIAL_KIND_ZERO_COST;
    default:
      return nas::v1::TRIAL_KIND_RETRAIN;
  }
}

// What GetSearch must report for `by_name`: counts and kind_counts only.
nas::v1::Search ExpectedCounts(const CountsByName& by_name) {
  nas::v1::Search expected;
  expected.mutable_counts();
  std::map<int, nas::v1::TrialCounts> by_kind;
  for (const auto& [key, n] : by_name) {
    AddCount(key.second, n, expected.mutable_counts());
    AddCount(key.second, n, &by_kind[TrialKindFromName(key.first)]);
  }
  for (const auto& [kind, counts] : by_kind) {
    nas::v1::KindCounts* entry = expected.add_kind_counts();
    entry->set_kind(static_cast<nas::v1::TrialKind>(kind));
    *entry->mutable_counts() = counts;
  }
  return expected;
}

nas::v1::Search CountsOnly(const nas::v1::Search& search) {
  nas::v1::Search counts;
  *counts.mutable_counts() = search.counts();
  *counts.mutable_kind_counts() = search.kind_counts();
  return counts;
}

int Total(const nas::v1::TrialCounts& c) {
  return c.pending() + c.running() + c.completed() + c.failed() + c.stopped() +
         c.cancelled();
}

// The trials of `search_id` counted from ListTrials, independently of the
// store's counts.
CountsByName CountsFromTrials(TrialStore& store, int64_t search_id) {
  CountsByName counts;
  absl::StatusOr<std::vector<nas::v1::Trial>> trials =
      store.ListTrials(search_id, {}, -1, 100000);
  EXPECT_TRUE(trials.ok()) << trials.status();
  if (!trials.ok()) return counts;
  for (const nas::v1::Trial& trial : *trials) {
    ++counts[{TrialKindName(trial.kind()), TrialStateName(trial.state())}];
  }
  return counts;
}

// The same from count(*) of the trials table.
CountsByName CountsFromSql(ScratchDatabase& db, int64_t search_id) {
  CountsByName counts;
  for (const pqxx::row& row :
       db.Query("SELECT kind, state, count(*) FROM trials WHERE search_id = " +
                std::to_string(search_id) + " GROUP BY kind, state")) {
    counts[{row[0].as<std::string>(), row[1].as<std::string>()}] =
        row[2].as<int>();
  }
  return counts;
}

// Fails the test unless GetSearch and ListSearches report what the trials
// are, and (with `db`, PostgreSQL) what count(*) says.
void ExpectCounts(TrialStore& store, ScratchDatabase* db, int64_t search_id,
                  const std::string& when) {
  SCOPED_TRACE(when);
  const CountsByName from_trials = CountsFromTrials(store, search_id);
  if (db != nullptr) {
    EXPECT_EQ(CountsFromSql(*db, search_id), from_trials);
  }
  const nas::v1::Search expected = ExpectedCounts(from_trials);
  absl::StatusOr<nas::v1::Search> got = store.GetSearch(search_id);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(got->has_counts());
  EXPECT_TRUE(MessageDifferencer::Equals(CountsOnly(*got), expected))
      << "GetSearch: " << CountsOnly(*got).DebugString()
      << "the trials: " << expected.DebugString();
  absl::StatusOr<std::vector<nas::v1::Search>> listed =
      store.ListSearches(search_id + 1, 1, SearchFilter());
  ASSERT_TRUE(listed.ok()) << listed.status();
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(MessageDifferencer::Equals(CountsOnly((*listed)[0]), expected))
      << "ListSearches: " << CountsOnly((*listed)[0]).DebugString();
}

class TrialCountsTest : public AnyStoreTest {
 protected:
  void Expect(int64_t search_id, const std::string& when) {
    ExpectCounts(store(), postgres() ? &db() : nullptr, search_id, when);
  }
  // Expects the counts, folds, and expects them again.
  void ExpectAroundFold(int64_t search_id, const std::string& when) {
    Expect(search_id, when + ", before a fold");
    absl::StatusOr<int> folded = store().FoldTrialCounts();
    ASSERT_TRUE(folded.ok()) << folded.status();
    if (!postgres()) {
      EXPECT_EQ(*folded, 0) << "plain counters";
    }
    Expect(search_id, when + ", after a fold");
  }
  int64_t KindsSearch(int trials, int max_attempts) {
    absl::StatusOr<nas::v1::Search> search =
        store().CreateSearch(Spec("counted", 100, max_attempts), "");
    EXPECT_TRUE(search.ok()) << search.status();
    if (!search.ok()) return 0;
    std::vector<NewTrial> batch;
    for (int i = 0; i < trials; ++i) batch.push_back(KindTrial(i, KindOf(i)));
    EXPECT_TRUE(store().AddTrials(search->id(), 0, batch).ok());
    return search->id();
  }
};
INSTANTIATE_FOR_EVERY_STORE(TrialCountsTest);

TEST_P(TrialCountsTest, CountsFollowEveryTransition) {
  const int64_t search = KindsSearch(/*trials=*/9, /*max_attempts=*/2);
  ASSERT_GT(search, 0);
  ExpectAroundFold(search, "added");

  std::vector<nas::v1::TrialAssignment> leased;
  for (int i = 0; i < 6; ++i) leased.push_back(Lease("w" + std::to_string(i)));
  Expect(search, "six leased");
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.5);
  ASSERT_TRUE(*store().CompleteTrial(Ref(leased[0], "w0"), metrics));
  ASSERT_FALSE(*store().CompleteTrial(Ref(leased[0], "w0"), metrics))
      << "a repeated completion changes nothing";
  ASSERT_TRUE(*store().FailTrial(Ref(leased[1], "w1"), "diverged"));
  ASSERT_EQ(*store().ReleaseTrial(Ref(leased[2], "w2"), "no GPU"),
            nas::v1::TRIAL_STATE_PENDING);
  ASSERT_TRUE(*store().StopTrial(Ref(leased[3], "w3"), "early stop", metrics, 0,
                                 false));
  ExpireLease(leased[4].trial_id());
  ASSERT_EQ(*store().ExpireLeases(), 1);
  ExpectAroundFold(search, "completed, failed, released, stopped, expired");

  // The released and the expired trial lease again; at their last attempt
  // one expires (FAILED) and one is released (FAILED).
  const nas::v1::TrialAssignment again = Lease("w6");
  const nas::v1::TrialAssignment last = Lease("w7");
  Expect(search, "leased again");
  ExpireLease(again.trial_id());
  ASSERT_EQ(*store().ExpireLeases(), 1);
  ASSERT_EQ(*store().ReleaseTrial(Ref(last, "w7"), "no GPU"),
            nas::v1::TRIAL_STATE_FAILED);
  ASSERT_EQ(
      store()
          .AddTrials(search, 3, {KindTrial(99, nas::v1::TRIAL_KIND_TRAIN)})
          .code(),
      absl::StatusCode::kAborted)
      << "a stale step adds nothing";
  ASSERT_TRUE(
      store()
          .AddTrials(search, 9,
                     {KindTrial(9, KindOf(9)), KindTrial(10, KindOf(10))})
          .ok());
  ExpectAroundFold(search, "failed at the last attempt, two more added");

  ASSERT_TRUE(store().CancelSearch(search).ok());
  ExpectAroundFold(search, "cancelled");
}

TEST_P(TrialCountsTest, EndingASearchCancelsItsPendingTrialsInTheCounts) {
  const int64_t search = KindsSearch(/*trials=*/5, /*max_attempts=*/3);
  ASSERT_GT(search, 0);
  ASSERT_TRUE(store().FoldTrialCounts().ok());
  Lease("w");
  ASSERT_TRUE(*store().EndSearch(search, nas::v1::SEARCH_STATE_FAILED,
                                 "every attempt failed"));
  ExpectAroundFold(search, "ended");
}

TEST_P(TrialCountsTest, DeletingASearchLeavesOthersCountsAlone) {
  const int64_t kept = KindsSearch(/*trials=*/4, /*max_attempts=*/3);
  const int64_t deleted = KindsSearch(/*trials=*/6, /*max_attempts=*/3);
  ASSERT_TRUE(store().FoldTrialCounts().ok());
  for (int i = 0; i < 6; ++i) Lease("w" + std::to_string(i));
  absl::StatusOr<TrialStore::DeletedSearch> gone =
      store().DeleteSearch(deleted, /*force=*/true);
  ASSERT_TRUE(gone.ok()) << gone.status();
  EXPECT_EQ(gone->deleted_trials, 6);
  EXPECT_EQ(Total(gone->search.counts()), 6) << "counted as it was";
  EXPECT_EQ(store().GetSearch(deleted).status().code(),
            absl::StatusCode::kNotFound);
  ExpectAroundFold(kept, "another search deleted");
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT (SELECT count(*) FROM trial_counts WHERE "
                         "search_id = " +
                         std::to_string(deleted) +
                         ") + (SELECT count(*) FROM trial_count_deltas WHERE "
                         "search_id = " +
                         std::to_string(deleted) + ")")[0][0]
                  .as<int>(),
              0);
  }
}

// Every GetSearch sees whole transitions and folds: however they
// interleave, the counts add up to the trials the search has.
TEST_P(TrialCountsTest, ConcurrentTransitionsAndFoldsKeepTheTotal) {
  constexpr int kTrials = 40;
  constexpr int kWorkers = 4;
  const int64_t search = KindsSearch(kTrials, /*max_attempts=*/3);
  ASSERT_GT(search, 0);
  std::atomic<int> workers_done{0};
  std::atomic<bool> polling{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([this, w, &workers_done, &polling] {
      // Counted however the worker ends, so that the loops below end.
      struct Done {
        std::atomic<int>* done;
        ~Done() { ++*done; }
      } counted{&workers_done};
      while (!polling.load()) std::this_thread::yield();
      const std::string worker = "w" + std::to_string(w);
      nas::v1::TrialMetrics metrics;
      metrics.set_val_accuracy(0.5);
      for (;;) {
        absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
            store().LeaseTrial(worker, absl::Seconds(30));
        ASSERT_TRUE(leased.ok()) << leased.status();
        if (!leased->has_value()) return;
        ASSERT_TRUE(store().CompleteTrial(Ref(**leased, worker), metrics).ok());
      }
    });
  }
  std::thread folder([this, &workers_done] {
    while (workers_done.load() < kWorkers) {
      ASSERT_TRUE(store().FoldTrialCounts().ok());
    }
  });
  do {
    absl::StatusOr<nas::v1::Search> got = store().GetSearch(search);
    polling.store(true);
    if (!got.ok()) {
      ADD_FAILURE() << got.status();
      break;
    }
    EXPECT_EQ(Total(got->counts()), kTrials) << got->counts().DebugString();
  } while (workers_done.load() < kWorkers);
  polling.store(true);  // also after a failed first poll
  for (std::thread& thread : threads) thread.join();
  folder.join();
  ExpectAroundFold(search, "all completed");
}

// PostgreSQL: what SQL does outside the store is counted too.
TEST_F(PostgresTrialCountsTest, TrialsDeletedOrMovedInSqlAreCounted) {
  const int64_t search = NewSearch(/*max_trials=*/5, /*trials=*/5);
  const std::string id = std::to_string(search);
  ASSERT_TRUE(store().FoldTrialCounts().ok());
  db().Query("DELETE FROM trials WHERE search_id = " + id + " AND number = 4");
  db().Query("UPDATE trials SET kind = 'RETRAIN' WHERE search_id = " + id +
             " AND number = 3");
  ExpectCounts(store(), &db(), search, "before a fold");
  ASSERT_TRUE(store().FoldTrialCounts().ok());
  ExpectCounts(store(), &db(), search, "after a fold");
  EXPECT_EQ(store().GetSearch(search)->counts().pending(), 4);
}

TEST_F(PostgresTrialCountsTest, SearchesDeletedInSqlLeaveNoCounts) {
  const int64_t search = NewSearch(/*max_trials=*/3, /*trials=*/3);
  ASSERT_TRUE(store().FoldTrialCounts().ok());
  Lease("w");  // a delta not yet folded
  db().Query("DELETE FROM searches WHERE id = " + std::to_string(search));
  EXPECT_EQ(db().Query("SELECT (SELECT count(*) FROM trial_counts) + "
                       "(SELECT count(*) FROM trial_count_deltas)")[0][0]
                .as<int>(),
            0);
}

TEST_F(PostgresTrialCountsTest, FoldMovesEveryDeltaIntoTheCounts) {
  const int64_t search = NewSearch(/*max_trials=*/4, /*trials=*/4);
  Lease("w");
  const int deltas =
      db().Query("SELECT count(*) FROM trial_count_deltas")[0][0].as<int>();
  EXPECT_EQ(deltas, 4 + 2) << "four inserted, one moved";
  absl::StatusOr<int> folded = store().FoldTrialCounts();
  ASSERT_TRUE(folded.ok()) << folded.status();
  EXPECT_EQ(*folded, deltas);
  EXPECT_EQ(
      db().Query("SELECT count(*) FROM trial_count_deltas")[0][0].as<int>(), 0);
  EXPECT_EQ(db().Query("SELECT string_agg(state || '=' || n, ',' ORDER BY "
                       "state) FROM trial_counts WHERE search_id = " +
                       std::to_string(search))[0][0]
                .as<std::string>(),
            "PENDING=3,RUNNING=1");
  EXPECT_EQ(*store().FoldTrialCounts(), 0) << "nothing left to fold";
}

// A read that finds many deltas folds them itself, so that reads stay
// cheap between maintenance's folds, or where it does not run.
TEST_F(PostgresTrialCountsTest, AReadFoldsManyDeltas) {
  const int64_t search = NewSearch(/*max_trials=*/10, /*trials=*/10);
  // 1,000: as many as a fleet at 200 lifecycles/s records in a second (a
  // read folded from 10,000 on, and a watched search's reads cost up to
  // 11 ms).
  db().Query("INSERT INTO trial_count_deltas SELECT " + std::to_string(search) +
             ", 'TRAIN', s, d FROM generate_series(1, 500), "
             "(VALUES ('PENDING', 1), ('PENDING', -1)) v (s, d)");
  ExpectCounts(store(), &db(), search, "many deltas");
  EXPECT_EQ(
      db().Query("SELECT count(*) FROM trial_count_deltas")[0][0].as<int>(), 0);
  EXPECT_EQ(store().GetSearch(search)->counts().pending(), 10);
}

}  // namespace
}  // namespace nas::controller::testing
