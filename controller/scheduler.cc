#include "controller/scheduler.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/spec/space_from_proto.h"
#include "controller/objective.h"

namespace nas::controller {
namespace {

int TotalTrials(const nas::v1::TrialCounts& c) {
  return c.pending() + c.running() + c.completed() + c.failed() + c.stopped() +
         c.cancelled();
}

TrialView ToView(const nas::v1::SearchSpec& spec, const nas::v1::Trial& trial,
                 const space::SearchSpace& space) {
  TrialView view;
  view.number = trial.number();
  view.choices.assign(trial.architecture().choices().begin(),
                      trial.architecture().choices().end());
  view.canonical_key = space.CanonicalKey(view.choices);
  view.state = trial.state();
  if (trial.state() == nas::v1::TRIAL_STATE_COMPLETED &&
      MeetsConstraints(spec, trial.metrics())) {
    view.score = OrientedScore(spec, trial.metrics());
    view.objectives = OrientedObjectives(spec, trial.metrics());
    if (view.objectives.empty()) view.score.reset();
  }
  return view;
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

Scheduler::Scheduler(TrialStore* store, Options options)
    : store_(store), options_(options) {}

void Scheduler::Notify() {
  {
    std::lock_guard<std::mutex> lock(wake_mu_);
    ++wake_generation_;
  }
  wake_cv_.notify_all();
}

absl::StatusOr<std::optional<nas::v1::TrialAssignment>> Scheduler::Acquire(
    const std::string& worker_id, absl::Duration wait) {
  const absl::Time deadline = absl::Now() + wait;
  while (true) {
    uint64_t generation;
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      generation = wake_generation_;
    }
    auto leased = store_->LeaseTrial(worker_id, options_.lease);
    if (!leased.ok() || leased->has_value()) return leased;

    absl::StatusOr<int> added = Replenish();
    if (!added.ok()) return added.status();
    if (*added > 0) continue;

    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return std::nullopt;
    std::unique_lock<std::mutex> lock(wake_mu_);
    wake_cv_.wait_for(
        lock, absl::ToChronoMilliseconds(std::min(left, options_.poll_interval)),
        [&] { return wake_generation_ != generation; });
  }
}

absl::StatusOr<int> Scheduler::Replenish() {
  std::lock_guard<std::mutex> lock(replenish_mu_);
  absl::StatusOr<std::vector<int64_t>> running = store_->ListRunningSearchIds();
  if (!running.ok()) return running.status();
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

absl::StatusOr<int> Scheduler::ReplenishSearch(int64_t search_id) {
  absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
  if (!search.ok()) return search.status();
  const nas::v1::TrialCounts& counts = search->counts();
  const nas::v1::SearchBudget& budget = search->spec().budget();
  // A cheap early exit; the counts may be stale, so the real cap is taken
  // from the snapshot below.
  if (std::min(budget.parallelism() - counts.pending() - counts.running(),
               budget.max_trials() - TotalTrials(counts)) <= 0) {
    return 0;
  }

  absl::StatusOr<SearchContext*> context = Context(*search);
  if (!context.ok()) return context.status();
  const space::SearchSpace& space = *(*context)->space;

  absl::StatusOr<std::vector<nas::v1::Trial>> trials =
      store_->ListTrials(search_id, {}, -1, budget.max_trials());
  if (!trials.ok()) return trials.status();
  SearchSnapshot snapshot;
  snapshot.space = &space;
  snapshot.seed = search->spec().seed();
  for (const nas::v1::Trial& t : *trials) {
    snapshot.trials.push_back(ToView(search->spec(), t, space));
  }
  // The free slots come from the same snapshot whose size AddTrials
  // re-checks under the search's lock: counts read in another transaction
  // (GetSearch above) may predate trials another replica added, and a step
  // sized by them would overshoot max_trials and parallelism. Since the
  // snapshot was taken, trials can only have left flight, so this cap is
  // never too large.
  const int expected = static_cast<int>(snapshot.trials.size());
  int in_flight = 0;
  for (const TrialView& t : snapshot.trials) {
    if (t.state == nas::v1::TRIAL_STATE_PENDING ||
        t.state == nas::v1::TRIAL_STATE_RUNNING) {
      ++in_flight;
    }
  }
  const int free_slots = std::min(budget.parallelism() - in_flight,
                                  budget.max_trials() - expected);
  if (free_slots <= 0) return 0;

  std::vector<NewTrial> new_trials;
  for (std::vector<int>& choices :
       (*context)->strategy->Propose(snapshot, free_slots)) {
    NewTrial t;
    for (int c : choices) t.architecture.add_choices(c);
    t.architecture.set_text(space.Render(choices));
    t.canonical_key = space.CanonicalKey(choices);
    t.kind = nas::v1::TRIAL_KIND_TRAIN;
    t.budget = search->spec().training();
    t.seed = TrialSeed(search->spec().seed(),
                       expected + static_cast<int>(new_trials.size()));
    new_trials.push_back(std::move(t));
  }
  if (new_trials.empty()) return 0;
  absl::Status added = store_->AddTrials(search_id, expected, new_trials);
  if (absl::IsAborted(added)) return 0;
  if (!added.ok()) return added;
  return static_cast<int>(new_trials.size());
}

absl::StatusOr<bool> Scheduler::CompleteIfDone(int64_t search_id) {
  absl::StatusOr<bool> done = store_->CompleteSearchIfDone(search_id);
  if (done.ok() && *done) {
    std::lock_guard<std::mutex> lock(replenish_mu_);
    contexts_.erase(search_id);
  }
  return done;
}

absl::StatusOr<std::vector<int64_t>> Scheduler::Maintain() {
  absl::StatusOr<int> expired = store_->ExpireLeases();
  if (!expired.ok()) return expired.status();
  if (*expired > 0) Notify();
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
  return completed;
}

}  // namespace nas::controller
