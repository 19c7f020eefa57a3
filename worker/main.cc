// nas-worker: pulls trials from the controller, trains them with LibTorch on
// this machine's CPU or GPU (or, with --table, looks NAS-Bench-201 cells up
// in a benchmark table), and reports metrics. Flags fall back to
// environment variables so containers can configure it either way.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "common/client/channel.h"
#include "common/env_defaults.h"
#include "common/release_mutexes.h"
#include "spdlog/spdlog.h"
#include "worker/checkpoint_client.h"
#include "worker/dataset_cache.h"
#include "worker/routing_estimator.h"
#include "worker/supernet_estimator.h"
#include "worker/tabular_estimator.h"
#include "worker/torch_estimator.h"
#include "worker/train/trainer.h"
#include "worker/worker_loop.h"
#include "worker/zero_cost_estimator.h"

using nas::EnvBoolOr;
using nas::EnvDoubleOr;
using nas::EnvIntOr;
using nas::EnvOr;

namespace {

int64_t HostMemoryBytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemTotal:") return kib * 1024;
    meminfo.ignore(256, '\n');
  }
  return 0;
}

// Total memory of CUDA device `index` as nvidia-smi reports it; 0 when it
// cannot be known (no driver tools), which the controller accepts.
int64_t CudaMemoryBytes(int index) {
  const std::string command =
      "nvidia-smi --query-gpu=memory.total --format=csv,noheader,nounits -i " +
      std::to_string(index) + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return 0;
  char line[64] = {};
  const bool read = fgets(line, sizeof(line), pipe) != nullptr;
  pclose(pipe);
  int64_t mib = 0;
  return read && absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &mib)
             ? mib * 1024 * 1024
             : 0;
}

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

// gRPC's default reconnect backoff grows to two minutes, longer than a
// lease: after a controller restart the worker would miss its lease while
// the channel sleeps. Cap it at a couple of seconds.
absl::StatusOr<std::shared_ptr<grpc::Channel>> ReconnectingChannel(
    const std::string& target, const nas::client::ChannelSecurity& security) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 2000);
  return nas::client::MakeChannel(target, security, args);
}

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

}  // namespace

ABSL_FLAG(std::string, controller, EnvOr("NAS_CONTROLLER", "127.0.0.1:50051"),
          "controller address (env NAS_CONTROLLER)");
ABSL_FLAG(std::string, device, EnvOr("NAS_DEVICE", "auto"),
          "auto, cpu or cuda:N (env NAS_DEVICE)");
ABSL_FLAG(std::string, data_dir, EnvOr("NAS_DATA_DIR", "data"),
          "folder holding fashion_mnist/, mnist/, cifar10/ (env NAS_DATA_DIR)");
ABSL_FLAG(int, threads, EnvIntOr("NAS_WORKER_THREADS", 0),
          "CPU threads for LibTorch; 0 keeps its default (env "
          "NAS_WORKER_THREADS)");
ABSL_FLAG(bool, cuda_graphs, EnvBoolOr("NAS_CUDA_GRAPHS", true),
          "on a CUDA device, train with the fast step: the whole step as "
          "one CUDA graph, one flat optimizer update, channels last, cuDNN "
          "autotuning, in float32 (bench/training); false: the plain eager "
          "step");
ABSL_FLAG(std::string, table, EnvOr("NAS_TABLE", ""),
          "evaluate NAS-Bench-201 cells by looking them up in this table "
          "(arch,cifar10_test_acc_200ep CSV) instead of training them "
          "(env NAS_TABLE)");
ABSL_FLAG(double, table_noise, EnvDoubleOr("NAS_TABLE_NOISE", 0),
          "with --table: standard deviation, in accuracy percentage points, "
          "of the Gaussian noise added to each validation accuracy (env "
          "NAS_TABLE_NOISE)");
ABSL_FLAG(bool, plaintext, EnvBoolOr("NAS_PLAINTEXT", false),
          "connect without TLS (env NAS_PLAINTEXT)");
ABSL_FLAG(std::string, tls_ca, EnvOr("NAS_TLS_CA", ""),
          "PEM CA certificates that verify the controller; empty: the "
          "system's roots (env NAS_TLS_CA)");
ABSL_FLAG(std::string, tls_cert, EnvOr("NAS_CLIENT_TLS_CERT", ""),
          "PEM client certificate, for a controller that requires mutual "
          "TLS (env NAS_CLIENT_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, EnvOr("NAS_CLIENT_TLS_KEY", ""),
          "PEM private key of --tls_cert (env NAS_CLIENT_TLS_KEY)");
ABSL_FLAG(std::string, token_file, EnvOr("NAS_TOKEN_FILE", ""),
          "file holding this worker's token (env NAS_TOKEN_FILE; without "
          "it the token comes from env NAS_TOKEN)");
ABSL_FLAG(std::string, name, EnvOr("NAS_WORKER_NAME", ""),
          "a stable name for this worker in logs and the workers table, at "
          "most 256 bytes; default HOST/DEVICE, e.g. gpu-box-3/cuda:0 (env "
          "NAS_WORKER_NAME)");
ABSL_FLAG(int, fault_backoff_seconds, EnvIntOr("NAS_FAULT_BACKOFF_SECONDS", 5),
          "after a worker fault (data missing, out of memory, no CUDA), wait "
          "this long before asking for work, doubled for each further fault "
          "in a row up to 5 minutes (env NAS_FAULT_BACKOFF_SECONDS)");
ABSL_FLAG(int, max_trials, 0, "exit after this many trials (0: never)");
ABSL_FLAG(int, acquire_wait_ms, 10000,
          "how long one request for work waits on the controller");

int main(int argc, char** argv) {
  nas::UseReleaseMutexes();
  absl::SetProgramUsageMessage(
      "Runs a NAS worker that trains candidate architectures (or looks "
      "NAS-Bench-201 cells up in a table).\n"
      "  nas-worker --controller=HOST:PORT --device=auto --data_dir=data\n"
      "  nas-worker --controller=HOST:PORT --table=nb201_cifar10.csv\n"
      "Security: --tls_ca=F [--tls_cert=F --tls_key=F] --token_file=F, or "
      "--plaintext; see docs/security.md.");
  absl::ParseCommandLine(argc, argv);
  // A boolean NAS_* variable that does not parse would otherwise leave its
  // flag at the default without a word: every EnvBoolOr name above.
  if (absl::Status env = nas::CheckEnvBools({"NAS_PLAINTEXT"}); !env.ok()) {
    spdlog::error("{}", std::string(env.message()));
    return 2;
  }

  std::string error;
  const std::string device =
      nas::train::ResolveDevice(absl::GetFlag(FLAGS_device), &error);
  if (device.empty()) {
    spdlog::error("--device: {}", error);
    return 2;
  }
  if (absl::GetFlag(FLAGS_threads) < 0 || absl::GetFlag(FLAGS_max_trials) < 0 ||
      absl::GetFlag(FLAGS_acquire_wait_ms) < 0 ||
      absl::GetFlag(FLAGS_acquire_wait_ms) > 30000 ||
      absl::GetFlag(FLAGS_fault_backoff_seconds) < 0 ||
      absl::GetFlag(FLAGS_name).size() > 256) {
    spdlog::error(
        "--threads, --max_trials and --fault_backoff_seconds must be >= 0, "
        "--acquire_wait_ms in [0, 30000], --name at most 256 bytes");
    return 2;
  }

  nas::worker::WorkerOptions options;
  options.identity.set_host(HostName());
  // Stable across restarts, and distinct for each device of a host.
  const std::string name = absl::GetFlag(FLAGS_name);
  options.identity.set_name(name.empty() ? HostName() + "/" + device : name);
  options.fault_backoff =
      absl::Seconds(absl::GetFlag(FLAGS_fault_backoff_seconds));
  const bool cuda = device.rfind("cuda", 0) == 0;
  options.identity.set_device_type(cuda ? nas::v1::DEVICE_TYPE_CUDA
                                        : nas::v1::DEVICE_TYPE_CPU);
  options.identity.set_device_name(nas::train::DeviceName(device));
  options.identity.set_device_memory_bytes(
      cuda ? CudaMemoryBytes(std::atoi(device.c_str() + device.find(':') + 1))
           : HostMemoryBytes());
  options.acquire_wait = absl::Milliseconds(absl::GetFlag(FLAGS_acquire_wait_ms));
  options.max_trials = absl::GetFlag(FLAGS_max_trials);

  nas::client::ChannelSecurity security;
  security.plaintext = absl::GetFlag(FLAGS_plaintext);
  security.tls_ca = absl::GetFlag(FLAGS_tls_ca);
  security.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  security.tls_key = absl::GetFlag(FLAGS_tls_key);
  absl::StatusOr<std::string> token =
      nas::client::LoadToken(absl::GetFlag(FLAGS_token_file));
  if (!token.ok()) {
    spdlog::error("{}", std::string(token.status().message()));
    return 2;
  }
  security.token = *std::move(token);
  const std::string target = absl::GetFlag(FLAGS_controller);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      ReconnectingChannel(target, security);
  if (!channel.ok()) {
    spdlog::error("{}", std::string(channel.status().message()));
    return 2;
  }

  // Torch workers train (TRAIN, RETRAIN), run weight sharing
  // (SUPERNET_SHARD, SCORE_INHERITED) and zero-cost proxies (ZERO_COST) on
  // one shared set of data sets, and
  // fetch and upload checkpoints on the channel of their other calls; the
  // tabular worker only looks trials up.
  nas::worker::CheckpointClient checkpoints(*channel);
  std::unique_ptr<nas::worker::Estimator> tabular_estimator;
  std::unique_ptr<nas::worker::Estimator> torch_estimator;
  std::unique_ptr<nas::worker::Estimator> supernet_estimator;
  std::unique_ptr<nas::worker::Estimator> zero_cost_estimator;
  std::vector<nas::worker::EstimatorRoute> routes;
  if (const std::string table = absl::GetFlag(FLAGS_table); !table.empty()) {
    auto tabular = nas::worker::TabularEstimator::Load(
        table, absl::GetFlag(FLAGS_table_noise));
    if (!tabular.ok()) {
      spdlog::error("--table: {}", tabular.status().ToString());
      return 2;
    }
    spdlog::info("tabular estimator: {} architectures from {}, noise sigma {}",
                 (*tabular)->size(), table, (*tabular)->noise_sigma());
    tabular_estimator = std::move(*tabular);
    routes.push_back({{nas::v1::TRIAL_KIND_TRAIN, nas::v1::TRIAL_KIND_RETRAIN},
                      tabular_estimator.get()});
  } else {
    auto datasets = std::make_shared<nas::worker::DatasetCache>(
        absl::GetFlag(FLAGS_data_dir));
    nas::worker::TorchEstimatorOptions torch_options;
    torch_options.data_dir = absl::GetFlag(FLAGS_data_dir);
    torch_options.device = device;
    torch_options.num_threads = absl::GetFlag(FLAGS_threads);
    torch_options.fast_cuda_step = absl::GetFlag(FLAGS_cuda_graphs);
    torch_estimator = std::make_unique<nas::worker::TorchEstimator>(
        torch_options, datasets, &checkpoints);
    nas::worker::SupernetEstimatorOptions supernet_options;
    supernet_options.device = device;
    supernet_options.num_threads = absl::GetFlag(FLAGS_threads);
    supernet_estimator = std::make_unique<nas::worker::SupernetEstimator>(
        supernet_options, datasets, &checkpoints, &checkpoints);
    routes.push_back({{nas::v1::TRIAL_KIND_TRAIN, nas::v1::TRIAL_KIND_RETRAIN},
                      torch_estimator.get()});
    routes.push_back({{nas::v1::TRIAL_KIND_SUPERNET_SHARD,
                       nas::v1::TRIAL_KIND_SCORE_INHERITED},
                      supernet_estimator.get()});
    nas::worker::ZeroCostEstimatorOptions zero_cost_options;
    zero_cost_options.device = device;
    zero_cost_options.num_threads = absl::GetFlag(FLAGS_threads);
    zero_cost_estimator = std::make_unique<nas::worker::ZeroCostEstimator>(
        zero_cost_options, datasets);
    routes.push_back(
        {{nas::v1::TRIAL_KIND_ZERO_COST}, zero_cost_estimator.get()});
  }
  nas::worker::RoutingEstimator estimator(std::move(routes));

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  spdlog::info("nas-worker {} on {} ({}), controller {} ({}{})",
               options.identity.name(), device, options.identity.device_name(),
               target, security.plaintext ? "plaintext" : "TLS",
               security.token.empty() ? "" : ", with a token");
  nas::worker::WorkerLoop loop(*std::move(channel), &estimator, options,
                               &checkpoints);
  const int trials = loop.Run(g_stop);
  spdlog::info("exiting after {} trials", trials);
  // A refused registration (wrong token or role) is a configuration error;
  // say so to supervisors instead of looking like a clean exit.
  return loop.registered() || g_stop.load() ? 0 : 1;
}
