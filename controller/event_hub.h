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
#include <vector>

#include "absl/time/time.h"
#include "nas/v1/search_service.pb.h"

namespace nas::controller {

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
    std::vector<std::shared_ptr<const nas::v1::SearchEvent>> NextBatch(
        absl::Duration timeout, size_t max,
        absl::Duration linger = absl::ZeroDuration());

   private:
    friend class EventHub;
    static constexpr size_t kMaxQueued = 1024;
    std::mutex mu_;
    std::condition_variable cv_;
    // Shared by every subscriber it was published to (events carry the
    // search, spec included; copying it per watcher cost the publisher,
    // a worker's RPC, that much per event).
    std::deque<std::shared_ptr<const nas::v1::SearchEvent>> queue_;
  };

  // The subscription stays registered while the caller holds it.
  std::shared_ptr<Subscription> Subscribe(int64_t search_id);
  bool HasSubscribers(int64_t search_id);
  void Publish(int64_t search_id, const nas::v1::SearchEvent& event);

 private:
  std::mutex mu_;
  std::multimap<int64_t, std::weak_ptr<Subscription>> subscribers_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_EVENT_HUB_H_
