// Stand-alone training of one trial's network under early stopping's state
// handling, shared by the estimators that train in epochs (TRAIN and RETRAIN
// from scratch; SCORE_INHERITED fine-tuned from inherited weights):
//  * with a.checkpoint_epochs, the whole training state goes to `states`
//    after each of those epochs, before the epoch is reported; a refusal
//    because the lease is gone stops the run;
//  * with a.resume, the state an earlier attempt saved is loaded and
//    training goes on after its epoch, ending exactly as an uninterrupted
//    run; a state that is missing, unreadable or of another network or
//    budget is logged and training starts over (slower, never wrong);
//  * every epoch goes to on_epoch as EpochMetrics; false stops the run.
// `states` may be null (no saving, no resuming).
#ifndef NAS_WORKER_RESUMABLE_TRAINING_H_
#define NAS_WORKER_RESUMABLE_TRAINING_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/space/network_spec.h"
#include "nas/v1/worker_service.pb.h"
#include "worker/estimator.h"
#include "worker/train/trainer.h"

namespace nas::worker {

// The trainer's options for `budget` (a TRAIN or RETRAIN trial's
// a.budget(), or a candidate's fine-tuning), with the assignment's
// validation split and seed, on `device` with `num_threads`.
train::TrainOptions TrainOptionsOf(const nas::v1::TrainingBudget& budget,
                                   const nas::v1::TrialAssignment& a,
                                   const std::string& device, int num_threads);

// Trains `network` on `data` with `options` (whose checkpoint and resume
// fields this fills) for assignment `a`. Errors as TorchFailure maps the
// trainer's message ("training failed: ...").
absl::StatusOr<train::TrainResult> TrainResumably(
    const nas::v1::TrialAssignment& a, const space::NetworkSpec& network,
    const train::Dataset& data, train::TrainOptions options,
    TrialStateStore* states, const ProgressFn& on_epoch);

}  // namespace nas::worker

#endif  // NAS_WORKER_RESUMABLE_TRAINING_H_
