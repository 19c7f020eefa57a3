// WatchSearch and WatchSearchBatched: one stream, sent one event to a
// message or several.
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "common/status_util.h"
#include "controller/best_trials.h"
#include "controller/request_checks.h"
#include "controller/search_service.h"
#include "google/protobuf/unknown_field_set.h"

namespace nas::controller {
namespace {

using Events = std::vector<std::shared_ptr<const PublishedEvent>>;

// Events a stream takes from its queue per wake: a batch's size at most,
// and a bound on what it holds back in gRPC's buffer at once.
constexpr size_t kEventsPerWrite = 64;
// How long a stream lets events gather after the first one before it sends
// them. A fleet at full speed publishes thousands a second; sent one per
// wake, each cost a watcher's thread a wake and a write of its own. A
// person watching does not see 20 ms.
constexpr absl::Duration kEventLinger = absl::Milliseconds(20);

bool IsFinished(nas::v1::SearchState state) {
  return state == nas::v1::SEARCH_STATE_COMPLETED ||
         state == nas::v1::SEARCH_STATE_CANCELLED ||
         state == nas::v1::SEARCH_STATE_FAILED;
}

// An event of the stream's own (the snapshot, a polled search_done),
// serialized when the stream is batched, as the hub serializes its events.
std::shared_ptr<const PublishedEvent> Own(nas::v1::SearchEvent event,
                                          EventHub::SearchDetail detail) {
  auto published = std::make_shared<PublishedEvent>();
  published->event = std::move(event);
  if (detail == EventHub::SearchDetail::kWithoutSpec) {
    published->event.SerializeToString(&published->wire);
  }
  return published;
}

}  // namespace

grpc::Status SearchServiceImpl::ServeWatch(
    grpc::ServerContext* context, const nas::v1::WatchSearchRequest& request,
    EventHub::SearchDetail detail,
    absl::FunctionRef<bool(const Events&)> send) {
  absl::StatusOr<Caller> caller = auth_->Authorize(*context, Role::kClient);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  const int64_t id = request.search_id();
  if (absl::Status s = CheckId("search_id", id); !s.ok()) {
    return ToGrpcStatus(s);
  }
  // Subscribe before reading the snapshot so no event falls in between.
  std::shared_ptr<EventHub::Subscription> sub = hub_->Subscribe(id, detail);
  absl::StatusOr<nas::v1::Search> search = VisibleSearch(*caller, id);
  if (!search.ok()) return ToGrpcStatus(search.status());
  // With several objectives: the front's best by the first objective.
  auto best_trial = [&]() -> std::optional<nas::v1::Trial> {
    absl::StatusOr<BestTrials> best =
        FindBestTrials(*store_, search->spec(), id, 1);
    if (!best.ok() || best->trials.empty()) return std::nullopt;
    return best->trials.front();
  };

  nas::v1::SearchEvent snapshot;
  *snapshot.mutable_search() = *search;
  if (auto best = best_trial()) {
    *snapshot.mutable_snapshot()->mutable_best_trial() = *best;
  } else {
    snapshot.mutable_snapshot();
  }
  if (!send({Own(std::move(snapshot), detail)})) return grpc::Status::OK;

  auto send_done = [&](const nas::v1::Search& final_search) {
    nas::v1::SearchEvent done;
    *done.mutable_search() = final_search;
    if (auto best = best_trial()) {
      *done.mutable_search_done()->mutable_best_trial() = *best;
    } else {
      done.mutable_search_done();
    }
    send({Own(std::move(done), detail)});
    return grpc::Status::OK;
  };
  if (IsFinished(search->state())) return send_done(*search);

  absl::Time next_poll = absl::Now() + absl::Seconds(2);
  while (!context->IsCancelled()) {
    Events events =
        sub->NextBatch(absl::Milliseconds(250), kEventsPerWrite, kEventLinger);
    // The stream ends with search_done; its publisher ranked the best trial
    // once for every watcher. Nothing after it is sent.
    bool done = false;
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i]->event.has_search_done()) {
        events.resize(i + 1);
        done = true;
        break;
      }
    }
    if (!events.empty() && !send(events)) return grpc::Status::OK;
    if (done) return grpc::Status::OK;
    // Another replica may have ended the search: its events never reach
    // this hub, so re-read the state now and then. Without counts: on
    // PostgreSQL they cost a read of the trial changes since the last fold,
    // ten watchers of a fleet at full speed five such reads a second. The
    // final event re-reads them.
    if (absl::Now() >= next_poll) {
      next_poll = absl::Now() + absl::Seconds(2);
      absl::StatusOr<nas::v1::Search> now = store_->GetSearchWithoutCounts(id);
      if (now.ok() && IsFinished(now->state())) {
        absl::StatusOr<nas::v1::Search> counted = store_->GetSearch(id);
        return send_done(counted.ok() ? *counted : *now);
      }
      // Deleted (DeleteSearch with force) by another replica.
      if (absl::IsNotFound(now.status())) return ToGrpcStatus(now.status());
    }
  }
  return grpc::Status::OK;
}

grpc::Status SearchServiceImpl::WatchSearch(
    grpc::ServerContext* context, const nas::v1::WatchSearchRequest* request,
    grpc::ServerWriter<nas::v1::SearchEvent>* writer) {
  return ServeWatch(context, *request, EventHub::SearchDetail::kWhole,
                    [writer](const Events& events) {
                      for (size_t i = 0; i < events.size(); ++i) {
                        // All but a burst's last may wait in gRPC's buffer: the
                        // burst goes out in a few frames and writes, not one
                        // each.
                        grpc::WriteOptions options;
                        if (i + 1 < events.size()) options.set_buffer_hint();
                        if (!writer->Write(events[i]->event, options))
                          return false;
                      }
                      return true;
                    });
}

grpc::Status SearchServiceImpl::WatchSearchBatched(
    grpc::ServerContext* context, const nas::v1::WatchSearchRequest* request,
    grpc::ServerWriter<nas::v1::SearchEventBatch>* writer) {
  return ServeWatch(context, *request, EventHub::SearchDetail::kWithoutSpec,
                    [writer](const Events& events) {
                      // Each event goes in as the bytes the hub serialized once
                      // for every batched stream: field 1 (`events`) written as
                      // a field the message does not parse, which is the same
                      // bytes on the wire. Serializing the events per watcher
                      // was a tenth of a watched controller's CPU.
                      nas::v1::SearchEventBatch batch;
                      google::protobuf::UnknownFieldSet& fields =
                          *batch.GetReflection()->MutableUnknownFields(&batch);
                      for (const auto& published : events) {
                        fields.AddLengthDelimited(
                            nas::v1::SearchEventBatch::kEventsFieldNumber,
                            published->wire);
                      }
                      return writer->Write(batch);
                    });
}

}  // namespace nas::controller
