// Zero-cost estimation end to end: nas-controller and nas-worker processes
// over loopback gRPC, a real PostgreSQL, real LibTorch on the MNIST subset.
// Candidates are scored at initialization (ZERO_COST trials, a fraction of a
// second each); only the best-scored are trained (RETRAIN), and only they
// rank.
#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

std::string Spec(const std::string& proxy) {
  return absl::StrCat(R"(
name: e2e-zero-cost
seed: 4
dataset: {name: mnist, validation_fraction: 0.1}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
strategy: {evolution: {population_size: 4, sample_size: 2}}
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 10, parallelism: 2, max_attempts: 2}
training: {epochs: 1, data_fraction: 0.5, batch_size: 64, learning_rate: 0.05}
estimation: {zero_cost: {score: )", proxy, R"(, batch_size: 32, train_top_k: 2}}
)");
}

TEST(ZeroCostEndToEnd, ScoresCandidatesAndTrainsOnlyTheBest) {
  for (const char* proxy : {"synflow", "naswot"}) {
    SCOPED_TRACE(proxy);
    Cluster cluster;
    ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
    cluster.StartWorkers(2);
    nas::v1::Search search;
    ASSERT_TRUE(
        RunSearchToCompletion(cluster, ParseSpec(Spec(proxy)), &search));

    const std::vector<nas::v1::Trial> trials =
        ListAllTrialsOrFail(cluster.search(), search.id());
    std::vector<std::pair<double, std::string>> scores;
    std::set<std::string> trained;
    for (const nas::v1::Trial& t : trials) {
      ASSERT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED) << t.reason();
      if (t.kind() == nas::v1::TRIAL_KIND_ZERO_COST) {
        ASSERT_TRUE(t.metrics().has_zero_cost_score());
        EXPECT_GT(t.metrics().params(), 0);
        EXPECT_FALSE(t.metrics().has_val_accuracy()) << "not trained";
        EXPECT_EQ(t.epochs_size(), 0);
        EXPECT_LT(t.metrics().train_seconds(), 10);
        scores.emplace_back(t.metrics().zero_cost_score(),
                            t.architecture().text());
      } else {
        ASSERT_EQ(t.kind(), nas::v1::TRIAL_KIND_RETRAIN);
        EXPECT_EQ(t.epochs_size(), 1);
        // Trained: above the 10% of chance (one epoch of a tiny network).
        EXPECT_GT(t.metrics().test_accuracy(), 0.15) << t.architecture().text();
        trained.insert(t.architecture().text());
      }
    }
    ASSERT_EQ(scores.size(), 10u);
    // The two trained are the two best-scored.
    std::sort(scores.rbegin(), scores.rend());
    EXPECT_EQ(trained,
              (std::set<std::string>{scores[0].second, scores[1].second}));
    nas::v1::GetBestTrialsResponse best;
    ASSERT_TRUE(GetBestTrials(cluster.search(), search.id(), 5, &best).ok());
    ASSERT_EQ(best.trials_size(), 2);
    for (const nas::v1::Trial& t : best.trials()) {
      EXPECT_EQ(t.kind(), nas::v1::TRIAL_KIND_RETRAIN);
    }
    // SQL shows the scores.
    EXPECT_EQ(cluster.db().QueryScalar(absl::StrCat(
                  "SELECT count(zero_cost_score) FROM trial_history WHERE "
                  "kind = 'ZERO_COST' AND search_id = ",
                  search.id())),
              "10");
  }
}

TEST(ZeroCostEndToEnd, UnknownProxyIsRefusedWithTheField) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  nas::v1::SearchSpec spec = ParseSpec(Spec("synflow"));
  spec.mutable_estimation()->mutable_zero_cost()->set_score("snip");
  nas::v1::Search search;
  const grpc::Status status = CreateSearch(cluster.search(), spec, &search);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "spec.estimation.zero_cost.score: unknown score \"snip\"; "
            "expected one "
            "of synflow, naswot, grad_norm, params, flops");
}

}  // namespace
}  // namespace nas::testing
