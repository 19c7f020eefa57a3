#include "worker/supernet_estimator.h"

#include <algorithm>
#include <chrono>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/spec/space_from_proto.h"
#include "common/tensor/tensor_archive.h"
#include "worker/resumable_training.h"
#include "worker/torch_failure.h"
#include "worker/train/data_split.h"

namespace nas::worker {
namespace {

std::string VersionName(int64_t search_id, int64_t version) {
  return absl::StrCat("supernet version ", version, " of search ", search_id);
}

// Optimizer steps for one pass over the shard's part of the training pool:
// ceil(part / batch), with the part and batch TrainSupernetShard uses.
absl::StatusOr<int> StepsForOnePass(const train::Dataset& data,
                                    const train::ShardOptions& o) {
  train::DataSplit split;
  std::string error;
  if (!train::SplitTrainValidation(train::DatasetTrainSize(data),
                                   o.validation_fraction, &split, &error)) {
    return absl::InvalidArgumentError(error);
  }
  const int64_t part =
      static_cast<int64_t>(split.train_pool.size()) / o.num_shards;
  const int64_t batch =
      std::max<int64_t>(1, std::min<int64_t>(o.batch_size, part));
  return static_cast<int>(std::max<int64_t>(1, (part + batch - 1) / batch));
}

absl::Status CheckShardTask(const nas::v1::SupernetTask& t) {
  if (t.checkpoint_version() < 0) {
    return absl::InvalidArgumentError("task.checkpoint_version must be >= 0");
  }
  if (t.num_shards() < 1 || t.shard_index() < 0 ||
      t.shard_index() >= t.num_shards()) {
    return absl::InvalidArgumentError(
        absl::StrCat("task.shard_index ", t.shard_index(),
                     " must be in [0, num_shards ", t.num_shards(), ")"));
  }
  if (t.steps() < 0)
    return absl::InvalidArgumentError("task.steps must be >= 0");
  if (t.batch_size() < 0 || t.learning_rate() < 0) {
    return absl::InvalidArgumentError(
        "task.batch_size and task.learning_rate must be >= 0");
  }
  if (!(t.schedule_from() >= 0 && t.schedule_from() <= t.schedule_to() &&
        t.schedule_to() <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "task.schedule_from ", t.schedule_from(), " and schedule_to ",
        t.schedule_to(), " must satisfy 0 <= from <= to <= 1"));
  }
  return absl::OkStatus();
}

// Negative: off; zero: the default; else the value.
double OffOrDefault(double value, double default_value) {
  if (value < 0) return 0;
  return value == 0 ? default_value : value;
}

}  // namespace

SupernetEstimator::SupernetEstimator(SupernetEstimatorOptions options,
                                     std::shared_ptr<DatasetCache> datasets,
                                     CheckpointSource* checkpoints,
                                     TrialStateStore* states)
    : options_(std::move(options)),
      datasets_(std::move(datasets)),
      checkpoints_(checkpoints),
      states_(states) {}

SupernetEstimator::~SupernetEstimator() = default;

nas::v1::Capabilities SupernetEstimator::Capabilities() const {
  nas::v1::Capabilities caps = datasets_->Capabilities("supernet");
  for (nas::v1::Capability& c : *caps.mutable_can_run()) {
    c.add_kinds(nas::v1::TRIAL_KIND_SUPERNET_SHARD);
    c.add_kinds(nas::v1::TRIAL_KIND_SCORE_INHERITED);
  }
  return caps;
}

absl::StatusOr<Evaluation> SupernetEstimator::Evaluate(
    const nas::v1::TrialAssignment& a, const ProgressFn& on_epoch) {
  if (a.kind() != nas::v1::TRIAL_KIND_SUPERNET_SHARD &&
      a.kind() != nas::v1::TRIAL_KIND_SCORE_INHERITED) {
    return absl::InvalidArgumentError(
        absl::StrCat("the supernet estimator does not run ",
                     nas::v1::TrialKind_Name(a.kind()), " trials"));
  }
  absl::StatusOr<spec::SpaceConfig> config = spec::SearchSpaceConfig(a.space());
  if (!config.ok()) return config.status();
  absl::StatusOr<std::shared_ptr<const train::Dataset>> data =
      datasets_->Load(a.dataset().name());
  if (!data.ok()) return data.status();
  const train::SupernetSpace space{*config, train::DatasetShape(**data)};

  std::lock_guard<std::mutex> lock(mu_);
  if (a.kind() == nas::v1::TRIAL_KIND_SUPERNET_SHARD) {
    return TrainShard(a, space, **data, on_epoch);
  }
  return Score(a, space, **data, on_epoch);
}

absl::StatusOr<Evaluation> SupernetEstimator::TrainShard(
    const nas::v1::TrialAssignment& a, const train::SupernetSpace& space,
    const train::Dataset& data, const ProgressFn& on_epoch) {
  const nas::v1::SupernetTask& t = a.task();
  if (absl::Status s = CheckShardTask(t); !s.ok()) return s;

  train::SupernetPtr supernet;
  std::string error;
  if (t.checkpoint_version() == 0) {
    // On the CPU whatever the device: every shard of round 0 must start
    // from the same weights.
    supernet = train::CreateSupernet(space, t.init_seed(), &error);
    if (!supernet) return absl::InvalidArgumentError(error);
  } else {
    // A copy of the cached version is trained, so that the version stays
    // cached for the round's other shards and the scores that follow.
    absl::StatusOr<train::Supernet*> version =
        Version(a.search_id(), t.checkpoint_version(), space);
    if (!version.ok()) return version.status();
    supernet = train::SupernetFromTensors(
        space, train::SupernetTensors(**version), &error);
    if (!supernet) return absl::InternalError(error);
  }

  train::ShardOptions o;
  if (t.batch_size() > 0) o.batch_size = t.batch_size();
  if (t.learning_rate() > 0) o.learning_rate = t.learning_rate();
  o.schedule_from = t.schedule_from();
  o.schedule_to = t.schedule_to();
  o.momentum = OffOrDefault(t.momentum(), o.momentum);
  o.weight_decay = OffOrDefault(t.weight_decay(), o.weight_decay);
  o.shard_index = t.shard_index();
  o.num_shards = t.num_shards();
  o.validation_fraction = a.dataset().validation_fraction();
  o.seed = a.seed();
  o.device = options_.device;
  o.num_threads = options_.num_threads;
  if (t.steps() > 0) {
    o.steps = t.steps();
  } else {
    absl::StatusOr<int> steps = StepsForOnePass(data, o);
    if (!steps.ok()) return steps.status();
    o.steps = *steps;
  }

  train::ShardResult result;
  if (!train::TrainSupernetShard(supernet.get(), data, o, nullptr, &result,
                                 &error)) {
    return TorchFailure("supernet shard failed", error);
  }
  Evaluation evaluation;
  // The shard's loss goes in its epoch history: TrialMetrics has no
  // training loss. One report only: the controller keeps the first report
  // of an epoch.
  nas::v1::EpochMetrics epoch;
  epoch.set_epoch(1);
  epoch.set_train_loss(result.train_loss);
  epoch.set_seconds(result.seconds);
  if (on_epoch && !on_epoch(epoch)) {
    evaluation.stopped = true;
    return evaluation;
  }
  evaluation.metrics.set_train_seconds(result.seconds);
  evaluation.upload = tensor::Serialize(train::SupernetTensors(*supernet));
  evaluation.merge_weight = static_cast<double>(result.images);
  return evaluation;
}

absl::StatusOr<Evaluation> SupernetEstimator::Score(
    const nas::v1::TrialAssignment& a, const train::SupernetSpace& space,
    const train::Dataset& data, const ProgressFn& on_epoch) {
  const nas::v1::SupernetTask& t = a.task();
  if (t.checkpoint_version() < 1) {
    return absl::InvalidArgumentError(
        "task.checkpoint_version: a score inherits a version >= 1");
  }
  if (t.max_validation_images() < 0 || t.batch_size() < 0) {
    return absl::InvalidArgumentError(
        "task.max_validation_images and task.batch_size must be >= 0");
  }
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> search_space =
      spec::MakeSearchSpace(a.space());
  if (!search_space.ok()) return search_space.status();
  if (absl::Status s =
          spec::ValidateArchitecture(**search_space, a.architecture());
      !s.ok()) {
    return s;
  }
  const std::vector<int> choices(a.architecture().choices().begin(),
                                 a.architecture().choices().end());

  absl::StatusOr<train::Supernet*> supernet =
      Version(a.search_id(), t.checkpoint_version(), space);
  if (!supernet.ok()) return supernet.status();

  train::ScoreOptions o;
  o.bn_recalibration_batches = static_cast<int>(
      OffOrDefault(t.bn_recalibration_batches(), o.bn_recalibration_batches));
  if (t.batch_size() > 0) o.batch_size = t.batch_size();
  o.max_validation_images = t.max_validation_images();
  o.validation_fraction = a.dataset().validation_fraction();
  o.seed = a.seed();
  o.device = options_.device;
  o.num_threads = options_.num_threads;
  if (t.fine_tune().epochs() > 0) {
    return FineTune(a, **supernet, choices, data, o, on_epoch);
  }
  train::ScoreResult result;
  std::string error;
  if (!train::ScoreSubnet(**supernet, choices, data, o, &result, &error)) {
    return TorchFailure("scoring failed", error);
  }
  double latency_ms = 0;
  if (!train::MeasureLatency((*search_space)->Network(choices, space.input),
                             options_.device, &latency_ms, &error)) {
    return TorchFailure("latency measurement failed", error);
  }
  Evaluation evaluation;
  nas::v1::TrialMetrics& m = evaluation.metrics;
  m.set_val_accuracy(result.val_accuracy);
  m.set_val_loss(result.val_loss);
  m.set_params(result.params);
  m.set_flops(result.flops);
  m.set_latency_ms(latency_ms);
  m.set_train_seconds(result.seconds);
  return evaluation;
}

absl::StatusOr<Evaluation> SupernetEstimator::FineTune(
    const nas::v1::TrialAssignment& a, const train::Supernet& supernet,
    const std::vector<int>& choices, const train::Dataset& data,
    const train::ScoreOptions& inherit, const ProgressFn& on_epoch) {
  // Inherited even when the attempt resumes: should its saved state be
  // unusable, training starts over, and then from these weights.
  const auto start = std::chrono::steady_clock::now();
  tensor::TensorMap inherited;
  std::string error;
  if (!train::InheritSubnet(supernet, choices, data, inherit, &inherited,
                            &error)) {
    return TorchFailure("inheriting weights failed", error);
  }
  const double inherit_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  train::TrainOptions o = TrainOptionsOf(a.task().fine_tune(), a,
                                         options_.device, options_.num_threads);
  o.initial_weights = &inherited;
  o.evaluate_test = false;  // a score is an estimate, ranked by validation
  const space::NetworkSpec network =
      train::SupernetSearchSpace(supernet).Network(choices,
                                                   train::DatasetShape(data));
  absl::StatusOr<train::TrainResult> trained =
      TrainResumably(a, network, data, o, states_, on_epoch);
  if (!trained.ok()) return trained.status();
  double latency_ms = 0;
  if (!trained->stopped &&
      !train::MeasureLatency(network, options_.device, &latency_ms, &error)) {
    return TorchFailure("latency measurement failed", error);
  }
  Evaluation evaluation;
  evaluation.stopped = trained->stopped;
  nas::v1::TrialMetrics& m = evaluation.metrics;
  m.set_val_accuracy(trained->val_accuracy);
  m.set_val_loss(trained->val_loss);
  m.set_params(trained->params);
  m.set_flops(trained->flops);
  if (!trained->stopped) m.set_latency_ms(latency_ms);
  // The trainer's seconds count a resumed attempt's earlier epochs too.
  m.set_train_seconds(inherit_seconds + trained->train_seconds);
  return evaluation;
}

absl::StatusOr<train::Supernet*> SupernetEstimator::Version(
    int64_t search_id, int64_t version, const train::SupernetSpace& space) {
  auto entry = std::find_if(
      cache_.begin(), cache_.end(),
      [&](const CachedVersion& c) { return c.search_id == search_id; });
  if (entry != cache_.end() && entry->version == version) {
    cache_.splice(cache_.begin(), cache_, entry);
    return cache_.front().supernet.get();
  }
  // The search's older version goes first, so that two banks of one search
  // never sit in memory together.
  if (entry != cache_.end()) cache_.erase(entry);
  absl::StatusOr<train::SupernetPtr> fetched = Fetch(search_id, version, space);
  if (!fetched.ok()) return fetched.status();
  cache_.push_front(CachedVersion{search_id, version, *std::move(fetched)});
  while (static_cast<int>(cache_.size()) >
         std::max(1, options_.cached_searches)) {
    cache_.pop_back();
  }
  return cache_.front().supernet.get();
}

absl::StatusOr<train::SupernetPtr> SupernetEstimator::Fetch(
    int64_t search_id, int64_t version, const train::SupernetSpace& space) {
  absl::StatusOr<std::string> bytes =
      checkpoints_->FetchSupernet(search_id, version);
  if (!bytes.ok()) return bytes.status();
  tensor::TensorMap tensors;
  std::string error;
  if (!tensor::Parse(*bytes, &tensors, &error)) {
    return absl::DataLossError(absl::StrCat(
        VersionName(search_id, version), " is not a tensor archive: ", error));
  }
  bytes->clear();
  bytes->shrink_to_fit();
  train::SupernetPtr supernet =
      train::SupernetFromTensors(space, tensors, &error);
  if (!supernet) {
    absl::Status torch = TorchFailure("loading", error);
    if (torch.code() == absl::StatusCode::kResourceExhausted) return torch;
    return absl::DataLossError(
        absl::StrCat(VersionName(search_id, version),
                     " does not fit this search's space: ", error));
  }
  return supernet;
}

}  // namespace nas::worker
