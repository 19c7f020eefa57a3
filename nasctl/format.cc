#include "nasctl/format.h"

#include <algorithm>
#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/spec/constraint_text.h"
#include "common/spec/estimation.h"
#include "common/spec/trial_kinds.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"
#include "nasctl/table.h"

namespace nas::cli {
namespace {

// Drops the enum's prefix: TRIAL_STATE_COMPLETED -> COMPLETED.
std::string StripPrefix(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

int TotalTrials(const nas::v1::TrialCounts& c) {
  return c.pending() + c.running() + c.completed() + c.failed() + c.stopped() +
         c.cancelled();
}

int Finished(const nas::v1::TrialCounts& c) {
  return c.completed() + c.failed() + c.stopped() + c.cancelled();
}

nas::v1::TrialCounts CountsOf(const nas::v1::Search& search,
                              nas::v1::TrialKind kind) {
  for (const nas::v1::KindCounts& k : search.kind_counts()) {
    if (k.kind() == kind) return k.counts();
  }
  return {};
}

// A metric's value as the trials table shows it.
std::string MetricText(const nas::v1::TrialMetrics& m,
                       const std::string& metric) {
  const google::protobuf::FieldDescriptor* field =
      m.GetDescriptor()->FindFieldByName(metric);
  // Not measured by the trial's estimator.
  if (field != nullptr && !m.GetReflection()->HasField(m, field)) return "-";
  if (metric == "val_accuracy") return Percent(m.val_accuracy());
  if (metric == "test_accuracy") return Percent(m.test_accuracy());
  if (metric == "val_loss") return absl::StrFormat("%.4f", m.val_loss());
  if (metric == "params") return HumanCount(m.params());
  if (metric == "flops") return HumanCount(m.flops());
  if (metric == "latency_ms") return absl::StrFormat("%.2fms", m.latency_ms());
  if (metric == "train_seconds") {
    return absl::StrFormat("%.1f", m.train_seconds());
  }
  return "?";
}

// The shortest text that reads back as the same double (CSV cells).
std::string PlainNumber(double value) {
  char buffer[64];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return error == std::errc() ? std::string(buffer, end) : "nan";
}

void PrintRows(const Table& table, OutputFormat format, std::ostream& out) {
  if (format == OutputFormat::kCsv) {
    table.PrintCsv(out);
  } else {
    table.Print(out);
  }
}

std::string TimeText(const google::protobuf::Timestamp& time) {
  return google::protobuf::util::TimeUtil::ToString(time);
}

std::string DirectionWord(nas::v1::Direction direction) {
  return direction == nas::v1::DIRECTION_MINIMIZE ? "min" : "max";
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  if (text == "table") return OutputFormat::kTable;
  if (text == "json") return OutputFormat::kJson;
  if (text == "csv") return OutputFormat::kCsv;
  return absl::InvalidArgumentError(
      absl::StrCat("-o: expected table, json or csv, got \"", text, "\""));
}

std::string ErrorLine(int code, absl::string_view message) {
  return absl::StrCat(
      absl::StatusCodeToString(static_cast<absl::StatusCode>(code)), ": ",
      message);
}

std::string ReasonSummary(absl::string_view reason, size_t max_chars) {
  absl::string_view last;
  for (absl::string_view line : absl::StrSplit(reason, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (!line.empty()) last = line;
  }
  if (last.empty()) return "-";
  if (last.size() <= max_chars) return std::string(last);
  return absl::StrCat(last.substr(0, max_chars > 3 ? max_chars - 3 : 0), "...");
}

std::string TrialEndedLine(const nas::v1::Trial& t) {
  const std::string kind = KindName(t.kind());
  std::string line = absl::StrFormat(
      "trial #%d%s %s: val %s test %s params %s", t.number(),
      kind.empty() ? "" : " [" + kind + "]", StateName(t.state()),
      MetricText(t.metrics(), "val_accuracy"),
      MetricText(t.metrics(), "test_accuracy"),
      MetricText(t.metrics(), "params"));
  if (t.state() != nas::v1::TRIAL_STATE_COMPLETED && !t.reason().empty()) {
    line += " (" + ReasonSummary(t.reason(), 120) + ")";
  }
  return line;
}

std::string StateName(nas::v1::SearchState state) {
  return StripPrefix(nas::v1::SearchState_Name(state), "SEARCH_STATE_");
}

std::string StateName(nas::v1::TrialState state) {
  return StripPrefix(nas::v1::TrialState_Name(state), "TRIAL_STATE_");
}

std::string HumanCount(int64_t n) {
  if (n >= 1000000000) return absl::StrFormat("%.2fG", n / 1e9);
  if (n >= 1000000) return absl::StrFormat("%.2fM", n / 1e6);
  if (n >= 1000) return absl::StrFormat("%.1fk", n / 1e3);
  return absl::StrFormat("%d", n);
}

std::string Percent(double fraction) {
  return absl::StrFormat("%.2f%%", 100.0 * fraction);
}

std::string KindName(nas::v1::TrialKind kind) {
  return nas::spec::NamesOf(kind).short_name;
}

std::string TrialSubject(const nas::v1::Trial& trial) {
  if (trial.kind() == nas::v1::TRIAL_KIND_SUPERNET_SHARD) {
    return absl::StrFormat("supernet round %d, shard %d/%d",
                           trial.task().round() + 1,
                           trial.task().shard_index() + 1,
                           trial.task().num_shards());
  }
  return trial.architecture().text();
}

// Finished trials whose metrics are final: COMPLETED, and STOPPED ones
// (their last epoch's validation metrics).
static bool HasFinalMetrics(const nas::v1::Trial& t) {
  return t.state() == nas::v1::TRIAL_STATE_COMPLETED ||
         t.state() == nas::v1::TRIAL_STATE_STOPPED;
}

int PlannedTrials(const nas::v1::Search& search) {
  return search.spec().budget().max_trials() +
         spec::ExtraTrials(search.spec());
}

std::string PhaseText(const nas::v1::Search& search) {
  const nas::v1::SearchSpec& spec = search.spec();
  if (spec::UsesZeroCost(spec)) {
    const nas::v1::TrialCounts retrains =
        CountsOf(search, nas::v1::TRIAL_KIND_RETRAIN);
    if (TotalTrials(retrains) == 0) {
      return absl::StrFormat(
          "scoring %d/%d candidates (%s)",
          Finished(CountsOf(search, nas::v1::TRIAL_KIND_ZERO_COST)),
          spec.budget().max_trials(), spec.estimation().zero_cost().score());
    }
    return absl::StrFormat("training the best %d/%d", Finished(retrains),
                           TotalTrials(retrains));
  }
  if (!spec::UsesWeightSharing(spec)) return "";
  const nas::v1::WeightSharingConfig& ws = spec.estimation().weight_sharing();
  const int rounds = ws.supernet().rounds();
  const int shards = ws.supernet().shards_per_round();
  const int64_t version = search.supernet_version();
  if (version < rounds) {
    const int done = Finished(
        CountsOf(search, nas::v1::TRIAL_KIND_SUPERNET_SHARD));
    return absl::StrFormat(
        "supernet round %d/%d (%d/%d shards)", version + 1, rounds,
        std::clamp(done - static_cast<int>(version) * shards, 0, shards),
        shards);
  }
  const nas::v1::TrialCounts retrains =
      CountsOf(search, nas::v1::TRIAL_KIND_RETRAIN);
  if (TotalTrials(retrains) == 0) {
    return absl::StrFormat(
        "scoring %d/%d candidates (supernet version %d)",
        Finished(CountsOf(search, nas::v1::TRIAL_KIND_SCORE_INHERITED)),
        spec.budget().max_trials(), version);
  }
  return absl::StrFormat("retraining %d/%d", Finished(retrains),
                         TotalTrials(retrains));
}

void PrintSearches(const std::vector<nas::v1::Search>& searches,
                   std::ostream& out, OutputFormat format) {
  const bool csv = format == OutputFormat::kCsv;
  Table table = csv ? Table({"id", "name", "state", "trials", "max_trials",
                             "completed", "running", "failed", "state_reason"})
                    : Table({"ID", "NAME", "STATE", "TRIALS", "DONE", "RUNNING",
                             "FAILED", "REASON"});
  for (const nas::v1::Search& s : searches) {
    const nas::v1::TrialCounts& c = s.counts();
    std::vector<std::string> row = {std::to_string(s.id()), s.spec().name(),
                                    StateName(s.state())};
    if (csv) {
      row.push_back(std::to_string(TotalTrials(c)));
      row.push_back(std::to_string(PlannedTrials(s)));
    } else {
      row.push_back(
          absl::StrFormat("%d/%d", TotalTrials(c), PlannedTrials(s)));
    }
    row.push_back(std::to_string(c.completed()));
    row.push_back(std::to_string(c.running()));
    row.push_back(std::to_string(c.failed()));
    row.push_back(csv ? s.state_reason() : ReasonSummary(s.state_reason()));
    table.AddRow(std::move(row));
  }
  PrintRows(table, format, out);
}

void PrintTrials(const std::vector<nas::v1::Trial>& trials, std::ostream& out,
                 OutputFormat format) {
  if (format == OutputFormat::kCsv) {
    // New columns go last, so that scripts reading by position keep
    // working.
    Table table({"trial_id", "number", "state", "kind", "val_accuracy",
                 "val_loss",
                 "test_accuracy", "test_loss", "params", "flops", "latency_ms",
                 "train_seconds", "reason", "architecture", "rung",
                 "zero_cost_score"});
    for (const nas::v1::Trial& t : trials) {
      const bool done = HasFinalMetrics(t);
      const nas::v1::TrialMetrics& m = t.metrics();
      // Empty for a metric the trial's estimator did not measure.
      auto number = [done](bool has, double v) {
        return done && has ? PlainNumber(v) : "";
      };
      auto count = [done](bool has, int64_t v) {
        return done && has ? std::to_string(v) : "";
      };
      table.AddRow(
          {std::to_string(t.id()), std::to_string(t.number()),
           StateName(t.state()),
           StripPrefix(nas::v1::TrialKind_Name(t.kind()), "TRIAL_KIND_"),
           number(m.has_val_accuracy(), m.val_accuracy()),
           number(m.has_val_loss(), m.val_loss()),
           number(m.has_test_accuracy(), m.test_accuracy()),
           number(m.has_test_loss(), m.test_loss()),
           count(m.has_params(), m.params()), count(m.has_flops(), m.flops()),
           number(m.has_latency_ms(), m.latency_ms()),
           number(m.has_train_seconds(), m.train_seconds()), t.reason(),
           TrialSubject(t), t.has_rung() ? std::to_string(t.rung()) : "",
           number(m.has_zero_cost_score(), m.zero_cost_score())});
    }
    table.PrintCsv(out);
    return;
  }
  // A KIND column only where a search has several kinds of trial.
  const bool kinds = std::any_of(
      trials.begin(), trials.end(), [](const nas::v1::Trial& t) {
        return t.kind() != nas::v1::TRIAL_KIND_TRAIN &&
               t.kind() != nas::v1::TRIAL_KIND_UNSPECIFIED;
      });
  // A ZC_SCORE column only where there are zero-cost scores.
  const bool scores = std::any_of(
      trials.begin(), trials.end(), [](const nas::v1::Trial& t) {
        return t.metrics().has_zero_cost_score();
      });
  std::vector<std::string> header = {"TRIAL", "#", "STATE"};
  if (kinds) header.push_back("KIND");
  if (scores) header.push_back("ZC_SCORE");
  for (const char* column : {"VAL_ACC", "TEST_ACC", "PARAMS", "FLOPS",
                             "LATENCY", "TRAIN_S", "REASON", "ARCHITECTURE"}) {
    header.push_back(column);
  }
  Table table(header);
  for (const nas::v1::Trial& t : trials) {
    const bool done = HasFinalMetrics(t);
    const nas::v1::TrialMetrics& m = t.metrics();
    std::vector<std::string> row = {std::to_string(t.id()),
                                    std::to_string(t.number()),
                                    StateName(t.state())};
    if (kinds) {
      const std::string kind = KindName(t.kind());
      row.push_back(kind.empty() ? "train" : kind);
    }
    if (scores) {
      row.push_back(done && m.has_zero_cost_score()
                        ? absl::StrFormat("%.4g", m.zero_cost_score())
                        : "-");
    }
    for (std::string& cell : std::vector<std::string>{
         done && m.has_val_accuracy() ? Percent(m.val_accuracy()) : "-",
         done && m.has_test_accuracy() ? Percent(m.test_accuracy()) : "-",
         done && m.has_params() ? HumanCount(m.params()) : "-",
         done && m.has_flops() ? HumanCount(m.flops()) : "-",
         done && m.has_latency_ms() ? absl::StrFormat("%.2fms", m.latency_ms())
                                    : "-",
         done && m.has_train_seconds()
             ? absl::StrFormat("%.1f", m.train_seconds())
             : "-",
         ReasonSummary(t.reason()), TrialSubject(t)}) {
      row.push_back(std::move(cell));
    }
    table.AddRow(std::move(row));
  }
  table.Print(out);
}

void PrintBestTrials(const nas::v1::SearchSpec& spec,
                     const nas::v1::GetBestTrialsResponse& best,
                     std::ostream& out, OutputFormat format) {
  std::vector<nas::v1::Trial> trials(best.trials().begin(),
                                     best.trials().end());
  // CSV keeps every metric column, front or not, so scripts see one shape.
  if (!best.pareto_front() || format == OutputFormat::kCsv) {
    PrintTrials(trials, out, format);
    return;
  }
  std::vector<std::string> objectives, constraints;
  std::vector<std::string> header = {"TRIAL", "#"};
  for (const nas::v1::Objective& o : spec.objectives()) {
    objectives.push_back(
        absl::StrFormat("%s (%s)", o.metric(), DirectionWord(o.direction())));
    header.push_back(
        absl::StrFormat("%s(%s)", absl::AsciiStrToUpper(o.metric()),
                        absl::AsciiStrToUpper(DirectionWord(o.direction()))));
  }
  for (const nas::v1::Constraint& c : spec.constraints()) {
    constraints.push_back(spec::FormatConstraint(c));
  }
  out << "Pareto front, " << trials.size() << " trial"
      << (trials.size() == 1 ? "" : "s") << ": "
      << absl::StrJoin(objectives, ", ");
  if (!constraints.empty()) {
    out << "; subject to " << absl::StrJoin(constraints, ", ");
  }
  out << "\n";
  header.push_back("ARCHITECTURE");
  Table table(header);
  for (const nas::v1::Trial& t : trials) {
    std::vector<std::string> row = {std::to_string(t.id()),
                                    std::to_string(t.number())};
    for (const nas::v1::Objective& o : spec.objectives()) {
      row.push_back(MetricText(t.metrics(), o.metric()));
    }
    row.push_back(t.architecture().text());
    table.AddRow(std::move(row));
  }
  table.Print(out);
}

void PrintSearchDetails(const nas::v1::Search& search, std::ostream& out) {
  const nas::v1::TrialCounts& c = search.counts();
  Table fields({"id:", std::to_string(search.id())});
  fields.AddRow({"name:", search.spec().name()});
  fields.AddRow({"state:", StateName(search.state())});
  if (!search.state_reason().empty()) {
    fields.AddRow({"reason:", search.state_reason()});
  }
  if (!search.owner().empty()) fields.AddRow({"owner:", search.owner()});
  if (const std::string phase = PhaseText(search); !phase.empty()) {
    fields.AddRow({"estimation:", "weight sharing"});
    fields.AddRow({"phase:", phase});
  }
  fields.AddRow(
      {"trials:",
       absl::StrFormat("%d/%d (%d pending, %d running, %d completed, "
                       "%d failed, %d stopped, %d cancelled)",
                       TotalTrials(c), PlannedTrials(search),
                       c.pending(), c.running(), c.completed(), c.failed(),
                       c.stopped(), c.cancelled())});
  if (search.has_created_at()) {
    fields.AddRow({"created:", TimeText(search.created_at())});
  }
  if (search.has_finished_at()) {
    fields.AddRow({"finished:", TimeText(search.finished_at())});
  }
  fields.Print(out);
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(search.spec(), &json,
                                                    options);
  out << "spec (defaults filled in):\n";
  for (absl::string_view line : absl::StrSplit(json, '\n', absl::SkipEmpty())) {
    out << "  " << line << "\n";
  }
}

void PrintJson(const google::protobuf::Message& message, std::ostream& out,
               bool with_defaults) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = with_defaults;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out << json << std::endl;
}

}  // namespace nas::cli
