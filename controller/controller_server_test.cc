// The whole controller in the test's process: a ControllerServer on a
// MemoryStore and a FakeClock, called over real gRPC on loopback. No
// database, no subprocess, and no waiting for a lease to run out: the test
// moves the clock.
#include "controller/controller_server.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/memory_store/memory_store.h"
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
  void SetUp() override {
    store_ = std::make_shared<MemoryStore>(&clock_);
    ControllerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.security.plaintext = true;
    options.lease = kLease;
    options.maintenance_interval = absl::Milliseconds(5);
    options.clock = &clock_;
    auto server = ControllerServer::Start(options, {store_, store_});
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

}  // namespace
}  // namespace nas::controller
