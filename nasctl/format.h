// How nasctl shows searches and trials to people and scripts.
#ifndef NAS_NASCTL_FORMAT_H_
#define NAS_NASCTL_FORMAT_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"
#include "nas/v1/search.pb.h"
#include "nas/v1/search_service.pb.h"

namespace nas::cli {

// -o: tables for people, JSON (one object a line) and CSV for scripts.
enum class OutputFormat { kTable, kJson, kCsv };
// "table", "json" or "csv"; InvalidArgument naming -o otherwise.
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text);

// An error line that names the status code, not its number:
// "NOT_FOUND: search 999 not found". `code` is a grpc::StatusCode (the same
// numbers as absl::StatusCode).
std::string ErrorLine(int code, absl::string_view message);

// The last non-empty line of a (multi-line) reason, cut to max_chars with
// "..." at the end when longer; "-" when there is none. For table cells.
std::string ReasonSummary(absl::string_view reason, size_t max_chars = 48);

std::string StateName(nas::v1::SearchState state);
std::string StateName(nas::v1::TrialState state);
// 12345678 -> "12.3M"
std::string HumanCount(int64_t n);
// "" for TRAIN; "shard", "score", "retrain" for the weight-sharing kinds.
std::string KindName(nas::v1::TrialKind kind);
// What a trial works on: its architecture, or for a supernet shard e.g.
// "supernet round 2, shard 3/4".
std::string TrialSubject(const nas::v1::Trial& trial);
// Trials the search runs in all: max_trials, plus the supernet shards and
// retrainings of weight sharing.
int PlannedTrials(const nas::v1::Search& search);
// The phase of a weight-sharing search and its progress, e.g. "supernet
// round 3/8 (2/4 shards)", "scoring 57/200 candidates", "retraining 1/3";
// "" for a search that trains every candidate from scratch.
std::string PhaseText(const nas::v1::Search& search);
std::string Percent(double fraction);
// `nasctl watch`'s line for a finished trial: "trial #3 [score] COMPLETED:
// val 91.20% test - params 30.5k", a metric its estimator did not measure
// as "-", and the reason's last line when it did not complete.
std::string TrialEndedLine(const nas::v1::Trial& trial);

// Tables (kTable) or CSV (kCsv: a header line, RFC 4180 quoting, plain
// numbers: fractions, not percents; full counts, not 1.5M; the whole
// reason). kJson is the caller's (PrintJson of the response).
void PrintSearches(const std::vector<nas::v1::Search>& searches,
                   std::ostream& out,
                   OutputFormat format = OutputFormat::kTable);
void PrintTrials(const std::vector<nas::v1::Trial>& trials, std::ostream& out,
                 OutputFormat format = OutputFormat::kTable);
// `nasctl best`: with one objective the trials table; with several (the
// response is a Pareto front) a line naming the objectives and
// constraints, then one column per objective, in spec order.
void PrintBestTrials(const nas::v1::SearchSpec& spec,
                     const nas::v1::GetBestTrialsResponse& best,
                     std::ostream& out,
                     OutputFormat format = OutputFormat::kTable);
// `nasctl describe`: the search's state (with state_reason when set),
// counts and times, then its spec as indented JSON with every field shown,
// defaults and zeros included.
void PrintSearchDetails(const nas::v1::Search& search, std::ostream& out);
// One line of JSON per message (protobuf's JSON mapping), flushed so that a
// reader at the end of a pipe sees it at once. With
// `with_defaults`, fields at their zero value are printed too.
void PrintJson(const google::protobuf::Message& message, std::ostream& out,
               bool with_defaults = false);

}  // namespace nas::cli

#endif  // NAS_NASCTL_FORMAT_H_
