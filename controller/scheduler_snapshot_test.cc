// The scheduler keeps each from-scratch search's strategy snapshot in step
// with the store, reading only what can have changed. These tests hold it to
// proposing exactly what a scheduler started afresh (which reads every trial)
// proposes, whatever order trials finish in and whoever adds trials, on
// every TrialStore (each reads what changed its own way).
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/scheduler.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using testing::AnyStoreTest;

using SchedulerSnapshotTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(SchedulerSnapshotTest);

constexpr int kTrials = 60;
constexpr int kParallelism = 6;

nas::v1::SearchSpec EvolutionSpec() {
  nas::v1::SearchSpec spec;
  spec.set_name("snapshot");
  spec.set_seed(11);
  spec.mutable_dataset()->set_name(nas::v1::DATASET_NAME_CIFAR10);
  spec.mutable_space()->mutable_nb201();
  // Evolution learns from scores, so a snapshot that missed a result (or a
  // state) would change what it proposes, not only which keys it avoids.
  spec.mutable_strategy()->mutable_evolution()->set_population_size(8);
  spec.mutable_strategy()->mutable_evolution()->set_sample_size(3);
  nas::v1::Objective* objective = spec.add_objectives();
  objective->set_metric("val_accuracy");
  objective->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  spec.mutable_budget()->set_max_trials(kTrials);
  spec.mutable_budget()->set_parallelism(kParallelism);
  spec.mutable_budget()->set_max_attempts(3);
  spec.mutable_training()->set_epochs(1);
  return spec;
}

// A score that depends only on the architecture.
double Accuracy(const nas::v1::TrialAssignment& a) {
  double sum = 0;
  for (int i = 0; i < a.architecture().choices_size(); ++i) {
    sum += (i + 1) * a.architecture().choices(i);
  }
  return 0.5 + 0.01 * static_cast<double>(static_cast<int>(sum) % 37);
}

enum class Schedulers { kOneForTheWholeSearch, kAFreshOneEveryStep };

// Runs a search with trials finishing out of order: the first trial stays
// in flight until the end (a straggler), one in five fails, and the rest
// finish oldest or newest first, in turn. Returns the architectures in
// trial-number order. Cancels the search at the end, so that the next one
// in `store` runs alone.
std::vector<std::string> RunSearch(TrialStore& store, Schedulers schedulers) {
  auto search = store.CreateSearch(EvolutionSpec(), "");
  EXPECT_TRUE(search.ok()) << search.status();
  if (!search.ok()) return {};
  std::unique_ptr<Scheduler> scheduler;
  std::vector<nas::v1::TrialAssignment> running;
  std::optional<nas::v1::TrialAssignment> straggler;
  for (int step = 0; step < 10 * kTrials; ++step) {
    if (scheduler == nullptr || schedulers == Schedulers::kAFreshOneEveryStep) {
      scheduler = std::make_unique<Scheduler>(&store, Scheduler::Options());
    }
    auto leased = scheduler->Acquire("w", absl::ZeroDuration());
    EXPECT_TRUE(leased.ok()) << leased.status();
    if (!leased.ok()) return {};
    if (leased->has_value()) {
      if (!straggler.has_value()) {
        straggler = **leased;
      } else {
        running.push_back(**leased);
      }
      continue;
    }
    // Nothing to lease: every slot is in flight. End the oldest or the
    // newest, in turn, so that some trials are read while running and
    // finish later, and others finish before any step reads them.
    if (running.empty()) break;
    const auto which = step % 2 == 0 ? running.begin() : running.end() - 1;
    const nas::v1::TrialAssignment a = *which;
    running.erase(which);
    const LeaseRef ref{"w", a.trial_id(), a.attempt()};
    if (a.trial_number() % 5 == 4) {
      EXPECT_TRUE(store.FailTrial(ref, "diverged").ok());
    } else {
      nas::v1::TrialMetrics metrics;
      metrics.set_val_accuracy(Accuracy(a));
      EXPECT_TRUE(store.CompleteTrial(ref, metrics).ok());
    }
  }
  EXPECT_TRUE(straggler.has_value());
  EXPECT_TRUE(store.CancelSearch(search->id()).ok());
  auto trials = store.ListTrials(search->id(), {}, -1, kTrials + 1);
  EXPECT_TRUE(trials.ok()) << trials.status();
  std::vector<std::string> architectures;
  if (trials.ok()) {
    for (const nas::v1::Trial& t : *trials) {
      architectures.push_back(t.architecture().text());
    }
  }
  return architectures;
}

TEST_P(SchedulerSnapshotTest, ProposesWhatAFreshSchedulerWould) {
  const std::vector<std::string> kept =
      RunSearch(store(), Schedulers::kOneForTheWholeSearch);
  const std::vector<std::string> fresh =
      RunSearch(store(), Schedulers::kAFreshOneEveryStep);
  ASSERT_EQ(kept.size(), static_cast<size_t>(kTrials));
  EXPECT_EQ(kept, fresh);
}

// Another replica adds a trial between this scheduler's steps, after the
// point this scheduler's snapshot reads from: its next step sees that trial
// and numbers its own after it.
TEST_P(SchedulerSnapshotTest, SeesTrialsAnotherReplicaAdded) {
  TrialStore& store = this->store();
  nas::v1::SearchSpec spec = EvolutionSpec();
  spec.mutable_budget()->set_parallelism(1);
  auto search = store.CreateSearch(spec, "");
  ASSERT_TRUE(search.ok()) << search.status();
  // Leases the next trial through `scheduler` and completes it; returns its
  // number.
  auto run_one = [&](Scheduler& scheduler) {
    auto leased = scheduler.Acquire("w", absl::ZeroDuration());
    EXPECT_TRUE(leased.ok() && leased->has_value());
    if (!leased.ok() || !leased->has_value()) return -1;
    const nas::v1::TrialAssignment& a = **leased;
    nas::v1::TrialMetrics metrics;
    metrics.set_val_accuracy(Accuracy(a));
    EXPECT_TRUE(
        store.CompleteTrial({"w", a.trial_id(), a.attempt()}, metrics).ok());
    return a.trial_number();
  };
  Scheduler mine(&store, Scheduler::Options());
  ASSERT_EQ(run_one(mine), 0);
  ASSERT_EQ(run_one(mine), 1);
  Scheduler other(&store, Scheduler::Options());
  ASSERT_EQ(run_one(other), 2) << "the other replica's own step";
  for (int number = 3; number < 8; ++number) {
    ASSERT_EQ(run_one(mine), number);
  }
  auto trials = store.ListTrials(search->id(), {}, -1, 100);
  ASSERT_TRUE(trials.ok());
  std::set<std::string> architectures;
  for (const nas::v1::Trial& t : *trials) {
    architectures.insert(t.architecture().text());
  }
  EXPECT_EQ(architectures.size(), trials->size())
      << "an architecture was proposed twice";
}

}  // namespace
}  // namespace nas::controller
