#include "controller/pruning/pruner.h"

#include <algorithm>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/spec_validation.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

nas::v1::SearchSpec Spec(int epochs) {
  nas::v1::SearchSpec spec;
  spec.add_objectives()->set_metric("val_accuracy");
  spec.mutable_objectives(0)->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  spec.mutable_budget()->set_max_trials(100);
  spec.mutable_training()->set_epochs(epochs);
  return spec;
}

nas::v1::SearchSpec Asha(int min_epochs, int max_epochs, int eta) {
  nas::v1::SearchSpec spec = Spec(max_epochs);
  nas::v1::AshaConfig* asha = spec.mutable_early_stopping()->mutable_asha();
  asha->set_min_epochs(min_epochs);
  asha->set_max_epochs(max_epochs);
  asha->set_reduction_factor(eta);
  return spec;
}

nas::v1::SearchSpec Hyperband(int min_epochs, int max_epochs, int eta) {
  nas::v1::SearchSpec spec = Spec(max_epochs);
  nas::v1::HyperbandConfig* hb =
      spec.mutable_early_stopping()->mutable_hyperband();
  hb->set_min_epochs(min_epochs);
  hb->set_max_epochs(max_epochs);
  hb->set_reduction_factor(eta);
  return spec;
}

PruneReport Report(int trial, int epoch, double value) {
  return PruneReport{/*trial_id=*/100 + trial, trial, epoch, value};
}

TEST(AshaPrunerTest, TopOneOverEtaOfEachRungGoesOn) {
  std::unique_ptr<Pruner> pruner = MakePruner(Asha(1, 9, 3));
  ASSERT_NE(pruner, nullptr);
  // Fewer than eta values at rung 0: everyone goes on.
  PruneDecision d = pruner->OnReport(Report(0, 1, 0.50));
  EXPECT_FALSE(d.stop);
  ASSERT_TRUE(d.rung.has_value());
  EXPECT_EQ(*d.rung, 0);
  EXPECT_FALSE(pruner->OnReport(Report(1, 1, 0.70)).stop);
  // Three values {0.5, 0.7, 0.6}: top floor(3/3) = 1 is 0.7; 0.6 stops.
  d = pruner->OnReport(Report(2, 1, 0.60));
  EXPECT_TRUE(d.stop);
  EXPECT_EQ(*d.rung, 0);
  EXPECT_THAT(d.reason, HasSubstr("rung 0 (epoch 1): val_accuracy 0.6000 is "
                                  "not in the top 1/3 of the 3 trials that "
                                  "reached it (cutoff 0.7000)"));
  // A new best at the rung goes on.
  EXPECT_FALSE(pruner->OnReport(Report(3, 1, 0.80)).stop);
  // Epochs between rungs are not decided.
  d = pruner->OnReport(Report(1, 2, 0.10));
  EXPECT_FALSE(d.stop);
  EXPECT_FALSE(d.rung.has_value());
  // Five values: only the best (0.8) goes on, so 0.75 stops; six values:
  // the top 2 are 0.8 and 0.75, so 0.72 stops and 0.9 goes on.
  EXPECT_TRUE(pruner->OnReport(Report(4, 1, 0.75)).stop);
  EXPECT_TRUE(pruner->OnReport(Report(5, 1, 0.72)).stop);
  EXPECT_FALSE(pruner->OnReport(Report(6, 1, 0.90)).stop);
  // Rung 1 (epoch 3) is judged among the trials that reached it.
  d = pruner->OnReport(Report(1, 3, 0.81));
  EXPECT_FALSE(d.stop);
  EXPECT_EQ(*d.rung, 1);
  // The full budget (epoch 9) is not a rung.
  EXPECT_FALSE(pruner->OnReport(Report(1, 9, 0.1)).rung.has_value());
}

TEST(AshaPrunerTest, RepeatedReportReplacesTheValue) {
  std::unique_ptr<Pruner> pruner = MakePruner(Asha(1, 9, 3));
  pruner->OnReport(Report(0, 1, 0.9));
  pruner->OnReport(Report(0, 1, 0.9));  // the retried attempt's report
  // Only two trials at the rung: no decision yet.
  EXPECT_FALSE(pruner->OnReport(Report(1, 1, 0.1)).stop);
}

TEST(AshaPrunerTest, MinimizedLossIsOrientedAndShownAsWritten) {
  nas::v1::SearchSpec spec = Asha(1, 3, 2);
  spec.mutable_objectives(0)->set_metric("val_loss");
  spec.mutable_objectives(0)->set_direction(nas::v1::DIRECTION_MINIMIZE);
  std::unique_ptr<Pruner> pruner = MakePruner(spec);
  nas::v1::EpochMetrics low, high;
  low.set_epoch(1);
  low.set_val_loss(0.3);
  high.set_epoch(1);
  high.set_val_loss(0.6);
  EXPECT_EQ(DecisionMetric(spec), "val_loss");
  pruner->OnReport({1, 0, 1, *DecisionValue(spec, low)});
  const PruneDecision d = pruner->OnReport({2, 1, 1, *DecisionValue(spec, high)});
  EXPECT_TRUE(d.stop);
  EXPECT_THAT(d.reason, HasSubstr("val_loss 0.6000"));
  EXPECT_THAT(d.reason, HasSubstr("cutoff 0.3000"));
}

TEST(PrunerTest, ObjectiveNotMeasuredPerEpochFallsBackToValAccuracy) {
  nas::v1::SearchSpec spec = Asha(1, 9, 3);
  spec.mutable_objectives(0)->set_metric("params");
  spec.mutable_objectives(0)->set_direction(nas::v1::DIRECTION_MINIMIZE);
  EXPECT_EQ(DecisionMetric(spec), "val_accuracy");
  nas::v1::EpochMetrics m;
  m.set_val_accuracy(0.25);
  EXPECT_EQ(*DecisionValue(spec, m), 0.25);
}

TEST(HyperbandPrunerTest, BracketsJudgeSeparately) {
  std::unique_ptr<Pruner> pruner = MakePruner(Hyperband(1, 9, 3));
  // Bracket 0 (numbers 0, 3, 6, ...): rungs at epochs 1 and 3.
  EXPECT_EQ(*pruner->OnReport(Report(0, 1, 0.9)).rung, 0);
  pruner->OnReport(Report(3, 1, 0.8));
  EXPECT_TRUE(pruner->OnReport(Report(6, 1, 0.1)).stop);
  // Bracket 1 (numbers 1, 4, 7): epoch 1 is no rung; epoch 3 is rung 1.
  EXPECT_FALSE(pruner->OnReport(Report(1, 1, 0.0)).rung.has_value());
  EXPECT_EQ(*pruner->OnReport(Report(1, 3, 0.2)).rung, 1);
  pruner->OnReport(Report(4, 3, 0.3));
  // Bracket 0's values at epoch 3 do not count for bracket 1.
  pruner->OnReport(Report(0, 3, 0.99));
  EXPECT_TRUE(pruner->OnReport(Report(7, 3, 0.25)).stop);
  // Bracket 2 (numbers 2, 5, 8): no rungs at all.
  for (int epoch = 1; epoch <= 9; ++epoch) {
    EXPECT_FALSE(pruner->OnReport(Report(2, epoch, 0.0)).stop);
    EXPECT_FALSE(pruner->OnReport(Report(5, epoch, 0.0)).rung.has_value());
  }
}

TEST(MedianPrunerTest, StopsBelowTheMedianOfOthersAfterWarmup) {
  nas::v1::SearchSpec spec = Spec(5);
  nas::v1::MedianStoppingConfig* m =
      spec.mutable_early_stopping()->mutable_median();
  m->set_warmup_epochs(1);
  m->set_min_trials(3);
  std::unique_ptr<Pruner> pruner = MakePruner(spec);
  // Three finished curves.
  const std::vector<std::vector<double>> curves = {
      {0.5, 0.6, 0.7}, {0.4, 0.8, 0.6}, {0.3, 0.5, 0.9}};
  for (size_t t = 0; t < curves.size(); ++t) {
    for (size_t e = 0; e < curves[t].size(); ++e) {
      pruner->OnReport(Report(static_cast<int>(t), static_cast<int>(e) + 1,
                              curves[t][e]));
    }
  }
  // Epoch 1 is warm-up: never stopped however low.
  EXPECT_FALSE(pruner->OnReport(Report(9, 1, 0.0)).stop);
  // Epoch 2: others' best so far {0.6, 0.8, 0.5}, median 0.6.
  const PruneDecision d = pruner->OnReport(Report(9, 2, 0.55));
  EXPECT_TRUE(d.stop);
  EXPECT_THAT(d.reason, HasSubstr("median rule at epoch 2: best val_accuracy "
                                  "so far 0.5500 is worse than the median "
                                  "0.6000 of 3 other trials"));
  EXPECT_FALSE(pruner->OnReport(Report(8, 2, 0.6)).stop);
  // Its best so far counts, not its last value: others' best by epoch 3 are
  // {0.7, 0.8, 0.9, 0.55, 0.6} minus itself.
  pruner->OnReport(Report(7, 1, 0.1));
  EXPECT_FALSE(pruner->OnReport(Report(7, 2, 0.85)).stop);
  EXPECT_FALSE(pruner->OnReport(Report(7, 3, 0.2)).stop);
}

TEST(MedianPrunerTest, WaitsForMinTrials) {
  nas::v1::SearchSpec spec = Spec(5);
  spec.mutable_early_stopping()->mutable_median()->set_warmup_epochs(0);
  spec.mutable_early_stopping()->mutable_median()->set_min_trials(2);
  std::unique_ptr<Pruner> pruner = MakePruner(spec);
  pruner->OnReport(Report(0, 1, 0.9));
  EXPECT_FALSE(pruner->OnReport(Report(1, 1, 0.1)).stop);
  EXPECT_TRUE(pruner->OnReport(Report(2, 1, 0.1)).stop);
}

// The state is a set: replaying the same reports in another order, as a
// restarted controller does from the store, gives the same next decisions.
TEST(PrunerTest, ReplayInAnyOrderRebuildsTheSameState) {
  for (nas::v1::SearchSpec spec : {Asha(1, 9, 3), Spec(9)}) {
    if (!spec.has_early_stopping()) {
      spec.mutable_early_stopping()->mutable_median()->set_min_trials(2);
    }
    std::mt19937_64 rng(3);
    std::uniform_real_distribution<double> value(0, 1);
    std::vector<PruneReport> history;
    for (int t = 0; t < 20; ++t) {
      for (int e = 1; e <= 3; ++e) history.push_back(Report(t, e, value(rng)));
    }
    std::unique_ptr<Pruner> in_order = MakePruner(spec);
    for (const PruneReport& r : history) in_order->OnReport(r);
    std::shuffle(history.begin(), history.end(), rng);
    std::unique_ptr<Pruner> shuffled = MakePruner(spec);
    for (const PruneReport& r : history) shuffled->OnReport(r);
    for (int t = 20; t < 40; ++t) {
      for (int e = 1; e <= 3; ++e) {
        const PruneReport next = Report(t, e, value(rng));
        const PruneDecision a = in_order->OnReport(next);
        const PruneDecision b = shuffled->OnReport(next);
        EXPECT_EQ(a.stop, b.stop);
        EXPECT_EQ(a.rung, b.rung);
        EXPECT_EQ(a.reason, b.reason);
      }
    }
  }
}

nas::v1::SearchSpec PromotingAsha(int min_epochs, int max_epochs, int eta) {
  nas::v1::SearchSpec spec = Asha(min_epochs, max_epochs, eta);
  spec.mutable_early_stopping()->mutable_asha()->set_promote(true);
  return spec;
}

nas::v1::SearchSpec PromotingHyperband(int min_epochs, int max_epochs,
                                       int eta) {
  nas::v1::SearchSpec spec = Hyperband(min_epochs, max_epochs, eta);
  spec.mutable_early_stopping()->mutable_hyperband()->set_promote(true);
  return spec;
}

// "number@rung" for each promotable trial, in order.
std::vector<std::string> Named(const std::vector<PromotableTrial>& trials) {
  std::vector<std::string> names;
  for (const PromotableTrial& t : trials) {
    EXPECT_EQ(t.trial_id, 100 + t.trial_number);
    names.push_back(absl::StrCat(t.trial_number, "@", t.rung));
  }
  return names;
}

TEST(PromotingAshaTest, PausesAtEachRungUntilInItsTop) {
  std::unique_ptr<Pruner> pruner = MakePruner(PromotingAsha(1, 9, 3));
  // Fewer than eta values at rung 0: nobody can be in its top third yet.
  PruneDecision d = pruner->OnReport(Report(0, 1, 0.50));
  EXPECT_TRUE(d.stop);
  EXPECT_TRUE(d.pause);
  EXPECT_EQ(*d.rung, 0);
  EXPECT_THAT(d.reason, HasSubstr("rung 0 (epoch 1): val_accuracy 0.5000; "
                                  "paused: 1 of the 3 trials a promotion "
                                  "needs reached it"));
  EXPECT_TRUE(pruner->OnReport(Report(1, 1, 0.70)).pause);
  EXPECT_THAT(pruner->Promotable(), IsEmpty());
  // The third value makes a top third of one: trial 1, paused before.
  d = pruner->OnReport(Report(2, 1, 0.60));
  EXPECT_TRUE(d.pause);
  EXPECT_THAT(d.reason, HasSubstr("is not in the top 1/3 of the 3 trials "
                                  "that reached it (cutoff 0.7000); paused "
                                  "until later arrivals put it there"));
  EXPECT_THAT(Named(pruner->Promotable()), ElementsAre("1@0"));
  // Resumed, it reports past the rung: promoted once only.
  EXPECT_FALSE(pruner->OnReport(Report(1, 2, 0.72)).stop);
  EXPECT_THAT(pruner->Promotable(), IsEmpty());
  // A new best at the rung goes on at once; it stays named until it
  // reports past the rung (the caller resumes only paused trials).
  d = pruner->OnReport(Report(3, 1, 0.80));
  EXPECT_FALSE(d.stop);
  EXPECT_EQ(*d.rung, 0);
  EXPECT_THAT(Named(pruner->Promotable()), ElementsAre("3@0"));
  pruner->OnReport(Report(3, 2, 0.81));
  // Six values, a top two (0.8, 0.7) both promoted; then nine values, a top
  // three: 0.65 (trial 4, paused meanwhile) joins it.
  EXPECT_TRUE(pruner->OnReport(Report(4, 1, 0.65)).pause);
  EXPECT_TRUE(pruner->OnReport(Report(5, 1, 0.55)).pause);
  EXPECT_THAT(pruner->Promotable(), IsEmpty());
  for (int t = 6; t <= 8; ++t) pruner->OnReport(Report(t, 1, 0.30));
  EXPECT_THAT(Named(pruner->Promotable()), ElementsAre("4@0"));
  // Rung 1 (epoch 3): the best of three goes on there.
  EXPECT_TRUE(pruner->OnReport(Report(1, 3, 0.75)).pause);
  EXPECT_TRUE(pruner->OnReport(Report(3, 3, 0.85)).pause);
  pruner->OnReport(Report(4, 2, 0.66));
  EXPECT_TRUE(pruner->OnReport(Report(4, 3, 0.70)).pause);
  // The highest rung's promotion comes first.
  EXPECT_FALSE(pruner->OnReport(Report(9, 1, 0.95)).stop);
  EXPECT_THAT(Named(pruner->Promotable()), ElementsAre("3@1", "9@0"));
  // The full budget is no rung: a promoted trial finishes there.
  EXPECT_FALSE(pruner->OnReport(Report(3, 9, 0.9)).stop);
  EXPECT_THAT(Named(pruner->Promotable()), ElementsAre("9@0"));
}

TEST(PromotingAshaTest, ReplayInAnyOrderNamesTheSamePromotions) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> value(0, 1);
  std::vector<PruneReport> history;
  // 30 trials; a trial goes on past a rung for a while, as if promoted.
  for (int t = 0; t < 30; ++t) {
    const int epochs = 1 + static_cast<int>(rng() % 4);
    for (int e = 1; e <= epochs; ++e)
      history.push_back(Report(t, e, value(rng)));
  }
  std::unique_ptr<Pruner> in_order = MakePruner(PromotingAsha(1, 9, 3));
  for (const PruneReport& r : history) in_order->OnReport(r);
  std::shuffle(history.begin(), history.end(), rng);
  std::unique_ptr<Pruner> shuffled = MakePruner(PromotingAsha(1, 9, 3));
  for (const PruneReport& r : history) shuffled->OnReport(r);
  EXPECT_FALSE(in_order->Promotable().empty());
  EXPECT_EQ(Named(in_order->Promotable()), Named(shuffled->Promotable()));
}

TEST(PromotingAshaTest, HyperbandBracketsPauseAtTheirOwnRungs) {
  std::unique_ptr<Pruner> pruner = MakePruner(PromotingHyperband(1, 9, 3));
  // Bracket 1 (numbers 1, 4, 7) has no rung at epoch 1.
  EXPECT_FALSE(pruner->OnReport(Report(1, 1, 0.1)).stop);
  EXPECT_TRUE(pruner->OnReport(Report(1, 3, 0.9)).pause);
  EXPECT_TRUE(pruner->OnReport(Report(4, 3, 0.2)).pause);
  // Bracket 0's values at epoch 3 do not count for bracket 1.
  pruner->OnReport(Report(0, 1, 0.5));
  pruner->OnReport(Report(0, 3, 0.99));
  EXPECT_THAT(pruner->Promotable(), IsEmpty());
  EXPECT_TRUE(pruner->OnReport(Report(7, 3, 0.3)).pause);
  EXPECT_THAT(Named(pruner->Promotable()), ElementsAre("1@1"));
  // Bracket 2 never pauses.
  for (int epoch = 1; epoch <= 9; ++epoch) {
    EXPECT_FALSE(pruner->OnReport(Report(2, epoch, 0.0)).stop);
  }
}

TEST(PromotingAshaTest, HyperbandRanksARungsPromotionsAcrossBrackets) {
  std::unique_ptr<Pruner> pruner = MakePruner(PromotingHyperband(1, 9, 3));
  // Epoch 3 is bracket 0's rung 1 and bracket 1's rung 0: global rung 1 in
  // both. Bracket 0 (numbers 0, 3, 6) passes its rung 0 (epoch 1) first.
  for (int t : {0, 3, 6}) pruner->OnReport(Report(t, 1, 0.5));
  for (int t : {0, 3, 6}) pruner->OnReport(Report(t, 3, 0.1 * (t + 1)));
  for (int t : {1, 4, 7}) pruner->OnReport(Report(t, 3, 0.1 * (t + 1)));
  // The best of each bracket at epoch 3: trial 6 (0.70) and trial 7
  // (0.80). One epoch, one scale: the better goes first, although its
  // bracket is the later one.
  EXPECT_THAT(Named(pruner->Promotable()), ElementsAre("7@1", "6@1"));
}

TEST(PrunerTest, StoppingVariantNamesNoPromotions) {
  std::unique_ptr<Pruner> pruner = MakePruner(Asha(1, 9, 3));
  for (int t = 0; t < 6; ++t) {
    EXPECT_FALSE(pruner->OnReport(Report(t, 1, 0.1 * t)).pause);
  }
  EXPECT_THAT(pruner->Promotable(), IsEmpty());
}

TEST(PrunerTest, NoRuleNoPruner) {
  EXPECT_EQ(MakePruner(Spec(3)), nullptr);
}

}  // namespace
}  // namespace nas::controller
