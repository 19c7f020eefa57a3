#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/plot/search_plots.h"
#include "common/plot/svg_plot.h"
#include "gtest/gtest.h"

namespace nas::plot {
namespace {

int Count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

TEST(SvgPlotTest, TicksAreRoundAndSpanTheRange) {
  EXPECT_EQ(Ticks(0, 1, 5), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  const std::vector<double> narrow = Ticks(0.833, 0.917, 6);
  ASSERT_GE(narrow.size(), 4u);
  EXPECT_NEAR(narrow[1] - narrow[0], 0.02, 1e-12);
  EXPECT_GE(narrow.front(), 0.833);
  EXPECT_LE(narrow.back(), 0.917);
  EXPECT_EQ(Ticks(3, 3), (std::vector<double>{3}));
}

TEST(SvgPlotTest, EachPointIsACircleWithItsClassDataAndEscapedTitle) {
  Chart chart;
  chart.id = "c";
  chart.title = "a < b & \"c\"";
  Series s;
  s.points.push_back({1, 2, "completed", {{"trial", "7"}}, "#7 <best>"});
  s.points.push_back({2, 3, "stopped", {}, ""});
  chart.series.push_back(s);
  const std::string svg = RenderSvg(chart);
  EXPECT_EQ(Count(svg, "<circle "), 2) << svg;
  EXPECT_TRUE(absl::StrContains(svg, "class=\"point completed\"")) << svg;
  EXPECT_TRUE(absl::StrContains(svg, "data-trial=\"7\"")) << svg;
  EXPECT_TRUE(absl::StrContains(svg, "<title>#7 &lt;best&gt;</title>"));
  EXPECT_TRUE(absl::StrContains(svg, "a &lt; b &amp; &quot;c&quot;"));
  EXPECT_FALSE(absl::StrContains(svg, "no data yet"));
}

TEST(SvgPlotTest, AChartWithoutPointsSaysSo) {
  Chart chart;
  chart.series.push_back(Series{});
  EXPECT_TRUE(absl::StrContains(RenderSvg(chart), "no data yet"));
}

nas::v1::Trial MakeTrial(int number, nas::v1::TrialState state,
                         nas::v1::TrialKind kind, double accuracy,
                         int64_t params) {
  nas::v1::Trial t;
  t.set_number(number);
  t.set_state(state);
  t.set_kind(kind);
  if (accuracy >= 0) t.mutable_metrics()->set_val_accuracy(accuracy);
  t.mutable_metrics()->set_params(params);
  return t;
}

nas::v1::SearchSpec Spec(bool two_objectives) {
  nas::v1::SearchSpec spec;
  auto* accuracy = spec.add_objectives();
  accuracy->set_metric("val_accuracy");
  accuracy->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  if (two_objectives) {
    auto* params = spec.add_objectives();
    params->set_metric("params");
    params->set_direction(nas::v1::DIRECTION_MINIMIZE);
  }
  auto* limit = spec.add_constraints();
  limit->set_metric("params");
  limit->set_op(nas::v1::COMPARISON_LESS_EQUAL);
  limit->set_bound(1000);
  return spec;
}

std::vector<nas::v1::Trial> Trials() {
  using nas::v1::TRIAL_KIND_SCORE_INHERITED;
  using nas::v1::TRIAL_KIND_TRAIN;
  using nas::v1::TRIAL_STATE_COMPLETED;
  return {
      MakeTrial(3, nas::v1::TRIAL_STATE_STOPPED, TRIAL_KIND_TRAIN, 0.5, 10),
      MakeTrial(0, TRIAL_STATE_COMPLETED, TRIAL_KIND_TRAIN, 0.8, 100),
      MakeTrial(1, TRIAL_STATE_COMPLETED, TRIAL_KIND_TRAIN, 0.9, 500),
      // Best accuracy, but over the parameter limit.
      MakeTrial(2, TRIAL_STATE_COMPLETED, TRIAL_KIND_TRAIN, 0.95, 5000),
      // An estimate never counts as a result.
      MakeTrial(4, TRIAL_STATE_COMPLETED, TRIAL_KIND_SCORE_INHERITED, 0.99,
                10),
      MakeTrial(5, nas::v1::TRIAL_STATE_FAILED, TRIAL_KIND_TRAIN, -1, 10),
      MakeTrial(6, TRIAL_STATE_COMPLETED, TRIAL_KIND_TRAIN, 0.7, 50),
  };
}

TEST(SearchPlotsTest, ObjectiveChartSortsTrialsIntoClassesWithTheBestSoFar) {
  const std::string svg = RenderSvg(ObjectiveChart(Spec(false), Trials()));
  EXPECT_EQ(Count(svg, "class=\"point completed\""), 3) << svg;  // 0, 1, 6
  EXPECT_EQ(Count(svg, "class=\"point completed infeasible\""), 1) << svg;
  EXPECT_EQ(Count(svg, "class=\"point stopped\""), 1) << svg;
  EXPECT_EQ(Count(svg, "class=\"point estimate\""), 1) << svg;
  EXPECT_EQ(Count(svg, "<circle "), 6) << "the failed trial measured nothing";
  EXPECT_EQ(Count(svg, "class=\"series best-so-far\""), 1) << svg;
  EXPECT_EQ(BestValue(Spec(false), Trials()), 0.9);
}

TEST(SearchPlotsTest, BestValueFollowsTheDirection) {
  nas::v1::SearchSpec spec;
  auto* loss = spec.add_objectives();
  loss->set_metric("params");
  loss->set_direction(nas::v1::DIRECTION_MINIMIZE);
  EXPECT_EQ(BestValue(spec, Trials()), 50);  // #6; #3 stopped, #4 estimate
  EXPECT_EQ(BestValue(nas::v1::SearchSpec(), Trials()), std::nullopt);
}

TEST(SearchPlotsTest, ParetoChartMarksTheFeasibleFront) {
  EXPECT_FALSE(ParetoChart(Spec(false), Trials()).has_value());
  std::optional<Chart> chart = ParetoChart(Spec(true), Trials());
  ASSERT_TRUE(chart.has_value());
  const std::string svg = RenderSvg(*chart);
  // #6 (0.7, 50), #0 (0.8, 100), #1 (0.9, 500) trade accuracy for size;
  // #2 is over the limit.
  EXPECT_EQ(Count(svg, "class=\"point front\""), 3) << svg;
  EXPECT_EQ(Count(svg, "class=\"point infeasible\""), 1) << svg;
  EXPECT_EQ(Count(svg, "class=\"point dominated\""), 0) << svg;
  std::vector<nas::v1::Trial> trials = Trials();
  trials.push_back(MakeTrial(7, nas::v1::TRIAL_STATE_COMPLETED,
                             nas::v1::TRIAL_KIND_TRAIN, 0.75, 600));
  EXPECT_EQ(Count(RenderSvg(*ParetoChart(Spec(true), trials)),
                  "class=\"point dominated\""),
            1);
}

TEST(SearchPlotsTest, CurvesChartDrawsOneLinePerTrialWithEpochs) {
  std::vector<nas::v1::Trial> trials = Trials();
  for (int epoch = 1; epoch <= 3; ++epoch) {
    auto* e = trials[1].add_epochs();
    e->set_epoch(epoch);
    e->set_val_accuracy(0.5 + 0.1 * epoch);
  }
  const std::string svg = RenderSvg(CurvesChart(trials));
  EXPECT_EQ(Count(svg, "class=\"series curve trial-0\""), 1) << svg;
  EXPECT_EQ(Count(svg, "<circle "), 3) << svg;
  EXPECT_EQ(Count(svg, "<path "), 1) << svg;
}

}  // namespace
}  // namespace nas::plot
