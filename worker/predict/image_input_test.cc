#include "worker/predict/image_input.h"

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "stb_image_write.h"

namespace nas::predict {
namespace {

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/" + name;
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string BigEndian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
          static_cast<char>(v >> 8), static_cast<char>(v)};
}

nas::v1::ModelInput GreyInput(int side) {
  nas::v1::ModelInput input;
  input.set_channels(1);
  input.set_height(side);
  input.set_width(side);
  input.set_num_classes(10);
  input.add_mean(0.5f);
  input.add_std(0.25f);
  return input;
}

TEST(ReadImages, IdxFileGivesEachImageInOrderUpToTheLimit) {
  std::string bytes =
      BigEndian(0x803) + BigEndian(3) + BigEndian(2) + BigEndian(2);
  for (int i = 0; i < 12; ++i) bytes += static_cast<char>(i * 10);
  const std::string path = TempPath("three.idx");
  WriteBytes(path, bytes);

  absl::StatusOr<std::vector<Image>> all = ReadImages(path, 0);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].name, path + "[2]");
  EXPECT_EQ((*all)[2].pixels, (std::vector<uint8_t>{80, 90, 100, 110}));
  absl::StatusOr<std::vector<Image>> two = ReadImages(path, 2);
  ASSERT_TRUE(two.ok());
  EXPECT_EQ(two->size(), 2u);
}

TEST(ReadImages, TruncatedIdxFileIsRefusedWithItsSizes) {
  const std::string path = TempPath("short.idx");
  WriteBytes(path, BigEndian(0x803) + BigEndian(2) + BigEndian(28) +
                       BigEndian(28) + std::string(100, '\0'));
  absl::StatusOr<std::vector<Image>> images = ReadImages(path, 0);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(images.status().message().find("2 images of 28x28"),
            std::string::npos)
      << images.status();
}

TEST(ReadImages, PngIsDecodedChannelMajorAndAlphaDropped) {
  // 2x1 RGBA: red, then blue, both opaque.
  const unsigned char rgba[] = {255, 0, 0, 255, 0, 0, 255, 255};
  const std::string path = TempPath("two.png");
  ASSERT_NE(stbi_write_png(path.c_str(), 2, 1, 4, rgba, 8), 0);

  absl::StatusOr<std::vector<Image>> images = ReadImages(path, 0);
  ASSERT_TRUE(images.ok()) << images.status();
  const Image& image = images->front();
  EXPECT_EQ(image.channels, 3);
  EXPECT_EQ(image.height, 1);
  EXPECT_EQ(image.width, 2);
  // R plane, G plane, B plane.
  EXPECT_EQ(image.pixels, (std::vector<uint8_t>{255, 0, 0, 0, 0, 255}));
}

TEST(ReadImages, NeitherImageNorIdxIsRefusedNamingTheFile) {
  const std::string path = TempPath("notes.txt");
  WriteBytes(path, "hello");
  absl::StatusOr<std::vector<Image>> images = ReadImages(path, 0);
  EXPECT_EQ(images.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(images.status().message().find(path), std::string::npos);
  EXPECT_EQ(ReadImages(TempPath("missing.png"), 0).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ReadIdxLabels, ReadsLabelsAndRefusesOtherFiles) {
  const std::string path = TempPath("labels.idx");
  WriteBytes(path,
             BigEndian(0x801) + BigEndian(3) + std::string("\x07\x00\x09", 3));
  absl::StatusOr<std::vector<int>> labels = ReadIdxLabels(path);
  ASSERT_TRUE(labels.ok()) << labels.status();
  EXPECT_EQ(*labels, (std::vector<int>{7, 0, 9}));
  WriteBytes(path, BigEndian(0x803) + BigEndian(3));
  EXPECT_EQ(ReadIdxLabels(path).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ToModelInput, NormalisesLikeTheTrainer) {
  Image image{"x", 1, 1, 2, {0, 255}};
  nas::v1::ModelInput input = GreyInput(1);
  input.set_width(2);
  std::vector<float> x = ToModelInput(image, input);
  ASSERT_EQ(x.size(), 2u);
  EXPECT_FLOAT_EQ(x[0], (0.0f - 0.5f) / 0.25f);
  EXPECT_FLOAT_EQ(x[1], (1.0f - 0.5f) / 0.25f);
}

TEST(ToModelInput, ConvertsChannelsAndResizes) {
  // RGB 2x2 of (30, 60, 90) everywhere -> grey 60, resized to 4x4.
  Image image{"x", 3, 2, 2, {}};
  for (uint8_t v : {30, 60, 90}) image.pixels.insert(image.pixels.end(), 4, v);
  std::vector<float> x = ToModelInput(image, GreyInput(4));
  ASSERT_EQ(x.size(), 16u);
  for (float v : x) EXPECT_NEAR(v, (60.0f / 255.0f - 0.5f) / 0.25f, 1e-5);

  // Grey to a 3-channel model: the grey value in every channel.
  nas::v1::ModelInput rgb = GreyInput(2);
  rgb.set_channels(3);
  rgb.add_mean(0.5f);
  rgb.add_mean(0.5f);
  rgb.add_std(0.25f);
  rgb.add_std(0.25f);
  Image grey{"g", 1, 2, 2, {255, 255, 255, 255}};
  x = ToModelInput(grey, rgb);
  ASSERT_EQ(x.size(), 12u);
  for (float v : x) EXPECT_FLOAT_EQ(v, 2.0f);
}

}  // namespace
}  // namespace nas::predict
