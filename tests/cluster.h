// A whole service on loopback for end-to-end tests: a fresh database, a
// nas-controller process and any number of nas-worker processes, all real
// binaries talking real gRPC.
#ifndef NAS_TESTS_CLUSTER_H_
#define NAS_TESTS_CLUSTER_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/client/channel.h"
#include "gtest/gtest.h"

#include "nas/v1/search_service.grpc.pb.h"
#include "nas/v1/worker_service.grpc.pb.h"
#include "tests/subprocess.h"
#include "tests/test_database.h"

namespace nas::testing {

struct ClusterOptions {
  int lease_seconds = 10;
  std::vector<std::string> controller_flags;
  std::vector<std::string> worker_flags;
  // Unset: the controller and workers run with --plaintext on loopback and
  // without tokens (authentication off). Set: the harness adds no security
  // flags (the test passes TLS and token flags itself) and its own stubs,
  // and the readiness check, connect with these credentials.
  std::optional<nas::client::ChannelSecurity> client_security;
};

class Cluster {
 public:
  explicit Cluster(ClusterOptions options = {});
  ~Cluster();

  // Starts the controller and waits until it answers (false on timeout).
  bool StartController();
  // Starts one more controller (a replica) on its own loopback port against
  // the same database and waits until it answers. Returns its address, or
  // "" when it did not come up in time.
  std::string StartControllerReplica();
  void StartWorkers(int count);
  // Like StartWorkers, with `extra_flags` after the options' worker_flags
  // (a repeated flag's last value wins, e.g. --data_dir).
  void StartWorkersWith(int count, const std::vector<std::string>& extra_flags);
  // Like StartWorkers, but connected to `controller_address` (e.g. a
  // replica's) instead of address().
  void StartWorkersAt(int count, const std::string& controller_address,
                      const std::vector<std::string>& extra_flags = {});
  // Stops (SIGTERM, then SIGKILL) every worker, replica and the controller.
  void StopAll();

  std::string address() const;
  // The port of the controller's HTTP endpoint (--http_listen, e.g.
  // 127.0.0.1:0), from its log; 0 when it has none after 10 s.
  int HttpPort() const;
  nas::v1::SearchService::Stub& search() { return *search_; }
  nas::v1::WorkerService::Stub& worker_api() { return *worker_api_; }
  TestDatabase& db() { return db_; }
  Subprocess* controller() { return controller_.get(); }
  std::vector<std::unique_ptr<Subprocess>>& replicas() { return replicas_; }
  std::vector<std::unique_ptr<Subprocess>>& workers() { return workers_; }
  // Every process's log, for failure messages.
  std::string Logs() const;
  // A fresh channel to address() with other credentials than the harness's.
  std::shared_ptr<grpc::Channel> Channel(
      const nas::client::ChannelSecurity& security) const;
  const std::string& log_dir() const { return log_dir_; }

 private:
  std::vector<std::string> ControllerArgv(const std::string& address) const;
  nas::client::ChannelSecurity HarnessSecurity() const;
  // Waits until `process` answers ListSearches on `address`.
  bool WaitUntilServing(Subprocess* process, const std::string& address);

  ClusterOptions options_;
  TestDatabase db_;
  int port_;
  std::string log_dir_;
  std::unique_ptr<Subprocess> controller_;
  int controller_starts_ = 0;
  std::vector<std::unique_ptr<Subprocess>> replicas_;
  std::vector<std::unique_ptr<Subprocess>> workers_;
  std::unique_ptr<nas::v1::SearchService::Stub> search_;
  std::unique_ptr<nas::v1::WorkerService::Stub> worker_api_;
};

// Creates a search of `spec` on the cluster's controller and waits, up to
// `timeout`, until it is COMPLETED; *search is then the completed search.
// On failure the message says what happened (refused, still running, or
// ended in another state, with its reason) and carries the cluster's logs:
//   ASSERT_TRUE(RunSearchToCompletion(cluster, spec, &search));
::testing::AssertionResult RunSearchToCompletion(
    Cluster& cluster, const nas::v1::SearchSpec& spec, nas::v1::Search* search,
    std::chrono::seconds timeout = std::chrono::minutes(10));

}  // namespace nas::testing

#endif  // NAS_TESTS_CLUSTER_H_
