#include "controller/controller_server.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/net/host_port.h"
#include "controller/checkpoints/postgres_checkpoint_store.h"
#include "controller/core/trial_lifecycle.h"
#include "controller/dashboard/dashboard.h"
#include "controller/event_hub.h"
#include "controller/http/http_endpoint.h"
#include "controller/memory_store/memory_store.h"
#include "controller/metrics/controller_metrics.h"
#include "controller/metrics/rpc_metrics.h"
#include "controller/pruning/pruning_book.h"
#include "controller/scheduler.h"
#include "controller/search_service.h"
#include "controller/store/postgres_store.h"
#include "controller/worker_service.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

// Synchronous RPC handler threads kept waiting for calls (MAX_POLLERS):
// about the calls a fleet keeps in flight at once, since each handler
// blocks on the store.
constexpr int kIdleRpcThreads = 256;

// Opens the store, retrying while the database cannot be reached (it may
// still be starting, e.g. beside the controller in docker compose), for up
// to options.database_wait. Other errors end the wait at once: waiting
// does not fix a typo or a wrong password.
absl::StatusOr<std::unique_ptr<TrialStore>> OpenStoreWaiting(
    const ControllerOptions& options) {
  PostgresStoreOptions store_options;
  store_options.database_url = options.database_url;
  store_options.pool_size = options.db_pool_size;
  const absl::Time give_up = absl::Now() + options.database_wait;
  absl::Duration pause = absl::Milliseconds(500);
  for (int attempt = 1;; ++attempt) {
    absl::StatusOr<std::unique_ptr<TrialStore>> store =
        OpenPostgresStore(store_options);
    if (store.ok() || !absl::IsUnavailable(store.status())) return store;
    const absl::Duration left = give_up - absl::Now();
    if (left <= absl::ZeroDuration()) {
      if (attempt == 1) return store;
      return absl::UnavailableError(
          absl::StrCat(store.status().message(), " (gave up after waiting ",
                       absl::FormatDuration(options.database_wait),
                       "; see --database_wait_seconds)"));
    }
    if (attempt == 1) {
      spdlog::warn("{}; waiting up to {} for the database",
                   std::string(store.status().message()),
                   absl::FormatDuration(left));
    }
    absl::SleepFor(std::min(pause, left));
    pause = std::min(pause * 2, absl::Seconds(5));
  }
}

// The addresses and security options, checked before anything waits on
// the database.
absl::Status CheckOptions(const ControllerOptions& options) {
  if (absl::Status s = net::ParseHostPort(options.listen_address,
                                          net::PortUse::kListen, "--listen")
                           .status();
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          MakeServerSecurity(options.security, options.listen_address).status();
      !s.ok()) {
    return s;
  }
  if (!options.http_listen.empty()) {
    return HttpEndpoint::CheckOptions(options.http_listen, options.security);
  }
  return absl::OkStatus();
}

// The stores options.database_url names: a MemoryStore, or PostgreSQL
// (migrated, waited for).
absl::StatusOr<ControllerStores> OpenStores(const ControllerOptions& options) {
  ControllerStores stores;
  if (options.database_url == kMemoryDatabase) {
    auto memory = std::make_shared<MemoryStore>(options.clock);
    stores.trials = memory;
    stores.checkpoints = memory;
    spdlog::warn(
        "--database_url={}: searches live in this process only and are lost "
        "when it stops",
        kMemoryDatabase);
    return stores;
  }
  absl::StatusOr<std::unique_ptr<TrialStore>> store = OpenStoreWaiting(options);
  if (!store.ok()) return store.status();
  stores.trials = *std::move(store);
  // The same database, migrated by OpenStoreWaiting.
  absl::StatusOr<std::unique_ptr<CheckpointStore>> checkpoints =
      OpenPostgresCheckpointStore(
          {options.database_url, options.checkpoint_db_pool_size});
  if (!checkpoints.ok()) return checkpoints.status();
  stores.checkpoints = *std::move(checkpoints);
  return stores;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(
    const ControllerOptions& options) {
  // Security first: a misconfiguration should not wait on the database.
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<ControllerStores> stores = OpenStores(options);
  if (!stores.ok()) return stores.status();
  return Start(options, *std::move(stores));
}

absl::StatusOr<std::unique_ptr<ControllerServer>> ControllerServer::Start(
    const ControllerOptions& options, ControllerStores stores) {
  if (absl::Status s = CheckOptions(options); !s.ok()) return s;
  absl::StatusOr<ServerSecurity> security =
      MakeServerSecurity(options.security, options.listen_address);
  if (!security.ok()) return security.status();
  std::unique_ptr<ControllerServer> server(new ControllerServer());
  server->authorizer_ = std::move(security->authorizer);
  server->registry_ = std::make_unique<metrics::Registry>();
  server->metrics_ =
      std::make_unique<ControllerMetrics>(server->registry_.get());
  server->store_ = std::move(stores.trials);
  server->checkpoints_ = std::move(stores.checkpoints);

  server->pruning_ = std::make_unique<PruningBook>(server->store_.get());
  Scheduler::Options scheduler_options;
  scheduler_options.lease = options.lease;
  scheduler_options.metrics = server->metrics_.get();
  scheduler_options.pruning = server->pruning_.get();
  server->scheduler_ =
      std::make_unique<Scheduler>(server->store_.get(), scheduler_options,
                                  server->checkpoints_.get());
  server->hub_ = std::make_unique<EventHub>();
  server->lifecycle_ = std::make_unique<TrialLifecycle>(
      server->store_.get(), server->scheduler_.get(), server->hub_.get(),
      server->pruning_.get(), server->metrics_.get(), options.clock);
  server->search_service_ = std::make_unique<SearchServiceImpl>(
      server->store_.get(), server->scheduler_.get(), server->lifecycle_.get(),
      server->hub_.get(), &server->authorizer_, server->checkpoints_.get());
  server->worker_service_ = std::make_unique<WorkerServiceImpl>(
      server->lifecycle_.get(), server->checkpoints_.get(),
      &server->authorizer_, options.max_checkpoint_bytes);
  server->dashboard_ = std::make_unique<Dashboard>(server->store_.get());
  server->metrics_->CollectFrom(server->store_.get(),
                                server->checkpoints_.get(), options.lease);
  server->metrics_->CollectWaitingAcquires(
      [scheduler = server->scheduler_.get()] {
        return scheduler->waiting_acquires();
      });

  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  // gRPC sets SO_REUSEPORT by default, so a second controller on a busy
  // port would come up beside the first and silently take half of its
  // clients; without it, binding a busy port fails.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(options.listen_address, security->credentials,
                           &server->port_);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  // A synchronous handler's thread that finds more than MAX_POLLERS others
  // idle exits, and the next call that finds none starts a new one. The
  // default of 2 made a fleet's every RPC start and end a thread (their
  // stacks' mmap and munmap were an eighth of the controller's CPU at 64
  // workers, bench/controller/README.md); idle threads cost only memory.
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, kIdleRpcThreads);
  builder.RegisterService(server->search_service_.get());
  builder.RegisterService(server->worker_service_.get());
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(
      MakeRpcMetricsInterceptorFactory(server->registry_.get()));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server->server_ = builder.BuildAndStart();
  if (!server->server_ || server->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address,
                     ": the port is in use (another controller?) or the "
                     "address is not one of this host's"));
  }
  spdlog::info("security: {}", security->summary);
  if (!options.http_listen.empty()) {
    absl::StatusOr<std::unique_ptr<HttpEndpoint>> http =
        HttpEndpoint::Start(options.http_listen, options.security,
                            &server->authorizer_, server->registry_.get(),
                            server->dashboard_.get());
    if (!http.ok()) return http.status();
    server->http_ = *std::move(http);
    spdlog::info("{} endpoint on port {}: dashboard /, /metrics, /healthz",
                 server->http_->scheme(), server->http_->port());
  }
  server->maintenance_ = std::thread(
      [s = server.get(), interval = options.maintenance_interval,
       clock = options.clock] { s->MaintenanceLoop(interval, clock); });
  return server;
}

void ControllerServer::MaintenanceLoop(absl::Duration interval, Clock* clock) {
  // Leases are expired only once the database has been reachable for a
  // whole lease length, after this controller starts and after every
  // database outage: meanwhile workers could not renew their leases, and
  // results they finished are still on their way (they retry with backoff),
  // so expiring by the database clock alone would throw that work away.
  absl::Time expire_from = clock->Now() + scheduler_->lease();
  bool healthy = true;
  while (!stopping_.load()) {
    absl::Status status;
    if (!healthy || clock->Now() < expire_from) {
      // Down, or in a grace period: only check that the database answers.
      status = store_->ListRunningSearchIds().status();
    } else {
      status = lifecycle_->Maintain();
    }
    if (!status.ok()) {
      // Log a failure once, not every second while the database is down.
      if (healthy) spdlog::warn("maintenance: {}", status.ToString());
      healthy = false;
    } else {
      if (!healthy) {
        spdlog::info(
            "maintenance: database reachable again; leases expire again in "
            "{}s",
            absl::ToInt64Seconds(scheduler_->lease()));
        expire_from = clock->Now() + scheduler_->lease();
      }
      healthy = true;
    }
    // Searches the scheduler ended (space exhausted) are told at once, even
    // in the grace period.
    lifecycle_->AnnounceSchedulerEndings();
    absl::SleepFor(interval);
  }
}

int ControllerServer::http_port() const {
  return http_ ? http_->port() : 0;
}

void ControllerServer::Wait() {
  if (server_) server_->Wait();
}

void ControllerServer::Shutdown() {
  if (stopping_.exchange(true)) return;
  // server_ is null when Start failed before it began serving; the
  // destructor still comes here.
  if (server_) {
    // Let in-flight calls (long AcquireTrial waits included) finish
    // briefly.
    server_->Shutdown(std::chrono::system_clock::now() +
                      std::chrono::seconds(2));
  }
  if (maintenance_.joinable()) maintenance_.join();
  http_.reset();
}

ControllerServer::~ControllerServer() { Shutdown(); }

}  // namespace nas::controller
