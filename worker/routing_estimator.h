// The estimator a worker runs when it runs more than one kind of trial: it
// hands each assignment to the estimator for its kind (TRAIN and RETRAIN to
// the training estimator, SUPERNET_SHARD and SCORE_INHERITED to the supernet
// estimator) and declares what they can run together.
#ifndef NAS_WORKER_ROUTING_ESTIMATOR_H_
#define NAS_WORKER_ROUTING_ESTIMATOR_H_

#include <vector>

#include "worker/estimator.h"

namespace nas::worker {

struct EstimatorRoute {
  std::vector<nas::v1::TrialKind> kinds;
  Estimator* estimator = nullptr;  // must outlive the RoutingEstimator
};

class RoutingEstimator : public Estimator {
 public:
  // A kind listed by two routes goes to the first.
  explicit RoutingEstimator(std::vector<EstimatorRoute> routes);

  // An UNSPECIFIED kind (a controller from before trial kinds) is TRAIN.
  // A kind no route takes is FAILED_PRECONDITION (this worker cannot run
  // it; another may), and a value that is no TrialKind at all is
  // INVALID_ARGUMENT (a trial fault).
  absl::StatusOr<Evaluation> Evaluate(
      const nas::v1::TrialAssignment& assignment,
      const ProgressFn& on_epoch) override;

  // The routes' capabilities, each with its route's kinds where the
  // estimator declares none; entries for the same space and data sets are
  // merged into one with all their kinds. Kinds that are exactly TRAIN and
  // RETRAIN are left empty, which says the same to the controller.
  // Estimator labels are joined with "+" ("torch+supernet").
  nas::v1::Capabilities Capabilities() const override;

 private:
  const std::vector<EstimatorRoute> routes_;
};

}  // namespace nas::worker

#endif  // NAS_WORKER_ROUTING_ESTIMATOR_H_
