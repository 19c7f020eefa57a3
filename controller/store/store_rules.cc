#include "controller/store/store_rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/spec/estimation.h"

namespace nas::controller {

absl::StatusOr<int> CheckNewSearch(const nas::v1::SearchSpec& spec) {
  if (spec.budget().max_trials() < 1) {
    return absl::InvalidArgumentError("budget.max_trials must be at least 1");
  }
  const int extra_trials = nas::spec::ExtraTrials(spec);
  if (extra_trials < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "estimation.weight_sharing: the search would run ", extra_trials,
        " extra trials; rounds, shards_per_round and retrain_top_k must not "
        "be negative"));
  }
  return extra_trials;
}

absl::Status CheckEndState(nas::v1::SearchState state) {
  if (state != nas::v1::SEARCH_STATE_COMPLETED &&
      state != nas::v1::SEARCH_STATE_FAILED) {
    return absl::InvalidArgumentError(
        "EndSearch: state must be COMPLETED or FAILED");
  }
  return absl::OkStatus();
}

std::string ReasonLine(const LeaseRef& ref, const std::string& why,
                       const char* fallback) {
  std::string text(absl::StripAsciiWhitespace(why));
  text = absl::StrReplaceAll(text, {{"\r\n", " | "}, {"\n", " | "}});
  if (text.empty()) text = fallback;
  return absl::StrCat("attempt ", ref.attempt, " on worker ", ref.worker_id,
                      ": ", text);
}

nas::v1::Trial TrialOutline(const nas::v1::Trial& trial) {
  nas::v1::Trial outline;
  outline.set_id(trial.id());
  outline.set_search_id(trial.search_id());
  outline.set_number(trial.number());
  outline.set_state(trial.state());
  outline.set_kind(trial.kind());
  *outline.mutable_architecture()->mutable_choices() =
      trial.architecture().choices();
  if (trial.has_metrics()) *outline.mutable_metrics() = trial.metrics();
  return outline;
}

nas::v1::Trial TrialEnding(const nas::v1::Trial& trial) {
  nas::v1::Trial ending = TrialOutline(trial);
  *ending.mutable_metrics() = trial.metrics();
  ending.set_attempt(trial.attempt());
  ending.set_worker_id(trial.worker_id());
  if (trial.has_started_at()) *ending.mutable_started_at() = trial.started_at();
  if (trial.has_finished_at()) {
    *ending.mutable_finished_at() = trial.finished_at();
  }
  return ending;
}

bool LeaseRenewalDue(absl::Time expires_at, absl::Time now,
                     absl::Duration lease) {
  return expires_at - now < lease / 2;
}

}  // namespace nas::controller
