// UploadCheckpoint and FetchCheckpoint over real loopback gRPC against a
// real nas-controller process and PostgreSQL: uploads are checked, fenced
// and stored whole or not at all; supernet versions stream back identical.
// Versions are stored here through the CheckpointStore directly, as the
// controller's merge would.
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/hash/sha256.h"
#include "controller/checkpoints/postgres_checkpoint_store.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"

namespace nas::testing {
namespace {

constexpr int64_t kMiB = int64_t{1} << 20;

std::string Bytes(size_t size, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(random() & 0xff);
  return bytes;
}

// A controller that accepts checkpoints of up to 3 MiB.
ClusterOptions Options() {
  ClusterOptions options;
  options.controller_flags = {"--max_checkpoint_mib=3"};
  return options;
}

nas::v1::UploadHeader Header(const std::string& worker,
                             const nas::v1::TrialAssignment& a,
                             const std::string& bytes) {
  nas::v1::UploadHeader header;
  header.set_worker_id(worker);
  header.set_trial_id(a.trial_id());
  header.set_attempt(a.attempt());
  header.set_size(static_cast<int64_t>(bytes.size()));
  header.set_sha256(hash::Sha256Hex(bytes));
  header.set_merge_weight(640);
  return header;
}

// Streams `messages` and returns the call's status.
grpc::Status Send(nas::v1::WorkerService::Stub& stub,
                  const std::vector<nas::v1::UploadCheckpointRequest>& messages,
                  nas::v1::UploadCheckpointResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  auto writer = stub.UploadCheckpoint(&context, response);
  for (const nas::v1::UploadCheckpointRequest& message : messages) {
    if (!writer->Write(message)) break;  // the server has answered already
  }
  writer->WritesDone();
  return writer->Finish();
}

// `header`, then `bytes` in 1 MiB chunks (the first with the header).
grpc::Status Upload(nas::v1::WorkerService::Stub& stub,
                    const nas::v1::UploadHeader& header,
                    const std::string& bytes,
                    nas::v1::UploadCheckpointResponse* response) {
  std::vector<nas::v1::UploadCheckpointRequest> messages;
  for (size_t offset = 0; offset < bytes.size() || messages.empty();
       offset += kMiB) {
    nas::v1::UploadCheckpointRequest message;
    if (messages.empty()) *message.mutable_header() = header;
    message.set_data(bytes.substr(offset, kMiB));
    messages.push_back(std::move(message));
  }
  return Send(stub, messages, response);
}

struct Fetched {
  grpc::Status status;
  std::vector<nas::v1::CheckpointChunk> chunks;
  std::string bytes;
};

Fetched Fetch(nas::v1::WorkerService::Stub& stub, const std::string& worker,
              int64_t search_id, int64_t version) {
  nas::v1::FetchCheckpointRequest request;
  request.set_worker_id(worker);
  request.set_search_id(search_id);
  request.set_version(version);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  auto reader = stub.FetchCheckpoint(&context, request);
  Fetched fetched;
  nas::v1::CheckpointChunk chunk;
  while (reader->Read(&chunk)) {
    fetched.bytes += chunk.data();
    chunk.clear_data();  // kept for its size and sha256 only
    fetched.chunks.push_back(chunk);
  }
  fetched.status = reader->Finish();
  return fetched;
}

class CheckpointRpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.StartController()) << cluster_.Logs();
    search_id_ = CreateSearchOrFail(
        cluster_.search(),
        TinyMnistChainSpec("checkpoints", /*seed=*/3,
                           {/*max_trials=*/4, /*parallelism=*/2,
                            /*max_attempts=*/3},
                           {/*epochs=*/1, /*data_fraction=*/0.1}));
    ASSERT_GT(search_id_, 0);
    worker_ = RegisterWorkerOrFail(api(), "checkpoint-test");
    ASSERT_FALSE(worker_.empty());
    lease_ = AcquireTrialOrFail(api(), worker_, 5000);
    ASSERT_GT(lease_.trial_id(), 0) << cluster_.Logs();
    auto checkpoints =
        controller::OpenPostgresCheckpointStore({cluster_.db().url(), 1});
    ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
    checkpoints_ = *std::move(checkpoints);
  }

  nas::v1::WorkerService::Stub& api() { return cluster_.worker_api(); }
  std::string Checkpoints() {
    return cluster_.db().QueryScalar("SELECT count(*) FROM checkpoints");
  }

  Cluster cluster_{Options()};
  int64_t search_id_ = 0;
  std::string worker_;
  nas::v1::TrialAssignment lease_;
  std::unique_ptr<controller::CheckpointStore> checkpoints_;
};

TEST_F(CheckpointRpcTest, UploadThenVersionFetchesBackIdenticalBytes) {
  const std::string bytes = Bytes(2 * kMiB + 4321, 1);
  nas::v1::UploadCheckpointResponse response;
  const grpc::Status uploaded =
      Upload(api(), Header(worker_, lease_, bytes), bytes, &response);
  ASSERT_TRUE(uploaded.ok()) << uploaded.error_message() << cluster_.Logs();
  EXPECT_EQ(response.size(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(response.sha256(), hash::Sha256Hex(bytes));

  absl::StatusOr<std::string> stored =
      checkpoints_->ReadTrialUpload(lease_.trial_id());
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_TRUE(*stored == bytes);
  EXPECT_EQ(checkpoints_->TrialUploadInfo(lease_.trial_id())->merge_weight,
            640);
  // The merge of a one-shard round is the shard.
  ASSERT_TRUE(
      checkpoints_
          ->PutSupernetVersion(search_id_, 1, 0, {lease_.trial_id()}, *stored)
          .ok());

  const Fetched fetched = Fetch(api(), worker_, search_id_, 1);
  ASSERT_TRUE(fetched.status.ok()) << fetched.status.error_message();
  EXPECT_TRUE(fetched.bytes == bytes) << fetched.bytes.size() << " bytes";
  ASSERT_EQ(fetched.chunks.size(), 3u);
  EXPECT_EQ(fetched.chunks[0].size(), static_cast<int64_t>(bytes.size()));
  EXPECT_EQ(fetched.chunks[0].sha256(), hash::Sha256Hex(bytes));
  for (size_t i = 1; i < fetched.chunks.size(); ++i) {
    EXPECT_EQ(fetched.chunks[i].size(), 0);
    EXPECT_TRUE(fetched.chunks[i].sha256().empty());
  }
  const std::string logged =
      absl::StrCat("worker ", worker_, " fetched search ", search_id_,
                   " supernet version 1 (", bytes.size(), " bytes)");
  EXPECT_TRUE(
      WaitFor([&] { return cluster_.Logs().find(logged) != std::string::npos; },
              std::chrono::seconds(5)))
      << "no \"" << logged << "\" in\n"
      << cluster_.Logs();
}

TEST_F(CheckpointRpcTest, CorruptedChunkIsDataLossAndNothingIsStored) {
  const std::string bytes = Bytes(2 * kMiB, 2);
  std::string corrupted = bytes;
  corrupted[kMiB + 17] ^= 0x40;  // after the header's sha256 was computed
  nas::v1::UploadCheckpointResponse response;
  const grpc::Status status =
      Upload(api(), Header(worker_, lease_, bytes), corrupted, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS)
      << status.error_message();
  EXPECT_NE(status.error_message().find(hash::Sha256Hex(bytes)),
            std::string::npos)
      << status.error_message();
  EXPECT_NE(status.error_message().find(hash::Sha256Hex(corrupted)),
            std::string::npos)
      << status.error_message();

  // More bytes than the header announced.
  nas::v1::UploadHeader header = Header(worker_, lease_, bytes);
  header.set_size(kMiB);
  EXPECT_EQ(Upload(api(), header, bytes, &response).error_code(),
            grpc::StatusCode::DATA_LOSS);
  EXPECT_EQ(Checkpoints(), "0");
}

TEST_F(CheckpointRpcTest, StaleAttemptsUploadIsFailedPrecondition) {
  // The first lease ends by a worker fault; another worker gets attempt 2.
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  nas::v1::FailTrialRequest fail;
  fail.set_worker_id(worker_);
  fail.set_trial_id(lease_.trial_id());
  fail.set_attempt(lease_.attempt());
  fail.set_reason("disk full");
  fail.set_fault(nas::v1::FAULT_KIND_WORKER);
  nas::v1::FailTrialResponse failed;
  ASSERT_TRUE(api().FailTrial(&context, fail, &failed).ok());
  const std::string second = RegisterWorkerOrFail(api(), "second");
  nas::v1::TrialAssignment retry;
  ASSERT_TRUE(WaitFor(
      [&] {
        retry = AcquireTrialOrFail(api(), second, 1000);
        return retry.trial_id() == lease_.trial_id();
      },
      std::chrono::seconds(20)))
      << cluster_.Logs();
  ASSERT_EQ(retry.attempt(), lease_.attempt() + 1);

  const std::string bytes = Bytes(1000, 3);
  nas::v1::UploadCheckpointResponse response;
  const grpc::Status stale =
      Upload(api(), Header(worker_, lease_, bytes), bytes, &response);
  EXPECT_EQ(stale.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
      << stale.error_message();
  EXPECT_EQ(Checkpoints(), "0");
  const grpc::Status current =
      Upload(api(), Header(second, retry, bytes), bytes, &response);
  EXPECT_TRUE(current.ok()) << current.error_message();
  EXPECT_EQ(Checkpoints(), "1");
}

TEST_F(CheckpointRpcTest, MalformedUploadsAreInvalidArgument) {
  const std::string bytes = Bytes(1000, 4);
  nas::v1::UploadCheckpointResponse response;
  // No header in the first message.
  nas::v1::UploadCheckpointRequest data_only;
  data_only.set_data(bytes);
  grpc::Status status = Send(api(), {data_only}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_NE(status.error_message().find("header"), std::string::npos);
  // No message at all.
  EXPECT_EQ(Send(api(), {}, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // Over --max_checkpoint_mib=3, refused from the header alone.
  nas::v1::UploadHeader header = Header(worker_, lease_, bytes);
  header.set_size(3 * kMiB + 1);
  status = Upload(api(), header, bytes, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
      << status.error_message();
  EXPECT_NE(status.error_message().find("--max_checkpoint_mib"),
            std::string::npos)
      << status.error_message();
  // A chunk over 1 MiB.
  const std::string big = Bytes(kMiB + 1, 5);
  nas::v1::UploadCheckpointRequest one_big;
  *one_big.mutable_header() = Header(worker_, lease_, big);
  one_big.set_data(big);
  EXPECT_EQ(Send(api(), {one_big}, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Checkpoints(), "0");
}

TEST_F(CheckpointRpcTest, UnknownVersionIsNotFoundAndVersionZeroInvalid) {
  Fetched fetched = Fetch(api(), worker_, search_id_, 1);
  EXPECT_EQ(fetched.status.error_code(), grpc::StatusCode::NOT_FOUND)
      << fetched.status.error_message();
  EXPECT_TRUE(fetched.chunks.empty());
  ASSERT_TRUE(
      checkpoints_->PutSupernetVersion(search_id_, 1, 0, {}, "weights").ok());
  EXPECT_EQ(Fetch(api(), worker_, search_id_, 2).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Fetch(api(), worker_, search_id_ + 1000, 1).status.error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Fetch(api(), worker_, search_id_, 0).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Fetch(api(), "", search_id_, 1).status.error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  fetched = Fetch(api(), worker_, search_id_, 1);
  ASSERT_TRUE(fetched.status.ok()) << fetched.status.error_message();
  EXPECT_EQ(fetched.bytes, "weights");
}

}  // namespace
}  // namespace nas::testing
