#include "controller/store/group_commit.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using Committer = GroupCommitter<int, absl::StatusOr<int>>;

// A batch function that records each batch and, while `hold` is set, blocks
// until the test releases it: the test decides what queues meanwhile.
class RecordingBatches {
 public:
  std::vector<absl::StatusOr<int>> Run(const std::vector<const int*>& batch) {
    std::unique_lock<std::mutex> lock(mu_);
    std::vector<int> requests;
    for (const int* r : batch) requests.push_back(*r);
    batches_.push_back(requests);
    ++running_;
    max_running_ = std::max(max_running_, running_);
    changed_.notify_all();
    changed_.wait(lock, [&] { return !hold_; });
    --running_;
    std::vector<absl::StatusOr<int>> results;
    for (int r : requests) results.push_back(r * 10);
    return results;
  }

  void Hold(bool hold) {
    std::lock_guard<std::mutex> lock(mu_);
    hold_ = hold;
    changed_.notify_all();
  }
  // Waits until `n` batches run at once.
  void AwaitRunning(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    changed_.wait(lock, [&] { return running_ == n; });
  }
  std::vector<std::vector<int>> batches() {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  int max_running() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_running_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  bool hold_ = false;
  int running_ = 0;
  int max_running_ = 0;
  std::vector<std::vector<int>> batches_;
};

// Waits (polling; the committer has no hook) until `n` requests queue.
void AwaitQueued(const Committer& committer, int64_t n) {
  while (committer.stats().queued != n) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

TEST(GroupCommitTest, ALoneCallerRunsABatchOfOne) {
  RecordingBatches batches;
  Committer committer(
      [&](const std::vector<const int*>& b) { return batches.Run(b); }, 8);
  EXPECT_EQ(committer.Submit(1).value_or(-1), 10);
  EXPECT_EQ(committer.Submit(2).value_or(-1), 20);
  EXPECT_EQ(batches.batches(), (std::vector<std::vector<int>>{{1}, {2}}));
  EXPECT_EQ(committer.stats().batches, 2);
  EXPECT_EQ(committer.stats().requests, 2);
  EXPECT_EQ(committer.stats().queued, 0);
}

TEST(GroupCommitTest, CallersArrivingDuringABatchShareTheNextInArrivalOrder) {
  RecordingBatches batches;
  Committer committer(
      [&](const std::vector<const int*>& b) { return batches.Run(b); }, 8);
  batches.Hold(true);
  std::vector<int> answers(6, -1);
  std::vector<std::thread> callers;
  callers.emplace_back([&] { answers[0] = committer.Submit(0).value_or(-1); });
  batches.AwaitRunning(1);
  // One at a time, so that the queue order is known.
  for (int i = 1; i < 6; ++i) {
    callers.emplace_back(
        [&, i] { answers[i] = committer.Submit(i).value_or(-1); });
    AwaitQueued(committer, i);
  }
  batches.Hold(false);
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(batches.batches(),
            (std::vector<std::vector<int>>{{0}, {1, 2, 3, 4, 5}}));
  EXPECT_EQ(answers, (std::vector<int>{0, 10, 20, 30, 40, 50}));
  EXPECT_EQ(committer.stats().batches, 2);
  EXPECT_EQ(committer.stats().requests, 6);
}

TEST(GroupCommitTest, BatchesHoldAtMostMaxBatch) {
  RecordingBatches batches;
  Committer committer(
      [&](const std::vector<const int*>& b) { return batches.Run(b); }, 2);
  batches.Hold(true);
  std::vector<std::thread> callers;
  callers.emplace_back([&] { committer.Submit(0).IgnoreError(); });
  batches.AwaitRunning(1);
  for (int i = 1; i < 6; ++i) {
    callers.emplace_back([&, i] { committer.Submit(i).IgnoreError(); });
    AwaitQueued(committer, i);
  }
  batches.Hold(false);
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(batches.batches(),
            (std::vector<std::vector<int>>{{0}, {1, 2}, {3, 4}, {5}}));
}

TEST(GroupCommitTest, MaxInFlightBatchesRunAtOnceAndNoMore) {
  RecordingBatches batches;
  Committer committer(
      [&](const std::vector<const int*>& b) { return batches.Run(b); }, 8,
      /*max_in_flight=*/2);
  batches.Hold(true);
  std::vector<std::thread> callers;
  callers.emplace_back([&] { committer.Submit(0).IgnoreError(); });
  batches.AwaitRunning(1);
  callers.emplace_back([&] { committer.Submit(1).IgnoreError(); });
  batches.AwaitRunning(2);
  callers.emplace_back([&] { committer.Submit(2).IgnoreError(); });
  AwaitQueued(committer, 1);
  batches.Hold(false);
  for (std::thread& t : callers) t.join();
  EXPECT_EQ(batches.max_running(), 2);
  EXPECT_EQ(batches.batches().size(), 3u);
}

TEST(GroupCommitTest, AWrongResultCountAnswersTheBatchWithInternal) {
  Committer committer(
      [](const std::vector<const int*>&) {
        return std::vector<absl::StatusOr<int>>{};
      },
      8);
  const absl::StatusOr<int> answer = committer.Submit(1);
  EXPECT_EQ(answer.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(answer.status().message().find("returned 0 results"),
            std::string::npos)
      << answer.status();
}

TEST(GroupCommitTest, ManyConcurrentCallersEachGetTheirOwnAnswer) {
  std::atomic<int> seen{0};
  Committer committer(
      [&](const std::vector<const int*>& batch) {
        seen += static_cast<int>(batch.size());
        std::vector<absl::StatusOr<int>> out;
        for (const int* r : batch) out.push_back(*r + 1);
        return out;
      },
      16);
  constexpr int kThreads = 32;
  constexpr int kCalls = 50;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCalls; ++c) {
        const int request = t * 1000 + c;
        if (committer.Submit(request).value_or(-1) != request + 1) ++wrong;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(seen.load(), kThreads * kCalls);
  EXPECT_EQ(committer.stats().requests, kThreads * kCalls);
  EXPECT_EQ(committer.stats().queued, 0);
}

}  // namespace
}  // namespace nas::controller
