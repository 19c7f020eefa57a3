// Early stopping decisions (EarlyStoppingSpec, search.proto). A pruner only
// decides, like a strategy: it never touches the database or gRPC. It sees
// every epoch report of a search's TRAIN trials and answers whether the
// trial goes on. Its state is a set of (trial, epoch) values, so replaying
// the stored reports in any order rebuilds it exactly: a controller
// restarted mid-search makes the same decisions.
//
// Not thread-safe: one search's pruner is used under one lock (PruningBook).
#ifndef NAS_CONTROLLER_PRUNING_PRUNER_H_
#define NAS_CONTROLLER_PRUNING_PRUNER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "nas/v1/search.pb.h"

namespace nas::controller {

// One epoch report, as a pruner sees it.
struct PruneReport {
  int64_t trial_id = 0;
  int trial_number = 0;
  int epoch = 0;  // 1-based
  // The decision metric, oriented so that larger is better (DecisionValue).
  double value = 0;
};

struct PruneDecision {
  bool stop = false;
  // With stop, under promotion (AshaConfig.promote): the trial is paused,
  // not ended for good. Its training state is kept, and Promotable names it
  // once later arrivals put it in the top of its rung.
  bool pause = false;
  // The epoch was a rung's (ASHA, Hyperband): its index (rung k is at
  // min_epochs * eta^k epochs). With stop false the trial was promoted past
  // it.
  std::optional<int> rung;
  // Why, for the trial's reason and the log, e.g. "rung 0 (epoch 1):
  // val_accuracy 0.8123 below the top 1/3 of 7 trials (cutoff 0.8410)".
  std::string reason;
};

// A trial that earned a promotion past its rung (Pruner::Promotable).
struct PromotableTrial {
  int64_t trial_id = 0;
  int trial_number = 0;
  int rung = 0;  // the rung it is promoted past
  // Its value at that rung, oriented so that larger is better.
  double value = 0;
};

class Pruner {
 public:
  virtual ~Pruner() = default;
  // Records the report (a repeated report of the same trial and epoch
  // replaces the earlier one) and decides whether the trial goes on.
  virtual PruneDecision OnReport(const PruneReport& report) = 0;
  // Under promotion: the trials in the top floor(n / eta) of their rung
  // that reported no epoch past it, highest rung first, then best first.
  // Paused ones among them are to be resumed; the others (the trial that
  // went on from the rung, or one resumed already) are still on their way
  // to the next rung. Empty without promotion.
  virtual std::vector<PromotableTrial> Promotable() const { return {}; }
};

// The pruner of a search; nullptr when it has no early_stopping.
// REQUIRES: the spec passed ApplySpecDefaults and validation.
std::unique_ptr<Pruner> MakePruner(const nas::v1::SearchSpec& spec);

// The decision metric of a search: the first objective when it is measured
// every epoch (val_accuracy, val_loss), else val_accuracy, maximized.
std::string DecisionMetric(const nas::v1::SearchSpec& spec);

// `metrics`' value of DecisionMetric, oriented so that larger is better;
// nullopt when the epoch did not measure it (NaN).
std::optional<double> DecisionValue(const nas::v1::SearchSpec& spec,
                                    const nas::v1::EpochMetrics& metrics);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_PRUNING_PRUNER_H_
