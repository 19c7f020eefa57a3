#include "worker/tabular_estimator.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/space/datasets.h"
#include "common/space/space.h"
#include "common/spec/dataset_names.h"
#include "common/spec/space_from_proto.h"
#include "worker/train/trainer.h"

namespace nas::worker {
namespace {

constexpr absl::string_view kHeader = "arch,cifar10_test_acc_200ep";
constexpr double kPi = 3.14159265358979323846;

// The string as SearchSpace::Render writes it, from the six edge ops, so
// that a table entry and a rendered architecture compare equal.
std::string Nb201String(const std::vector<std::string>& ops) {
  std::string text;
  size_t e = 0;
  for (int target = 1; target <= 3; ++target) {
    if (target > 1) text += "+";
    text += "|";
    for (int source = 0; source < target; ++source, ++e) {
      absl::StrAppend(&text, ops[e], "~", source, "|");
    }
  }
  return text;
}

// SplitMix64: a tiny, portable generator, so that workers built with any
// standard library draw the same noise for the same seed (std::
// normal_distribution is implementation-defined).
uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in (0, 1]: never 0, so log() below is finite.
double UnitInterval(uint64_t* state) {
  return (static_cast<double>(SplitMix64(state) >> 11) + 1.0) * 0x1.0p-53;
}

// One standard normal draw (Box-Muller).
double StandardNormal(uint64_t seed) {
  // Decorrelates from the trainer's use of the same seed.
  uint64_t state = seed ^ 0x7461626c65ULL;  // "table"
  const double u1 = UnitInterval(&state);
  const double u2 = UnitInterval(&state);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

// Input shape of the data set the search names; the table's (CIFAR-10) when
// none is named.
space::InputShape InputShapeOf(nas::v1::DatasetName name) {
  const space::DatasetInfo* data = space::FindDataset(spec::DatasetText(name));
  return data != nullptr ? data->shape : space::FindDataset("cifar10")->shape;
}

}  // namespace

TabularEstimator::TabularEstimator(
    absl::flat_hash_map<std::string, double> accuracy, double noise_sigma)
    : accuracy_(std::move(accuracy)), noise_sigma_(noise_sigma) {}

absl::StatusOr<std::unique_ptr<TabularEstimator>> TabularEstimator::Load(
    const std::string& path, double noise_sigma) {
  if (!std::isfinite(noise_sigma) || noise_sigma < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table noise sigma must be a finite number >= 0, got ", noise_sigma));
  }
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open the table file \"", path, "\""));
  }
  auto bad_line = [&path](int line, absl::string_view message) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ":", line, ": ", message));
  };
  absl::flat_hash_map<std::string, double> accuracy;
  std::string text;
  int line = 0;
  while (std::getline(in, text)) {
    ++line;
    const absl::string_view row = absl::StripAsciiWhitespace(text);
    if (line == 1) {
      if (row != kHeader) {
        return bad_line(line, absl::StrCat("expected the header \"", kHeader,
                                           "\", got \"", row, "\""));
      }
      continue;
    }
    if (row.empty()) continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(row, ',');
    if (fields.size() != 2) {
      return bad_line(line,
                      absl::StrCat("expected 2 comma-separated fields, got ",
                                   fields.size()));
    }
    std::vector<std::string> ops;
    std::string error;
    if (!space::ParseNb201String(std::string(fields[0]), &ops, &error)) {
      return bad_line(line, error);
    }
    double value;
    if (!absl::SimpleAtod(fields[1], &value) || !std::isfinite(value) ||
        value < 0 || value > 100) {
      return bad_line(line, absl::StrCat("accuracy \"", fields[1],
                                         "\" is not a percentage in [0, 100]"));
    }
    if (!accuracy.emplace(Nb201String(ops), value).second) {
      return bad_line(
          line, absl::StrCat("duplicate architecture \"", fields[0], "\""));
    }
  }
  if (in.bad()) {
    return absl::DataLossError(absl::StrCat("error reading \"", path, "\""));
  }
  if (line == 0) return bad_line(1, "empty file; expected a header");
  if (accuracy.empty()) return bad_line(line, "the table has no rows");
  return std::unique_ptr<TabularEstimator>(
      new TabularEstimator(std::move(accuracy), noise_sigma));
}

std::optional<double> TabularEstimator::Lookup(const std::string& arch) const {
  auto it = accuracy_.find(arch);
  if (it == accuracy_.end()) return std::nullopt;
  return it->second;
}

double TabularEstimator::NoisyAccuracy(double accuracy, uint64_t seed) const {
  if (noise_sigma_ == 0) return accuracy;
  return std::clamp(accuracy + noise_sigma_ * StandardNormal(seed), 0.0, 100.0);
}

nas::v1::Capabilities TabularEstimator::Capabilities() const {
  nas::v1::Capabilities caps;
  caps.set_estimator("tabular");
  caps.add_can_run()->set_space(nas::v1::SPACE_KIND_NB201);
  return caps;
}

absl::StatusOr<Evaluation> TabularEstimator::Evaluate(
    const nas::v1::TrialAssignment& a, const ProgressFn& on_epoch) {
  const auto start = std::chrono::steady_clock::now();
  if (!a.space().has_nb201()) {
    return absl::FailedPreconditionError(
        "the tabular estimator only knows the NAS-Bench-201 cell space");
  }
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      spec::MakeSearchSpace(a.space());
  if (!space.ok()) return space.status();
  const std::vector<int> choices(a.architecture().choices().begin(),
                                 a.architecture().choices().end());
  if (std::string error = (*space)->Validate(choices); !error.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("architecture: ", error));
  }
  const std::string arch = (*space)->Render(choices);
  const std::optional<double> accuracy = Lookup(arch);
  if (!accuracy) {
    return absl::NotFoundError(
        absl::StrCat("architecture \"", arch, "\" is not in the table"));
  }
  const double val_accuracy = NoisyAccuracy(*accuracy, a.seed()) / 100;
  const space::NetworkSpec network =
      (*space)->Network(choices, InputShapeOf(a.dataset().name()));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();

  Evaluation evaluation;
  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(1);
  epoch.set_val_accuracy(val_accuracy);
  epoch.set_seconds(seconds);
  if (on_epoch && !on_epoch(epoch)) {
    evaluation.stopped = true;
    return evaluation;
  }
  nas::v1::TrialMetrics& m = evaluation.metrics;
  m.set_val_accuracy(val_accuracy);
  m.set_test_accuracy(*accuracy / 100);
  m.set_params(train::CountParameters(network));
  m.set_flops(train::CountFlops(network));
  // No latency, losses or test loss: nothing runs, so they stay unset
  // (NULL in the trials table), not 0.
  m.set_train_seconds(seconds);
  return evaluation;
}

}  // namespace nas::worker
