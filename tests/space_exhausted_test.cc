// A search whose space has fewer distinct computations than max_trials
// completes once its strategy has tried them all, says why, and tells its
// watchers; CreateSearch warns about such a budget up front. Real
// controller and tabular workers (nas-worker --table), so every strategy
// runs through the real scheduler and store in seconds.
#include <chrono>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kTablePath[] = NAS_NB201_TABLE;

// {none, skip_connect} on six edges: 64 cells, 5 distinct computations
// (the output is 0, 1, 2, 3 or 4 times the input).
std::string ExhaustibleSpec(const std::string& strategy) {
  return absl::StrCat(R"(
name: exhaust-)",
                      strategy, R"(
seed: 5
dataset: {name: cifar10}
space: {nb201: {ops: [none, skip_connect]}}
strategy: )",
                      strategy, R"(
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 200, parallelism: 2, max_attempts: 2}
training: {epochs: 1}
)");
}

constexpr char kExhaustedReason[] =
    "space exhausted: all 5 distinct computations of the space were tried, "
    "fewer than max_trials (200)";

TEST(SpaceExhausted, EveryStrategyCompletesWithTheReasonAndWatchEnds) {
  ClusterOptions options;
  options.worker_flags = {std::string("--table=") + kTablePath};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();

  // Created before any worker runs, so the watch below sees it all.
  std::vector<int64_t> ids;
  const std::vector<std::string> strategies = {
      "random", "evolution", "reinforce", "gp_bayes_opt", "local_search"};
  for (const std::string& strategy : strategies) {
    nas::v1::Search created;
    grpc::Status status = CreateSearch(
        cluster.search(), ParseSpec(ExhaustibleSpec(strategy)), &created);
    ASSERT_TRUE(status.ok()) << strategy << ": " << status.error_message();
    ASSERT_EQ(created.warnings_size(), 1) << created.ShortDebugString();
    EXPECT_EQ(created.warnings(0),
              "budget.max_trials: 200 is more than the 5 distinct "
              "computations this space has; the search will complete early, "
              "\"space exhausted\", after 5 trials");
    ids.push_back(created.id());
  }
  // Warnings are advice on the reply, not part of the search.
  {
    nas::v1::Search fetched;
    ASSERT_TRUE(GetSearch(cluster.search(), ids[0], &fetched).ok());
    EXPECT_EQ(fetched.warnings_size(), 0);
  }

  nas::v1::WatchSearchRequest watch;
  watch.set_search_id(ids[0]);
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::minutes(5));
  auto reader = cluster.search().WatchSearch(&watch_context, watch);

  cluster.StartWorkers(2);

  // The watch ends by itself with search_done (it hung before).
  nas::v1::SearchEvent event;
  int done = 0;
  nas::v1::Search final_search;
  while (reader->Read(&event)) {
    if (event.has_search_done()) {
      ++done;
      final_search = event.search();
    }
  }
  grpc::Status watch_status = reader->Finish();
  EXPECT_TRUE(watch_status.ok())
      << watch_status.error_message() << cluster.Logs();
  EXPECT_EQ(done, 1) << cluster.Logs();
  EXPECT_EQ(final_search.state_reason(), kExhaustedReason);

  for (size_t i = 0; i < ids.size(); ++i) {
    SCOPED_TRACE(strategies[i]);
    ASSERT_TRUE(WaitUntilCompleted(cluster.search(), ids[i], seconds(300)))
        << cluster.Logs();
    nas::v1::Search search;
    ASSERT_TRUE(GetSearch(cluster.search(), ids[i], &search).ok());
    EXPECT_EQ(search.state_reason(), kExhaustedReason);
    EXPECT_EQ(search.counts().completed(), 5);
    EXPECT_EQ(search.counts().pending() + search.counts().running(), 0);
    const std::string sid = std::to_string(ids[i]);
    EXPECT_EQ(cluster.db().QueryScalar(
                  "SELECT count(*) || '/' || count(DISTINCT canonical_key) "
                  "FROM trials WHERE search_id = " +
                  sid),
              "5/5");
    // The tabular estimator measures no latency or losses: NULL, not 0.
    EXPECT_EQ(cluster.db().QueryScalar(
                  "SELECT count(*) FROM trials WHERE search_id = " + sid +
                  " AND latency_ms IS NULL AND test_loss IS NULL AND "
                  "val_loss IS NULL AND val_accuracy IS NOT NULL"),
              "5");
  }
  // The stored spec spells out the strategy's defaults.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT (spec->'strategy'->'evolution'->>'population_size') "
                "|| '/' || (spec->'strategy'->'evolution'->>'sample_size') "
                "FROM searches WHERE id = " +
                std::to_string(ids[1])),
            "20/5");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT spec->'strategy'->'gp_bayes_opt'->>'max_train' "
                "FROM searches WHERE id = " +
                std::to_string(ids[3])),
            "300");
  // The controller said so in its log.
  const std::string log = cluster.controller()->ReadLog();
  EXPECT_NE(log.find("search " + std::to_string(ids[0]) +
                     " completed: space exhausted"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("search " + std::to_string(ids[0]) + " created"),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace nas::testing
