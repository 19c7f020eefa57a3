// One-line calls on a running service for the end-to-end tests: each builds
// its request, bounds the call with a deadline and hands back what tests
// check. Also the polling loop and the search specs the tests share.
//
// Two kinds of call: those returning grpc::Status leave every check to the
// test; those named ...OrFail record a failed call as a non-fatal gtest
// failure (EXPECT) and return an empty value, so the test goes on to say
// what else went wrong.
#ifndef NAS_TESTS_CLUSTER_CALLS_H_
#define NAS_TESTS_CLUSTER_CALLS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "grpcpp/support/status.h"
#include "nas/v1/search_service.grpc.pb.h"
#include "nas/v1/worker_service.grpc.pb.h"

namespace nas::testing {

// The deadline of every call below; AcquireTrial gets its wait on top.
inline constexpr std::chrono::seconds kCallTimeout{10};

// Calls `condition` every `poll` until it returns true or `timeout` has
// passed, and then once more; returns its last answer.
bool WaitFor(const std::function<bool()>& condition,
             std::chrono::seconds timeout,
             std::chrono::milliseconds poll = std::chrono::milliseconds(200));

// A search spec parsed from YAML. A parse error is a test failure (EXPECT)
// and gives an empty spec, which the service refuses.
nas::v1::SearchSpec ParseSpec(absl::string_view yaml);

// The tiny MNIST search most training tests run: one chain stage (depth 1
// or 2, width 8 or 16, ops conv3x3, ir_k3_e3 or skip), random strategy,
// val_accuracy maximized, batch size 64, learning rate 0.05; the rest from
// the arguments. REQUIRES: `name` is a plain YAML word (letters, digits, -).
struct TinyBudget {
  int max_trials;
  int parallelism;
  int max_attempts;
};
struct TinyTraining {
  int epochs;
  double data_fraction;
};
nas::v1::SearchSpec TinyMnistChainSpec(absl::string_view name, int seed,
                                       TinyBudget budget,
                                       TinyTraining training);

// --- nas.v1.SearchService ---

grpc::Status CreateSearch(nas::v1::SearchService::Stub& stub,
                          const nas::v1::SearchSpec& spec,
                          nas::v1::Search* search);
// The new search's id; 0 (no search has it) when the call fails.
int64_t CreateSearchOrFail(nas::v1::SearchService::Stub& stub,
                           const nas::v1::SearchSpec& spec);
grpc::Status GetSearch(nas::v1::SearchService::Stub& stub, int64_t id,
                       nas::v1::Search* search);
// For polling: the search, or an empty one (state UNSPECIFIED, no counts)
// when the call fails. Failures are not recorded.
nas::v1::Search GetSearchOrEmpty(nas::v1::SearchService::Stub& stub,
                                 int64_t id);
grpc::Status ListSearches(nas::v1::SearchService::Stub& stub,
                          nas::v1::ListSearchesResponse* response);
grpc::Status CancelSearch(nas::v1::SearchService::Stub& stub, int64_t id,
                          nas::v1::Search* search);
grpc::Status GetBestTrials(nas::v1::SearchService::Stub& stub, int64_t id,
                           int k, nas::v1::GetBestTrialsResponse* response);
// ExportModel of search `id`: the best trial that kept weights when
// `trial_number` is negative, else that trial. On OK, *manifest and *weights
// hold what streamed.
grpc::Status ExportModel(nas::v1::SearchService::Stub& stub, int64_t id,
                         int trial_number, nas::v1::ModelManifest* manifest,
                         std::string* weights);
// Polls search `id` every `poll` until it is COMPLETED (true) or `timeout`
// has passed (false). Failed calls count as not completed yet.
bool WaitUntilCompleted(
    nas::v1::SearchService::Stub& stub, int64_t id,
    std::chrono::seconds timeout,
    std::chrono::milliseconds poll = std::chrono::milliseconds(200));
// Every trial of search `id`, page by page; stops at the first failed page.
std::vector<nas::v1::Trial> ListAllTrialsOrFail(
    nas::v1::SearchService::Stub& stub, int64_t id);

// --- nas.v1.WorkerService ---

// Registers a CPU worker on `host`; sets `worker_id` on success.
grpc::Status RegisterWorker(nas::v1::WorkerService::Stub& stub,
                            const std::string& host, std::string* worker_id);
// The new worker's id; "" when the call fails.
std::string RegisterWorkerOrFail(nas::v1::WorkerService::Stub& stub,
                                 const std::string& host);
// Asks for a trial, waiting up to `wait_ms` for one.
grpc::Status AcquireTrial(nas::v1::WorkerService::Stub& stub,
                          const std::string& worker_id, int wait_ms,
                          nas::v1::AcquireTrialResponse* response);
// The trial handed out; empty (trial_id 0) when there was none or the call
// failed.
nas::v1::TrialAssignment AcquireTrialOrFail(nas::v1::WorkerService::Stub& stub,
                                            const std::string& worker_id,
                                            int wait_ms);
grpc::Status CompleteTrial(nas::v1::WorkerService::Stub& stub,
                           const std::string& worker_id, int64_t trial_id,
                           int32_t attempt,
                           const nas::v1::TrialMetrics& metrics);
// Completes the attempt of `assignment` with `accuracy` as both validation
// and test accuracy.
grpc::Status CompleteTrial(nas::v1::WorkerService::Stub& stub,
                           const std::string& worker_id,
                           const nas::v1::TrialAssignment& assignment,
                           double accuracy);

// A NAS-Bench-201 table in the format of ../shared/benchmarks (a header,
// then "architecture,accuracy" lines) as architecture string -> accuracy in
// percent; empty when the file is missing.
std::map<std::string, double> ReadNb201Table(const std::string& path);

}  // namespace nas::testing

#endif  // NAS_TESTS_CLUSTER_CALLS_H_
