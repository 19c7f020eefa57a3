// The scheduler with searches changed from outside a strategy step, against
// a real PostgreSQL (needs NAS_TEST_DATABASE_URL, like nas_store_test).
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "controller/scheduler.h"
#include "controller/store/forwarding_store.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

// Forwards to a real store; `after_list_running` runs right after
// ListRunningSearchIds answers, as a concurrent client would.
class InterleavingStore final : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  std::function<void()> after_list_running;

  absl::StatusOr<std::vector<int64_t>> ListRunningSearchIds() override {
    auto ids = ForwardingStore::ListRunningSearchIds();
    if (after_list_running) std::exchange(after_list_running, nullptr)();
    return ids;
  }
};

using SchedulerManageTest = StoreTest;

// A search deleted between the maintenance pass's listing and its
// completion check is gone, not an error: an error would mark the database
// unhealthy and hold lease expiry back for a whole lease length.
TEST_F(SchedulerManageTest, MaintainSkipsASearchDeletedMeanwhile) {
  const int64_t deleted = NewSearch(1, 0);
  const int64_t done = NewSearch(1, 1);
  const nas::v1::TrialAssignment a = Lease("w-1");
  ASSERT_TRUE(store().CompleteTrial(Ref(a, "w-1"), {}).ok());

  InterleavingStore interleaving(&store());
  interleaving.after_list_running = [&] {
    ASSERT_TRUE(store().DeleteSearch(deleted, /*force=*/true).ok());
  };
  Scheduler scheduler(&interleaving, Scheduler::Options());
  absl::StatusOr<std::vector<int64_t>> completed = scheduler.Maintain();
  ASSERT_TRUE(completed.ok()) << completed.status();
  EXPECT_EQ(*completed, std::vector<int64_t>{done});
}

// Enqueued trials are leased before the strategy proposes anything.
TEST_F(SchedulerManageTest, EnqueuedTrialsAreLeasedFirst) {
  auto search = store().CreateSearch(Spec("warm", 4), "");
  ASSERT_TRUE(search.ok()) << search.status();
  Scheduler scheduler(&store(), Scheduler::Options());
  nas::v1::Architecture arch;
  arch.set_text("stage1.depth=1 stage1.width=16 stage1.layer1.op=skip");
  auto enqueued = scheduler.EnqueueTrials(search->id(), {arch});
  ASSERT_TRUE(enqueued.ok()) << enqueued.status();
  ASSERT_EQ(enqueued->size(), 1u);
  EXPECT_EQ((*enqueued)[0].number(), 0);

  auto leased = scheduler.Acquire("w-1", absl::Seconds(5));
  ASSERT_TRUE(leased.ok() && leased->has_value()) << leased.status();
  EXPECT_EQ((*leased)->trial_number(), 0);
  EXPECT_EQ((*leased)->architecture().text(),
            (*enqueued)[0].architecture().text());
}

}  // namespace
}  // namespace nas::controller::testing
