#include "controller/dashboard/dashboard.h"

#include <algorithm>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "common/plot/search_plots.h"
#include "common/plot/svg_plot.h"
#include "common/spec/estimation.h"
#include "common/spec/objective.h"
#include "common/spec/trial_kinds.h"
#include "controller/best_trials.h"
#include "controller/security/authorizer.h"
#include "google/protobuf/util/time_util.h"

namespace nas::controller {
namespace {

using plot::EscapeXml;

constexpr int kPage = 1000;
// Rows of the trials table (the newest); the charts show every trial.
constexpr int kTableRows = 200;
constexpr int kListedSearches = 200;

constexpr char kStyle[] = R"(<style>
body{font-family:sans-serif;margin:24px;color:#222}
a{color:#1f5fa8;text-decoration:none}
table{border-collapse:collapse;font-size:13px;margin-top:12px}
th,td{border-bottom:1px solid #ddd;padding:4px 10px;text-align:left}
th{background:#f4f4f4}
.state-RUNNING{color:#1f77b4}.state-COMPLETED{color:#2ca02c}
.state-FAILED,.state-CANCELLED{color:#d62728}
.summary{font-size:15px}.charts svg{margin:8px 8px 0 0;border:1px solid #eee}
small{color:#777}
</style>)";

std::string Html(absl::string_view title, absl::string_view body,
                 absl::string_view script = "") {
  return absl::StrCat(
      "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>",
      EscapeXml(title), "</title>", kStyle, "</head><body>\n", body, script,
      "</body></html>\n");
}

std::string StateName(nas::v1::SearchState state) {
  return std::string(absl::StripPrefix(nas::v1::SearchState_Name(state),
                                       "SEARCH_STATE_"));
}

std::string StateName(nas::v1::TrialState state) {
  return std::string(
      absl::StripPrefix(nas::v1::TrialState_Name(state), "TRIAL_STATE_"));
}

std::string Time(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0) return "";
  std::string text = google::protobuf::util::TimeUtil::ToString(t);
  // "2026-11-30T08:12:33.123Z" -> "2026-11-30 08:12:33".
  text = text.substr(0, 19);
  std::replace(text.begin(), text.end(), 'T', ' ');
  return text;
}

std::string Metric(const nas::v1::TrialMetrics& m, absl::string_view name) {
  std::optional<double> v = spec::MetricValue(m, name);
  return v ? absl::StrFormat("%.6g", *v) : "-";
}

// "random", "evolution", ...: the strategy's field name in the spec.
std::string StrategyName(const nas::v1::StrategySpec& strategy) {
  const google::protobuf::FieldDescriptor* field =
      strategy.GetDescriptor()->FindFieldByNumber(strategy.kind_case());
  return field == nullptr ? "random" : field->name();
}

int Planned(const nas::v1::Search& search) {
  return search.spec().budget().max_trials() +
         spec::ExtraTrials(search.spec());
}

int Finished(const nas::v1::TrialCounts& c) {
  return c.completed() + c.failed() + c.stopped() + c.cancelled();
}

Page NotFound(int64_t id) {
  Page page;
  page.status = 404;
  page.body = Html("not found",
                   absl::StrCat("<p>search ", id,
                                " not found.</p><p><a href=\"/\">all "
                                "searches</a></p>"));
  return page;
}

Page Unavailable(const absl::Status& status) {
  Page page;
  page.status = 503;
  page.body = Html("unavailable",
                   absl::StrCat("<p>", EscapeXml(status.message()), "</p>"));
  return page;
}

// Polls the page's fragment every 2 s while the search runs and swaps its
// <main> in; stops once the search has ended (the fragment says so).
constexpr char kLiveScript[] = R"(<script>
(function () {
  function running() {
    var main = document.getElementById('search');
    return main && main.dataset.state === 'RUNNING';
  }
  var refreshed = 0;
  function poll() {
    if (!running()) return;
    fetch(location.pathname + '?fragment=1', {credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        document.getElementById('search').outerHTML = html;
        // How many times it refreshed, for people and tests to see.
        document.getElementById('search').dataset.refreshed = ++refreshed;
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 2000);
})();
</script>
)";

}  // namespace

Page Dashboard::SearchList(const Caller& caller) {
  SearchFilter filter;
  if (caller.role != Role::kAdmin) filter.owner = caller.name;
  absl::StatusOr<std::vector<nas::v1::Search>> searches =
      store_->ListSearches(0, kListedSearches, filter);
  if (!searches.ok()) return Unavailable(searches.status());
  std::string rows;
  for (const nas::v1::Search& s : *searches) {
    const std::string state = StateName(s.state());
    absl::StrAppendFormat(
        &rows,
        "<tr class=\"search\" data-search=\"%d\"><td><a href=\"/searches/%d\">"
        "%d</a></td><td><a href=\"/searches/%d\">%s</a></td><td "
        "class=\"state-%s\">%s</td><td>%d / %d</td><td>%s</td><td>%s</td>"
        "</tr>\n",
        s.id(), s.id(), s.id(), s.id(), EscapeXml(s.spec().name()), state,
        state, Finished(s.counts()), Planned(s), StrategyName(s.spec().strategy()),
        Time(s.created_at()));
  }
  Page page;
  page.body = Html(
      "NAS searches",
      absl::StrCat(
          "<h1>Searches</h1>\n",
          searches->empty()
              ? "<p>No searches yet: <code>nasctl submit SPEC.yaml</code>.</p>"
              : absl::StrCat("<table id=\"searches\"><tr><th>id</th><th>name"
                             "</th><th>state</th><th>trials finished</th><th>"
                             "strategy</th><th>created</th></tr>\n",
                             rows, "</table>\n")),
      // The list refreshes itself; a search's own page does it finer.
      "<script>setTimeout(function(){location.reload()},5000)</script>\n");
  return page;
}

Page Dashboard::Search(int64_t search_id, const Caller& caller,
                       bool fragment) {
  absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
  if (absl::IsNotFound(search.status())) return NotFound(search_id);
  if (!search.ok()) return Unavailable(search.status());
  if (!MaySee(caller, search->owner())) return NotFound(search_id);
  const nas::v1::SearchSpec& spec = search->spec();

  std::vector<nas::v1::Trial> trials;
  for (int32_t after = -1;;) {
    absl::StatusOr<std::vector<nas::v1::Trial>> page =
        store_->ListTrials(search_id, {}, after, kPage);
    if (!page.ok()) return Unavailable(page.status());
    for (nas::v1::Trial& t : *page) {
      after = t.number();
      trials.push_back(std::move(t));
    }
    if (page->size() < static_cast<size_t>(kPage)) break;
  }
  absl::StatusOr<std::vector<EpochReport>> epochs =
      store_->ListEpochReports(search_id);
  if (!epochs.ok()) return Unavailable(epochs.status());
  std::map<int64_t, nas::v1::Trial*> by_id;
  for (nas::v1::Trial& t : trials) by_id[t.id()] = &t;
  for (const EpochReport& e : *epochs) {
    auto it = by_id.find(e.trial_id);
    if (it != by_id.end()) *it->second->add_epochs() = e.metrics;
  }

  // The best as GetBestTrials (and `nasctl best`) ranks it.
  std::string best_text = "none yet";
  absl::StatusOr<BestTrials> best =
      FindBestTrials(*store_, spec, search_id, 1);
  if (best.ok() && !best->trials.empty() && !spec.objectives().empty()) {
    const nas::v1::Trial& b = best->trials.front();
    best_text = absl::StrFormat(
        "<span id=\"best-value\">%s</span> %s (trial <a href=\"#trial-%d\" "
        "id=\"best-trial\">#%d</a>)%s",
        Metric(b.metrics(), spec.objectives(0).metric()),
        EscapeXml(spec.objectives(0).metric()), b.number(), b.number(),
        best->pareto_front ? " on the Pareto front" : "");
  }

  std::string charts = plot::RenderSvg(plot::ObjectiveChart(spec, trials));
  if (std::optional<plot::Chart> pareto = plot::ParetoChart(spec, trials)) {
    absl::StrAppend(&charts, plot::RenderSvg(*pareto));
  }
  absl::StrAppend(&charts, plot::RenderSvg(plot::CurvesChart(trials)));

  std::vector<std::string> columns = {"val_accuracy", "test_accuracy",
                                      "params", "flops", "latency_ms",
                                      "train_seconds"};
  std::string table = "<table id=\"trials\"><tr><th>#</th><th>kind</th>"
                      "<th>state</th><th>architecture</th>";
  for (const std::string& c : columns) absl::StrAppend(&table, "<th>", c, "</th>");
  absl::StrAppend(&table, "<th>epochs</th><th>worker</th></tr>\n");
  int shown = 0;
  for (auto it = trials.rbegin(); it != trials.rend() && shown < kTableRows;
       ++it, ++shown) {
    const nas::v1::Trial& t = *it;
    absl::StrAppendFormat(
        &table,
        "<tr id=\"trial-%d\" class=\"trial\" data-trial=\"%d\" "
        "data-state=\"%s\"><td>%d</td><td>%s</td><td>%s</td><td><code>%s"
        "</code></td>",
        t.number(), t.number(), StateName(t.state()), t.number(),
        absl::AsciiStrToLower(spec::NamesOf(t.kind()).stored),
        StateName(t.state()), EscapeXml(t.architecture().text()));
    for (const std::string& c : columns) {
      absl::StrAppend(&table, "<td>", Metric(t.metrics(), c), "</td>");
    }
    absl::StrAppend(&table, "<td>", t.epochs_size(), "</td><td>",
                    EscapeXml(t.worker_id()), "</td></tr>\n");
  }
  absl::StrAppend(&table, "</table>\n");
  if (trials.size() > static_cast<size_t>(kTableRows)) {
    absl::StrAppendFormat(&table,
                          "<p><small>The newest %d of %d trials; all are in "
                          "the charts, and in <code>nasctl trials</code> and "
                          "SQL.</small></p>\n",
                          kTableRows, trials.size());
  }

  const std::string state = StateName(search->state());
  const nas::v1::TrialCounts& c = search->counts();
  std::string main = absl::StrFormat(
      "<main id=\"search\" data-search=\"%d\" data-state=\"%s\">\n"
      "<h1>%s <small>search %d</small></h1>\n"
      "<p class=\"summary\"><b id=\"state\" class=\"state-%s\">%s</b>%s · "
      "<span id=\"progress\">%d of %d trials finished</span> (%d running, "
      "%d completed, %d stopped, %d failed) · strategy %s · best %s</p>\n"
      "<div class=\"charts\">%s</div>\n%s</main>\n",
      search_id, state, EscapeXml(spec.name()), search_id, state, state,
      search->state_reason().empty()
          ? ""
          : absl::StrCat(": ", EscapeXml(search->state_reason())),
      Finished(c), Planned(*search), c.running(), c.completed(), c.stopped(),
      c.failed(), StrategyName(spec.strategy()), best_text, charts, table);
  Page page;
  if (fragment) {
    page.body = std::move(main);
    return page;
  }
  page.body = Html(absl::StrCat(spec.name(), " (search ", search_id, ")"),
                   absl::StrCat("<nav><a href=\"/\">all searches</a></nav>\n",
                                main),
                   kLiveScript);
  return page;
}

Page LoginPage(const std::string& message) {
  Page page;
  page.status = 401;
  page.body = Html(
      "sign in",
      absl::StrCat(
          "<h1>NAS dashboard</h1>\n",
          message.empty() ? ""
                          : absl::StrCat("<p class=\"error\">",
                                         EscapeXml(message), "</p>\n"),
          "<form method=\"post\" action=\"/login\"><label>Token (client or "
          "admin) <input type=\"password\" name=\"token\" "
          "autocomplete=\"off\"></label> <button type=\"submit\">Sign in"
          "</button></form>\n"));
  return page;
}

}  // namespace nas::controller
