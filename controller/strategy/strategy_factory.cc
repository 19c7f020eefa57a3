#include <algorithm>

#include "controller/strategy/gp_bayes_opt.h"
#include "controller/strategy/local_search.h"
#include "controller/strategy/random_search.h"
#include "controller/strategy/regularized_evolution.h"
#include "controller/strategy/reinforce.h"
#include "controller/strategy/search_strategy.h"

namespace nas::controller {
namespace {

// Proto fields use 0 for "default"; anything else must be in range.
absl::StatusOr<std::unique_ptr<SearchStrategy>> MakeEvolution(
    const nas::v1::EvolutionConfig& config) {
  EvolutionOptions options;
  if (config.population_size() != 0) {
    if (config.population_size() < 2) {
      return absl::InvalidArgumentError(
          "strategy.evolution.population_size: must be at least 2");
    }
    options.population_size = config.population_size();
  }
  if (config.sample_size() != 0) {
    if (config.sample_size() < 1 ||
        config.sample_size() > options.population_size) {
      return absl::InvalidArgumentError(
          "strategy.evolution.sample_size: must be between 1 and "
          "population_size");
    }
    options.sample_size = config.sample_size();
  }
  options.sample_size = std::min(options.sample_size, options.population_size);
  return std::make_unique<RegularizedEvolution>(options);
}

absl::StatusOr<std::unique_ptr<SearchStrategy>> MakeReinforce(
    const nas::v1::ReinforceConfig& config) {
  ReinforceOptions options;
  if (config.learning_rate() != 0) {
    if (!(config.learning_rate() > 0)) {
      return absl::InvalidArgumentError(
          "strategy.reinforce.learning_rate: must be positive");
    }
    options.learning_rate = config.learning_rate();
  }
  if (config.entropy_weight() != 0) {
    options.entropy_weight = std::max(config.entropy_weight(), 0.0);
  }
  if (config.baseline_decay() != 0) {
    if (!(config.baseline_decay() > 0 && config.baseline_decay() < 1)) {
      return absl::InvalidArgumentError(
          "strategy.reinforce.baseline_decay: must be in (0, 1)");
    }
    options.baseline_decay = config.baseline_decay();
  }
  return std::make_unique<Reinforce>(options);
}

absl::StatusOr<std::unique_ptr<SearchStrategy>> MakeGpBayesOpt(
    const nas::v1::GpBayesOptConfig& config) {
  GpBayesOptOptions options;
  if (config.initial_random_trials() != 0) {
    if (config.initial_random_trials() < 2) {
      return absl::InvalidArgumentError(
          "strategy.gp_bayes_opt.initial_random_trials: must be at least 2");
    }
    options.initial_random_trials = config.initial_random_trials();
  }
  if (config.local_starts() != 0) {
    if (config.local_starts() < 1) {
      return absl::InvalidArgumentError(
          "strategy.gp_bayes_opt.local_starts: must be at least 1");
    }
    options.local_starts = config.local_starts();
  }
  if (config.random_candidates() != 0) {
    if (config.random_candidates() < 0) {
      return absl::InvalidArgumentError(
          "strategy.gp_bayes_opt.random_candidates: must not be negative");
    }
    options.random_candidates = config.random_candidates();
  }
  if (config.max_train() != 0) {
    if (config.max_train() < 10) {
      return absl::InvalidArgumentError(
          "strategy.gp_bayes_opt.max_train: must be at least 10");
    }
    options.max_train = config.max_train();
  }
  if (config.thompson_every() != 0) {
    options.thompson_every = std::max(config.thompson_every(), 0);
  }
  if (config.thompson_candidates() != 0) {
    if (config.thompson_candidates() < 2) {
      return absl::InvalidArgumentError(
          "strategy.gp_bayes_opt.thompson_candidates: must be at least 2");
    }
    options.thompson_candidates = config.thompson_candidates();
  }
  options.option_counts = !config.disable_option_counts();
  options.relevance = !config.disable_relevance();
  return std::make_unique<GpBayesOpt>(options);
}

}  // namespace

nas::v1::StrategySpec WithStrategyDefaults(nas::v1::StrategySpec spec) {
  // Only fields left 0 ("the default") change, to the very values the
  // factory above would use, so MakeSearchStrategy builds the same strategy
  // from either spec. Negative "off" values stay as they are.
  switch (spec.kind_case()) {
    case nas::v1::StrategySpec::kEvolution: {
      nas::v1::EvolutionConfig* c = spec.mutable_evolution();
      const EvolutionOptions defaults;
      if (c->population_size() == 0) {
        c->set_population_size(defaults.population_size);
      }
      if (c->sample_size() == 0) {
        c->set_sample_size(
            std::min(defaults.sample_size, c->population_size()));
      }
      break;
    }
    case nas::v1::StrategySpec::kReinforce: {
      nas::v1::ReinforceConfig* c = spec.mutable_reinforce();
      const ReinforceOptions defaults;
      if (c->learning_rate() == 0) c->set_learning_rate(defaults.learning_rate);
      if (c->entropy_weight() == 0) {
        c->set_entropy_weight(defaults.entropy_weight);
      }
      if (c->baseline_decay() == 0) {
        c->set_baseline_decay(defaults.baseline_decay);
      }
      break;
    }
    case nas::v1::StrategySpec::kGpBayesOpt: {
      nas::v1::GpBayesOptConfig* c = spec.mutable_gp_bayes_opt();
      const GpBayesOptOptions defaults;
      if (c->initial_random_trials() == 0) {
        c->set_initial_random_trials(defaults.initial_random_trials);
      }
      if (c->local_starts() == 0) c->set_local_starts(defaults.local_starts);
      if (c->random_candidates() == 0) {
        c->set_random_candidates(defaults.random_candidates);
      }
      if (c->max_train() == 0) c->set_max_train(defaults.max_train);
      if (c->thompson_every() == 0) {
        c->set_thompson_every(defaults.thompson_every);
      }
      if (c->thompson_candidates() == 0) {
        c->set_thompson_candidates(defaults.thompson_candidates);
      }
      break;
    }
    default:  // random and local search have nothing to default
      break;
  }
  return spec;
}

absl::StatusOr<std::unique_ptr<SearchStrategy>> MakeSearchStrategy(
    const nas::v1::StrategySpec& spec) {
  switch (spec.kind_case()) {
    case nas::v1::StrategySpec::kRandom:
      return std::make_unique<RandomSearch>();
    case nas::v1::StrategySpec::kEvolution:
      return MakeEvolution(spec.evolution());
    case nas::v1::StrategySpec::kReinforce:
      return MakeReinforce(spec.reinforce());
    case nas::v1::StrategySpec::kGpBayesOpt:
      return MakeGpBayesOpt(spec.gp_bayes_opt());
    case nas::v1::StrategySpec::kLocalSearch:
      return std::make_unique<LocalSearch>(
          spec.local_search().first_improvement());
    case nas::v1::StrategySpec::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "strategy: must name a strategy (one of: random, evolution, reinforce, "
      "gp_bayes_opt, local_search)");
}

}  // namespace nas::controller
