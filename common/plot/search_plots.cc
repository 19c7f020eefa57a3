#include "common/plot/search_plots.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/spec/objective.h"
#include "common/spec/trial_kinds.h"

namespace nas::plot {
namespace {

constexpr char kBlue[] = "#1f77b4";
constexpr char kOrange[] = "#ff7f0e";
constexpr char kGrey[] = "#b0b0b0";
constexpr char kRed[] = "#d62728";
constexpr char kGreen[] = "#2ca02c";

std::string Label(const nas::v1::Objective& objective) {
  return absl::StrCat(objective.metric(),
                      objective.direction() == nas::v1::DIRECTION_MINIMIZE
                          ? " (minimize)"
                          : " (maximize)");
}

Point TrialPoint(const nas::v1::Trial& trial, double x, double y,
                 std::string css_class, const std::string& value_text) {
  Point p;
  p.x = x;
  p.y = y;
  p.css_class = std::move(css_class);
  p.data = {{"trial", absl::StrCat(trial.number())}, {"value", value_text}};
  p.title = absl::StrCat("#", trial.number(), ": ", value_text);
  return p;
}

std::string ValueText(double v) { return absl::StrFormat("%.6g", v); }

bool Ranked(const nas::v1::Trial& trial) {
  return trial.state() == nas::v1::TRIAL_STATE_COMPLETED &&
         spec::IsRankedKind(trial.kind());
}

}  // namespace

Chart ObjectiveChart(const nas::v1::SearchSpec& spec,
                     const std::vector<nas::v1::Trial>& trials) {
  Chart chart;
  chart.id = "objective-chart";
  chart.x_label = "trial number";
  if (spec.objectives().empty()) return chart;
  const nas::v1::Objective& objective = spec.objectives(0);
  chart.title = absl::StrCat(objective.metric(), " by trial");
  chart.y_label = Label(objective);
  const bool minimize = objective.direction() == nas::v1::DIRECTION_MINIMIZE;

  Series completed{"completed", "completed", kBlue};
  Series infeasible{"infeasible", "infeasible", kRed};
  Series estimates{"estimate", "estimates", kGrey};
  Series stopped{"stopped", "stopped", kOrange};
  Series best{"best so far", "best-so-far", kGreen};
  best.markers = false;
  best.line = true;
  best.step = true;

  std::vector<const nas::v1::Trial*> ordered;
  for (const nas::v1::Trial& t : trials) ordered.push_back(&t);
  std::sort(ordered.begin(), ordered.end(),
            [](const auto* a, const auto* b) { return a->number() < b->number(); });
  std::optional<double> best_so_far;
  for (const nas::v1::Trial* t : ordered) {
    std::optional<double> value =
        spec::MetricValue(t->metrics(), objective.metric());
    if (!value) continue;
    const double x = t->number();
    const std::string text = ValueText(*value);
    if (Ranked(*t)) {
      if (!spec::MeetsConstraints(spec, t->metrics())) {
        infeasible.points.push_back(
            TrialPoint(*t, x, *value, "completed infeasible", text));
        continue;
      }
      completed.points.push_back(TrialPoint(*t, x, *value, "completed", text));
      if (!best_so_far || (minimize ? *value < *best_so_far
                                    : *value > *best_so_far)) {
        best_so_far = *value;
      }
      Point p;
      p.x = x;
      p.y = *best_so_far;
      best.points.push_back(p);
    } else if (t->state() == nas::v1::TRIAL_STATE_COMPLETED) {
      estimates.points.push_back(TrialPoint(*t, x, *value, "estimate", text));
    } else if (t->state() == nas::v1::TRIAL_STATE_STOPPED) {
      stopped.points.push_back(TrialPoint(*t, x, *value, "stopped", text));
    }
  }
  for (Series* s : {&estimates, &stopped, &infeasible, &completed, &best}) {
    if (!s->points.empty()) chart.series.push_back(std::move(*s));
  }
  return chart;
}

std::optional<Chart> ParetoChart(const nas::v1::SearchSpec& spec,
                                 const std::vector<nas::v1::Trial>& trials) {
  if (spec.objectives_size() < 2) return std::nullopt;
  const nas::v1::Objective& fx = spec.objectives(0);
  const nas::v1::Objective& fy = spec.objectives(1);
  Chart chart;
  chart.id = "pareto-chart";
  chart.title = absl::StrCat(fy.metric(), " against ", fx.metric());
  chart.x_label = Label(fx);
  chart.y_label = Label(fy);

  struct Candidate {
    const nas::v1::Trial* trial;
    double x, y;            // as measured
    double ox, oy;          // oriented: larger is better
    bool feasible;
  };
  std::vector<Candidate> candidates;
  for (const nas::v1::Trial& t : trials) {
    if (!Ranked(t)) continue;
    std::optional<double> x = spec::MetricValue(t.metrics(), fx.metric());
    std::optional<double> y = spec::MetricValue(t.metrics(), fy.metric());
    std::optional<double> ox = spec::OrientedValue(fx, t.metrics());
    std::optional<double> oy = spec::OrientedValue(fy, t.metrics());
    if (!x || !y || !ox || !oy) continue;
    candidates.push_back(
        {&t, *x, *y, *ox, *oy, spec::MeetsConstraints(spec, t.metrics())});
  }
  Series front{"Pareto front", "front", kGreen};
  Series dominated{"dominated", "dominated", kBlue};
  Series infeasible{"infeasible", "infeasible", kRed};
  for (const Candidate& c : candidates) {
    const std::string text =
        absl::StrCat(ValueText(c.x), ", ", ValueText(c.y));
    if (!c.feasible) {
      infeasible.points.push_back(
          TrialPoint(*c.trial, c.x, c.y, "infeasible", text));
      continue;
    }
    // On the front when no feasible trial is at least as good in both and
    // better in one.
    const bool is_dominated = std::any_of(
        candidates.begin(), candidates.end(), [&](const Candidate& o) {
          return o.feasible && o.ox >= c.ox && o.oy >= c.oy &&
                 (o.ox > c.ox || o.oy > c.oy);
        });
    (is_dominated ? dominated : front)
        .points.push_back(TrialPoint(*c.trial, c.x, c.y,
                                     is_dominated ? "dominated" : "front",
                                     text));
  }
  std::sort(front.points.begin(), front.points.end(),
            [](const Point& a, const Point& b) { return a.x < b.x; });
  front.line = true;
  for (Series* s : {&infeasible, &dominated, &front}) {
    if (!s->points.empty()) chart.series.push_back(std::move(*s));
  }
  return chart;
}

Chart CurvesChart(const std::vector<nas::v1::Trial>& trials, int max_trials) {
  Chart chart;
  chart.id = "curves-chart";
  chart.title = "learning curves";
  chart.x_label = "epoch";
  chart.y_label = "val_accuracy";
  std::vector<const nas::v1::Trial*> with_curves;
  for (const nas::v1::Trial& t : trials) {
    if (!t.epochs().empty()) with_curves.push_back(&t);
  }
  std::sort(with_curves.begin(), with_curves.end(),
            [](const auto* a, const auto* b) { return a->number() > b->number(); });
  if (with_curves.size() > static_cast<size_t>(max_trials)) {
    with_curves.resize(max_trials);
  }
  for (const nas::v1::Trial* t : with_curves) {
    Series s;
    s.css_class = absl::StrCat("curve trial-", t->number());
    s.color = t->state() == nas::v1::TRIAL_STATE_STOPPED ? kOrange : kBlue;
    s.line = true;
    for (const nas::v1::EpochMetrics& e : t->epochs()) {
      s.points.push_back(TrialPoint(*t, e.epoch(), e.val_accuracy(), "epoch",
                                    ValueText(e.val_accuracy())));
    }
    chart.series.push_back(std::move(s));
  }
  return chart;
}

std::optional<double> BestValue(const nas::v1::SearchSpec& spec,
                                const std::vector<nas::v1::Trial>& trials) {
  if (spec.objectives().empty()) return std::nullopt;
  std::optional<double> best_oriented, best;
  for (const nas::v1::Trial& t : trials) {
    if (!Ranked(t) || !spec::MeetsConstraints(spec, t.metrics())) continue;
    std::optional<double> oriented =
        spec::OrientedValue(spec.objectives(0), t.metrics());
    if (!oriented) continue;
    if (!best_oriented || *oriented > *best_oriented) {
      best_oriented = oriented;
      best = spec::MetricValue(t.metrics(), spec.objectives(0).metric());
    }
  }
  return best;
}

}  // namespace nas::plot
