#include "worker/train/path_sampler.h"

#include <cmath>
#include <string>
#include <utility>

namespace nas::train {

namespace {

bool IsSizeDecision(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() &&
           name.compare(name.size() - suffix.size(), suffix.size(), suffix) ==
               0;
  };
  return ends_with(".depth") || ends_with(".width");
}

}  // namespace

PathSampler::PathSampler(const space::SearchSpace& space, bool fair,
                         bool sandwich, uint64_t seed, std::vector<int> fixed)
    : space_(space),
      fair_(fair),
      sandwich_(sandwich),
      rng_(seed),
      queues_(space.decisions().size()),
      fixed_(std::move(fixed)) {
  fixed_.resize(space.decisions().size(), -1);
  for (const space::Decision& d : space.decisions()) {
    int largest = -1, smallest = -1;
    if (IsSizeDecision(d.name)) {
      largest = smallest = 0;
      for (int k = 1; k < static_cast<int>(d.options.size()); ++k) {
        const int value = std::stoi(d.options[k]);
        if (value > std::stoi(d.options[largest])) largest = k;
        if (value < std::stoi(d.options[smallest])) smallest = k;
      }
    }
    largest_.push_back(largest);
    smallest_.push_back(smallest);
  }
}

int PathSampler::Draw(size_t decision) {
  const int options =
      static_cast<int>(space_.decisions()[decision].options.size());
  if (!fair_) return static_cast<int>(rng_() % options);
  std::vector<int>& queue = queues_[decision];
  if (queue.empty()) {
    for (int k = 0; k < options; ++k) queue.push_back(k);
    for (int k = options - 1; k > 0; --k) {
      std::swap(queue[k], queue[static_cast<int>(rng_() % (k + 1))]);
    }
  }
  const int option = queue.back();
  queue.pop_back();
  return option;
}

std::vector<int> PathSampler::Next() {
  const int phase = sandwich_ ? static_cast<int>(step_ % 4) : 2;
  ++step_;
  std::vector<int> choices;
  choices.reserve(largest_.size());
  for (size_t i = 0; i < largest_.size(); ++i) {
    if (fixed_[i] >= 0) {
      choices.push_back(fixed_[i]);
    } else if (phase == 0 && largest_[i] >= 0) {
      choices.push_back(largest_[i]);
    } else if (phase == 1 && smallest_[i] >= 0) {
      choices.push_back(smallest_[i]);
    } else {
      choices.push_back(Draw(i));
    }
  }
  return choices;
}

double ShardLearningRate(const ShardOptions& o, int step) {
  constexpr double kPi = 3.14159265358979323846;
  const double progress =
      o.steps <= 0 ? 0 : static_cast<double>(step) / o.steps;
  const double t =
      o.schedule_from + (o.schedule_to - o.schedule_from) * progress;
  return o.learning_rate * 0.5 * (1 + std::cos(kPi * t));
}

}  // namespace nas::train
