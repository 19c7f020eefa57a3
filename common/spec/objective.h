// Reading a search's objectives off a trial's metrics (the controller, the
// dashboard and nasctl plot all read them the same way).
#ifndef NAS_COMMON_SPEC_OBJECTIVE_H_
#define NAS_COMMON_SPEC_OBJECTIVE_H_

#include <optional>
#include <vector>

#include "absl/strings/string_view.h"

#include "nas/v1/search.pb.h"

namespace nas::spec {

// The metric's value; nullopt for an unknown metric name or one the
// estimator did not measure (unset in `metrics`).
std::optional<double> MetricValue(const nas::v1::TrialMetrics& metrics,
                                  absl::string_view metric);

// `objective`'s value oriented so that larger is better (negated for
// MINIMIZE); nullopt when unmeasured or unknown.
std::optional<double> OrientedValue(const nas::v1::Objective& objective,
                                    const nas::v1::TrialMetrics& metrics);

// The first objective's value oriented so that larger is better (negated for
// MINIMIZE). nullopt when the search has no objective or it is unknown.
std::optional<double> OrientedScore(const nas::v1::SearchSpec& spec,
                                    const nas::v1::TrialMetrics& metrics);

// Every objective's value, oriented like OrientedScore, in spec order; empty
// when the search has no objective or one names an unknown metric.
std::vector<double> OrientedObjectives(const nas::v1::SearchSpec& spec,
                                       const nas::v1::TrialMetrics& metrics);

// True when the metrics meet every constraint of the search. A constraint
// on an unknown metric (validation refuses those) is never met.
bool MeetsConstraints(const nas::v1::SearchSpec& spec,
                      const nas::v1::TrialMetrics& metrics);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_OBJECTIVE_H_
