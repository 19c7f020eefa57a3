#include "tests/cluster.h"

#include <stdlib.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

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
  auto channel = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
  search_ = nas::v1::SearchService::NewStub(channel);
  worker_api_ = nas::v1::WorkerService::NewStub(channel);
}

Cluster::~Cluster() { StopAll(); }

std::string Cluster::address() const {
  return "127.0.0.1:" + std::to_string(port_);
}

bool Cluster::StartController() {
  std::vector<std::string> argv = {
      NAS_CONTROLLER_BINARY, "--listen=" + address(),
      "--database_url=" + db_.url(),
      "--lease_seconds=" + std::to_string(options_.lease_seconds)};
  argv.insert(argv.end(), options_.controller_flags.begin(),
              options_.controller_flags.end());
  controller_ = std::make_unique<Subprocess>(
      argv, log_dir_ + "/controller-" + std::to_string(controller_starts_++) +
                ".log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!controller_->running()) return false;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(1));
    nas::v1::ListSearchesRequest request;
    nas::v1::ListSearchesResponse response;
    if (search_->ListSearches(&context, request, &response).ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void Cluster::StartWorkers(int count) {
  for (int i = 0; i < count; ++i) {
    std::vector<std::string> argv = {
        NAS_WORKER_BINARY, "--controller=" + address(), "--device=cpu",
        "--threads=1", "--data_dir=" + DataDir(), "--acquire_wait_ms=2000"};
    argv.insert(argv.end(), options_.worker_flags.begin(),
                options_.worker_flags.end());
    workers_.push_back(std::make_unique<Subprocess>(
        argv, log_dir_ + "/worker-" + std::to_string(workers_.size()) + ".log"));
  }
}

void Cluster::StopAll() {
  for (auto& w : workers_) w->Stop();
  if (controller_) controller_->Stop();
}

std::string Cluster::Logs() const {
  std::string logs;
  if (controller_) logs += "--- controller ---\n" + controller_->ReadLog();
  for (size_t i = 0; i < workers_.size(); ++i) {
    logs += "--- worker " + std::to_string(i) + " ---\n" + workers_[i]->ReadLog();
  }
  return logs;
}

}  // namespace nas::testing
