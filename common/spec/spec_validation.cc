#include "common/spec/spec_validation.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/spec/early_stopping.h"
#include "common/spec/field_errors.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace nas::spec {
namespace {

// The metrics an objective may name. test_accuracy is deliberately missing:
// see kTestAccuracyRefusal.
constexpr absl::string_view kObjectiveMetrics[] = {
    "val_accuracy", "val_loss",   "params",
    "flops",        "latency_ms", "train_seconds"};
constexpr absl::string_view kTestAccuracyRefusal =
    "test_accuracy cannot be an objective: the search must never see test "
    "data, or the reported test accuracy stops being an unbiased estimate; "
    "optimize val_accuracy instead";

using internal::CheckRange;
using internal::FieldError;
using internal::QuoteForMessage;

bool Explicit(const FieldPathSet& explicitly_set, absl::string_view path) {
  return explicitly_set.find(path) != explicitly_set.end();
}

// A required number: 0 is "unset" unless a parser saw it written.
absl::Status CheckRequiredRange(absl::string_view path, int64_t value,
                                int64_t min, int64_t max,
                                const FieldPathSet& explicitly_set) {
  if (value == 0 && !Explicit(explicitly_set, path)) {
    return FieldError(
        path, absl::StrCat("required; must be between ", min, " and ", max));
  }
  return CheckRange(path, value, min, max);
}

// A finite number in (0, max]; NaN fails every comparison and lands here too.
absl::Status CheckFraction(absl::string_view path, double value, double max) {
  if (std::isfinite(value) && value > 0 && value <= max)
    return absl::OkStatus();
  if (!std::isfinite(value)) {
    return FieldError(path, absl::StrCat("must be a finite number in (0, ", max,
                                         "], got ", value));
  }
  return FieldError(path,
                    absl::StrCat("must be in (0, ", max, "], got ", value));
}

// Counts the characters of valid UTF-8 text; -1 when it is not valid UTF-8
// or holds control characters, which have no place in a label for people.
int64_t CountLabelChars(absl::string_view text) {
  int64_t chars = 0;
  for (size_t i = 0; i < text.size(); ++chars) {
    const unsigned char lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      length = 1, code = lead;
    } else if ((lead & 0xE0) == 0xC0) {
      length = 2, code = lead & 0x1F;
    } else if ((lead & 0xF0) == 0xE0) {
      length = 3, code = lead & 0x0F;
    } else if ((lead & 0xF8) == 0xF0) {
      length = 4, code = lead & 0x07;
    } else {
      return -1;
    }
    if (i + length > text.size()) return -1;
    for (size_t k = 1; k < length; ++k) {
      const unsigned char next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return -1;
      code = (code << 6) | (next & 0x3F);
    }
    static constexpr uint32_t kMinForLength[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinForLength[length] || code > 0x10FFFF ||
        (code >= 0xD800 && code <= 0xDFFF)) {
      return -1;  // overlong, out of range or a surrogate
    }
    if (code < 0x20 || code == 0x7F || (code >= 0x80 && code < 0xA0)) return -1;
    i += length;
  }
  return chars;
}

absl::Status ValidateName(const std::string& name) {
  const int64_t chars = CountLabelChars(name);
  if (chars < 0) {
    return FieldError("name",
                      "must be valid UTF-8 text without control characters");
  }
  if (chars > kMaxNameChars) {
    return FieldError("name", absl::StrCat("must be at most ", kMaxNameChars,
                                           " characters, got ", chars));
  }
  return absl::OkStatus();
}

absl::Status ValidateDataset(const nas::v1::Dataset& dataset) {
  if (dataset.name() == nas::v1::DATASET_NAME_UNSPECIFIED) {
    return FieldError("dataset.name",
                      "required; one of fashion_mnist, mnist, cifar10");
  }
  if (!nas::v1::DatasetName_IsValid(dataset.name())) {
    return FieldError(
        "dataset.name",
        absl::StrCat("unknown dataset value ", dataset.name(),
                     "; expected one of fashion_mnist, mnist, cifar10"));
  }
  return CheckFraction("dataset.validation_fraction",
                       dataset.validation_fraction(), kMaxValidationFraction);
}

// Only that a strategy is chosen: each strategy's factory checks its own
// options (0 means its default), and CheckAllFinite below their numbers.
absl::Status ValidateStrategy(const nas::v1::StrategySpec& strategy) {
  if (strategy.kind_case() != nas::v1::StrategySpec::KIND_NOT_SET) {
    return absl::OkStatus();
  }
  const google::protobuf::OneofDescriptor* kind =
      nas::v1::StrategySpec::descriptor()->FindOneofByName("kind");
  std::vector<std::string> names;
  for (int i = 0; i < kind->field_count(); ++i) {
    names.push_back(kind->field(i)->name());
  }
  return FieldError("strategy", absl::StrCat("required; set one of ",
                                             absl::StrJoin(names, ", ")));
}

// Every floating-point field at any depth must be finite. The checks above
// name the known fields with their ranges; this catches the rest (strategy
// options, fields added later).
absl::Status CheckAllFinite(const google::protobuf::Message& message,
                            const std::string& path) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Reflection* reflection = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  reflection->ListFields(message, &fields);  // those with a non-zero value
  for (const FieldDescriptor* field : fields) {
    const std::string field_path =
        path.empty() ? field->name() : absl::StrCat(path, ".", field->name());
    const int count =
        field->is_repeated() ? reflection->FieldSize(message, field) : 1;
    for (int i = 0; i < count; ++i) {
      const std::string item_path = field->is_repeated()
                                        ? absl::StrCat(field_path, "[", i, "]")
                                        : field_path;
      double value = 0;
      switch (field->cpp_type()) {
        case FieldDescriptor::CPPTYPE_DOUBLE:
          value = field->is_repeated()
                      ? reflection->GetRepeatedDouble(message, field, i)
                      : reflection->GetDouble(message, field);
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          value = field->is_repeated()
                      ? reflection->GetRepeatedFloat(message, field, i)
                      : reflection->GetFloat(message, field);
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          if (absl::Status s = CheckAllFinite(
                  field->is_repeated()
                      ? reflection->GetRepeatedMessage(message, field, i)
                      : reflection->GetMessage(message, field),
                  item_path);
              !s.ok()) {
            return s;
          }
          break;
        default:
          break;
      }
      if (!std::isfinite(value)) {
        return FieldError(item_path,
                          absl::StrCat("must be a finite number, got ", value));
      }
    }
  }
  return absl::OkStatus();
}

// The metric check objectives and constraints share; `path` names the
// metric field.
absl::Status CheckMetricName(const std::string& path,
                             const std::string& metric) {
  if (metric.empty()) {
    return FieldError(
        path,
        absl::StrCat("required; one of ", absl::StrJoin(kObjectiveMetrics, ", ")));
  }
  if (metric == "test_accuracy") return FieldError(path, kTestAccuracyRefusal);
  for (absl::string_view m : kObjectiveMetrics) {
    if (m == metric) return absl::OkStatus();
  }
  return FieldError(path, absl::StrCat("unknown metric ",
                                       QuoteForMessage(metric),
                                       "; expected one of ",
                                       absl::StrJoin(kObjectiveMetrics, ", ")));
}

absl::Status ValidateObjectives(
    const google::protobuf::RepeatedPtrField<nas::v1::Objective>& objectives) {
  if (objectives.empty())
    return FieldError("objectives", "at least one objective is required");
  if (objectives.size() > kMaxObjectives) {
    return FieldError(
        "objectives",
        absl::StrCat("at most ", kMaxObjectives,
                     " objectives are allowed, got ", objectives.size()));
  }
  for (int i = 0; i < objectives.size(); ++i) {
    const nas::v1::Objective& objective = objectives[i];
    const std::string path = absl::StrCat("objectives[", i, "]");
    const std::string metric_path = absl::StrCat(path, ".metric");
    if (absl::Status s = CheckMetricName(metric_path, objective.metric());
        !s.ok()) {
      return s;
    }
    for (int j = 0; j < i; ++j) {
      if (objectives[j].metric() == objective.metric()) {
        return FieldError(
            metric_path, absl::StrCat("duplicate metric \"", objective.metric(),
                                      "\" (also objectives[", j, "])"));
      }
    }
    if (objective.direction() != nas::v1::DIRECTION_MAXIMIZE &&
        objective.direction() != nas::v1::DIRECTION_MINIMIZE) {
      return FieldError(
          absl::StrCat(path, ".direction"),
          objective.direction() == nas::v1::DIRECTION_UNSPECIFIED
              ? std::string("required; maximize or minimize")
              : absl::StrCat("unknown direction value ", objective.direction(),
                             "; expected maximize or minimize"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateConstraints(
    const google::protobuf::RepeatedPtrField<nas::v1::Constraint>&
        constraints) {
  if (constraints.size() > kMaxConstraints) {
    return FieldError(
        "constraints",
        absl::StrCat("at most ", kMaxConstraints,
                     " constraints are allowed, got ", constraints.size()));
  }
  for (int i = 0; i < constraints.size(); ++i) {
    const nas::v1::Constraint& constraint = constraints[i];
    const std::string path = absl::StrCat("constraints[", i, "]");
    if (absl::Status s =
            CheckMetricName(absl::StrCat(path, ".metric"), constraint.metric());
        !s.ok()) {
      return s;
    }
    if (constraint.op() != nas::v1::COMPARISON_LESS_EQUAL &&
        constraint.op() != nas::v1::COMPARISON_GREATER_EQUAL) {
      return FieldError(
          absl::StrCat(path, ".op"),
          constraint.op() == nas::v1::COMPARISON_UNSPECIFIED
              ? std::string("required; <= or >=")
              : absl::StrCat("unknown comparison value ", constraint.op(),
                             "; expected <= or >="));
    }
    if (!std::isfinite(constraint.bound())) {
      return FieldError(absl::StrCat(path, ".bound"),
                        "must be a finite number");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBudget(const nas::v1::SearchBudget& budget,
                            const FieldPathSet& explicitly_set) {
  if (absl::Status s =
          CheckRequiredRange("budget.max_trials", budget.max_trials(), 1,
                             kMaxTrials, explicitly_set);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("budget.parallelism", budget.parallelism(), 1,
                                  kMaxParallelism);
      !s.ok()) {
    return s;
  }
  return CheckRange("budget.max_attempts", budget.max_attempts(), 1,
                    kMaxAttempts);
}

// `path` is where the budget sits: "training", or a candidate fine-tuning's.
absl::Status ValidateTraining(absl::string_view path,
                              const nas::v1::TrainingBudget& training,
                              const FieldPathSet& explicitly_set) {
  if (absl::Status s = CheckRequiredRange(absl::StrCat(path, ".epochs"),
                                          training.epochs(), 1, kMaxEpochs,
                                          explicitly_set);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckFraction(absl::StrCat(path, ".data_fraction"),
                                     training.data_fraction(), 1.0);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange(absl::StrCat(path, ".batch_size"),
                                  training.batch_size(), 1, kMaxBatchSize);
      !s.ok()) {
    return s;
  }
  return CheckFraction(absl::StrCat(path, ".learning_rate"),
                       training.learning_rate(), kMaxLearningRate);
}

// A number in [min, max) where a negative value means "off".
absl::Status CheckBelowOrOff(absl::string_view path, double value,
                             double max) {
  if (std::isfinite(value) && value < max) return absl::OkStatus();
  return FieldError(path,
                    absl::StrCat("must be below ", max,
                                 " (a negative value turns it off), got ",
                                 value));
}

absl::Status ValidateWeightSharing(const nas::v1::SearchSpec& spec,
                                   const FieldPathSet& explicitly_set) {
  const nas::v1::WeightSharingConfig& ws = spec.estimation().weight_sharing();
  const nas::v1::SupernetTrainingConfig& net = ws.supernet();
  constexpr absl::string_view kNet = "estimation.weight_sharing.supernet.";
  constexpr absl::string_view kCandidates =
      "estimation.weight_sharing.candidates.";
  for (absl::Status s : {
           CheckRange(absl::StrCat(kNet, "rounds"), net.rounds(), 1,
                      kMaxSupernetRounds),
           CheckRange(absl::StrCat(kNet, "shards_per_round"),
                      net.shards_per_round(), 1, kMaxShardsPerRound),
           CheckRange(absl::StrCat(kNet, "steps_per_shard"),
                      net.steps_per_shard(), 0, kMaxStepsPerShard),
           CheckFraction(absl::StrCat(kNet, "learning_rate"),
                         net.learning_rate(), kMaxLearningRate),
           CheckRange(absl::StrCat(kNet, "batch_size"), net.batch_size(), 1,
                      kMaxBatchSize),
           CheckBelowOrOff(absl::StrCat(kNet, "momentum"), net.momentum(), 1),
           CheckBelowOrOff(absl::StrCat(kNet, "weight_decay"),
                           net.weight_decay(), 1),
           CheckRange(absl::StrCat(kCandidates, "bn_recalibration_batches"),
                      ws.candidates().bn_recalibration_batches(), -1,
                      kMaxRecalibrationBatches),
           CheckRange(absl::StrCat(kCandidates, "max_validation_images"),
                      ws.candidates().max_validation_images(), 0,
                      std::numeric_limits<int32_t>::max()),
           CheckRange("estimation.weight_sharing.retrain_top_k",
                      ws.retrain_top_k(), 1, spec.budget().max_trials()),
       }) {
    if (!s.ok()) return s;
  }
  if (ws.candidates().has_fine_tune()) {
    if (absl::Status s =
            ValidateTraining(absl::StrCat(kCandidates, "fine_tune"),
                             ws.candidates().fine_tune(), explicitly_set);
        !s.ok()) {
      return s;
    }
  }
  const int64_t total = int64_t{spec.budget().max_trials()} +
                        int64_t{net.rounds()} * net.shards_per_round() +
                        ws.retrain_top_k();
  if (total > kMaxTrials) {
    return FieldError(
        "estimation.weight_sharing.supernet",
        absl::StrCat("the search would run ", total,
                     " trials (max_trials + rounds x shards_per_round + "
                     "retrain_top_k); at most ",
                     kMaxTrials));
  }
  return absl::OkStatus();
}

absl::Status ValidateZeroCost(const nas::v1::SearchSpec& spec) {
  const nas::v1::ZeroCostConfig& zc = spec.estimation().zero_cost();
  const std::vector<absl::string_view>& scores = ZeroCostScores();
  if (std::find(scores.begin(), scores.end(), zc.score()) == scores.end()) {
    return FieldError("estimation.zero_cost.score",
                      absl::StrCat("unknown score ", QuoteForMessage(zc.score()),
                                   "; expected one of ",
                                   absl::StrJoin(scores, ", ")));
  }
  if (absl::Status s = CheckRange("estimation.zero_cost.batch_size",
                                  zc.batch_size(), 2, kMaxZeroCostBatch);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("estimation.zero_cost.train_top_k",
                                  zc.train_top_k(), 1,
                                  spec.budget().max_trials());
      !s.ok()) {
    return s;
  }
  if (int64_t{spec.budget().max_trials()} + zc.train_top_k() > kMaxTrials) {
    return FieldError("estimation.zero_cost.train_top_k",
                      absl::StrCat("the search would run more than ",
                                   kMaxTrials,
                                   " trials (max_trials + train_top_k)"));
  }
  return absl::OkStatus();
}

void ApplyWeightSharingDefaults(nas::v1::WeightSharingConfig* ws,
                                const FieldPathSet& explicitly_set) {
  auto unset = [&](auto value, absl::string_view field) {
    return value == 0 &&
           !Explicit(explicitly_set,
                     absl::StrCat("estimation.weight_sharing.", field));
  };
  nas::v1::SupernetTrainingConfig* net = ws->mutable_supernet();
  if (unset(net->rounds(), "supernet.rounds")) net->set_rounds(8);
  if (unset(net->shards_per_round(), "supernet.shards_per_round")) {
    net->set_shards_per_round(4);
  }
  if (unset(net->learning_rate(), "supernet.learning_rate")) {
    net->set_learning_rate(0.05);
  }
  if (unset(net->batch_size(), "supernet.batch_size")) net->set_batch_size(128);
  if (unset(net->momentum(), "supernet.momentum")) net->set_momentum(0.9);
  if (unset(net->weight_decay(), "supernet.weight_decay")) {
    net->set_weight_decay(5e-4);
  }
  nas::v1::CandidateScoringConfig* candidates = ws->mutable_candidates();
  if (unset(candidates->bn_recalibration_batches(),
            "candidates.bn_recalibration_batches")) {
    candidates->set_bn_recalibration_batches(20);
  }
  if (candidates->has_fine_tune()) {
    nas::v1::TrainingBudget* fine_tune = candidates->mutable_fine_tune();
    if (unset(fine_tune->data_fraction(), "candidates.fine_tune.data_fraction")) {
      fine_tune->set_data_fraction(0.1);
    }
    if (unset(fine_tune->learning_rate(), "candidates.fine_tune.learning_rate")) {
      fine_tune->set_learning_rate(0.01);
    }
    if (unset(fine_tune->batch_size(), "candidates.fine_tune.batch_size")) {
      fine_tune->set_batch_size(net->batch_size());
    }
  }
  if (unset(ws->retrain_top_k(), "retrain_top_k")) ws->set_retrain_top_k(3);
}

}  // namespace

const std::vector<absl::string_view>& ZeroCostScores() {
  static const auto* scores = new std::vector<absl::string_view>{
      "synflow", "naswot", "grad_norm", "params", "flops"};
  return *scores;
}

void ApplySpecDefaults(nas::v1::SearchSpec* spec) {
  ApplySpecDefaults(spec, FieldPathSet());
}

void ApplySpecDefaults(nas::v1::SearchSpec* spec,
                       const FieldPathSet& explicitly_set) {
  auto unset = [&](auto value, absl::string_view path) {
    return value == 0 && !Explicit(explicitly_set, path);
  };
  nas::v1::Dataset* dataset = spec->mutable_dataset();
  if (unset(dataset->validation_fraction(), "dataset.validation_fraction")) {
    dataset->set_validation_fraction(0.1);
  }
  if (spec->has_space())
    ApplySearchSpaceDefaults(spec->mutable_space(), explicitly_set);
  nas::v1::SearchBudget* budget = spec->mutable_budget();
  if (unset(budget->parallelism(), "budget.parallelism"))
    budget->set_parallelism(1);
  if (unset(budget->max_attempts(), "budget.max_attempts"))
    budget->set_max_attempts(3);
  nas::v1::TrainingBudget* training = spec->mutable_training();
  if (unset(training->batch_size(), "training.batch_size"))
    training->set_batch_size(128);
  if (unset(training->data_fraction(), "training.data_fraction")) {
    training->set_data_fraction(1.0);
  }
  if (unset(training->learning_rate(), "training.learning_rate")) {
    training->set_learning_rate(0.05);
  }
  if (spec->estimation().has_weight_sharing()) {
    ApplyWeightSharingDefaults(
        spec->mutable_estimation()->mutable_weight_sharing(), explicitly_set);
  }
  if (spec->estimation().has_zero_cost()) {
    nas::v1::ZeroCostConfig* zc = spec->mutable_estimation()->mutable_zero_cost();
    if (zc->score().empty()) zc->set_score("synflow");
    if (zc->batch_size() == 0) zc->set_batch_size(64);
    if (unset(zc->train_top_k(), "estimation.zero_cost.train_top_k")) {
      zc->set_train_top_k(3);
    }
  }
  ApplyEarlyStoppingDefaults(spec, explicitly_set);
}

absl::Status ValidateSearchSpec(const nas::v1::SearchSpec& spec) {
  return ValidateSearchSpec(spec, FieldPathSet());
}

absl::Status ValidateSearchSpec(const nas::v1::SearchSpec& spec,
                                const FieldPathSet& explicitly_set) {
  if (absl::Status s = ValidateName(spec.name()); !s.ok()) return s;
  if (absl::Status s = ValidateDataset(spec.dataset()); !s.ok()) return s;
  if (absl::Status s = ValidateSearchSpace(spec.space()); !s.ok()) return s;
  // Our checks above are meant to be at least as strict as the space
  // library's; building the space makes sure, so that a spec accepted here
  // never fails later in the controller.
  if (absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> built =
          MakeSearchSpace(spec.space());
      !built.ok()) {
    return built.status();
  }
  if (absl::Status s = ValidateStrategy(spec.strategy()); !s.ok()) return s;
  if (absl::Status s = ValidateObjectives(spec.objectives()); !s.ok()) return s;
  if (absl::Status s = ValidateConstraints(spec.constraints()); !s.ok())
    return s;
  if (absl::Status s = ValidateBudget(spec.budget(), explicitly_set); !s.ok())
    return s;
  if (absl::Status s =
          ValidateTraining("training", spec.training(), explicitly_set);
      !s.ok()) {
    return s;
  }
  if (spec.estimation().has_weight_sharing()) {
    if (absl::Status s = ValidateWeightSharing(spec, explicitly_set);
        !s.ok()) {
      return s;
    }
  }
  if (spec.estimation().has_zero_cost()) {
    if (absl::Status s = ValidateZeroCost(spec); !s.ok()) return s;
  }
  if (absl::Status s = ValidateEarlyStopping(spec); !s.ok()) return s;
  return CheckAllFinite(spec, "");
}

}  // namespace nas::spec
