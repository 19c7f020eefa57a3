#include "worker/metrics_summary.h"

#include "gtest/gtest.h"

namespace nas::worker {
namespace {

TEST(MetricsSummaryTest, PrintsOnlyWhatWasMeasured) {
  nas::v1::TrialMetrics score;  // an inherited-weight score: no test split
  score.set_val_accuracy(0.81234);
  score.set_params(31162);
  score.set_flops(722816);
  EXPECT_EQ(MetricsSummary(score),
            "val_acc 0.8123 params 31162 flops 722816");

  nas::v1::TrialMetrics trained = score;
  trained.set_test_accuracy(0.9);
  trained.set_latency_ms(1.5);
  trained.set_train_seconds(12.25);
  EXPECT_EQ(MetricsSummary(trained),
            "val_acc 0.8123 test_acc 0.9000 params 31162 flops 722816 "
            "latency 1.500ms train 12.2s");

  EXPECT_EQ(MetricsSummary(nas::v1::TrialMetrics()), "no metrics");
}

}  // namespace
}  // namespace nas::worker
