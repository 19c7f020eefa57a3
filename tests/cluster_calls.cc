#include "tests/cluster_calls.h"

#include <fstream>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/substitute.h"
#include "common/spec/spec_yaml.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"

namespace nas::testing {
namespace {

// A context whose deadline is kCallTimeout (plus `extra`) from now.
void SetDeadline(grpc::ClientContext& context,
                 std::chrono::milliseconds extra = {}) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout + extra);
}

}  // namespace

bool WaitFor(const std::function<bool()>& condition,
             std::chrono::seconds timeout, std::chrono::milliseconds poll) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(poll);
  }
  return condition();
}

nas::v1::SearchSpec ParseSpec(absl::string_view yaml) {
  absl::StatusOr<nas::v1::SearchSpec> spec =
      spec::ParseSearchSpecYaml(std::string(yaml));
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *std::move(spec) : nas::v1::SearchSpec();
}

nas::v1::SearchSpec TinyMnistChainSpec(absl::string_view name, int seed,
                                       TinyBudget budget,
                                       TinyTraining training) {
  // YAML rather than proto setters: the spec is exactly what a user would
  // submit, defaults filled in by the same parser.
  return ParseSpec(absl::Substitute(R"(
name: $0
seed: $1
dataset: {name: mnist}
space:
  chain:
    stem_channels: 8
    stages:
      - {depths: [1, 2], widths: [8, 16], ops: [conv3x3, ir_k3_e3, skip], stride: 2}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: $2, parallelism: $3, max_attempts: $4}
training: {epochs: $5, data_fraction: $6, batch_size: 64, learning_rate: 0.05}
)",
                                    name, seed, budget.max_trials,
                                    budget.parallelism, budget.max_attempts,
                                    training.epochs, training.data_fraction));
}

grpc::Status CreateSearch(nas::v1::SearchService::Stub& stub,
                          const nas::v1::SearchSpec& spec,
                          nas::v1::Search* search) {
  nas::v1::CreateSearchRequest request;
  *request.mutable_spec() = spec;
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.CreateSearch(&context, request, search);
}

int64_t CreateSearchOrFail(nas::v1::SearchService::Stub& stub,
                           const nas::v1::SearchSpec& spec) {
  nas::v1::Search search;
  grpc::Status status = CreateSearch(stub, spec, &search);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return status.ok() ? search.id() : 0;
}

grpc::Status GetSearch(nas::v1::SearchService::Stub& stub, int64_t id,
                       nas::v1::Search* search) {
  nas::v1::GetSearchRequest request;
  request.set_search_id(id);
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.GetSearch(&context, request, search);
}

nas::v1::Search GetSearchOrEmpty(nas::v1::SearchService::Stub& stub,
                                 int64_t id) {
  nas::v1::Search search;
  if (!GetSearch(stub, id, &search).ok()) return nas::v1::Search();
  return search;
}

bool WaitUntilCompleted(nas::v1::SearchService::Stub& stub, int64_t id,
                        std::chrono::seconds timeout,
                        std::chrono::milliseconds poll) {
  return WaitFor(
      [&] {
        return GetSearchOrEmpty(stub, id).state() ==
               nas::v1::SEARCH_STATE_COMPLETED;
      },
      timeout, poll);
}

grpc::Status ListSearches(nas::v1::SearchService::Stub& stub,
                          nas::v1::ListSearchesResponse* response) {
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.ListSearches(&context, nas::v1::ListSearchesRequest(), response);
}

grpc::Status CancelSearch(nas::v1::SearchService::Stub& stub, int64_t id,
                          nas::v1::Search* search) {
  nas::v1::CancelSearchRequest request;
  request.set_search_id(id);
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.CancelSearch(&context, request, search);
}

grpc::Status GetBestTrials(nas::v1::SearchService::Stub& stub, int64_t id,
                           int k, nas::v1::GetBestTrialsResponse* response) {
  nas::v1::GetBestTrialsRequest request;
  request.set_search_id(id);
  request.set_k(k);
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.GetBestTrials(&context, request, response);
}

grpc::Status ExportModel(nas::v1::SearchService::Stub& stub, int64_t id,
                         int trial_number, nas::v1::ModelManifest* manifest,
                         std::string* weights) {
  nas::v1::ExportModelRequest request;
  request.set_search_id(id);
  if (trial_number < 0) {
    request.set_best(true);
  } else {
    request.set_trial_number(trial_number);
  }
  grpc::ClientContext context;
  SetDeadline(context);
  auto reader = stub.ExportModel(&context, request);
  nas::v1::ExportModelChunk chunk;
  weights->clear();
  for (bool first = true; reader->Read(&chunk); first = false) {
    if (first) *manifest = chunk.manifest();
    *weights += chunk.data();
  }
  return reader->Finish();
}

std::vector<nas::v1::Trial> ListAllTrialsOrFail(
    nas::v1::SearchService::Stub& stub, int64_t id) {
  std::vector<nas::v1::Trial> trials;
  nas::v1::ListTrialsRequest request;
  request.set_search_id(id);
  request.set_page_size(100);
  do {
    grpc::ClientContext context;
    SetDeadline(context);
    nas::v1::ListTrialsResponse page;
    grpc::Status status = stub.ListTrials(&context, request, &page);
    EXPECT_TRUE(status.ok()) << status.error_message();
    if (!status.ok()) break;
    trials.insert(trials.end(), page.trials().begin(), page.trials().end());
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return trials;
}

grpc::Status RegisterWorker(nas::v1::WorkerService::Stub& stub,
                            const std::string& host, std::string* worker_id) {
  nas::v1::RegisterWorkerRequest request;
  request.set_host(host);
  request.set_device_type(nas::v1::DEVICE_TYPE_CPU);
  nas::v1::RegisterWorkerResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = stub.RegisterWorker(&context, request, &response);
  if (status.ok()) *worker_id = response.worker_id();
  return status;
}

std::string RegisterWorkerOrFail(nas::v1::WorkerService::Stub& stub,
                                 const std::string& host) {
  std::string worker_id;
  grpc::Status status = RegisterWorker(stub, host, &worker_id);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return worker_id;
}

grpc::Status AcquireTrial(nas::v1::WorkerService::Stub& stub,
                          const std::string& worker_id, int wait_ms,
                          nas::v1::AcquireTrialResponse* response) {
  nas::v1::AcquireTrialRequest request;
  request.set_worker_id(worker_id);
  request.set_wait_ms(wait_ms);
  grpc::ClientContext context;
  SetDeadline(context, std::chrono::milliseconds(wait_ms));
  return stub.AcquireTrial(&context, request, response);
}

nas::v1::TrialAssignment AcquireTrialOrFail(nas::v1::WorkerService::Stub& stub,
                                            const std::string& worker_id,
                                            int wait_ms) {
  nas::v1::AcquireTrialResponse response;
  grpc::Status status = AcquireTrial(stub, worker_id, wait_ms, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.assignment();
}

grpc::Status CompleteTrial(nas::v1::WorkerService::Stub& stub,
                           const std::string& worker_id, int64_t trial_id,
                           int32_t attempt,
                           const nas::v1::TrialMetrics& metrics) {
  nas::v1::CompleteTrialRequest request;
  request.set_worker_id(worker_id);
  request.set_trial_id(trial_id);
  request.set_attempt(attempt);
  *request.mutable_metrics() = metrics;
  nas::v1::CompleteTrialResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.CompleteTrial(&context, request, &response);
}

grpc::Status CompleteTrial(nas::v1::WorkerService::Stub& stub,
                           const std::string& worker_id,
                           const nas::v1::TrialAssignment& assignment,
                           double accuracy) {
  nas::v1::TrialMetrics metrics;
  metrics.set_val_accuracy(accuracy);
  metrics.set_test_accuracy(accuracy);
  return CompleteTrial(stub, worker_id, assignment.trial_id(),
                       assignment.attempt(), metrics);
}

std::map<std::string, double> ReadNb201Table(const std::string& path) {
  std::map<std::string, double> table;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    const size_t comma = line.find(',');
    if (comma == std::string::npos) continue;
    table[line.substr(0, comma)] = std::stod(line.substr(comma + 1));
  }
  return table;
}

}  // namespace nas::testing
