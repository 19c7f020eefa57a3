#include "controller/pruning/pruner.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/spec/early_stopping.h"

namespace nas::controller {
namespace {

bool Minimized(const nas::v1::SearchSpec& spec) {
  return spec.objectives_size() > 0 &&
         spec.objectives(0).metric() == DecisionMetric(spec) &&
         spec.objectives(0).direction() == nas::v1::DIRECTION_MINIMIZE;
}

// Best first; equal values by trial id, so the order is a function of the
// recorded values alone (a rebuilt book names the same trials).
bool BestFirst(const PromotableTrial& a, const PromotableTrial& b) {
  return a.value != b.value ? a.value > b.value : a.trial_id < b.trial_id;
}

// The value as people read it (undoing the orientation).
double Shown(double value, bool minimized) {
  return minimized ? -value : value;
}

// Asynchronous successive halving over one set of rungs (Li et al. 2020).
// The stopping variant: a trial at a rung goes on when its value is among
// the top floor(n / eta) of the n values recorded at that rung so far, or
// while fewer than eta trials reached it; otherwise it stops. The promotion
// variant: it goes on only when in that top, otherwise it pauses, and it is
// promoted (Promotable) once it is in that top with nothing reported past
// the rung.
class AshaBracket {
 public:
  AshaBracket(std::vector<int> rung_epochs, int first_rung, int eta,
              bool promote)
      : rung_epochs_(std::move(rung_epochs)),
        first_rung_(first_rung),
        eta_(eta),
        promote_(promote) {}

  // nullopt when `epoch` is not one of this bracket's rungs.
  std::optional<PruneDecision> OnReport(const PruneReport& r,
                                        const std::string& metric,
                                        bool minimized) {
    int& last = last_epoch_[r.trial_id];
    last = std::max(last, r.epoch);
    numbers_[r.trial_id] = r.trial_number;
    auto it = std::find(rung_epochs_.begin(), rung_epochs_.end(), r.epoch);
    if (it == rung_epochs_.end()) return std::nullopt;
    const int local = static_cast<int>(it - rung_epochs_.begin());
    std::map<int64_t, double>& rung = values_[local];
    rung[r.trial_id] = r.value;
    PruneDecision decision;
    decision.rung = first_rung_ + local;
    const int n = static_cast<int>(rung.size());
    const int keep = n / eta_;
    if (keep == 0) {
      if (!promote_) return decision;
      decision.stop = decision.pause = true;
      decision.reason = absl::StrFormat(
          "rung %d (epoch %d): %s %.4f; paused: %d of the %d trials a "
          "promotion needs reached it",
          *decision.rung, r.epoch, metric, Shown(r.value, minimized), n, eta_);
      return decision;
    }
    const double cutoff = Cutoff(rung, keep);
    if (r.value >= cutoff) return decision;
    decision.stop = true;
    decision.pause = promote_;
    decision.reason = absl::StrFormat(
        "rung %d (epoch %d): %s %.4f is not in the top 1/%d of the %d "
        "trials that reached it (cutoff %.4f)%s",
        *decision.rung, r.epoch, metric, Shown(r.value, minimized), eta_, n,
        Shown(cutoff, minimized),
        promote_ ? "; paused until later arrivals put it there" : "");
    return decision;
  }

  // Appends this bracket's promotable trials at local rung `local`.
  void AppendPromotable(int local, std::vector<PromotableTrial>* out) const {
    if (!promote_) return;
    auto rung = values_.find(local);
    if (rung == values_.end()) return;
    const int keep = static_cast<int>(rung->second.size()) / eta_;
    if (keep == 0) return;
    std::vector<PromotableTrial> ranked;
    for (const auto& [id, value] : rung->second) {
      ranked.push_back({id, numbers_.at(id), first_rung_ + local, value});
    }
    std::sort(ranked.begin(), ranked.end(), BestFirst);
    for (int i = 0; i < keep; ++i) {
      const PromotableTrial& trial = ranked[static_cast<size_t>(i)];
      if (last_epoch_.at(trial.trial_id) >
          rung_epochs_[static_cast<size_t>(local)]) {
        continue;  // promoted already: it reported past the rung
      }
      out->push_back(trial);
    }
  }

  int rungs() const { return static_cast<int>(rung_epochs_.size()); }

 private:
  // The keep-th largest value of the rung.
  static double Cutoff(const std::map<int64_t, double>& rung, int keep) {
    std::vector<double> sorted;
    sorted.reserve(rung.size());
    for (const auto& [id, value] : rung) sorted.push_back(value);
    std::nth_element(sorted.begin(), sorted.begin() + (keep - 1), sorted.end(),
                     std::greater<double>());
    return sorted[static_cast<size_t>(keep - 1)];
  }

  const std::vector<int> rung_epochs_;
  const int first_rung_;  // the global index of rung_epochs_[0]
  const int eta_;
  const bool promote_;
  // Per local rung: each trial's value there.
  std::map<int, std::map<int64_t, double>> values_;
  // Per trial: the highest epoch it reported, and its number.
  std::map<int64_t, int> last_epoch_;
  std::map<int64_t, int> numbers_;
};

// ASHA is Hyperband with one bracket.
class HyperbandPruner : public Pruner {
 public:
  HyperbandPruner(const nas::v1::SearchSpec& spec, int min_epochs,
                  int max_epochs, int eta, int brackets, bool promote)
      : metric_(DecisionMetric(spec)), minimized_(Minimized(spec)) {
    const std::vector<int> all =
        nas::spec::RungEpochs(min_epochs, max_epochs, eta);
    for (int s = 0; s < brackets; ++s) {
      brackets_.emplace_back(std::vector<int>(all.begin() + s, all.end()), s,
                             eta, promote);
    }
  }

  PruneDecision OnReport(const PruneReport& r) override {
    AshaBracket& bracket =
        brackets_[static_cast<size_t>(r.trial_number) % brackets_.size()];
    return bracket.OnReport(r, metric_, minimized_)
        .value_or(PruneDecision{});
  }

  std::vector<PromotableTrial> Promotable() const override {
    std::vector<PromotableTrial> out;
    // Highest global rung first (Li et al.: a free worker takes the highest
    // promotion there is); bracket s's local rung l is global rung s + l.
    // A global rung is one epoch in every bracket, so its values compare
    // across brackets: within it, best first whichever bracket it is in.
    int top = 0;
    for (const AshaBracket& b : brackets_) top = std::max(top, b.rungs());
    for (int global = top - 1; global >= 0; --global) {
      const size_t first = out.size();
      for (size_t s = 0; s < brackets_.size(); ++s) {
        const int local = global - static_cast<int>(s);
        if (local >= 0 && local < brackets_[s].rungs()) {
          brackets_[s].AppendPromotable(local, &out);
        }
      }
      std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end(),
                BestFirst);
    }
    return out;
  }

 private:
  const std::string metric_;
  const bool minimized_;
  std::vector<AshaBracket> brackets_;
};

// The median rule (Golovin et al. 2017): after warmup_epochs, a trial whose
// best value so far is worse than the median of the best values other
// trials had by the same epoch stops.
class MedianPruner : public Pruner {
 public:
  MedianPruner(const nas::v1::SearchSpec& spec,
               const nas::v1::MedianStoppingConfig& config)
      : metric_(DecisionMetric(spec)),
        minimized_(Minimized(spec)),
        warmup_epochs_(config.warmup_epochs()),
        min_trials_(config.min_trials()) {}

  PruneDecision OnReport(const PruneReport& r) override {
    std::map<int, double>& curve = curves_[r.trial_id];
    curve[r.epoch] = r.value;
    PruneDecision decision;
    if (r.epoch <= warmup_epochs_) return decision;
    const double mine = BestBy(curve, r.epoch);
    std::vector<double> others;
    for (const auto& [id, other] : curves_) {
      if (id == r.trial_id || other.find(r.epoch) == other.end()) continue;
      others.push_back(BestBy(other, r.epoch));
    }
    if (static_cast<int>(others.size()) < min_trials_) return decision;
    std::sort(others.begin(), others.end());
    const size_t n = others.size();
    const double median = n % 2 == 1
                              ? others[n / 2]
                              : 0.5 * (others[n / 2 - 1] + others[n / 2]);
    if (mine >= median) return decision;
    decision.stop = true;
    decision.reason = absl::StrFormat(
        "median rule at epoch %d: best %s so far %.4f is worse than the "
        "median %.4f of %d other trials by that epoch",
        r.epoch, metric_, Shown(mine, minimized_), Shown(median, minimized_),
        static_cast<int>(n));
    return decision;
  }

 private:
  // The best value of `curve` at epochs up to `epoch`.
  static double BestBy(const std::map<int, double>& curve, int epoch) {
    double best = -INFINITY;
    for (auto it = curve.begin(); it != curve.end() && it->first <= epoch;
         ++it) {
      best = std::max(best, it->second);
    }
    return best;
  }

  const std::string metric_;
  const bool minimized_;
  const int warmup_epochs_;
  const int min_trials_;
  std::map<int64_t, std::map<int, double>> curves_;
};

}  // namespace

std::string DecisionMetric(const nas::v1::SearchSpec& spec) {
  if (spec.objectives_size() > 0 &&
      (spec.objectives(0).metric() == "val_accuracy" ||
       spec.objectives(0).metric() == "val_loss")) {
    return spec.objectives(0).metric();
  }
  return "val_accuracy";
}

std::optional<double> DecisionValue(const nas::v1::SearchSpec& spec,
                                    const nas::v1::EpochMetrics& metrics) {
  const double value = DecisionMetric(spec) == "val_loss"
                           ? metrics.val_loss()
                           : metrics.val_accuracy();
  if (!std::isfinite(value)) return std::nullopt;
  return Minimized(spec) ? -value : value;
}

std::unique_ptr<Pruner> MakePruner(const nas::v1::SearchSpec& spec) {
  const nas::v1::EarlyStoppingSpec& rule = spec.early_stopping();
  if (rule.has_asha()) {
    const nas::v1::AshaConfig& c = rule.asha();
    return std::make_unique<HyperbandPruner>(
        spec, c.min_epochs(), c.max_epochs(), c.reduction_factor(), 1,
        c.promote());
  }
  if (rule.has_hyperband()) {
    const nas::v1::HyperbandConfig& c = rule.hyperband();
    return std::make_unique<HyperbandPruner>(
        spec, c.min_epochs(), c.max_epochs(), c.reduction_factor(),
        nas::spec::HyperbandBrackets(c.min_epochs(), c.max_epochs(),
                                     c.reduction_factor()),
        c.promote());
  }
  if (rule.has_median()) {
    return std::make_unique<MedianPruner>(spec, rule.median());
  }
  return nullptr;
}

}  // namespace nas::controller
