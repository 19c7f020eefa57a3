// TrialLifecycle on a MemoryStore and a FakeClock, with a real Scheduler,
// EventHub, PruningBook and ControllerMetrics: no gRPC, no database. What a
// watcher sees, what is counted, and what a worker is told.
#include "controller/core/trial_lifecycle.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/hash/sha256.h"
#include "common/metrics/metrics.h"
#include "common/spec/spec_yaml.h"
#include "common/time/clock.h"
#include "controller/event_hub.h"
#include "controller/memory_store/memory_store.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/pruning/pruning_book.h"
#include "controller/scheduler.h"
#include "controller/store/forwarding_store.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using ::testing::ElementsAre;

constexpr absl::Duration kLease = absl::Seconds(30);

// Counts the reads and writes the lifecycle throttles.
class CountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::StatusOr<nas::v1::Search> GetSearch(int64_t id) override {
    ++get_search_calls;
    if (hold_searches) {
      std::unique_lock<std::mutex> lock(mu_);
      if (searches_held_++ > 0) return ForwardingStore::GetSearch(id);
      held_.notify_all();
      held_.wait(lock, [&] { return !hold_searches; });
    }
    return ForwardingStore::GetSearch(id);
  }
  // Waits until a GetSearch call is held (hold_searches).
  void AwaitHeldSearch() {
    std::unique_lock<std::mutex> lock(mu_);
    held_.wait(lock, [&] { return searches_held_ > 0; });
  }
  void ReleaseSearches() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_searches = false;
    }
    held_.notify_all();
  }
  absl::StatusOr<nas::v1::Trial> GetTrial(int64_t id) override {
    ++get_trial_calls;
    return ForwardingStore::GetTrial(id);
  }
  absl::Status TouchWorker(const std::string& worker_id) override {
    ++touch_worker_calls;
    return ForwardingStore::TouchWorker(worker_id);
  }
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> LeaseTrial(
      const std::string& worker_id, absl::Duration lease) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++lease_calls_;
    }
    leased_.notify_all();
    return ForwardingStore::LeaseTrial(worker_id, lease);
  }
  // While `hold_adds` is set, a strategy step's write first waits (up to
  // `hold`) for another LeaseTrial call: the one a premature wake makes.
  absl::Status AddTrials(int64_t id, int expected_count,
                         const std::vector<NewTrial>& trials) override {
    if (hold_adds) {
      std::unique_lock<std::mutex> lock(mu_);
      const int before = lease_calls_;
      leased_.wait_for(lock, absl::ToChronoMilliseconds(hold),
                       [&] { return lease_calls_ != before; });
    }
    return ForwardingStore::AddTrials(id, expected_count, trials);
  }
  int lease_calls() {
    std::lock_guard<std::mutex> lock(mu_);
    return lease_calls_;
  }

  std::atomic<int> get_search_calls{0};
  std::atomic<int> get_trial_calls{0};
  std::atomic<int> touch_worker_calls{0};
  std::atomic<bool> hold_adds{false};
  absl::Duration hold = absl::Milliseconds(500);
  // While set, the first GetSearch call waits for ReleaseSearches.
  std::atomic<bool> hold_searches{false};

 private:
  std::mutex mu_;
  std::condition_variable leased_;
  int lease_calls_ = 0;
  std::condition_variable held_;
  int searches_held_ = 0;
};

Scheduler::Options SchedulerOptions(ControllerMetrics* metrics,
                                    PruningBook* pruning) {
  Scheduler::Options options;
  options.lease = kLease;
  // Only a wake makes a waiting Acquire look again within a test.
  options.poll_interval = absl::Minutes(10);
  options.metrics = metrics;
  options.pruning = pruning;
  return options;
}

std::string Kind(const nas::v1::SearchEvent& event) {
  switch (event.event_case()) {
    case nas::v1::SearchEvent::kTrialStarted:
      return "trial_started";
    case nas::v1::SearchEvent::kEpochReported:
      return "epoch_reported";
    case nas::v1::SearchEvent::kTrialFinished:
      return "trial_finished";
    case nas::v1::SearchEvent::kSearchDone:
      return "search_done";
    default:
      return "other";
  }
}

class TrialLifecycleTest : public ::testing::Test {
 protected:
  // A random NB201 search over cifar10; `extra` adds or overrides YAML
  // lines (budget, training, early_stopping).
  int64_t NewSearch(const std::string& budget,
                    const std::string& extra = "training: {epochs: 4}\n") {
    absl::StatusOr<nas::v1::SearchSpec> spec =
        spec::ParseSearchSpecYaml(R"(name: lifecycle
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: )" + budget + "\n" + extra);
    EXPECT_TRUE(spec.ok()) << spec.status();
    absl::StatusOr<nas::v1::Search> search = store_.CreateSearch(*spec, "");
    EXPECT_TRUE(search.ok()) << search.status();
    return search->id();
  }

  std::string Register(const std::string& host) {
    nas::v1::RegisterWorkerRequest request;
    request.set_host(host);
    absl::StatusOr<std::string> id = lifecycle_.Register(request);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or("");
  }

  // A trial leased to `worker` now (no waiting).
  nas::v1::TrialAssignment Acquire(const std::string& worker) {
    absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
        lifecycle_.Acquire(worker, absl::ZeroDuration());
    EXPECT_TRUE(leased.ok()) << leased.status();
    if (!leased.ok() || !leased->has_value()) {
      ADD_FAILURE() << "no trial for " << worker;
      return {};
    }
    return **leased;
  }

  static LeaseRef Ref(const nas::v1::TrialAssignment& a,
                      const std::string& worker) {
    return LeaseRef{worker, a.trial_id(), a.attempt()};
  }

  static nas::v1::EpochMetrics Epoch(int epoch, double val_accuracy) {
    nas::v1::EpochMetrics m;
    m.set_epoch(epoch);
    m.set_val_accuracy(val_accuracy);
    return m;
  }

  static nas::v1::TrialMetrics Final(double val_accuracy) {
    nas::v1::TrialMetrics m;
    m.set_val_accuracy(val_accuracy);
    return m;
  }

  // Every event queued for `watch` (they are published in the caller's
  // thread, so all are queued when a call returns).
  static std::vector<nas::v1::SearchEvent> Drain(
      EventHub::Subscription& watch) {
    std::vector<nas::v1::SearchEvent> events;
    while (std::optional<nas::v1::SearchEvent> e =
               watch.Next(absl::ZeroDuration())) {
      events.push_back(*std::move(e));
    }
    return events;
  }

  static std::vector<std::string> Kinds(
      const std::vector<nas::v1::SearchEvent>& events) {
    std::vector<std::string> kinds;
    for (const nas::v1::SearchEvent& e : events) kinds.push_back(Kind(e));
    return kinds;
  }

  // Starts `worker`'s Acquire (waiting up to 30 s) on a thread of its own
  // and returns once the scheduler counts it waiting (or after 10 s).
  std::thread StartWaiter(
      const std::string& worker,
      absl::StatusOr<std::optional<nas::v1::TrialAssignment>>* waited) {
    const int before = scheduler_.waiting_acquires();
    std::thread waiter([this, worker, waited] {
      *waited = lifecycle_.Acquire(worker, absl::Seconds(30));
    });
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (scheduler_.waiting_acquires() == before && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(1));
    }
    return waiter;
  }

  // Leases the next trial to `worker`, saves its state at the rung (epoch
  // 1) as a worker does, and reports the epoch at `val_accuracy`; expects
  // the reply to pause it.
  nas::v1::TrialAssignment ReachRungAndPause(const std::string& worker,
                                             double val_accuracy) {
    const nas::v1::TrialAssignment a = Acquire(worker);
    const std::string state = absl::StrCat("state of #", a.trial_number());
    EXPECT_TRUE(
        store_.PutTrialUpload(Ref(a, worker), 0, hash::Sha256Hex(state), state)
            .ok());
    absl::StatusOr<bool> stop =
        lifecycle_.ReportProgress(Ref(a, worker), Epoch(1, val_accuracy));
    EXPECT_TRUE(stop.ok()) << stop.status();
    EXPECT_TRUE(stop.value_or(false)) << "#" << a.trial_number();
    return a;
  }

  // The value of one series (its name and labels, as /metrics writes them).
  double SeriesValue(const std::string& series) {
    std::istringstream text(registry_.Render());
    std::string line;
    while (std::getline(text, line)) {
      if (line.rfind(series + " ", 0) == 0) {
        return std::stod(line.substr(line.find(' ') + 1));
      }
    }
    ADD_FAILURE() << "no series " << series;
    return -1.0;
  }

  // The series of trial endings, as /metrics shows them.
  std::string EndingsCounted() {
    std::istringstream text(registry_.Render());
    std::string line, endings;
    while (std::getline(text, line)) {
      if (line.rfind("nas_trials_finished_total{", 0) == 0 ||
          line.rfind("nas_worker_trials_total{", 0) == 0) {
        endings += line + "\n";
      }
    }
    return endings;
  }

  FakeClock clock_;
  MemoryStore store_{&clock_};
  CountingStore counting_{&store_};
  EventHub hub_;
  metrics::Registry registry_;
  ControllerMetrics metrics_{&registry_};
  PruningBook pruning_{&counting_};
  Scheduler scheduler_{&counting_, SchedulerOptions(&metrics_, &pruning_),
                       &store_};
  TrialLifecycle lifecycle_{&counting_, &scheduler_, &hub_,
                            &pruning_,  &metrics_,   &clock_};
};

// The slot a completion frees is filled before anyone asks, so that the
// next Acquire leases at once instead of first stepping the strategy.
TEST_F(TrialLifecycleTest, ACompletionProposesTheTrialForItsFreedSlot) {
  const int64_t id = NewSearch("{max_trials: 3, parallelism: 1}");
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  auto pending = [&] {
    absl::StatusOr<std::vector<nas::v1::Trial>> trials =
        store_.ListTrials(id, {nas::v1::TRIAL_STATE_PENDING}, -1, 10);
    EXPECT_TRUE(trials.ok()) << trials.status();
    return trials.ok() ? trials->size() : 0;
  };
  EXPECT_EQ(pending(), 0u) << "parallelism 1: nothing beyond the running one";
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, worker), Final(0.6)).ok());
  EXPECT_EQ(pending(), 1u);
  const nas::v1::TrialAssignment b = Acquire(worker);
  EXPECT_EQ(b.trial_number(), 1);
}

// A worker waiting for work is woken once the trial for the freed slot
// exists, so its first look leases it. Woken when the slot freed, it looked
// before the trial was added, missed and waited again.
TEST_F(TrialLifecycleTest, AWaiterIsWokenOnlyOnceTheFreedSlotIsFilled) {
  NewSearch("{max_trials: 3, parallelism: 1}");
  const std::string first = Register("w1");
  const std::string second = Register("w2");
  const nas::v1::TrialAssignment a = Acquire(first);
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> waited;
  std::thread waiter = StartWaiter(second, &waited);
  ASSERT_EQ(scheduler_.waiting_acquires(), 1) << "the second worker waits";
  const int looks_before = counting_.lease_calls();
  counting_.hold_adds = true;
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, first), Final(0.6)).ok());
  waiter.join();
  ASSERT_TRUE(waited.ok()) << waited.status();
  ASSERT_TRUE(waited->has_value()) << "the freed slot's trial was not leased";
  EXPECT_EQ((*waited)->trial_number(), 1);
  EXPECT_EQ(counting_.lease_calls() - looks_before, 1)
      << "the waiter looked before the trial for the freed slot existed";
}

// /metrics shows how many workers wait for work, as the scheduler counts
// them (nas_acquires_waiting, read at each scrape).
TEST_F(TrialLifecycleTest, WaitingWorkersAreAGauge) {
  metrics_.CollectWaitingAcquires(
      [this] { return scheduler_.waiting_acquires(); });
  auto waiting = [&] { return SeriesValue("nas_acquires_waiting"); };
  NewSearch("{max_trials: 2, parallelism: 1}");
  const std::string first = Register("w1");
  const std::string second = Register("w2");
  const nas::v1::TrialAssignment a = Acquire(first);
  EXPECT_EQ(waiting(), 0);
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> waited;
  std::thread waiter = StartWaiter(second, &waited);
  ASSERT_EQ(scheduler_.waiting_acquires(), 1) << "the second worker waits";
  EXPECT_EQ(waiting(), 1);
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, first), Final(0.6)).ok());
  waiter.join();
  ASSERT_TRUE(waited.ok() && waited->has_value());
  EXPECT_EQ(waiting(), 0);
}

// /metrics splits each AcquireTrial call's time into its lease queries,
// its own strategy steps and its waits (nas_acquire_phase_seconds): where
// a worker's wait for work goes.
TEST_F(TrialLifecycleTest, AcquireTimeIsSplitIntoLeaseStepAndWait) {
  auto count = [&](const std::string& phase) {
    return SeriesValue("nas_acquire_phase_seconds_count{phase=\"" + phase +
                       "\"}");
  };
  auto sum = [&](const std::string& phase) {
    return SeriesValue("nas_acquire_phase_seconds_sum{phase=\"" + phase +
                       "\"}");
  };
  NewSearch("{max_trials: 2, parallelism: 1}");
  const std::string first = Register("w1");
  const std::string second = Register("w2");
  const nas::v1::TrialAssignment a = Acquire(first);
  EXPECT_EQ(count("lease"), 1);
  EXPECT_EQ(sum("wait"), 0) << "a trial was ready: nothing to wait for";
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> waited;
  std::thread waiter = StartWaiter(second, &waited);
  ASSERT_EQ(scheduler_.waiting_acquires(), 1) << "the second worker waits";
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, first), Final(0.6)).ok());
  waiter.join();
  ASSERT_TRUE(waited.ok() && waited->has_value());
  // Every call observes every phase, so that each phase's quantiles are
  // over the same calls.
  for (const char* phase : {"lease", "step", "wait"}) {
    EXPECT_EQ(count(phase), 2) << phase;
  }
  EXPECT_GE(sum("wait"), 0.05) << "the second call waited for the slot";
  EXPECT_GT(sum("lease"), 0);
  EXPECT_GT(sum("step"), 0)
      << "the second call, finding nothing, stepped the strategy first";
}

// Only the search that freed a slot steps: every running search's step on
// every ending would cost each ending reads of all of them.
TEST_F(TrialLifecycleTest, ACompletionStepsOnlyItsOwnSearch) {
  const int64_t first = NewSearch("{max_trials: 3, parallelism: 1}");
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  ASSERT_EQ(a.search_id(), first);
  // Created after the lease: no step has looked at it yet.
  const int64_t second = NewSearch("{max_trials: 3, parallelism: 1}");
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, worker), Final(0.6)).ok());
  absl::StatusOr<std::vector<nas::v1::Trial>> untouched =
      store_.ListTrials(second, {}, -1, 10);
  ASSERT_TRUE(untouched.ok()) << untouched.status();
  EXPECT_TRUE(untouched->empty());
  absl::StatusOr<std::vector<nas::v1::Trial>> refilled =
      store_.ListTrials(first, {nas::v1::TRIAL_STATE_PENDING}, -1, 10);
  ASSERT_TRUE(refilled.ok()) << refilled.status();
  EXPECT_EQ(refilled->size(), 1u);
}

TEST_F(TrialLifecycleTest, ALifecyclePublishesItsEventsInOrder) {
  const int64_t id = NewSearch("{max_trials: 1, parallelism: 1}");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const std::string worker = Register("w");

  const nas::v1::TrialAssignment a = Acquire(worker);
  absl::StatusOr<bool> stop =
      lifecycle_.ReportProgress(Ref(a, worker), Epoch(1, 0.5));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_FALSE(*stop);
  const int reads_before = counting_.get_trial_calls;
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, worker), Final(0.6)).ok());
  // The completion's own write read the watched trial whole: reading it
  // again after cost each watched lifecycle two more statements.
  EXPECT_EQ(counting_.get_trial_calls, reads_before);

  const std::vector<nas::v1::SearchEvent> events = Drain(*watch);
  ASSERT_THAT(Kinds(events), ElementsAre("trial_started", "epoch_reported",
                                         "trial_finished", "search_done"));
  for (const nas::v1::SearchEvent& e : events) EXPECT_TRUE(e.has_search());
  EXPECT_EQ(events[0].trial_started().id(), a.trial_id());
  EXPECT_EQ(events[0].trial_started().worker_id(), worker);
  EXPECT_EQ(events[1].epoch_reported().metrics().epoch(), 1);
  EXPECT_EQ(events[2].trial_finished().state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_EQ(events[2].trial_finished().search_id(), id);
  // Whole, as stored (the store's ending leaves out the architecture's
  // text, the budget and the curve).
  absl::StatusOr<nas::v1::Trial> stored = store_.GetTrial(a.trial_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      events[2].trial_finished(), *stored))
      << events[2].trial_finished().DebugString();
  EXPECT_EQ(events[2].trial_finished().epochs_size(), 1);
  // The last event is exact: the search done with its trial counted.
  EXPECT_EQ(events[3].search().state(), nas::v1::SEARCH_STATE_COMPLETED);
  EXPECT_EQ(events[3].search().counts().completed(), 1);
  // Ranked once by the publisher, for every watcher (WatchSearch sends it
  // as is).
  EXPECT_EQ(events[3].search_done().best_trial().id(), a.trial_id());
  EXPECT_NE(EndingsCounted().find("outcome=\"completed\"} 1"),
            std::string::npos)
      << EndingsCounted();
}

// Nobody watches: the ending the store returns is all a completion needs
// (its search, the counters); reading the trial back whole cost each
// lifecycle a read of its row and curve.
TEST_F(TrialLifecycleTest, AnUnwatchedCompletionReadsNoTrialBack) {
  NewSearch("{max_trials: 2, parallelism: 1}");
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  ASSERT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(1, 0.5)).ok());
  clock_.Advance(absl::Seconds(7));
  const int reads_before = counting_.get_trial_calls;
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, worker), Final(0.6)).ok());
  EXPECT_EQ(counting_.get_trial_calls, reads_before);
  // Counted from the ending: the outcome, and the worker's seconds from
  // its start and finish.
  EXPECT_NE(EndingsCounted().find("outcome=\"completed\"} 1"),
            std::string::npos)
      << EndingsCounted();
  std::istringstream text(registry_.Render());
  std::string line, seconds;
  while (std::getline(text, line)) {
    if (line.rfind("nas_worker_trial_seconds_total{", 0) == 0) seconds = line;
  }
  EXPECT_EQ(seconds.substr(seconds.rfind(' ') + 1), "7") << seconds;
  EXPECT_EQ(Acquire(worker).trial_number(), 1) << "the freed slot was filled";
}

TEST_F(TrialLifecycleTest, ARepeatedCompletePublishesAndCountsNothingMore) {
  const int64_t id = NewSearch("{max_trials: 2, parallelism: 1}");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  ASSERT_TRUE(lifecycle_.Complete(Ref(a, worker), Final(0.6)).ok());
  EXPECT_THAT(Kinds(Drain(*watch)),
              ElementsAre("trial_started", "trial_finished"));
  const std::string counted = EndingsCounted();

  // The worker lost the reply and retries.
  EXPECT_TRUE(lifecycle_.Complete(Ref(a, worker), Final(0.6)).ok());
  EXPECT_TRUE(Drain(*watch).empty());
  EXPECT_EQ(EndingsCounted(), counted);
}

TEST_F(TrialLifecycleTest, AStaleAttemptCannotComplete) {
  NewSearch("{max_trials: 1, parallelism: 1, max_attempts: 2}");
  const std::string first = Register("first");
  const std::string second = Register("second");
  const nas::v1::TrialAssignment lost = Acquire(first);
  // The first worker goes silent past its lease; maintenance requeues it.
  clock_.Advance(kLease + absl::Seconds(1));
  ASSERT_TRUE(lifecycle_.Maintain().ok());
  const nas::v1::TrialAssignment retried = Acquire(second);
  ASSERT_EQ(retried.trial_id(), lost.trial_id());
  EXPECT_EQ(retried.attempt(), 2);

  EXPECT_TRUE(absl::IsFailedPrecondition(
      lifecycle_.Complete(Ref(lost, first), Final(0.6))));
  EXPECT_TRUE(lifecycle_.Complete(Ref(retried, second), Final(0.6)).ok());
}

TEST_F(TrialLifecycleTest, AshaStopsATrialThroughReportProgress) {
  const int64_t id =
      NewSearch("{max_trials: 4, parallelism: 2}",
                "training: {epochs: 4}\n"
                "early_stopping: {asha: {min_epochs: 1, max_epochs: 4, "
                "reduction_factor: 2}}\n");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const std::string good_worker = Register("good");
  const std::string bad_worker = Register("bad");
  const nas::v1::TrialAssignment good = Acquire(good_worker);
  const nas::v1::TrialAssignment bad = Acquire(bad_worker);
  ASSERT_THAT(Kinds(Drain(*watch)),
              ElementsAre("trial_started", "trial_started"));

  // Rung 0 (epoch 1) keeps the top half: 0.9 goes on, 0.1 stops.
  absl::StatusOr<bool> stop =
      lifecycle_.ReportProgress(Ref(good, good_worker), Epoch(1, 0.9));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_FALSE(*stop);
  stop = lifecycle_.ReportProgress(Ref(bad, bad_worker), Epoch(1, 0.1));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_TRUE(*stop);

  const std::vector<nas::v1::SearchEvent> events = Drain(*watch);
  ASSERT_THAT(Kinds(events), ElementsAre("epoch_reported", "trial_finished"));
  EXPECT_TRUE(events[0].epoch_reported().promoted());
  EXPECT_EQ(events[0].epoch_reported().rung(), 0);
  EXPECT_EQ(events[1].trial_finished().id(), bad.trial_id());
  EXPECT_EQ(events[1].trial_finished().state(), nas::v1::TRIAL_STATE_STOPPED);
  absl::StatusOr<nas::v1::Trial> stored = store_.GetTrial(bad.trial_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->state(), nas::v1::TRIAL_STATE_STOPPED);
  EXPECT_NE(EndingsCounted().find("outcome=\"stopped\"} 1"), std::string::npos)
      << EndingsCounted();

  // The report repeated (a lost reply): stop again, announced once.
  stop = lifecycle_.ReportProgress(Ref(bad, bad_worker), Epoch(1, 0.1));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_TRUE(*stop);
  EXPECT_TRUE(Drain(*watch).empty());
}

// ASHA with promotion, one rung (epoch 1 of 3), eta 3: three trials pause
// there, and the third's arrival makes the best of them (#1) the rung's top
// third. With no trial left to add, the search still must not complete: #1
// is resumed first, from its saved state, and the search completes after it.
TEST_F(TrialLifecycleTest, APausedTrialIsPromotedBeforeItsSearchCompletes) {
  const int64_t id = NewSearch(
      "{max_trials: 3, parallelism: 1}",
      "training: {epochs: 3}\n"
      "early_stopping: {asha: {reduction_factor: 3, promote: true}}\n");
  const std::string worker = Register("w");
  std::vector<nas::v1::TrialAssignment> paused;
  for (double accuracy : {0.5, 0.7, 0.6}) {
    paused.push_back(ReachRungAndPause(worker, accuracy));
  }
  absl::StatusOr<nas::v1::Search> search = store_.GetSearch(id);
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(search->state(), nas::v1::SEARCH_STATE_RUNNING)
      << "completed with a promotion due";

  const nas::v1::TrialAssignment again = Acquire(worker);
  EXPECT_EQ(again.trial_id(), paused[1].trial_id());
  EXPECT_EQ(again.attempt(), 2);
  EXPECT_TRUE(again.resume());
  absl::StatusOr<bool> stop =
      lifecycle_.ReportProgress(Ref(again, worker), Epoch(2, 0.75));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_FALSE(*stop);
  ASSERT_TRUE(
      lifecycle_.ReportProgress(Ref(again, worker), Epoch(3, 0.8)).ok());
  ASSERT_TRUE(lifecycle_.Complete(Ref(again, worker), Final(0.8)).ok());

  search = store_.GetSearch(id);
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(search->state(), nas::v1::SEARCH_STATE_COMPLETED);
  absl::StatusOr<nas::v1::Trial> promoted =
      store_.GetTrial(paused[1].trial_id());
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  EXPECT_EQ(promoted->state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_THAT(promoted->reason(), ::testing::HasSubstr("promoted past rung 0"));
  EXPECT_EQ(promoted->epochs_size(), 3) << "its curve stays whole";
  for (int i : {0, 2}) {
    absl::StatusOr<nas::v1::Trial> left = store_.GetTrial(paused[i].trial_id());
    ASSERT_TRUE(left.ok()) << left.status();
    EXPECT_EQ(left->state(), nas::v1::TRIAL_STATE_STOPPED);
    EXPECT_EQ(store_.TrialUploadInfo(paused[i].trial_id()).status().code(),
              absl::StatusCode::kNotFound)
        << "its state went with the search's end";
  }
}

// With room for new trials, a promotion still goes first.
TEST_F(TrialLifecycleTest, APromotionGoesBeforeANewTrial) {
  NewSearch("{max_trials: 6, parallelism: 1}",
            "training: {epochs: 3}\n"
            "early_stopping: {asha: {reduction_factor: 3, promote: true}}\n");
  const std::string worker = Register("w");
  std::vector<nas::v1::TrialAssignment> paused;
  for (double accuracy : {0.5, 0.7, 0.6}) {
    paused.push_back(ReachRungAndPause(worker, accuracy));
  }
  const nas::v1::TrialAssignment next = Acquire(worker);
  EXPECT_EQ(next.trial_id(), paused[1].trial_id());
  EXPECT_TRUE(next.resume());
}

TEST_F(TrialLifecycleTest, CancellingPublishesSearchDoneOnceAndWakesWaiters) {
  const int64_t cancelled = NewSearch("{max_trials: 2, parallelism: 1}");
  const std::string busy = Register("busy");
  const std::string idle = Register("idle");
  const nas::v1::TrialAssignment running = Acquire(busy);
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(cancelled);

  // The idle worker waits: the search has no free slot.
  std::optional<nas::v1::TrialAssignment> got;
  std::thread waiter([&] {
    absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
        lifecycle_.Acquire(idle, absl::Seconds(30));
    if (leased.ok()) got = *leased;
  });
  absl::SleepFor(absl::Milliseconds(300));
  // Work that appears unannounced (another replica created it): only a
  // wake makes the waiter look before its wait or poll interval ends.
  const int64_t other = NewSearch("{max_trials: 1, parallelism: 1}");

  const absl::Time cancel_at = absl::Now();
  absl::StatusOr<nas::v1::Search> search = lifecycle_.CancelSearch(cancelled);
  waiter.join();
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(search->state(), nas::v1::SEARCH_STATE_CANCELLED);
  EXPECT_LT(absl::Now() - cancel_at, absl::Seconds(10));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->search_id(), other);

  // The busy worker is told to stop at its next report.
  absl::StatusOr<bool> stop =
      lifecycle_.ReportProgress(Ref(running, busy), Epoch(1, 0.5));
  ASSERT_TRUE(stop.ok()) << stop.status();
  EXPECT_TRUE(*stop);
  // Neither maintenance, the scheduler nor a second cancel announce it
  // again.
  ASSERT_TRUE(lifecycle_.Maintain().ok());
  lifecycle_.AnnounceSchedulerEndings();
  EXPECT_TRUE(
      absl::IsFailedPrecondition(lifecycle_.CancelSearch(cancelled).status()));
  const std::vector<nas::v1::SearchEvent> events = Drain(*watch);
  ASSERT_THAT(Kinds(events), ElementsAre("search_done"));
  EXPECT_EQ(events[0].search().state(), nas::v1::SEARCH_STATE_CANCELLED);
}

TEST_F(TrialLifecycleTest, AWorkerFaultRequeuesWithoutAnEnding) {
  const int64_t id =
      NewSearch("{max_trials: 1, parallelism: 1, max_attempts: 2}");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  Drain(*watch);
  const std::string counted = EndingsCounted();

  ASSERT_TRUE(
      lifecycle_
          .Fail(Ref(a, worker), "no CUDA driver", nas::v1::FAULT_KIND_WORKER)
          .ok());
  EXPECT_TRUE(Drain(*watch).empty());
  EXPECT_EQ(EndingsCounted(), counted);
  absl::StatusOr<nas::v1::Trial> stored = store_.GetTrial(a.trial_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->state(), nas::v1::TRIAL_STATE_PENDING);
  const nas::v1::TrialAssignment again = Acquire(worker);
  EXPECT_EQ(again.trial_id(), a.trial_id());
  EXPECT_EQ(again.attempt(), 2);
}

TEST_F(TrialLifecycleTest, ATrialFaultEndsTheTrialAndASearchOfOne) {
  const int64_t id = NewSearch("{max_trials: 1, parallelism: 1}");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  ASSERT_TRUE(
      lifecycle_.Fail(Ref(a, worker), "diverged", nas::v1::FAULT_KIND_TRIAL)
          .ok());
  const std::vector<nas::v1::SearchEvent> events = Drain(*watch);
  ASSERT_THAT(Kinds(events),
              ElementsAre("trial_started", "trial_finished", "search_done"));
  EXPECT_EQ(events[1].trial_finished().state(), nas::v1::TRIAL_STATE_FAILED);
  // Every attempt failed (the window of a one-trial search is one).
  EXPECT_EQ(events[2].search().state(), nas::v1::SEARCH_STATE_FAILED);
  // A repeat was announced the first time.
  EXPECT_TRUE(
      lifecycle_.Fail(Ref(a, worker), "diverged", nas::v1::FAULT_KIND_TRIAL)
          .ok());
  EXPECT_TRUE(Drain(*watch).empty());
}

TEST_F(TrialLifecycleTest, AWorkerIsMarkedSeenOncePerQuarterLease) {
  const std::string worker = Register("w");
  const int before = counting_.touch_worker_calls.load();
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(lifecycle_.Acquire(worker, absl::ZeroDuration()).ok());
  }
  EXPECT_EQ(counting_.touch_worker_calls.load() - before, 1);
  clock_.Advance(kLease / 4);
  ASSERT_TRUE(lifecycle_.Acquire(worker, absl::ZeroDuration()).ok());
  EXPECT_EQ(counting_.touch_worker_calls.load() - before, 2);
  // An id never registered is not remembered, so it is refused every time.
  EXPECT_TRUE(absl::IsNotFound(
      lifecycle_.Acquire("w-404", absl::ZeroDuration()).status()));
}

TEST_F(TrialLifecycleTest, ProgressEventsReuseARecentlyReadSearch) {
  const int64_t id = NewSearch("{max_trials: 1, parallelism: 1}");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  ASSERT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(1, 0.5)).ok());

  // Within kEventSearchMaxAge of trial_started's read: no read.
  int before = counting_.get_search_calls.load();
  ASSERT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(2, 0.5)).ok());
  EXPECT_EQ(counting_.get_search_calls.load() - before, 0);
  // Older: read again, once.
  clock_.Advance(kEventSearchMaxAge);
  before = counting_.get_search_calls.load();
  ASSERT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(3, 0.5)).ok());
  EXPECT_EQ(counting_.get_search_calls.load() - before, 1);
  EXPECT_THAT(Kinds(Drain(*watch)),
              ElementsAre("trial_started", "epoch_reported", "epoch_reported",
                          "epoch_reported"));
}

// A stale search is read again by one publisher; the others publish with
// the older read meanwhile rather than each reading it too.
TEST_F(TrialLifecycleTest, OnePublisherAtATimeReadsAStaleSearchAgain) {
  const int64_t id = NewSearch("{max_trials: 1, parallelism: 1}");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const std::string worker = Register("w");
  const nas::v1::TrialAssignment a = Acquire(worker);
  ASSERT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(1, 0.5)).ok());
  EXPECT_EQ(Drain(*watch).size(), 2u);

  clock_.Advance(kEventSearchMaxAge);
  const int before = counting_.get_search_calls.load();
  counting_.hold_searches = true;
  std::thread reading([&] {
    EXPECT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(2, 0.5)).ok());
  });
  counting_.AwaitHeldSearch();
  ASSERT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(3, 0.5)).ok());
  EXPECT_EQ(counting_.get_search_calls.load() - before, 1);
  std::vector<nas::v1::SearchEvent> events = Drain(*watch);
  ASSERT_EQ(events.size(), 1u) << "published while the other one reads";
  EXPECT_EQ(events[0].epoch_reported().metrics().epoch(), 3);
  EXPECT_EQ(events[0].search().id(), id);
  counting_.ReleaseSearches();
  reading.join();
  events = Drain(*watch);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].epoch_reported().metrics().epoch(), 2);
  // Read now: the next event within the age reads nothing.
  ASSERT_TRUE(lifecycle_.ReportProgress(Ref(a, worker), Epoch(4, 0.5)).ok());
  EXPECT_EQ(counting_.get_search_calls.load() - before, 1);
}

}  // namespace
}  // namespace nas::controller
