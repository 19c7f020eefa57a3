#include "bench/ranking/rank_correlation.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace nas::bench {
namespace {

int Sign(double x) { return (x > 0) - (x < 0); }

}  // namespace

std::vector<double> AverageRanks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t x, size_t y) { return v[x] < v[y]; });
  std::vector<double> ranks(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = (static_cast<double>(i + j) / 2) + 1;
    for (size_t k = i; k <= j; ++k) ranks[order[k]] = rank;
    i = j + 1;
  }
  return ranks;
}

double KendallTau(const std::vector<double>& a, const std::vector<double>& b) {
  double concordant_minus_discordant = 0;
  double pairs_untied_a = 0;
  double pairs_untied_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (size_t j = i + 1; j < a.size(); ++j) {
      const int sa = Sign(a[i] - a[j]);
      const int sb = Sign(b[i] - b[j]);
      concordant_minus_discordant += sa * sb;
      pairs_untied_a += sa != 0;
      pairs_untied_b += sb != 0;
    }
  }
  const double denominator = std::sqrt(pairs_untied_a * pairs_untied_b);
  return denominator == 0 ? 0 : concordant_minus_discordant / denominator;
}

double Spearman(const std::vector<double>& a, const std::vector<double>& b) {
  const std::vector<double> ra = AverageRanks(a);
  const std::vector<double> rb = AverageRanks(b);
  const double n = static_cast<double>(a.size());
  if (n < 2) return 0;
  const double mean_a = std::accumulate(ra.begin(), ra.end(), 0.0) / n;
  const double mean_b = std::accumulate(rb.begin(), rb.end(), 0.0) / n;
  double cov = 0, var_a = 0, var_b = 0;
  for (size_t i = 0; i < ra.size(); ++i) {
    cov += (ra[i] - mean_a) * (rb[i] - mean_b);
    var_a += (ra[i] - mean_a) * (ra[i] - mean_a);
    var_b += (rb[i] - mean_b) * (rb[i] - mean_b);
  }
  return var_a == 0 || var_b == 0 ? 0 : cov / std::sqrt(var_a * var_b);
}

}  // namespace nas::bench
