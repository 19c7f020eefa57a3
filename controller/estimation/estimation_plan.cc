#include "controller/estimation/estimation_plan.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/spec/estimation.h"
#include "common/spec/objective.h"

namespace nas::controller {
namespace {

bool InFlight(const nas::v1::Trial& t) {
  return t.state() == nas::v1::TRIAL_STATE_PENDING ||
         t.state() == nas::v1::TRIAL_STATE_RUNNING;
}

// The last line of a trial's reason: what its last attempt said.
std::string LastLine(const std::string& reason) {
  return reason.substr(reason.rfind('\n') + 1);
}

EstimationStep Step(EstimationStep::Action action) {
  EstimationStep step;
  step.action = action;
  return step;
}

EstimationStep SupernetStep(const nas::v1::SearchSpec& spec,
                               const std::vector<nas::v1::Trial>& trials,
                               int round) {
  const int rounds = spec.estimation().weight_sharing().supernet().rounds();
  const int shards =
      spec.estimation().weight_sharing().supernet().shards_per_round();
  // By shard index; a shard is one trial, retried by leases, never re-added.
  std::map<int, const nas::v1::Trial*> round_shards;
  for (const nas::v1::Trial& t : trials) {
    if (t.kind() == nas::v1::TRIAL_KIND_SUPERNET_SHARD &&
        t.task().round() == round) {
      round_shards.emplace(t.task().shard_index(), &t);
    }
  }
  if (round_shards.empty()) {
    EstimationStep step = Step(EstimationStep::Action::kAddShards);
    step.round = round;
    return step;
  }
  EstimationStep merge = Step(EstimationStep::Action::kMerge);
  merge.round = round;
  for (const auto& [index, trial] : round_shards) {
    if (InFlight(*trial)) return Step(EstimationStep::Action::kWait);
    if (trial->state() != nas::v1::TRIAL_STATE_COMPLETED) {
      EstimationStep fail = Step(EstimationStep::Action::kFail);
      fail.reason = absl::StrCat(
          "supernet round ", round + 1, " of ", rounds, ": shard ", index + 1,
          " of ", shards, " (trial #", trial->number(), ") ended ",
          nas::v1::TrialState_Name(trial->state()).substr(12), ": ",
          LastLine(trial->reason()));
      return fail;
    }
    merge.merge_trial_ids.push_back(trial->id());
  }
  if (static_cast<int>(round_shards.size()) < shards) {
    // Fewer shards than the spec asks for: only possible if the spec was
    // changed under a running search; there is nothing sound to merge.
    EstimationStep fail = Step(EstimationStep::Action::kFail);
    fail.reason = absl::StrCat("supernet round ", round + 1, " has ",
                               round_shards.size(), " shards, expected ",
                               shards);
    return fail;
  }
  return merge;
}

}  // namespace

std::vector<const nas::v1::Trial*> CandidateTrials(
    const std::vector<nas::v1::Trial>& trials) {
  std::vector<const nas::v1::Trial*> candidates;
  for (const nas::v1::Trial& t : trials) {
    if (t.kind() == nas::v1::TRIAL_KIND_TRAIN ||
        t.kind() == nas::v1::TRIAL_KIND_SCORE_INHERITED ||
        t.kind() == nas::v1::TRIAL_KIND_ZERO_COST) {
      candidates.push_back(&t);
    }
  }
  return candidates;
}

std::optional<double> CandidateScore(const nas::v1::SearchSpec& spec,
                                     const nas::v1::Trial& trial) {
  if (!spec::MeetsConstraints(spec, trial.metrics())) return std::nullopt;
  if (trial.kind() == nas::v1::TRIAL_KIND_ZERO_COST) {
    if (!trial.metrics().has_zero_cost_score()) return std::nullopt;
    return trial.metrics().zero_cost_score();
  }
  return spec::OrientedScore(spec, trial.metrics());
}

EstimationStep NextEstimationStep(
    const nas::v1::SearchSpec& spec, const std::vector<nas::v1::Trial>& trials,
    int64_t latest_version, bool strategy_exhausted) {
  const int rounds = spec::UsesWeightSharing(spec)
                         ? spec.estimation().weight_sharing().supernet().rounds()
                         : 0;
  if (latest_version < rounds) {
    return SupernetStep(spec, trials, static_cast<int>(latest_version));
  }

  const std::vector<const nas::v1::Trial*> candidates = CandidateTrials(trials);
  std::vector<const nas::v1::Trial*> retrains;
  for (const nas::v1::Trial& t : trials) {
    if (t.kind() == nas::v1::TRIAL_KIND_RETRAIN) retrains.push_back(&t);
  }
  const int max_trials = spec.budget().max_trials();
  const int k = spec::RetrainTopK(spec);

  if (retrains.empty()) {
    int in_flight = 0;
    for (const nas::v1::Trial* t : candidates) in_flight += InFlight(*t);
    const int proposed = static_cast<int>(candidates.size());
    if (proposed < max_trials && !strategy_exhausted) {
      EstimationStep step = Step(EstimationStep::Action::kWait);
      step.free_slots = std::min(spec.budget().parallelism() - in_flight,
                                 max_trials - proposed);
      if (step.free_slots > 0) {
        step.action = EstimationStep::Action::kProposeCandidates;
      }
      return step;
    }
    if (in_flight > 0) return Step(EstimationStep::Action::kWait);

    // Best feasible candidates by the first objective; ties by number so
    // that every replica picks the same ones.
    std::vector<std::pair<double, const nas::v1::Trial*>> scored;
    for (const nas::v1::Trial* t : candidates) {
      if (t->state() != nas::v1::TRIAL_STATE_COMPLETED) continue;
      const std::optional<double> score = CandidateScore(spec, *t);
      if (score.has_value()) scored.emplace_back(*score, t);
    }
    if (scored.empty()) {
      EstimationStep fail = Step(EstimationStep::Action::kFail);
      fail.reason = absl::StrCat(
          "none of the ", candidates.size(),
          " candidates was scored (COMPLETED and feasible), so there is "
          "nothing to retrain");
      return fail;
    }
    std::stable_sort(scored.begin(), scored.end(),
                     [](const auto& a, const auto& b) {
                       return a.first > b.first;
                     });
    // Candidates are distinct computations already (strategies skip every
    // canonical key tried), so the best k are k different architectures.
    EstimationStep step = Step(EstimationStep::Action::kAddRetrains);
    for (const auto& [score, t] : scored) {
      if (static_cast<int>(step.retrain_trial_ids.size()) == k) break;
      step.retrain_trial_ids.push_back(t->id());
    }
    return step;
  }

  int completed = 0;
  for (const nas::v1::Trial* t : retrains) {
    if (InFlight(*t)) return Step(EstimationStep::Action::kWait);
    completed += t->state() == nas::v1::TRIAL_STATE_COMPLETED;
  }
  if (completed == 0) {
    EstimationStep fail = Step(EstimationStep::Action::kFail);
    fail.reason = absl::StrCat("every retraining failed; trial #",
                               retrains.back()->number(), ": ",
                               LastLine(retrains.back()->reason()));
    return fail;
  }
  EstimationStep done = Step(EstimationStep::Action::kComplete);
  if (static_cast<int>(candidates.size()) < max_trials) {
    done.reason = absl::StrCat(
        "space exhausted: the strategy found no untried computation after ",
        candidates.size(), " candidates (max_trials ", max_trials,
        "); the best ", retrains.size(), " were retrained");
  } else if (static_cast<int>(retrains.size()) < k) {
    done.reason = absl::StrCat("only ", retrains.size(),
                               " candidates could be retrained (retrain_top_k ",
                               k, ")");
  }
  return done;
}

nas::v1::SupernetTask ShardTask(const nas::v1::SearchSpec& spec, int round,
                                int shard_index) {
  const nas::v1::SupernetTrainingConfig& net =
      spec.estimation().weight_sharing().supernet();
  nas::v1::SupernetTask task;
  task.set_checkpoint_version(round);
  task.set_round(round);
  task.set_shard_index(shard_index);
  task.set_num_shards(net.shards_per_round());
  task.set_steps(net.steps_per_shard());
  task.set_learning_rate(net.learning_rate());
  task.set_schedule_from(static_cast<double>(round) / net.rounds());
  task.set_schedule_to(static_cast<double>(round + 1) / net.rounds());
  task.set_batch_size(net.batch_size());
  task.set_momentum(net.momentum());
  task.set_weight_decay(net.weight_decay());
  task.set_init_seed(spec.seed());
  return task;
}

nas::v1::SupernetTask ScoreTask(const nas::v1::SearchSpec& spec,
                                int64_t version) {
  const nas::v1::CandidateScoringConfig& candidates =
      spec.estimation().weight_sharing().candidates();
  nas::v1::SupernetTask task;
  task.set_checkpoint_version(version);
  task.set_batch_size(spec.estimation().weight_sharing().supernet().batch_size());
  task.set_bn_recalibration_batches(candidates.bn_recalibration_batches());
  task.set_max_validation_images(candidates.max_validation_images());
  if (candidates.has_fine_tune()) {
    *task.mutable_fine_tune() = candidates.fine_tune();
  }
  return task;
}

}  // namespace nas::controller
