// Wires the stores, scheduler, event hub and gRPC services into a running
// controller, with a maintenance thread that expires leases and finishes
// searches. main() only parses flags into Options and calls Start.
#ifndef NAS_CONTROLLER_CONTROLLER_SERVER_H_
#define NAS_CONTROLLER_CONTROLLER_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics/metrics.h"
#include "common/time/clock.h"
#include "controller/security/server_security.h"
#include "grpcpp/server.h"

namespace nas::controller {

class TrialStore;
class CheckpointStore;
class Scheduler;
class EventHub;
class PruningBook;
class TrialLifecycle;
class SearchServiceImpl;
class WorkerServiceImpl;
class ControllerMetrics;
class HttpEndpoint;
class Dashboard;

// ControllerOptions::database_url that keeps every search, trial and
// checkpoint in the controller's memory (MemoryStore): nothing survives a
// restart and no SQL can read it. For tests, demos and measuring the
// controller without its database.
inline constexpr char kMemoryDatabase[] = "memory:";

// What a controller stores its state in. Both may be one object (a
// MemoryStore is both).
struct ControllerStores {
  std::shared_ptr<TrialStore> trials;
  std::shared_ptr<CheckpointStore> checkpoints;
};

struct ControllerOptions {
  std::string listen_address = "127.0.0.1:50051";
  // A PostgreSQL URL, or kMemoryDatabase.
  std::string database_url;
  // How long Start keeps retrying a database that cannot be reached (it
  // may be starting up beside the controller); zero tries once. A refused
  // login, a missing database or a malformed URL fail at once.
  absl::Duration database_wait = absl::Seconds(60);
  absl::Duration lease = absl::Seconds(60);
  absl::Duration maintenance_interval = absl::Seconds(1);
  // What the maintenance thread measures its grace period with (a lease
  // length after start and after every database outage); it must be the
  // stores' clock. Not owned.
  Clock* clock = Clock::Real();
  int db_pool_size = 8;
  // Connections of the checkpoint store, apart from db_pool_size's, so that
  // transfers of weights never hold up leases.
  int checkpoint_db_pool_size = 2;
  // Largest checkpoint UploadCheckpoint accepts (a whole upload, which the
  // controller holds in memory while it checks and stores it).
  int64_t max_checkpoint_bytes = int64_t{1024} << 20;
  // Largest request the server accepts; larger ones are RESOURCE_EXHAUSTED.
  int max_message_bytes = 4 << 20;
  // TLS, mTLS and tokens; the defaults refuse to start (no certificate).
  ServerSecurityOptions security;
  // HOST:PORT of the HTTP endpoint (dashboard, /metrics, /healthz); empty:
  // none. It follows `security` (HTTPS with the same certificate, or plain
  // HTTP under the plaintext rules).
  std::string http_listen;
};

class ControllerServer {
 public:
  // Opens the database (applying migrations) and starts serving. Unavailable
  // when the database cannot be reached within options.database_wait, or
  // the address cannot be bound (e.g. another process serves on it: ports
  // are never shared); FailedPrecondition when the database refuses the
  // login or its schema is newer; InvalidArgument when the listen address
  // is not HOST:PORT (port 0..65535), the database URL is malformed, or
  // the security options break a rule (see MakeServerSecurity).
  static absl::StatusOr<std::unique_ptr<ControllerServer>> Start(
      const ControllerOptions& options);
  // The same on stores the caller opened (options.database_url and the
  // database options are not read), e.g. a MemoryStore on a FakeClock, so
  // that a test runs the whole controller in its process.
  // REQUIRES: both stores set.
  static absl::StatusOr<std::unique_ptr<ControllerServer>> Start(
      const ControllerOptions& options, ControllerStores stores);
  ~ControllerServer();

  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  // The HTTP endpoint's port; 0 without one.
  int http_port() const;
  // Blocks until Shutdown is called from another thread.
  void Wait();
  void Shutdown();

 private:
  ControllerServer() = default;
  void MaintenanceLoop(absl::Duration interval, Clock* clock);

  Authorizer authorizer_;
  // Before everything that records into them, so they are destroyed last.
  std::unique_ptr<metrics::Registry> registry_;
  std::unique_ptr<ControllerMetrics> metrics_;
  std::shared_ptr<TrialStore> store_;
  std::shared_ptr<CheckpointStore> checkpoints_;
  // Before the scheduler, which asks it for promotions.
  std::unique_ptr<PruningBook> pruning_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<EventHub> hub_;
  std::unique_ptr<TrialLifecycle> lifecycle_;
  std::unique_ptr<SearchServiceImpl> search_service_;
  std::unique_ptr<WorkerServiceImpl> worker_service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<HttpEndpoint> http_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread maintenance_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_CONTROLLER_SERVER_H_
