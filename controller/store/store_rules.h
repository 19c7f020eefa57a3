// Rules every TrialStore applies the same way, so that the PostgreSQL store
// and the MemoryStore give the same results and messages (the conformance
// suite holds them to it).
#ifndef NAS_CONTROLLER_STORE_STORE_RULES_H_
#define NAS_CONTROLLER_STORE_STORE_RULES_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/store/trial_store.h"
#include "nas/v1/search.pb.h"

namespace nas::controller {

// CreateSearch's checks of a spec beyond its validation: InvalidArgument
// for max_trials below 1 or a negative count of extra trials; otherwise the
// search's extra trials (spec::ExtraTrials).
absl::StatusOr<int> CheckNewSearch(const nas::v1::SearchSpec& spec);

// EndSearch's check of the state it ends a search in: InvalidArgument
// unless COMPLETED or FAILED.
absl::Status CheckEndState(nas::v1::SearchState state);

// One line of a trial's reason: "attempt 2 on worker w-1: <why>", with
// `why` trimmed and its newlines shown as " | ", or `fallback` when empty;
// no trailing newline (lines are joined with one).
std::string ReasonLine(const LeaseRef& ref, const std::string& why,
                       const char* fallback);

// What a strategy reads of a trial (TrialStore::ListChangedTrials): its
// id, search_id, number, state, kind, architecture choices and metrics
// (left unset when it has none).
nas::v1::Trial TrialOutline(const nas::v1::Trial& trial);

// The ending of a finished trial (Completion::ending): its id, search_id,
// number, state, kind, architecture choices, metrics, attempt, worker_id,
// started_at and finished_at; not its architecture's text, budget, task,
// reason, rung, creation time or learning curve.
nas::v1::Trial TrialEnding(const nas::v1::Trial& trial);

// Whether an epoch report renews its lease (to now + `lease`): only when
// less than half of `lease` is left before `expires_at`. A trial that
// reports more often keeps the lease it has, and the store writes nothing
// for it: in PostgreSQL each renewal is a new row version of the trial
// and an entry in each index of `trials`. RenewLease, the heartbeat,
// always renews.
bool LeaseRenewalDue(absl::Time expires_at, absl::Time now,
                     absl::Duration lease);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_STORE_RULES_H_
