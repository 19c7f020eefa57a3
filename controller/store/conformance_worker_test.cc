// Workers' names and capabilities, capability-matched leasing, lease
// renewal (the heartbeat), worker faults (ReleaseTrial) and the running
// search's state_reason in every TrialStore.
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "controller/store/capability_tokens.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

using WorkerTest = AnyStoreTest;
INSTANTIATE_FOR_EVERY_STORE(WorkerTest);

// Past a 1 s lease, by the database's clock as well.
constexpr absl::Duration kPastShortLease = absl::Milliseconds(1300);

nas::v1::RegisterWorkerRequest Worker(const std::string& name,
                                      nas::v1::SpaceKind space,
                                      std::vector<nas::v1::DatasetName> data,
                                      const std::string& estimator) {
  nas::v1::RegisterWorkerRequest worker;
  worker.set_host("host-1");
  worker.set_name(name);
  worker.set_device_type(nas::v1::DEVICE_TYPE_CPU);
  nas::v1::Capabilities* caps = worker.mutable_capabilities();
  caps->set_estimator(estimator);
  nas::v1::Capability* c = caps->add_can_run();
  c->set_space(space);
  for (nas::v1::DatasetName d : data) c->add_datasets(d);
  return worker;
}

std::string RegisterOrFail(TrialStore& store,
                           const nas::v1::RegisterWorkerRequest& worker) {
  absl::StatusOr<std::string> id = store.RegisterWorker(worker);
  EXPECT_TRUE(id.ok()) << id.status();
  return id.ok() ? *id : "";
}

TEST_P(WorkerTest, RegisterStoresNameAndCapabilities) {
  const std::string tabular = RegisterOrFail(
      store(), Worker("bench-1", nas::v1::SPACE_KIND_NB201, {}, "tabular"));
  nas::v1::RegisterWorkerRequest legacy;
  legacy.set_host("old-host");  // no name, no capabilities: an older worker
  const std::string old = RegisterOrFail(store(), legacy);

  auto live = store().ListLiveWorkers(absl::Minutes(1));
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->size(), 2u);
  const LiveWorker& t = (*live)[0].id == tabular ? (*live)[0] : (*live)[1];
  const LiveWorker& o = (*live)[0].id == old ? (*live)[0] : (*live)[1];
  EXPECT_EQ(t.name, "bench-1");
  EXPECT_EQ(t.estimator, "tabular");
  ASSERT_TRUE(t.capabilities.has_value());
  EXPECT_EQ(*t.capabilities,
            (std::vector<std::string>{"nb201:*:RETRAIN", "nb201:*:TRAIN"}));
  EXPECT_EQ(o.name, "old-host") << "the name defaults to the host";
  EXPECT_FALSE(o.capabilities.has_value());
  if (postgres()) {
    EXPECT_EQ(db().Query("SELECT name FROM workers WHERE id = '" + tabular +
                         "'")[0][0]
                  .c_str(),
              std::string("bench-1"));
  }

  PassTime(absl::Milliseconds(300));
  ASSERT_TRUE(store().TouchWorker(tabular).ok());
  live = store().ListLiveWorkers(absl::Milliseconds(200));
  ASSERT_TRUE(live.ok());
  ASSERT_EQ(live->size(), 1u) << "only the worker seen recently";
  EXPECT_EQ((*live)[0].id, tabular);
}

TEST_P(WorkerTest, TrialsAreLeasedOnlyToWorkersThatCanRunThem) {
  // Spec(): a chain search on Fashion-MNIST.
  const int64_t id = NewSearch(2, 2);
  const std::string tabular = RegisterOrFail(
      store(), Worker("tab", nas::v1::SPACE_KIND_NB201, {}, "tabular"));
  const std::string cifar =
      RegisterOrFail(store(), Worker("cifar", nas::v1::SPACE_KIND_CHAIN,
                                     {nas::v1::DATASET_NAME_CIFAR10}, "torch"));
  const std::string fashion = RegisterOrFail(
      store(),
      Worker("fashion", nas::v1::SPACE_KIND_CHAIN,
             {nas::v1::DATASET_NAME_MNIST, nas::v1::DATASET_NAME_FASHION_MNIST},
             "torch"));
  nas::v1::RegisterWorkerRequest nothing;
  nothing.set_host("h");
  nothing.mutable_capabilities()->set_estimator("torch");  // no data at all
  const std::string empty = RegisterOrFail(store(), nothing);

  for (const std::string& w : {tabular, cifar, empty}) {
    auto none = store().LeaseTrial(w, absl::Seconds(30));
    ASSERT_TRUE(none.ok()) << none.status();
    EXPECT_FALSE(none->has_value()) << w << " cannot run a chain/FASHION trial";
  }
  const nas::v1::TrialAssignment a = Lease(fashion);
  EXPECT_EQ(a.search_id(), id);
  // An unregistered id (and an older worker) is offered everything.
  const nas::v1::TrialAssignment b = Lease("w-unknown");
  EXPECT_EQ(b.trial_number(), 1);
}

TEST_P(WorkerTest, RenewLeaseKeepsTheLeaseAndTellsAboutCancellation) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w", absl::Seconds(1));
  for (int i = 0; i < 3; ++i) {
    PassTime(absl::Milliseconds(500));
    auto ack = store().RenewLease(Ref(a, "w"), absl::Seconds(1));
    ASSERT_TRUE(ack.ok()) << ack.status();
    EXPECT_FALSE(ack->stop);
    auto expired = store().ExpireLeases();
    ASSERT_TRUE(expired.ok());
    EXPECT_EQ(*expired, 0) << "renewed at " << i;
  }
  EXPECT_EQ(
      store().RenewLease(Ref(a, "other"), absl::Seconds(1)).status().code(),
      absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store().CancelSearch(id).ok());
  auto ack = store().RenewLease(Ref(a, "w"), absl::Seconds(1));
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_TRUE(ack->stop);
}

TEST_P(WorkerTest, RenewLeaseCannotRenewAnExpiredLease) {
  NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w", absl::Seconds(1));
  PassTime(kPastShortLease);
  ASSERT_TRUE(store().ExpireLeases().ok());
  EXPECT_EQ(store().RenewLease(Ref(a, "w"), absl::Seconds(1)).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_P(WorkerTest, WorkerFaultRequeuesUntilMaxAttempts) {
  const int64_t id = NewSearch(1, 1, /*max_attempts=*/2);
  const nas::v1::TrialAssignment first = Lease("w-a");
  auto state = store().ReleaseTrial(Ref(first, "w-a"), "cannot open data\n");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, nas::v1::TRIAL_STATE_PENDING);
  nas::v1::Trial trial = GetTrial(id, 0);
  EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(trial.worker_id(), "");
  // A retried release of the same attempt changes nothing.
  state = store().ReleaseTrial(Ref(first, "w-a"), "cannot open data");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, nas::v1::TRIAL_STATE_PENDING);
  EXPECT_EQ(GetTrial(id, 0).reason(), trial.reason());

  const nas::v1::TrialAssignment second = Lease("w-b");
  EXPECT_EQ(second.attempt(), 2);
  EXPECT_EQ(store().ReleaseTrial(Ref(first, "w-a"), "late").status().code(),
            absl::StatusCode::kFailedPrecondition)
      << "a release from an old lease is stale";
  state = store().ReleaseTrial(Ref(second, "w-b"), "CUDA out of memory");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, nas::v1::TRIAL_STATE_FAILED);
  trial = GetTrial(id, 0);
  EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_FAILED);
  EXPECT_TRUE(trial.has_finished_at());
  EXPECT_EQ(trial.reason(),
            "attempt 1 on worker w-a: worker fault: cannot open data\n"
            "attempt 2 on worker w-b: worker fault: CUDA out of memory");
  state = store().ReleaseTrial(Ref(second, "w-b"), "CUDA out of memory");
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(*state, nas::v1::TRIAL_STATE_FAILED) << "idempotent";
}

TEST_P(WorkerTest, ReasonsHaveNoTrailingNewline) {
  const int64_t id = NewSearch(2, 2, /*max_attempts=*/3);
  const nas::v1::TrialAssignment a = Lease("w-a", absl::Seconds(1));
  PassTime(kPastShortLease);
  ASSERT_TRUE(store().ExpireLeases().ok());
  const nas::v1::TrialAssignment b = Lease("w-b");
  ASSERT_EQ(b.trial_id(), a.trial_id());
  ASSERT_TRUE(store().FailTrial(Ref(b, "w-b"), "diverged").ok());
  EXPECT_EQ(GetTrial(id, 0).reason(),
            "attempt 1 on worker w-a: lease expired\n"
            "attempt 2 on worker w-b: diverged");
  ASSERT_TRUE(store().CancelSearch(id).ok());
  EXPECT_EQ(GetTrial(id, 1).reason(), "cancelled with its search");
}

TEST_P(WorkerTest, RunningSearchReasonIsSetAndClearedOnlyWhileRunning) {
  const int64_t id = NewSearch(1, 0);
  auto set = store().SetRunningSearchReason(id, "no connected worker");
  ASSERT_TRUE(set.ok()) << set.status();
  EXPECT_TRUE(*set);
  auto search = store().GetSearch(id);
  ASSERT_TRUE(search.ok());
  EXPECT_EQ(search->state_reason(), "no connected worker");
  ASSERT_TRUE(store().SetRunningSearchReason(id, "").ok());
  EXPECT_EQ(store().GetSearch(id)->state_reason(), "");

  auto ended =
      store().EndSearch(id, nas::v1::SEARCH_STATE_FAILED, "every attempt");
  ASSERT_TRUE(ended.ok() && *ended);
  set = store().SetRunningSearchReason(id, "other");
  ASSERT_TRUE(set.ok());
  EXPECT_FALSE(*set);
  EXPECT_EQ(store().GetSearch(id)->state_reason(), "every attempt");
  EXPECT_EQ(store().SetRunningSearchReason(999999, "x").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace nas::controller::testing
