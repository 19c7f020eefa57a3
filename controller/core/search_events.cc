#include "controller/core/search_events.h"

#include <iterator>
#include <utility>

#include "controller/best_trials.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

// Searches that ended elsewhere (another replica) leave their entries
// behind; past this many, stale ones are dropped.
constexpr size_t kMaxReadSearches = 256;

}  // namespace

SearchEvents::SearchEvents(TrialStore* store, EventHub* hub, Clock* clock)
    : store_(store), hub_(hub), clock_(clock) {}

void SearchEvents::Publish(int64_t search_id, nas::v1::SearchEvent event) {
  if (!Watched(search_id)) return;
  const absl::Time now = clock_->Now();
  bool read = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = searches_.find(search_id);
    if (it != searches_.end()) {
      ReadSearch& known = it->second;
      // While one publisher reads it again, the others attach what it
      // replaces: at 64 workers, every publisher that found it stale read
      // it at once, each waiting on a count of the search's trials.
      if (now - known.read_at < kEventSearchMaxAge || known.refreshing) {
        *event.mutable_search() = known.search;
        read = false;
      } else {
        known.refreshing = true;
      }
    }
  }
  if (read) {
    absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
    if (!search.ok()) {
      spdlog::warn("search {}: event not sent, the search is unreadable: {}",
                   search_id, search.status().ToString());
      std::lock_guard<std::mutex> lock(mu_);
      auto it = searches_.find(search_id);
      if (it != searches_.end()) it->second.refreshing = false;
      return;
    }
    *event.mutable_search() = *std::move(search);
    std::lock_guard<std::mutex> lock(mu_);
    if (searches_.size() >= kMaxReadSearches) {
      for (auto it = searches_.begin(); it != searches_.end();) {
        it = now - it->second.read_at >= kEventSearchMaxAge
                 ? searches_.erase(it)
                 : std::next(it);
      }
    }
    searches_[search_id] = {event.search(), now, /*refreshing=*/false};
  }
  hub_->Publish(search_id, std::move(event));
}

void SearchEvents::PublishDone(int64_t search_id) {
  if (!Watched(search_id)) {
    std::lock_guard<std::mutex> lock(mu_);
    searches_.erase(search_id);
    return;
  }
  absl::StatusOr<nas::v1::Search> search = store_->GetSearch(search_id);
  if (!search.ok()) {
    spdlog::warn(
        "search {}: search_done not sent, the search is "
        "unreadable: {}",
        search_id, search.status().ToString());
    return;
  }
  PublishDone(*search);
}

void SearchEvents::PublishDone(const nas::v1::Search& search) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    searches_.erase(search.id());
  }
  if (!Watched(search.id())) return;
  nas::v1::SearchEvent done;
  *done.mutable_search() = search;
  done.mutable_search_done();
  // Ranked once here for every watcher: a ranking reads all of the
  // search's completed trials, and ten watchers each ranking a finished
  // 20,000-trial search held their streams open a second past its end. A
  // deleted search has no trials left to rank.
  absl::StatusOr<BestTrials> best =
      FindBestTrials(*store_, search.spec(), search.id(), 1);
  if (best.ok() && !best->trials.empty()) {
    *done.mutable_search_done()->mutable_best_trial() =
        std::move(best->trials.front());
  }
  hub_->Publish(search.id(), std::move(done));
}

}  // namespace nas::controller
