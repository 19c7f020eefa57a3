#include "controller/request_checks.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace nas::controller {
namespace {

TEST(RequestChecks, Ids) {
  EXPECT_TRUE(CheckId("search_id", 1).ok());
  absl::Status s = CheckId("search_id", 0);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("search_id"), std::string::npos);
}

TEST(RequestChecks, PageSizesAndTokens) {
  EXPECT_EQ(*CheckPageSize("page_size", 0, 50, 1000), 50);
  EXPECT_EQ(*CheckPageSize("page_size", 7, 50, 1000), 7);
  EXPECT_FALSE(CheckPageSize("page_size", -1, 50, 1000).ok());
  EXPECT_FALSE(CheckPageSize("page_size", 1001, 50, 1000).ok());
  EXPECT_EQ(*ParsePageToken("", 0), 0);
  EXPECT_EQ(*ParsePageToken("17", 0), 17);
  EXPECT_FALSE(ParsePageToken("17; DROP TABLE trials", 0).ok());
  EXPECT_FALSE(ParsePageToken("-4", 0).ok());
}

TEST(RequestChecks, EpochMetrics) {
  nas::v1::EpochMetrics m;
  m.set_epoch(1);
  m.set_val_accuracy(0.5);
  EXPECT_TRUE(CheckEpochMetrics(m).ok());
  m.set_epoch(-2);
  EXPECT_NE(CheckEpochMetrics(m).message().find("metrics.epoch"),
            std::string::npos);
  m.set_epoch(1);
  m.set_train_loss(std::numeric_limits<double>::infinity());
  EXPECT_NE(CheckEpochMetrics(m).message().find("metrics.train_loss"),
            std::string::npos);
  m.set_train_loss(0.1);
  m.set_val_accuracy(1.5);
  EXPECT_NE(CheckEpochMetrics(m).message().find("metrics.val_accuracy"),
            std::string::npos);
}

TEST(RequestChecks, TrialMetrics) {
  nas::v1::TrialMetrics m;
  m.set_val_accuracy(0.9);
  m.set_test_accuracy(0.88);
  m.set_params(1000);
  EXPECT_TRUE(CheckTrialMetrics(m).ok());
  m.set_test_accuracy(std::nan(""));
  EXPECT_NE(CheckTrialMetrics(m).message().find("metrics.test_accuracy"),
            std::string::npos);
  m.set_test_accuracy(0.5);
  m.set_params(-1);
  EXPECT_NE(CheckTrialMetrics(m).message().find("metrics.params"),
            std::string::npos);
}

}  // namespace
}  // namespace nas::controller
