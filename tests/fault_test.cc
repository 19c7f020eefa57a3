// Faults the service must survive, with real processes: workers killed
// mid-trial, stale workers reporting after their lease moved on, retried
// reports, a controller killed and restarted mid-search.
#include <signal.h>

#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>

#include "common/spec/spec_yaml.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kSpec[] = R"(
name: faults
seed: 5
dataset: {name: mnist}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 1, parallelism: 1, max_attempts: 3}
training: {epochs: 3, data_fraction: 0.2, batch_size: 64, learning_rate: 0.05}
)";

ClusterOptions WithLease(int seconds) {
  ClusterOptions options;
  options.lease_seconds = seconds;
  return options;
}

nas::v1::SearchSpec Spec() {
  absl::StatusOr<nas::v1::SearchSpec> spec = spec::ParseSearchSpecYaml(kSpec);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return *spec;
}

int64_t Create(Cluster& cluster, const nas::v1::SearchSpec& spec) {
  nas::v1::CreateSearchRequest request;
  *request.mutable_spec() = spec;
  nas::v1::Search search;
  grpc::ClientContext context;
  grpc::Status status = cluster.search().CreateSearch(&context, request, &search);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return search.id();
}

nas::v1::Search Get(Cluster& cluster, int64_t id) {
  nas::v1::GetSearchRequest request;
  request.set_search_id(id);
  nas::v1::Search search;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + seconds(5));
  cluster.search().GetSearch(&context, request, &search);
  return search;
}

bool WaitFor(const std::function<bool()>& condition, seconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return condition();
}

std::string Register(Cluster& cluster) {
  nas::v1::RegisterWorkerRequest request;
  request.set_host("fault-test");
  request.set_device_type(nas::v1::DEVICE_TYPE_CPU);
  nas::v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  EXPECT_TRUE(cluster.worker_api().RegisterWorker(&context, request, &response).ok());
  return response.worker_id();
}

nas::v1::TrialAssignment Acquire(Cluster& cluster, const std::string& worker) {
  nas::v1::AcquireTrialRequest request;
  request.set_worker_id(worker);
  request.set_wait_ms(5000);
  nas::v1::AcquireTrialResponse response;
  grpc::ClientContext context;
  grpc::Status status = cluster.worker_api().AcquireTrial(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.assignment();
}

grpc::Status Complete(Cluster& cluster, const std::string& worker,
                      const nas::v1::TrialAssignment& a, double accuracy) {
  nas::v1::CompleteTrialRequest request;
  request.set_worker_id(worker);
  request.set_trial_id(a.trial_id());
  request.set_attempt(a.attempt());
  request.mutable_metrics()->set_val_accuracy(accuracy);
  request.mutable_metrics()->set_test_accuracy(accuracy);
  nas::v1::CompleteTrialResponse response;
  grpc::ClientContext context;
  return cluster.worker_api().CompleteTrial(&context, request, &response);
}

TEST(Faults, KilledWorkersTrialIsRequeuedAndFinishedByAnother) {
  Cluster cluster(WithLease(3));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(1);
  // Long enough (~10 s) that the kill lands mid-trial.
  nas::v1::SearchSpec spec = Spec();
  spec.mutable_training()->set_epochs(100);
  const int64_t id = Create(cluster, spec);
  const std::string sid = std::to_string(id);
  // Kill the worker once it has reported an epoch of the trial.
  ASSERT_TRUE(WaitFor([&] {
    return cluster.db().QueryScalar(
               "SELECT count(*) FROM trial_epochs e JOIN trials t ON t.id = "
               "e.trial_id WHERE t.search_id = " + sid) != "0";
  }, seconds(120))) << cluster.Logs();
  cluster.workers()[0]->Signal(SIGKILL);
  cluster.StartWorkers(1);
  ASSERT_TRUE(WaitFor([&] {
    return Get(cluster, id).state() == nas::v1::SEARCH_STATE_COMPLETED;
  }, seconds(180))) << cluster.Logs();
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT attempt || ' ' || state FROM trials WHERE search_id = " + sid),
            "2 COMPLETED");
  EXPECT_NE(cluster.db()
                .QueryScalar("SELECT reason FROM trials WHERE search_id = " + sid)
                .find("lease expired"),
            std::string::npos);
}

TEST(Faults, TrialFailsAfterMaxAttemptsWithEveryReason) {
  Cluster cluster(WithLease(2));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  nas::v1::SearchSpec spec = Spec();
  spec.mutable_budget()->set_max_attempts(2);
  const int64_t id = Create(cluster, spec);
  // Two workers that take the trial and vanish.
  for (int i = 0; i < 2; ++i) {
    const std::string worker = Register(cluster);
    nas::v1::TrialAssignment a = Acquire(cluster, worker);
    ASSERT_EQ(a.attempt(), i + 1);
    std::this_thread::sleep_for(seconds(3));  // past the lease
  }
  ASSERT_TRUE(WaitFor([&] {
    return Get(cluster, id).state() == nas::v1::SEARCH_STATE_COMPLETED;
  }, seconds(30))) << cluster.Logs();
  const std::string sid = std::to_string(id);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT state FROM trials WHERE search_id = " + sid), "FAILED");
  const std::string reason =
      cluster.db().QueryScalar("SELECT reason FROM trials WHERE search_id = " + sid);
  EXPECT_NE(reason.find("attempt 1"), std::string::npos) << reason;
  EXPECT_NE(reason.find("attempt 2"), std::string::npos) << reason;
}

TEST(Faults, StaleWorkerIsFencedAndRetriesAreIdempotent) {
  Cluster cluster(WithLease(2));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int64_t id = Create(cluster, Spec());
  const std::string stale = Register(cluster);
  const std::string fresh = Register(cluster);
  nas::v1::TrialAssignment first = Acquire(cluster, stale);
  ASSERT_EQ(first.attempt(), 1);
  std::this_thread::sleep_for(seconds(3));  // the stale worker "pauses"
  nas::v1::TrialAssignment second = Acquire(cluster, fresh);
  ASSERT_EQ(second.trial_id(), first.trial_id());
  ASSERT_EQ(second.attempt(), 2);

  grpc::Status refused = Complete(cluster, stale, first, 0.11);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("2"), std::string::npos)
      << refused.error_message();

  ASSERT_TRUE(Complete(cluster, fresh, second, 0.77).ok());
  // A retry after a lost reply: accepted, recorded once.
  EXPECT_TRUE(Complete(cluster, fresh, second, 0.77).ok());
  // The stale worker's late report still changes nothing.
  EXPECT_EQ(Complete(cluster, stale, first, 0.11).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  const std::string sid = std::to_string(id);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT val_accuracy FROM trials WHERE search_id = " + sid),
            "0.77");
  EXPECT_EQ(Get(cluster, id).counts().completed(), 1);
}

TEST(Faults, ControllerKilledMidSearchResumesFromPostgres) {
  Cluster cluster(WithLease(5));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  nas::v1::SearchSpec spec = Spec();
  spec.mutable_budget()->set_max_trials(6);
  spec.mutable_budget()->set_parallelism(2);
  spec.mutable_training()->set_epochs(2);
  spec.mutable_training()->set_data_fraction(0.1);
  const int64_t id = Create(cluster, spec);
  const std::string sid = std::to_string(id);
  ASSERT_TRUE(WaitFor([&] {
    return Get(cluster, id).counts().completed() >= 1;
  }, seconds(180))) << cluster.Logs();

  cluster.controller()->Signal(SIGKILL);
  cluster.controller()->Wait(seconds(10));
  std::this_thread::sleep_for(seconds(2));  // workers notice, back off
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();

  ASSERT_TRUE(WaitFor([&] {
    return Get(cluster, id).state() == nas::v1::SEARCH_STATE_COMPLETED;
  }, seconds(300))) << cluster.Logs();
  // Exactly max_trials trials, numbered 0..5, none lost or doubled.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(DISTINCT number) || '/' || count(*) || '/' || "
                "max(number) FROM trials WHERE search_id = " + sid),
            "6/6/5");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND state = 'COMPLETED'"),
            "6") << cluster.Logs();
  // Both workers carried on by themselves after the restart.
  for (auto& w : cluster.workers()) EXPECT_TRUE(w->running());
}

}  // namespace
}  // namespace nas::testing
