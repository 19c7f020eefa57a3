// Mapping between nas.v1 messages and rows of the PostgreSQL trial store:
// enum names, column lists, JSON columns, arrays and timestamps. Internal to
// nas_store.
#ifndef NAS_CONTROLLER_STORE_PROTO_ROWS_H_
#define NAS_CONTROLLER_STORE_PROTO_ROWS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/worker_service.pb.h"
#include "pqxx/pqxx"

namespace nas::controller {

// Enum <-> the text stored in the state/kind/device_type columns, e.g.
// TRIAL_STATE_PENDING <-> "PENDING". Unknown names map to UNSPECIFIED;
// TrialKindName maps an unspecified kind to "TRAIN", what it meant before
// there were other kinds.
std::string TrialStateName(nas::v1::TrialState state);
nas::v1::TrialState TrialStateFromName(absl::string_view name);
std::string SearchStateName(nas::v1::SearchState state);
nas::v1::SearchState SearchStateFromName(absl::string_view name);
std::string TrialKindName(nas::v1::TrialKind kind);
nas::v1::TrialKind TrialKindFromName(absl::string_view name);
std::string DeviceTypeName(nas::v1::DeviceType type);

// True for the metric names an objective may name (the fixed whitelist that
// the best_trials view maps to columns).
bool IsObjectiveMetric(const std::string& metric);

// The objective a search ranks by: its first objective, with an unspecified
// direction resolved (accuracies are maximized, everything else
// minimized). "MAXIMIZE" or "MINIMIZE". InvalidArgument for a metric
// outside the whitelist.
struct RankingObjective {
  std::string metric;
  std::string direction;
};
absl::StatusOr<RankingObjective> RankingObjectiveOf(
    const nas::v1::SearchSpec& spec);

// Protobuf JSON (proto field names) for jsonb columns, and back.
// `with_defaults` also writes fields that hold their default (0, ""), so
// that SQL reads them (task->>'round' for round 0) instead of NULL.
absl::StatusOr<std::string> ToJson(const google::protobuf::Message& message,
                                   bool with_defaults = false);
absl::Status FromJson(const std::string& json,
                      google::protobuf::Message* message);

// PostgreSQL array literals: {1,2,3}.
std::string IntArrayLiteral(const google::protobuf::RepeatedField<int32_t>& v);
std::string Int64ArrayLiteral(const std::vector<int64_t>& values);
std::string TextArrayLiteral(const std::vector<std::string>& plain_words);
// Any text (a worker's id as it sent it): each element double-quoted, with
// backslashes and quotes escaped; nullopt as NULL.
std::string QuotedArrayLiteral(const std::vector<std::string>& texts);
std::string QuotedArrayLiteral(
    const std::vector<std::optional<std::string>>& texts);
// Elements that need no quoting (numbers, as Float8 writes them, "nan" and
// "inf" included), nullopt as NULL: {1.5,NULL,nan}.
std::string NullableArrayLiteral(
    const std::vector<std::optional<std::string>>& items);
// Parses an integer[] column's text; InvalidArgument if malformed.
absl::Status ParseIntArray(absl::string_view text,
                           google::protobuf::RepeatedField<int32_t>* out);

// A double as text that round-trips exactly (%.17g).
std::string Float8(double value);

// Columns of searches (alias s) that SearchFromRow reads, for SELECT lists.
extern const char kSearchColumns[];
// Columns of trials (alias t) that TrialFromRow reads.
extern const char kTrialColumns[];

// Columns of trials (alias t) that TrialOutlineFromRow reads: what a
// strategy reads of a trial (TrialStore::ListChangedTrials).
extern const char kTrialOutlineColumns[];

// Columns of trials (alias t) that TrialEndingFromRow reads, for a
// RETURNING list.
extern const char kTrialEndingColumns[];

// A search from a row selected with kSearchColumns; counts left empty.
absl::StatusOr<nas::v1::Search> SearchFromRow(const pqxx::row& row);
// A trial from a row selected with kTrialColumns; epochs left empty.
absl::StatusOr<nas::v1::Trial> TrialFromRow(const pqxx::row& row);
// A trial from a row selected with kTrialOutlineColumns: id, search_id,
// number, kind, state, architecture.choices and metrics; nothing else.
absl::StatusOr<nas::v1::Trial> TrialOutlineFromRow(const pqxx::row& row);
// A finished trial's ending (TrialEnding) from a row with
// kTrialEndingColumns: no JSON to parse, no curve to read.
absl::StatusOr<nas::v1::Trial> TrialEndingFromRow(const pqxx::row& row);
// One trial_epochs row (columns epoch, train_loss, val_loss, val_accuracy,
// seconds).
nas::v1::EpochMetrics EpochFromRow(const pqxx::row& row);

// The learning curves of the trials `where` selects (an SQL condition on
// trials t), as EpochFromRow reads them, with `extra_columns` (e.g. "t.number,
// ") first, ordered by trial and epoch: each trial's current attempt's
// epochs, preceded, when that attempt resumed from a saved state (its first
// epoch is not 1), by the latest earlier report of each epoch before it.
std::string CurveQuery(const char* extra_columns, const char* where);

// Adds `count` trials in state `state_name` to `counts`.
void AddCount(absl::string_view state_name, int32_t count,
              nas::v1::TrialCounts* counts);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_PROTO_ROWS_H_
