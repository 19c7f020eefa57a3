#include "controller/strategy/local_search.h"

#include <algorithm>
#include <map>
#include <unordered_map>

#include "controller/strategy/strategy_util.h"

namespace nas::controller {
namespace {

constexpr uint64_t kSalt = 0x4c4f4353;  // "LOCS"
// Trials within this many decisions of a centre belong to its run.
constexpr int kRunRadius = 2;
// Random draws for a restart point outside the run's radius before settling
// for any unseen architecture (small spaces).
constexpr int kFarRestartAttempts = 256;

int Distance(const std::vector<int>& a, const std::vector<int>& b) {
  int d = 0;
  for (size_t i = 0; i < a.size(); ++i) d += a[i] != b[i];
  return d;
}

struct Neighbour {
  std::vector<int> choices;
  std::string key;
};

// What is known about each computation: a score, or pending (no score).
struct Knowledge {
  std::unordered_map<std::string, std::optional<double>> completed;
  std::unordered_map<std::string, bool> pending;  // key -> still running
  std::unordered_map<std::string, int> order;     // key -> first trial index

  void Add(const TrialView& t) {
    order.emplace(t.canonical_key, static_cast<int>(order.size()));
    if ((t.state == nas::v1::TRIAL_STATE_COMPLETED ||
         t.state == nas::v1::TRIAL_STATE_STOPPED) &&
        t.score) {
      completed[t.canonical_key] = t.score;
    } else if (t.state == nas::v1::TRIAL_STATE_PENDING ||
               t.state == nas::v1::TRIAL_STATE_RUNNING) {
      pending[t.canonical_key] = true;
    } else {
      completed.emplace(t.canonical_key, std::nullopt);  // failed: no score
    }
  }
  bool Done(const std::string& key) const { return completed.count(key) > 0; }
  std::optional<double> Score(const std::string& key) const {
    auto it = completed.find(key);
    return it == completed.end() ? std::nullopt : it->second;
  }
  int Order(const std::string& key) const { return order.at(key); }
};

class Walk {
 public:
  Walk(const space::SearchSpace& space, bool first_improvement)
      : space_(space), first_improvement_(first_improvement) {}

  void Start(const std::vector<int>& choices) {
    centres_ = {choices};
    local_optimum_ = false;
  }
  bool started() const { return !centres_.empty(); }
  const std::vector<int>& centre() const { return centres_.back(); }
  bool local_optimum() const { return local_optimum_; }

  bool InRun(const std::vector<int>& choices) const {
    for (const auto& c : centres_) {
      if (Distance(c, choices) <= kRunRadius) return true;
    }
    return false;
  }
  bool FarFromRun(const std::vector<int>& choices) const {
    return !InRun(choices);
  }

  // Best improvement: moves the centre while its whole neighbourhood is
  // known and holds a better score. First improvement: moves to the
  // earliest evaluated neighbour that beats the centre. Sets
  // local_optimum() when the whole neighbourhood is known and none does.
  void Advance(const Knowledge& known) {
    while (!local_optimum_) {
      const std::optional<double> centre_score =
          known.Score(space_.CanonicalKey(centre()));
      if (!centre_score) return;  // pending (or failed: restart via caller)
      const Neighbour* best = nullptr;
      std::optional<double> best_score;
      const Neighbour* first = nullptr;
      bool complete = true;
      for (const Neighbour& n : Neighbours(centre())) {
        if (!known.Done(n.key)) {
          complete = false;  // unseen or pending
          continue;
        }
        const std::optional<double> s = known.Score(n.key);
        if (s && (!best_score || *s > *best_score)) {
          best_score = s;
          best = &n;
        }
        if (s && *s > *centre_score &&
            (first == nullptr || known.Order(n.key) < known.Order(first->key))) {
          first = &n;
        }
      }
      if (first_improvement_ && first != nullptr) {
        centres_.push_back(first->choices);
        continue;
      }
      if (!complete) return;
      if (best == nullptr || *best_score <= *centre_score) {
        local_optimum_ = true;
        return;
      }
      centres_.push_back(best->choices);
    }
  }

  // One entry per computation other than the centre's own, memoized.
  const std::vector<Neighbour>& Neighbours(const std::vector<int>& choices) {
    auto it = neighbours_.find(choices);
    if (it != neighbours_.end()) return it->second;
    const std::string own = space_.CanonicalKey(choices);
    std::vector<Neighbour> list;
    std::unordered_map<std::string, bool> keys;
    for (auto& n : OneDecisionNeighbours(space_, choices)) {
      std::string key = space_.CanonicalKey(n);
      if (key == own || !keys.emplace(key, true).second) continue;
      list.push_back({std::move(n), std::move(key)});
    }
    return neighbours_.emplace(choices, std::move(list)).first->second;
  }

 private:
  const space::SearchSpace& space_;
  const bool first_improvement_;
  std::vector<std::vector<int>> centres_;
  bool local_optimum_ = false;
  std::map<std::vector<int>, std::vector<Neighbour>> neighbours_;
};

}  // namespace

std::vector<std::vector<int>> LocalSearch::Propose(
    const SearchSnapshot& snapshot, int count) {
  const space::SearchSpace& space = *snapshot.space;
  std::mt19937_64 rng = SnapshotRng(snapshot, kSalt);
  SeenKeys seen(snapshot);

  // Replay: knowledge grows trial by trial; a far trial starts a new run.
  Walk walk(space, first_improvement_);
  Knowledge known;
  for (const TrialView& t : snapshot.trials) {
    if (walk.started()) walk.Advance(known);
    if (!walk.started() || !walk.InRun(t.choices)) walk.Start(t.choices);
    known.Add(t);
  }
  if (walk.started()) walk.Advance(known);

  std::vector<std::vector<int>> proposals;
  auto restart = [&]() -> bool {
    std::optional<std::vector<int>> point;
    for (int attempt = 0; attempt < kFarRestartAttempts && !point; ++attempt) {
      std::vector<int> choices = SampleUniform(space, rng);
      if ((!walk.started() || walk.FarFromRun(choices)) &&
          seen.Insert(space.CanonicalKey(choices))) {
        point = std::move(choices);
      }
    }
    if (!point) point = SampleUnseen(space, seen, rng);
    if (!point) return false;
    walk.Start(*point);
    proposals.push_back(std::move(*point));
    return true;
  };
  // Unseen neighbours of `choices`, in random order, while room remains.
  auto propose_neighbours = [&](const std::vector<int>& choices) {
    std::vector<Neighbour> list = walk.Neighbours(choices);
    std::shuffle(list.begin(), list.end(), rng);
    for (Neighbour& n : list) {
      if (static_cast<int>(proposals.size()) == count) return;
      if (seen.Insert(n.key)) proposals.push_back(std::move(n.choices));
    }
  };

  while (static_cast<int>(proposals.size()) < count) {
    const size_t before = proposals.size();
    const bool centre_failed =
        walk.started() && known.Done(space.CanonicalKey(walk.centre())) &&
        !known.Score(space.CanonicalKey(walk.centre()));
    if (!walk.started() || walk.local_optimum() || centre_failed) {
      if (!restart()) break;
      continue;
    }
    propose_neighbours(walk.centre());
    if (proposals.size() == before) {
      // The neighbourhood waits on pending trials: explore around the best
      // completed neighbours, the likely next centres.
      std::vector<std::pair<double, std::vector<int>>> ranked;
      for (const Neighbour& n : walk.Neighbours(walk.centre())) {
        if (std::optional<double> s = known.Score(n.key)) {
          ranked.emplace_back(*s, n.choices);
        }
      }
      std::stable_sort(ranked.begin(), ranked.end(),
                       [](const auto& a, const auto& b) {
                         return a.first > b.first;
                       });
      for (const auto& r : ranked) {
        if (static_cast<int>(proposals.size()) == count) break;
        propose_neighbours(r.second);
      }
    }
    if (proposals.size() == before && !restart()) break;
  }
  return proposals;
}

}  // namespace nas::controller

