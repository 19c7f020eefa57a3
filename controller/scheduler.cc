#include "controller/scheduler.h"

#include <algorithm>
#include <chrono>
#include <iterator>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/space/space_size.h"
#include "common/spec/early_stopping.h"
#include "common/spec/estimation.h"
#include "common/spec/objective.h"
#include "common/spec/space_from_proto.h"
#include "common/tensor/tensor_archive.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/runnability.h"
#include "controller/strategy/strategy_util.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

TrialView ToView(const nas::v1::SearchSpec& spec, const nas::v1::Trial& trial,
                 const space::SearchSpace& space) {
  TrialView view;
  view.number = trial.number();
  view.choices.assign(trial.architecture().choices().begin(),
                      trial.architecture().choices().end());
  view.canonical_key = space.CanonicalKey(view.choices);
  view.state = trial.state();
  // A STOPPED trial's metrics are its last epoch's: lower-fidelity
  // evidence, scored like a completed trial (docs/early_stopping.md).
  if ((trial.state() == nas::v1::TRIAL_STATE_COMPLETED ||
       trial.state() == nas::v1::TRIAL_STATE_STOPPED) &&
      spec::MeetsConstraints(spec, trial.metrics())) {
    nas::v1::TrialMetrics metrics = trial.metrics();
    if (trial.kind() == nas::v1::TRIAL_KIND_ZERO_COST) {
      // The proxy stands in for the first objective: it predicts its rank.
      // Other objectives count as measured (params, flops) or leave the
      // trial unscored.
      if (!metrics.has_zero_cost_score()) return view;
      const double proxy = metrics.zero_cost_score();
      view.score = proxy;
      view.objectives.push_back(proxy);
      for (int i = 1; i < spec.objectives_size(); ++i) {
        std::optional<double> value =
            spec::OrientedValue(spec.objectives(i), metrics);
        if (!value) {
          view.objectives.clear();
          break;
        }
        view.objectives.push_back(*value);
      }
    } else {
      view.score = spec::OrientedScore(spec, metrics);
      view.objectives = spec::OrientedObjectives(spec, metrics);
    }
    if (view.objectives.empty()) view.score.reset();
  }
  return view;
}

// What the strategy sees of a search: its candidates (every trial of a
// from-scratch search; no supernet shards or retrainings).
SearchSnapshot StrategySnapshot(const nas::v1::SearchSpec& spec,
                                const space::SearchSpace& space,
                                const std::vector<nas::v1::Trial>& trials) {
  SearchSnapshot snapshot;
  snapshot.space = &space;
  snapshot.seed = spec.seed();
  for (const nas::v1::Trial* t : CandidateTrials(trials)) {
    snapshot.trials.push_back(ToView(spec, *t, space));
  }
  return snapshot;
}

}  // namespace

uint64_t TrialSeed(uint64_t search_seed, int trial_number) {
  // SplitMix64 finalizer: neighbouring trial numbers get unrelated seeds.
  uint64_t z = search_seed + 0x9e3779b97f4a7c15ULL *
                                 (static_cast<uint64_t>(trial_number) + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Scheduler::Scheduler(TrialStore* store, Options options,
                     CheckpointStore* checkpoints)
    : store_(store), options_(options), checkpoints_(checkpoints) {}

void Scheduler::Notify() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    ++wake_generation_;
  }
  wake_cv_.notify_all();
}

void Scheduler::WakeSome(int count) {
  if (count <= 0) return;
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    ++wake_generation_;
  }
  for (int i = 0; i < count; ++i) wake_cv_.notify_one();
}

void Scheduler::RefillFreedSlots(int64_t search_id) {
  std::unique_lock<std::mutex> replenishing(replenish_mu_, std::try_to_lock);
  if (!replenishing.owns_lock()) {
    // The step under way may have counted the slot as taken.
    WakeSome(1);
    return;
  }
  absl::StatusOr<int> added = ReplenishSearch(search_id);
  replenishing.unlock();
  if (!added.ok()) {
    // A waiter steps the strategy itself; a lost race (Aborted) is the
    // normal case of another replica's step.
    if (!absl::IsAborted(added.status())) {
      spdlog::warn("search {}: no strategy step after a trial ended: {}",
                   search_id, added.status().ToString());
    }
    WakeSome(1);
    return;
  }
  WakeSome(*added);
}

absl::StatusOr<std::optional<nas::v1::TrialAssignment>> Scheduler::Acquire(
    const std::string& worker_id, absl::Duration wait) {
  AcquirePhases phases;
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
      AcquireTimed(worker_id, wait, &phases);
  if (options_.metrics != nullptr) options_.metrics->AcquireTimed(phases);
  return leased;
}

absl::StatusOr<std::optional<nas::v1::TrialAssignment>> Scheduler::AcquireTimed(
    const std::string& worker_id, absl::Duration wait, AcquirePhases* phases) {
  using Clock = std::chrono::steady_clock;
  const absl::Time deadline = absl::Now() + wait;
  while (true) {
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      generation = wake_generation_;
    }
    Clock::time_point start = Clock::now();
    auto leased = store_->LeaseTrial(worker_id, options_.lease);
    phases->lease += Clock::now() - start;
    if (!leased.ok() || leased->has_value()) return leased;

    // One strategy step at a time, and nobody queues to repeat it: a caller
    // that finds one under way waits to be woken for what it adds.
    std::unique_lock<std::mutex> replenishing(replenish_mu_, std::try_to_lock);
    if (replenishing.owns_lock()) {
      start = Clock::now();
      absl::StatusOr<int> added = ReplenishLocked();
      replenishing.unlock();
      phases->step += Clock::now() - start;
      if (!added.ok()) return added.status();
      if (*added > 0) {
        // This caller leases one; wake a waiter for each of the others.
        WakeSome(*added - 1);
        continue;
      }
    }

    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    start = Clock::now();
    std::unique_lock<std::mutex> lock(wake_mu_);
    ++waiting_acquires_;
    wake_cv_.wait_for(
        lock, absl::ToChronoMilliseconds(std::min(left, options_.poll_interval)),
        [&] { return wake_generation_ != generation; });
    --waiting_acquires_;
    phases->wait += Clock::now() - start;
  }
}

absl::StatusOr<int> Scheduler::ReplenishLocked() {
  absl::StatusOr<std::vector<int64_t>> running = store_->ListRunningSearchIds();
  if (!running.ok()) return running.status();
  // Strategy state of searches that stopped running without this replica
  // ending them (CancelSearch, another replica, DeleteSearch) would stay
  // for the process's life.
  const std::set<int64_t> still_running(running->begin(), running->end());
  for (auto it = contexts_.begin(); it != contexts_.end();) {
    it = still_running.count(it->first) ? std::next(it) : contexts_.erase(it);
  }
  int added = 0;
  for (int64_t search_id : *running) {
    absl::StatusOr<int> n = ReplenishSearch(search_id);
    // One broken search must not starve the others; a lost race is retried
    // on the next call.
    if (n.ok()) {
      added += *n;
    } else if (absl::IsUnavailable(n.status())) {
      return n.status();
    }
  }
  return added;
}

absl::Status Scheduler::RefreshSnapshot(int64_t search_id,
                                        const nas::v1::SearchSpec& spec,
                                        SearchContext* context) {
  SearchSnapshot& snapshot = context->snapshot;
  std::vector<TrialView>& views = snapshot.trials;
  // Trials below reread_from, and the finished ones above it, never change;
  // an unfinished one changes what a strategy sees of it only with its
  // state. So the store sends only the trials in flight whose state moved
  // on and the new ones: a refresh costs what changed, not what is in
  // flight.
  std::vector<SeenTrialState> in_flight;
  for (size_t i = context->reread_from; i < views.size(); ++i) {
    if (views[i].state == nas::v1::TRIAL_STATE_PENDING ||
        views[i].state == nas::v1::TRIAL_STATE_RUNNING) {
      in_flight.push_back({static_cast<int32_t>(i), views[i].state});
    }
  }
  const bool from_scratch = views.empty();
  absl::StatusOr<std::vector<nas::v1::Trial>> changed =
      store_->ListChangedTrials(search_id,
                                static_cast<int32_t>(views.size()) - 1,
                                in_flight, spec.budget().max_trials());
  if (!changed.ok()) return changed.status();
  for (const nas::v1::Trial& trial : *changed) {
    const size_t number = static_cast<size_t>(trial.number());
    // A from-scratch search has only TRAIN trials, numbered from 0 without
    // gaps; anything else means the cache cannot be trusted: read afresh.
    if (trial.kind() != nas::v1::TRIAL_KIND_TRAIN || number > views.size()) {
      if (from_scratch) {
        return absl::InternalError(
            absl::StrCat("search ", search_id, ": trial ", trial.number(),
                         " breaks the numbering of a from-scratch search"));
      }
      views.clear();
      context->keys.clear();
      context->reread_from = 0;
      return RefreshSnapshot(search_id, spec, context);
    }
    TrialView view = ToView(spec, trial, *context->space);
    if (number == views.size()) {
      context->keys.insert(view.canonical_key);
      views.push_back(std::move(view));
    } else {
      views[number] = std::move(view);
    }
  }
  snapshot.space = context->space.get();
  snapshot.seed = spec.seed();
  snapshot.keys = &context->keys;
  // Trials below the oldest one in flight are finished: never read again.
  size_t first_open = context->reread_from;
  while (first_open < views.size() &&
         views[first_open].state != nas::v1::TRIAL_STATE_PENDING &&
         views[first_open].state != nas::v1::TRIAL_STATE_RUNNING) {
    ++first_open;
  }
  context->reread_from = static_cast<int32_t>(first_open);
  return absl::OkStatus();
}

absl::StatusOr<Scheduler::SearchContext*> Scheduler::Context(
    const nas::v1::Search& search) {
  auto it = contexts_.find(search.id());
  if (it != contexts_.end()) return it->second.get();
  auto context = std::make_unique<SearchContext>();
  context->spec = search.spec();
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(search.spec().space());
  if (!space.ok()) return space.status();
  context->space = std::move(*space);
  absl::StatusOr<std::unique_ptr<SearchStrategy>> strategy =
      MakeSearchStrategy(search.spec().strategy());
  if (!strategy.ok()) return strategy.status();
  context->strategy = std::move(*strategy);
  SearchContext* raw = context.get();
  contexts_.emplace(search.id(), std::move(context));
  return raw;
}

int TotalTrials(const nas::v1::TrialCounts& c) {
  return c.pending() + c.running() + c.completed() + c.failed() + c.stopped() +
         c.cancelled();
}

NewTrial MakeTrial(const space::SearchSpace& space,
                   const nas::v1::SearchSpec& spec,
                   const std::vector<int>& choices, int number) {
  NewTrial t;
  for (int c : choices) t.architecture.add_choices(c);
  t.architecture.set_text(space.Render(choices));
  t.canonical_key = space.CanonicalKey(choices);
  t.kind = nas::v1::TRIAL_KIND_TRAIN;
  t.budget = spec.training();
  t.seed = TrialSeed(spec.seed(), number);
  return t;
}

NewTrial MakeCandidate(const space::SearchSpace& space,
                       const nas::v1::SearchSpec& spec,
                       const std::vector<int>& choices, int number,
                       int64_t version) {
  NewTrial t = MakeTrial(space, spec, choices, number);
  if (spec::UsesWeightSharing(spec)) {
    t.kind = nas::v1::TRIAL_KIND_SCORE_INHERITED;
    t.task = ScoreTask(spec, version);
  } else if (spec::UsesZeroCost(spec)) {
    t.kind = nas::v1::TRIAL_KIND_ZERO_COST;
  }
  return t;
}

absl::StatusOr<int> Scheduler::ReplenishSearch(int64_t search_id) {
  // Without counts: counting reads the whole search; the kept snapshot
  // below says what is in flight.
  absl::StatusOr<nas::v1::Search> search =
      store_->GetSearchWithoutCounts(search_id);
  if (!search.ok()) return search.status();
  // Ended since the caller looked (cancelled, completed, by any replica).
  if (search->state() != nas::v1::SEARCH_STATE_RUNNING) return 0;
  if (spec::UsesEstimationPlan(search->spec())) {
    absl::StatusOr<SearchContext*> context = Context(*search);
    if (!context.ok()) return context.status();
    return ReplenishByPlan(*search, *context);
  }
  const nas::v1::SearchBudget& budget = search->spec().budget();
  absl::StatusOr<SearchContext*> context = Context(*search);
  if (!context.ok()) return context.status();
  const space::SearchSpace& space = *(*context)->space;
  if (absl::Status s = RefreshSnapshot(search_id, search->spec(), *context);
      !s.ok()) {
    return s;
  }
  const SearchSnapshot& snapshot = (*context)->snapshot;
  // The free slots come from the snapshot, whose size AddTrials re-checks
  // under the search's lock, so a step never overshoots max_trials or
  // parallelism even beside another replica's. Since the snapshot was
  // taken, trials can only have left flight, so this cap is never too
  // large.
  const int expected = static_cast<int>(snapshot.trials.size());
  int in_flight = 0;
  for (size_t i = (*context)->reread_from; i < snapshot.trials.size(); ++i) {
    const nas::v1::TrialState state = snapshot.trials[i].state;
    if (state == nas::v1::TRIAL_STATE_PENDING ||
        state == nas::v1::TRIAL_STATE_RUNNING) {
      ++in_flight;
    }
  }
  // A promotion goes before any new trial (Li et al.'s ASHA): it takes a
  // slot, not one of max_trials.
  int resumed = 0;
  if (spec::PromotesTrials(search->spec()) &&
      budget.parallelism() > in_flight) {
    absl::StatusOr<int> n =
        ResumePromoted(search_id, *context, budget.parallelism() - in_flight);
    if (!n.ok()) return n.status();
    resumed = *n;
    in_flight += resumed;
  }
  const int free_slots = std::min(budget.parallelism() - in_flight,
                                  budget.max_trials() - expected);
  if (free_slots <= 0) return resumed;

  std::vector<NewTrial> new_trials;
  for (std::vector<int>& choices :
       (*context)->strategy->Propose(snapshot, free_slots)) {
    new_trials.push_back(
        MakeTrial(space, search->spec(), choices,
                  expected + static_cast<int>(new_trials.size())));
  }
  if (new_trials.empty()) {
    if (in_flight > 0) return resumed;  // their results may be all that is left
    const std::string reason =
        SpaceExhaustedReason(space, static_cast<int>(SeenKeys(snapshot).size()),
                             budget.max_trials());
    absl::StatusOr<bool> ended =
        store_->EndSearch(search_id, nas::v1::SEARCH_STATE_COMPLETED, reason);
    if (!ended.ok()) return ended.status();
    if (*ended) {
      spdlog::info("search {} completed: {}", search_id, reason);
      exhausted_.push_back(search_id);
      contexts_.erase(search_id);
    }
    return 0;
  }
  absl::Status added = store_->AddTrials(search_id, expected, new_trials);
  if (absl::IsAborted(added)) return resumed;
  if (!added.ok()) return added;
  return resumed + static_cast<int>(new_trials.size());
}

absl::StatusOr<int> Scheduler::ReplenishByPlan(const nas::v1::Search& search,
                                               SearchContext* context) {
  const int64_t search_id = search.id();
  const nas::v1::SearchSpec& spec = search.spec();
  absl::StatusOr<int64_t> version = 0;  // zero cost: no supernet
  if (spec::UsesWeightSharing(spec)) {
    if (checkpoints_ == nullptr) {
      return EndByPlan(search_id, nas::v1::SEARCH_STATE_FAILED,
                       "this controller has no checkpoint store, which weight "
                       "sharing needs");
    }
    version = checkpoints_->LatestSupernetVersion(search_id);
  }
  if (!version.ok()) return version.status();
  absl::StatusOr<std::vector<nas::v1::Trial>> trials = store_->ListTrials(
      search_id, {}, -1, spec.budget().max_trials() + spec::ExtraTrials(spec));
  if (!trials.ok()) return trials.status();
  const int expected = static_cast<int>(trials->size());

  EstimationStep step =
      NextEstimationStep(spec, *trials, *version, false);
  std::vector<NewTrial> new_trials;
  const space::SearchSpace& space = *context->space;
  if (step.action == EstimationStep::Action::kProposeCandidates) {
    const SearchSnapshot snapshot = StrategySnapshot(spec, space, *trials);
    for (std::vector<int>& choices :
         context->strategy->Propose(snapshot, step.free_slots)) {
      new_trials.push_back(
          MakeCandidate(space, spec, choices,
                        expected + static_cast<int>(new_trials.size()),
                        *version));
    }
    if (new_trials.empty()) {
      step = NextEstimationStep(spec, *trials, *version, true);
    }
  }
  switch (step.action) {
    case EstimationStep::Action::kWait:
    case EstimationStep::Action::kProposeCandidates:
      break;
    case EstimationStep::Action::kAddShards:
      for (int i = 0; i < spec.estimation().weight_sharing().supernet()
                              .shards_per_round();
           ++i) {
        NewTrial shard;
        shard.kind = nas::v1::TRIAL_KIND_SUPERNET_SHARD;
        shard.seed = TrialSeed(spec.seed(), expected + i);
        shard.task = ShardTask(spec, step.round, i);
        new_trials.push_back(std::move(shard));
      }
      break;
    case EstimationStep::Action::kMerge: {
      absl::Status merged = MergeRound(search_id, step);
      if (absl::IsAlreadyExists(merged)) return 1;  // another replica did
      if (absl::IsDataLoss(merged) || absl::IsNotFound(merged) ||
          absl::IsInvalidArgument(merged)) {
        return EndByPlan(search_id, nas::v1::SEARCH_STATE_FAILED,
                         std::string(merged.message()));
      }
      if (!merged.ok()) return merged;
      // The next round's shards (or the first candidates) come right away.
      return 1;
    }
    case EstimationStep::Action::kAddRetrains: {
      std::map<int64_t, const nas::v1::Trial*> by_id;
      for (const nas::v1::Trial& t : *trials) by_id[t.id()] = &t;
      for (int64_t id : step.retrain_trial_ids) {
        const nas::v1::Trial& candidate = *by_id.at(id);
        NewTrial retrain;
        retrain.architecture = candidate.architecture();
        std::vector<int> choices(candidate.architecture().choices().begin(),
                                 candidate.architecture().choices().end());
        retrain.canonical_key = space.CanonicalKey(choices);
        retrain.kind = nas::v1::TRIAL_KIND_RETRAIN;
        retrain.budget = spec.training();
        const int number = expected + static_cast<int>(new_trials.size());
        retrain.seed = TrialSeed(spec.seed(), number);
        new_trials.push_back(std::move(retrain));
      }
      spdlog::info("search {}: retraining the {} best of the scored candidates",
                   search_id, new_trials.size());
      break;
    }
    case EstimationStep::Action::kComplete:
      return EndByPlan(search_id, nas::v1::SEARCH_STATE_COMPLETED, step.reason);
    case EstimationStep::Action::kFail:
      return EndByPlan(search_id, nas::v1::SEARCH_STATE_FAILED, step.reason);
  }
  if (new_trials.empty()) return 0;
  absl::Status added = store_->AddTrials(search_id, expected, new_trials);
  if (absl::IsAborted(added)) return 0;
  if (!added.ok()) return added;
  return static_cast<int>(new_trials.size());
}

absl::Status Scheduler::MergeRound(int64_t search_id,
                                   const EstimationStep& step) {
  std::vector<tensor::TensorMap> shards(step.merge_trial_ids.size());
  std::vector<double> weights;
  for (size_t i = 0; i < step.merge_trial_ids.size(); ++i) {
    const int64_t trial_id = step.merge_trial_ids[i];
    absl::StatusOr<CheckpointInfo> info =
        checkpoints_->TrialUploadInfo(trial_id);
    if (absl::IsNotFound(info.status())) {
      return absl::NotFoundError(absl::StrCat(
          "supernet round ", step.round + 1, ": shard trial id ", trial_id,
          " completed without uploading its weights"));
    }
    if (!info.ok()) return info.status();
    absl::StatusOr<std::string> bytes = checkpoints_->ReadTrialUpload(trial_id);
    if (!bytes.ok()) return bytes.status();
    std::string error;
    if (!tensor::Parse(*bytes, &shards[i], &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("supernet round ", step.round + 1, ": shard trial id ",
                       trial_id, " uploaded a malformed archive: ", error));
    }
    // A shard that reports no weight still counts, as one equal part.
    weights.push_back(info->merge_weight > 0 ? info->merge_weight : 1.0);
  }
  std::vector<const tensor::TensorMap*> parts;
  for (const tensor::TensorMap& shard : shards) parts.push_back(&shard);
  tensor::TensorMap merged;
  std::string error;
  if (!tensor::WeightedAverage(parts, weights, &merged, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "supernet round ", step.round + 1, ": cannot merge shards: ", error));
  }
  const std::string bytes = tensor::Serialize(merged);
  absl::Status put = checkpoints_->PutSupernetVersion(
      search_id, step.round + 1, step.round, step.merge_trial_ids, bytes);
  if (put.ok()) {
    spdlog::info("search {}: merged {} shards of round {} into supernet "
                 "version {} ({} bytes)",
                 search_id, parts.size(), step.round + 1, step.round + 1,
                 bytes.size());
  }
  return put;
}

absl::StatusOr<int> Scheduler::EndByPlan(int64_t search_id,
                                         nas::v1::SearchState state,
                                         const std::string& reason) {
  absl::StatusOr<bool> ended = store_->EndSearch(search_id, state, reason);
  if (!ended.ok()) return ended.status();
  if (*ended) {
    if (state == nas::v1::SEARCH_STATE_FAILED) {
      spdlog::warn("search {} FAILED: {}", search_id, reason);
    } else {
      spdlog::info("search {} completed{}{}", search_id,
                   reason.empty() ? "" : ": ", reason);
    }
    // Watchers hear of it like of an exhausted space.
    exhausted_.push_back(search_id);
    contexts_.erase(search_id);
  }
  return 0;
}

size_t Scheduler::SearchesInMemory() {
  std::lock_guard<std::mutex> lock(replenish_mu_);
  return contexts_.size();
}

std::vector<int64_t> Scheduler::TakeExhaustedSearches() {
  std::lock_guard<std::mutex> lock(replenish_mu_);
  return std::exchange(exhausted_, {});
}

std::string SpaceExhaustedReason(const space::SearchSpace& space,
                                 int distinct_tried, int max_trials) {
  const space::SpaceSize size = space::MeasureSpace(space);
  if (size.exact &&
      size.computations == static_cast<uint64_t>(distinct_tried)) {
    return absl::StrCat("space exhausted: all ", distinct_tried,
                        " distinct computations of the space were tried, "
                        "fewer than max_trials (",
                        max_trials, ")");
  }
  // A large space whose strategy gave up looking for an untried one.
  return absl::StrCat(
      "space exhausted: the strategy found no untried computation after ",
      distinct_tried, " trials (max_trials ", max_trials, ")");
}

absl::StatusOr<bool> Scheduler::CompleteIfDone(int64_t search_id,
                                               bool check_failures) {
  absl::StatusOr<bool> done = false;
  if (check_failures) done = FailIfEveryAttemptFailed(search_id);
  if (done.ok() && !*done) {
    absl::StatusOr<bool> promotes = Promotes(search_id);
    if (!promotes.ok()) return promotes.status();
    done = *promotes ? CompletePromotingSearchIfDone(search_id)
                     : store_->CompleteSearchIfDone(search_id);
  }
  if (done.ok() && *done) {
    spdlog::info("search {} completed: all its trials finished", search_id);
    std::lock_guard<std::mutex> lock(replenish_mu_);
    contexts_.erase(search_id);
  }
  return done;
}

absl::StatusOr<bool> Scheduler::FailIfEveryAttemptFailed(int64_t search_id) {
  absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
  if (!search.ok()) return search.status();
  if (search->state() != nas::v1::SEARCH_STATE_RUNNING) return false;
  const int window = FailureWindow(search->spec().budget());
  if (search->counts().completed() > 0 || search->counts().failed() < window) {
    return false;
  }
  absl::StatusOr<std::vector<nas::v1::Trial>> failed =
      store_->ListTrials(search_id, {nas::v1::TRIAL_STATE_FAILED}, -1, window);
  if (!failed.ok()) return failed.status();
  std::string last;
  if (!failed->empty()) {
    const nas::v1::Trial& trial = failed->back();
    const std::string& reason = trial.reason();
    last = absl::StrCat("; trial ", trial.number(), ": ",
                        reason.substr(reason.rfind('\n') + 1));
  }
  const std::string why =
      absl::StrCat("every attempt failed: the first ", window,
                   window == 1 ? " trial" : " trials",
                   " ended FAILED and none COMPLETED", last);
  absl::StatusOr<bool> ended =
      store_->EndSearch(search_id, nas::v1::SEARCH_STATE_FAILED, why);
  if (ended.ok() && *ended) {
    spdlog::warn("search {} FAILED: {}", search_id, why);
  }
  return ended;
}

absl::StatusOr<nas::v1::TrialState> Scheduler::FailAttempt(
    const LeaseRef& ref, const std::string& reason, nas::v1::FaultKind fault,
    bool* repeated) {
  const bool worker_fault = fault == nas::v1::FAULT_KIND_WORKER;
  absl::StatusOr<nas::v1::TrialState> state;
  if (worker_fault) {
    state = store_->ReleaseTrial(ref, reason);
  } else {
    absl::StatusOr<bool> failed = store_->FailTrial(ref, reason);
    if (failed.ok()) {
      state = nas::v1::TRIAL_STATE_FAILED;
      if (repeated != nullptr) *repeated = !*failed;
      if (!*failed) return state;  // logged the first time
    } else {
      state = failed.status();
    }
  }
  if (!state.ok()) return state;
  // People look trials up by search and number; the id is for the API.
  absl::StatusOr<nas::v1::Trial> trial = store_->GetTrial(ref.trial_id);
  spdlog::warn(
      "search {} trial #{} (id {}) attempt {} on worker {}: {} fault, now "
      "{}: {}",
      trial.ok() ? absl::StrCat(trial->search_id()) : std::string("?"),
      trial.ok() ? absl::StrCat(trial->number()) : std::string("?"),
      ref.trial_id, ref.attempt, ref.worker_id,
      worker_fault ? "worker" : "trial",
      std::string(absl::StripPrefix(nas::v1::TrialState_Name(*state),
                                    "TRIAL_STATE_")),
      reason);
  if (*state == nas::v1::TRIAL_STATE_PENDING) Notify();
  return state;
}

absl::StatusOr<int> Scheduler::MarkUnrunnableSearches() {
  absl::StatusOr<std::vector<LiveWorker>> workers =
      store_->ListLiveWorkers(connected_window());
  if (!workers.ok()) return workers.status();
  absl::StatusOr<std::vector<int64_t>> running = store_->ListRunningSearchIds();
  if (!running.ok()) return running.status();
  int changed = 0;
  for (int64_t id : *running) {
    absl::StatusOr<nas::v1::Search> search = store_->GetSearchWithoutCounts(id);
    if (!search.ok()) continue;  // ended or deleted meanwhile
    const std::string& current = search->state_reason();
    // A reason someone else set stays; ours is replaced or cleared.
    if (!current.empty() && !absl::StartsWith(current, kUnrunnablePrefix)) {
      continue;
    }
    const std::string reason = UnrunnableReason(search->spec(), *workers);
    if (reason == current) continue;
    absl::StatusOr<bool> set = store_->SetRunningSearchReason(id, reason);
    if (!set.ok()) return set.status();
    if (!*set) continue;
    ++changed;
    if (reason.empty()) {
      spdlog::info("search {}: a connected worker can run it now", id);
    } else {
      spdlog::warn("search {}: {}", id, reason);
    }
  }
  return changed;
}

absl::StatusOr<std::vector<int64_t>> Scheduler::Maintain() {
  absl::StatusOr<int> expired = store_->ExpireLeases();
  if (!expired.ok()) return expired.status();
  if (*expired > 0) {
    if (options_.metrics != nullptr) options_.metrics->LeasesExpired(*expired);
    // Each trial's reason names the attempt and worker (trial_history).
    spdlog::warn(
        "{} lease(s) expired: their trials went back to PENDING, "
        "or FAILED after max_attempts",
        *expired);
    Notify();
  }
  absl::StatusOr<std::vector<int64_t>> running = store_->ListRunningSearchIds();
  if (!running.ok()) return running.status();
  std::vector<int64_t> completed;
  for (int64_t id : *running) {
    absl::StatusOr<bool> done = CompleteIfDone(id);
    // Deleted since it was listed (DeleteSearch): nothing to complete.
    if (absl::IsNotFound(done.status())) continue;
    if (!done.ok()) return done.status();
    if (*done) completed.push_back(id);
  }
  absl::StatusOr<int> marked = MarkUnrunnableSearches();
  if (!marked.ok()) return marked.status();
  FoldTrialCounts();
  return completed;
}

void Scheduler::FoldTrialCounts() {
  // Only logged: the changes wait for the next pass, whereas an error from
  // Maintain would pause lease expiry (MaintenanceLoop's grace period).
  absl::StatusOr<int> folded = store_->FoldTrialCounts();
  if (!folded.ok()) {
    spdlog::warn("maintenance: trial counts not folded: {}",
                 folded.status().ToString());
  }
}

}  // namespace nas::controller
