// Whether a search can make progress with the workers that are connected,
// and when a search has failed outright. Pure decisions: no store, no gRPC.
#ifndef NAS_CONTROLLER_RUNNABILITY_H_
#define NAS_CONTROLLER_RUNNABILITY_H_

#include <string>
#include <vector>

#include "controller/store/trial_store.h"
#include "nas/v1/search.pb.h"

namespace nas::controller {

// Every reason UnrunnableReason gives starts with this, so the scheduler
// clears only reasons it set itself.
inline constexpr char kUnrunnablePrefix[] =
    "no connected worker can run this search";

// The kinds of trial a search of `spec` runs, in TrialKind number order:
// TRAIN when candidates are trained from scratch; SUPERNET_SHARD,
// SCORE_INHERITED and RETRAIN with weight sharing.
std::vector<nas::v1::TrialKind> TrialKindsOf(const nas::v1::SearchSpec& spec);

// "" when, for every kind the search runs (TrialKindsOf), one of `workers`
// can run trials of that kind (a worker that declared no capabilities runs
// everything; different kinds may have different workers). Otherwise a
// reason for people that names what is missing, e.g.
// "no connected worker can run this search: it needs a worker for the
// chain space on MNIST; connected: 2 tabular (nb201)", or for weight
// sharing "... it needs a worker for supernet shards of the chain space on
// MNIST; ...".
std::string UnrunnableReason(const nas::v1::SearchSpec& spec,
                             const std::vector<LiveWorker>& workers);

// The "every attempt failed" rule: a search whose first
// FailureWindow(budget) trials all ended FAILED, with none COMPLETED, ends
// FAILED: its spec or the fleet is broken, and more trials would only burn
// time. The window is min(max_trials, 5), so a search of one trial fails
// when that trial fails.
int FailureWindow(const nas::v1::SearchBudget& budget);
inline constexpr int kMaxFailureWindow = 5;

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_RUNNABILITY_H_
