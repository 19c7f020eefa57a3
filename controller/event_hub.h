// Fans search progress events out to WatchSearch streams. In-process: events
// published by this controller replica reach its own watchers; watchers also
// poll the store (see SearchServiceImpl::WatchSearch), so a stream still ends
// when another replica finishes the search.
#ifndef NAS_CONTROLLER_EVENT_HUB_H_
#define NAS_CONTROLLER_EVENT_HUB_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "nas/v1/search_service.pb.h"

namespace nas::controller {

// An event as the hub queues it: shared, immutable, by every subscriber it
// was published to.
struct PublishedEvent {
  nas::v1::SearchEvent event;
  // The event serialized, for subscribers that asked for
  // SearchDetail::kWithoutSpec (WatchSearchBatched streams): serialized once
  // here rather than once per watcher. Empty for the others.
  std::string wire;
};

class EventHub {
 public:
  // A watcher's queue. Bounded: a watcher that falls more than kMaxQueued
  // events behind loses the oldest ones (progress is advisory; the final
  // state is always re-read from the store).
  class Subscription {
   public:
    // Waits up to `timeout` for the next event.
    std::optional<nas::v1::SearchEvent> Next(absl::Duration timeout);
    // Waits up to `timeout` for an event, then up to `linger` more for
    // others (returning early once `max` are queued), and takes every queued
    // one (at most `max`), oldest first; empty when none came. A stream
    // writes them together, so at full speed a watcher wakes and sends once
    // per linger, not once per event.
    std::vector<std::shared_ptr<const PublishedEvent>> NextBatch(
        absl::Duration timeout, size_t max,
        absl::Duration linger = absl::ZeroDuration());

    // How many times its waiter was woken and went back to waiting: a
    // lingering batch that a publisher woke before it was full.
    uint64_t futile_wakeups();

   private:
    friend class EventHub;
    static constexpr size_t kMaxQueued = 1024;
    std::mutex mu_;
    std::condition_variable cv_;
    // Shared by every subscriber it was published to (events carry the
    // search; copying it per watcher cost the publisher, a worker's RPC,
    // that much per event).
    std::deque<std::shared_ptr<const PublishedEvent>> queue_;
    // The queue length its waiter waits for: 1, or a lingering batch's max.
    // A publisher wakes it only then. Woken per event during a linger, ten
    // watchers of a fleet at full speed cost the controller tens of
    // thousands of futile thread switches a second.
    size_t wake_at_ = 1;
    uint64_t futile_wakeups_ = 0;
  };

  // What a subscriber's progress events (trial_started, epoch_reported,
  // trial_finished) carry of the search. The snapshot and search_done
  // always carry it whole.
  enum class SearchDetail {
    kWhole,
    // State and counts, not the spec: it never changes while a search
    // runs, and a fleet at full speed sends thousands of events a second,
    // each serialized per watcher and parsed by it.
    kWithoutSpec,
  };

  // The subscription stays registered while the caller holds it.
  std::shared_ptr<Subscription> Subscribe(
      int64_t search_id, SearchDetail detail = SearchDetail::kWhole);
  bool HasSubscribers(int64_t search_id);
  void Publish(int64_t search_id, nas::v1::SearchEvent event);

 private:
  struct Subscriber {
    std::weak_ptr<Subscription> subscription;
    SearchDetail detail;
  };
  static void Enqueue(Subscription& sub,
                      const std::shared_ptr<const PublishedEvent>& event);

  std::mutex mu_;
  std::multimap<int64_t, Subscriber> subscribers_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_EVENT_HUB_H_
