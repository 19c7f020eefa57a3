#include "common/spec/early_stopping.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/spec/estimation.h"
#include "common/spec/field_errors.h"

namespace nas::spec {
namespace {

using internal::CheckRange;
using internal::FieldError;

// What ASHA and Hyperband share.
struct Rungs {
  int min_epochs = 0;
  int max_epochs = 0;
  int eta = 0;
  std::string path;  // "early_stopping.asha"
};

Rungs RungsOf(const nas::v1::EarlyStoppingSpec& rule) {
  if (rule.has_hyperband()) {
    const nas::v1::HyperbandConfig& c = rule.hyperband();
    return {c.min_epochs(), c.max_epochs(), c.reduction_factor(),
            "early_stopping.hyperband"};
  }
  const nas::v1::AshaConfig& c = rule.asha();
  return {c.min_epochs(), c.max_epochs(), c.reduction_factor(),
          "early_stopping.asha"};
}

template <typename Config>
void ApplyRungDefaults(Config* c, int training_epochs, absl::string_view path,
                       const FieldPathSet& explicitly_set) {
  auto unset = [&](int value, absl::string_view field) {
    return value == 0 &&
           explicitly_set.find(absl::StrCat(path, ".", field)) ==
               explicitly_set.end();
  };
  if (unset(c->min_epochs(), "min_epochs")) c->set_min_epochs(1);
  if (unset(c->max_epochs(), "max_epochs")) c->set_max_epochs(training_epochs);
  if (unset(c->reduction_factor(), "reduction_factor")) {
    c->set_reduction_factor(3);
  }
}

}  // namespace

void ApplyEarlyStoppingDefaults(nas::v1::SearchSpec* spec,
                                const FieldPathSet& explicitly_set) {
  nas::v1::EarlyStoppingSpec* rule = spec->mutable_early_stopping();
  const int epochs = CandidateEpochs(*spec);
  if (rule->has_asha()) {
    ApplyRungDefaults(rule->mutable_asha(), epochs, "early_stopping.asha",
                      explicitly_set);
  } else if (rule->has_hyperband()) {
    ApplyRungDefaults(rule->mutable_hyperband(), epochs,
                      "early_stopping.hyperband", explicitly_set);
  } else if (rule->has_median()) {
    nas::v1::MedianStoppingConfig* median = rule->mutable_median();
    if (median->warmup_epochs() == 0 &&
        explicitly_set.find("early_stopping.median.warmup_epochs") ==
            explicitly_set.end()) {
      median->set_warmup_epochs(1);
    }
    if (median->min_trials() == 0) median->set_min_trials(3);
  }
}

absl::Status ValidateEarlyStopping(const nas::v1::SearchSpec& spec) {
  if (!UsesEarlyStopping(spec)) return absl::OkStatus();
  if (UsesZeroCost(spec)) {
    return FieldError(
        "early_stopping",
        "does not apply to zero-cost estimation: its candidates are scored "
        "without training epochs to stop");
  }
  if (UsesWeightSharing(spec) && !FineTunesCandidates(spec)) {
    return FieldError(
        "early_stopping",
        "with weight sharing, early stopping judges each candidate's "
        "fine-tuning epochs from its inherited weights: set "
        "estimation.weight_sharing.candidates.fine_tune.epochs");
  }
  const nas::v1::EarlyStoppingSpec& rule = spec.early_stopping();
  const int epochs = CandidateEpochs(spec);
  // Where the epochs come from, for messages.
  const char* epochs_field =
      FineTunesCandidates(spec)
          ? "estimation.weight_sharing.candidates.fine_tune.epochs"
          : "training.epochs";
  if (rule.has_median()) {
    const nas::v1::MedianStoppingConfig& m = rule.median();
    if (absl::Status s = CheckRange("early_stopping.median.warmup_epochs",
                                    m.warmup_epochs(), 0, epochs - 1);
        !s.ok()) {
      return s;
    }
    return CheckRange("early_stopping.median.min_trials", m.min_trials(), 1,
                      spec.budget().max_trials());
  }
  const Rungs r = RungsOf(rule);
  if (PromotesTrials(spec) && UsesWeightSharing(spec)) {
    return FieldError(
        absl::StrCat(r.path, ".promote"),
        "applies to trials trained from scratch; under weight sharing a "
        "fine-tuned candidate is stopped, not paused: leave promote out");
  }
  if (r.max_epochs != epochs) {
    return FieldError(
        absl::StrCat(r.path, ".max_epochs"),
        absl::StrCat("must equal ", epochs_field, " (", epochs,
                     "), the budget every trial's learning-rate schedule "
                     "is defined over; got ",
                     r.max_epochs, " (leave it out to use ", epochs_field,
                     ")"));
  }
  if (absl::Status s = CheckRange(absl::StrCat(r.path, ".reduction_factor"),
                                  r.eta, 2, kMaxReductionFactor);
      !s.ok()) {
    return s;
  }
  if (r.max_epochs < 2) {
    return FieldError(r.path,
                      absl::StrCat("needs ", epochs_field,
                                   " of at least 2 so that a rung comes "
                                   "before the full budget, got ",
                                   r.max_epochs));
  }
  return CheckRange(absl::StrCat(r.path, ".min_epochs"), r.min_epochs, 1,
                    r.max_epochs - 1);
}

std::vector<int> RungEpochs(int min_epochs, int max_epochs, int eta) {
  std::vector<int> rungs;
  if (min_epochs < 1 || eta < 2) return rungs;
  for (int64_t e = min_epochs; e < max_epochs; e *= eta) {
    rungs.push_back(static_cast<int>(e));
  }
  return rungs;
}

int HyperbandBrackets(int min_epochs, int max_epochs, int eta) {
  return static_cast<int>(RungEpochs(min_epochs, max_epochs, eta).size()) + 1;
}

std::vector<int> TrialRungEpochs(const nas::v1::SearchSpec& spec, int number) {
  const nas::v1::EarlyStoppingSpec& rule = spec.early_stopping();
  if (!rule.has_asha() && !rule.has_hyperband()) return {};
  const Rungs r = RungsOf(rule);
  std::vector<int> rungs = RungEpochs(r.min_epochs, r.max_epochs, r.eta);
  if (rule.has_hyperband()) {
    const int brackets = HyperbandBrackets(r.min_epochs, r.max_epochs, r.eta);
    const int bracket = number % brackets;
    rungs.erase(rungs.begin(), rungs.begin() + bracket);
  }
  return rungs;
}

}  // namespace nas::spec
