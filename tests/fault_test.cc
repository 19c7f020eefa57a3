// Faults the service must survive, with real processes: workers killed
// mid-trial, stale workers reporting after their lease moved on, retried
// reports, a controller killed and restarted mid-search.
#include <signal.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

// One trial, three attempts: enough for a kill, a requeue and a retry.
nas::v1::SearchSpec Spec() {
  return TinyMnistChainSpec("faults", /*seed=*/5,
                            {/*max_trials=*/1, /*parallelism=*/1,
                             /*max_attempts=*/3},
                            {/*epochs=*/3, /*data_fraction=*/0.2});
}

ClusterOptions WithLease(int seconds) {
  ClusterOptions options;
  options.lease_seconds = seconds;
  return options;
}

TEST(Faults, KilledWorkersTrialIsRequeuedAndFinishedByAnother) {
  Cluster cluster(WithLease(3));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(1);
  // Long enough (~10 s) that the kill lands mid-trial.
  nas::v1::SearchSpec spec = Spec();
  spec.mutable_training()->set_epochs(100);
  const int64_t id = CreateSearchOrFail(cluster.search(), spec);
  const std::string sid = std::to_string(id);
  // Kill the worker once it has reported an epoch of the trial.
  ASSERT_TRUE(WaitFor([&] {
    return cluster.db().QueryScalar(
               "SELECT count(*) FROM trial_epochs e JOIN trials t ON t.id = "
               "e.trial_id WHERE t.search_id = " + sid) != "0";
  }, seconds(120))) << cluster.Logs();
  cluster.workers()[0]->Signal(SIGKILL);
  cluster.StartWorkers(1);
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(180)))
      << cluster.Logs();
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
  const int64_t id = CreateSearchOrFail(cluster.search(), spec);
  // Two workers that take the trial and vanish.
  for (int i = 0; i < 2; ++i) {
    const std::string worker =
        RegisterWorkerOrFail(cluster.worker_api(), "fault-test");
    nas::v1::TrialAssignment a =
        AcquireTrialOrFail(cluster.worker_api(), worker, 5000);
    ASSERT_EQ(a.attempt(), i + 1);
    std::this_thread::sleep_for(seconds(3));  // past the lease
  }
  // Its only trial failed and none completed: every attempt failed, so the
  // search ends FAILED and says why.
  nas::v1::Search search;
  ASSERT_TRUE(WaitFor(
      [&] {
        search = GetSearchOrEmpty(cluster.search(), id);
        return search.state() == nas::v1::SEARCH_STATE_FAILED;
      },
      seconds(30)))
      << search.DebugString() << cluster.Logs();
  EXPECT_NE(search.state_reason().find(
                "every attempt failed: the first 1 trial ended FAILED and "
                "none COMPLETED; trial 0: attempt 2 on worker "),
            std::string::npos)
      << search.state_reason();
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
  const int64_t id = CreateSearchOrFail(cluster.search(), Spec());
  const std::string stale =
      RegisterWorkerOrFail(cluster.worker_api(), "fault-test");
  const std::string fresh =
      RegisterWorkerOrFail(cluster.worker_api(), "fault-test");
  nas::v1::TrialAssignment first =
      AcquireTrialOrFail(cluster.worker_api(), stale, 5000);
  ASSERT_EQ(first.attempt(), 1);
  std::this_thread::sleep_for(seconds(3));  // the stale worker "pauses"
  nas::v1::TrialAssignment second =
      AcquireTrialOrFail(cluster.worker_api(), fresh, 5000);
  ASSERT_EQ(second.trial_id(), first.trial_id());
  ASSERT_EQ(second.attempt(), 2);

  grpc::Status refused =
      CompleteTrial(cluster.worker_api(), stale, first, 0.11);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("2"), std::string::npos)
      << refused.error_message();

  ASSERT_TRUE(CompleteTrial(cluster.worker_api(), fresh, second, 0.77).ok());
  // A retry after a lost reply: accepted, recorded once.
  EXPECT_TRUE(CompleteTrial(cluster.worker_api(), fresh, second, 0.77).ok());
  // The stale worker's late report still changes nothing.
  EXPECT_EQ(
      CompleteTrial(cluster.worker_api(), stale, first, 0.11).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);

  const std::string sid = std::to_string(id);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT val_accuracy FROM trials WHERE search_id = " + sid),
            "0.77");
  EXPECT_EQ(GetSearchOrEmpty(cluster.search(), id).counts().completed(), 1);
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
  const int64_t id = CreateSearchOrFail(cluster.search(), spec);
  const std::string sid = std::to_string(id);
  ASSERT_TRUE(WaitFor(
      [&] {
        return GetSearchOrEmpty(cluster.search(), id).counts().completed() >= 1;
      },
      seconds(180)))
      << cluster.Logs();

  cluster.controller()->Signal(SIGKILL);
  cluster.controller()->Wait(seconds(10));
  std::this_thread::sleep_for(seconds(2));  // workers notice, back off
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();

  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(300)))
      << cluster.Logs();
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
