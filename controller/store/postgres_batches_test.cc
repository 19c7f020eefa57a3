// Group commit in the PostgreSQL store: one batch that mixes every kind of
// request answers each as a call of its own would.
//
// A test holds a lock on the first caller's trial, so that its batch waits
// in the database while the others queue behind it; they then run as one
// batch, in one statement. The stores' conformance suite covers the same
// calls one at a time.
#include <chrono>
#include <cmath>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "controller/store/store_rules.h"
#include "controller/store/store_test_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr absl::Duration kLease = absl::Minutes(30);

nas::v1::EpochMetrics Epoch(int epoch, double accuracy) {
  nas::v1::EpochMetrics metrics;
  metrics.set_epoch(epoch);
  metrics.set_train_loss(0.5);
  metrics.set_val_loss(0.75);
  metrics.set_val_accuracy(accuracy);
  metrics.set_seconds(2.5);
  return metrics;
}

class PostgresBatchesTest : public StoreTest {
 protected:
  // Runs `first` on its own thread while another connection holds trial
  // `locked`'s row, waits until `rest` (each on its own thread) have all
  // queued behind it for operation `op`, then lets the database go on.
  void RunAsOneBatch(int64_t locked, const std::string& op,
                     const std::function<void()>& first,
                     const std::vector<std::function<void()>>& rest) {
    RunAsOneBatch("SELECT 1 FROM trials WHERE id = " + std::to_string(locked) +
                      " FOR UPDATE",
                  op, first, rest);
  }
  // The same, with the lock that `lock_sql` takes.
  void RunAsOneBatch(const std::string& lock_sql, const std::string& op,
                     const std::function<void()>& first,
                     const std::vector<std::function<void()>>& rest) {
    pqxx::connection holder(db().url());
    auto hold = std::make_unique<pqxx::work>(holder);
    hold->exec(lock_sql);
    const int64_t batches_before = Batching(op).batches;
    std::vector<std::thread> threads;
    threads.emplace_back(first);
    // The first caller's batch has started (and waits on the lock) before
    // anyone else queues.
    while (Batching(op).batches == batches_before) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    for (const std::function<void()>& call : rest) {
      threads.emplace_back(call);
    }
    while (Batching(op).queued != static_cast<int64_t>(rest.size())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    hold->abort();
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(Batching(op).batches, batches_before + 2)
        << "the queued calls ran as one batch";
  }

  DatabaseStats::Batching Batching(const std::string& op) {
    return store().database_stats().batching[op];
  }
};

TEST_F(PostgresBatchesTest, AMixedEpochBatchAnswersEachReportAsAlone) {
  const int64_t search = NewSearch(3, 3);
  // Short, so that its report renews it: the renewal's UPDATE is what
  // waits on the held row.
  const nas::v1::TrialAssignment locked = Lease("w-locked", absl::Minutes(1));
  // Quotes, backslashes and braces survive the array literal.
  const std::string odd_worker = "w\"\\{x},y";
  // Short: the reports extend it.
  const nas::v1::TrialAssignment fine = Lease(odd_worker, absl::Minutes(1));
  const nas::v1::TrialAssignment stale = Lease("w-stale", kLease);
  const int64_t other = NewSearch(1, 1);
  const nas::v1::TrialAssignment cancelled = Lease("w-cancelled", kLease);
  ASSERT_TRUE(store().CancelSearch(other).ok());

  nas::v1::EpochMetrics diverged = Epoch(2, 0.1);
  diverged.set_train_loss(std::nan(""));
  absl::StatusOr<EpochAck> first, ok1, ok1_again, ok2, stale_ack, stopped,
      unknown;
  RunAsOneBatch(
      locked.trial_id(), "epochs",
      [&] {
        first =
            store().RecordEpoch(Ref(locked, "w-locked"), Epoch(1, 0.2), kLease);
      },
      {[&] {
         ok1 =
             store().RecordEpoch(Ref(fine, odd_worker), Epoch(1, 0.3), kLease);
       },
       // The same epoch twice in one batch: stored once, both told OK.
       [&] {
         ok1_again =
             store().RecordEpoch(Ref(fine, odd_worker), Epoch(1, 0.3), kLease);
       },
       [&] {
         ok2 = store().RecordEpoch(Ref(fine, odd_worker), diverged, kLease);
       },
       [&] {
         LeaseRef ref = Ref(stale, "w-stale");
         ref.attempt += 1;
         stale_ack = store().RecordEpoch(ref, Epoch(1, 0.4), kLease);
       },
       [&] {
         stopped = store().RecordEpoch(Ref(cancelled, "w-cancelled"),
                                       Epoch(1, 0.5), kLease);
       },
       [&] {
         unknown = store().RecordEpoch(LeaseRef{"w", 987654321, 1},
                                       Epoch(1, 0.6), kLease);
       }});

  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->stop);
  EXPECT_EQ(first->search_id, search);
  for (const absl::StatusOr<EpochAck>* ack : {&ok1, &ok1_again, &ok2}) {
    ASSERT_TRUE(ack->ok()) << ack->status();
    EXPECT_FALSE((*ack)->stop);
    EXPECT_EQ((*ack)->search_id, search);
    EXPECT_EQ((*ack)->trial_number, fine.trial_number());
    EXPECT_EQ((*ack)->kind, nas::v1::TRIAL_KIND_TRAIN);
  }
  EXPECT_EQ(stale_ack.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(stale_ack.status().message(), "stale"))
      << stale_ack.status();
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_TRUE(stopped->stop) << "a cancelled trial is told to stop";
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);

  const nas::v1::Trial stored = GetTrial(search, fine.trial_number());
  ASSERT_EQ(stored.epochs_size(), 2);
  EXPECT_DOUBLE_EQ(stored.epochs(0).val_accuracy(), 0.3);
  EXPECT_TRUE(std::isnan(stored.epochs(1).train_loss()));
  EXPECT_EQ(stored.worker_id(), odd_worker);
  EXPECT_EQ(GetTrial(search, stale.trial_number()).epochs_size(), 0);
  EXPECT_EQ(GetTrial(other, 0).epochs_size(), 0);
  EXPECT_EQ(db().Query("SELECT count(*) FROM trial_epochs")[0][0].as<int>(), 3);
  // The reports extended the lease from one minute to the reports' 30.
  EXPECT_GT(LeaseLeft(fine.trial_id()), kLease - absl::Minutes(5));
}

// A report with more than half of its lease left stores its epoch and
// leaves the trial's row as it was: no new row version, no index entries.
TEST_F(PostgresBatchesTest, AReportThatKeepsItsLeaseWritesNoTrialRowVersion) {
  NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w", kLease);
  const std::string row_version = "SELECT ctid::text FROM trials WHERE id = " +
                                  std::to_string(a.trial_id());
  const std::string before = db().Query(row_version)[0][0].c_str();
  ASSERT_TRUE(store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.5), kLease).ok());
  EXPECT_EQ(db().Query(row_version)[0][0].c_str(), before)
      << "a report that kept its lease updated the trial";
  // Under a lease more than twice as long, the renewal is due: a new
  // version.
  ASSERT_TRUE(store().RecordEpoch(Ref(a, "w"), Epoch(2, 0.6), 3 * kLease).ok());
  EXPECT_NE(db().Query(row_version)[0][0].c_str(), before);
  EXPECT_EQ(db().Query("SELECT count(*) FROM trial_epochs")[0][0].as<int>(), 2);
}

TEST_F(PostgresBatchesTest, AMixedCompletionBatchAnswersEachAsAlone) {
  const int64_t search = NewSearch(3, 3);
  const nas::v1::TrialAssignment locked = Lease("w-locked", kLease);
  const nas::v1::TrialAssignment fine = Lease("w-fine", kLease);
  const nas::v1::TrialAssignment stale = Lease("w-stale", kLease);
  const int64_t other = NewSearch(1, 1);
  const nas::v1::TrialAssignment cancelled = Lease("w-cancelled", kLease);
  ASSERT_TRUE(store().CancelSearch(other).ok());
  ASSERT_TRUE(
      store().RecordEpoch(Ref(fine, "w-fine"), Epoch(1, 0.25), kLease).ok());

  nas::v1::TrialMetrics measured;
  measured.set_val_accuracy(0.1 + 0.2);
  measured.set_test_accuracy(0.875);
  measured.set_params(123456789012);
  nas::v1::TrialMetrics other_numbers = measured;
  other_numbers.set_val_accuracy(0.5);
  absl::StatusOr<Completion> first, done1, done2, stale_done, cancelled_done,
      unknown;
  RunAsOneBatch(locked.trial_id(), "completions",
                [&] {
                  first = store().CompleteTrialAndGet(Ref(locked, "w-locked"),
                                                      {}, nullptr);
                },
                {[&] {
                   done1 = store().CompleteTrialAndGet(Ref(fine, "w-fine"),
                                                       measured, nullptr);
                 },
                 // A retry racing the first call, in the same batch.
                 [&] {
                   done2 = store().CompleteTrialAndGet(Ref(fine, "w-fine"),
                                                       other_numbers, nullptr);
                 },
                 [&] {
                   LeaseRef ref = Ref(stale, "w-stale");
                   ref.worker_id = "w-other";
                   stale_done =
                       store().CompleteTrialAndGet(ref, measured, nullptr);
                 },
                 [&] {
                   cancelled_done = store().CompleteTrialAndGet(
                       Ref(cancelled, "w-cancelled"), measured, nullptr);
                 },
                 [&] {
                   unknown = store().CompleteTrialAndGet(
                       LeaseRef{"w", 987654321, 1}, {}, nullptr);
                 }});

  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->ended);
  ASSERT_TRUE(done1.ok()) << done1.status();
  ASSERT_TRUE(done2.ok()) << done2.status();
  ASSERT_NE(done1->ended, done2->ended) << "exactly one call ended it";
  const Completion& ender = done1->ended ? *done1 : *done2;
  const nas::v1::TrialMetrics& kept = done1->ended ? measured : other_numbers;
  const nas::v1::Trial stored = GetTrial(search, fine.trial_number());
  EXPECT_EQ(stored.state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_TRUE(MessageDifferencer::Equals(stored.metrics(), kept))
      << stored.metrics().DebugString();
  ASSERT_TRUE(ender.ending.has_value()) << "returned by the batch's UPDATE";
  EXPECT_TRUE(MessageDifferencer::Equals(*ender.ending, TrialEnding(stored)))
      << ender.ending->DebugString() << "\nvs\n"
      << stored.DebugString();

  EXPECT_EQ(stale_done.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetTrial(search, stale.trial_number()).state(),
            nas::v1::TRIAL_STATE_RUNNING);
  EXPECT_EQ(cancelled_done.status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(GetTrial(other, 0).state(), nas::v1::TRIAL_STATE_CANCELLED);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

// Of one batch's completions, those of watched searches are read whole,
// curves included, by one more statement in the batch; the others are
// answered with their endings.
TEST_F(PostgresBatchesTest, OnlyWatchedSearchesTrialsAreReadWhole) {
  const int64_t watched = NewSearch(2, 2);
  const nas::v1::TrialAssignment locked = Lease("w-locked", kLease);
  const nas::v1::TrialAssignment seen = Lease("w-seen", kLease);
  const int64_t unwatched = NewSearch(1, 1);
  const nas::v1::TrialAssignment unseen = Lease("w-unseen", kLease);
  ASSERT_EQ(unseen.search_id(), unwatched);
  for (const auto& [a, worker] :
       {std::pair(seen, "w-seen"), std::pair(unseen, "w-unseen")}) {
    ASSERT_TRUE(
        store().RecordEpoch(Ref(a, worker), Epoch(1, 0.25), kLease).ok());
    ASSERT_TRUE(
        store().RecordEpoch(Ref(a, worker), Epoch(2, 0.5), kLease).ok());
  }
  const ReadsWhole reads_whole = [&](int64_t search_id) {
    return search_id == watched;
  };
  nas::v1::TrialMetrics measured;
  measured.set_val_accuracy(0.5);
  absl::StatusOr<Completion> first, whole, ending;
  RunAsOneBatch(locked.trial_id(), "completions",
                [&] {
                  first = store().CompleteTrialAndGet(Ref(locked, "w-locked"),
                                                      measured, nullptr);
                },
                {[&] {
                   whole = store().CompleteTrialAndGet(Ref(seen, "w-seen"),
                                                       measured, reads_whole);
                 },
                 [&] {
                   ending = store().CompleteTrialAndGet(Ref(unseen, "w-unseen"),
                                                        measured, reads_whole);
                 }});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->whole) << "its caller did not ask";
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(whole->ending.has_value());
  EXPECT_TRUE(whole->whole);
  const nas::v1::Trial stored = GetTrial(watched, seen.trial_number());
  EXPECT_EQ(stored.epochs_size(), 2);
  EXPECT_TRUE(MessageDifferencer::Equals(*whole->ending, stored))
      << whole->ending->DebugString() << "\nvs\n"
      << stored.DebugString();
  ASSERT_TRUE(ending.ok()) << ending.status();
  ASSERT_TRUE(ending->ending.has_value());
  EXPECT_FALSE(ending->whole);
  EXPECT_EQ(ending->ending->epochs_size(), 0);
  EXPECT_TRUE(MessageDifferencer::Equals(*ending->ending,
                                         TrialEnding(GetTrial(unwatched, 0))));
}

// One request the database refuses (a worker id that is not UTF-8) fails
// its whole batch's statement; the others are then written one by one and
// land, and only that request gets the error.
TEST_F(PostgresBatchesTest, ABatchThatFailsAsAWholeIsRetriedRequestByRequest) {
  NewSearch(3, 3);
  const nas::v1::TrialAssignment locked = Lease("w-locked", kLease);
  const nas::v1::TrialAssignment fine = Lease("w-fine", kLease);
  absl::StatusOr<Completion> first, done, refused;
  RunAsOneBatch(
      locked.trial_id(), "completions",
      [&] {
        first =
            store().CompleteTrialAndGet(Ref(locked, "w-locked"), {}, nullptr);
      },
      {[&] {
         done = store().CompleteTrialAndGet(Ref(fine, "w-fine"), {}, nullptr);
       },
       [&] {
         refused = store().CompleteTrialAndGet(
             LeaseRef{"w-\xff", fine.trial_id(), 1}, {}, nullptr);
       }});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->ended);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->ended);
  ASSERT_TRUE(done->ending.has_value());
  EXPECT_EQ(done->ending->state(), nas::v1::TRIAL_STATE_COMPLETED);
  EXPECT_FALSE(refused.ok());
}

// The reports a batch refused are explained by a plain read of the trial:
// another transaction's lock on its row (a lease check, a batch writing
// it) does not hold them up.
TEST_F(PostgresBatchesTest, ARefusalIsExplainedWithoutWaitingForTheRowLock) {
  NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w", kLease);
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(0.5);
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), metrics).value_or(false));

  pqxx::connection holder(db().url());
  auto hold = std::make_unique<pqxx::work>(holder);
  hold->exec("SELECT 1 FROM trials WHERE id = " + std::to_string(a.trial_id()) +
             " FOR UPDATE");
  auto repeat = std::async(std::launch::async, [&] {
    return store().CompleteTrial(Ref(a, "w"), metrics);
  });
  auto late_epoch = std::async(std::launch::async, [&] {
    return store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.5), kLease);
  });
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(10);
  const bool answered =
      repeat.wait_until(deadline) == std::future_status::ready &&
      late_epoch.wait_until(deadline) == std::future_status::ready;
  hold->abort();  // lets a call that waited for the lock finish
  EXPECT_TRUE(answered) << "a refusal waited for another transaction's lock";
  const absl::StatusOr<bool> repeated = repeat.get();
  ASSERT_TRUE(repeated.ok()) << repeated.status();
  EXPECT_FALSE(*repeated) << "a repeat of the completion";
  const absl::StatusOr<EpochAck> epoch = late_epoch.get();
  EXPECT_EQ(epoch.status().code(), absl::StatusCode::kFailedPrecondition)
      << epoch.status();
}

nas::v1::RegisterWorkerRequest ChainWorker(
    const std::string& name, std::vector<nas::v1::DatasetName> data) {
  nas::v1::RegisterWorkerRequest worker;
  worker.set_host("host-1");
  worker.set_name(name);
  nas::v1::Capability* can = worker.mutable_capabilities()->add_can_run();
  can->set_space(nas::v1::SPACE_KIND_CHAIN);
  for (nas::v1::DatasetName d : data) can->add_datasets(d);
  return worker;
}

TEST_F(PostgresBatchesTest, ALeaseBatchGivesEachWorkerOnlyTrialsItCanRun) {
  // Spec(): a chain search on Fashion-MNIST.
  const int64_t search = NewSearch(4, 4);
  auto register_worker = [&](const nas::v1::RegisterWorkerRequest& w) {
    absl::StatusOr<std::string> id = store().RegisterWorker(w);
    EXPECT_TRUE(id.ok()) << id.status();
    return id.value_or("");
  };
  const std::string cifar =
      register_worker(ChainWorker("cifar", {nas::v1::DATASET_NAME_CIFAR10}));
  const std::string fashion1 =
      register_worker(ChainWorker("f1", {nas::v1::DATASET_NAME_FASHION_MNIST}));
  const std::string fashion2 =
      register_worker(ChainWorker("f2", {nas::v1::DATASET_NAME_FASHION_MNIST}));
  using Leased = absl::StatusOr<std::optional<nas::v1::TrialAssignment>>;
  // Unregistered ids are offered everything: four workers that can run the
  // three trials left after the first caller's, and one that can run none.
  const std::vector<std::string> workers = {cifar, fashion1, "w-unknown",
                                            fashion2, "w-late"};
  std::vector<Leased> leased(workers.size());
  Leased first;
  std::vector<std::function<void()>> rest;
  for (size_t i = 0; i < workers.size(); ++i) {
    rest.push_back([&, i] {
      leased[i] = store().LeaseTrial(workers[i], absl::Seconds(30));
    });
  }
  // Leasing reads the workers' capabilities first: held off by a table lock.
  RunAsOneBatch(
      "LOCK TABLE workers IN ACCESS EXCLUSIVE MODE", "leases",
      [&] { first = store().LeaseTrial("w-first", absl::Seconds(30)); }, rest);

  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  std::set<int64_t> trials = {(*first)->trial_id()};
  int got = 0;
  for (size_t i = 0; i < workers.size(); ++i) {
    ASSERT_TRUE(leased[i].ok()) << workers[i] << ": " << leased[i].status();
    if (!leased[i]->has_value()) continue;
    ++got;
    const nas::v1::TrialAssignment& a = **leased[i];
    EXPECT_NE(workers[i], cifar) << "a CIFAR-10 worker got a Fashion trial";
    EXPECT_TRUE(trials.insert(a.trial_id()).second) << "leased twice";
    EXPECT_EQ(a.search_id(), search);
    EXPECT_EQ(a.attempt(), 1);
    EXPECT_EQ(a.lease_seconds(), 30);
    const nas::v1::Trial stored = GetTrial(search, a.trial_number());
    EXPECT_EQ(stored.state(), nas::v1::TRIAL_STATE_RUNNING);
    EXPECT_EQ(stored.worker_id(), workers[i]);
  }
  EXPECT_EQ(got, 3) << "every trial left went to a worker that can run it";
}

// A worker's capabilities never change, so leasing reads them once per
// worker: with the workers table locked, known workers still lease, each
// only what it can run.
TEST_F(PostgresBatchesTest, LeasingReadsAWorkersCapabilitiesOnce) {
  const int64_t search = NewSearch(4, 4);  // chain, Fashion-MNIST
  absl::StatusOr<std::string> cifar =
      store().RegisterWorker(ChainWorker("c", {nas::v1::DATASET_NAME_CIFAR10}));
  absl::StatusOr<std::string> fashion = store().RegisterWorker(
      ChainWorker("f", {nas::v1::DATASET_NAME_FASHION_MNIST}));
  ASSERT_TRUE(cifar.ok() && fashion.ok());
  using Leased = absl::StatusOr<std::optional<nas::v1::TrialAssignment>>;
  auto lease = [&](const std::string& worker) {
    return store().LeaseTrial(worker, absl::Seconds(30));
  };
  ASSERT_TRUE(lease(*cifar).ok());
  ASSERT_TRUE(lease(*fashion).ok());

  pqxx::connection holder(db().url());
  pqxx::work hold(holder);
  hold.exec("LOCK TABLE workers IN ACCESS EXCLUSIVE MODE");
  std::future<std::pair<Leased, Leased>> leased =
      std::async(std::launch::async, [&] {
        Leased c = lease(*cifar);
        return std::pair(std::move(c), lease(*fashion));
      });
  const bool waited_on_the_table =
      leased.wait_for(std::chrono::seconds(20)) != std::future_status::ready;
  hold.abort();
  EXPECT_FALSE(waited_on_the_table) << "leasing read the workers table again";
  auto [c, f] = leased.get();
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_FALSE(c->has_value()) << "a CIFAR-10 worker got a Fashion trial";
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE(f->has_value());
  EXPECT_EQ((*f)->search_id(), search);
}

// A completion answers with the trial's ending from its UPDATE: it reads
// neither the trial back nor its curve (trial_epochs locked here), which
// cost each lifecycle two statements and the parsing of its JSON.
TEST_F(PostgresBatchesTest, ACompletionReadsNoCurveBack) {
  NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w", kLease);
  ASSERT_TRUE(store().RecordEpoch(Ref(a, "w"), Epoch(1, 0.5), kLease).ok());
  nas::v1::TrialMetrics measured;
  measured.set_val_accuracy(0.75);

  pqxx::connection holder(db().url());
  pqxx::work hold(holder);
  hold.exec("LOCK TABLE trial_epochs IN ACCESS EXCLUSIVE MODE");
  std::future<absl::StatusOr<Completion>> completed =
      std::async(std::launch::async, [&] {
        return store().CompleteTrialAndGet(Ref(a, "w"), measured, nullptr);
      });
  const bool waited_on_the_table =
      completed.wait_for(std::chrono::seconds(10)) != std::future_status::ready;
  hold.abort();
  EXPECT_FALSE(waited_on_the_table) << "the completion read the curve";
  absl::StatusOr<Completion> done = completed.get();
  ASSERT_TRUE(done.ok()) << done.status();
  ASSERT_TRUE(done->ended);
  ASSERT_TRUE(done->ending.has_value());
  absl::StatusOr<nas::v1::Trial> stored = store().GetTrial(a.trial_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*done->ending, TrialEnding(*stored)))
      << done->ending->DebugString() << "\nvs\n"
      << stored->DebugString();
  EXPECT_EQ(done->ending->worker_id(), "w");
  EXPECT_TRUE(done->ending->has_started_at());
  EXPECT_TRUE(done->ending->has_finished_at());
}

// Many workers at once, every answer checked against what was stored: the
// batches (whatever they were) lose, double and mix up nothing.
TEST_F(PostgresBatchesTest, ConcurrentWorkersEachLandOnce) {
  constexpr int kWorkers = 24;
  constexpr int kEpochs = 3;
  const int64_t search = NewSearch(kWorkers, kWorkers);
  std::vector<nas::v1::TrialAssignment> leases;
  for (int w = 0; w < kWorkers; ++w) {
    leases.push_back(Lease("w-" + std::to_string(w), kLease));
  }
  std::vector<int> ended(kWorkers, 0);
  std::vector<std::string> errors(kWorkers);
  std::vector<std::thread> threads;
  for (int w = 0; w < kWorkers; ++w) {
    threads.emplace_back([&, w] {
      const LeaseRef ref = Ref(leases[w], "w-" + std::to_string(w));
      for (int e = 1; e <= kEpochs; ++e) {
        absl::StatusOr<EpochAck> ack =
            store().RecordEpoch(ref, Epoch(e, w / 100.0 + e / 1000.0), kLease);
        if (!ack.ok() || ack->stop) {
          errors[w] = ack.ok() ? "told to stop" : ack.status().ToString();
          return;
        }
      }
      nas::v1::TrialMetrics metrics;
      metrics.set_val_accuracy(w / 100.0);
      // Twice, as a worker that lost the first reply does.
      for (int i = 0; i < 2; ++i) {
        absl::StatusOr<Completion> done =
            store().CompleteTrialAndGet(ref, metrics, nullptr);
        if (!done.ok()) {
          errors[w] = done.status().ToString();
          return;
        }
        ended[w] += done->ended ? 1 : 0;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (int w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(errors[w], "") << "worker " << w;
    EXPECT_EQ(ended[w], 1) << "worker " << w;
    const nas::v1::Trial trial = GetTrial(search, leases[w].trial_number());
    EXPECT_EQ(trial.state(), nas::v1::TRIAL_STATE_COMPLETED);
    EXPECT_DOUBLE_EQ(trial.metrics().val_accuracy(), w / 100.0);
    ASSERT_EQ(trial.epochs_size(), kEpochs);
    for (int e = 1; e <= kEpochs; ++e) {
      EXPECT_DOUBLE_EQ(trial.epochs(e - 1).val_accuracy(),
                       w / 100.0 + e / 1000.0);
    }
  }
  EXPECT_EQ(Batching("epochs").requests, kWorkers * kEpochs);
  EXPECT_EQ(Batching("completions").requests, 2 * kWorkers);
}

}  // namespace
}  // namespace nas::controller::testing
