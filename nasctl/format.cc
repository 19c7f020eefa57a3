#include "nasctl/format.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/spec/constraint_text.h"
#include "google/protobuf/util/json_util.h"
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

std::string DirectionWord(nas::v1::Direction direction) {
  return direction == nas::v1::DIRECTION_MINIMIZE ? "min" : "max";
}

}  // namespace

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

void PrintSearches(const std::vector<nas::v1::Search>& searches,
                   std::ostream& out) {
  Table table({"ID", "NAME", "STATE", "TRIALS", "DONE", "RUNNING", "FAILED"});
  for (const nas::v1::Search& s : searches) {
    const nas::v1::TrialCounts& c = s.counts();
    table.AddRow({std::to_string(s.id()), s.spec().name(),
                  StateName(s.state()),
                  absl::StrFormat("%d/%d", TotalTrials(c),
                                  s.spec().budget().max_trials()),
                  std::to_string(c.completed()), std::to_string(c.running()),
                  std::to_string(c.failed())});
  }
  table.Print(out);
}

void PrintTrials(const std::vector<nas::v1::Trial>& trials, std::ostream& out) {
  Table table({"TRIAL", "#", "STATE", "VAL_ACC", "TEST_ACC", "PARAMS", "FLOPS",
               "LATENCY", "TRAIN_S", "ARCHITECTURE"});
  for (const nas::v1::Trial& t : trials) {
    const bool done = t.state() == nas::v1::TRIAL_STATE_COMPLETED;
    const nas::v1::TrialMetrics& m = t.metrics();
    table.AddRow(
        {std::to_string(t.id()), std::to_string(t.number()),
         StateName(t.state()),
         done && m.has_val_accuracy() ? Percent(m.val_accuracy()) : "-",
         done && m.has_test_accuracy() ? Percent(m.test_accuracy()) : "-",
         done && m.has_params() ? HumanCount(m.params()) : "-",
         done && m.has_flops() ? HumanCount(m.flops()) : "-",
         done && m.has_latency_ms() ? absl::StrFormat("%.2fms", m.latency_ms())
                                    : "-",
         done && m.has_train_seconds()
             ? absl::StrFormat("%.1f", m.train_seconds())
             : "-",
         t.architecture().text()});
  }
  table.Print(out);
}

void PrintBestTrials(const nas::v1::SearchSpec& spec,
                     const nas::v1::GetBestTrialsResponse& best,
                     std::ostream& out) {
  std::vector<nas::v1::Trial> trials(best.trials().begin(),
                                     best.trials().end());
  if (!best.pareto_front()) {
    PrintTrials(trials, out);
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

void PrintJson(const google::protobuf::Message& message, std::ostream& out) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out << json << "\n";
}

}  // namespace nas::cli
