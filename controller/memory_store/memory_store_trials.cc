// MemoryStore: trials and leases. Each method mirrors its PostgresStore
// counterpart (controller/store/postgres_trials.cc) check for check and
// message for message; the comments say where that is not obvious.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/early_stopping.h"
#include "common/spec/trial_kinds.h"
#include "controller/memory_store/memory_store.h"
#include "controller/memory_store/memory_store_util.h"
#include "controller/store/capability_tokens.h"
#include "controller/store/store_rules.h"

namespace nas::controller {
namespace {

using memory_store_internal::AppendReason;
using memory_store_internal::CheckedLease;
using memory_store_internal::SearchNotFound;
using memory_store_internal::SearchStateName;
using memory_store_internal::SetTimestamp;
using memory_store_internal::TrialKindName;
using memory_store_internal::TrialNotFound;
using memory_store_internal::TrialStateName;

int32_t LeaseSeconds(absl::Duration lease) {
  const double seconds = std::ceil(absl::ToDoubleSeconds(lease));
  return seconds > std::numeric_limits<int32_t>::max()
             ? std::numeric_limits<int32_t>::max()
             : static_cast<int32_t>(seconds);
}

// For calls that keep a running trial alive (epoch reports, heartbeats,
// rungs): nullopt when the trial of a current lease still runs, a stop
// answer when it was cancelled or stopped meanwhile, FailedPrecondition
// (ending in `refused`) when it has finished otherwise.
absl::StatusOr<std::optional<EpochAck>> RunningOrStop(nas::v1::TrialState state,
                                                      int64_t trial_id,
                                                      const char* refused) {
  if (state == nas::v1::TRIAL_STATE_CANCELLED ||
      state == nas::v1::TRIAL_STATE_STOPPED) {
    return std::optional<EpochAck>(EpochAck{/*stop=*/true});
  }
  if (state != nas::v1::TRIAL_STATE_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", trial_id, " is already ", TrialStateName(state),
                     "; ", refused));
  }
  return std::optional<EpochAck>();
}

// The schema's trials_task_check, said before anything is stored so the
// caller learns which trial broke it.
absl::Status CheckTaskFitsKind(const NewTrial& trial, size_t index) {
  const bool needs_task = trial.kind == nas::v1::TRIAL_KIND_SUPERNET_SHARD ||
                          trial.kind == nas::v1::TRIAL_KIND_SCORE_INHERITED;
  if (needs_task == trial.task.has_value()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "trials[", index, "]: a ", TrialKindName(trial.kind), " trial ",
      needs_task ? "needs a SupernetTask" : "takes no SupernetTask",
      "; only SUPERNET_SHARD and SCORE_INHERITED trials have one"));
}

bool HasAnyMetric(const nas::v1::TrialMetrics& m) {
  return m.has_val_accuracy() || m.has_val_loss() || m.has_test_accuracy() ||
         m.has_test_loss() || m.has_params() || m.has_flops() ||
         m.has_latency_ms() || m.has_train_seconds() || m.has_zero_cost_score();
}

// The value of objective `metric` (a whitelisted name); nullopt when not
// measured, like the best_trials view's objective_value.
std::optional<double> ObjectiveValue(const nas::v1::TrialMetrics& m,
                                     const std::string& metric) {
  if (metric == "val_accuracy" && m.has_val_accuracy()) {
    return m.val_accuracy();
  }
  if (metric == "test_accuracy" && m.has_test_accuracy()) {
    return m.test_accuracy();
  }
  if (metric == "val_loss" && m.has_val_loss()) return m.val_loss();
  if (metric == "params" && m.has_params()) {
    return static_cast<double>(m.params());
  }
  if (metric == "flops" && m.has_flops()) {
    return static_cast<double>(m.flops());
  }
  if (metric == "latency_ms" && m.has_latency_ms()) return m.latency_ms();
  if (metric == "train_seconds" && m.has_train_seconds()) {
    return m.train_seconds();
  }
  return std::nullopt;
}

// Where a value sorts in the best_trials view's ORDER BY (the value, negated
// when maximized, NULLS LAST): numbers by value, then NaN (which PostgreSQL
// sorts above every number, and -NaN is NaN), then unmeasured.
std::pair<int, double> RankKey(std::optional<double> value, bool maximize) {
  if (!value) return {2, 0};
  if (std::isnan(*value)) return {1, 0};
  return {0, maximize ? -*value : *value};
}

}  // namespace

std::vector<const nas::v1::EpochMetrics*> MemoryStore::Curve(
    const TrialRow& trial) {
  // The current attempt's epochs, preceded, when it resumed from a saved
  // state (its first epoch is not the first), by the latest earlier report
  // of each epoch before it: CurveQuery in controller/store/proto_rows.cc.
  std::optional<int32_t> first_current;
  for (const auto& [epoch, by_attempt] : trial.epochs) {
    if (by_attempt.count(trial.attempt) > 0) {
      first_current = epoch;
      break;
    }
  }
  std::vector<const nas::v1::EpochMetrics*> curve;
  if (!first_current) return curve;
  for (const auto& [epoch, by_attempt] : trial.epochs) {
    if (epoch < *first_current) {
      curve.push_back(&by_attempt.begin()->second);  // the latest attempt's
      continue;
    }
    auto current = by_attempt.find(trial.attempt);
    if (current != by_attempt.end()) curve.push_back(&current->second);
  }
  return curve;
}

nas::v1::Trial MemoryStore::TrialProto(const TrialRow& row) {
  nas::v1::Trial trial;
  trial.set_id(row.id);
  trial.set_search_id(row.search_id);
  trial.set_number(row.number);
  trial.set_state(row.state);
  trial.set_kind(row.kind);
  *trial.mutable_architecture() = row.architecture;
  *trial.mutable_budget() = row.budget;
  trial.set_attempt(row.attempt);
  trial.set_worker_id(row.worker_id);
  // Final metrics exist once a trial ended with some; an unmeasured metric
  // stays unset.
  if (HasAnyMetric(row.metrics)) *trial.mutable_metrics() = row.metrics;
  trial.set_reason(row.reason);
  if (row.task) *trial.mutable_task() = *row.task;
  if (row.rung) trial.set_rung(*row.rung);
  SetTimestamp(row.created_at, trial.mutable_created_at());
  if (row.started_at) SetTimestamp(*row.started_at, trial.mutable_started_at());
  if (row.finished_at) {
    SetTimestamp(*row.finished_at, trial.mutable_finished_at());
  }
  for (const nas::v1::EpochMetrics* epoch : Curve(row)) {
    *trial.add_epochs() = *epoch;
  }
  return trial;
}

nas::v1::Trial MemoryStore::TrialOutlineProto(const TrialRow& row) {
  nas::v1::Trial trial;
  trial.set_id(row.id);
  trial.set_search_id(row.search_id);
  trial.set_number(row.number);
  trial.set_state(row.state);
  trial.set_kind(row.kind);
  *trial.mutable_architecture()->mutable_choices() = row.architecture.choices();
  if (HasAnyMetric(row.metrics)) *trial.mutable_metrics() = row.metrics;
  return trial;
}

void MemoryStore::SetTrialState(TrialRow& trial, nas::v1::TrialState state) {
  SearchRow& search = searches_.at(trial.search_id);
  StateCounts& counts = search.counts[trial.kind];
  --counts[trial.state];
  ++counts[state];
  if (trial.state == nas::v1::TRIAL_STATE_PENDING) {
    search.pending.erase(trial.number);
  }
  if (trial.state == nas::v1::TRIAL_STATE_RUNNING) running_.erase(trial.id);
  if (state == nas::v1::TRIAL_STATE_PENDING)
    search.pending.insert(trial.number);
  if (state == nas::v1::TRIAL_STATE_RUNNING) running_.insert(trial.id);
  trial.state = state;
}

void MemoryStore::InsertTrial(int64_t search_id, SearchRow& search,
                              int32_t number, const NewTrial& trial,
                              absl::Time now) {
  const int64_t id = ++last_trial_id_;
  TrialRow& row = trials_[id];
  row.id = id;
  row.search_id = search_id;
  row.number = number;
  // An unspecified (or unknown) kind is stored, and read back, as TRAIN.
  row.kind = nas::spec::KindFromStored(TrialKindName(trial.kind));
  row.architecture = trial.architecture;
  row.canonical_key = trial.canonical_key;
  row.budget = trial.budget;
  row.seed = trial.seed;
  row.task = trial.task;
  row.created_at = now;
  search.trial_ids.push_back(id);
  search.pending.insert(number);
  ++search.counts[row.kind][nas::v1::TRIAL_STATE_PENDING];
}

absl::StatusOr<MemoryStore::TrialRow*> MemoryStore::CheckLease(
    const LeaseRef& ref) {
  TrialRow* trial = FindTrial(ref.trial_id);
  if (trial == nullptr) return TrialNotFound(ref.trial_id);
  if (trial->attempt != ref.attempt || trial->worker_id != ref.worker_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", ref.trial_id, ": lease attempt ", ref.attempt, " of worker ",
        ref.worker_id, " is stale; the current attempt is ", trial->attempt,
        " (", TrialStateName(trial->state),
        trial->worker_id.empty()
            ? ""
            : absl::StrCat(" on worker ", trial->worker_id),
        ")"));
  }
  return trial;
}

absl::StatusOr<std::vector<nas::v1::Trial>> MemoryStore::ListTrials(
    int64_t search_id, const std::vector<nas::v1::TrialState>& states,
    int32_t after_number, int limit) {
  absl::MutexLock lock(&mu_);
  const SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  std::vector<nas::v1::Trial> trials;
  const int64_t size = static_cast<int64_t>(search->trial_ids.size());
  for (int64_t number = std::max<int64_t>(int64_t{after_number} + 1, 0);
       number < size && static_cast<int>(trials.size()) < limit; ++number) {
    const TrialRow& trial = trials_.at(search->trial_ids[number]);
    if (!states.empty() &&
        std::find(states.begin(), states.end(), trial.state) == states.end()) {
      continue;
    }
    trials.push_back(TrialProto(trial));
  }
  return trials;
}

absl::StatusOr<std::vector<nas::v1::Trial>> MemoryStore::ListChangedTrials(
    int64_t search_id, int32_t after_number,
    const std::vector<SeenTrialState>& watched, int limit) {
  absl::MutexLock lock(&mu_);
  const SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  const int64_t size = static_cast<int64_t>(search->trial_ids.size());
  std::vector<int32_t> numbers;
  for (const SeenTrialState& seen : watched) {
    if (seen.number < 0 || seen.number > after_number || seen.number >= size) {
      continue;  // unknown, or listed below as new
    }
    if (trials_.at(search->trial_ids[seen.number]).state != seen.state) {
      numbers.push_back(seen.number);
    }
  }
  std::sort(numbers.begin(), numbers.end());
  for (int64_t number = std::max<int64_t>(int64_t{after_number} + 1, 0);
       number < size; ++number) {
    numbers.push_back(static_cast<int32_t>(number));
  }
  if (limit < 0) limit = 0;
  if (numbers.size() > static_cast<size_t>(limit)) numbers.resize(limit);
  std::vector<nas::v1::Trial> trials;
  for (int32_t number : numbers) {
    trials.push_back(TrialOutlineProto(trials_.at(search->trial_ids[number])));
  }
  return trials;
}

absl::StatusOr<nas::v1::Trial> MemoryStore::GetTrial(int64_t trial_id) {
  absl::MutexLock lock(&mu_);
  const TrialRow* trial = FindTrial(trial_id);
  if (trial == nullptr) return TrialNotFound(trial_id);
  return TrialProto(*trial);
}

absl::StatusOr<std::vector<nas::v1::Trial>> MemoryStore::BestTrials(
    int64_t search_id, int k) {
  absl::MutexLock lock(&mu_);
  const SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  std::vector<nas::v1::Trial> best;
  if (k <= 0) return best;
  // The best_trials view: COMPLETED trials of the ranked kinds, by the
  // search's first objective, ties (one rank) by number.
  std::vector<std::pair<std::pair<int, double>, const TrialRow*>> ranked;
  for (int64_t trial_id : search->trial_ids) {
    const TrialRow& trial = trials_.at(trial_id);
    if (trial.state != nas::v1::TRIAL_STATE_COMPLETED ||
        !nas::spec::IsRankedKind(trial.kind)) {
      continue;
    }
    ranked.emplace_back(
        RankKey(ObjectiveValue(trial.metrics, search->objective_metric),
                search->maximize),
        &trial);
  }
  // Stable: trial_ids are in number order.
  std::stable_sort(
      ranked.begin(), ranked.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [key, trial] : ranked) {
    if (static_cast<int>(best.size()) >= k) break;
    best.push_back(TrialProto(*trial));
  }
  return best;
}

absl::Status MemoryStore::AddTrials(int64_t search_id, int expected_count,
                                    const std::vector<NewTrial>& trials) {
  for (size_t i = 0; i < trials.size(); ++i) {
    absl::Status fits = CheckTaskFitsKind(trials[i], i);
    if (!fits.ok()) return fits;
  }
  absl::MutexLock lock(&mu_);
  SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return SearchNotFound(search_id);
  if (search->state != nas::v1::SEARCH_STATE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "search ", search_id, " is ", SearchStateName(search->state),
        "; trials can only be added to a RUNNING search"));
  }
  const int64_t count = static_cast<int64_t>(search->trial_ids.size());
  if (count != expected_count) {
    return absl::AbortedError(absl::StrCat(
        "search ", search_id, " has ", count, " trials, not the expected ",
        expected_count, "; another writer added trials meanwhile"));
  }
  const absl::Time now = Now();
  for (size_t i = 0; i < trials.size(); ++i) {
    InsertTrial(search_id, *search, expected_count + static_cast<int32_t>(i),
                trials[i], now);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<nas::v1::TrialAssignment>> MemoryStore::LeaseTrial(
    const std::string& worker_id, absl::Duration lease) {
  absl::StatusOr<absl::Duration> checked = CheckedLease(lease);
  if (!checked.ok()) return checked.status();
  if (worker_id.empty()) {
    return absl::InvalidArgumentError("worker_id is empty");
  }
  absl::MutexLock lock(&mu_);
  // nullptr for a worker that declared no capabilities (or an unknown id):
  // it is offered everything, as before capabilities.
  const std::vector<std::string>* tokens = nullptr;
  auto worker = workers_.find(worker_id);
  if (worker != workers_.end() && worker->second.capabilities) {
    tokens = &*worker->second.capabilities;
  }
  // The oldest search first, then the lowest number.
  for (auto& [search_id, search] : searches_) {
    if (search.state != nas::v1::SEARCH_STATE_RUNNING) continue;
    // The token a trial needs names its kind, so one search's shards and
    // retrains may go to different workers.
    std::map<nas::v1::TrialKind, bool> runnable;
    for (int32_t number : search.pending) {
      TrialRow& trial = trials_.at(search.trial_ids[number]);
      if (tokens != nullptr) {
        auto [it, inserted] = runnable.try_emplace(trial.kind, false);
        if (inserted) {
          it->second = CanRun(*tokens, NeedToken(search.spec, trial.kind));
        }
        if (!it->second) continue;
      }
      const absl::Time now = Now();
      SetTrialState(trial, nas::v1::TRIAL_STATE_RUNNING);
      ++trial.attempt;
      trial.worker_id = worker_id;
      trial.lease_expires_at = now + *checked;
      trial.started_at = now;
      trial.finished_at.reset();

      const nas::v1::SearchSpec& spec = search.spec;
      nas::v1::TrialAssignment assignment;
      assignment.set_trial_id(trial.id);
      assignment.set_search_id(search_id);
      assignment.set_trial_number(trial.number);
      assignment.set_attempt(trial.attempt);
      assignment.set_kind(trial.kind);
      *assignment.mutable_dataset() = spec.dataset();
      *assignment.mutable_space() = spec.space();
      *assignment.mutable_architecture() = trial.architecture;
      *assignment.mutable_budget() = trial.budget;
      assignment.set_seed(trial.seed);
      assignment.set_lease_seconds(LeaseSeconds(lease));
      if (trial.task) *assignment.mutable_task() = *trial.task;
      if (trial.kind == nas::v1::TRIAL_KIND_ZERO_COST) {
        *assignment.mutable_zero_cost() = spec.estimation().zero_cost();
      }
      if (IsEarlyStoppableKind(trial.kind)) {
        // Early stopping: the worker saves its state at each rung, so that
        // a later attempt goes on from the last one instead of training
        // again.
        for (int epoch : nas::spec::TrialRungEpochs(spec, trial.number)) {
          assignment.add_checkpoint_epochs(epoch);
        }
        assignment.set_resume(trial.upload.has_value());
      }
      return std::optional<nas::v1::TrialAssignment>(std::move(assignment));
    }
  }
  return std::optional<nas::v1::TrialAssignment>();
}

absl::StatusOr<EpochAck> MemoryStore::RecordEpoch(
    const LeaseRef& ref, const nas::v1::EpochMetrics& metrics,
    absl::Duration lease) {
  absl::StatusOr<absl::Duration> checked = CheckedLease(lease);
  if (!checked.ok()) return checked.status();
  absl::MutexLock lock(&mu_);
  absl::StatusOr<TrialRow*> trial = CheckLease(ref);
  if (!trial.ok()) return trial.status();
  absl::StatusOr<std::optional<EpochAck>> ended =
      RunningOrStop((*trial)->state, ref.trial_id, "it takes no more epochs");
  if (!ended.ok()) return ended.status();
  if (ended->has_value()) return **ended;
  // A retry after a lost reply keeps the first report, even if it differs.
  (*trial)->epochs[metrics.epoch()].try_emplace(ref.attempt, metrics);
  const absl::Time now = Now();
  if (LeaseRenewalDue(*(*trial)->lease_expires_at, now, *checked)) {
    (*trial)->lease_expires_at = now + *checked;
  }
  EpochAck ack;
  ack.search_id = (*trial)->search_id;
  ack.trial_number = (*trial)->number;
  ack.kind = (*trial)->kind;
  return ack;
}

absl::StatusOr<EpochAck> MemoryStore::RenewLease(const LeaseRef& ref,
                                                 absl::Duration lease) {
  absl::StatusOr<absl::Duration> checked = CheckedLease(lease);
  if (!checked.ok()) return checked.status();
  absl::MutexLock lock(&mu_);
  absl::StatusOr<TrialRow*> trial = CheckLease(ref);
  if (!trial.ok()) return trial.status();
  absl::StatusOr<std::optional<EpochAck>> ended = RunningOrStop(
      (*trial)->state, ref.trial_id, "its lease cannot be renewed");
  if (!ended.ok()) return ended.status();
  if (ended->has_value()) return **ended;
  const absl::Time now = Now();
  (*trial)->lease_expires_at = now + *checked;
  auto worker = workers_.find(ref.worker_id);
  if (worker != workers_.end()) worker->second.last_seen_at = now;
  return EpochAck{/*stop=*/false};
}

absl::StatusOr<nas::v1::TrialState> MemoryStore::ReleaseTrial(
    const LeaseRef& ref, const std::string& reason) {
  absl::MutexLock lock(&mu_);
  TrialRow* row = FindTrial(ref.trial_id);
  if (row == nullptr) return TrialNotFound(ref.trial_id);
  // A retried release: nobody has leased the trial since, so its attempt
  // is still ours and the release already happened.
  if (row->attempt == ref.attempt &&
      row->state == nas::v1::TRIAL_STATE_PENDING) {
    return nas::v1::TRIAL_STATE_PENDING;
  }
  if (row->attempt == ref.attempt &&
      row->state == nas::v1::TRIAL_STATE_FAILED &&
      row->worker_id == ref.worker_id) {
    return nas::v1::TRIAL_STATE_FAILED;
  }
  absl::StatusOr<TrialRow*> trial = CheckLease(ref);
  if (!trial.ok()) return trial.status();
  if (row->state != nas::v1::TRIAL_STATE_RUNNING) {
    return absl::FailedPreconditionError(
        absl::StrCat("trial ", ref.trial_id, " is ", TrialStateName(row->state),
                     "; only a RUNNING trial can be released"));
  }
  const bool retry = row->attempt < searches_.at(row->search_id).max_attempts +
                                        row->promotions;
  // Like an expired lease: PENDING has no worker, FAILED keeps the last.
  SetTrialState(
      *row, retry ? nas::v1::TRIAL_STATE_PENDING : nas::v1::TRIAL_STATE_FAILED);
  AppendReason(
      &row->reason,
      ReasonLine(ref, absl::StrCat("worker fault: ", reason), "worker fault"));
  row->lease_expires_at.reset();
  if (retry) {
    row->worker_id.clear();
    row->finished_at.reset();
  } else {
    row->finished_at = Now();
  }
  return row->state;
}

absl::StatusOr<bool> MemoryStore::CompleteTrial(
    const LeaseRef& ref, const nas::v1::TrialMetrics& metrics) {
  return FinishTrial(ref, Ending::kComplete, &metrics, "");
}

absl::StatusOr<Completion> MemoryStore::CompleteTrialAndGet(
    const LeaseRef& ref, const nas::v1::TrialMetrics& metrics,
    const ReadsWhole& reads_whole) {
  absl::StatusOr<bool> ended = CompleteTrial(ref, metrics);
  if (!ended.ok()) return ended.status();
  Completion completion{*ended, std::nullopt, false};
  // A finished trial never changes, so reading it after the write returns
  // what the write left; only a deletion in between leaves no ending.
  if (*ended) {
    absl::StatusOr<nas::v1::Trial> trial = GetTrial(ref.trial_id);
    if (!trial.ok()) return completion;
    completion.whole = reads_whole && reads_whole(trial->search_id());
    completion.ending =
        completion.whole ? *std::move(trial) : TrialEnding(*trial);
  }
  return completion;
}

absl::StatusOr<bool> MemoryStore::FailTrial(const LeaseRef& ref,
                                            const std::string& reason) {
  return FinishTrial(ref, Ending::kFail, nullptr, reason);
}

absl::StatusOr<bool> MemoryStore::StopTrial(
    const LeaseRef& ref, const std::string& reason,
    const nas::v1::TrialMetrics& metrics, std::optional<int32_t> rung,
    bool paused) {
  return FinishTrial(ref, paused ? Ending::kPause : Ending::kStop, &metrics,
                     reason, rung);
}

absl::StatusOr<bool> MemoryStore::ResumePausedTrial(int64_t trial_id,
                                                    const std::string& reason) {
  absl::MutexLock lock(&mu_);
  TrialRow* trial = FindTrial(trial_id);
  if (trial == nullptr || trial->state != nas::v1::TRIAL_STATE_STOPPED ||
      !trial->upload.has_value() ||
      searches_.at(trial->search_id).state != nas::v1::SEARCH_STATE_RUNNING) {
    return false;
  }
  SetTrialState(*trial, nas::v1::TRIAL_STATE_PENDING);
  AppendReason(&trial->reason, reason);
  ++trial->promotions;
  trial->worker_id.clear();
  trial->lease_expires_at.reset();
  trial->finished_at.reset();
  return true;
}

absl::StatusOr<bool> MemoryStore::FinishTrial(
    const LeaseRef& ref, Ending ending, const nas::v1::TrialMetrics* metrics,
    const std::string& reason, std::optional<int32_t> rung) {
  const nas::v1::TrialState target =
      ending == Ending::kComplete ? nas::v1::TRIAL_STATE_COMPLETED
      : ending == Ending::kFail   ? nas::v1::TRIAL_STATE_FAILED
                                  : nas::v1::TRIAL_STATE_STOPPED;
  absl::MutexLock lock(&mu_);
  absl::StatusOr<TrialRow*> checked = CheckLease(ref);
  if (!checked.ok()) return checked.status();
  TrialRow& trial = **checked;
  // A repeated report of the same attempt's outcome: already recorded.
  if (trial.state == target) return false;
  if (trial.state != nas::v1::TRIAL_STATE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "trial ", ref.trial_id, " is ", TrialStateName(trial.state),
        "; only a RUNNING trial can become ", TrialStateName(target)));
  }
  if (ending == Ending::kComplete) {
    // A metric the estimator did not measure stays unset, not 0.
    trial.metrics = *metrics;
  } else if (ending == Ending::kStop || ending == Ending::kPause) {
    // What the last epoch measured: validation only; the trial never
    // reached its test evaluation. Without a time of its own, the time is
    // the sum of its epochs' (each epoch's latest report).
    AppendReason(&trial.reason, ReasonLine(ref, reason, "stopped"));
    trial.metrics.clear_val_accuracy();
    trial.metrics.clear_val_loss();
    trial.metrics.clear_train_seconds();
    if (metrics->has_val_accuracy()) {
      trial.metrics.set_val_accuracy(metrics->val_accuracy());
    }
    if (metrics->has_val_loss())
      trial.metrics.set_val_loss(metrics->val_loss());
    if (metrics->has_train_seconds()) {
      trial.metrics.set_train_seconds(metrics->train_seconds());
    } else if (!trial.epochs.empty()) {
      double seconds = 0;
      for (const auto& [epoch, by_attempt] : trial.epochs) {
        seconds += by_attempt.begin()->second.seconds();
      }
      trial.metrics.set_train_seconds(seconds);
    }
    if (rung) trial.rung = rung;
  } else {
    AppendReason(&trial.reason, ReasonLine(ref, reason, "failed"));
  }
  SetTrialState(trial, target);
  trial.lease_expires_at.reset();
  trial.finished_at = Now();
  if (IsEarlyStoppableKind(trial.kind) && ending != Ending::kPause &&
      !(ending == Ending::kComplete && nas::spec::IsRankedKind(trial.kind))) {
    // Until they end, these trials upload only their training state for
    // resuming (early stopping); once one ended nothing resumes it, so the
    // bytes go; a paused one's stay for its promotion, until its search
    // ends. A completed TRAIN trial's upload is its final weights
    // instead (the worker replaced the state), kept to be exported.
    trial.upload.reset();
  }
  return true;
}

absl::Status MemoryStore::SetTrialRung(const LeaseRef& ref, int32_t rung) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<TrialRow*> trial = CheckLease(ref);
  if (!trial.ok()) return trial.status();
  absl::StatusOr<std::optional<EpochAck>> ended =
      RunningOrStop((*trial)->state, ref.trial_id, "its rung is final");
  if (!ended.ok()) return ended.status();
  if (ended->has_value()) return absl::OkStatus();  // ended meanwhile
  (*trial)->rung = rung;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EpochReport>> MemoryStore::ListEpochReports(
    int64_t search_id) {
  absl::MutexLock lock(&mu_);
  std::vector<EpochReport> reports;
  // An unknown search has no reports, as a query over no rows finds none.
  const SearchRow* search = FindSearch(search_id);
  if (search == nullptr) return reports;
  for (int64_t trial_id : search->trial_ids) {
    const TrialRow& trial = trials_.at(trial_id);
    for (const nas::v1::EpochMetrics* epoch : Curve(trial)) {
      EpochReport report;
      report.trial_id = trial.id;
      report.trial_number = trial.number;
      report.kind = trial.kind;
      report.metrics = *epoch;
      reports.push_back(std::move(report));
    }
  }
  return reports;
}

absl::StatusOr<int> MemoryStore::ExpireLeases() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = Now();
  std::vector<TrialRow*> expired;
  for (int64_t trial_id : running_) {
    TrialRow& trial = trials_.at(trial_id);
    if (trial.lease_expires_at && *trial.lease_expires_at < now) {
      expired.push_back(&trial);
    }
  }
  for (TrialRow* trial : expired) {
    const bool retry =
        trial->attempt <
        searches_.at(trial->search_id).max_attempts + trial->promotions;
    AppendReason(&trial->reason,
                 absl::StrCat("attempt ", trial->attempt, " on worker ",
                              trial->worker_id, ": lease expired"));
    SetTrialState(*trial, retry ? nas::v1::TRIAL_STATE_PENDING
                                : nas::v1::TRIAL_STATE_FAILED);
    trial->lease_expires_at.reset();
    if (retry) {
      trial->worker_id.clear();
      trial->finished_at.reset();
    } else {
      trial->finished_at = now;
    }
  }
  return static_cast<int>(expired.size());
}

}  // namespace nas::controller
