// Rank agreement of two score lists over the same items.
#ifndef NAS_BENCH_RANKING_RANK_CORRELATION_H_
#define NAS_BENCH_RANKING_RANK_CORRELATION_H_

#include <vector>

namespace nas::bench {

// 1-based ranks of `v`, ties sharing their average rank.
std::vector<double> AverageRanks(const std::vector<double>& v);

// Kendall's tau-b (ties in either list count as neither concordant nor
// discordant, and the denominator corrects for them). REQUIRES: equal sizes.
// Returns 0 for fewer than two items or a list that is all ties.
double KendallTau(const std::vector<double>& a, const std::vector<double>& b);

// Spearman's rho: the Pearson correlation of the average ranks.
// REQUIRES: equal sizes. Returns 0 when either list has no spread.
double Spearman(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace nas::bench

#endif  // NAS_BENCH_RANKING_RANK_CORRELATION_H_
