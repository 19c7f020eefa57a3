// A restarted controller continues its searches rather than starting them
// over: the strategy's state (population, RNG position) is rebuilt from
// PostgreSQL. Real processes: nas-controller, tabular nas-worker processes
// (--table, no training) and a real PostgreSQL. Also a whole multi-objective
// search with a constraint through the service.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kTablePath[] = NAS_NB201_TABLE;

// No "none" op: no edge is ever dead, so a parent's one-decision neighbours
// are distinct computations and evolution (almost) never falls back to a
// random architecture; every child is then visibly a mutation.
constexpr char kEvolutionSearch[] = R"(
name: restart-evolution
seed: 77
dataset: {name: cifar10}
space: {nb201: {ops: [skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]}}
strategy: {evolution: {population_size: 10, sample_size: 3}}
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 70, parallelism: 2, max_attempts: 2}
training: {epochs: 1}
)";

// Accuracy against size, with a floor on accuracy: about a fifth of the
// table's cells are below it.
constexpr char kMultiObjectiveSearch[] = R"(
name: tabular-front
seed: 5
dataset: {name: cifar10}
space: {nb201: {}}
strategy: {evolution: {population_size: 12, sample_size: 4}}
objectives:
  - {metric: val_accuracy, direction: maximize}
  - {metric: params, direction: minimize}
constraints: ["val_accuracy >= 0.85"]
budget: {max_trials: 60, parallelism: 4, max_attempts: 2}
training: {epochs: 1}
)";

constexpr int kPopulation = 10;
constexpr int kMaxTrials = 70;
constexpr int kTrialsPerWorker = 15;  // two workers: 30 trials before the kill
// Tabular trials take milliseconds: poll often.
constexpr std::chrono::milliseconds kPoll(100);

ClusterOptions TabularWorkers(int max_trials) {
  ClusterOptions options;
  options.worker_flags = {
      std::string("--table=") + kTablePath, "--table_noise=0.5",
      "--max_trials=" + std::to_string(max_trials), "--acquire_wait_ms=200"};
  return options;
}

// Trials of search `sid` numbered >= `from` that are not a one-decision
// mutation of a lower-numbered completed trial.
std::string NonMutationsSql(const std::string& sid, int from) {
  return "SELECT count(*) FROM trials c WHERE c.search_id = " + sid +
         " AND c.number >= " + std::to_string(from) +
         " AND NOT EXISTS (SELECT 1 FROM trials p WHERE p.search_id = " + sid +
         " AND p.number < c.number AND p.state = 'COMPLETED' AND "
         "(SELECT count(*) FROM unnest(p.arch_choices, c.arch_choices) "
         "AS u(a, b) WHERE a <> b) = 1)";
}

TEST(StrategyRestart, KilledControllerContinuesEvolution) {
  ASSERT_TRUE(std::ifstream(kTablePath))
      << "the NAS-Bench-201 table is missing at " << kTablePath;
  // Workers leave after kTrialsPerWorker trials each, so the search is
  // certainly mid-way (30 of 70 completed) when the controller dies.
  Cluster cluster(TabularWorkers(kTrialsPerWorker));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  const int64_t id =
      CreateSearchOrFail(cluster.search(), ParseSpec(kEvolutionSearch));
  const std::string sid = std::to_string(id);
  ASSERT_TRUE(WaitFor(
      [&] {
        return GetSearchOrEmpty(cluster.search(), id).counts().completed() >=
               2 * kTrialsPerWorker;
      },
      seconds(60), kPoll))
      << cluster.Logs();
  const nas::v1::Search before = GetSearchOrEmpty(cluster.search(), id);
  ASSERT_EQ(before.state(), nas::v1::SEARCH_STATE_RUNNING);
  const int trials_before = std::stoi(cluster.db().QueryScalar(
      "SELECT count(*) FROM trials WHERE search_id = " + sid));
  ASSERT_LT(trials_before, kMaxTrials);

  cluster.controller()->Signal(SIGKILL);
  cluster.controller()->Wait(seconds(10));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(3);  // 45 more trials' worth; 40 are left
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(120), kPoll))
      << cluster.Logs();

  // Numbering is contiguous, nothing lost or doubled, no computation twice.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(DISTINCT number) || '/' || count(*) || '/' || "
                "max(number) || '/' || count(DISTINCT canonical_key) FROM "
                "trials WHERE search_id = " +
                sid),
            "70/70/69/70");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND state = 'COMPLETED'"),
            "70")
      << cluster.Logs();
  // Evolution went on: every trial proposed once the population was full,
  // before the kill and after it, is a one-decision mutation of an earlier
  // completed trial. A restart from scratch would have proposed another
  // kPopulation uniform random cells; a random cell is a mutation of one of
  // ~40 earlier cells with probability about 40 * 18 / 4096 < 0.18, so ten
  // of them all passing has odds below 1e-7.
  const std::string before_kill =
      cluster.db().QueryScalar(NonMutationsSql(sid, kPopulation));
  const std::string after_restart =
      cluster.db().QueryScalar(NonMutationsSql(sid, trials_before));
  std::printf(
      "restart after %d trials; non-mutations: %s from #%d, %s from "
      "#%d\n",
      trials_before, before_kill.c_str(), kPopulation, after_restart.c_str(),
      trials_before);
  EXPECT_EQ(after_restart, "0");
  EXPECT_EQ(before_kill, "0");
}

bool Dominates(const nas::v1::Trial& a, const nas::v1::Trial& b) {
  const auto& x = a.metrics();
  const auto& y = b.metrics();
  return x.val_accuracy() >= y.val_accuracy() && x.params() <= y.params() &&
         (x.val_accuracy() > y.val_accuracy() || x.params() < y.params());
}

TEST(MultiObjectiveEndToEnd, BestTrialsAreTheFeasibleParetoFront) {
  ASSERT_TRUE(std::ifstream(kTablePath))
      << "the NAS-Bench-201 table is missing at " << kTablePath;
  Cluster cluster(TabularWorkers(0));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  const int64_t id =
      CreateSearchOrFail(cluster.search(), ParseSpec(kMultiObjectiveSearch));
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(120), kPoll))
      << cluster.Logs();

  nas::v1::GetBestTrialsResponse best;
  ASSERT_TRUE(GetBestTrials(cluster.search(), id, 1000, &best).ok());
  EXPECT_TRUE(best.pareto_front());
  ASSERT_GT(best.trials_size(), 1);

  const std::vector<nas::v1::Trial> all =
      ListAllTrialsOrFail(cluster.search(), id);
  ASSERT_EQ(all.size(), 60u);
  std::vector<nas::v1::Trial> feasible;
  int infeasible = 0;
  for (const nas::v1::Trial& t : all) {
    ASSERT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED) << t.reason();
    if (t.metrics().val_accuracy() >= 0.85) {
      feasible.push_back(t);
    } else {
      ++infeasible;
    }
  }
  std::printf("front of %d among %zu feasible trials (%d infeasible)\n",
              best.trials_size(), feasible.size(), infeasible);
  EXPECT_GT(infeasible, 0);  // the constraint was put to the test
  std::set<int> on_front;
  double previous_accuracy = 2;
  for (const nas::v1::Trial& f : best.trials()) {
    on_front.insert(f.number());
    EXPECT_GE(f.metrics().val_accuracy(), 0.85) << f.number();
    EXPECT_LE(f.metrics().val_accuracy(), previous_accuracy);  // ordered
    previous_accuracy = f.metrics().val_accuracy();
    for (const nas::v1::Trial& t : feasible) {
      EXPECT_FALSE(Dominates(t, f))
          << t.number() << " dominates " << f.number();
    }
  }
  // Complete: every feasible trial left out is dominated by one listed.
  for (const nas::v1::Trial& t : feasible) {
    if (on_front.count(t.number())) continue;
    bool dominated = false;
    for (const nas::v1::Trial& f : best.trials()) {
      dominated = dominated || Dominates(f, t);
    }
    EXPECT_TRUE(dominated) << t.number();
  }
}

}  // namespace
}  // namespace nas::testing
