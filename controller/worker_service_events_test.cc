// The events WorkerServiceImpl publishes to a search's watchers, through the
// service on a real PostgreSQL: every lifecycle sends three events, and the
// search attached to them is read from the store at most every
// kEventSearchMaxAge, except the last event's, which is exact.
#include <atomic>
#include <memory>

#include "common/metrics/metrics.h"
#include "common/spec/spec_yaml.h"
#include "common/time/clock.h"
#include "controller/core/trial_lifecycle.h"
#include "controller/event_hub.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/pruning/pruning_book.h"
#include "controller/scheduler.h"
#include "controller/security/authorizer.h"
#include "controller/store/forwarding_store.h"
#include "controller/store/store_test_util.h"
#include "controller/worker_service.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

constexpr int kTrials = 30;

// Counts GetSearch, the read that counts a search's trials.
class CountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::StatusOr<nas::v1::Search> GetSearch(int64_t id) override {
    ++get_search_calls;
    return ForwardingStore::GetSearch(id);
  }
  std::atomic<int> get_search_calls{0};
};

class WorkerEventsTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    counting_ = std::make_unique<CountingStore>(&store());
    scheduler_ =
        std::make_unique<Scheduler>(counting_.get(), Scheduler::Options());
    pruning_ = std::make_unique<PruningBook>(counting_.get());
    lifecycle_ = std::make_unique<TrialLifecycle>(
        counting_.get(), scheduler_.get(), &hub_, pruning_.get(), &metrics_,
        Clock::Real());
    service_ = std::make_unique<WorkerServiceImpl>(lifecycle_.get(), nullptr,
                                                   &auth_, int64_t{1} << 20);
    grpc::ServerContext context;
    nas::v1::RegisterWorkerRequest request;
    request.set_host("events-test");
    nas::v1::RegisterWorkerResponse response;
    ASSERT_TRUE(service_->RegisterWorker(&context, &request, &response).ok());
    worker_ = response.worker_id();
  }

  int64_t NewTabularSearch(const std::string& name) {
    absl::StatusOr<nas::v1::SearchSpec> spec =
        spec::ParseSearchSpecYaml("name: " + name + R"(
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 30, parallelism: 30, max_attempts: 1}
training: {epochs: 1}
)");
    EXPECT_TRUE(spec.ok()) << spec.status();
    absl::StatusOr<nas::v1::Search> search = store().CreateSearch(*spec, "");
    EXPECT_TRUE(search.ok()) << search.status();
    return search->id();
  }

  // Acquire, one epoch, complete, kTrials times; the store's GetSearch
  // calls meanwhile.
  int RunLifecycles() {
    const int before = counting_->get_search_calls.load();
    for (int i = 0; i < kTrials; ++i) {
      grpc::ServerContext acquire_context;
      nas::v1::AcquireTrialRequest acquire;
      acquire.set_worker_id(worker_);
      acquire.set_wait_ms(2000);
      nas::v1::AcquireTrialResponse leased;
      EXPECT_TRUE(
          service_->AcquireTrial(&acquire_context, &acquire, &leased).ok());
      if (!leased.has_assignment()) {
        ADD_FAILURE() << "no trial " << i;
        break;
      }
      const nas::v1::TrialAssignment& a = leased.assignment();
      grpc::ServerContext progress_context;
      nas::v1::ReportProgressRequest progress;
      progress.set_worker_id(worker_);
      progress.set_trial_id(a.trial_id());
      progress.set_attempt(a.attempt());
      progress.mutable_metrics()->set_epoch(1);
      progress.mutable_metrics()->set_val_accuracy(0.5);
      nas::v1::ReportProgressResponse progressed;
      EXPECT_TRUE(
          service_->ReportProgress(&progress_context, &progress, &progressed)
              .ok());
      grpc::ServerContext complete_context;
      nas::v1::CompleteTrialRequest complete;
      complete.set_worker_id(worker_);
      complete.set_trial_id(a.trial_id());
      complete.set_attempt(a.attempt());
      complete.mutable_metrics()->set_val_accuracy(0.5 + i * 0.01);
      nas::v1::CompleteTrialResponse completed;
      EXPECT_TRUE(
          service_->CompleteTrial(&complete_context, &complete, &completed)
              .ok());
    }
    return counting_->get_search_calls.load() - before;
  }

  Authorizer auth_;  // authentication off: the caller is an admin
  EventHub hub_;
  metrics::Registry registry_;
  ControllerMetrics metrics_{&registry_};
  std::unique_ptr<CountingStore> counting_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<PruningBook> pruning_;
  std::unique_ptr<TrialLifecycle> lifecycle_;
  std::unique_ptr<WorkerServiceImpl> service_;
  std::string worker_;
};

TEST_F(WorkerEventsTest, AWatchedSearchIsNotReadForEveryEvent) {
  // The same work unwatched, for the reads the scheduler makes anyway.
  NewTabularSearch("unwatched");
  const int unwatched_reads = RunLifecycles();

  const int64_t id = NewTabularSearch("watched");
  std::shared_ptr<EventHub::Subscription> watch = hub_.Subscribe(id);
  const int watched_reads = RunLifecycles();

  int events = 0;
  std::optional<nas::v1::SearchEvent> event, last;
  while ((event = watch->Next(absl::Milliseconds(200)))) {
    ++events;
    EXPECT_TRUE(event->has_search());
    last = event;
  }
  // Started, epoch and finished per trial, then search_done.
  EXPECT_EQ(events, 3 * kTrials + 1);
  // Reading the search for each event would add 3 reads per lifecycle; one
  // read per kEventSearchMaxAge adds at most one.
  EXPECT_LE(watched_reads - unwatched_reads, kTrials)
      << watched_reads << " reads watched, " << unwatched_reads << " unwatched";
  // The last event is exact: the search done with every trial counted.
  ASSERT_TRUE(last.has_value() && last->has_search_done());
  EXPECT_EQ(last->search().state(), nas::v1::SEARCH_STATE_COMPLETED);
  EXPECT_EQ(last->search().counts().completed(), kTrials);
}

}  // namespace
}  // namespace nas::controller::testing
