// Leases and worker faults end to end, against a real nas-controller and
// PostgreSQL: a worker keeps its lease through epochs many times longer than
// the lease (the heartbeat), and a worker whose environment is broken hands
// its trial back instead of failing it, backs off, and a healthy worker
// finishes the trial.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "worker/estimator.h"
#include "worker/worker_loop.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

// Reports `epochs` epochs, each taking `epoch_time` of wall time, then
// fixed metrics. Runs the chain space on any data set.
class SlowEstimator : public nas::worker::Estimator {
 public:
  SlowEstimator(int epochs, absl::Duration epoch_time)
      : epochs_(epochs), epoch_time_(epoch_time) {}

  absl::StatusOr<nas::worker::Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const nas::worker::ProgressFn& on_epoch) override {
    lease_seconds_ = assignment.lease_seconds();
    nas::worker::Evaluation evaluation;
    for (int epoch = 1; epoch <= epochs_; ++epoch) {
      absl::SleepFor(epoch_time_);
      nas::v1::EpochMetrics m;
      m.set_epoch(epoch);
      m.set_train_loss(1.0 / epoch);
      m.set_val_loss(1.0 / epoch);
      m.set_val_accuracy(0.5);
      m.set_seconds(absl::ToDoubleSeconds(epoch_time_));
      if (!on_epoch(m)) {
        evaluation.stopped = true;
        return evaluation;
      }
    }
    evaluation.metrics.set_val_accuracy(0.5);
    evaluation.metrics.set_test_accuracy(0.5);
    evaluation.metrics.set_train_seconds(epochs_ *
                                         absl::ToDoubleSeconds(epoch_time_));
    return evaluation;
  }

  nas::v1::Capabilities Capabilities() const override {
    nas::v1::Capabilities caps;
    caps.set_estimator("slow-fake");
    caps.add_can_run()->set_space(nas::v1::SPACE_KIND_CHAIN);
    return caps;
  }

  int lease_seconds() const { return lease_seconds_.load(); }

 private:
  const int epochs_;
  const absl::Duration epoch_time_;
  std::atomic<int> lease_seconds_{0};
};

nas::v1::SearchSpec OneTrialSpec(const char* name, int max_attempts) {
  return TinyMnistChainSpec(name, /*seed=*/11,
                            {/*max_trials=*/1, /*parallelism=*/1, max_attempts},
                            {/*epochs=*/1, /*data_fraction=*/0.1});
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Leases, EpochsManyLeasesLongCompleteOnTheFirstAttempt) {
  ClusterOptions options;
  // 2 s rather than 1 s: on a loaded machine a renewal can take a good part
  // of a second, and this test is about epochs, not about renewal latency.
  options.lease_seconds = 2;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int64_t id =
      CreateSearchOrFail(cluster.search(), OneTrialSpec("long-epochs", 3));

  // Two epochs of 7 s each: every epoch outlasts the lease three times
  // over, so only the heartbeat keeps the lease.
  SlowEstimator estimator(/*epochs=*/2, absl::Seconds(7));
  nas::worker::WorkerOptions worker_options;
  worker_options.identity.set_host("lease-test");
  worker_options.identity.set_name("slow-worker");
  worker_options.acquire_wait = absl::Seconds(2);
  worker_options.max_trials = 1;
  nas::worker::WorkerLoop loop(
      grpc::CreateChannel(cluster.address(),
                          grpc::InsecureChannelCredentials()),
      &estimator, worker_options);
  std::atomic<bool> stop{false};
  std::thread worker([&] { loop.Run(stop); });
  const bool completed = WaitUntilCompleted(cluster.search(), id, seconds(120));
  stop.store(true);
  worker.join();
  ASSERT_TRUE(completed) << cluster.Logs();

  EXPECT_EQ(estimator.lease_seconds(), 2);
  const std::string sid = std::to_string(id);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT attempt || ' ' || state || ' [' || reason || ']' "
                "FROM trials WHERE search_id = " +
                sid),
            "1 COMPLETED []")
      << cluster.Logs();
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trial_epochs e JOIN trials t ON "
                "t.id = e.trial_id WHERE t.search_id = " +
                sid),
            "2");
  EXPECT_EQ(cluster.db().QueryScalar("SELECT name FROM workers"),
            "slow-worker");
}

TEST(WorkerFaults, MissingDataRequeuesTheTrialForAHealthyWorker) {
  // A data folder whose mnist/ is there but empty: the worker declares
  // MNIST (the folder exists), then cannot load it.
  const std::string bad_data =
      ::testing::TempDir() + "/bad-data-" + std::to_string(getpid());
  std::filesystem::create_directories(bad_data + "/mnist");
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkersWith(1, {"--data_dir=" + bad_data, "--name=broken-box",
                               "--fault_backoff_seconds=60"});
  const int64_t id =
      CreateSearchOrFail(cluster.search(), OneTrialSpec("worker-fault", 3));
  const std::string sid = std::to_string(id);
  const std::string trial = "FROM trials WHERE search_id = " + sid;

  ASSERT_TRUE(WaitFor(
      [&] {
        return cluster.db().QueryScalar("SELECT count(*) " + trial +
                                        " AND reason LIKE '%worker fault%'") ==
               "1";
      },
      seconds(120)))
      << cluster.Logs();
  // Back to PENDING after one attempt, not FAILED; the search goes on.
  EXPECT_EQ(cluster.db().QueryScalar("SELECT state || ' ' || attempt " + trial),
            "PENDING 1");
  EXPECT_EQ(GetSearchOrEmpty(cluster.search(), id).state(),
            nas::v1::SEARCH_STATE_RUNNING);
  EXPECT_EQ(cluster.db().QueryScalar("SELECT name FROM workers"), "broken-box");

  cluster.StartWorkers(1);  // healthy: the default data folder
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(300)))
      << cluster.Logs();
  EXPECT_EQ(cluster.db().QueryScalar("SELECT state || ' ' || attempt " + trial),
            "COMPLETED 2");
  const std::string reason = cluster.db().QueryScalar("SELECT reason " + trial);
  EXPECT_NE(reason.find("attempt 1 on worker w-1: worker fault: "),
            std::string::npos)
      << reason;
  EXPECT_NE(reason.find("mnist"), std::string::npos) << reason;
  const std::string broken_log = ReadFile(cluster.log_dir() + "/worker-0.log");
  EXPECT_NE(broken_log.find("worker fault 1 in a row"), std::string::npos)
      << broken_log;
  EXPECT_NE(broken_log.find("backing off 60s"), std::string::npos)
      << broken_log;
  const std::string controller_log =
      ReadFile(cluster.log_dir() + "/controller-0.log");
  EXPECT_NE(controller_log.find(" trial #0 (id "), std::string::npos)
      << controller_log;
  EXPECT_NE(controller_log.find("worker fault, now PENDING: cannot open"),
            std::string::npos)
      << "the controller logs each failed attempt with its reason\n"
      << controller_log;
  std::filesystem::remove_all(bad_data);
}

}  // namespace
}  // namespace nas::testing
