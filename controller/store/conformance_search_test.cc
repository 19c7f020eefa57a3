// Searches, workers, counts and ranking in every TrialStore; views and
// connection loss of the PostgreSQL store.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "controller/store/store_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

SearchFilter OwnedBy(const std::string& owner) {
  SearchFilter filter;
  filter.owner = owner;
  return filter;
}

using google::protobuf::util::MessageDifferencer;

using SearchStoreTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(SearchStoreTest);
// The views, the raw rows and the connection pool.
using PostgresSearchTest = StoreTest;

TEST_P(SearchStoreTest, CreateThenGetReturnsTheSpec) {
  const nas::v1::SearchSpec spec = Spec("fashion chain", 7);
  auto created = store().CreateSearch(spec, "");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->id(), 0);
  EXPECT_EQ(created->state(), nas::v1::SEARCH_STATE_RUNNING);
  EXPECT_GT(created->created_at().seconds(), 1600000000);
  EXPECT_FALSE(created->has_finished_at());
  EXPECT_TRUE(created->has_counts());
  EXPECT_EQ(created->counts().pending(), 0);

  auto got = store().GetSearch(created->id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equals(got->spec(), spec))
      << got->spec().DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(*got, *created));
}

TEST_P(SearchStoreTest, EndSearchRefusesAStateOtherThanCompletedOrFailed) {
  auto search = store().CreateSearch(Spec("end", 1), "");
  ASSERT_TRUE(search.ok()) << search.status();
  for (nas::v1::SearchState state :
       {nas::v1::SEARCH_STATE_RUNNING, nas::v1::SEARCH_STATE_CANCELLED}) {
    auto ended = store().EndSearch(search->id(), state, "why");
    EXPECT_EQ(ended.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(ended.status().message(),
              "EndSearch: state must be COMPLETED or FAILED");
  }
  auto still = store().GetSearch(search->id());
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->state(), nas::v1::SEARCH_STATE_RUNNING);
}

TEST_P(SearchStoreTest, HostileNamesAreStoredVerbatim) {
  const std::vector<std::string> names = {"Robert'); DROP TABLE searches;--",
                                          "it's \"quoted\" \\ back\\slash",
                                          "$1 $$ :name ? %s", "ünïcödé ✓ 模型"};
  std::vector<int64_t> ids;
  for (const std::string& name : names) {
    auto search = store().CreateSearch(Spec(name, 1), "");
    ASSERT_TRUE(search.ok()) << search.status();
    ids.push_back(search->id());
  }
  for (size_t i = 0; i < names.size(); ++i) {
    auto search = store().GetSearch(ids[i]);
    ASSERT_TRUE(search.ok()) << search.status();
    EXPECT_EQ(search->spec().name(), names[i]);
  }
  auto listed = store().ListSearches(0, 10, SearchFilter());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->size(), 4u) << "nothing dropped";
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT count(*) FROM searches")[0][0].as<int>(), 4);
    EXPECT_EQ(db().Query("SELECT name FROM searches ORDER BY id LIMIT 1")[0][0]
                  .as<std::string>(),
              names[0]);
  }
}

TEST_P(SearchStoreTest, ListSearchesPagesNewestFirst) {
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto search = store().CreateSearch(Spec("s", 1), "");
    ASSERT_TRUE(search.ok());
    ids.push_back(search->id());
  }
  std::vector<int64_t> seen;
  int64_t before = 0;
  for (int page = 0; page < 10; ++page) {
    auto searches = store().ListSearches(before, 2, SearchFilter());
    ASSERT_TRUE(searches.ok()) << searches.status();
    if (searches->empty()) break;
    EXPECT_LE(searches->size(), 2u);
    for (const nas::v1::Search& search : *searches) {
      seen.push_back(search.id());
    }
    before = searches->back().id();
  }
  EXPECT_EQ(seen, std::vector<int64_t>(ids.rbegin(), ids.rend()));
  auto none = store().ListSearches(0, 0, SearchFilter());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(SearchStoreTest, OwnerIsStoredAndFiltersTheList) {
  auto alice = store().CreateSearch(Spec("a", 1), "alice");
  auto bob = store().CreateSearch(Spec("b", 1), "bob");
  auto nobody = store().CreateSearch(Spec("n", 1), "");
  ASSERT_TRUE(alice.ok() && bob.ok() && nobody.ok());
  EXPECT_EQ(alice->owner(), "alice");
  auto got = store().GetSearch(bob->id());
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->owner(), "bob");

  auto alices = store().ListSearches(0, 10, OwnedBy("alice"));
  ASSERT_TRUE(alices.ok()) << alices.status();
  ASSERT_EQ(alices->size(), 1u);
  EXPECT_EQ((*alices)[0].id(), alice->id());
  auto all = store().ListSearches(0, 10, SearchFilter());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 3u);
  auto carols = store().ListSearches(0, 10, OwnedBy("carol"));
  ASSERT_TRUE(carols.ok());
  EXPECT_TRUE(carols->empty());
}

std::vector<int64_t> Ids(
    const absl::StatusOr<std::vector<nas::v1::Search>>& searches) {
  std::vector<int64_t> ids;
  if (!searches.ok()) {
    ADD_FAILURE() << searches.status();
    return ids;
  }
  for (const nas::v1::Search& search : *searches) ids.push_back(search.id());
  return ids;
}

TEST_P(SearchStoreTest, ListSearchesFiltersByStateAndNameSubstring) {
  auto mnist = store().CreateSearch(Spec("mnist-a", 1), "alice");
  auto cifar = store().CreateSearch(Spec("cifar", 1), "alice");
  auto e2e = store().CreateSearch(Spec("e2e-mnist", 1), "bob");
  auto odd = store().CreateSearch(Spec("50%_off", 1), "alice");
  ASSERT_TRUE(mnist.ok() && cifar.ok() && e2e.ok() && odd.ok());
  ASSERT_TRUE(store().CancelSearch(cifar->id()).ok());
  ASSERT_TRUE(store()
                  .EndSearch(e2e->id(), nas::v1::SEARCH_STATE_FAILED,
                             "every trial failed")
                  .ok());

  SearchFilter by_name;
  by_name.name = "mnist";
  EXPECT_EQ(Ids(store().ListSearches(0, 10, by_name)),
            (std::vector<int64_t>{e2e->id(), mnist->id()}));
  by_name.name = "MNIST";  // case-sensitive
  EXPECT_TRUE(Ids(store().ListSearches(0, 10, by_name)).empty());
  by_name.name = "%";  // literal, not a LIKE wildcard
  EXPECT_EQ(Ids(store().ListSearches(0, 10, by_name)),
            (std::vector<int64_t>{odd->id()}));

  SearchFilter ended;
  ended.states = {nas::v1::SEARCH_STATE_CANCELLED,
                  nas::v1::SEARCH_STATE_FAILED};
  EXPECT_EQ(Ids(store().ListSearches(0, 10, ended)),
            (std::vector<int64_t>{e2e->id(), cifar->id()}));
  SearchFilter running;
  running.states = {nas::v1::SEARCH_STATE_RUNNING};
  EXPECT_EQ(Ids(store().ListSearches(0, 10, running)),
            (std::vector<int64_t>{odd->id(), mnist->id()}));
  // Filters combine with each other, the owner and paging.
  running.name = "mnist";
  EXPECT_EQ(Ids(store().ListSearches(0, 10, running)),
            (std::vector<int64_t>{mnist->id()}));
  running.name.clear();
  running.owner = "alice";
  EXPECT_EQ(Ids(store().ListSearches(odd->id(), 10, running)),
            (std::vector<int64_t>{mnist->id()}));
  running.owner = "bob";
  EXPECT_TRUE(Ids(store().ListSearches(0, 10, running)).empty());
}

TEST_P(SearchStoreTest, RunningSearchIdsAreOldestFirst) {
  const int64_t a = NewSearch(1, 0);
  const int64_t b = NewSearch(1, 0);
  const int64_t c = NewSearch(1, 0);
  ASSERT_TRUE(store().CancelSearch(b).ok());
  auto ids = store().ListRunningSearchIds();
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(*ids, (std::vector<int64_t>{a, c}));
}

TEST_P(SearchStoreTest, UnknownIdsAreNotFound) {
  constexpr int64_t kNoSuch = 424242;
  const LeaseRef ref{"w-1", kNoSuch, 1};
  nas::v1::TrialMetrics metrics;
  nas::v1::EpochMetrics epoch;
  const std::vector<absl::Status> statuses = {
      store().GetSearch(kNoSuch).status(),
      store().CancelSearch(kNoSuch).status(),
      store().CompleteSearchIfDone(kNoSuch).status(),
      store().ListTrials(kNoSuch, {}, -1, 10).status(),
      store().BestTrials(kNoSuch, 5).status(),
      store().AddTrials(kNoSuch, 0, {Trial(0)}),
      store().RecordEpoch(ref, epoch, absl::Seconds(5)).status(),
      store().CompleteTrial(ref, metrics).status(),
      store().FailTrial(ref, "x").status(),
      store().StopTrial(ref, "x", {}, std::nullopt, false).status(),
      store().TouchWorker("w-999"),
  };
  for (size_t i = 0; i < statuses.size(); ++i) {
    EXPECT_EQ(statuses[i].code(), absl::StatusCode::kNotFound)
        << i << ": " << statuses[i];
  }
}

TEST_P(SearchStoreTest, CountsFollowTrialStates) {
  const int64_t id = NewSearch(5, 5);
  const nas::v1::TrialAssignment a = Lease("w-a");
  const nas::v1::TrialAssignment b = Lease("w-b");
  Lease("w-c");
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w-a"), {}).ok());
  ASSERT_TRUE(store().FailTrial(Ref(b, "w-b"), "oom").ok());
  auto search = store().GetSearch(id);
  ASSERT_TRUE(search.ok());
  EXPECT_EQ(search->counts().pending(), 2);
  EXPECT_EQ(search->counts().running(), 1);
  EXPECT_EQ(search->counts().completed(), 1);
  EXPECT_EQ(search->counts().failed(), 1);
  auto listed = store().ListSearches(0, 10, SearchFilter());
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE(
      MessageDifferencer::Equals((*listed)[0].counts(), search->counts()));
}

TEST_P(SearchStoreTest, GetSearchWithoutCountsIsGetSearchLessItsCounts) {
  const int64_t id = NewSearch(3, 2);
  const nas::v1::TrialAssignment a = Lease("w-a");
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w-a"), {}).ok());
  ASSERT_TRUE(store().SetRunningSearchReason(id, "waiting for GPUs").ok());
  auto counted = store().GetSearch(id);
  auto uncounted = store().GetSearchWithoutCounts(id);
  ASSERT_TRUE(counted.ok() && uncounted.ok()) << uncounted.status();
  EXPECT_FALSE(uncounted->has_counts());
  EXPECT_EQ(uncounted->kind_counts_size(), 0);
  ASSERT_EQ(counted->counts().completed(), 1);
  counted->clear_counts();
  counted->clear_kind_counts();
  EXPECT_TRUE(MessageDifferencer::Equals(*uncounted, *counted))
      << uncounted->DebugString();
  EXPECT_EQ(store().GetSearchWithoutCounts(424242).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_P(SearchStoreTest, CancelEndsTrialsAndTellsWorkersToStop) {
  const int64_t id = NewSearch(3, 3);
  const nas::v1::TrialAssignment running = Lease("w-1");
  auto cancelled = store().CancelSearch(id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  EXPECT_EQ(cancelled->state(), nas::v1::SEARCH_STATE_CANCELLED);
  EXPECT_TRUE(cancelled->has_finished_at());
  EXPECT_EQ(cancelled->counts().cancelled(), 3);

  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(1);
  auto ack = store().RecordEpoch(Ref(running, "w-1"), epoch, absl::Seconds(5));
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_TRUE(ack->stop);
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT count(*) FROM trial_epochs")[0][0].as<int>(),
              0);
  }
  EXPECT_EQ(store().CompleteTrial(Ref(running, "w-1"), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);

  auto next = store().LeaseTrial("w-2", absl::Seconds(5));
  ASSERT_TRUE(next.ok());
  EXPECT_FALSE(next->has_value());
  EXPECT_EQ(store().CancelSearch(id).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store().AddTrials(id, 3, {Trial(3)}).code(),
            absl::StatusCode::kFailedPrecondition);
  auto done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done);
}

TEST_P(SearchStoreTest, CompleteSearchIfDoneNeedsAllTrialsFinished) {
  const int64_t id = NewSearch(3, 2);
  auto done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done) << "only 2 of 3 trials exist";

  ASSERT_TRUE(store().AddTrials(id, 2, {Trial(2)}).ok());
  const nas::v1::TrialAssignment a = Lease("w");
  const nas::v1::TrialAssignment b = Lease("w");
  const nas::v1::TrialAssignment c = Lease("w");
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), {}).ok());
  ASSERT_TRUE(store().FailTrial(Ref(b, "w"), "diverged").ok());
  done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done) << "one trial still runs";

  ASSERT_TRUE(
      store().StopTrial(Ref(c, "w"), "pruned", {}, std::nullopt, false).ok());
  done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(*done);
  done = store().CompleteSearchIfDone(id);
  ASSERT_TRUE(done.ok());
  EXPECT_FALSE(*done) << "already completed";
  auto search = store().GetSearch(id);
  ASSERT_TRUE(search.ok());
  EXPECT_EQ(search->state(), nas::v1::SEARCH_STATE_COMPLETED);
  EXPECT_TRUE(search->has_finished_at());
}

TEST_P(SearchStoreTest, EndSearchStoresStateAndReasonAndCancelsPending) {
  const int64_t id = NewSearch(5, 2);
  const nas::v1::TrialAssignment running = Lease("w");
  auto ended = store().EndSearch(id, nas::v1::SEARCH_STATE_FAILED,
                                 "every trial failed: out of memory");
  ASSERT_TRUE(ended.ok()) << ended.status();
  EXPECT_TRUE(*ended);
  auto search = store().GetSearch(id);
  ASSERT_TRUE(search.ok());
  EXPECT_EQ(search->state(), nas::v1::SEARCH_STATE_FAILED);
  EXPECT_EQ(search->state_reason(), "every trial failed: out of memory");
  EXPECT_TRUE(search->has_finished_at());
  EXPECT_EQ(search->counts().cancelled(), 1) << "the pending trial";
  EXPECT_EQ(search->counts().running(), 1) << "left to finish";
  ASSERT_TRUE(store().CompleteTrial(Ref(running, "w"), {}).ok());

  ended = store().EndSearch(id, nas::v1::SEARCH_STATE_COMPLETED, "again");
  ASSERT_TRUE(ended.ok());
  EXPECT_FALSE(*ended) << "already ended";
  EXPECT_EQ(store()
                .EndSearch(id, nas::v1::SEARCH_STATE_CANCELLED, "")
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(SearchStoreTest, AddTrialsWithAStaleCountIsAborted) {
  const int64_t id = NewSearch(10, 2);
  EXPECT_EQ(store().AddTrials(id, 1, {Trial(9)}).code(),
            absl::StatusCode::kAborted);
  EXPECT_EQ(store().AddTrials(id, 3, {Trial(9)}).code(),
            absl::StatusCode::kAborted);
  ASSERT_TRUE(store().AddTrials(id, 2, {Trial(2), Trial(3)}).ok());
  auto trials = store().ListTrials(id, {}, -1, 100);
  ASSERT_TRUE(trials.ok());
  ASSERT_EQ(trials->size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*trials)[i].number(), i);
  EXPECT_EQ((*trials)[3].architecture().text(), Trial(3).architecture.text());
}

TEST_P(SearchStoreTest, ConcurrentAddTrialsLetExactlyOneWin) {
  const int64_t id = NewSearch(100, 0);
  constexpr int kWriters = 6;
  std::vector<absl::Status> results(kWriters);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([this, id, i, &results] {
      results[i] = store().AddTrials(id, 0, {Trial(i), Trial(i + 10)});
    });
  }
  for (std::thread& thread : threads) thread.join();
  int won = 0;
  for (const absl::Status& status : results) {
    if (status.ok()) {
      ++won;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kAborted) << status;
    }
  }
  EXPECT_EQ(won, 1);
  auto trials = store().ListTrials(id, {}, -1, 100);
  ASSERT_TRUE(trials.ok()) << trials.status();
  EXPECT_EQ(trials->size(), 2u);
}

TEST_P(SearchStoreTest, WorkersGetDistinctIds) {
  nas::v1::RegisterWorkerRequest request;
  request.set_host("gpu-node-1");
  request.set_device_type(nas::v1::DEVICE_TYPE_CUDA);
  request.set_device_name("NVIDIA H100 80GB HBM3");
  request.set_device_memory_bytes(int64_t{80} << 30);
  auto first = store().RegisterWorker(request);
  auto second = store().RegisterWorker(request);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_NE(*first, *second);
  EXPECT_TRUE(absl::StartsWith(*first, "w-")) << *first;
  EXPECT_TRUE(store().TouchWorker(*first).ok());
  if (postgres()) {
    const pqxx::result row = db().Query(
        "SELECT host, device_type, device_memory_bytes FROM workers "
        "ORDER BY registered_at LIMIT 1");
    EXPECT_EQ(row[0][0].as<std::string>(), "gpu-node-1");
    EXPECT_EQ(row[0][1].as<std::string>(), "CUDA");
    EXPECT_EQ(row[0][2].as<int64_t>(), int64_t{80} << 30);
  }
}

TEST_F(PostgresSearchTest, ViewsReturnRows) {
  const int64_t id = NewSearch(2, 2);
  const nas::v1::TrialAssignment a = Lease("w");
  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(1);
  epoch.set_val_accuracy(0.8);
  ASSERT_TRUE(store().RecordEpoch(Ref(a, "w"), epoch, absl::Seconds(9)).ok());
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.8);
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), metrics).ok());

  const std::string where = " WHERE search_id = " + std::to_string(id);
  EXPECT_EQ(
      db().Query("SELECT count(*) FROM trial_history" + where)[0][0].as<int>(),
      2);
  const pqxx::result best = db().Query(
      "SELECT rank, number, objective_value FROM best_trials" + where);
  ASSERT_EQ(best.size(), 1u);
  EXPECT_EQ(best[0][0].as<int>(), 1);
  EXPECT_DOUBLE_EQ(best[0][2].as<double>(), 0.8);
  const pqxx::result epochs = db().Query(
      "SELECT trial_number, epoch, val_accuracy, current_attempt "
      "FROM epoch_metrics" +
      where);
  ASSERT_EQ(epochs.size(), 1u);
  EXPECT_EQ(epochs[0][1].as<int>(), 1);
  EXPECT_TRUE(epochs[0][3].as<bool>());
}

TEST_F(PostgresSearchTest, SurvivesLostConnections) {
  const int64_t id = NewSearch(1, 0);
  // Runs `call` from `callers` threads at once, so that every pooled
  // connection is in use.
  auto concurrently = [&](int callers, auto call) {
    std::vector<absl::Status> results(callers);
    std::vector<std::thread> threads;
    for (int i = 0; i < callers; ++i) {
      threads.emplace_back([&, i] { results[i] = call(); });
    }
    for (std::thread& thread : threads) thread.join();
    return results;
  };
  auto list = [&] { return store().ListTrials(id, {}, -1, 10).status(); };
  auto get = [&] { return store().GetSearch(id).status(); };
  // End every server process serving the store, as a server restart does,
  // and wait until they are gone.
  auto kill_connections = [&] {
    const pqxx::result killed = db().Query(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
    return killed.size();
  };
  for (const absl::Status& status : concurrently(4, list)) {
    ASSERT_TRUE(status.ok()) << status;
  }
  ASSERT_GE(kill_connections(), 1u) << "the store holds no connection to kill";
  // A read (no BEGIN) finds its connection dead at its first statement and
  // runs again on a new one; nothing was written, so no caller notices.
  for (const absl::Status& status : concurrently(6, list)) {
    EXPECT_TRUE(status.ok()) << status;
  }
  ASSERT_GE(kill_connections(), 1u) << "the store holds no connection to kill";
  // A transaction finds it dead at BEGIN, before anything is sent.
  for (const absl::Status& status : concurrently(6, get)) {
    EXPECT_TRUE(status.ok()) << status;
  }
  for (int i = 0; i < 4; ++i)
    EXPECT_TRUE(store().ListTrials(id, {}, -1, 1).ok());
}

}  // namespace
}  // namespace nas::controller::testing
