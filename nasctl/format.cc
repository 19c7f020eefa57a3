#include "nasctl/format.h"

#include "absl/strings/str_format.h"
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
         StateName(t.state()), done ? Percent(m.val_accuracy()) : "-",
         done ? Percent(m.test_accuracy()) : "-",
         done ? HumanCount(m.params()) : "-", done ? HumanCount(m.flops()) : "-",
         done ? absl::StrFormat("%.2fms", m.latency_ms()) : "-",
         done ? absl::StrFormat("%.1f", m.train_seconds()) : "-",
         t.architecture().text()});
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
