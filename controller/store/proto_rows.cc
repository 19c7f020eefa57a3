#include "controller/store/proto_rows.h"

#include <array>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/spec/trial_kinds.h"
#include "google/protobuf/util/json_util.h"

namespace nas::controller {
namespace {

using nas::v1::SearchState;
using nas::v1::TrialKind;
using nas::v1::TrialState;

constexpr std::array<std::pair<TrialState, const char*>, 6> kTrialStates = {{
    {nas::v1::TRIAL_STATE_PENDING, "PENDING"},
    {nas::v1::TRIAL_STATE_RUNNING, "RUNNING"},
    {nas::v1::TRIAL_STATE_COMPLETED, "COMPLETED"},
    {nas::v1::TRIAL_STATE_FAILED, "FAILED"},
    {nas::v1::TRIAL_STATE_STOPPED, "STOPPED"},
    {nas::v1::TRIAL_STATE_CANCELLED, "CANCELLED"},
}};

constexpr std::array<std::pair<SearchState, const char*>, 4> kSearchStates = {{
    {nas::v1::SEARCH_STATE_RUNNING, "RUNNING"},
    {nas::v1::SEARCH_STATE_COMPLETED, "COMPLETED"},
    {nas::v1::SEARCH_STATE_CANCELLED, "CANCELLED"},
    {nas::v1::SEARCH_STATE_FAILED, "FAILED"},
}};

// Keep in step with the best_trials view (migrations.cc).
constexpr std::array<const char*, 7> kObjectiveMetrics = {
    "val_accuracy", "test_accuracy", "val_loss",     "params",
    "flops",        "latency_ms",    "train_seconds"};

// Microseconds since the epoch, or NULL, for a timestamptz column x.
#define NAS_MICROS(x) "(extract(epoch FROM " x ") * 1000000)::bigint"

void SetTimestamp(const pqxx::field& micros, google::protobuf::Timestamp* ts) {
  if (micros.is_null()) return;
  const int64_t us = micros.as<int64_t>();
  int64_t seconds = us / 1000000;
  int64_t rest = us % 1000000;
  if (rest < 0) {
    rest += 1000000;
    seconds -= 1;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(rest * 1000));
}

}  // namespace

const char kSearchColumns[] =
    "s.id, s.spec::text AS spec, s.state, s.state_reason, s.owner, "
    NAS_MICROS("s.created_at") " AS created_us, "
    NAS_MICROS("s.finished_at") " AS finished_us, "
    NAS_MICROS("s.archived_at") " AS archived_us, "
    "(SELECT coalesce(max(k.version), 0) FROM checkpoints k "
    "WHERE k.search_id = s.id AND k.version > 0) AS supernet_version";

const char kTrialColumns[] =
    "t.id, t.search_id, t.number, t.state, t.kind, t.arch_text, "
    "t.arch_choices, t.budget::text AS budget, t.attempt, "
    "coalesce(t.worker_id, '') AS worker_id, t.val_accuracy, t.val_loss, "
    "t.test_accuracy, t.test_loss, t.params, t.flops, t.latency_ms, "
    "t.train_seconds, t.zero_cost_score, t.reason, t.task::text AS task, "
    "t.rung, "
    NAS_MICROS("t.created_at") " AS created_us, "
    NAS_MICROS("t.started_at") " AS started_us, "
    NAS_MICROS("t.finished_at") " AS finished_us";

const char kTrialOutlineColumns[] =
    "t.id, t.search_id, t.number, t.state, t.kind, t.arch_choices, "
    "t.val_accuracy, t.val_loss, t.test_accuracy, t.test_loss, t.params, "
    "t.flops, t.latency_ms, t.train_seconds, t.zero_cost_score";

const char kTrialEndingColumns[] =
    "t.id, t.search_id, t.number, t.state, t.kind, t.arch_choices, "
    "t.val_accuracy, t.val_loss, t.test_accuracy, t.test_loss, t.params, "
    "t.flops, t.latency_ms, t.train_seconds, t.zero_cost_score, t.attempt, "
    "coalesce(t.worker_id, '') AS worker_id, "
    NAS_MICROS("t.started_at") " AS started_us, "
    NAS_MICROS("t.finished_at") " AS finished_us";

#undef NAS_MICROS

std::string CurveQuery(const char* extra_columns, const char* where) {
  return absl::StrCat(
      "SELECT DISTINCT ON (e.trial_id, e.epoch) ", extra_columns,
      "e.trial_id, e.epoch, e.train_loss, e.val_loss, e.val_accuracy, "
      "e.seconds FROM trial_epochs e JOIN trials t ON t.id = e.trial_id "
      "WHERE (",
      where,
      ") AND (e.attempt = t.attempt OR e.epoch < (SELECT min(c.epoch) FROM "
      "trial_epochs c WHERE c.trial_id = t.id AND c.attempt = t.attempt)) "
      "ORDER BY e.trial_id, e.epoch, e.attempt DESC");
}

std::string TrialStateName(TrialState state) {
  for (const auto& [value, name] : kTrialStates) {
    if (value == state) return name;
  }
  return "UNSPECIFIED";
}

TrialState TrialStateFromName(absl::string_view name) {
  for (const auto& [value, text] : kTrialStates) {
    if (name == text) return value;
  }
  return nas::v1::TRIAL_STATE_UNSPECIFIED;
}

std::string SearchStateName(SearchState state) {
  for (const auto& [value, name] : kSearchStates) {
    if (value == state) return name;
  }
  return "UNSPECIFIED";
}

SearchState SearchStateFromName(absl::string_view name) {
  for (const auto& [value, text] : kSearchStates) {
    if (name == text) return value;
  }
  return nas::v1::SEARCH_STATE_UNSPECIFIED;
}

std::string TrialKindName(TrialKind kind) {
  return nas::spec::NamesOf(kind).stored;
}

TrialKind TrialKindFromName(absl::string_view name) {
  return nas::spec::KindFromStored(name);
}

std::string DeviceTypeName(nas::v1::DeviceType type) {
  switch (type) {
    case nas::v1::DEVICE_TYPE_CPU:
      return "CPU";
    case nas::v1::DEVICE_TYPE_CUDA:
      return "CUDA";
    default:
      return "UNSPECIFIED";
  }
}

bool IsObjectiveMetric(const std::string& metric) {
  for (const char* name : kObjectiveMetrics) {
    if (metric == name) return true;
  }
  return false;
}

absl::StatusOr<RankingObjective> RankingObjectiveOf(
    const nas::v1::SearchSpec& spec) {
  RankingObjective objective{"val_accuracy", "MAXIMIZE"};
  if (spec.objectives_size() == 0) return objective;
  const nas::v1::Objective& first = spec.objectives(0);
  if (!IsObjectiveMetric(first.metric())) {
    return absl::InvalidArgumentError(
        absl::StrCat("objectives[0].metric: unknown metric \"",
                     absl::CEscape(first.metric()), "\""));
  }
  objective.metric = first.metric();
  switch (first.direction()) {
    case nas::v1::DIRECTION_MAXIMIZE:
      objective.direction = "MAXIMIZE";
      break;
    case nas::v1::DIRECTION_MINIMIZE:
      objective.direction = "MINIMIZE";
      break;
    default:
      objective.direction = (objective.metric == "val_accuracy" ||
                             objective.metric == "test_accuracy")
                                ? "MAXIMIZE"
                                : "MINIMIZE";
  }
  return objective;
}

absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool with_defaults) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = with_defaults;
  std::string json;
  const auto status =
      google::protobuf::util::MessageToJsonString(message, &json, options);
  if (!status.ok()) {
    return absl::InternalError(absl::StrCat("cannot encode ",
                                            message.GetTypeName(),
                                            " as JSON: ", status.ToString()));
  }
  return json;
}

absl::Status FromJson(const std::string& json,
                      google::protobuf::Message* message) {
  google::protobuf::util::JsonParseOptions options;
  // Rows written by a newer controller may carry fields unknown here.
  options.ignore_unknown_fields = true;
  const auto status =
      google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) {
    return absl::InternalError(
        absl::StrCat("stored ", message->GetTypeName(),
                     " is not valid JSON: ", status.ToString()));
  }
  return absl::OkStatus();
}

std::string IntArrayLiteral(const google::protobuf::RepeatedField<int32_t>& v) {
  return absl::StrCat("{", absl::StrJoin(v, ","), "}");
}

std::string Int64ArrayLiteral(const std::vector<int64_t>& values) {
  return absl::StrCat("{", absl::StrJoin(values, ","), "}");
}

std::string TextArrayLiteral(const std::vector<std::string>& plain_words) {
  // Callers pass fixed enum names only ([A-Z_]), which need no quoting.
  return absl::StrCat("{", absl::StrJoin(plain_words, ","), "}");
}

std::string QuotedArrayLiteral(
    const std::vector<std::optional<std::string>>& texts) {
  std::string out = "{";
  for (size_t i = 0; i < texts.size(); ++i) {
    if (i > 0) out += ',';
    if (!texts[i].has_value()) {
      out += "NULL";
      continue;
    }
    out += '"';
    out += absl::StrReplaceAll(*texts[i], {{"\\", "\\\\"}, {"\"", "\\\""}});
    out += '"';
  }
  out += '}';
  return out;
}

std::string QuotedArrayLiteral(const std::vector<std::string>& texts) {
  return QuotedArrayLiteral(
      std::vector<std::optional<std::string>>(texts.begin(), texts.end()));
}

std::string NullableArrayLiteral(
    const std::vector<std::optional<std::string>>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += items[i].has_value() ? *items[i] : "NULL";
  }
  out += '}';
  return out;
}

absl::Status ParseIntArray(absl::string_view text,
                           google::protobuf::RepeatedField<int32_t>* out) {
  out->Clear();
  absl::string_view body = text;
  if (!absl::ConsumePrefix(&body, "{") || !absl::ConsumeSuffix(&body, "}")) {
    return absl::InvalidArgumentError(
        absl::StrCat("not an integer array: ", text));
  }
  if (body.empty()) return absl::OkStatus();
  for (absl::string_view item : absl::StrSplit(body, ',')) {
    int32_t value = 0;
    if (!absl::SimpleAtoi(item, &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat("not an integer array: ", text));
    }
    out->Add(value);
  }
  return absl::OkStatus();
}

std::string Float8(double value) { return absl::StrFormat("%.17g", value); }

absl::StatusOr<nas::v1::Search> SearchFromRow(const pqxx::row& row) {
  nas::v1::Search search;
  search.set_id(row["id"].as<int64_t>());
  absl::Status parsed = FromJson(row["spec"].c_str(), search.mutable_spec());
  if (!parsed.ok()) return parsed;
  search.set_state(SearchStateFromName(row["state"].c_str()));
  search.set_owner(row["owner"].c_str());
  search.set_state_reason(row["state_reason"].c_str());
  SetTimestamp(row["created_us"], search.mutable_created_at());
  if (!row["finished_us"].is_null()) {
    SetTimestamp(row["finished_us"], search.mutable_finished_at());
  }
  if (!row["archived_us"].is_null()) {
    SetTimestamp(row["archived_us"], search.mutable_archived_at());
  }
  search.set_supernet_version(row["supernet_version"].as<int64_t>());
  return search;
}

namespace {

// The columns both TrialFromRow and TrialOutlineFromRow read.
absl::StatusOr<nas::v1::Trial> TrialOutline(const pqxx::row& row) {
  nas::v1::Trial trial;
  trial.set_id(row["id"].as<int64_t>());
  trial.set_search_id(row["search_id"].as<int64_t>());
  trial.set_number(row["number"].as<int32_t>());
  trial.set_state(TrialStateFromName(row["state"].c_str()));
  trial.set_kind(TrialKindFromName(row["kind"].c_str()));
  absl::Status parsed =
      ParseIntArray(row["arch_choices"].c_str(),
                    trial.mutable_architecture()->mutable_choices());
  if (!parsed.ok()) return parsed;
  // Final metrics exist once a trial completed; a NULL column is a metric
  // its estimator did not measure, and stays unset.
  const char* metric_columns[] = {
      "val_accuracy", "val_loss",   "test_accuracy", "test_loss",
      "params",       "flops",      "latency_ms",    "train_seconds",
      "zero_cost_score"};
  bool has_metrics = false;
  for (const char* column : metric_columns) {
    has_metrics = has_metrics || !row[column].is_null();
  }
  if (has_metrics) {
    nas::v1::TrialMetrics* m = trial.mutable_metrics();
    if (!row["val_accuracy"].is_null()) {
      m->set_val_accuracy(row["val_accuracy"].as<double>());
    }
    if (!row["val_loss"].is_null()) {
      m->set_val_loss(row["val_loss"].as<double>());
    }
    if (!row["test_accuracy"].is_null()) {
      m->set_test_accuracy(row["test_accuracy"].as<double>());
    }
    if (!row["test_loss"].is_null()) {
      m->set_test_loss(row["test_loss"].as<double>());
    }
    if (!row["params"].is_null()) m->set_params(row["params"].as<int64_t>());
    if (!row["flops"].is_null()) m->set_flops(row["flops"].as<int64_t>());
    if (!row["latency_ms"].is_null()) {
      m->set_latency_ms(row["latency_ms"].as<double>());
    }
    if (!row["train_seconds"].is_null()) {
      m->set_train_seconds(row["train_seconds"].as<double>());
    }
    if (!row["zero_cost_score"].is_null()) {
      m->set_zero_cost_score(row["zero_cost_score"].as<double>());
    }
  }
  return trial;
}

}  // namespace

absl::StatusOr<nas::v1::Trial> TrialOutlineFromRow(const pqxx::row& row) {
  return TrialOutline(row);
}

absl::StatusOr<nas::v1::Trial> TrialEndingFromRow(const pqxx::row& row) {
  absl::StatusOr<nas::v1::Trial> trial = TrialOutline(row);
  if (!trial.ok()) return trial;
  trial->set_attempt(row["attempt"].as<int32_t>());
  trial->set_worker_id(row["worker_id"].c_str());
  if (!row["started_us"].is_null()) {
    SetTimestamp(row["started_us"], trial->mutable_started_at());
  }
  if (!row["finished_us"].is_null()) {
    SetTimestamp(row["finished_us"], trial->mutable_finished_at());
  }
  return trial;
}

absl::StatusOr<nas::v1::Trial> TrialFromRow(const pqxx::row& row) {
  absl::StatusOr<nas::v1::Trial> trial = TrialOutline(row);
  if (!trial.ok()) return trial;
  trial->mutable_architecture()->set_text(row["arch_text"].c_str());
  absl::Status parsed =
      FromJson(row["budget"].c_str(), trial->mutable_budget());
  if (!parsed.ok()) return parsed;
  trial->set_attempt(row["attempt"].as<int32_t>());
  trial->set_worker_id(row["worker_id"].c_str());
  trial->set_reason(row["reason"].c_str());
  if (!row["task"].is_null()) {
    parsed = FromJson(row["task"].c_str(), trial->mutable_task());
    if (!parsed.ok()) return parsed;
  }
  if (!row["rung"].is_null()) trial->set_rung(row["rung"].as<int32_t>());
  SetTimestamp(row["created_us"], trial->mutable_created_at());
  if (!row["started_us"].is_null()) {
    SetTimestamp(row["started_us"], trial->mutable_started_at());
  }
  if (!row["finished_us"].is_null()) {
    SetTimestamp(row["finished_us"], trial->mutable_finished_at());
  }
  return trial;
}

nas::v1::EpochMetrics EpochFromRow(const pqxx::row& row) {
  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(row["epoch"].as<int32_t>());
  epoch.set_train_loss(row["train_loss"].as<double>());
  epoch.set_val_loss(row["val_loss"].as<double>());
  epoch.set_val_accuracy(row["val_accuracy"].as<double>());
  epoch.set_seconds(row["seconds"].as<double>());
  return epoch;
}

void AddCount(absl::string_view state_name, int32_t count,
              nas::v1::TrialCounts* counts) {
  switch (TrialStateFromName(state_name)) {
    case nas::v1::TRIAL_STATE_PENDING:
      counts->set_pending(counts->pending() + count);
      break;
    case nas::v1::TRIAL_STATE_RUNNING:
      counts->set_running(counts->running() + count);
      break;
    case nas::v1::TRIAL_STATE_COMPLETED:
      counts->set_completed(counts->completed() + count);
      break;
    case nas::v1::TRIAL_STATE_FAILED:
      counts->set_failed(counts->failed() + count);
      break;
    case nas::v1::TRIAL_STATE_STOPPED:
      counts->set_stopped(counts->stopped() + count);
      break;
    case nas::v1::TRIAL_STATE_CANCELLED:
      counts->set_cancelled(counts->cancelled() + count);
      break;
    default:
      break;
  }
}

}  // namespace nas::controller
