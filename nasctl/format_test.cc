#include "nasctl/format.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

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

TEST(FormatTest, ErrorLinesNameTheStatusCode) {
  EXPECT_EQ(ErrorLine(5, "search 999 not found"),
            "NOT_FOUND: search 999 not found");
  EXPECT_EQ(ErrorLine(3, "spec.budget.max_trials: required"),
            "INVALID_ARGUMENT: spec.budget.max_trials: required");
}

TEST(FormatTest, OutputFormats) {
  EXPECT_EQ(ParseOutputFormat("csv").value_or(OutputFormat::kTable),
            OutputFormat::kCsv);
  EXPECT_EQ(ParseOutputFormat("json").value_or(OutputFormat::kTable),
            OutputFormat::kJson);
  EXPECT_EQ(ParseOutputFormat("yaml").status().message(),
            "-o: expected table, json or csv, got \"yaml\"");
}

TEST(FormatTest, TrialEndedLineShowsUnmeasuredMetricsAsDashes) {
  nas::v1::Trial score;
  score.set_number(69);
  score.set_kind(nas::v1::TRIAL_KIND_SCORE_INHERITED);
  score.set_state(nas::v1::TRIAL_STATE_COMPLETED);
  score.mutable_metrics()->set_val_accuracy(0.735);
  score.mutable_metrics()->set_params(30500);
  // An inherited-weight score measures no test accuracy: "-", not 0.00%.
  EXPECT_EQ(TrialEndedLine(score),
            "trial #69 [score] COMPLETED: val 73.50% test - params 30.5k");

  nas::v1::Trial failed;
  failed.set_number(2);
  failed.set_state(nas::v1::TRIAL_STATE_FAILED);
  failed.set_reason("attempt 1: out of memory\nattempt 2: diverged");
  EXPECT_EQ(TrialEndedLine(failed),
            "trial #2 FAILED: val - test - params - (attempt 2: diverged)");
}

TEST(FormatTest, ReasonSummaryKeepsTheLastLineCut) {
  EXPECT_EQ(ReasonSummary(""), "-");
  EXPECT_EQ(ReasonSummary("attempt 1: lease expired\nattempt 2: OOM\n"),
            "attempt 2: OOM");
  EXPECT_EQ(ReasonSummary("0123456789", 8), "01234...");
  EXPECT_EQ(ReasonSummary("01234567", 8), "01234567");
}

TEST(FormatTest, TrialsTableShowsTheReason) {
  nas::v1::Trial failed;
  failed.set_id(7);
  failed.set_number(2);
  failed.set_state(nas::v1::TRIAL_STATE_FAILED);
  failed.set_reason("attempt 1: lease expired\nattempt 2: CUDA out of memory");
  failed.mutable_architecture()->set_text("|c|");
  std::ostringstream out;
  PrintTrials({failed}, out);
  EXPECT_EQ(out.str(),
            "TRIAL  #  STATE   VAL_ACC  TEST_ACC  PARAMS  FLOPS  LATENCY  "
            "TRAIN_S  REASON                         ARCHITECTURE\n"
            "7      2  FAILED  -        -         -       -      -        "
            "-        attempt 2: CUDA out of memory  |c|\n");
}

TEST(FormatTest, TrialsCsvHasPlainNumbersAndQuotesCells) {
  nas::v1::Trial done = Completed(11, 0, 0.9, 1500000, "|a, b|");
  nas::v1::Trial failed;
  failed.set_id(12);
  failed.set_number(1);
  failed.set_state(nas::v1::TRIAL_STATE_FAILED);
  failed.set_reason("line 1\nsaid \"no\"");
  done.set_kind(nas::v1::TRIAL_KIND_TRAIN);
  failed.set_kind(nas::v1::TRIAL_KIND_RETRAIN);
  std::ostringstream out;
  PrintTrials({done, failed}, out, OutputFormat::kCsv);
  EXPECT_EQ(out.str(),
            "trial_id,number,state,kind,val_accuracy,val_loss,test_accuracy,"
            "test_loss,params,flops,latency_ms,train_seconds,reason,"
            "architecture,rung,zero_cost_score\n"
            // Metrics the estimator did not measure are empty, not 0.
            "11,0,COMPLETED,TRAIN,0.9,,,,1500000,,,,,\"|a, b|\",,\n"
            "12,1,FAILED,RETRAIN,,,,,,,,,\"line 1\nsaid \"\"no\"\"\",,,\n");
}

nas::v1::Search WeightSharingSearch() {
  nas::v1::Search search;
  search.set_id(4);
  search.mutable_spec()->set_name("ws");
  search.mutable_spec()->mutable_budget()->set_max_trials(200);
  auto* ws = search.mutable_spec()->mutable_estimation()->mutable_weight_sharing();
  ws->mutable_supernet()->set_rounds(8);
  ws->mutable_supernet()->set_shards_per_round(4);
  ws->set_retrain_top_k(3);
  return search;
}

void SetKindCounts(nas::v1::Search* search, nas::v1::TrialKind kind,
                   int completed, int running) {
  nas::v1::KindCounts* k = search->add_kind_counts();
  k->set_kind(kind);
  k->mutable_counts()->set_completed(completed);
  k->mutable_counts()->set_running(running);
}

TEST(FormatTest, PhaseTextFollowsTheWeightSharingPhases) {
  nas::v1::Search search = WeightSharingSearch();
  EXPECT_EQ(PlannedTrials(search), 200 + 8 * 4 + 3);
  SetKindCounts(&search, nas::v1::TRIAL_KIND_SUPERNET_SHARD, 10, 2);
  search.set_supernet_version(2);
  EXPECT_EQ(PhaseText(search), "supernet round 3/8 (2/4 shards)");

  search.clear_kind_counts();
  SetKindCounts(&search, nas::v1::TRIAL_KIND_SUPERNET_SHARD, 32, 0);
  SetKindCounts(&search, nas::v1::TRIAL_KIND_SCORE_INHERITED, 57, 2);
  search.set_supernet_version(8);
  EXPECT_EQ(PhaseText(search), "scoring 57/200 candidates (supernet version 8)");

  SetKindCounts(&search, nas::v1::TRIAL_KIND_RETRAIN, 1, 2);
  EXPECT_EQ(PhaseText(search), "retraining 1/3");

  nas::v1::Search scratch;
  scratch.mutable_spec()->mutable_budget()->set_max_trials(8);
  EXPECT_EQ(PhaseText(scratch), "");
  EXPECT_EQ(PlannedTrials(scratch), 8);
}

TEST(FormatTest, TrialsTableShowsKindsOnlyWhenThereAreSeveral) {
  nas::v1::Trial shard;
  shard.set_id(1);
  shard.set_kind(nas::v1::TRIAL_KIND_SUPERNET_SHARD);
  shard.set_state(nas::v1::TRIAL_STATE_RUNNING);
  shard.mutable_task()->set_round(1);
  shard.mutable_task()->set_shard_index(2);
  shard.mutable_task()->set_num_shards(4);
  nas::v1::Trial done = Completed(11, 1, 0.9, 1500000, "arch");
  done.set_kind(nas::v1::TRIAL_KIND_SCORE_INHERITED);
  std::ostringstream out;
  PrintTrials({shard, done}, out);
  EXPECT_THAT(out.str(), HasSubstr("KIND"));
  EXPECT_THAT(out.str(), HasSubstr("shard"));
  EXPECT_THAT(out.str(), HasSubstr("supernet round 2, shard 3/4"));
  EXPECT_THAT(out.str(), HasSubstr("score"));

  done.set_kind(nas::v1::TRIAL_KIND_TRAIN);
  std::ostringstream plain;
  PrintTrials({done}, plain);
  EXPECT_THAT(plain.str(), Not(HasSubstr("KIND")));
}

TEST(FormatTest, SearchesShowStateReasonAndFailedState) {
  nas::v1::Search search;
  search.set_id(3);
  search.mutable_spec()->set_name("tiny");
  search.mutable_spec()->mutable_budget()->set_max_trials(200);
  search.set_state(nas::v1::SEARCH_STATE_FAILED);
  search.set_state_reason("every trial failed: worker out of memory");
  search.mutable_counts()->set_failed(5);
  std::ostringstream table, csv;
  PrintSearches({search}, table);
  EXPECT_EQ(table.str(),
            "ID  NAME  STATE   TRIALS  DONE  RUNNING  FAILED  REASON\n"
            "3   tiny  FAILED  5/200   0     0        5       every trial "
            "failed: worker out of memory\n");
  PrintSearches({search}, csv, OutputFormat::kCsv);
  EXPECT_EQ(csv.str(),
            "id,name,state,trials,max_trials,completed,running,failed,"
            "state_reason\n"
            "3,tiny,FAILED,5,200,0,0,5,every trial failed: worker out of "
            "memory\n");
}

TEST(FormatTest, DetailsShowTheReasonAndTheSpecWithZeros) {
  nas::v1::Search search;
  search.set_id(3);
  search.mutable_spec()->set_name("tiny");
  search.set_state(nas::v1::SEARCH_STATE_COMPLETED);
  search.set_state_reason("space exhausted after 5 architectures");
  std::ostringstream out;
  PrintSearchDetails(search, out);
  EXPECT_NE(out.str().find("reason:  space exhausted after 5 architectures\n"),
            std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("\"seed\": \"0\""), std::string::npos) << out.str();
}

}  // namespace
}  // namespace nas::cli
