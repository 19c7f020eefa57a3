// nas_chaos: one search of many tiny MNIST trials on a private PostgreSQL,
// a controller and N workers (real processes on loopback), while workers are
// SIGKILLed at random every few seconds and restarted, the controller is
// SIGKILLed and restarted twice and PostgreSQL is restarted once. Then an
// audit of the trial rows. Prints the figures; exit status 0 iff the search
// completed and the audit passed. See README.md.
//
//   nas_chaos [--trials=500] [--workers=8] [--parallelism=12]
//             [--kill_every_ms=3000] [--lease_seconds=8] [--max_attempts=5]
//             [--data_fraction=0.02] [--timeout_s=900] [--seed=1]
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <exception>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/chaos/chaos_audit.h"
#include "common/spec/spec_yaml.h"
#include "grpcpp/client_context.h"
#include "tests/cluster.h"
#include "tests/local_postgres.h"

namespace nas::chaos {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::atomic<bool> g_interrupted{false};
void OnSignal(int) { g_interrupted.store(true); }

struct Options {
  int trials = 500;
  int workers = 8;
  // Above the worker count: a killed worker's trial stays in flight until
  // its lease expires, and the other workers should not idle meanwhile.
  int parallelism = 12;
  int kill_every_ms = 3000;
  int lease_seconds = 8;
  int max_attempts = 5;
  double data_fraction = 0.02;
  int timeout_s = 900;
  int seed = 1;
  // 1: the search uses weight sharing (trials are then its candidates,
  // besides rounds x shards shard trials and retrain_top_k retrainings).
  int weight_sharing = 0;
  int rounds = 4;
  int shards = 4;
  int steps_per_shard = 40;
  int retrain_top_k = 2;

  WeightSharingShape shape() const {
    if (weight_sharing == 0) return {};
    return {rounds, shards, retrain_top_k};
  }
  int total_trials() const { return trials + shape().extra_trials(); }
};

bool ParseFlags(int argc, char** argv, Options* o) {
  const std::map<std::string, int*> int_flags = {
      {"trials", &o->trials},
      {"workers", &o->workers},
      {"parallelism", &o->parallelism},
      {"kill_every_ms", &o->kill_every_ms},
      {"lease_seconds", &o->lease_seconds},
      {"max_attempts", &o->max_attempts},
      {"timeout_s", &o->timeout_s},
      {"seed", &o->seed},
      {"weight_sharing", &o->weight_sharing},
      {"rounds", &o->rounds},
      {"shards", &o->shards},
      {"steps_per_shard", &o->steps_per_shard},
      {"retrain_top_k", &o->retrain_top_k}};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) {
      std::fprintf(stderr, "bad argument %s (want --name=value)\n", argv[i]);
      return false;
    }
    const std::string name = arg.substr(2, eq - 2);
    const std::string value = arg.substr(eq + 1);
    try {
      if (auto it = int_flags.find(name); it != int_flags.end()) {
        *it->second = std::stoi(value);
      } else if (name == "data_fraction") {
        o->data_fraction = std::stod(value);
      } else {
        std::fprintf(stderr, "unknown flag --%s\n", name.c_str());
        return false;
      }
    } catch (const std::exception&) {
      std::fprintf(stderr, "--%s: not a number: %s\n", name.c_str(),
                   value.c_str());
      return false;
    }
  }
  if (o->trials < 1 || o->workers < 1 || o->parallelism < 1 ||
      o->kill_every_ms < 100 || o->lease_seconds < 1 || o->max_attempts < 1 ||
      o->timeout_s < 10 || !(o->data_fraction > 0 && o->data_fraction <= 1) ||
      o->weight_sharing < 0 || o->weight_sharing > 1 || o->rounds < 1 ||
      o->shards < 1 || o->steps_per_shard < 1 || o->retrain_top_k < 1 ||
      o->retrain_top_k > o->trials) {
    std::fprintf(stderr, "a flag is out of range\n");
    return false;
  }
  return true;
}

// A space with thousands of distinct architectures (the random strategy must
// not run out before `trials`), each a few thousand parameters.
std::string SpecYaml(const Options& o) {
  return "name: chaos\n"
         "seed: " + std::to_string(o.seed) + "\n"
         "dataset: {name: mnist, validation_fraction: 0.02}\n"
         "space:\n"
         "  chain:\n"
         "    stem_channels: 4\n"
         "    stages:\n"
         "      - {depths: [1, 2, 3], widths: [4, 8], ops: [conv3x3, ir_k3_e3, skip], stride: 2}\n"
         "      - {depths: [1, 2, 3], widths: [4, 8], ops: [conv3x3, ir_k3_e3, skip], stride: 2}\n"
         "strategy: random\n"
         "objectives: [{metric: val_accuracy, direction: maximize}]\n"
         "budget: {max_trials: " + std::to_string(o.trials) +
         ", parallelism: " + std::to_string(o.parallelism) +
         ", max_attempts: " + std::to_string(o.max_attempts) + "}\n"
         "training: {epochs: 1, data_fraction: " +
         std::to_string(o.data_fraction) +
         ", batch_size: 64, learning_rate: 0.05}\n" +
         (o.weight_sharing == 0
              ? std::string()
              : "estimation: {weight_sharing: {supernet: {rounds: " +
                    std::to_string(o.rounds) + ", shards_per_round: " +
                    std::to_string(o.shards) + ", steps_per_shard: " +
                    std::to_string(o.steps_per_shard) +
                    ", batch_size: 32}, candidates: "
                    "{bn_recalibration_batches: 2}, retrain_top_k: " +
                    std::to_string(o.retrain_top_k) + "}}\n");
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sleeps up to `d`, waking early on an interrupt.
void Nap(milliseconds d) {
  const auto until = Clock::now() + d;
  while (!g_interrupted.load() && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(
        milliseconds(100), until - Clock::now()));
  }
}

// Where the search stands, straight from the database, in one query.
struct Progress {
  bool reachable = false;
  bool completed = false;  // the search's state is COMPLETED
  int pending = 0, running = 0, done = 0, failed = 0;
};

Progress ReadProgress(const testing::TestDatabase& db, int64_t search_id) {
  const std::string sid = std::to_string(search_id);
  Progress p;
  try {
    std::istringstream row(db.QueryScalar(
        "SELECT (SELECT state FROM searches WHERE id = " + sid + ") || ' ' || "
        "count(*) FILTER (WHERE state = 'PENDING') || ' ' || "
        "count(*) FILTER (WHERE state = 'RUNNING') || ' ' || "
        "count(*) FILTER (WHERE state = 'COMPLETED') || ' ' || "
        "count(*) FILTER (WHERE state = 'FAILED') "
        "FROM trials WHERE search_id = " + sid));
    std::string state;
    p.reachable = static_cast<bool>(row >> state >> p.pending >> p.running >>
                                    p.done >> p.failed);
    p.completed = p.reachable && state == "COMPLETED";
  } catch (const std::exception&) {
    p.reachable = false;  // down or restarting
  }
  return p;
}

int Run(const Options& o) {
  const auto start = Clock::now();
  testing::LocalPostgres postgres;  // outlives the cluster
  std::string error;
  if (!postgres.Start(&error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  std::printf("postgres: %s (data %s)\n", postgres.url().c_str(),
              postgres.data_dir().c_str());
  // The cluster makes its scratch database through NAS_TEST_DATABASE_URL.
  setenv("NAS_TEST_DATABASE_URL", postgres.url().c_str(), 1);

  testing::ClusterOptions cluster_options;
  cluster_options.lease_seconds = o.lease_seconds;
  testing::Cluster cluster(cluster_options);
  if (!cluster.StartController()) {
    std::fprintf(stderr, "controller did not start\n%s", cluster.Logs().c_str());
    return 1;
  }
  cluster.StartWorkers(o.workers);
  std::vector<size_t> live;  // indexes into cluster.workers()
  for (int i = 0; i < o.workers; ++i) live.push_back(i);
  const std::string& log = cluster.controller()->log_path();
  std::printf("controller %s, %d workers, logs in %s\n",
              cluster.address().c_str(), o.workers,
              log.substr(0, log.rfind('/')).c_str());

  absl::StatusOr<nas::v1::SearchSpec> spec =
      spec::ParseSearchSpecYaml(SpecYaml(o));
  if (!spec.ok()) {
    std::fprintf(stderr, "spec: %s\n", spec.status().ToString().c_str());
    return 1;
  }
  nas::v1::CreateSearchRequest create;
  *create.mutable_spec() = *spec;
  nas::v1::Search search;
  {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + seconds(10));
    grpc::Status s = cluster.search().CreateSearch(&context, create, &search);
    if (!s.ok()) {
      std::fprintf(stderr, "CreateSearch: %s\n", s.error_message().c_str());
      return 1;
    }
  }
  const int64_t search_id = search.id();
  std::printf("search %lld: %d trials, parallelism %d, lease %ds\n",
              static_cast<long long>(search_id), o.trials, o.parallelism,
              o.lease_seconds);
  std::fflush(stdout);

  std::mt19937 rng(o.seed);
  std::uniform_int_distribution<int> kill_gap(o.kill_every_ms / 2,
                                              o.kill_every_ms * 3 / 2);
  int worker_kills = 0;
  int controller_kills = 0;
  int postgres_restarts = 0;
  // The big faults, at fractions of the trials finished.
  const int total = o.total_trials();
  const int controller_kill_at[2] = {total * 20 / 100, total * 70 / 100};
  const int postgres_restart_at = total * 45 / 100;

  const auto deadline = start + seconds(o.timeout_s);
  auto next_kill = Clock::now() + milliseconds(kill_gap(rng));
  auto next_report = Clock::now() + seconds(10);
  int finished = 0;
  bool completed = false;
  while (!g_interrupted.load() && Clock::now() < deadline) {
    const Progress progress = ReadProgress(cluster.db(), search_id);
    if (progress.reachable) finished = progress.done + progress.failed;
    if (progress.completed) {
      completed = true;
      break;
    }
    if (Clock::now() >= next_report && progress.reachable) {
      std::printf("[%5.0fs] completed %d failed %d running %d pending %d | "
                  "kills: workers %d controller %d postgres restarts %d\n",
                  SecondsSince(start), progress.done, progress.failed,
                  progress.running, progress.pending, worker_kills,
                  controller_kills, postgres_restarts);
      next_report = Clock::now() + seconds(10);
    }
    if (controller_kills < 2 && finished >= controller_kill_at[controller_kills]) {
      std::printf("[%5.0fs] SIGKILL controller (%d trials finished)\n",
                  SecondsSince(start), finished);
      cluster.controller()->Signal(SIGKILL);
      cluster.controller()->Wait(seconds(10));
      ++controller_kills;
      Nap(seconds(3));
      if (!cluster.StartController()) {
        std::fprintf(stderr, "controller did not restart\n");
        break;
      }
      std::printf("[%5.0fs] controller restarted\n", SecondsSince(start));
    }
    if (postgres_restarts < 1 && finished >= postgres_restart_at) {
      std::printf("[%5.0fs] stopping PostgreSQL (%d trials finished)\n",
                  SecondsSince(start), finished);
      std::fflush(stdout);
      if (!postgres.Stop(&error)) std::fprintf(stderr, "%s\n", error.c_str());
      Nap(seconds(5));
      if (!postgres.Start(&error)) {
        std::fprintf(stderr, "%s\n", error.c_str());
        break;
      }
      ++postgres_restarts;
      std::printf("[%5.0fs] PostgreSQL started again\n", SecondsSince(start));
    }
    if (Clock::now() >= next_kill) {
      const size_t pick =
          std::uniform_int_distribution<size_t>(0, live.size() - 1)(rng);
      testing::Subprocess& victim = *cluster.workers()[live[pick]];
      victim.Signal(SIGKILL);
      victim.Wait(seconds(10));
      ++worker_kills;
      cluster.StartWorkers(1);
      live[pick] = cluster.workers().size() - 1;
      next_kill = Clock::now() + milliseconds(kill_gap(rng));
    }
    std::fflush(stdout);
    Nap(milliseconds(250));
  }
  const double elapsed = SecondsSince(start);
  cluster.StopAll();
  // Finished results the controller refused (a newer attempt held the
  // trial): work thrown away, though never recorded twice.
  int refused_results = 0;
  for (const auto& worker : cluster.workers()) {
    const std::string log = worker->ReadLog();
    for (size_t at = log.find("result not recorded"); at != std::string::npos;
         at = log.find("result not recorded", at + 1)) {
      ++refused_results;
    }
  }

  std::printf("\n=== chaos run ===\n");
  if (g_interrupted.load()) std::printf("interrupted\n");
  if (!completed) std::printf("search did NOT complete within %ds\n", o.timeout_s);
  AuditResult audit;
  try {
    audit = Audit(cluster.db(), search_id, o.trials, /*epochs=*/1,
                  o.max_attempts, o.shape());
  } catch (const std::exception& e) {
    std::printf("audit query failed: %s\n", e.what());
    return 1;
  }
  std::printf("trials               %lld\n", static_cast<long long>(audit.trials));
  std::printf("completed / failed   %lld / %lld (other states %lld)\n",
              static_cast<long long>(audit.completed),
              static_cast<long long>(audit.failed),
              static_cast<long long>(audit.other_states));
  std::printf("max attempts         %lld (trials retried %lld, extra attempts %lld)\n",
              static_cast<long long>(audit.max_attempt),
              static_cast<long long>(audit.retried_trials),
              static_cast<long long>(audit.extra_attempts));
  std::printf("completed w/o epoch  %lld (progress report lost in an outage)\n",
              static_cast<long long>(audit.completed_without_epochs));
  std::printf("results refused      %d (finished after the lease moved on)\n",
              refused_results);
  std::printf("worker kills         %d (SIGKILL, %d workers kept alive)\n",
              worker_kills, o.workers);
  std::printf("controller kills     %d\n", controller_kills);
  std::printf("postgres restarts    %d\n", postgres_restarts);
  std::printf("elapsed              %.0f s\n", elapsed);
  for (const AuditCheck& check : audit.checks) {
    std::printf("audit %-4s %s (%s)\n", check.passed ? "ok" : "FAIL",
                check.name.c_str(), check.detail.c_str());
  }
  const bool passed = completed && audit.passed() && controller_kills == 2 &&
                      postgres_restarts == 1;
  std::printf("audit result         %s\n", passed ? "PASS" : "FAIL");
  return passed ? 0 : 1;
}

}  // namespace
}  // namespace nas::chaos

int main(int argc, char** argv) {
  nas::chaos::Options options;
  if (!nas::chaos::ParseFlags(argc, argv, &options)) return 2;
  // Interrupts end the run through the destructors, which stop every
  // process and the private PostgreSQL.
  signal(SIGINT, nas::chaos::OnSignal);
  signal(SIGTERM, nas::chaos::OnSignal);
  try {
    return nas::chaos::Run(options);
  } catch (const std::exception& e) {
    // Caught so that the stack unwinds: the destructors stop the processes
    // and the private PostgreSQL.
    std::fprintf(stderr, "nas_chaos: %s\n", e.what());
    return 1;
  }
}
