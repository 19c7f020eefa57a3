// PostgreSQL restarted under a running search: the controller answers
// UNAVAILABLE while the database is down, reconnects by itself once it is
// back, and the search completes with no trial lost or doubled.
//
// The test runs its own private server (tests/local_postgres.h): the shared
// one at NAS_TEST_DATABASE_URL serves other tests concurrently.
#include <stdlib.h>

#include <chrono>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "tests/local_postgres.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

TEST(PostgresRestart, ControllerAnswersUnavailableThenSearchCompletes) {
  LocalPostgres postgres;  // declared first: outlives the cluster
  std::string error;
  ASSERT_TRUE(postgres.Start(&error)) << error;
  // The cluster creates its scratch database through NAS_TEST_DATABASE_URL;
  // point it at the private server (this test process only).
  setenv("NAS_TEST_DATABASE_URL", postgres.url().c_str(), 1);

  ClusterOptions options;
  options.lease_seconds = 10;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);

  const nas::v1::SearchSpec spec = TinyMnistChainSpec(
      "pg-restart", /*seed=*/11,
      {/*max_trials=*/6, /*parallelism=*/2, /*max_attempts=*/3},
      {/*epochs=*/2, /*data_fraction=*/0.1});
  nas::v1::Search created;
  {
    grpc::Status status = CreateSearch(cluster.search(), spec, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const int64_t id = created.id();
  const std::string sid = std::to_string(id);

  // Mid-search: one trial done and others in flight.
  ASSERT_TRUE(WaitFor([&] {
    nas::v1::Search search;
    return GetSearch(cluster.search(), id, &search).ok() &&
           search.counts().completed() >= 1 && search.counts().running() >= 1;
  }, seconds(180))) << cluster.Logs();

  ASSERT_TRUE(postgres.Stop(&error)) << error;
  const auto stopped_at = std::chrono::steady_clock::now();
  // The controller keeps serving and says the database is unavailable.
  {
    nas::v1::Search search;
    grpc::Status status = GetSearch(cluster.search(), id, &search);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
    nas::v1::ListSearchesResponse response;
    status = ListSearches(cluster.search(), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
  }
  // Down for a few seconds: long enough for workers to hit the outage
  // (progress reports, acquires) and for the maintenance loop to fail.
  std::this_thread::sleep_until(stopped_at + seconds(5));
  EXPECT_TRUE(cluster.controller()->running()) << cluster.Logs();
  ASSERT_TRUE(postgres.Start(&error)) << error;

  // Reconnects by itself: the first calls after the restart may still meet
  // a pooled connection that the stop killed, never more than once each.
  EXPECT_TRUE(WaitFor([&] {
    nas::v1::Search search;
    return GetSearch(cluster.search(), id, &search).ok();
  }, seconds(15))) << cluster.Logs();

  nas::v1::Search search;
  ASSERT_TRUE(WaitFor(
      [&] {
        return GetSearch(cluster.search(), id, &search).ok() &&
               search.state() == nas::v1::SEARCH_STATE_COMPLETED;
      },
      seconds(300)))
      << cluster.Logs();

  // Exactly max_trials trials, numbered 0..5, each in a terminal state.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(DISTINCT number) || '/' || count(*) || '/' || "
                "min(number) || '/' || max(number) FROM trials "
                "WHERE search_id = " + sid),
            "6/6/0/5");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND state NOT IN ('COMPLETED', 'FAILED')"),
            "0");
  // Nothing went wrong with the trials themselves: each one completed, with
  // its metrics, within its attempts.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND state = 'COMPLETED' AND val_accuracy IS NOT NULL "
                "AND test_accuracy IS NOT NULL AND params IS NOT NULL "
                "AND attempt BETWEEN 1 AND 3"),
            "6") << cluster.Logs();
  // Epochs were recorded only for attempts that happened, at most once each
  // (the primary key), and never past the budget.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trial_epochs e JOIN trials t "
                "ON t.id = e.trial_id WHERE t.search_id = " + sid +
                " AND (e.attempt < 1 OR e.attempt > t.attempt "
                "OR e.epoch < 1 OR e.epoch > 2)"),
            "0");
  EXPECT_EQ(search.counts().completed(), 6);
  // Results finished while the database was down were accepted once it was
  // back: after an outage the controller waits a lease length before it
  // expires leases, so the workers' retries arrive in time.
  for (auto& w : cluster.workers()) {
    const std::string log = w->ReadLog();
    EXPECT_EQ(log.find("result not recorded"), std::string::npos) << log;
  }
  // The controller and both workers rode it out without restarting.
  EXPECT_TRUE(cluster.controller()->running());
  for (auto& w : cluster.workers()) EXPECT_TRUE(w->running());
}

}  // namespace
}  // namespace nas::testing
