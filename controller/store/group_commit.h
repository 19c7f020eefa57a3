// Group commit: concurrent callers' requests of one kind run as batches, one
// transaction and one commit for many callers, each caller still answered
// only after the batch that holds its request has run. Internal to
// nas_store (the PostgreSQL store batches epoch reports and completions).
#ifndef NAS_CONTROLLER_STORE_GROUP_COMMIT_H_
#define NAS_CONTROLLER_STORE_GROUP_COMMIT_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace nas::controller {

// Batches run so far and the requests they held (their ratio is the mean
// batch size), and the requests waiting for a batch now.
struct GroupCommitStats {
  int64_t batches = 0;
  int64_t requests = 0;
  int64_t queued = 0;
};

// No thread of its own: a caller that finds fewer than `max_in_flight`
// batches running becomes the leader, takes up to `max_batch` queued
// requests (its own among them, oldest first) and runs them through
// `run_batch` on its own thread; the others wait for their answers. Under
// load the queue fills while a batch runs, so batches grow with the arrival
// rate and no caller waits for a timer; alone, a caller runs a batch of one.
//
// `run_batch` gets the requests in queue order and returns one Result per
// request, in the same order; it must not throw. A wrong count answers
// every request of the batch with Internal. Result must be constructible
// from absl::Status (an absl::StatusOr, for instance). Thread-safe.
template <typename Request, typename Result>
class GroupCommitter {
 public:
  using BatchFn =
      std::function<std::vector<Result>(const std::vector<const Request*>&)>;

  GroupCommitter(BatchFn run_batch, size_t max_batch, int max_in_flight = 1)
      : run_batch_(std::move(run_batch)),
        max_batch_(max_batch < 1 ? 1 : max_batch),
        max_in_flight_(max_in_flight < 1 ? 1 : max_in_flight) {}
  GroupCommitter(const GroupCommitter&) = delete;
  GroupCommitter& operator=(const GroupCommitter&) = delete;

  // Runs `request` in some batch and returns its result.
  Result Submit(Request request) {
    Entry entry{std::move(request)};
    std::unique_lock<std::mutex> lock(mu_);
    queue_.push_back(&entry);
    while (!entry.result.has_value()) {
      if (in_flight_ < max_in_flight_ && !queue_.empty()) {
        LeadOneBatch(lock);
      } else {
        done_.wait(lock);
      }
    }
    return *std::move(entry.result);
  }

  using Stats = GroupCommitStats;
  Stats stats() const {
    std::lock_guard<std::mutex> lock(mu_);
    Stats stats = stats_;
    stats.queued = static_cast<int64_t>(queue_.size());
    return stats;
  }

 private:
  struct Entry {
    Request request;
    std::optional<Result> result;
  };

  // REQUIRES: `lock` holds mu_, which it holds again on return.
  void LeadOneBatch(std::unique_lock<std::mutex>& lock) {
    std::vector<Entry*> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    ++in_flight_;
    ++stats_.batches;
    stats_.requests += static_cast<int64_t>(batch.size());
    lock.unlock();
    std::vector<const Request*> requests;
    requests.reserve(batch.size());
    for (const Entry* entry : batch) requests.push_back(&entry->request);
    std::vector<Result> results = run_batch_(requests);
    lock.lock();
    --in_flight_;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (results.size() == batch.size()) {
        batch[i]->result.emplace(std::move(results[i]));
      } else {
        batch[i]->result.emplace(absl::InternalError(
            absl::StrCat("a batch of ", batch.size(), " requests returned ",
                         results.size(), " results")));
      }
    }
    // Wakes the answered callers and, among the waiting ones, the next
    // leader.
    done_.notify_all();
  }

  const BatchFn run_batch_;
  const size_t max_batch_;
  const int max_in_flight_;
  mutable std::mutex mu_;
  std::condition_variable done_;
  std::deque<Entry*> queue_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  Stats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STORE_GROUP_COMMIT_H_
