// Two controller replicas on one database: trials are leased with row locks
// that skip locked rows, and each search's strategy step is serialized by the
// store (AddTrials re-checks the trial count under the search's row lock), so
// no trial is handed out twice and no proposal is lost or doubled.
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Nothing trains: test threads acquire and complete at once. Run in several
// rounds, one search each, because a search's last strategy steps are where
// a replica working from stale counts would overshoot max_trials. A space
// large enough that the random strategy never runs out of new architectures.
constexpr char kRaceSpec[] = R"(
name: replica-race
seed: 22
dataset: {name: mnist}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2, 3], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
      - {depths: [1, 2, 3], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 24, parallelism: 8, max_attempts: 3}
training: {epochs: 1, data_fraction: 0.1, batch_size: 64, learning_rate: 0.05}
)";

// The worker id a nas-worker logged at registration ("registered as w-3").
std::string RegisteredId(const std::string& log) {
  const std::string marker = "registered as ";
  const size_t at = log.find(marker);
  if (at == std::string::npos) return "";
  const size_t begin = at + marker.size();
  return log.substr(begin, log.find(' ', begin) - begin);
}

// The SQL checks shared by both tests: exactly `n` trials numbered 0..n-1,
// every one COMPLETED exactly once, on its first attempt, with its metrics,
// and never more than `parallelism` in flight.
void ExpectEveryTrialCompletedOnce(Cluster& cluster, int64_t id, int n,
                                   int parallelism, const std::string& logs) {
  const std::string sid = std::to_string(id);
  const std::string last = std::to_string(n - 1);
  const std::string count = std::to_string(n);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT state FROM searches WHERE id = " + sid),
            "COMPLETED");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) || '/' || count(DISTINCT number) || '/' || "
                "min(number) || '/' || max(number) FROM trials "
                "WHERE search_id = " + sid),
            count + "/" + count + "/0/" + last);
  // No lease expired and none was handed out twice: a second lease of a
  // trial would have raised its attempt.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND state = 'COMPLETED' AND attempt = 1 AND reason = '' "
                "AND worker_id IS NOT NULL AND val_accuracy IS NOT NULL "
                "AND test_accuracy IS NOT NULL"),
            count) << logs;
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND state <> 'COMPLETED'"),
            "0");
  // When each strategy step stored its trials (created_at, the start of
  // that transaction), at most `parallelism` trials were in flight. A step
  // sized by counts older than the snapshot it stored against would exceed
  // this much more often than it exceeds max_trials. finished_at is the
  // start of the finishing transaction, so a trial the step saw as in
  // flight may count as finished here: the check never errs the strict way.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT max((SELECT count(*) FROM trials u "
                "WHERE u.search_id = t.search_id "
                "AND u.created_at <= t.created_at "
                "AND (u.finished_at IS NULL OR u.finished_at > t.created_at)))"
                " <= " + std::to_string(parallelism) +
                " FROM trials t WHERE t.search_id = " + sid),
            "t") << "more than " << parallelism << " trials were in flight";
}

TEST(Replicas, TwoControllersCompleteOneSearchWithoutDuplicates) {
  ClusterOptions options;
  options.lease_seconds = 30;  // no lease may expire on a busy machine
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const std::string replica = cluster.StartControllerReplica();
  ASSERT_FALSE(replica.empty()) << cluster.Logs();
  cluster.StartWorkers(2);
  cluster.StartWorkersAt(2, replica);
  auto replica_search = nas::v1::SearchService::NewStub(
      grpc::CreateChannel(replica, grpc::InsecureChannelCredentials()));

  // 12 trials of a tiny MNIST budget, four at a time, served by two
  // replicas; created through the replica, watched through the first.
  const int64_t id = CreateSearchOrFail(
      *replica_search,
      TinyMnistChainSpec("replicas", /*seed=*/21,
                         {/*max_trials=*/12, /*parallelism=*/4,
                          /*max_attempts=*/3},
                         {/*epochs=*/1, /*data_fraction=*/0.1}));
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(240)))
      << cluster.Logs();
  EXPECT_EQ(GetSearchOrEmpty(*replica_search, id).state(),
            nas::v1::SEARCH_STATE_COMPLETED);
  ExpectEveryTrialCompletedOnce(cluster, id, 12, 4, cluster.Logs());

  const std::string sid = std::to_string(id);
  // Every completed trial reported its one epoch, once, for its attempt.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trial_epochs e JOIN trials t "
                "ON t.id = e.trial_id WHERE t.search_id = " + sid +
                " AND e.attempt = 1 AND e.epoch = 1"),
            "12");
  // Both replicas handed out work: workers 0-1 registered with the first
  // controller, 2-3 with the replica.
  for (int side = 0; side < 2; ++side) {
    std::string ids;
    for (int w = 2 * side; w < 2 * side + 2; ++w) {
      const std::string worker_id =
          RegisteredId(cluster.workers()[w]->ReadLog());
      ASSERT_FALSE(worker_id.empty()) << cluster.Logs();
      ids += (ids.empty() ? "'" : ", '") + worker_id + "'";
    }
    EXPECT_NE(cluster.db().QueryScalar(
                  "SELECT count(*) FROM trials WHERE search_id = " + sid +
                  " AND worker_id IN (" + ids + ")"),
              "0")
        << "no trial ran on the workers of controller " << side;
  }
}

// What one test thread saw.
struct Lease {
  int64_t trial_id;
  int32_t attempt;
  int64_t search_id;
  int32_t number;
  std::string worker_id;
};

TEST(Replicas, ConcurrentAcquiresAcrossReplicasNeverShareATrial) {
  ClusterOptions options;
  options.lease_seconds = 30;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const std::string replica = cluster.StartControllerReplica();
  ASSERT_FALSE(replica.empty()) << cluster.Logs();
  const std::vector<std::string> addresses = {cluster.address(), replica};
  constexpr int kRounds = 4;
  constexpr int kTrialsPerSearch = 24;  // as in kRaceSpec
  constexpr int kParallelism = 8;
  constexpr int kThreads = 16;

  std::mutex mu;
  std::vector<Lease> leases;        // guarded by mu
  std::vector<std::string> errors;  // guarded by mu
  // One test thread: a worker of replica t % 2 that leases trials of
  // `search_id`, holds each a moment and completes it, until the search is
  // completed.
  auto work = [&](int t, int64_t search_id,
                  std::chrono::steady_clock::time_point deadline) {
    auto channel = grpc::CreateChannel(addresses[t % 2],
                                       grpc::InsecureChannelCredentials());
    auto workers = nas::v1::WorkerService::NewStub(channel);
    auto searches = nas::v1::SearchService::NewStub(channel);
    auto fail = [&](const std::string& what) {
      std::lock_guard<std::mutex> lock(mu);
      errors.push_back("thread " + std::to_string(t) + ": " + what);
    };
    std::string worker_id;
    grpc::Status s =
        RegisterWorker(*workers, "race-" + std::to_string(t), &worker_id);
    if (!s.ok()) return fail("RegisterWorker: " + s.error_message());
    std::mt19937 rng(static_cast<unsigned>(t + 100 * search_id));
    std::uniform_int_distribution<int> hold_ms(0, 20);
    while (std::chrono::steady_clock::now() < deadline) {
      nas::v1::AcquireTrialResponse response;
      s = AcquireTrial(*workers, worker_id, /*wait_ms=*/300, &response);
      if (!s.ok()) return fail("AcquireTrial: " + s.error_message());
      if (!response.has_assignment()) {
        if (GetSearchOrEmpty(*searches, search_id).state() ==
            nas::v1::SEARCH_STATE_COMPLETED) {
          return;
        }
        continue;
      }
      const nas::v1::TrialAssignment& a = response.assignment();
      {
        std::lock_guard<std::mutex> lock(mu);
        leases.push_back({a.trial_id(), a.attempt(), a.search_id(),
                          a.trial_number(), worker_id});
      }
      // Hold the trial a moment, so that leases overlap.
      std::this_thread::sleep_for(milliseconds(hold_ms(rng)));
      s = CompleteTrial(*workers, worker_id, a, /*accuracy=*/0.5);
      if (!s.ok()) {
        fail("CompleteTrial " + std::to_string(a.trial_id()) + ": " +
             s.error_message());
      }
    }
    fail("deadline passed before search " + std::to_string(search_id) +
         " completed");
  };

  std::vector<int64_t> ids;
  for (int round = 0; round < kRounds; ++round) {
    ids.push_back(CreateSearchOrFail(cluster.search(), ParseSpec(kRaceSpec)));
    const auto deadline = std::chrono::steady_clock::now() + seconds(60);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back(work, t, ids.back(), deadline);
    }
    for (std::thread& thread : threads) thread.join();
  }

  std::string all_errors;
  for (const std::string& e : errors) all_errors += e + "\n";
  EXPECT_TRUE(errors.empty()) << all_errors << cluster.Logs();
  // Each trial was handed out exactly once, to one worker, on attempt 1.
  std::map<int64_t, int> handed_out;
  std::set<std::pair<int64_t, int32_t>> numbers;  // (search, number)
  std::set<std::string> worker_ids;
  for (const Lease& lease : leases) {
    ++handed_out[lease.trial_id];
    numbers.insert({lease.search_id, lease.number});
    worker_ids.insert(lease.worker_id);
    EXPECT_EQ(lease.attempt, 1) << "trial " << lease.trial_id;
  }
  const size_t total = kRounds * kTrialsPerSearch;
  EXPECT_EQ(leases.size(), total);
  EXPECT_EQ(handed_out.size(), total);
  for (const auto& [trial_id, times] : handed_out) {
    EXPECT_EQ(times, 1) << "trial " << trial_id << " was handed out " << times
                        << " times";
  }
  EXPECT_EQ(numbers.size(), total);
  EXPECT_GT(worker_ids.size(), 2u);  // spread over threads of both replicas
  for (int64_t id : ids) {
    SCOPED_TRACE("search " + std::to_string(id));
    ExpectEveryTrialCompletedOnce(cluster, id, kTrialsPerSearch, kParallelism, "");
  }
}

}  // namespace
}  // namespace nas::testing
