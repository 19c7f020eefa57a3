// End to end: nas-controller and two nas-worker processes over loopback gRPC,
// a real PostgreSQL, real LibTorch training on a real MNIST subset.
#include <chrono>
#include <cmath>
#include <set>
#include <string>

#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

// Small enough to train in seconds on one core, big enough to learn MNIST.
constexpr char kSmallSearch[] = R"(
name: e2e-mnist
seed: 11
dataset: {name: mnist, validation_fraction: 0.1}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
      - {depths: [1], widths: [16, 24], ops: [conv3x3, ir_k3_e3], stride: 2}
strategy: {random: {}}
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 4, parallelism: 2, max_attempts: 2}
training: {epochs: 3, data_fraction: 1.0, batch_size: 64, learning_rate: 0.05}
)";

TEST(EndToEnd, SearchCompletesWithTwoWorkersAndMetricsInPostgres) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);

  nas::v1::Search search;
  {
    grpc::Status status =
        CreateSearch(cluster.search(), ParseSpec(kSmallSearch), &search);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  // Follow the live stream to the end, as `nasctl watch` does.
  nas::v1::WatchSearchRequest watch;
  watch.set_search_id(search.id());
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::minutes(8));
  auto reader = cluster.search().WatchSearch(&watch_context, watch);
  nas::v1::SearchEvent event;
  int started = 0, epochs = 0, finished = 0, done = 0;
  bool first_is_snapshot = false, done_names_best = false;
  bool first = true;
  while (reader->Read(&event)) {
    if (first) first_is_snapshot = event.has_snapshot();
    first = false;
    started += event.has_trial_started();
    epochs += event.has_epoch_reported();
    finished += event.has_trial_finished();
    done += event.has_search_done();
    done_names_best |= event.search_done().has_best_trial();
  }
  grpc::Status watch_status = reader->Finish();
  ASSERT_TRUE(watch_status.ok()) << watch_status.error_message() << cluster.Logs();
  EXPECT_TRUE(first_is_snapshot);
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(done_names_best);
  EXPECT_EQ(started, 4);
  EXPECT_EQ(finished, 4);
  EXPECT_EQ(epochs, 4 * 3);

  ASSERT_TRUE(GetSearch(cluster.search(), search.id(), &search).ok());
  EXPECT_EQ(search.state(), nas::v1::SEARCH_STATE_COMPLETED) << cluster.Logs();
  EXPECT_EQ(search.counts().completed(), 4) << cluster.Logs();

  // Every trial ended, each with its metrics and per-epoch rows in the
  // database, read with SQL as a person would.
  const std::string id = std::to_string(search.id());
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + id +
                " AND state NOT IN ('COMPLETED','FAILED','STOPPED','CANCELLED')"),
            "0");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + id +
                " AND state = 'COMPLETED' AND test_accuracy > 0 AND params > 0"
                " AND flops > 0 AND latency_ms > 0 AND train_seconds > 0"),
            "4");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trial_epochs e JOIN trials t ON "
                "t.id = e.trial_id WHERE t.search_id = " + id),
            "12");
  // The workers registered with their device.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM workers WHERE device_type = 'CPU'"),
            "2");

  nas::v1::GetBestTrialsResponse best;
  ASSERT_TRUE(GetBestTrials(cluster.search(), search.id(), 4, &best).ok());
  ASSERT_EQ(best.trials_size(), 4);
  for (int i = 1; i < best.trials_size(); ++i) {
    EXPECT_GE(best.trials(i - 1).metrics().val_accuracy(),
              best.trials(i).metrics().val_accuracy());
  }
  // Chance is 10%; 3 epochs on the 7,700 training images are far above.
  EXPECT_GT(best.trials(0).metrics().test_accuracy(), 0.8) << cluster.Logs();
  EXPECT_EQ(best.trials(0).epochs_size(), 3);
}

TEST(EndToEnd, CancelStopsTrainingTrials) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  nas::v1::SearchSpec spec = ParseSpec(kSmallSearch);
  spec.mutable_training()->set_epochs(1000);  // minutes: far longer than the test
  spec.mutable_training()->set_data_fraction(0.05);
  nas::v1::Search search;
  ASSERT_TRUE(CreateSearch(cluster.search(), spec, &search).ok());
  // Wait until both workers are training, then cancel.
  nas::v1::WatchSearchRequest watch;
  watch.set_search_id(search.id());
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::minutes(3));
  auto reader = cluster.search().WatchSearch(&watch_context, watch);
  nas::v1::SearchEvent event;
  std::set<int64_t> training;  // trials that reported an epoch
  while (training.size() < 2 && reader->Read(&event)) {
    if (event.has_epoch_reported()) {
      training.insert(event.epoch_reported().trial_id());
    }
  }
  ASSERT_EQ(training.size(), 2u) << cluster.Logs();

  nas::v1::Search cancelled;
  {
    grpc::Status status =
        CancelSearch(cluster.search(), search.id(), &cancelled);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  EXPECT_EQ(cancelled.state(), nas::v1::SEARCH_STATE_CANCELLED);
  // The stream ends with the search done.
  bool saw_done = false;
  while (reader->Read(&event)) saw_done |= event.has_search_done();
  EXPECT_TRUE(saw_done);

  // Workers are told to stop at their next epoch report.
  auto stopped_workers = [&] {
    int n = 0;
    for (auto& w : cluster.workers()) {
      n += w->ReadLog().find("controller asked to stop") != std::string::npos;
    }
    return n;
  };
  WaitFor([&] { return stopped_workers() >= 2; }, std::chrono::seconds(60));
  EXPECT_EQ(stopped_workers(), 2) << cluster.Logs();
  const std::string id = std::to_string(search.id());
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + id +
                " AND state <> 'CANCELLED'"),
            "0");
  // Cancelling twice is refused: the search already ended.
  EXPECT_EQ(
      CancelSearch(cluster.search(), search.id(), &cancelled).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
}

TEST(EndToEnd, BadRequestsGetClearStatusCodes) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();

  nas::v1::SearchSpec spec = ParseSpec(kSmallSearch);
  spec.mutable_space()->mutable_chain()->mutable_stages(1)->set_ops(1,
                                                                    "conv9x9");
  nas::v1::Search search;
  grpc::Status status = CreateSearch(cluster.search(), spec, &search);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("space.chain.stages[1].ops[1]"),
            std::string::npos)
      << status.error_message();

  // The same spec as YAML text: the controller parses it, errors name the
  // path and line; a request with both forms is refused.
  std::string yaml = kSmallSearch;
  const std::string ops = "ops: [conv3x3, ir_k3_e3]";  // stage 1's only
  yaml.replace(yaml.find(ops), ops.size(), "ops: [conv3x3, conv9x9]");
  nas::v1::CreateSearchRequest from_yaml;
  from_yaml.set_spec_yaml(yaml);
  {
    grpc::ClientContext context;
    status = cluster.search().CreateSearch(&context, from_yaml, &search);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find(
                "spec_yaml: space.chain.stages[1].ops[1] (line "),
            std::string::npos)
      << status.error_message();
  *from_yaml.mutable_spec() = ParseSpec(kSmallSearch);
  {
    grpc::ClientContext context;
    status = cluster.search().CreateSearch(&context, from_yaml, &search);
  }
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("not both"), std::string::npos)
      << status.error_message();
  nas::v1::ValidateSearchRequest validate;
  validate.set_spec_yaml(kSmallSearch);
  nas::v1::ValidateSearchResponse validated;
  {
    grpc::ClientContext context;
    status = cluster.search().ValidateSearch(&context, validate, &validated);
  }
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(validated.spec().name(), "e2e-mnist");
  EXPECT_EQ(validated.spec().budget().max_trials(), 4);

  EXPECT_EQ(GetSearch(cluster.search(), 987654, &search).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(GetSearch(cluster.search(), -3, &search).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // A worker reporting on a trial it does not hold is refused.
  std::string worker_id;
  ASSERT_TRUE(
      RegisterWorker(cluster.worker_api(), "test-host", &worker_id).ok());
  nas::v1::TrialMetrics metrics;
  EXPECT_EQ(CompleteTrial(cluster.worker_api(), worker_id, /*trial_id=*/424242,
                          /*attempt=*/1, metrics)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  metrics.set_val_accuracy(std::nan(""));
  EXPECT_EQ(CompleteTrial(cluster.worker_api(), worker_id, /*trial_id=*/424242,
                          /*attempt=*/1, metrics)
                .error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // The controller survived all of it, and says so on the standard health
  // service that load balancers and orchestrators probe.
  auto health = grpc::health::v1::Health::NewStub(grpc::CreateChannel(
      cluster.address(), grpc::InsecureChannelCredentials()));
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse serving;
  grpc::ClientContext c7;
  ASSERT_TRUE(health->Check(&c7, check, &serving).ok());
  EXPECT_EQ(serving.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_TRUE(cluster.controller()->running());
}

}  // namespace
}  // namespace nas::testing
