// Ranking of completed trials by the search's first objective
// (TrialStore::BestTrials; the best_trials view in PostgreSQL), in every
// TrialStore.
#include <cstdint>
#include <string>
#include <vector>

#include "controller/store/proto_rows.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

// Completes trials 0..n-1 of a fresh search with the given objective values.
class BestTrialsTest : public AnyStoreTest {
 protected:
  int64_t SearchWithAccuracies(nas::v1::Direction direction,
                               const std::string& metric,
                               const std::vector<double>& values) {
    auto search = store().CreateSearch(
        Spec("best", static_cast<int>(values.size()), 3, metric, direction),
        "");
    EXPECT_TRUE(search.ok());
    std::vector<NewTrial> trials;
    for (size_t i = 0; i < values.size(); ++i) trials.push_back(Trial(i));
    EXPECT_TRUE(store().AddTrials(search->id(), 0, trials).ok());
    for (double value : values) {
      const nas::v1::TrialAssignment a = Lease("w");
      nas::v1::TrialMetrics metrics;
      metrics.set_val_accuracy(value);
      metrics.set_val_loss(value);
      metrics.set_params(static_cast<int64_t>(value * 1000));
      EXPECT_TRUE(store().CompleteTrial(Ref(a, "w"), metrics).ok());
    }
    return search->id();
  }

  std::vector<int32_t> BestNumbers(int64_t id, int k) {
    auto best = store().BestTrials(id, k);
    EXPECT_TRUE(best.ok()) << best.status();
    std::vector<int32_t> numbers;
    if (best.ok()) {
      for (const nas::v1::Trial& trial : *best)
        numbers.push_back(trial.number());
    }
    return numbers;
  }
};

INSTANTIATE_FOR_EVERY_STORE(BestTrialsTest);

TEST_P(BestTrialsTest, MaximizeRanksHighestFirst) {
  const int64_t id = SearchWithAccuracies(nas::v1::DIRECTION_MAXIMIZE,
                                          "val_accuracy", {0.5, 0.9, 0.7, 0.1});
  // A failed trial never ranks.
  ASSERT_TRUE(store().AddTrials(id, 4, {Trial(4)}).ok());
  const nas::v1::TrialAssignment a = Lease("w");
  ASSERT_TRUE(store().FailTrial(Ref(a, "w"), "nan loss").ok());
  EXPECT_EQ(BestNumbers(id, 3), (std::vector<int32_t>{1, 2, 0}));
  EXPECT_EQ(BestNumbers(id, 10), (std::vector<int32_t>{1, 2, 0, 3}));
  auto best = store().BestTrials(id, 1);
  ASSERT_TRUE(best.ok());
  EXPECT_DOUBLE_EQ((*best)[0].metrics().val_accuracy(), 0.9);
}

TEST_P(BestTrialsTest, MinimizeRanksLowestFirst) {
  const int64_t id = SearchWithAccuracies(nas::v1::DIRECTION_MINIMIZE,
                                          "val_loss", {0.5, 0.9, 0.7, 0.1});
  EXPECT_EQ(BestNumbers(id, 4), (std::vector<int32_t>{3, 0, 2, 1}));
  const int64_t by_params = SearchWithAccuracies(nas::v1::DIRECTION_MINIMIZE,
                                                 "params", {0.3, 0.2, 0.4});
  EXPECT_EQ(BestNumbers(by_params, 4), (std::vector<int32_t>{1, 0, 2}));
}

TEST_P(BestTrialsTest, UnknownObjectiveMetricIsRejected) {
  auto search =
      store().CreateSearch(Spec("bad", 1, 3, "val_accuracy; DROP TABLE trials",
                                nas::v1::DIRECTION_MAXIMIZE),
                           "");
  EXPECT_EQ(search.status().code(), absl::StatusCode::kInvalidArgument);
}

// Every whitelisted metric ranks by its own column, in both directions.
TEST_P(BestTrialsTest, EveryObjectiveMetricRanksByItsColumn) {
  for (const char* metric :
       {"val_accuracy", "test_accuracy", "val_loss", "params", "flops",
        "latency_ms", "train_seconds"}) {
    ASSERT_TRUE(IsObjectiveMetric(metric)) << metric;
    for (nas::v1::Direction direction :
         {nas::v1::DIRECTION_MAXIMIZE, nas::v1::DIRECTION_MINIMIZE}) {
      auto search =
          store().CreateSearch(Spec("m", 3, 3, metric, direction), "");
      ASSERT_TRUE(search.ok()) << search.status();
      ASSERT_TRUE(
          store()
              .AddTrials(search->id(), 0, {Trial(0), Trial(1), Trial(2)})
              .ok());
      // Trial i scores (i + 1) on the objective and 10 - i elsewhere, so a
      // ranking by any other column comes out reversed.
      for (int i = 0; i < 3; ++i) {
        const nas::v1::TrialAssignment a = Lease("w");
        nas::v1::TrialMetrics m;
        const double other = 10 - i;
        m.set_val_accuracy(other);
        m.set_test_accuracy(other);
        m.set_val_loss(other);
        m.set_params(static_cast<int64_t>(other));
        m.set_flops(static_cast<int64_t>(other));
        m.set_latency_ms(other);
        m.set_train_seconds(other);
        const google::protobuf::Reflection* r = m.GetReflection();
        const auto* field = m.GetDescriptor()->FindFieldByName(metric);
        ASSERT_NE(field, nullptr);
        if (field->cpp_type() ==
            google::protobuf::FieldDescriptor::CPPTYPE_INT64) {
          r->SetInt64(&m, field, i + 1);
        } else {
          r->SetDouble(&m, field, i + 1);
        }
        ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), m).ok());
      }
      const std::vector<int32_t> expected =
          direction == nas::v1::DIRECTION_MAXIMIZE
              ? std::vector<int32_t>{2, 1, 0}
              : std::vector<int32_t>{0, 1, 2};
      EXPECT_EQ(BestNumbers(search->id(), 3), expected)
          << metric << " " << nas::v1::Direction_Name(direction);
    }
  }
}

}  // namespace
}  // namespace nas::controller::testing
