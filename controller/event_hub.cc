#include "controller/event_hub.h"

#include <algorithm>
#include <chrono>
#include <vector>

namespace nas::controller {

std::optional<nas::v1::SearchEvent> EventHub::Subscription::Next(
    absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
               [this] { return !queue_.empty(); });
  if (queue_.empty()) return std::nullopt;
  nas::v1::SearchEvent event = queue_.front()->event;
  queue_.pop_front();
  return event;
}

std::vector<std::shared_ptr<const PublishedEvent>>
EventHub::Subscription::NextBatch(absl::Duration timeout, size_t max,
                                  absl::Duration linger) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
               [this] { return !queue_.empty(); });
  if (!queue_.empty() && linger > absl::ZeroDuration()) {
    wake_at_ = std::max<size_t>(max, 1);
    bool woken = false;  // the predicate's first call is not a wake
    const bool full = cv_.wait_for(lock, absl::ToChronoMicroseconds(linger),
                                   [this, max, &woken] {
                                     const bool full = queue_.size() >= max;
                                     if (!full && woken) ++futile_wakeups_;
                                     woken = true;
                                     return full;
                                   });
    // The last call, at the linger's end, was the timeout's, not a wake.
    if (!full && futile_wakeups_ > 0) --futile_wakeups_;
    wake_at_ = 1;
  }
  std::vector<std::shared_ptr<const PublishedEvent>> events;
  while (!queue_.empty() && events.size() < max) {
    events.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return events;
}

uint64_t EventHub::Subscription::futile_wakeups() {
  std::lock_guard<std::mutex> lock(mu_);
  return futile_wakeups_;
}

std::shared_ptr<EventHub::Subscription> EventHub::Subscribe(
    int64_t search_id, SearchDetail detail) {
  auto sub = std::make_shared<Subscription>();
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.emplace(search_id, Subscriber{sub, detail});
  return sub;
}

bool EventHub::HasSubscribers(int64_t search_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [begin, end] = subscribers_.equal_range(search_id);
  for (auto it = begin; it != end; ++it) {
    if (!it->second.subscription.expired()) return true;
  }
  return false;
}

void EventHub::Enqueue(Subscription& sub,
                       const std::shared_ptr<const PublishedEvent>& event) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(sub.mu_);
    if (sub.queue_.size() >= Subscription::kMaxQueued) sub.queue_.pop_front();
    sub.queue_.push_back(event);
    wake = sub.queue_.size() >= sub.wake_at_;
  }
  if (wake) sub.cv_.notify_one();
}

void EventHub::Publish(int64_t search_id, nas::v1::SearchEvent event) {
  std::vector<std::shared_ptr<Subscription>> whole, without_spec;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [begin, end] = subscribers_.equal_range(search_id);
    for (auto it = begin; it != end;) {
      if (auto sub = it->second.subscription.lock()) {
        (it->second.detail == SearchDetail::kWhole ? whole : without_spec)
            .push_back(std::move(sub));
        ++it;
      } else {
        it = subscribers_.erase(it);
      }
    }
  }
  if (whole.empty() && without_spec.empty()) return;
  const bool progress = !event.has_snapshot() && !event.has_search_done();
  const bool with_wire = !without_spec.empty();
  if (!progress) {
    whole.insert(whole.end(), without_spec.begin(), without_spec.end());
    without_spec.clear();
  }
  // One shared, immutable event per variant, whatever the watcher count.
  if (!without_spec.empty()) {
    auto slim = std::make_shared<PublishedEvent>();
    // The spec is set aside rather than copied and dropped.
    std::unique_ptr<nas::v1::SearchSpec> spec(
        event.mutable_search()->release_spec());
    if (whole.empty()) {
      slim->event = std::move(event);
    } else {
      slim->event = event;
      event.mutable_search()->set_allocated_spec(spec.release());
    }
    slim->event.SerializeToString(&slim->wire);
    const std::shared_ptr<const PublishedEvent> shared = std::move(slim);
    for (const auto& sub : without_spec) Enqueue(*sub, shared);
  }
  if (whole.empty()) return;
  auto published = std::make_shared<PublishedEvent>();
  published->event = std::move(event);
  // search_done and the snapshot go whole to every subscriber, batched
  // streams included.
  if (!progress && with_wire) {
    published->event.SerializeToString(&published->wire);
  }
  const std::shared_ptr<const PublishedEvent> shared = std::move(published);
  for (const auto& sub : whole) Enqueue(*sub, shared);
}

}  // namespace nas::controller
