// The events a search's watchers get (EventHub, WatchSearch), each with the
// search attached so that a watcher sees its state and trial counts move.
// Reading the search counts its trials, a cost that grows with the search,
// and every trial lifecycle publishes three events; so progress events
// reuse a search read within kEventSearchMaxAge, while search_done, a
// watcher's last event, always carries the search as stored.
//
// No gRPC: used by TrialLifecycle. Thread-safe.
#ifndef NAS_CONTROLLER_CORE_SEARCH_EVENTS_H_
#define NAS_CONTROLLER_CORE_SEARCH_EVENTS_H_

#include <cstdint>
#include <map>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "controller/event_hub.h"
#include "controller/store/trial_store.h"
#include "nas/v1/search_service.pb.h"

namespace nas::controller {

// How stale the search attached to a trial or epoch event may be.
inline constexpr absl::Duration kEventSearchMaxAge = absl::Milliseconds(200);

class SearchEvents {
 public:
  // All pointers must outlive this object. `clock` times the reuse of a
  // read search.
  SearchEvents(TrialStore* store, EventHub* hub, Clock* clock);

  // Whether anyone watches the search: events nobody reads are not built.
  bool Watched(int64_t search_id) { return hub_->HasSubscribers(search_id); }

  // Sends a progress event (trial_started, epoch_reported, trial_finished)
  // with the search attached, read at most once per kEventSearchMaxAge,
  // by one publisher at a time (the others attach the older read
  // meanwhile).
  // Sends nothing when nobody watches, or when the search cannot be read
  // (logged; the watchers' own polling still ends their streams).
  void Publish(int64_t search_id, nas::v1::SearchEvent event);

  // Sends search_done with the search read now and its best trial
  // (FindBestTrials), ranked once for all watchers. Same rules as Publish.
  void PublishDone(int64_t search_id);
  // Sends search_done with `search` as it ended: for a caller that holds
  // the final state already (CancelSearch's result) or whose search is
  // gone from the store (DeleteSearch).
  void PublishDone(const nas::v1::Search& search);

 private:
  struct ReadSearch {
    nas::v1::Search search;
    absl::Time read_at;
    bool refreshing = false;  // a publisher is reading it again
  };

  TrialStore* const store_;
  EventHub* const hub_;
  Clock* const clock_;
  std::mutex mu_;
  // The search last attached to each watched search's progress events.
  std::map<int64_t, ReadSearch> searches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_CORE_SEARCH_EVENTS_H_
