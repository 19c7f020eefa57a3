// One log line's worth of a trial's final metrics.
#ifndef NAS_WORKER_METRICS_SUMMARY_H_
#define NAS_WORKER_METRICS_SUMMARY_H_

#include <string>

#include "nas/v1/search.pb.h"

namespace nas::worker {

// "val_acc 0.9012 test_acc 0.8990 params 31162 ...": only the metrics the
// estimator measured, so an inherited-weight score (no test split) or a
// table look-up (no losses, no latency) does not print zeros it never
// measured. "no metrics" when none is set.
std::string MetricsSummary(const nas::v1::TrialMetrics& metrics);

}  // namespace nas::worker

#endif  // NAS_WORKER_METRICS_SUMMARY_H_
