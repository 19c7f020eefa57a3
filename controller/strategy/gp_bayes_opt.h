// Model-based search: a Gaussian process over the active decisions and
// their option counts (see CategoricalGp, ActiveDecisions, OptionCounts),
// with one fitted relevance per feature, fitted to every completed trial;
// each proposal is the argmax of a joint posterior sample (Thompson
// sampling) or of expected improvement. Candidates come from
// a mutation-based local optimisation of the acquisition: the one-decision
// neighbours of the trials the model rates best, random architectures, then
// a few rounds of neighbours of the best-scoring candidates.
//
// Pending trials (no result yet) are added to the model at its own
// prediction ("kriging believer"), and so is each proposal of a batch before
// the next is chosen, so a batch spreads out instead of repeating one point.
// Scores are rank-transformed to normal quantiles before fitting, which makes
// the model indifferent to the metric's scale and to outliers (untrainable
// architectures). Everything is rebuilt from the snapshot on every call.
#ifndef NAS_CONTROLLER_STRATEGY_GP_BAYES_OPT_H_
#define NAS_CONTROLLER_STRATEGY_GP_BAYES_OPT_H_

#include <optional>
#include <string>
#include <vector>

#include "controller/strategy/active_decisions.h"
#include "controller/strategy/categorical_gp.h"
#include "controller/strategy/option_counts.h"
#include "controller/strategy/search_strategy.h"

namespace nas::controller {

struct GpBayesOptOptions {
  // Random architectures tried before the model is used (at least 2).
  int initial_random_trials = 5;
  // Trials (best by the model's mean) whose neighbours seed the candidates.
  int local_starts = 10;
  // Uniformly drawn candidates, for exploration away from the best trials.
  int random_candidates = 200;
  // Rounds of expanding the neighbours of the best candidates so far.
  int refinement_rounds = 3;
  // Candidates expanded per refinement round.
  int refinement_width = 5;
  // Every k-th trial (by trial number) is chosen by Thompson sampling (the
  // argmax of one joint posterior sample), the others by expected
  // improvement; 0 never, 1 always. Sampling explores more and gets stuck
  // less in a good but not best region.
  int thompson_every = 1;
  // Candidates (best by upper confidence bound) in the joint sample: fewer
  // keep the sample on the promising candidates, more explore.
  int thompson_candidates = 100;
  // Adds OptionCounts features to the model's inputs.
  bool option_counts = true;
  // Fits one relevance per input feature (automatic relevance
  // determination) instead of weighing every feature the same: the model
  // learns which decisions matter (one edge of a cell often does most).
  bool relevance = true;
  // At most this many completed trials train the model: the best half and
  // the most recent of the rest, bounding each step to O(max_train^3).
  int max_train = 300;
};

class GpBayesOpt : public SearchStrategy {
 public:
  explicit GpBayesOpt(GpBayesOptOptions options = {});

  std::vector<std::vector<int>> Propose(const SearchSnapshot& snapshot,
                                        int count) override;
  // The completed trial with the highest posterior mean: under noisy
  // scores this is less often a lucky draw than the best observed score.
  std::optional<int> Recommend(const SearchSnapshot& snapshot) override;

 private:
  struct Model;
  // What the model sees of an architecture: its active decisions, then
  // (with options_.option_counts) how often each option occurs.
  std::vector<int> Features(const space::SearchSpace& space,
                            const std::vector<int>& choices);
  // Fits the model to the snapshot's completed trials; nullopt when fewer
  // than two have completed.
  std::optional<Model> FitModel(const SearchSnapshot& snapshot);

  GpBayesOptOptions options_;
  ActiveDecisions active_;
  std::optional<OptionCounts> counts_;
  const space::SearchSpace* counts_space_ = nullptr;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_STRATEGY_GP_BAYES_OPT_H_
