#include "controller/strategy/reinforce.h"

#include <algorithm>
#include <cmath>

#include "controller/strategy/strategy_util.h"

namespace nas::controller {
namespace {

constexpr uint64_t kSalt = 0x5245494e;  // "REIN"
// Attempts to sample an unseen computation from the policy per proposal,
// before falling back to uniform sampling (the policy may have converged
// onto architectures that were all tried).
constexpr int kPolicyAttempts = 200;

std::vector<double> Softmax(const std::vector<double>& logits) {
  const double top = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double sum = 0;
  for (size_t k = 0; k < logits.size(); ++k) {
    p[k] = std::exp(logits[k] - top);
    sum += p[k];
  }
  for (double& v : p) v /= sum;
  return p;
}

}  // namespace

Reinforce::Reinforce(ReinforceOptions options) : options_(options) {
  if (!(options_.learning_rate > 0)) options_.learning_rate = 0.2;
  options_.entropy_weight = std::max(options_.entropy_weight, 0.0);
  if (!(options_.baseline_decay > 0 && options_.baseline_decay < 1)) {
    options_.baseline_decay = 0.9;
  }
}

std::vector<std::vector<double>> Reinforce::Policy(
    const SearchSnapshot& snapshot) const {
  const std::vector<space::Decision>& decisions = snapshot.space->decisions();
  std::vector<std::vector<double>> logits;
  for (const space::Decision& d : decisions) {
    logits.emplace_back(d.options.size(), 0.0);
  }
  const double decay = options_.baseline_decay;
  bool started = false;
  double baseline = 0, variance = 0;
  for (const TrialView* t : CompletedTrials(snapshot)) {
    const double reward = *t->score;
    if (!started) {
      // The first reward only initializes the baseline.
      baseline = reward;
      started = true;
      continue;
    }
    const double deviation = reward - baseline;
    variance = decay * variance + (1 - decay) * deviation * deviation;
    baseline = decay * baseline + (1 - decay) * reward;
    const double scale = std::sqrt(variance);
    const double advantage = scale > 0 ? deviation / scale : 0.0;
    for (size_t i = 0; i < decisions.size(); ++i) {
      const std::vector<double> p = Softmax(logits[i]);
      double entropy = 0;
      for (double v : p) {
        if (v > 0) entropy -= v * std::log(v);
      }
      for (size_t k = 0; k < p.size(); ++k) {
        // d log p(a) / d logit_k = [k == a] - p_k;
        // d H / d logit_k = -p_k (log p_k + H).
        const double log_prob_grad =
            (static_cast<int>(k) == t->choices[i] ? 1.0 : 0.0) - p[k];
        const double entropy_grad =
            p[k] > 0 ? -p[k] * (std::log(p[k]) + entropy) : 0.0;
        logits[i][k] += options_.learning_rate *
                        (advantage * log_prob_grad +
                         options_.entropy_weight * entropy_grad);
      }
    }
  }
  std::vector<std::vector<double>> policy;
  for (const auto& l : logits) policy.push_back(Softmax(l));
  return policy;
}

std::vector<std::vector<int>> Reinforce::Propose(
    const SearchSnapshot& snapshot, int count) {
  const space::SearchSpace& space = *snapshot.space;
  std::mt19937_64 rng = SnapshotRng(snapshot, kSalt);
  SeenKeys seen(snapshot);
  const std::vector<std::vector<double>> policy = Policy(snapshot);

  std::vector<std::vector<int>> proposals;
  while (static_cast<int>(proposals.size()) < count) {
    std::optional<std::vector<int>> choice;
    for (int attempt = 0; attempt < kPolicyAttempts && !choice; ++attempt) {
      std::vector<int> sample;
      for (const std::vector<double>& p : policy) {
        std::discrete_distribution<int> pick(p.begin(), p.end());
        sample.push_back(pick(rng));
      }
      if (seen.Insert(space.CanonicalKey(sample))) choice = sample;
    }
    if (!choice) choice = SampleUnseen(space, seen, rng);
    if (!choice) break;
    proposals.push_back(std::move(*choice));
  }
  return proposals;
}

}  // namespace nas::controller
