// The whole controller in the test's process: a ControllerServer on a
// MemoryStore and a FakeClock, called over real gRPC on loopback. No
// database, no subprocess, and no waiting for a lease to run out: the test
// moves the clock.
#include "controller/controller_server.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/memory_store/memory_store.h"
#include "controller/store/forwarding_store.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "nas/v1/search_service.grpc.pb.h"
#include "nas/v1/worker_service.grpc.pb.h"

namespace nas::controller {
namespace {

constexpr absl::Duration kLease = absl::Seconds(30);

class InProcessControllerTest : public ::testing::Test {
 protected:
  // The store the controller serves trials from: the MemoryStore, or a
  // test's wrapper around it.
  virtual std::shared_ptr<TrialStore> Served() { return store_; }

  void SetUp() override {
    store_ = std::make_shared<MemoryStore>(&clock_);
    ControllerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.security.plaintext = true;
    options.lease = kLease;
    options.maintenance_interval = absl::Milliseconds(5);
    options.clock = &clock_;
    auto server = ControllerServer::Start(options, {Served(), store_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                            grpc::InsecureChannelCredentials());
    searches_ = nas::v1::SearchService::NewStub(channel);
    workers_ = nas::v1::WorkerService::NewStub(channel);
  }

  nas::v1::Search CreateSearch(int max_trials) {
    nas::v1::CreateSearchRequest request;
    nas::v1::SearchSpec& spec = *request.mutable_spec();
    spec.set_name("in-process");
    spec.set_seed(7);
    spec.mutable_dataset()->set_name(nas::v1::DATASET_NAME_CIFAR10);
    spec.mutable_space()->mutable_nb201();
    spec.mutable_strategy()->mutable_random();
    nas::v1::Objective* objective = spec.add_objectives();
    objective->set_metric("val_accuracy");
    objective->set_direction(nas::v1::DIRECTION_MAXIMIZE);
    spec.mutable_budget()->set_max_trials(max_trials);
    spec.mutable_budget()->set_parallelism(1);
    spec.mutable_budget()->set_max_attempts(2);
    spec.mutable_training()->set_epochs(1);
    grpc::ClientContext context;
    nas::v1::Search search;
    const grpc::Status status =
        searches_->CreateSearch(&context, request, &search);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return search;
  }

  std::string Register(const std::string& host) {
    grpc::ClientContext context;
    nas::v1::RegisterWorkerRequest request;
    request.set_host(host);
    nas::v1::RegisterWorkerResponse response;
    const grpc::Status status =
        workers_->RegisterWorker(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.worker_id();
  }

  nas::v1::TrialAssignment Acquire(const std::string& worker) {
    grpc::ClientContext context;
    nas::v1::AcquireTrialRequest request;
    request.set_worker_id(worker);
    request.set_wait_ms(2000);
    nas::v1::AcquireTrialResponse response;
    const grpc::Status status =
        workers_->AcquireTrial(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_TRUE(response.has_assignment()) << "no trial for " << worker;
    return response.assignment();
  }

  grpc::Status Complete(const std::string& worker,
                        const nas::v1::TrialAssignment& a, double accuracy) {
    grpc::ClientContext context;
    nas::v1::CompleteTrialRequest request;
    request.set_worker_id(worker);
    request.set_trial_id(a.trial_id());
    request.set_attempt(a.attempt());
    request.mutable_metrics()->set_val_accuracy(accuracy);
    nas::v1::CompleteTrialResponse response;
    return workers_->CompleteTrial(&context, request, &response);
  }

  nas::v1::Search GetSearch(int64_t id) {
    grpc::ClientContext context;
    nas::v1::GetSearchRequest request;
    request.set_search_id(id);
    nas::v1::Search search;
    const grpc::Status status =
        searches_->GetSearch(&context, request, &search);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return search;
  }

  FakeClock clock_;
  std::shared_ptr<MemoryStore> store_;
  std::unique_ptr<ControllerServer> server_;
  std::unique_ptr<nas::v1::SearchService::Stub> searches_;
  std::unique_ptr<nas::v1::WorkerService::Stub> workers_;
};

TEST_F(InProcessControllerTest, ASearchRunsToCompletionWithoutADatabase) {
  const nas::v1::Search search = CreateSearch(3);
  ASSERT_GT(search.id(), 0);
  const std::string worker = Register("host-a");
  for (int i = 0; i < 3; ++i) {
    const nas::v1::TrialAssignment a = Acquire(worker);
    ASSERT_EQ(a.search_id(), search.id());
    EXPECT_EQ(a.trial_number(), i) << "parallelism 1: one at a time, in order";
    const grpc::Status done = Complete(worker, a, 0.5 + 0.1 * i);
    ASSERT_TRUE(done.ok()) << done.error_message();
  }
  // The search completes on the last trial's CompleteTrial.
  const nas::v1::Search finished = GetSearch(search.id());
  EXPECT_EQ(finished.state(), nas::v1::SEARCH_STATE_COMPLETED)
      << finished.DebugString();
  EXPECT_EQ(finished.counts().completed(), 3);

  grpc::ClientContext context;
  nas::v1::GetBestTrialsRequest best_request;
  best_request.set_search_id(search.id());
  best_request.set_k(1);
  nas::v1::GetBestTrialsResponse best;
  ASSERT_TRUE(searches_->GetBestTrials(&context, best_request, &best).ok());
  ASSERT_EQ(best.trials_size(), 1);
  EXPECT_EQ(best.trials(0).number(), 2);
}

// A worker that goes silent loses its trial once the lease has run out by
// the controller's clock: the maintenance thread expires it, another worker
// gets attempt 2, and the silent worker's late result is refused.
TEST_F(InProcessControllerTest, AnExpiredLeaseGoesToTheNextWorker) {
  const nas::v1::Search search = CreateSearch(1);
  const std::string silent = Register("host-silent");
  const std::string next = Register("host-next");
  const nas::v1::TrialAssignment first = Acquire(silent);
  ASSERT_EQ(first.attempt(), 1);

  // Nothing expires while the clock stands still, however long we wait.
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(GetSearch(search.id()).counts().running(), 1);

  clock_.Advance(kLease + absl::Seconds(1));
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (GetSearch(search.id()).counts().running() != 0 &&
         absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(GetSearch(search.id()).counts().pending(), 1)
      << "the maintenance thread did not expire the lease";

  const nas::v1::TrialAssignment second = Acquire(next);
  EXPECT_EQ(second.trial_id(), first.trial_id());
  EXPECT_EQ(second.attempt(), 2);
  const grpc::Status late = Complete(silent, first, 0.9);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << late.error_message();
  ASSERT_TRUE(Complete(next, second, 0.7).ok());
  EXPECT_EQ(GetSearch(search.id()).state(), nas::v1::SEARCH_STATE_COMPLETED);
}

// What a watcher needs of an event to tell it from another.
std::string Describe(const nas::v1::SearchEvent& event) {
  switch (event.event_case()) {
    case nas::v1::SearchEvent::kSnapshot:
      return "snapshot";
    case nas::v1::SearchEvent::kTrialStarted:
      return absl::StrCat("started #", event.trial_started().number());
    case nas::v1::SearchEvent::kEpochReported:
      return absl::StrCat("epoch #", event.epoch_reported().trial_number(), " ",
                          event.epoch_reported().metrics().epoch());
    case nas::v1::SearchEvent::kTrialFinished:
      return absl::StrCat("finished #", event.trial_finished().number());
    case nas::v1::SearchEvent::kSearchDone:
      return absl::StrCat("done, best #",
                          event.search_done().best_trial().number());
    default:
      return "?";
  }
}

// WatchSearchBatched sends WatchSearch's events, in the same order and to
// the same end, several to a message; the search its trial and epoch events
// carry has no spec (the snapshot and search_done carry it).
TEST_F(InProcessControllerTest, ABatchedWatchSendsEveryEventInOrder) {
  constexpr int kTrials = 8;
  const nas::v1::Search search = CreateSearch(kTrials);
  nas::v1::WatchSearchRequest watch;
  watch.set_search_id(search.id());

  grpc::ClientContext single_context;
  auto single = searches_->WatchSearch(&single_context, watch);
  nas::v1::SearchEvent event;
  ASSERT_TRUE(single->Read(&event));
  std::vector<std::string> one_each = {Describe(event)};
  grpc::ClientContext batched_context;
  auto batched = searches_->WatchSearchBatched(&batched_context, watch);
  nas::v1::SearchEventBatch batch;
  ASSERT_TRUE(batched->Read(&batch));
  ASSERT_EQ(batch.events_size(), 1) << "the snapshot comes alone";
  EXPECT_EQ(batch.events(0).search().spec().name(), "in-process");
  std::vector<std::string> in_batches = {Describe(batch.events(0))};
  int messages = 1;

  // Both streams subscribed (each sent its snapshot): run the search.
  const std::string worker = Register("host-a");
  for (int i = 0; i < kTrials; ++i) {
    const nas::v1::TrialAssignment a = Acquire(worker);
    grpc::ClientContext context;
    nas::v1::ReportProgressRequest report;
    report.set_worker_id(worker);
    report.set_trial_id(a.trial_id());
    report.set_attempt(a.attempt());
    report.mutable_metrics()->set_epoch(1);
    report.mutable_metrics()->set_val_accuracy(0.5);
    nas::v1::ReportProgressResponse reply;
    ASSERT_TRUE(workers_->ReportProgress(&context, report, &reply).ok());
    ASSERT_TRUE(Complete(worker, a, 0.5 + 0.01 * i).ok());
  }

  while (single->Read(&event)) {
    one_each.push_back(Describe(event));
    EXPECT_EQ(event.search().spec().name(), "in-process") << Describe(event);
  }
  ASSERT_TRUE(single->Finish().ok());
  while (batched->Read(&batch)) {
    ++messages;
    EXPECT_GT(batch.events_size(), 0) << "no empty batches";
    for (const auto& e : batch.events()) {
      in_batches.push_back(Describe(e));
      // The spec only where the search is sent whole; the counts always.
      EXPECT_EQ(e.search().has_spec(), e.has_search_done()) << Describe(e);
      EXPECT_EQ(e.search().id(), search.id());
      EXPECT_GT(e.search().counts().running() + e.search().counts().completed(),
                0)
          << Describe(e);
    }
  }
  ASSERT_TRUE(batched->Finish().ok());

  ASSERT_EQ(one_each.size(), 2u + 3u * kTrials);  // snapshot, 3 per trial, done
  EXPECT_EQ(one_each.back(), absl::StrCat("done, best #", kTrials - 1));
  EXPECT_EQ(in_batches, one_each);
  // A trial's three events come within a few milliseconds, well inside the
  // 20 ms a stream lets them gather.
  EXPECT_LT(messages, static_cast<int>(one_each.size()))
      << "every event came in a message of its own";
}

// Counts the reads of a search with its trial counts.
class CountingStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::StatusOr<nas::v1::Search> GetSearch(int64_t id) override {
    ++counted_reads;
    return ForwardingStore::GetSearch(id);
  }
  std::atomic<int> counted_reads{0};
};

class WatchPollTest : public InProcessControllerTest {
 protected:
  std::shared_ptr<TrialStore> Served() override {
    counting_ = std::make_shared<CountingStore>(store_.get());
    return counting_;
  }
  std::shared_ptr<CountingStore> counting_;
};

// A watch stream re-reads its search every 2 s (another replica may end
// it) without the trial counts: on PostgreSQL each counted read sums the
// trial changes since the last fold, and ten watchers of a fleet at full
// speed made five of them a second.
TEST_F(WatchPollTest, AWatcherPollsItsSearchWithoutCountingTrials) {
  const nas::v1::Search search = CreateSearch(2);
  for (const bool batched : {false, true}) {
    SCOPED_TRACE(batched ? "WatchSearchBatched" : "WatchSearch");
    grpc::ClientContext context;
    nas::v1::WatchSearchRequest watch;
    watch.set_search_id(search.id());
    auto single = batched ? nullptr : searches_->WatchSearch(&context, watch);
    auto in_batches =
        batched ? searches_->WatchSearchBatched(&context, watch) : nullptr;
    nas::v1::SearchEvent event;
    nas::v1::SearchEventBatch batch;
    ASSERT_TRUE(batched ? in_batches->Read(&batch) : single->Read(&event))
        << "the snapshot";
    const int before = counting_->counted_reads.load();
    // Past one poll, with nothing happening to the search.
    std::this_thread::sleep_for(std::chrono::milliseconds(2600));
    EXPECT_EQ(counting_->counted_reads.load(), before);
    context.TryCancel();
  }
}

}  // namespace
}  // namespace nas::controller
