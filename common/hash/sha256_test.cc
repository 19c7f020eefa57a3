#include "common/hash/sha256.h"

#include <string>

#include "gtest/gtest.h"

namespace nas::hash {
namespace {

// FIPS 180-4 examples.
TEST(Sha256Test, KnownDigests) {
  EXPECT_EQ(Sha256Hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, ChunkedEqualsWhole) {
  std::string data;
  for (int i = 0; i < 100000; ++i) data.push_back(static_cast<char>(i * 7));
  Sha256 sha;
  for (size_t at = 0; at < data.size(); at += 4093) {
    sha.Update(std::string_view(data).substr(at, 4093));
  }
  const std::string chunked = sha.FinishHex();
  EXPECT_EQ(chunked, Sha256Hex(data));
  data[500] ^= 1;
  EXPECT_NE(Sha256Hex(data), chunked);
}

}  // namespace
}  // namespace nas::hash
