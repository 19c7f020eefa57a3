// GetBestTrials through the service on a real PostgreSQL: the Pareto front
// with several objectives, constraints with one or several, and the
// store-ranked path with neither.
#include <tuple>
#include <vector>

#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/core/trial_lifecycle.h"
#include "controller/event_hub.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/pruning/pruning_book.h"
#include "controller/scheduler.h"
#include "controller/search_service.h"
#include "controller/security/authorizer.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

// (val_accuracy, params, latency_ms) of trials 0..6; 6 fails.
//   0 (.90, 500, 3)  on the front
//   1 (.80, 300, 2)  on the front
//   2 (.85, 600, 1)  dominated by 0
//   3 (.95, 400, 9)  would dominate 0 and 1, but breaks latency_ms <= 5
//   4 (.70, 100, 4)  on the front
//   5 (.80, 300, 1)  equal to 1 on both objectives: also on the front
const std::vector<std::tuple<double, int64_t, double>> kTrials = {
    {.90, 500, 3}, {.80, 300, 2}, {.85, 600, 1},
    {.95, 400, 9}, {.70, 100, 4}, {.80, 300, 1}};

class BestTrialsServiceTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    scheduler_ = std::make_unique<Scheduler>(&store(), Scheduler::Options());
    pruning_ = std::make_unique<PruningBook>(&store());
    lifecycle_ = std::make_unique<TrialLifecycle>(&store(), scheduler_.get(),
                                                  &hub_, pruning_.get(),
                                                  &metrics_, Clock::Real());
    service_ = std::make_unique<SearchServiceImpl>(
        &store(), scheduler_.get(), lifecycle_.get(), &hub_, &auth_);
  }

  // A search over kTrials plus a failed trial.
  int64_t SearchWith(nas::v1::SearchSpec spec) {
    spec.mutable_budget()->set_max_trials(7);
    spec.mutable_budget()->set_max_attempts(1);
    auto search = store().CreateSearch(spec, /*owner=*/"");
    EXPECT_TRUE(search.ok()) << search.status();
    std::vector<NewTrial> trials;
    for (int i = 0; i < 7; ++i) trials.push_back(Trial(i));
    EXPECT_TRUE(store().AddTrials(search->id(), 0, trials).ok());
    for (const auto& [accuracy, params, latency] : kTrials) {
      const nas::v1::TrialAssignment a = Lease("w");
      nas::v1::TrialMetrics m;
      m.set_val_accuracy(accuracy);
      m.set_params(params);
      m.set_latency_ms(latency);
      EXPECT_TRUE(store().CompleteTrial(Ref(a, "w"), m).ok());
    }
    const nas::v1::TrialAssignment a = Lease("w");
    EXPECT_TRUE(store().FailTrial(Ref(a, "w"), "diverged").ok());
    return search->id();
  }

  grpc::Status Best(int64_t id, int k, std::vector<int32_t>* numbers,
                    bool* pareto_front = nullptr) {
    nas::v1::GetBestTrialsRequest request;
    request.set_search_id(id);
    request.set_k(k);
    nas::v1::GetBestTrialsResponse response;
    grpc::ServerContext context;
    grpc::Status status =
        service_->GetBestTrials(&context, &request, &response);
    numbers->clear();
    for (const nas::v1::Trial& t : response.trials()) {
      numbers->push_back(t.number());
    }
    if (pareto_front != nullptr) *pareto_front = response.pareto_front();
    return status;
  }

  static void AddLatencyLimit(nas::v1::SearchSpec* spec) {
    nas::v1::Constraint* c = spec->add_constraints();
    c->set_metric("latency_ms");
    c->set_op(nas::v1::COMPARISON_LESS_EQUAL);
    c->set_bound(5);
  }

  Authorizer auth_;  // authentication off: the caller is an admin
  EventHub hub_;
  metrics::Registry registry_;
  ControllerMetrics metrics_{&registry_};
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<PruningBook> pruning_;
  std::unique_ptr<TrialLifecycle> lifecycle_;
  std::unique_ptr<SearchServiceImpl> service_;
};

TEST_F(BestTrialsServiceTest, SeveralObjectivesGiveTheFeasibleParetoFront) {
  nas::v1::SearchSpec spec = Spec("front", 7);
  nas::v1::Objective* params = spec.add_objectives();
  params->set_metric("params");
  params->set_direction(nas::v1::DIRECTION_MINIMIZE);
  AddLatencyLimit(&spec);
  const int64_t id = SearchWith(spec);
  std::vector<int32_t> numbers;
  bool pareto_front = false;
  ASSERT_TRUE(Best(id, 10, &numbers, &pareto_front).ok());
  EXPECT_TRUE(pareto_front);
  // By val_accuracy, ties by number.
  EXPECT_EQ(numbers, (std::vector<int32_t>{0, 1, 5, 4}));
  ASSERT_TRUE(Best(id, 2, &numbers).ok());
  EXPECT_EQ(numbers, (std::vector<int32_t>{0, 1}));
}

TEST_F(BestTrialsServiceTest, WithoutConstraintsTheFrontMayChange) {
  nas::v1::SearchSpec spec = Spec("front", 7);
  nas::v1::Objective* params = spec.add_objectives();
  params->set_metric("params");
  params->set_direction(nas::v1::DIRECTION_MINIMIZE);
  const int64_t id = SearchWith(spec);
  std::vector<int32_t> numbers;
  ASSERT_TRUE(Best(id, 10, &numbers).ok());
  // 3 now counts: it dominates 0 (and 2) but not 1, 5 or 4 (fewer params).
  EXPECT_EQ(numbers, (std::vector<int32_t>{3, 1, 5, 4}));
}

TEST_F(BestTrialsServiceTest, OneObjectiveWithAConstraintSkipsInfeasible) {
  nas::v1::SearchSpec spec = Spec("ranked", 7);
  AddLatencyLimit(&spec);
  const int64_t id = SearchWith(spec);
  std::vector<int32_t> numbers;
  bool pareto_front = true;
  ASSERT_TRUE(Best(id, 10, &numbers, &pareto_front).ok());
  EXPECT_FALSE(pareto_front);
  EXPECT_EQ(numbers, (std::vector<int32_t>{0, 2, 1, 5, 4}));
  ASSERT_TRUE(Best(id, 1, &numbers).ok());
  EXPECT_EQ(numbers, (std::vector<int32_t>{0}));
}

TEST_F(BestTrialsServiceTest, OneObjectiveAloneRanksEveryCompletedTrial) {
  const int64_t id = SearchWith(Spec("plain", 7));
  std::vector<int32_t> numbers;
  bool pareto_front = true;
  ASSERT_TRUE(Best(id, 3, &numbers, &pareto_front).ok());
  EXPECT_FALSE(pareto_front);
  EXPECT_EQ(numbers, (std::vector<int32_t>{3, 0, 2}));
}

// Scores with inherited weights are estimates: a dominating one joins
// neither the front nor a constrained ranking.
TEST_F(BestTrialsServiceTest, InheritedWeightScoresNeverCount) {
  nas::v1::SearchSpec pareto = Spec("front", 7);
  nas::v1::Objective* params = pareto.add_objectives();
  params->set_metric("params");
  params->set_direction(nas::v1::DIRECTION_MINIMIZE);
  AddLatencyLimit(&pareto);
  nas::v1::SearchSpec constrained = Spec("ranked", 7);
  AddLatencyLimit(&constrained);
  for (const nas::v1::SearchSpec& spec : {pareto, constrained}) {
    const int64_t id = SearchWith(spec);
    NewTrial estimate = Trial(7);
    estimate.kind = nas::v1::TRIAL_KIND_SCORE_INHERITED;
    estimate.task = nas::v1::SupernetTask();
    ASSERT_TRUE(store().AddTrials(id, 7, {estimate}).ok());
    const nas::v1::TrialAssignment a = Lease("w");
    ASSERT_EQ(a.trial_number(), 7);
    nas::v1::TrialMetrics m;
    m.set_val_accuracy(0.99);
    m.set_params(10);
    m.set_latency_ms(1);
    ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), m).ok());
    std::vector<int32_t> numbers;
    ASSERT_TRUE(Best(id, 10, &numbers).ok());
    EXPECT_EQ(numbers, spec.objectives_size() > 1
                           ? (std::vector<int32_t>{0, 1, 5, 4})
                           : (std::vector<int32_t>{0, 2, 1, 5, 4}))
        << spec.name();
  }
}

TEST_F(BestTrialsServiceTest, BadRequestsGetTheirCodes) {
  std::vector<int32_t> numbers;
  EXPECT_EQ(Best(12345, 5, &numbers).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Best(0, 5, &numbers).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  const int64_t id = SearchWith(Spec("plain", 7));
  EXPECT_EQ(Best(id, 5000, &numbers).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace nas::controller::testing
