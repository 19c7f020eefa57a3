#include "controller/strategy/pareto.h"

#include <algorithm>
#include <limits>

namespace nas::controller {

bool Dominates(const std::vector<double>& a, const std::vector<double>& b) {
  bool better = false;
  for (size_t m = 0; m < a.size(); ++m) {
    if (a[m] < b[m]) return false;
    better = better || a[m] > b[m];
  }
  return better;
}

std::vector<std::vector<int>> NonDominatedFronts(
    const std::vector<std::vector<double>>& points) {
  const int n = static_cast<int>(points.size());
  std::vector<std::vector<int>> dominated_by(n);  // i dominates these
  std::vector<int> dominators(n, 0);
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      if (Dominates(points[i], points[j])) {
        dominated_by[i].push_back(j);
        ++dominators[j];
      } else if (Dominates(points[j], points[i])) {
        dominated_by[j].push_back(i);
        ++dominators[i];
      }
    }
  }
  std::vector<std::vector<int>> fronts;
  std::vector<int> current;
  for (int i = 0; i < n; ++i) {
    if (dominators[i] == 0) current.push_back(i);
  }
  while (!current.empty()) {
    std::vector<int> next;
    for (int i : current) {
      for (int j : dominated_by[i]) {
        if (--dominators[j] == 0) next.push_back(j);
      }
    }
    std::sort(next.begin(), next.end());
    fronts.push_back(std::move(current));
    current = std::move(next);
  }
  return fronts;
}

std::vector<double> CrowdingDistances(
    const std::vector<std::vector<double>>& points,
    const std::vector<int>& front) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const size_t size = front.size();
  std::vector<double> distance(size, 0.0);
  if (size <= 2) return std::vector<double>(size, kInf);
  std::vector<size_t> order(size);
  for (size_t m = 0; m < points[front[0]].size(); ++m) {
    for (size_t k = 0; k < size; ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return points[front[a]][m] < points[front[b]][m];
    });
    const double low = points[front[order.front()]][m];
    const double high = points[front[order.back()]][m];
    distance[order.front()] = kInf;
    distance[order.back()] = kInf;
    // All equal along m: it tells the members nothing apart.
    if (high == low) continue;
    for (size_t k = 1; k + 1 < size; ++k) {
      distance[order[k]] +=
          (points[front[order[k + 1]]][m] - points[front[order[k - 1]]][m]) /
          (high - low);
    }
  }
  return distance;
}

std::vector<int> NsgaOrder(const std::vector<std::vector<double>>& points) {
  std::vector<int> order;
  order.reserve(points.size());
  for (const std::vector<int>& front : NonDominatedFronts(points)) {
    const std::vector<double> crowding = CrowdingDistances(points, front);
    std::vector<size_t> within(front.size());
    for (size_t k = 0; k < within.size(); ++k) within[k] = k;
    // Front indices ascend, so a stable sort breaks ties by lower index.
    std::stable_sort(within.begin(), within.end(), [&](size_t a, size_t b) {
      return crowding[a] > crowding[b];
    });
    for (size_t k : within) order.push_back(front[k]);
  }
  return order;
}

}  // namespace nas::controller
