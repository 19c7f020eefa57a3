#include "nasctl/format.h"

#include <sstream>

#include "gtest/gtest.h"

namespace nas::cli {
namespace {

nas::v1::SearchSpec TwoObjectives() {
  nas::v1::SearchSpec spec;
  nas::v1::Objective* accuracy = spec.add_objectives();
  accuracy->set_metric("val_accuracy");
  accuracy->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  nas::v1::Objective* params = spec.add_objectives();
  params->set_metric("params");
  params->set_direction(nas::v1::DIRECTION_MINIMIZE);
  nas::v1::Constraint* latency = spec.add_constraints();
  latency->set_metric("latency_ms");
  latency->set_op(nas::v1::COMPARISON_LESS_EQUAL);
  latency->set_bound(5);
  return spec;
}

nas::v1::Trial Completed(int id, int number, double accuracy, int64_t params,
                         const std::string& text) {
  nas::v1::Trial t;
  t.set_id(id);
  t.set_number(number);
  t.set_state(nas::v1::TRIAL_STATE_COMPLETED);
  t.mutable_metrics()->set_val_accuracy(accuracy);
  t.mutable_metrics()->set_params(params);
  t.mutable_architecture()->set_text(text);
  return t;
}

TEST(PrintBestTrialsTest, AFrontGetsOneColumnPerObjective) {
  nas::v1::GetBestTrialsResponse best;
  best.set_pareto_front(true);
  *best.add_trials() = Completed(11, 0, 0.9, 1500000, "|a|");
  *best.add_trials() = Completed(12, 4, 0.75, 2000, "|b|");
  std::ostringstream out;
  PrintBestTrials(TwoObjectives(), best, out);
  EXPECT_EQ(out.str(),
            "Pareto front, 2 trials: val_accuracy (max), params (min); "
            "subject to latency_ms <= 5\n"
            "TRIAL  #  VAL_ACCURACY(MAX)  PARAMS(MIN)  ARCHITECTURE\n"
            "11     0  90.00%             1.50M        |a|\n"
            "12     4  75.00%             2.0k         |b|\n");
}

TEST(PrintBestTrialsTest, OneObjectiveKeepsTheTrialsTable) {
  nas::v1::GetBestTrialsResponse best;
  *best.add_trials() = Completed(11, 0, 0.9, 1500000, "|a|");
  std::ostringstream table, best_out;
  PrintTrials({best.trials(0)}, table);
  PrintBestTrials(nas::v1::SearchSpec(), best, best_out);
  EXPECT_EQ(best_out.str(), table.str());
  EXPECT_NE(best_out.str().find("VAL_ACC"), std::string::npos);
}

}  // namespace
}  // namespace nas::cli
