#include "common/spec/constraint_text.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::spec {
namespace {

using ::testing::HasSubstr;

TEST(ConstraintTextTest, ParsesBothOperatorsWithOrWithoutSpaces) {
  absl::StatusOr<nas::v1::Constraint> le = ParseConstraint("latency_ms <= 5");
  ASSERT_TRUE(le.ok()) << le.status();
  EXPECT_EQ(le->metric(), "latency_ms");
  EXPECT_EQ(le->op(), nas::v1::COMPARISON_LESS_EQUAL);
  EXPECT_DOUBLE_EQ(le->bound(), 5);
  absl::StatusOr<nas::v1::Constraint> ge =
      ParseConstraint("val_accuracy>=-0.5");
  ASSERT_TRUE(ge.ok()) << ge.status();
  EXPECT_EQ(ge->metric(), "val_accuracy");
  EXPECT_EQ(ge->op(), nas::v1::COMPARISON_GREATER_EQUAL);
  EXPECT_DOUBLE_EQ(ge->bound(), -0.5);
  EXPECT_DOUBLE_EQ(ParseConstraint("params <= 1e6")->bound(), 1e6);
}

TEST(ConstraintTextTest, RefusesMalformedText) {
  for (const char* text :
       {"latency_ms < 5", "params == 3", "<= 5", "params <= ", "params <= x",
        "params <= nan", "params >= inf", "a <= 1 >= 2", ""}) {
    absl::StatusOr<nas::v1::Constraint> c = ParseConstraint(text);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_THAT(std::string(ParseConstraint("params <= big").status().message()),
              HasSubstr("the bound must be a finite number, got \"big\""));
}

TEST(ConstraintTextTest, FormatIsTheInverseOfParse) {
  for (const char* text :
       {"latency_ms <= 5", "params <= 1e+06", "val_accuracy >= 0.25"}) {
    absl::StatusOr<nas::v1::Constraint> c = ParseConstraint(text);
    ASSERT_TRUE(c.ok()) << text;
    EXPECT_EQ(FormatConstraint(*c), text);
  }
}

}  // namespace
}  // namespace nas::spec
