#include "controller/event_hub.h"

#include <chrono>
#include <vector>

namespace nas::controller {

std::optional<nas::v1::SearchEvent> EventHub::Subscription::Next(
    absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
               [this] { return !queue_.empty(); });
  if (queue_.empty()) return std::nullopt;
  nas::v1::SearchEvent event = *queue_.front();
  queue_.pop_front();
  return event;
}

std::vector<std::shared_ptr<const nas::v1::SearchEvent>>
EventHub::Subscription::NextBatch(absl::Duration timeout, size_t max,
                                  absl::Duration linger) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout),
               [this] { return !queue_.empty(); });
  if (!queue_.empty() && linger > absl::ZeroDuration()) {
    cv_.wait_for(lock, absl::ToChronoMicroseconds(linger),
                 [this, max] { return queue_.size() >= max; });
  }
  std::vector<std::shared_ptr<const nas::v1::SearchEvent>> events;
  while (!queue_.empty() && events.size() < max) {
    events.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return events;
}

std::shared_ptr<EventHub::Subscription> EventHub::Subscribe(int64_t search_id) {
  auto sub = std::make_shared<Subscription>();
  std::lock_guard<std::mutex> lock(mu_);
  subscribers_.emplace(search_id, sub);
  return sub;
}

bool EventHub::HasSubscribers(int64_t search_id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [begin, end] = subscribers_.equal_range(search_id);
  for (auto it = begin; it != end; ++it) {
    if (!it->second.expired()) return true;
  }
  return false;
}

void EventHub::Publish(int64_t search_id, const nas::v1::SearchEvent& event) {
  std::vector<std::shared_ptr<Subscription>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [begin, end] = subscribers_.equal_range(search_id);
    for (auto it = begin; it != end;) {
      if (auto sub = it->second.lock()) {
        live.push_back(std::move(sub));
        ++it;
      } else {
        it = subscribers_.erase(it);
      }
    }
  }
  if (live.empty()) return;
  auto shared = std::make_shared<const nas::v1::SearchEvent>(event);
  for (const auto& sub : live) {
    {
      std::lock_guard<std::mutex> lock(sub->mu_);
      if (sub->queue_.size() >= Subscription::kMaxQueued) sub->queue_.pop_front();
      sub->queue_.push_back(shared);
    }
    sub->cv_.notify_one();
  }
}

}  // namespace nas::controller
