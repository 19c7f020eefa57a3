// End to end with the tabular estimator: nas-controller and two nas-worker
// processes started with --table, over loopback gRPC and a real PostgreSQL.
// Nothing is trained, so whole NAS-Bench-201 searches run in seconds through
// the real scheduler, strategies, store and worker loop.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

// CI checks the benchmark tables out beside the repository
// (../shared/benchmarks); this test is about the table, so it fails rather
// than skips without it.
constexpr char kTablePath[] = NAS_NB201_TABLE;
constexpr double kTableMedian = 90.75;  // ../shared/benchmarks/README.md

// The full benchmark space (all five ops on every edge, 15,625 cells).
constexpr char kNb201Search[] = R"(
name: tabular-nb201
seed: 2024
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 60, parallelism: 4, max_attempts: 2}
training: {epochs: 1}
)";

constexpr char kChainSearch[] = R"(
name: tabular-chain
seed: 3
dataset: {name: mnist}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, skip], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 4, parallelism: 2, max_attempts: 1}
training: {epochs: 1}
)";

// The table as a map from architecture string to accuracy in percent; empty
// when the file is missing.
std::map<std::string, double> ReadTable() {
  std::map<std::string, double> table;
  std::ifstream in(kTablePath);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    table[line.substr(0, comma)] = std::stod(line.substr(comma + 1));
  }
  return table;
}

std::vector<std::string> TabularWorkerFlags(double noise) {
  return {std::string("--table=") + kTablePath,
          "--table_noise=" + std::to_string(noise)};
}

struct SearchRun {
  int64_t id = 0;
  double seconds = 0;  // from CreateSearch to the search_done event
  int epoch_events = 0;
  bool done = false;
  std::vector<nas::v1::Trial> trials;
};

// Creates the search, follows its event stream to the end and lists its
// trials. Failures are recorded with gtest; check HasFatalFailure().
SearchRun RunSearch(Cluster& cluster, const nas::v1::SearchSpec& spec) {
  SearchRun run;
  const auto start = std::chrono::steady_clock::now();
  run.id = CreateSearchOrFail(cluster.search(), spec);
  if (run.id == 0) return run;
  nas::v1::WatchSearchRequest watch;
  watch.set_search_id(run.id);
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() +
                             std::chrono::minutes(3));
  auto reader = cluster.search().WatchSearch(&watch_context, watch);
  nas::v1::SearchEvent event;
  while (!run.done && reader->Read(&event)) {
    run.epoch_events += event.has_epoch_reported();
    run.done = event.has_search_done();
  }
  run.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  watch_context.TryCancel();
  reader->Finish();
  EXPECT_TRUE(run.done) << "the search did not finish\n" << cluster.Logs();
  run.trials = ListAllTrialsOrFail(cluster.search(), run.id);
  return run;
}

// Runs `spec` (an nb201 search of 60 trials) on two tabular workers with the
// given noise and checks what every such search must show.
void ExpectFastCompleteSearch(const nas::v1::SearchSpec& spec, double noise) {
  const std::map<std::string, double> table = ReadTable();
  ASSERT_EQ(table.size(), 15625u)
      << "the NAS-Bench-201 table is missing or incomplete at " << kTablePath
      << "; CI expects it at ../shared/benchmarks/nb201_cifar10.csv relative "
         "to the repository";
  ClusterOptions options;
  options.worker_flags = TabularWorkerFlags(noise);
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);

  const SearchRun run = RunSearch(cluster, spec);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  ASSERT_TRUE(run.done);
  ::testing::Test::RecordProperty("search_seconds",
                                  std::to_string(run.seconds));
  std::printf("search of %d trials took %.2f s\n", spec.budget().max_trials(),
              run.seconds);
  // Look-ups take microseconds; the rest is gRPC and PostgreSQL. A worker
  // that trained instead would need minutes.
  EXPECT_LT(run.seconds, 30) << cluster.Logs();

  ASSERT_EQ(run.trials.size(), 60u) << cluster.Logs();
  EXPECT_EQ(run.epoch_events, 60);  // one progress report per look-up
  const std::string id = std::to_string(run.id);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + id +
                " AND state = 'COMPLETED'"),
            "60")
      << cluster.Logs();
  // De-duplication by computation, across concurrent proposals.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) - count(DISTINCT canonical_key) FROM trials "
                "WHERE search_id = " +
                id),
            "0");
  EXPECT_EQ(
      cluster.db().QueryScalar("SELECT state FROM searches WHERE id = " + id),
      "COMPLETED");

  double best_val = 0, best_test = 0;
  for (const nas::v1::Trial& t : run.trials) {
    EXPECT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED) << t.reason();
    auto row = table.find(t.architecture().text());
    ASSERT_NE(row, table.end()) << t.architecture().text();
    // The reported test accuracy is exactly the table's.
    EXPECT_NEAR(t.metrics().test_accuracy(), row->second / 100, 1e-12);
    if (noise == 0) {
      EXPECT_EQ(t.metrics().val_accuracy(), t.metrics().test_accuracy());
    } else {
      EXPECT_LE(std::abs(t.metrics().val_accuracy() - row->second / 100),
                6 * noise / 100);
    }
    EXPECT_GT(t.metrics().params(), 0);
    EXPECT_GT(t.metrics().flops(), 0);
    best_val = std::max(best_val, t.metrics().val_accuracy());
    best_test = std::max(best_test, t.metrics().test_accuracy());
  }
  // 7,818 of the 15,625 strings are at or below the median. Random search
  // draws uniformly over strings and rejects computations already tried: for
  // independent draws, all 60 would be at or below the median with
  // probability (7818/15625)^60 = 9e-19. Rejection removes only strings of
  // tried classes; even if it removed the 59 classes holding the most
  // above-median strings (3,279 strings in all), each draw would be at or
  // below the median with probability at most 7818/12346 = 0.633, so all 60
  // with at most 0.633^60 = 1.2e-12. Evolution's first 30 trials are such
  // draws: (7818/15625)^30 = 9.5e-10 (at most 0.633^30 = 1.1e-6). With noise
  // sigma 0.5 a uniform draw's noisy value is at or below the median with
  // probability 0.512 (averaged over the table), so 30 independent draws
  // all are with probability 0.512^30 = 1.9e-9.
  EXPECT_GT(best_val, kTableMedian / 100);
  EXPECT_GT(best_test, kTableMedian / 100);
}

TEST(TabularEndToEnd, RandomSearchOverNb201CompletesInSeconds) {
  ExpectFastCompleteSearch(ParseSpec(kNb201Search), /*noise=*/0);
}

TEST(TabularEndToEnd, EvolutionOverNb201WithNoisyLookups) {
  nas::v1::SearchSpec spec = ParseSpec(kNb201Search);
  spec.set_name("tabular-nb201-evolution");
  spec.mutable_strategy()->mutable_evolution()->set_population_size(30);
  spec.mutable_strategy()->mutable_evolution()->set_sample_size(10);
  ExpectFastCompleteSearch(spec, /*noise=*/0.5);
}

// A fleet of tabular workers cannot train a chain-space search: its trials
// are never leased (rather than all failing), the search says why, and the
// reason goes once a worker that can run it connects.
TEST(TabularEndToEnd, ChainSearchOnATabularFleetIsNotLeasedAndSaysWhy) {
  ASSERT_TRUE(std::ifstream(kTablePath))
      << "the NAS-Bench-201 table is missing at " << kTablePath;
  ClusterOptions options;
  options.worker_flags = TabularWorkerFlags(0);
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);

  const int64_t id =
      CreateSearchOrFail(cluster.search(), ParseSpec(kChainSearch));
  const std::string expected =
      "no connected worker can run this search: it needs a worker for the "
      "chain space on MNIST; connected: 2 tabular (nb201)";
  nas::v1::Search search;
  ASSERT_TRUE(WaitFor(
      [&] {
        search = GetSearchOrEmpty(cluster.search(), id);
        return search.state_reason() == expected;
      },
      std::chrono::seconds(60)))
      << search.DebugString() << cluster.Logs();
  EXPECT_EQ(search.state(), nas::v1::SEARCH_STATE_RUNNING);
  // The workers keep asking for work meanwhile; none is handed out.
  std::this_thread::sleep_for(std::chrono::seconds(3));
  const std::string sid = std::to_string(id);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND (attempt > 0 OR state <> 'PENDING')"),
            "0")
      << cluster.Logs();
  EXPECT_NE(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid),
            "0")
      << "the strategy proposed trials; they wait for a capable worker";

  // A worker that can train the chain space connects: the reason goes.
  nas::v1::RegisterWorkerRequest trainer;
  trainer.set_host("trainer-host");
  trainer.mutable_capabilities()->set_estimator("torch");
  nas::v1::Capability* can = trainer.mutable_capabilities()->add_can_run();
  can->set_space(nas::v1::SPACE_KIND_CHAIN);
  can->add_datasets(nas::v1::DATASET_NAME_MNIST);
  nas::v1::RegisterWorkerResponse registered;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  ASSERT_TRUE(
      cluster.worker_api().RegisterWorker(&context, trainer, &registered).ok());
  ASSERT_TRUE(WaitFor(
      [&] {
        search = GetSearchOrEmpty(cluster.search(), id);
        return search.state_reason().empty() &&
               search.state() == nas::v1::SEARCH_STATE_RUNNING;
      },
      std::chrono::seconds(60)))
      << search.DebugString() << cluster.Logs();
  nas::v1::AcquireTrialResponse acquired;
  ASSERT_TRUE(AcquireTrial(cluster.worker_api(), registered.worker_id(), 5000,
                           &acquired)
                  .ok());
  EXPECT_EQ(acquired.assignment().search_id(), id)
      << "the trainer gets the chain trials";
}

}  // namespace
}  // namespace nas::testing
