// How well cheap estimators rank the architectures of a chain space against
// stand-alone training at the search's budget. Torch only (builds with
// NAS_TRAIN_ONLY). See bench/ranking/README.md; run through run.sh.
//
//   ranking_bench --data_dir DIR --spec SPEC.yaml [--truth CSV] [--retrain]
//       [--estimators supernet,shards,reduced] [--supernet_steps 3200] ...
//
// 1. Ground truth: --truth_count architectures (SelectArchitectures), each
//    trained with TrainAndEvaluate at the spec's training budget and seed.
//    Rows already in --truth are reused; --retrain starts the file afresh.
// 2. Estimators, each scoring every ground-truth architecture by validation
//    accuracy: a supernet trained by one worker (TrainSupernetShard, scored
//    with ScoreSubnet after batch-norm recalibration) at each step count of
//    --supernet_steps; the same supernet trained as --shards shards per
//    round merged by tensor::WeightedAverage; the reduced-epoch estimate;
//    and the parameter count, for reference.
// 3. One table: Kendall tau-b and Spearman against the truth's test and
//    validation accuracy, seconds per candidate and the amortized cost ratio.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/ranking/ground_truth.h"
#include "bench/ranking/rank_correlation.h"
#include "bench/ranking/search_spec_lite.h"
#include "common/space/space.h"
#include "common/tensor/tensor_archive.h"
#include "worker/train/supernet.h"
#include "worker/train/trainer.h"
#include "worker/train/zero_cost.h"

namespace {

using Clock = std::chrono::steady_clock;
using nas::bench::TruthRow;

// Supernet training is amortized over this many candidates, as in
// bench/supernet/supernet_throughput.
constexpr double kAmortizedCandidates = 200;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "ranking_bench: %s\n", what.c_str());
  return 1;
}

std::vector<int> IntList(const std::string& text) {
  std::vector<int> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    out.push_back(std::stoi(item));
  }
  return out;
}

bool Has(const std::string& list, const std::string& item) {
  std::stringstream in(list);
  for (std::string x; std::getline(in, x, ',');) {
    if (x == item) return true;
  }
  return false;
}

struct Estimate {
  std::string name;
  std::vector<double> scores;      // parallel to the truth rows
  std::vector<double> neg_val_loss;  // supernets: -val loss, same images
  double seconds_per_candidate = 0;  // scoring (or training) one candidate
  double training_seconds = 0;       // shared training (supernets), else 0
  std::string note;
};

class Bench {
 public:
  Bench(std::map<std::string, std::string> flags, nas::bench::SpecLite spec,
        std::shared_ptr<const nas::train::Dataset> data,
        std::unique_ptr<nas::space::SearchSpace> space)
      : flags_(std::move(flags)),
        spec_(std::move(spec)),
        data_(std::move(data)),
        space_(std::move(space)),
        shape_(nas::train::DatasetShape(*data_)) {}

  // Loads the truth file and trains the architectures it lacks.
  bool GroundTruth(std::string* error) {
    const std::string& path = flags_["truth"];
    if (flags_["retrain"] == "true") std::remove(path.c_str());
    std::vector<TruthRow> stored;
    if (!nas::bench::ReadTruth(path, &stored, error)) return false;
    std::map<std::string, TruthRow> by_arch;
    for (const TruthRow& row : stored) by_arch[row.arch] = row;
    const auto selected = nas::bench::SelectArchitectures(
        *space_, shape_, std::stoi(flags_["truth_count"]),
        std::stoi(flags_["truth_pool"]), std::stoull(flags_["truth_seed"]));
    // Trained in a shuffled order, so that an interrupted run (rows are
    // appended as they finish) still covers the whole range of sizes.
    std::vector<size_t> order(selected.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(order.size()));
    std::vector<std::optional<TruthRow>> rows(selected.size());
    size_t done = 0;
    for (size_t i : order) {
      const std::string arch = space_->Render(selected[i]);
      auto it = by_arch.find(arch);
      if (it != by_arch.end()) {
        rows[i] = it->second;
        continue;
      }
      if (flags_["train_missing"] != "true") continue;
      nas::train::TrainOptions o = BaseTrainOptions();
      o.epochs = spec_.epochs;
      o.data_fraction = spec_.data_fraction;
      TruthRow row;
      row.arch = arch;
      row.choices = selected[i];
      nas::train::TrainResult result;
      const auto start = Clock::now();
      if (!nas::train::TrainAndEvaluate(space_->Network(selected[i], shape_),
                                        *data_, o, nullptr, &result, error)) {
        return false;
      }
      row.seconds = SecondsSince(start);
      row.params = result.params;
      row.flops = result.flops;
      row.val_accuracy = result.val_accuracy;
      row.test_accuracy = result.test_accuracy;
      if (!nas::bench::AppendTruthRow(path, row, error)) return false;
      std::fprintf(stderr, "truth %zu: %s val %.4f test %.4f (%.0f s)\n",
                   ++done, arch.c_str(), row.val_accuracy, row.test_accuracy,
                   row.seconds);
      rows[i] = row;
    }
    for (const auto& row : rows) {
      if (row) truth_.push_back(*row);
    }
    if (truth_.size() < 2) {
      *error = "fewer than 2 ground-truth rows in " + path;
      return false;
    }
    return true;
  }

  // One worker: for each step count of --supernet_steps, a fresh supernet
  // trained for that many steps in one shard (the whole schedule, see
  // --schedule), then scored.
  bool SupernetOneWorker(std::string* error) {
    for (int steps : IntList(flags_["supernet_steps"])) {
      auto supernet = NewSupernet(error);
      if (!supernet) return false;
      nas::train::ShardOptions o = ShardOptions(0, 1);
      o.steps = steps;
      o.seed = std::stoull(flags_["supernet_seed"]) * 1000;
      nas::train::ShardResult r;
      if (!nas::train::TrainSupernetShard(supernet.get(), *data_, o, nullptr,
                                          &r, error)) {
        return false;
      }
      Estimate e;
      e.name = "supernet, 1 worker, " + std::to_string(steps) + " steps";
      e.training_seconds = r.seconds;
      e.note = "steps/s " + Format(steps / r.seconds, "%.1f") +
               ", mean loss " + Format(r.train_loss, "%.3f");
      if (!ScoreAll(*supernet, &e, error)) return false;
      PushSupernet(e);
      if (!FineTuneAll(*supernet, e, error)) return false;
    }
    return true;
  }

  // For each fraction of --fine_tune_fractions: every architecture inherits
  // its subnet (batch norm recalibrated as for scoring), trains stand-alone
  // for one epoch on that fraction of the pool at --fine_tune_lr (cosine to
  // zero, the spec's batch and seed), and is ranked by the validation
  // accuracy after it, as SupernetEstimator::FineTune does for a search's
  // `candidates.fine_tune`. Validates on all held-out images, as the
  // service's fine-tuning does.
  bool FineTuneAll(const nas::train::Supernet& supernet, const Estimate& scored,
                   std::string* error) {
    if (flags_["fine_tune_fractions"].empty()) return true;
    std::stringstream list(flags_["fine_tune_fractions"]);
    for (std::string item; std::getline(list, item, ',');) {
      Estimate e;
      e.name = scored.name + ", fine-tuned 1 epoch on " + item +
               " of the data at lr " + flags_["fine_tune_lr"];
      e.training_seconds = scored.training_seconds;
      const nas::train::ScoreOptions inherit = ScoreOptionsOf();
      double seconds = 0;
      for (const TruthRow& row : truth_) {
        const auto start = Clock::now();
        nas::tensor::TensorMap inherited;
        if (!nas::train::InheritSubnet(supernet, row.choices, *data_, inherit,
                                       &inherited, error)) {
          return false;
        }
        nas::train::TrainOptions o = BaseTrainOptions();
        o.epochs = 1;
        o.data_fraction = std::stod(item);
        o.learning_rate = std::stod(flags_["fine_tune_lr"]);
        o.initial_weights = &inherited;
        o.evaluate_test = false;
        nas::train::TrainResult result;
        if (!nas::train::TrainAndEvaluate(space_->Network(row.choices, shape_),
                                          *data_, o, nullptr, &result, error)) {
          return false;
        }
        seconds += SecondsSince(start);
        e.scores.push_back(result.val_accuracy);
        e.neg_val_loss.push_back(-result.val_loss);
      }
      e.seconds_per_candidate = seconds / truth_.size();
      PushSupernet(e);
    }
    return true;
  }

  // Few-shot: one supernet per option of --few_shot_decision, each trained
  // by one worker on the paths that take its option, for the last value of
  // --supernet_steps divided among them (the same total steps); each
  // architecture is scored by the supernet of its option.
  bool SupernetFewShot(std::string* error) {
    const std::string& name = flags_["few_shot_decision"];
    const std::vector<nas::space::Decision>& decisions = space_->decisions();
    size_t d = 0;
    while (d < decisions.size() && decisions[d].name != name) ++d;
    if (d == decisions.size()) {
      *error = "--few_shot_decision: the space has no decision " + name;
      return false;
    }
    const int options = static_cast<int>(decisions[d].options.size());
    const int total = IntList(flags_["supernet_steps"]).back();
    std::vector<nas::train::SupernetPtr> supernets;
    double train_seconds = 0;
    for (int k = 0; k < options; ++k) {
      auto supernet = NewSupernet(error);
      if (!supernet) return false;
      nas::train::ShardOptions o = ShardOptions(0, 1);
      o.steps = total / options;
      o.seed = std::stoull(flags_["supernet_seed"]) * 1000 + k;
      o.fixed_choices.assign(decisions.size(), -1);
      o.fixed_choices[d] = k;
      nas::train::ShardResult r;
      if (!nas::train::TrainSupernetShard(supernet.get(), *data_, o, nullptr,
                                          &r, error)) {
        return false;
      }
      train_seconds += r.seconds;
      supernets.push_back(std::move(supernet));
    }
    Estimate e;
    e.name = "few-shot supernet, one per " + name + ", " +
             std::to_string(total) + " steps in all";
    e.training_seconds = train_seconds;
    if (!ScoreEach(
            [&](const TruthRow& row) -> const nas::train::Supernet& {
              return *supernets[row.choices[d]];
            },
            &e, error)) {
      return false;
    }
    PushSupernet(e);
    return true;
  }

  // --shards shards of --shard_steps each per round, merged by the images
  // they saw, until --supernet_steps (its last value) steps in all.
  bool SupernetSharded(std::string* error) {
    auto supernet = NewSupernet(error);
    if (!supernet) return false;
    const int shards = std::stoi(flags_["shards"]);
    const int shard_steps = std::stoi(flags_["shard_steps"]);
    const int total = IntList(flags_["supernet_steps"]).back();
    const int rounds = std::max(1, total / (shards * shard_steps));
    const nas::train::SupernetSpace def = Definition();
    double train_seconds = 0;
    for (int round = 0; round < rounds; ++round) {
      const nas::tensor::TensorMap start =
          nas::train::SupernetTensors(*supernet);
      std::vector<nas::tensor::TensorMap> results(shards);
      std::vector<double> weights;
      for (int k = 0; k < shards; ++k) {
        auto shard = nas::train::SupernetFromTensors(def, start, error);
        if (!shard) return false;
        nas::train::ShardOptions o = ShardOptions(
            static_cast<double>(round) / rounds,
            static_cast<double>(round + 1) / rounds);
        o.steps = shard_steps;
        o.shard_index = k;
        o.num_shards = shards;
        o.seed = std::stoull(flags_["supernet_seed"]) * 1000 + 7919 +
                 round * shards + k;
        nas::train::ShardResult r;
        if (!nas::train::TrainSupernetShard(shard.get(), *data_, o, nullptr, &r,
                                            error)) {
          return false;
        }
        train_seconds += r.seconds;
        results[k] = nas::train::SupernetTensors(*shard);
        weights.push_back(static_cast<double>(r.images));
      }
      std::vector<const nas::tensor::TensorMap*> archives;
      for (const auto& m : results) archives.push_back(&m);
      nas::tensor::TensorMap merged;
      if (!nas::tensor::WeightedAverage(archives, weights, &merged, error)) {
        return false;
      }
      supernet = nas::train::SupernetFromTensors(def, merged, error);
      if (!supernet) return false;
    }
    Estimate e;
    e.name = "supernet, " + std::to_string(shards) + " shards x " +
             std::to_string(rounds) + " rounds, " +
             std::to_string(rounds * shards * shard_steps) + " steps";
    e.training_seconds = train_seconds;
    e.note = std::to_string(shard_steps) + " steps per shard";
    if (!ScoreAll(*supernet, &e, error)) return false;
    PushSupernet(e);
    return true;
  }

  bool ReducedEpoch(std::string* error) {
    Estimate e;
    e.name = "reduced-epoch (" + flags_["reduced_epochs"] + " epoch, " +
             flags_["reduced_fraction"] + " of the data)";
    double seconds = 0;
    for (const TruthRow& row : truth_) {
      nas::train::TrainOptions o = BaseTrainOptions();
      o.epochs = std::stoi(flags_["reduced_epochs"]);
      o.data_fraction = std::stod(flags_["reduced_fraction"]);
      nas::train::TrainResult result;
      const auto start = Clock::now();
      if (!nas::train::TrainAndEvaluate(space_->Network(row.choices, shape_),
                                        *data_, o, nullptr, &result, error)) {
        return false;
      }
      seconds += SecondsSince(start);
      e.scores.push_back(result.val_accuracy);
    }
    e.seconds_per_candidate = seconds / truth_.size();
    reduced_seconds_ = e.seconds_per_candidate;
    estimates_.push_back(e);
    return true;
  }

  // synflow and grad_norm at initialization (--zero_cost_seed), grad_norm
  // on one batch of --zero_cost_batch training images.
  bool ZeroCost(std::string* error) {
    nas::train::ZeroCostOptions o;
    o.seed = std::stoull(flags_["zero_cost_seed"]);
    o.device = flags_["device"];
    o.num_threads = std::stoi(flags_["threads"]);
    nas::train::ZeroCostBatch batch;
    if (!nas::train::TrainingBatch(*data_, std::stoll(flags_["zero_cost_batch"]),
                                   spec_.validation_fraction, o.seed, &batch,
                                   error)) {
      return false;
    }
    Estimate synflow, grad_norm;
    synflow.name = "zero-cost: synflow (data-free)";
    grad_norm.name = "zero-cost: grad_norm (" + flags_["zero_cost_batch"] +
                     " training images)";
    double synflow_seconds = 0, grad_norm_seconds = 0;
    for (const TruthRow& row : truth_) {
      const nas::space::NetworkSpec spec = space_->Network(row.choices, shape_);
      double score = 0;
      auto start = Clock::now();
      if (!nas::train::SynflowScore(spec, o, &score, error)) return false;
      synflow_seconds += SecondsSince(start);
      synflow.scores.push_back(score);
      start = Clock::now();
      if (!nas::train::GradNormScore(spec, batch, o, &score, error)) {
        return false;
      }
      grad_norm_seconds += SecondsSince(start);
      grad_norm.scores.push_back(score);
    }
    synflow.seconds_per_candidate = synflow_seconds / truth_.size();
    grad_norm.seconds_per_candidate = grad_norm_seconds / truth_.size();
    estimates_.push_back(synflow);
    estimates_.push_back(grad_norm);
    return true;
  }

  void ParameterCount() {
    Estimate e;
    e.name = "parameter count (reference, free)";
    for (const TruthRow& row : truth_) {
      e.scores.push_back(static_cast<double>(row.params));
    }
    estimates_.push_back(e);
  }

  void Print() const {
    std::vector<double> test, val;
    for (const TruthRow& row : truth_) {
      test.push_back(row.test_accuracy);
      val.push_back(row.val_accuracy);
    }
    std::printf(
        "%zu architectures; truth: stand-alone, %d epochs on %.0f%% of the "
        "training pool, batch %d, lr %g, seed %llu\n\n",
        truth_.size(), spec_.epochs, spec_.data_fraction * 100,
        spec_.batch_size, spec_.learning_rate,
        static_cast<unsigned long long>(spec_.seed));
    std::printf(
        "| estimator (its val accuracy) | tau vs test | tau vs val | "
        "Spearman vs test | Spearman vs val | s/candidate | ratio | notes |\n"
        "|---|---|---|---|---|---|---|---|\n");
    for (const Estimate& e : estimates_) {
      const double per_candidate =
          e.seconds_per_candidate + e.training_seconds / kAmortizedCandidates;
      // Cost per candidate against the reduced-epoch estimate's, when that
      // ran in this invocation (times of other runs are not comparable).
      std::string ratio = "-";
      if (reduced_seconds_ > 0 && per_candidate > 0) {
        ratio = Format(per_candidate / reduced_seconds_, "%.3f");
      }
      std::string cost = Format(per_candidate, "%.3f");
      if (e.training_seconds > 0) {
        cost += " (" + Format(e.training_seconds, "%.0f") + " s training / " +
                Format(kAmortizedCandidates, "%.0f") + " + " +
                Format(e.seconds_per_candidate, "%.3f") + " scoring)";
      }
      std::printf("| %s | %.3f | %.3f | %.3f | %.3f | %s | %s | %s |\n",
                  e.name.c_str(), nas::bench::KendallTau(e.scores, test),
                  nas::bench::KendallTau(e.scores, val),
                  nas::bench::Spearman(e.scores, test),
                  nas::bench::Spearman(e.scores, val), cost.c_str(),
                  ratio.c_str(), e.note.c_str());
    }
    std::printf(
        "| truth val accuracy (noise floor of the truth) | %.3f | 1 | %.3f "
        "| 1 | | | |\n",
        nas::bench::KendallTau(val, test), nas::bench::Spearman(val, test));
  }

  bool WriteEstimates(const std::string& path, std::string* error) const {
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
      *error = "cannot write " + path;
      return false;
    }
    std::fprintf(f, "arch,truth_val,truth_test");
    for (const Estimate& e : estimates_) std::fprintf(f, ",\"%s\"", e.name.c_str());
    std::fprintf(f, "\n");
    for (size_t i = 0; i < truth_.size(); ++i) {
      std::fprintf(f, "\"%s\",%.4f,%.4f", truth_[i].arch.c_str(),
                   truth_[i].val_accuracy, truth_[i].test_accuracy);
      for (const Estimate& e : estimates_) std::fprintf(f, ",%.6g", e.scores[i]);
      std::fprintf(f, "\n");
    }
    std::fclose(f);
    return true;
  }

 private:
  static std::string Format(double x, const char* format) {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, format, x);
    return buffer;
  }

  nas::train::SupernetSpace Definition() const {
    return nas::train::SupernetSpace{spec_.chain, shape_};
  }

  nas::train::SupernetPtr NewSupernet(std::string* error) const {
    return nas::train::CreateSupernet(
        Definition(), std::stoull(flags_.at("supernet_seed")), error);
  }

  nas::train::TrainOptions BaseTrainOptions() const {
    nas::train::TrainOptions o;
    o.batch_size = spec_.batch_size;
    o.learning_rate = spec_.learning_rate;
    o.validation_fraction = spec_.validation_fraction;
    o.seed = spec_.seed;
    o.device = flags_.at("device");
    o.num_threads = std::stoi(flags_.at("threads"));
    return o;
  }

  // A shard covering [from, to] of the training's learning-rate schedule
  // (--schedule cosine, as the controller plans it; constant ignores them).
  nas::train::ShardOptions ShardOptions(double from, double to) const {
    nas::train::ShardOptions o;
    o.batch_size = spec_.batch_size;
    o.learning_rate = std::stod(flags_.at("supernet_lr"));
    if (flags_.at("schedule") == "cosine") {
      o.schedule_from = from;
      o.schedule_to = to;
    }
    o.fair_paths = flags_.at("fair_paths") == "true";
    o.sandwich = flags_.at("sandwich") == "true";
    o.validation_fraction = spec_.validation_fraction;
    o.device = flags_.at("device");
    o.num_threads = std::stoi(flags_.at("threads"));
    return o;
  }

  nas::train::ScoreOptions ScoreOptionsOf() const {
    nas::train::ScoreOptions o;
    o.bn_recalibration_batches = std::stoi(flags_.at("bn_batches"));
    o.batch_size = spec_.batch_size;
    o.validation_fraction = spec_.validation_fraction;
    o.max_validation_images = std::stoll(flags_.at("max_val_images"));
    o.seed = std::stoull(flags_.at("supernet_seed"));
    o.device = flags_.at("device");
    o.num_threads = std::stoi(flags_.at("threads"));
    return o;
  }

  // A supernet estimate, and the same scores ranked by validation loss
  // instead of accuracy (a continuous measure of the same images).
  void PushSupernet(const Estimate& e) {
    estimates_.push_back(e);
    Estimate by_loss = e;
    by_loss.name += ", ranked by -val loss";
    by_loss.scores = e.neg_val_loss;
    estimates_.push_back(by_loss);
  }

  bool ScoreAll(const nas::train::Supernet& supernet, Estimate* e,
                std::string* error) const {
    return ScoreEach(
        [&](const TruthRow&) -> const nas::train::Supernet& { return supernet; },
        e, error);
  }

  // Scores every truth row with inherited weights from supernet_of(row).
  bool ScoreEach(
      const std::function<const nas::train::Supernet&(const TruthRow&)>&
          supernet_of,
      Estimate* e, std::string* error) const {
    const nas::train::ScoreOptions o = ScoreOptionsOf();
    double seconds = 0;
    for (const TruthRow& row : truth_) {
      nas::train::ScoreResult r;
      const auto start = Clock::now();
      if (!nas::train::ScoreSubnet(supernet_of(row), row.choices, *data_, o,
                                   &r, error)) {
        return false;
      }
      seconds += SecondsSince(start);
      e->scores.push_back(r.val_accuracy);
      e->neg_val_loss.push_back(-r.val_loss);
    }
    e->seconds_per_candidate = seconds / truth_.size();
    return true;
  }

  std::map<std::string, std::string> flags_;
  nas::bench::SpecLite spec_;
  std::shared_ptr<const nas::train::Dataset> data_;
  std::unique_ptr<nas::space::SearchSpace> space_;
  nas::space::InputShape shape_;
  std::vector<TruthRow> truth_;
  std::vector<Estimate> estimates_;
  double reduced_seconds_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"data_dir", "data"},
      {"spec", "examples/demo_fashion_mnist_from_scratch.yaml"},
      {"dataset", ""},  // default: the spec's
      {"truth", "bench/ranking/ground_truth.csv"},
      {"truth_count", "30"},
      {"truth_pool", "4000"},
      {"truth_seed", "1"},
      {"retrain", "false"},
      {"train_missing", "true"},  // false: rank only the rows stored
      {"estimators",
       "supernet,shards,reduced,zero_cost"},  // or "none": truth only
      {"supernet_steps", "3200"},             // comma list: score after each
      {"supernet_lr", "0.05"},
      {"schedule", "cosine"},   // or constant (supernet_lr throughout)
      {"fair_paths", "false"},  // true: FairNAS queues (ShardOptions)
      {"sandwich", "false"},    // true: the sandwich rule (ShardOptions)
      {"supernet_seed", "1"},
      {"shards", "4"},
      {"few_shot_decision", "stage2.depth"},  // --estimators few_shot
      {"shard_steps", "200"},
      {"bn_batches", "20"},
      // Comma list of data fractions: after the one-worker supernet's
      // scores, the same candidates fine-tuned from inherited weights for
      // one epoch on each fraction (FineTuneAll). Empty: none.
      {"fine_tune_fractions", ""},
      {"fine_tune_lr", "0.01"},
      {"max_val_images", "0"},
      {"reduced_epochs", "1"},
      {"reduced_fraction", "0.25"},
      {"device", "cpu"},
      {"threads", "1"},
      {"zero_cost_seed", "1"},
      {"zero_cost_batch", "64"},
      {"estimates_out", ""}};
  for (int i = 1; i < argc; ++i) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || flags.count(key.substr(2)) == 0) {
      return Fail("unknown option " + key + "; options: see ranking_bench.cc");
    }
    key = key.substr(2);
    if (key == "retrain" && (i + 1 == argc || argv[i + 1][0] == '-')) {
      flags[key] = "true";
      continue;
    }
    if (i + 1 == argc) return Fail("--" + key + " needs a value");
    flags[key] = argv[++i];
  }
  std::string error;
  nas::bench::SpecLite spec;
  if (!nas::bench::ReadSpecLite(flags["spec"], &spec, &error)) return Fail(error);
  if (flags["dataset"].empty()) flags["dataset"] = spec.dataset;
  auto data =
      nas::train::LoadDataset(flags["dataset"], flags["data_dir"], &error);
  if (!data) return Fail(error);
  auto space = nas::space::MakeChainSpace(spec.chain, &error);
  if (!space) return Fail("spec: " + error);

  Bench bench(flags, spec, data, std::move(space));
  if (!bench.GroundTruth(&error)) return Fail(error);
  const std::string& estimators = flags["estimators"];
  if (Has(estimators, "supernet") && !bench.SupernetOneWorker(&error)) {
    return Fail(error);
  }
  if (Has(estimators, "shards") && !bench.SupernetSharded(&error)) {
    return Fail(error);
  }
  if (Has(estimators, "few_shot") && !bench.SupernetFewShot(&error)) {
    return Fail(error);
  }
  if (Has(estimators, "reduced") && !bench.ReducedEpoch(&error)) {
    return Fail(error);
  }
  if (Has(estimators, "zero_cost") && !bench.ZeroCost(&error)) {
    return Fail(error);
  }
  bench.ParameterCount();
  bench.Print();
  if (!flags["estimates_out"].empty() &&
      !bench.WriteEstimates(flags["estimates_out"], &error)) {
    return Fail(error);
  }
  return 0;
}
