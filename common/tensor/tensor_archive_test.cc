#include "common/tensor/tensor_archive.h"

#include <gtest/gtest.h>

namespace nas::tensor {
namespace {

TensorMap Sample() {
  TensorMap m;
  m["b.bias"] = Tensor{{3}, {1.5f, -2.0f, 0.25f}};
  m["a.weight"] = Tensor{{2, 2}, {1, 2, 3, 4}};
  m["scalar"] = Tensor{{}, {7}};
  m["empty"] = Tensor{{0, 4}, {}};
  return m;
}

TEST(TensorArchiveTest, RoundTripsExactly) {
  const TensorMap m = Sample();
  TensorMap back;
  std::string error;
  ASSERT_TRUE(Parse(Serialize(m), &back, &error)) << error;
  ASSERT_EQ(back.size(), m.size());
  for (const auto& [name, t] : m) {
    EXPECT_EQ(back.at(name).shape, t.shape) << name;
    EXPECT_EQ(back.at(name).values, t.values) << name;
  }
  EXPECT_EQ(Serialize(back), Serialize(m)) << "deterministic bytes";
}

TEST(TensorArchiveTest, RefusesEveryTruncation) {
  const std::string bytes = Serialize(Sample());
  for (size_t n = 0; n < bytes.size(); ++n) {
    TensorMap out;
    std::string error;
    EXPECT_FALSE(Parse(bytes.substr(0, n), &out, &error)) << n;
    EXPECT_NE(error.find("tensor archive:"), std::string::npos) << error;
  }
}

TEST(TensorArchiveTest, RefusesGarbageAndTrailingBytes) {
  TensorMap out;
  std::string error;
  EXPECT_FALSE(Parse("hello world", &out, &error));
  EXPECT_NE(error.find("bad magic"), std::string::npos) << error;
  EXPECT_FALSE(Parse(Serialize(Sample()) + "x", &out, &error));
  EXPECT_NE(error.find("trailing"), std::string::npos) << error;
}

TEST(TensorArchiveTest, RefusesAHugeShapeWithoutAllocatingIt) {
  TensorMap m;
  m["w"] = Tensor{{1}, {1}};
  std::string bytes = Serialize(m);
  // The single dim sits right before the 4 value bytes; make it 2^40.
  const int64_t huge = int64_t{1} << 40;
  bytes.replace(bytes.size() - 4 - 8, 8, reinterpret_cast<const char*>(&huge),
                8);
  TensorMap out;
  std::string error;
  EXPECT_FALSE(Parse(bytes, &out, &error));
  EXPECT_NE(error.find("larger than the archive"), std::string::npos) << error;
}

TEST(TensorArchiveTest, WeightedAverageWeighsEachArchive) {
  TensorMap a, b;
  a["w"] = Tensor{{2}, {1, 10}};
  b["w"] = Tensor{{2}, {4, 40}};
  TensorMap out;
  std::string error;
  ASSERT_TRUE(WeightedAverage({&a, &b}, {1, 2}, &out, &error)) << error;
  EXPECT_FLOAT_EQ(out.at("w").values[0], 3.0f);   // (1 + 2*4) / 3
  EXPECT_FLOAT_EQ(out.at("w").values[1], 30.0f);  // (10 + 80) / 3
  ASSERT_TRUE(WeightedAverage({&a}, {5}, &out, &error)) << error;
  EXPECT_EQ(out.at("w").values, a.at("w").values);
}

TEST(TensorArchiveTest, WeightedAverageRefusesMismatches) {
  TensorMap a, b, c;
  a["w"] = Tensor{{2}, {1, 2}};
  b["w"] = Tensor{{3}, {1, 2, 3}};
  c["v"] = Tensor{{2}, {1, 2}};
  TensorMap out;
  std::string error;
  EXPECT_FALSE(WeightedAverage({&a, &b}, {1, 1}, &out, &error));
  EXPECT_NE(error.find("shape [2] in archive 0, [3] in archive 1"),
            std::string::npos)
      << error;
  EXPECT_FALSE(WeightedAverage({&a, &c}, {1, 1}, &out, &error));
  EXPECT_NE(error.find("lacks tensor w"), std::string::npos) << error;
  EXPECT_FALSE(WeightedAverage({&a, &a}, {1, 0}, &out, &error));
  EXPECT_FALSE(WeightedAverage({&a}, {1, 1}, &out, &error));
  EXPECT_FALSE(WeightedAverage({}, {}, &out, &error));
}

TEST(TensorArchiveTest, CheckTensorsNamesTheBadOne) {
  TensorMap m;
  m["ok"] = Tensor{{1}, {1}};
  m["bad"] = Tensor{{2, 2}, {1, 2, 3}};
  EXPECT_NE(CheckTensors(m).find("tensor bad: shape [2, 2] needs 4 values"),
            std::string::npos)
      << CheckTensors(m);
}

}  // namespace
}  // namespace nas::tensor
