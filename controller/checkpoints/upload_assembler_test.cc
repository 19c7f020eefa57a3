#include "controller/checkpoints/upload_assembler.h"

#include <limits>
#include <string>

#include "common/hash/sha256.h"
#include "controller/checkpoints/checkpoint_store.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

nas::v1::UploadCheckpointRequest First(const std::string& bytes,
                                       const std::string& data) {
  nas::v1::UploadCheckpointRequest message;
  nas::v1::UploadHeader* header = message.mutable_header();
  header->set_worker_id("w-1");
  header->set_trial_id(3);
  header->set_attempt(1);
  header->set_size(static_cast<int64_t>(bytes.size()));
  header->set_sha256(hash::Sha256Hex(bytes));
  header->set_merge_weight(128);
  message.set_data(data);
  return message;
}

nas::v1::UploadCheckpointRequest Chunk(const std::string& data) {
  nas::v1::UploadCheckpointRequest message;
  message.set_data(data);
  return message;
}

TEST(UploadAssemblerTest, AssemblesChunksAndChecksTheWhole) {
  const std::string bytes = "0123456789";
  UploadAssembler upload(1 << 20);
  ASSERT_TRUE(upload.Add(First(bytes, "0123")).ok());
  ASSERT_TRUE(upload.Add(Chunk("")).ok());
  ASSERT_TRUE(upload.Add(Chunk("456789")).ok());
  ASSERT_TRUE(upload.Finish().ok());
  EXPECT_EQ(upload.bytes(), bytes);
  EXPECT_EQ(upload.header().trial_id(), 3);
}

TEST(UploadAssemblerTest, ChangedBytesAreDataLossNamingBothChecksums) {
  const std::string bytes = "0123456789";
  UploadAssembler upload(1 << 20);
  ASSERT_TRUE(upload.Add(First(bytes, "0123")).ok());
  ASSERT_TRUE(upload.Add(Chunk("45678X")).ok());
  const absl::Status status = upload.Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find(hash::Sha256Hex(bytes)), std::string::npos);
  EXPECT_NE(status.message().find(hash::Sha256Hex("012345678X")),
            std::string::npos);
}

TEST(UploadAssemblerTest, TooFewOrTooManyBytesAreDataLoss) {
  const std::string bytes = "0123456789";
  UploadAssembler short_upload(1 << 20);
  ASSERT_TRUE(short_upload.Add(First(bytes, "01234")).ok());
  EXPECT_EQ(short_upload.Finish().code(), absl::StatusCode::kDataLoss);

  UploadAssembler long_upload(1 << 20);
  ASSERT_TRUE(long_upload.Add(First(bytes, "0123456789")).ok());
  EXPECT_EQ(long_upload.Add(Chunk("!")).code(), absl::StatusCode::kDataLoss);
}

TEST(UploadAssemblerTest, HeaderOnlyFirst) {
  UploadAssembler none(1 << 20);
  EXPECT_EQ(none.Finish().code(), absl::StatusCode::kInvalidArgument);
  UploadAssembler missing(1 << 20);
  EXPECT_EQ(missing.Add(Chunk("0123")).code(),
            absl::StatusCode::kInvalidArgument);
  UploadAssembler twice(1 << 20);
  ASSERT_TRUE(twice.Add(First("0123", "01")).ok());
  EXPECT_EQ(twice.Add(First("0123", "23")).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(UploadAssemblerTest, MalformedHeadersAreInvalid) {
  const std::string bytes = "0123456789";
  std::vector<nas::v1::UploadCheckpointRequest> bad(7, First(bytes, ""));
  bad[0].mutable_header()->clear_worker_id();
  bad[1].mutable_header()->set_trial_id(0);
  bad[2].mutable_header()->set_attempt(0);
  bad[3].mutable_header()->set_size(0);
  bad[4].mutable_header()->set_sha256(
      std::string(hash::Sha256Hex(bytes)).replace(0, 1, "A"));
  bad[5].mutable_header()->set_merge_weight(-1);
  bad[6].mutable_header()->set_merge_weight(
      std::numeric_limits<double>::quiet_NaN());
  for (size_t i = 0; i < bad.size(); ++i) {
    UploadAssembler upload(1 << 20);
    EXPECT_EQ(upload.Add(bad[i]).code(), absl::StatusCode::kInvalidArgument)
        << i;
  }
}

TEST(UploadAssemblerTest, SizeOverTheCapAndOversizedChunksAreRefused) {
  const std::string bytes(11, 'x');
  UploadAssembler capped(10);
  const absl::Status over = capped.Add(First(bytes, ""));
  EXPECT_EQ(over.code(), absl::StatusCode::kInvalidArgument) << over;
  EXPECT_NE(over.message().find("--max_checkpoint_mib"), std::string::npos);

  const std::string big(kCheckpointChunkBytes + 1, 'x');
  UploadAssembler upload(int64_t{4} << 20);
  EXPECT_EQ(upload.Add(First(big, big)).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nas::controller
