// Cost of weight sharing against a reduced-budget stand-alone estimate, on
// the demo's chain space, on one device. Torch only (builds with
// NAS_TRAIN_ONLY), so it runs on GPU machines without gRPC or PostgreSQL.
//
//   supernet_throughput DATA_DIR [--dataset fashion_mnist] [--device cpu]
//       [--shard_steps 200] [--candidates 20] [--baseline_candidates 2]
//       [--cache_modules 1]  (0: the reference path that rebuilds each step)
//       [--bn_batches 20] [--max_val_images 0]  (ScoreOptions)
//       [--shard_batch 128]  (small batches show the per-step overhead that
//                             dominates on a GPU)
//
// Prints one table: supernet shard steps/s, seconds to score one candidate
// with inherited weights, seconds of the reduced-budget estimate (1 epoch on
// 25% of the training pool), and the ratio of the two per candidate with the
// supernet's training (--supernet_steps in all) amortized over 200
// candidates. Figures are measured in the same run, so the ratio is
// comparable across machines; the absolute times are not.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/space/space.h"
#include "worker/train/supernet.h"
#include "worker/train/trainer.h"

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// The quickstart demo's space (examples/demo_fashion_mnist.yaml).
nas::space::ChainConfig DemoSpace() {
  nas::space::ChainConfig config;
  config.stem_channels = 16;
  config.stem_stride = 2;
  config.stages = {
      {{1, 2}, {16, 24}, {"conv3x3", "ir_k3_e3", "ir_k5_e3"}, 2},
      {{1, 2, 3},
       {32, 48},
       {"conv3x3", "ir_k3_e3", "ir_k3_e6", "ir_k5_e6", "skip"},
       2}};
  return config;
}

std::vector<int> RandomChoices(const nas::space::SearchSpace& space,
                               std::mt19937_64& rng) {
  std::vector<int> choices;
  for (const auto& d : space.decisions()) {
    choices.push_back(static_cast<int>(rng() % d.options.size()));
  }
  return choices;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "supernet_throughput: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    return Fail(
        "usage: supernet_throughput DATA_DIR [--dataset NAME] [--device D] "
        "[--shard_steps N] [--supernet_steps N] [--candidates N] "
        "[--baseline_candidates N] [--cache_modules 0|1] [--shard_batch N] "
        "[--bn_batches N] [--max_val_images N]");
  }
  std::map<std::string, std::string> flags = {
      {"dataset", "fashion_mnist"}, {"device", "cpu"},
      {"shard_steps", "200"},       {"supernet_steps", "3200"},
      {"candidates", "20"},         {"baseline_candidates", "2"},
      {"cache_modules", "1"},       {"shard_batch", "128"},
      {"bn_batches", "20"},         {"max_val_images", "0"}};
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string key = argv[i];
    if (key.rfind("--", 0) != 0 || flags.count(key.substr(2)) == 0) {
      return Fail("unknown option " + key);
    }
    flags[key.substr(2)] = argv[i + 1];
  }
  std::string error;
  auto data = nas::train::LoadDataset(flags["dataset"], argv[1], &error);
  if (!data) return Fail(error);
  const nas::space::InputShape shape = nas::train::DatasetShape(*data);
  const nas::train::SupernetSpace space{DemoSpace(), shape};
  auto supernet = nas::train::CreateSupernet(space, 1, &error);
  if (!supernet) return Fail(error);

  nas::train::ShardOptions shard;
  shard.steps = std::stoi(flags["shard_steps"]);
  shard.device = flags["device"];
  shard.seed = 1;
  shard.batch_size = std::stoi(flags["shard_batch"]);
  shard.cache_subnet_modules = flags["cache_modules"] != "0";
  nas::train::ShardResult shard_result;
  if (!nas::train::TrainSupernetShard(supernet.get(), *data, shard, nullptr,
                                      &shard_result, &error)) {
    return Fail(error);
  }
  const double steps_per_second = shard_result.steps / shard_result.seconds;

  const nas::space::SearchSpace& search_space =
      nas::train::SupernetSearchSpace(*supernet);
  std::mt19937_64 rng(5);
  nas::train::ScoreOptions score;
  score.device = flags["device"];
  score.bn_recalibration_batches = std::stoi(flags["bn_batches"]);
  score.max_validation_images = std::stoll(flags["max_val_images"]);
  const int candidates = std::stoi(flags["candidates"]);
  double score_seconds = 0;
  // The first score moves data to the device; time the rest.
  for (int i = 0; i <= candidates; ++i) {
    nas::train::ScoreResult result;
    const auto start = Clock::now();
    if (!nas::train::ScoreSubnet(*supernet, RandomChoices(search_space, rng),
                                 *data, score, &result, &error)) {
      return Fail(error);
    }
    if (i > 0) score_seconds += SecondsSince(start);
  }
  score_seconds /= candidates;

  nas::train::TrainOptions reduced;
  reduced.epochs = 1;
  reduced.data_fraction = 0.25;
  reduced.batch_size = 128;
  reduced.learning_rate = 0.05;
  reduced.device = flags["device"];
  const int baseline_candidates = std::stoi(flags["baseline_candidates"]);
  double baseline_seconds = 0;
  for (int i = 0; i < baseline_candidates; ++i) {
    nas::train::TrainResult result;
    const auto start = Clock::now();
    if (!nas::train::TrainAndEvaluate(
            search_space.Network(RandomChoices(search_space, rng), shape),
            *data, reduced, nullptr, &result, &error)) {
      return Fail(error);
    }
    baseline_seconds += SecondsSince(start);
  }
  baseline_seconds /= baseline_candidates;

  const double supernet_seconds =
      std::stod(flags["supernet_steps"]) / steps_per_second;
  const double per_candidate = score_seconds + supernet_seconds / 200;
  std::printf(
      "| device | shard steps/s (batch %s) | score s/candidate | "
      "reduced-epoch s/candidate | weight sharing s/candidate (%s supernet "
      "steps over 200) | ratio |\n|---|---|---|---|---|---|\n"
      "| %s | %.1f | %.3f | %.2f | %.3f | %.3f |\n",
      flags["shard_batch"].c_str(), flags["supernet_steps"].c_str(),
      shard_result.device.c_str(),
      steps_per_second, score_seconds, baseline_seconds, per_candidate,
      per_candidate / baseline_seconds);
  return 0;
}
