#include "common/spec/architecture_text.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "common/spec/space_from_proto.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::spec {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::unique_ptr<space::SearchSpace> Nb201(std::vector<std::string> ops = {}) {
  nas::v1::SearchSpace proto;
  proto.mutable_nb201();
  for (const std::string& op : ops) proto.mutable_nb201()->add_ops(op);
  return *MakeSearchSpace(proto);
}

// stage1: depth 1 or 2, width 16 or 32, ops conv3x3 / skip.
std::unique_ptr<space::SearchSpace> Chain() {
  nas::v1::SearchSpace proto;
  nas::v1::ChainStage* stage = proto.mutable_chain()->add_stages();
  stage->add_depths(1);
  stage->add_depths(2);
  stage->add_widths(16);
  stage->add_widths(32);
  stage->add_ops("conv3x3");
  stage->add_ops("skip");
  return *MakeSearchSpace(proto);
}

constexpr char kNb201Text[] =
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|"
    "avg_pool_3x3~2|";

TEST(ArchitectureTextTest, Nb201StringRoundTrips) {
  auto space = Nb201();
  auto choices = ParseArchitectureText(*space, kNb201Text);
  ASSERT_TRUE(choices.ok()) << choices.status();
  // Nb201Ops order: none, skip_connect, nor_conv_1x1, nor_conv_3x3,
  // avg_pool_3x3.
  EXPECT_THAT(*choices, ElementsAre(3, 0, 1, 2, 0, 4));
  EXPECT_EQ(space->Render(*choices), kNb201Text);
}

TEST(ArchitectureTextTest, Nb201IndexesAreThoseOfTheSearchsOps) {
  auto space = Nb201({"skip_connect", "nor_conv_3x3"});
  auto choices = ParseArchitectureText(
      *space,
      "|skip_connect~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|"
      "skip_connect~1|nor_conv_3x3~2|");
  ASSERT_TRUE(choices.ok()) << choices.status();
  EXPECT_THAT(*choices, ElementsAre(0, 1, 0, 0, 0, 1));
}

TEST(ArchitectureTextTest, Nb201OpOutsideTheSearchsOpsNamesTheEdge) {
  auto space = Nb201({"skip_connect", "nor_conv_3x3"});
  auto choices = ParseArchitectureText(*space, kNb201Text);
  ASSERT_FALSE(choices.ok());
  EXPECT_EQ(choices.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(choices.status().message(), HasSubstr("edge_2<-0"));
  EXPECT_THAT(choices.status().message(), HasSubstr("\"none\""));
  EXPECT_THAT(choices.status().message(),
              HasSubstr("skip_connect, nor_conv_3x3"));
}

TEST(ArchitectureTextTest, MalformedNb201StringIsRefused) {
  auto space = Nb201();
  for (const char* text : {"|nor_conv_3x3~0|", "nonsense", "",
                           "|bogus~0|+|none~0|none~1|+|"
                           "none~0|none~1|none~2|"}) {
    auto choices = ParseArchitectureText(*space, text);
    EXPECT_EQ(choices.status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST(ArchitectureTextTest, ChainPairsRoundTrip) {
  auto space = Chain();
  const std::string text =
      "stage1.depth=2 stage1.width=32 stage1.layer1.op=skip "
      "stage1.layer2.op=conv3x3";
  auto choices = ParseArchitectureText(*space, text);
  ASSERT_TRUE(choices.ok()) << choices.status();
  EXPECT_THAT(*choices, ElementsAre(1, 1, 1, 0));
  EXPECT_EQ(space->Render(*choices), text);
}

TEST(ArchitectureTextTest, ChainLayersBeyondTheDepthMayBeLeftOut) {
  auto space = Chain();
  auto choices = ParseArchitectureText(
      *space, "stage1.depth=1, stage1.width=16, stage1.layer1.op=skip");
  ASSERT_TRUE(choices.ok()) << choices.status();
  EXPECT_THAT(*choices, ElementsAre(0, 0, 1, 0));
}

TEST(ArchitectureTextTest, ChainMissingUsedDecisionIsNamed) {
  auto space = Chain();
  auto choices = ParseArchitectureText(
      *space, "stage1.depth=2 stage1.width=16 stage1.layer1.op=skip");
  ASSERT_FALSE(choices.ok());
  EXPECT_THAT(choices.status().message(),
              HasSubstr("missing stage1.layer2.op"));
}

TEST(ArchitectureTextTest, ChainErrorsSayWhatToFix) {
  auto space = Chain();
  struct Case {
    const char* text;
    const char* expected;
  };
  for (const Case& c : {
           Case{"stage1.depth=3 stage1.width=16 stage1.layer1.op=skip",
                "stage1.depth: \"3\" is not an option"},
           Case{"stage9.depth=1", "unknown decision \"stage9.depth\""},
           Case{"stage1.depth", "is not name=option"},
           Case{"stage1.depth=1 stage1.depth=1", "given twice"},
           Case{"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                "not the cell space"},
       }) {
    auto choices = ParseArchitectureText(*space, c.text);
    ASSERT_FALSE(choices.ok()) << c.text;
    EXPECT_EQ(choices.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(choices.status().message(), HasSubstr(c.expected)) << c.text;
  }
}

TEST(ArchitectureTextTest, ChoicesAreValidated) {
  auto space = Nb201();
  nas::v1::Architecture arch;
  for (int c : {0, 1, 2, 3, 4, 0}) arch.add_choices(c);
  auto choices = ArchitectureChoices(*space, arch);
  ASSERT_TRUE(choices.ok()) << choices.status();
  EXPECT_THAT(*choices, ElementsAre(0, 1, 2, 3, 4, 0));

  arch.set_choices(5, 9);
  EXPECT_EQ(ArchitectureChoices(*space, arch).status().code(),
            absl::StatusCode::kInvalidArgument);
  arch.clear_choices();
  arch.add_choices(0);
  EXPECT_EQ(ArchitectureChoices(*space, arch).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ArchitectureTextTest, ChoicesAndTextMustAgree) {
  auto space = Nb201();
  nas::v1::Architecture arch;
  for (int c : {3, 0, 1, 2, 0, 4}) arch.add_choices(c);
  arch.set_text(kNb201Text);
  EXPECT_TRUE(ArchitectureChoices(*space, arch).ok());
  arch.set_choices(0, 2);
  auto choices = ArchitectureChoices(*space, arch);
  EXPECT_EQ(choices.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(choices.status().message(), HasSubstr("disagree"));
}

TEST(ArchitectureTextTest, TextAloneIsParsed) {
  auto space = Nb201();
  nas::v1::Architecture arch;
  arch.set_text(std::string("  ") + kNb201Text + "\n");
  auto choices = ArchitectureChoices(*space, arch);
  ASSERT_TRUE(choices.ok()) << choices.status();
  EXPECT_THAT(*choices, ElementsAre(3, 0, 1, 2, 0, 4));
}

}  // namespace
}  // namespace nas::spec
