// PostgreSQL restarted under a running search: the controller answers
// UNAVAILABLE while the database is down, reconnects by itself once it is
// back, and the search completes with no trial lost or doubled.
//
// The test runs its own private server (tests/local_postgres.h): the shared
// one at NAS_TEST_DATABASE_URL serves other tests concurrently.
#include <stdlib.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "common/spec/spec_yaml.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/local_postgres.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kSpec[] = R"(
name: pg-restart
seed: 11
dataset: {name: mnist}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 6, parallelism: 2, max_attempts: 3}
training: {epochs: 2, data_fraction: 0.1, batch_size: 64, learning_rate: 0.05}
)";

bool WaitFor(const std::function<bool()>& condition, seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return condition();
}

grpc::Status GetSearch(Cluster& cluster, int64_t id, nas::v1::Search* search) {
  nas::v1::GetSearchRequest request;
  request.set_search_id(id);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(10));
  return cluster.search().GetSearch(&context, request, search);
}

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

  absl::StatusOr<nas::v1::SearchSpec> spec = spec::ParseSearchSpecYaml(kSpec);
  ASSERT_TRUE(spec.ok()) << spec.status();
  nas::v1::CreateSearchRequest create;
  *create.mutable_spec() = *spec;
  nas::v1::Search created;
  {
    grpc::ClientContext context;
    grpc::Status status = cluster.search().CreateSearch(&context, create, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const int64_t id = created.id();
  const std::string sid = std::to_string(id);

  // Mid-search: one trial done and others in flight.
  ASSERT_TRUE(WaitFor([&] {
    nas::v1::Search search;
    return GetSearch(cluster, id, &search).ok() &&
           search.counts().completed() >= 1 && search.counts().running() >= 1;
  }, seconds(180))) << cluster.Logs();

  ASSERT_TRUE(postgres.Stop(&error)) << error;
  const auto stopped_at = std::chrono::steady_clock::now();
  // The controller keeps serving and says the database is unavailable.
  {
    nas::v1::Search search;
    grpc::Status status = GetSearch(cluster, id, &search);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE)
        << status.error_message();
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(10));
    nas::v1::ListSearchesRequest request;
    nas::v1::ListSearchesResponse response;
    status = cluster.search().ListSearches(&context, request, &response);
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
    return GetSearch(cluster, id, &search).ok();
  }, seconds(15))) << cluster.Logs();

  nas::v1::Search search;
  ASSERT_TRUE(WaitFor([&] {
    return GetSearch(cluster, id, &search).ok() &&
           search.state() == nas::v1::SEARCH_STATE_COMPLETED;
  }, seconds(300))) << cluster.Logs();

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
