#include "controller/strategy/gp_bayes_opt.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_map>
#include <unordered_set>

#include "controller/strategy/strategy_util.h"

namespace nas::controller {
namespace {

constexpr uint64_t kSalt = 0x47504249;  // "GPBI"

// Inverse of the standard normal CDF (Acklam's rational approximation,
// relative error below 1.2e-9). REQUIRES: 0 < p < 1.
double NormalQuantile(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00, 2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  constexpr double kLow = 0.02425;
  if (p < kLow) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q +
            c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - kLow) return -NormalQuantile(1 - p);
  const double q = p - 0.5;
  const double r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r +
          a[5]) *
         q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Normal quantiles of the mid-ranks: ties share a value.
std::vector<double> RankGauss(const std::vector<double>& scores) {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  std::vector<double> out(n);
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j + 1 < n && scores[order[j + 1]] == scores[order[i]]) ++j;
    const double mid_rank = 0.5 * static_cast<double>(i + j);
    const double z = NormalQuantile((mid_rank + 0.5) / static_cast<double>(n));
    for (size_t k = i; k <= j; ++k) out[order[k]] = z;
    i = j + 1;
  }
  return out;
}

double ExpectedImprovement(const CategoricalGp::Prediction& p, double best) {
  const double sigma = std::sqrt(p.variance);
  const double u = (p.mean - best) / sigma;
  const double cdf = 0.5 * std::erfc(-u / std::sqrt(2.0));
  const double pdf = std::exp(-0.5 * u * u) / std::sqrt(2 * M_PI);
  return sigma * (u * cdf + pdf);
}

// Lower Cholesky factor of a covariance matrix, adding jitter to the
// diagonal until it factors (candidates can be nearly collinear).
std::vector<double> JitteredCholesky(const std::vector<double>& cov,
                                     size_t m) {
  std::vector<double> l(m * m);
  double jitter = 1e-9;
  for (int attempt = 0; attempt < 12; ++attempt, jitter *= 10) {
    std::fill(l.begin(), l.end(), 0.0);
    bool ok = true;
    for (size_t i = 0; i < m && ok; ++i) {
      for (size_t j = 0; j <= i; ++j) {
        double sum = cov[i * m + j] + (i == j ? jitter : 0.0);
        for (size_t k = 0; k < j; ++k) sum -= l[i * m + k] * l[j * m + k];
        if (i == j) {
          if (sum <= 0) {
            ok = false;
            break;
          }
          l[i * m + i] = std::sqrt(sum);
        } else {
          l[i * m + j] = sum / l[j * m + j];
        }
      }
    }
    if (ok) return l;
  }
  // Independent marginals as a last resort.
  std::fill(l.begin(), l.end(), 0.0);
  for (size_t i = 0; i < m; ++i) l[i * m + i] = std::sqrt(std::max(cov[i * m + i], 0.0));
  return l;
}

struct Candidate {
  std::vector<int> choices;
  std::string key;
  CategoricalGp::Probe probe;
  double acquisition = 0;
  bool expanded = false;
  bool taken = false;
};

}  // namespace

struct GpBayesOpt::Model {
  CategoricalGp gp;
  std::vector<const TrialView*> train;
  std::vector<double> train_means;  // posterior mean at each training trial
};

GpBayesOpt::GpBayesOpt(GpBayesOptOptions options) : options_(options) {
  options_.initial_random_trials = std::max(options_.initial_random_trials, 2);
  options_.max_train = std::max(options_.max_train, 2);
  options_.local_starts = std::max(options_.local_starts, 1);
  options_.random_candidates = std::max(options_.random_candidates, 0);
}

std::vector<int> GpBayesOpt::Features(const space::SearchSpace& space,
                                      const std::vector<int>& choices) {
  std::vector<int> features = active_.Effective(space, choices);
  if (options_.option_counts) {
    if (counts_space_ != &space) {
      counts_.emplace(space);
      counts_space_ = &space;
    }
    counts_->Append(features);
  }
  return features;
}

std::optional<GpBayesOpt::Model> GpBayesOpt::FitModel(
    const SearchSnapshot& snapshot) {
  std::vector<const TrialView*> completed = CompletedTrials(snapshot);
  if (completed.size() < 2) return std::nullopt;
  Model model;
  const size_t cap = static_cast<size_t>(options_.max_train);
  if (completed.size() <= cap) {
    model.train = completed;
  } else {
    // The best half by score, then the most recent of the others.
    std::vector<const TrialView*> by_score = completed;
    std::stable_sort(by_score.begin(), by_score.end(),
                     [](const TrialView* a, const TrialView* b) {
                       return *a->score > *b->score;
                     });
    std::unordered_set<const TrialView*> chosen(by_score.begin(),
                                                by_score.begin() + cap / 2);
    for (size_t i = completed.size(); i-- > 0 && chosen.size() < cap;) {
      chosen.insert(completed[i]);
    }
    for (const TrialView* t : completed) {
      if (chosen.count(t)) model.train.push_back(t);
    }
  }
  std::vector<std::vector<int>> inputs;
  std::vector<double> scores;
  for (const TrialView* t : model.train) {
    inputs.push_back(Features(*snapshot.space, t->choices));
    scores.push_back(*t->score);
  }
  model.gp.set_ard(options_.relevance);
  if (options_.option_counts) {
    model.gp.set_first_ordinal(snapshot.space->decisions().size());
  }
  model.gp.Fit(inputs, RankGauss(scores));
  for (const std::vector<int>& x : inputs) {
    model.train_means.push_back(model.gp.Predict(x).mean);
  }
  return model;
}

std::vector<std::vector<int>> GpBayesOpt::Propose(
    const SearchSnapshot& snapshot, int count) {
  const space::SearchSpace& space = *snapshot.space;
  std::mt19937_64 rng = SnapshotRng(snapshot, kSalt);
  SeenKeys seen(snapshot);
  std::vector<std::vector<int>> proposals;

  const int initial = std::max(
      0, std::min(count, options_.initial_random_trials -
                             static_cast<int>(snapshot.trials.size())));
  std::optional<Model> model;
  if (initial < count) model = FitModel(snapshot);
  for (int i = 0; i < (model ? initial : count); ++i) {
    std::optional<std::vector<int>> choices = SampleUnseen(space, seen, rng);
    if (!choices) return proposals;
    proposals.push_back(std::move(*choices));
  }
  if (!model) return proposals;

  CategoricalGp& gp = model->gp;
  const double incumbent =
      *std::max_element(model->train_means.begin(), model->train_means.end());
  // Pending trials and the random proposals above, at the model's belief.
  auto believe = [&](const std::vector<int>& choices) {
    const std::vector<int> x = Features(space, choices);
    gp.Append(x, gp.Predict(x).mean);
  };
  for (const TrialView& t : snapshot.trials) {
    if (t.state == nas::v1::TRIAL_STATE_PENDING ||
        t.state == nas::v1::TRIAL_STATE_RUNNING) {
      believe(t.choices);
    }
  }
  for (const std::vector<int>& choices : proposals) believe(choices);

  // The candidate pool: unseen computations only, one entry per key.
  std::vector<Candidate> pool;
  std::unordered_map<std::string, size_t> index_of;
  auto add = [&](const std::vector<int>& choices) {
    std::string key = space.CanonicalKey(choices);
    if (seen.Contains(key) || !index_of.emplace(key, pool.size()).second)
      return;
    Candidate c;
    c.choices = choices;
    c.key = std::move(key);
    c.probe = gp.MakeProbe(Features(space, choices));
    c.acquisition = ExpectedImprovement(gp.Predict(c.probe), incumbent);
    pool.push_back(std::move(c));
  };
  std::vector<size_t> order(model->train.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return model->train_means[a] > model->train_means[b];
  });
  for (size_t i = 0;
       i < order.size() && i < static_cast<size_t>(options_.local_starts);
       ++i) {
    for (const auto& n :
         OneDecisionNeighbours(space, model->train[order[i]]->choices)) {
      add(n);
    }
  }
  for (int i = 0; i < options_.random_candidates; ++i) {
    add(SampleUniform(space, rng));
  }
  // Local optimisation of the acquisition: expand the best candidates.
  for (int round = 0; round < options_.refinement_rounds; ++round) {
    std::vector<size_t> best(pool.size());
    std::iota(best.begin(), best.end(), 0);
    std::stable_sort(best.begin(), best.end(), [&](size_t a, size_t b) {
      return pool[a].acquisition > pool[b].acquisition;
    });
    std::vector<std::vector<int>> starts;
    for (size_t i : best) {
      if (static_cast<int>(starts.size()) == options_.refinement_width) break;
      if (pool[i].expanded) continue;
      pool[i].expanded = true;
      starts.push_back(pool[i].choices);
    }
    for (const auto& start : starts) {
      for (const auto& n : OneDecisionNeighbours(space, start)) add(n);
    }
  }

  while (static_cast<int>(proposals.size()) < count) {
    std::vector<size_t> open;
    for (size_t i = 0; i < pool.size(); ++i) {
      if (!pool[i].taken) open.push_back(i);
    }
    if (open.empty()) {
      // The pool ran dry: only when the space is (nearly) exhausted.
      std::optional<std::vector<int>> choices = SampleUnseen(space, seen, rng);
      if (!choices) break;
      proposals.push_back(std::move(*choices));
      continue;
    }
    const int index = static_cast<int>(snapshot.trials.size() + proposals.size());
    const bool thompson =
        options_.thompson_every > 0 && index % options_.thompson_every == 0;
    size_t chosen = open[0];
    if (thompson) {
      // A joint posterior sample over the candidates with the highest upper
      // confidence bound (the others almost never win); take its argmax.
      std::vector<double> ucb(pool.size());
      for (size_t i : open) {
        const CategoricalGp::Prediction p = gp.Predict(pool[i].probe);
        ucb[i] = p.mean + 2 * std::sqrt(p.variance);
      }
      std::stable_sort(open.begin(), open.end(),
                       [&](size_t a, size_t b) { return ucb[a] > ucb[b]; });
      if (open.size() > static_cast<size_t>(options_.thompson_candidates)) {
        open.resize(options_.thompson_candidates);
      }
      std::vector<CategoricalGp::Probe> probes;
      std::vector<double> means;
      for (size_t i : open) {
        means.push_back(gp.Predict(pool[i].probe).mean);
        probes.push_back(pool[i].probe);
      }
      const size_t m = open.size();
      const std::vector<double> l =
          JitteredCholesky(gp.JointCovariance(probes), m);
      std::normal_distribution<double> normal;
      std::vector<double> z(m);
      for (double& v : z) v = normal(rng);
      double best_value = -std::numeric_limits<double>::infinity();
      for (size_t i = 0; i < m; ++i) {
        double f = means[i];
        for (size_t k = 0; k <= i; ++k) f += l[i * m + k] * z[k];
        if (f > best_value) {
          best_value = f;
          chosen = open[i];
        }
      }
    } else {
      for (size_t i : open) {
        if (pool[i].acquisition > pool[chosen].acquisition) chosen = i;
      }
    }
    Candidate& c = pool[chosen];
    c.taken = true;
    seen.Insert(c.key);
    proposals.push_back(c.choices);
    if (static_cast<int>(proposals.size()) == count) break;
    gp.Append(c.probe.input, gp.Predict(c.probe).mean);
    for (size_t i = 0; i < pool.size(); ++i) {
      if (!pool[i].taken) {
        pool[i].acquisition =
            ExpectedImprovement(gp.Predict(pool[i].probe), incumbent);
      }
    }
  }
  return proposals;
}

std::optional<int> GpBayesOpt::Recommend(const SearchSnapshot& snapshot) {
  std::optional<Model> model = FitModel(snapshot);
  if (!model) return BestObservedTrial(snapshot);
  // Only a trial that reached the full budget is a result.
  std::optional<size_t> best;
  for (size_t i = 0; i < model->train.size(); ++i) {
    if (model->train[i]->state != nas::v1::TRIAL_STATE_COMPLETED) continue;
    if (!best || model->train_means[i] > model->train_means[*best]) best = i;
  }
  if (!best) return std::nullopt;
  return model->train[*best]->number;
}

}  // namespace nas::controller
