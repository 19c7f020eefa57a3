#include "common/spec/space_from_proto.h"

#include <memory>
#include <string>
#include <variant>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::StartsWith;

nas::v1::ChainStage* AddStage(nas::v1::ChainSpace* chain,
                              std::initializer_list<int> depths,
                              std::initializer_list<int> widths,
                              std::initializer_list<const char*> ops,
                              int stride) {
  nas::v1::ChainStage* stage = chain->add_stages();
  for (int d : depths) stage->add_depths(d);
  for (int w : widths) stage->add_widths(w);
  for (const char* op : ops) stage->add_ops(op);
  stage->set_stride(stride);
  return stage;
}

TEST(SpaceFromProtoTest, Nb201DefaultsGiveTheBenchmarkSpace) {
  nas::v1::SearchSpace proto;
  proto.mutable_nb201();
  absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> built =
      MakeSearchSpace(proto);
  ASSERT_TRUE(built.ok()) << built.status();
  const auto& decisions = (*built)->decisions();
  ASSERT_EQ(decisions.size(), 6u);
  for (const nas::space::Decision& decision : decisions) {
    EXPECT_EQ(decision.options, nas::space::Nb201Ops()) << decision.name;
  }
}

TEST(SpaceFromProtoTest, Nb201OpSubsetIsEachEdgesOptions) {
  nas::v1::SearchSpace proto;
  proto.mutable_nb201()->add_ops("skip_connect");
  proto.mutable_nb201()->add_ops("nor_conv_3x3");
  absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> built =
      MakeSearchSpace(proto);
  ASSERT_TRUE(built.ok()) << built.status();
  ASSERT_EQ((*built)->decisions().size(), 6u);
  EXPECT_THAT((*built)->decisions()[0].options,
              ElementsAre("skip_connect", "nor_conv_3x3"));
}

TEST(SpaceFromProtoTest, ChainDecisionsFollowTheConfig) {
  nas::v1::SearchSpace proto;
  nas::v1::ChainSpace* chain = proto.mutable_chain();
  AddStage(chain, {1, 2}, {16, 24}, {"conv3x3", "ir_k3_e3", "ir_k5_e3"}, 2);
  AddStage(chain, {1, 2, 3}, {32, 48},
           {"conv3x3", "ir_k3_e3", "ir_k3_e6", "ir_k5_e6", "skip"}, 0);
  absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> built =
      MakeSearchSpace(proto);
  ASSERT_TRUE(built.ok()) << built.status();
  // Per stage: a depth, a width, and one op per layer up to the largest depth.
  const auto& decisions = (*built)->decisions();
  ASSERT_EQ(decisions.size(), (2u + 2u) + (2u + 3u));
  EXPECT_THAT(decisions[0].options, ElementsAre("1", "2"));
  EXPECT_THAT(decisions[1].options, ElementsAre("16", "24"));
  EXPECT_EQ(decisions[2].options.size(), 3u);
  EXPECT_THAT(decisions[4].options, ElementsAre("1", "2", "3"));
  EXPECT_EQ(decisions[8].options.size(), 5u);
}

TEST(SpaceFromProtoTest, ConfigHasTheDefaults) {
  nas::v1::SearchSpace proto;
  proto.mutable_nb201()->set_channels(8);
  absl::StatusOr<SpaceConfig> config = SearchSpaceConfig(proto);
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& nb201 = std::get<nas::space::Nb201Config>(*config);
  EXPECT_EQ(nb201.channels, 8);
  EXPECT_EQ(nb201.cells_per_stage, 5);
  EXPECT_EQ(nb201.ops, nas::space::Nb201Ops());

  proto.Clear();
  AddStage(proto.mutable_chain(), {1, 2}, {8, 16}, {"conv3x3", "skip"}, 2);
  config = SearchSpaceConfig(proto);
  ASSERT_TRUE(config.ok()) << config.status();
  const auto& chain = std::get<nas::space::ChainConfig>(*config);
  EXPECT_EQ(chain.stem_channels, 16);
  ASSERT_EQ(chain.stages.size(), 1u);
  EXPECT_THAT(chain.stages[0].widths, ElementsAre(8, 16));

  proto.Clear();
  EXPECT_THAT(std::string(SearchSpaceConfig(proto).status().message()),
              StartsWith("space"));
}

TEST(SpaceFromProtoTest, DefaultsDoNotTouchTheCallersProto) {
  nas::v1::SearchSpace proto;
  AddStage(proto.mutable_chain(), {1}, {8}, {"skip"}, 0);
  const std::string before = proto.SerializeAsString();
  ASSERT_TRUE(MakeSearchSpace(proto).ok());
  EXPECT_EQ(proto.SerializeAsString(), before);
}

TEST(SpaceFromProtoTest, ApplyDefaultsKeepsExplicitFields) {
  nas::v1::SearchSpace proto;
  AddStage(proto.mutable_chain(), {1}, {8}, {"skip"}, 0);
  AddStage(proto.mutable_chain(), {1}, {8}, {"skip"}, 0);
  ApplySearchSpaceDefaults(&proto, {"space.chain.stages[1].stride"});
  EXPECT_EQ(proto.chain().stem_channels(), 16);
  EXPECT_EQ(proto.chain().stages(0).stride(), 1);
  EXPECT_EQ(proto.chain().stages(1).stride(), 0);
  EXPECT_THAT(
      std::string(ValidateSearchSpace(proto).message()),
      StartsWith("space.chain.stages[1].stride: must be 1 or 2, got 0"));
}

TEST(SpaceFromProtoTest, ErrorsCarryTheSpacePath) {
  nas::v1::SearchSpace nb201;
  nb201.mutable_nb201()->add_ops("none");
  nb201.mutable_nb201()->add_ops("conv9x9");
  absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> built =
      MakeSearchSpace(nb201);
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(built.status().message()),
              StartsWith("space.nb201.ops[1]: unknown op \"conv9x9\""));

  nas::v1::SearchSpace chain;
  AddStage(chain.mutable_chain(), {1}, {8}, {"skip"}, 1);
  AddStage(chain.mutable_chain(), {1}, {8, 8}, {"skip"}, 1);
  built = MakeSearchSpace(chain);
  EXPECT_EQ(built.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(built.status().message()),
              StartsWith("space.chain.stages[1].widths[1]: duplicate width 8"));

  built = MakeSearchSpace(nas::v1::SearchSpace());
  EXPECT_THAT(std::string(built.status().message()),
              StartsWith("space: required"));
}

TEST(SpaceFromProtoTest, ValidatesArchitectures) {
  nas::v1::SearchSpace proto;
  proto.mutable_nb201();
  absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> built =
      MakeSearchSpace(proto);
  ASSERT_TRUE(built.ok()) << built.status();

  nas::v1::Architecture architecture;
  for (int choice : {0, 1, 2, 3, 4, 0}) architecture.add_choices(choice);
  EXPECT_TRUE(ValidateArchitecture(**built, architecture).ok());

  architecture.set_choices(5, 5);
  absl::Status status = ValidateArchitecture(**built, architecture);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("architecture.choices"));

  architecture.clear_choices();
  EXPECT_EQ(ValidateArchitecture(**built, architecture).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nas::spec
