// The pruning book against a real PostgreSQL (NAS_TEST_DATABASE_URL): a book
// built after a restart, from the stored reports alone, makes the same stop
// and promotion decisions as the book that saw every report.
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "controller/store/forwarding_store.h"
#include "controller/pruning/pruning_book.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

using PruningBookTest = StoreTest;

constexpr absl::Duration kLongLease = absl::Minutes(30);

struct Outcome {
  bool stop = false;
  std::optional<int> rung;
  std::string reason;
  bool operator==(const Outcome& o) const {
    return stop == o.stop && rung == o.rung && reason == o.reason;
  }
};

TEST_F(PruningBookTest, ARestartedBookDecidesAsTheOneBefore) {
  for (const char* rule : {"asha", "hyperband", "median"}) {
    SCOPED_TRACE(rule);
    nas::v1::SearchSpec spec = Spec(rule, 12);
    spec.mutable_training()->set_epochs(4);
    nas::v1::EarlyStoppingSpec* es = spec.mutable_early_stopping();
    if (std::string(rule) == "asha") {
      es->mutable_asha()->set_min_epochs(1);
      es->mutable_asha()->set_max_epochs(4);
      es->mutable_asha()->set_reduction_factor(2);
    } else if (std::string(rule) == "hyperband") {
      es->mutable_hyperband()->set_min_epochs(1);
      es->mutable_hyperband()->set_max_epochs(4);
      es->mutable_hyperband()->set_reduction_factor(2);
    } else {
      es->mutable_median()->set_warmup_epochs(1);
      es->mutable_median()->set_min_trials(2);
    }
    auto search = store().CreateSearch(spec, "");
    ASSERT_TRUE(search.ok()) << search.status();
    std::vector<NewTrial> trials;
    for (int i = 0; i < 12; ++i) trials.push_back(Trial(i));
    ASSERT_TRUE(store().AddTrials(search->id(), 0, trials).ok());
    std::vector<nas::v1::TrialAssignment> leases;
    for (int i = 0; i < 12; ++i) leases.push_back(Lease("w", kLongLease));

    // Trials report epoch by epoch, interleaved; the uninterrupted book
    // decides every report, the restarted one is built halfway through.
    PruningBook uninterrupted(&store());
    std::unique_ptr<PruningBook> restarted;
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<double> noise(0, 0.2);
    std::vector<bool> stopped(12, false);
    int reports = 0, stops = 0, promotions = 0;
    for (int epoch = 1; epoch <= 4; ++epoch) {
      for (int i = 0; i < 12; ++i) {
        if (stopped[i]) continue;
        nas::v1::EpochMetrics m;
        m.set_epoch(epoch);
        m.set_val_accuracy(0.5 + 0.02 * i + 0.05 * epoch + noise(rng));
        m.set_val_loss(1.0);
        const LeaseRef ref = Ref(leases[i], "w");
        auto ack = store().RecordEpoch(ref, m, kLongLease);
        ASSERT_TRUE(ack.ok()) << ack.status();
        if (++reports == 20) {
          restarted = std::make_unique<PruningBook>(&store());
        }
        auto a = uninterrupted.Decide(ack->search_id, ref.trial_id,
                                      ack->trial_number, m);
        ASSERT_TRUE(a.ok()) << a.status();
        ASSERT_TRUE(a->has_value());
        if (restarted != nullptr) {
          auto b = restarted->Decide(ack->search_id, ref.trial_id,
                                     ack->trial_number, m);
          ASSERT_TRUE(b.ok()) << b.status();
          ASSERT_TRUE(b->has_value());
          EXPECT_EQ((Outcome{(*a)->stop, (*a)->rung, (*a)->reason}),
                    (Outcome{(*b)->stop, (*b)->rung, (*b)->reason}))
              << "trial " << i << " epoch " << epoch;
        }
        if ((*a)->stop) {
          stopped[i] = true;
          ++stops;
          nas::v1::TrialMetrics last;
          last.set_val_accuracy(m.val_accuracy());
          ASSERT_TRUE(store()
                          .StopTrial(ref, (*a)->reason, last, (*a)->rung,
                                     /*paused=*/false)
                          .ok());
        } else if ((*a)->rung.has_value()) {
          ++promotions;
        }
      }
    }
    EXPECT_GT(stops, 0);
    if (std::string(rule) != "median") {
      EXPECT_GT(promotions, 0);
    }
  }
}

TEST_F(PruningBookTest, NoRuleNoDecision) {
  const int64_t id = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w", kLongLease);
  nas::v1::EpochMetrics m;
  m.set_epoch(1);
  m.set_val_accuracy(0.5);
  PruningBook book(&store());
  auto d = book.Decide(id, a.trial_id(), 0, m);
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->has_value());
  EXPECT_EQ(book.Decide(id + 1000, a.trial_id(), 0, m).status().code(),
            absl::StatusCode::kNotFound);
}

// Reading one search's reports (long, for a big search after a restart)
// must not hold up decisions for other searches.
class SlowReportsStore : public ForwardingStore {
 public:
  SlowReportsStore(TrialStore* inner, int64_t slow_search)
      : ForwardingStore(inner), slow_search_(slow_search) {}
  absl::StatusOr<std::vector<EpochReport>> ListEpochReports(
      int64_t search_id) override {
    if (search_id == slow_search_) {
      absl::MutexLock lock(&mu_);
      reading_ = true;
      // Until the other search was decided, or 20 s: with the book's lock
      // held here the other decision could not happen, and the test fails
      // after the wait instead of hanging.
      mu_.AwaitWithTimeout(absl::Condition(&other_decided_), absl::Seconds(20));
      decided_while_reading_ = other_decided_;
    }
    return ForwardingStore::ListEpochReports(search_id);
  }
  void WaitUntilReading() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&reading_));
  }
  void OtherDecided() {
    absl::MutexLock lock(&mu_);
    other_decided_ = true;
  }
  bool decided_while_reading() {
    absl::MutexLock lock(&mu_);
    return decided_while_reading_;
  }

 private:
  const int64_t slow_search_;
  absl::Mutex mu_;
  bool reading_ = false;
  bool other_decided_ = false;
  bool decided_while_reading_ = false;
};

TEST_F(PruningBookTest, ASearchBeingRebuiltDoesNotBlockOthers) {
  std::vector<int64_t> ids;
  std::vector<nas::v1::TrialAssignment> leases;
  for (int s = 0; s < 2; ++s) {
    nas::v1::SearchSpec spec = Spec("median", 2);
    spec.mutable_training()->set_epochs(4);
    spec.mutable_early_stopping()->mutable_median()->set_min_trials(1);
    auto search = store().CreateSearch(spec, "");
    ASSERT_TRUE(search.ok()) << search.status();
    ASSERT_TRUE(store().AddTrials(search->id(), 0, {Trial(0)}).ok());
    ids.push_back(search->id());
    leases.push_back(Lease("w", kLongLease));
  }
  nas::v1::EpochMetrics m;
  m.set_epoch(1);
  m.set_val_accuracy(0.5);
  SlowReportsStore slow(&store(), ids[0]);
  PruningBook book(&slow);
  std::thread rebuilding([&] {
    EXPECT_TRUE(book.Decide(ids[0], leases[0].trial_id(), 0, m).ok());
  });
  slow.WaitUntilReading();
  EXPECT_TRUE(book.Decide(ids[1], leases[1].trial_id(), 0, m).ok());
  slow.OtherDecided();
  rebuilding.join();
  EXPECT_TRUE(slow.decided_while_reading());
}

}  // namespace
}  // namespace nas::controller::testing
