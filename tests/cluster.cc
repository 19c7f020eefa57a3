#include "tests/cluster.h"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "absl/strings/numbers.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

std::string DataDir() {
  const char* dir = std::getenv("NAS_DATA_DIR");
  return dir && *dir ? dir : NAS_SOURCE_DIR "/data";
}

}  // namespace

Cluster::Cluster(ClusterOptions options)
    : options_(std::move(options)), port_(FreeLoopbackPort()) {
  char tmpl[] = "/tmp/nas-e2e-XXXXXX";
  log_dir_ = mkdtemp(tmpl);
  auto channel = Channel(HarnessSecurity());
  search_ = nas::v1::SearchService::NewStub(channel);
  worker_api_ = nas::v1::WorkerService::NewStub(channel);
}

Cluster::~Cluster() { StopAll(); }

nas::client::ChannelSecurity Cluster::HarnessSecurity() const {
  if (options_.client_security) return *options_.client_security;
  nas::client::ChannelSecurity plaintext;
  plaintext.plaintext = true;
  return plaintext;
}

std::shared_ptr<grpc::Channel> Cluster::Channel(
    const nas::client::ChannelSecurity& security) const {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      nas::client::MakeChannel(address(), security);
  EXPECT_TRUE(channel.ok()) << channel.status();
  // A channel to nowhere keeps a failed setup from crashing the test.
  return channel.ok() ? *channel
                      : grpc::CreateChannel("127.0.0.1:1",
                                            grpc::InsecureChannelCredentials());
}

std::string Cluster::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

int Cluster::HttpPort() const {
  // The controller logs "http endpoint on port N: ..." (or https).
  int port = 0;
  WaitFor(
      [&] {
        if (!controller_) return false;
        const std::string log = controller_->ReadLog();
        const size_t at = log.find(" endpoint on port ");
        if (at == std::string::npos) return false;
        const size_t start = at + std::string(" endpoint on port ").size();
        return absl::SimpleAtoi(log.substr(start, log.find(':', start) - start),
                                &port);
      },
      std::chrono::seconds(10));
  return port;
}

std::vector<std::string> Cluster::ControllerArgv(
    const std::string& address) const {
  std::vector<std::string> argv = {
      NAS_CONTROLLER_BINARY, "--listen=" + address,
      "--database_url=" + db_.url(),
      "--lease_seconds=" + std::to_string(options_.lease_seconds)};
  if (!options_.client_security) argv.push_back("--plaintext");
  argv.insert(argv.end(), options_.controller_flags.begin(),
              options_.controller_flags.end());
  return argv;
}

bool Cluster::WaitUntilServing(Subprocess* process, const std::string& address) {
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      nas::client::MakeChannel(address, HarnessSecurity());
  if (!channel.ok()) return false;
  auto stub = nas::v1::SearchService::NewStub(*channel);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process->running()) return false;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(1));
    nas::v1::ListSearchesRequest request;
    nas::v1::ListSearchesResponse response;
    if (stub->ListSearches(&context, request, &response).ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool Cluster::StartController() {
  controller_ = std::make_unique<Subprocess>(
      ControllerArgv(address()),
      log_dir_ + "/controller-" + std::to_string(controller_starts_++) + ".log");
  return WaitUntilServing(controller_.get(), address());
}

std::string Cluster::StartControllerReplica() {
  const std::string replica_address =
      "127.0.0.1:" + std::to_string(FreeLoopbackPort());
  replicas_.push_back(std::make_unique<Subprocess>(
      ControllerArgv(replica_address),
      log_dir_ + "/replica-" + std::to_string(replicas_.size()) + ".log"));
  return WaitUntilServing(replicas_.back().get(), replica_address)
             ? replica_address
             : "";
}

void Cluster::StartWorkers(int count) { StartWorkersAt(count, address()); }

void Cluster::StartWorkersWith(int count,
                               const std::vector<std::string>& extra_flags) {
  StartWorkersAt(count, address(), extra_flags);
}

void Cluster::StartWorkersAt(int count, const std::string& controller_address,
                             const std::vector<std::string>& extra_flags) {
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> argv = {
        NAS_WORKER_BINARY, "--controller=" + controller_address, "--device=cpu",
        "--threads=1", "--data_dir=" + DataDir(), "--acquire_wait_ms=2000"};
    if (!options_.client_security) argv.push_back("--plaintext");
    argv.insert(argv.end(), options_.worker_flags.begin(),
                options_.worker_flags.end());
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    workers_.push_back(std::make_unique<Subprocess>(
        argv, log_dir_ + "/worker-" + std::to_string(workers_.size()) + ".log"));
  }
}

void Cluster::StopAll() {
  // Everyone gets SIGTERM first, so that they wind down in parallel.
  for (auto& w : workers_) w->Signal(SIGTERM);
  for (auto& w : workers_) w->Stop();
  for (auto& r : replicas_) r->Stop();
  if (controller_) controller_->Stop();
}

std::string Cluster::Logs() const {
  std::string logs;
  if (controller_) logs += "--- controller ---\n" + controller_->ReadLog();
  for (size_t i = 0; i < replicas_.size(); ++i) {
    logs += "--- replica " + std::to_string(i) + " ---\n" + replicas_[i]->ReadLog();
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    logs += "--- worker " + std::to_string(i) + " ---\n" + workers_[i]->ReadLog();
  }
  return logs;
}

::testing::AssertionResult RunSearchToCompletion(
    Cluster& cluster, const nas::v1::SearchSpec& spec, nas::v1::Search* search,
    std::chrono::seconds timeout) {
  const grpc::Status created = CreateSearch(cluster.search(), spec, search);
  if (!created.ok()) {
    return ::testing::AssertionFailure()
           << "CreateSearch refused the spec: " << created.error_message();
  }
  const bool completed =
      WaitUntilCompleted(cluster.search(), search->id(), timeout);
  const grpc::Status got = GetSearch(cluster.search(), search->id(), search);
  if (!got.ok()) {
    return ::testing::AssertionFailure()
           << "GetSearch " << search->id() << ": " << got.error_message()
           << cluster.Logs();
  }
  if (!completed || search->state() != nas::v1::SEARCH_STATE_COMPLETED) {
    return ::testing::AssertionFailure()
           << "search " << search->id() << " is "
           << nas::v1::SearchState_Name(search->state()) << " after "
           << timeout.count() << " s: " << search->state_reason()
           << cluster.Logs();
  }
  return ::testing::AssertionSuccess();
}

}  // namespace nas::testing
