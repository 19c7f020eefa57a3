#include "nasctl/trial_sort.h"

#include "gtest/gtest.h"

namespace nas::cli {
namespace {

nas::v1::Trial MakeTrial(int number, nas::v1::TrialState state, double accuracy,
                         int64_t params) {
  nas::v1::Trial t;
  t.set_number(number);
  t.set_state(state);
  t.mutable_metrics()->set_val_accuracy(accuracy);
  t.mutable_metrics()->set_params(params);
  return t;
}

std::vector<int> Numbers(const std::vector<nas::v1::Trial>& trials) {
  std::vector<int> numbers;
  for (const auto& t : trials) numbers.push_back(t.number());
  return numbers;
}

std::vector<nas::v1::Trial> Sample() {
  return {MakeTrial(0, nas::v1::TRIAL_STATE_COMPLETED, 0.5, 300),
          MakeTrial(1, nas::v1::TRIAL_STATE_FAILED, 0, 0),
          MakeTrial(2, nas::v1::TRIAL_STATE_COMPLETED, 0.9, 100),
          MakeTrial(3, nas::v1::TRIAL_STATE_RUNNING, 0, 0),
          MakeTrial(4, nas::v1::TRIAL_STATE_COMPLETED, 0.7, 100)};
}

TEST(TrialSortTest, AccuracyIsBestFirstAndUnfinishedTrialsFollow) {
  auto order = ParseTrialOrder("val_accuracy");
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_TRUE(order->descending);
  std::vector<nas::v1::Trial> trials = Sample();
  SortTrials(*order, &trials);
  EXPECT_EQ(Numbers(trials), (std::vector<int>{2, 4, 0, 1, 3}));
}

TEST(TrialSortTest, CountsAreLowestFirstWithTiesByNumber) {
  auto order = ParseTrialOrder("params");
  ASSERT_TRUE(order.ok());
  std::vector<nas::v1::Trial> trials = Sample();
  SortTrials(*order, &trials);
  EXPECT_EQ(Numbers(trials), (std::vector<int>{2, 4, 0, 1, 3}));
  order = ParseTrialOrder("params:desc");
  ASSERT_TRUE(order.ok());
  SortTrials(*order, &trials);
  EXPECT_EQ(Numbers(trials), (std::vector<int>{0, 2, 4, 1, 3}));
}

// A tabular worker measures no latency: such trials go after those that
// have one in either direction, not first as if their latency were 0.
TEST(TrialSortTest, UnmeasuredMetricsGoLast) {
  std::vector<nas::v1::Trial> trials = Sample();
  trials[0].mutable_metrics()->set_latency_ms(5);
  trials[4].mutable_metrics()->set_latency_ms(2);
  auto order = ParseTrialOrder("latency_ms");
  ASSERT_TRUE(order.ok());
  SortTrials(*order, &trials);
  EXPECT_EQ(Numbers(trials), (std::vector<int>{4, 0, 2, 1, 3}));
  order = ParseTrialOrder("latency_ms:desc");
  ASSERT_TRUE(order.ok());
  SortTrials(*order, &trials);
  EXPECT_EQ(Numbers(trials), (std::vector<int>{0, 4, 2, 1, 3}));
}

TEST(TrialSortTest, NumberAscendsUnlessDesc) {
  std::vector<nas::v1::Trial> trials = Sample();
  auto desc = ParseTrialOrder("number:desc");
  ASSERT_TRUE(desc.ok());
  SortTrials(*desc, &trials);
  EXPECT_EQ(Numbers(trials), (std::vector<int>{4, 3, 2, 1, 0}));
  auto asc = ParseTrialOrder("number");
  ASSERT_TRUE(asc.ok());
  SortTrials(*asc, &trials);
  EXPECT_EQ(Numbers(trials), (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(TrialSortTest, BadKeysAndDirectionsNameTheOption) {
  auto unknown = ParseTrialOrder("accuracy");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find(
                "--sort: unknown key \"accuracy\"; expected one of number, "),
            std::string::npos)
      << unknown.status().message();
  auto direction = ParseTrialOrder("params:up");
  ASSERT_FALSE(direction.ok());
  EXPECT_EQ(direction.status().message(),
            "--sort: expected KEY, KEY:asc or KEY:desc, got \"params:up\"");
}

}  // namespace
}  // namespace nas::cli
