// CheckpointClient and the worker loop's uploads against an in-process fake
// controller (a WorkerService on a loopback port): no database, no Torch.
#include "worker/checkpoint_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/client/channel.h"
#include "common/hash/sha256.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "worker/worker_loop.h"

namespace nas::worker {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

std::string Pattern(int64_t size) {
  std::string bytes(static_cast<size_t>(size), '\0');
  for (int64_t i = 0; i < size; ++i) {
    bytes[static_cast<size_t>(i)] = static_cast<char>((i * 131 + i / 7) % 251);
  }
  return bytes;
}

// Serves one supernet version and records uploads and reports, in order.
class FakeController final : public nas::v1::WorkerService::Service {
 public:
  std::mutex mu;
  // FetchCheckpoint.
  std::string version_bytes;
  int64_t served_version = 1;
  int corrupt_fetches = 0;  // the first N fetches announce a wrong SHA-256
  grpc::Status fetch_status = grpc::Status::OK;
  int fetch_calls = 0;
  std::string fetch_worker_id;
  // UploadCheckpoint: statuses for successive calls (OK once empty).
  std::deque<grpc::Status> upload_script;
  bool echo_wrong_sha = false;
  std::vector<nas::v1::UploadHeader> headers;
  std::vector<std::string> uploads;
  int64_t largest_message = 0;
  bool first_message_had_data = false;
  std::string authorization;
  // The loop's calls, in order: "upload", "complete", "fail".
  std::vector<std::string> events;
  nas::v1::FailTrialRequest failed;
  bool assigned = false;

  grpc::Status RegisterWorker(
      grpc::ServerContext*, const nas::v1::RegisterWorkerRequest*,
      nas::v1::RegisterWorkerResponse* response) override {
    response->set_worker_id("w-1");
    response->set_lease_seconds(30);
    return grpc::Status::OK;
  }

  grpc::Status AcquireTrial(grpc::ServerContext*,
                            const nas::v1::AcquireTrialRequest*,
                            nas::v1::AcquireTrialResponse* response) override {
    std::lock_guard<std::mutex> lock(mu);
    if (assigned) return grpc::Status::OK;
    assigned = true;
    nas::v1::TrialAssignment* a = response->mutable_assignment();
    a->set_trial_id(7);
    a->set_search_id(3);
    a->set_attempt(2);
    a->set_kind(nas::v1::TRIAL_KIND_SUPERNET_SHARD);
    a->set_lease_seconds(30);
    return grpc::Status::OK;
  }

  grpc::Status RenewLease(grpc::ServerContext*,
                          const nas::v1::RenewLeaseRequest*,
                          nas::v1::RenewLeaseResponse*) override {
    return grpc::Status::OK;
  }

  grpc::Status CompleteTrial(grpc::ServerContext*,
                             const nas::v1::CompleteTrialRequest*,
                             nas::v1::CompleteTrialResponse*) override {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back("complete");
    return grpc::Status::OK;
  }

  grpc::Status FailTrial(grpc::ServerContext*,
                         const nas::v1::FailTrialRequest* request,
                         nas::v1::FailTrialResponse*) override {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back("fail");
    failed = *request;
    return grpc::Status::OK;
  }

  grpc::Status UploadCheckpoint(
      grpc::ServerContext* context,
      grpc::ServerReader<nas::v1::UploadCheckpointRequest>* reader,
      nas::v1::UploadCheckpointResponse* response) override {
    nas::v1::UploadCheckpointRequest message;
    nas::v1::UploadHeader header;
    std::string bytes;
    bool first = true;
    int64_t largest = 0;
    bool first_had_data = false;
    while (reader->Read(&message)) {
      if (first) {
        header = message.header();
        first_had_data = !message.data().empty();
        first = false;
      }
      largest = std::max<int64_t>(largest, message.ByteSizeLong());
      bytes += message.data();
    }
    std::lock_guard<std::mutex> lock(mu);
    events.push_back("upload");
    headers.push_back(header);
    uploads.push_back(bytes);
    largest_message = std::max(largest_message, largest);
    first_message_had_data = first_message_had_data || first_had_data;
    auto auth = context->client_metadata().find("authorization");
    if (auth != context->client_metadata().end()) {
      authorization = std::string(auth->second.data(), auth->second.size());
    }
    if (!upload_script.empty()) {
      grpc::Status status = upload_script.front();
      upload_script.pop_front();
      if (!status.ok()) return status;
    }
    response->set_size(static_cast<int64_t>(bytes.size()));
    response->set_sha256(echo_wrong_sha ? std::string(64, '0')
                                        : hash::Sha256Hex(bytes));
    return grpc::Status::OK;
  }

  grpc::Status FetchCheckpoint(
      grpc::ServerContext*, const nas::v1::FetchCheckpointRequest* request,
      grpc::ServerWriter<nas::v1::CheckpointChunk>* writer) override {
    std::string bytes;
    bool corrupt = false;
    {
      std::lock_guard<std::mutex> lock(mu);
      ++fetch_calls;
      fetch_worker_id = request->worker_id();
      if (!fetch_status.ok()) return fetch_status;
      if (request->version() != served_version) {
        return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such version");
      }
      bytes = version_bytes;
      corrupt = corrupt_fetches > 0;
      if (corrupt) --corrupt_fetches;
    }
    nas::v1::CheckpointChunk chunk;
    chunk.set_size(static_cast<int64_t>(bytes.size()));
    chunk.set_sha256(corrupt ? std::string(64, 'f') : hash::Sha256Hex(bytes));
    for (size_t offset = 0; offset < bytes.size() || offset == 0;
         offset += kMiB) {
      chunk.set_data(bytes.substr(offset, kMiB));
      writer->Write(chunk);
      chunk.Clear();
      if (bytes.empty()) break;
    }
    return grpc::Status::OK;
  }
};

class CheckpointClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port_);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override { server_->Shutdown(); }

  // A channel as nas-worker makes it: plaintext here, with a token.
  std::shared_ptr<grpc::Channel> Channel() {
    client::ChannelSecurity security;
    security.plaintext = true;
    security.token = "worker-secret";
    auto channel =
        client::MakeChannel("127.0.0.1:" + std::to_string(port_), security);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }

  static CheckpointClientOptions FastOptions() {
    CheckpointClientOptions options;
    options.fetch_retry_window = absl::Milliseconds(300);
    options.initial_backoff = absl::Milliseconds(20);
    options.transfer_timeout = absl::Seconds(30);
    return options;
  }

  FakeController fake_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(CheckpointClientTest, FetchReassemblesChunksAndSendsTheWorkerId) {
  fake_.version_bytes = Pattern(2 * kMiB + 12345);
  CheckpointClient client(Channel(), FastOptions());
  client.set_worker_id("w-9");
  absl::StatusOr<std::string> bytes = client.FetchSupernet(3, 1);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(*bytes, fake_.version_bytes);
  EXPECT_EQ(fake_.fetch_calls, 1);
  EXPECT_EQ(fake_.fetch_worker_id, "w-9");
}

TEST_F(CheckpointClientTest, FetchRetriesAChecksumMismatchOnce) {
  fake_.version_bytes = Pattern(1000);
  CheckpointClient client(Channel(), FastOptions());
  client.set_worker_id("w-1");
  fake_.corrupt_fetches = 1;
  absl::StatusOr<std::string> bytes = client.FetchSupernet(3, 1);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  EXPECT_EQ(fake_.fetch_calls, 2);

  fake_.corrupt_fetches = 5;
  bytes = client.FetchSupernet(3, 1);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(bytes.status().message().find("does not match the announced"),
            std::string::npos)
      << bytes.status();
  EXPECT_EQ(fake_.fetch_calls, 4);
}

TEST_F(CheckpointClientTest, FetchErrorsSayWhoseFaultItIs) {
  fake_.version_bytes = Pattern(10);
  CheckpointClient client(Channel(), FastOptions());
  // Not registered yet: nothing is asked.
  EXPECT_EQ(client.FetchSupernet(3, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(fake_.fetch_calls, 0);

  client.set_worker_id("w-1");
  absl::Status missing = client.FetchSupernet(3, 2).status();
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.message().find("supernet version 2 of search 3"),
            std::string::npos)
      << missing;

  fake_.fetch_status =
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not a worker token");
  EXPECT_EQ(client.FetchSupernet(3, 1).status().code(),
            absl::StatusCode::kFailedPrecondition);
  fake_.fetch_status =
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting");
  const int before = fake_.fetch_calls;
  EXPECT_EQ(client.FetchSupernet(3, 1).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_GT(fake_.fetch_calls, before + 1);  // retried within the window
}

TEST_F(CheckpointClientTest, UnreachableControllerIsUnavailable) {
  server_->Shutdown();
  CheckpointClient client(Channel(), FastOptions());
  client.set_worker_id("w-1");
  EXPECT_EQ(client.FetchSupernet(3, 1).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(client.Upload({"w-1", 7, 2}, "bytes", 1).code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(CheckpointClientTest, UploadSendsTheHeaderThenChunksWithTheToken) {
  const std::string bytes = Pattern(2 * kMiB + 99);
  CheckpointClient client(Channel(), FastOptions());
  ASSERT_TRUE(client.Upload({"w-1", 7, 2}, bytes, 640).ok());
  ASSERT_EQ(fake_.uploads.size(), 1u);
  EXPECT_EQ(fake_.uploads[0], bytes);
  const nas::v1::UploadHeader& header = fake_.headers[0];
  EXPECT_EQ(header.worker_id(), "w-1");
  EXPECT_EQ(header.trial_id(), 7);
  EXPECT_EQ(header.attempt(), 2);
  EXPECT_EQ(header.size(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(header.sha256(), hash::Sha256Hex(bytes));
  EXPECT_EQ(header.merge_weight(), 640);
  EXPECT_FALSE(fake_.first_message_had_data);
  EXPECT_LE(fake_.largest_message, kMiB + 16);  // 1 MiB of data + framing
  EXPECT_EQ(fake_.authorization, "Bearer worker-secret");
}

TEST_F(CheckpointClientTest, UploadRefusalsKeepTheirMeaning) {
  CheckpointClient client(Channel(), FastOptions());
  fake_.upload_script = {
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease expired"),
      grpc::Status(grpc::StatusCode::DATA_LOSS, "checksum mismatch")};
  EXPECT_EQ(client.Upload({"w-1", 7, 2}, "abc", 0).code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client.Upload({"w-1", 7, 2}, "abc", 0).code(),
            absl::StatusCode::kDataLoss);
  // Stored, but the controller names other bytes.
  fake_.echo_wrong_sha = true;
  absl::Status status = client.Upload({"w-1", 7, 2}, "abc", 0);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("the controller stored"), std::string::npos)
      << status;
}

// Returns weights to upload, like a SUPERNET_SHARD trial.
class UploadingEstimator : public Estimator {
 public:
  absl::StatusOr<Evaluation> Evaluate(const nas::v1::TrialAssignment&,
                                      const ProgressFn&) override {
    Evaluation evaluation;
    evaluation.metrics.set_train_seconds(1.5);
    evaluation.upload = "supernet weights";
    evaluation.merge_weight = 96;
    return evaluation;
  }
  nas::v1::Capabilities Capabilities() const override {
    nas::v1::Capabilities caps;
    caps.add_can_run()->set_space(nas::v1::SPACE_KIND_CHAIN);
    return caps;
  }
};

class WorkerLoopUploadTest : public CheckpointClientTest {
 protected:
  // Runs the loop for one trial.
  void RunOneTrial() {
    WorkerOptions options;
    options.acquire_wait = absl::Milliseconds(10);
    options.initial_backoff = absl::Milliseconds(10);
    options.report_retry_window = absl::Seconds(20);
    options.fault_backoff = absl::ZeroDuration();
    options.max_trials = 1;
    UploadingEstimator estimator;
    WorkerLoop loop(Channel(), &estimator, options);
    std::atomic<bool> stop{false};
    EXPECT_EQ(loop.Run(stop), 1);
  }
};

TEST_F(WorkerLoopUploadTest, UploadsTheWeightsBeforeCompleting) {
  RunOneTrial();
  EXPECT_EQ(fake_.events, (std::vector<std::string>{"upload", "complete"}));
  ASSERT_EQ(fake_.headers.size(), 1u);
  EXPECT_EQ(fake_.headers[0].worker_id(), "w-1");
  EXPECT_EQ(fake_.headers[0].trial_id(), 7);
  EXPECT_EQ(fake_.headers[0].attempt(), 2);
  EXPECT_EQ(fake_.headers[0].merge_weight(), 96);
  EXPECT_EQ(fake_.uploads[0], "supernet weights");
}

TEST_F(WorkerLoopUploadTest, RetriesAnUnreachableController) {
  fake_.upload_script = {
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting"),
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "restarting")};
  RunOneTrial();
  EXPECT_EQ(fake_.events, (std::vector<std::string>{"upload", "upload",
                                                    "upload", "complete"}));
}

TEST_F(WorkerLoopUploadTest, AStaleLeaseAbandonsTheTrial) {
  fake_.upload_script = {
      grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "lease expired")};
  RunOneTrial();
  EXPECT_EQ(fake_.events, (std::vector<std::string>{"upload"}));
}

TEST_F(WorkerLoopUploadTest, ACorruptUploadIsSentOnceMore) {
  fake_.upload_script = {
      grpc::Status(grpc::StatusCode::DATA_LOSS, "checksum mismatch")};
  RunOneTrial();
  EXPECT_EQ(fake_.events,
            (std::vector<std::string>{"upload", "upload", "complete"}));
}

TEST_F(WorkerLoopUploadTest, CorruptTwiceFailsTheTrialAsAWorkerFault) {
  fake_.upload_script = {
      grpc::Status(grpc::StatusCode::DATA_LOSS, "checksum mismatch"),
      grpc::Status(grpc::StatusCode::DATA_LOSS, "checksum mismatch")};
  RunOneTrial();
  EXPECT_EQ(fake_.events,
            (std::vector<std::string>{"upload", "upload", "fail"}));
  EXPECT_EQ(fake_.failed.fault(), nas::v1::FAULT_KIND_WORKER);
  EXPECT_NE(fake_.failed.reason().find("corrupted"), std::string::npos)
      << fake_.failed.reason();
}

}  // namespace
}  // namespace nas::worker
