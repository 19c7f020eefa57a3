// controller_bench: how many trial lifecycles per second one controller
// serves. N fake workers (threads, each on its own gRPC channel, so its own
// HTTP/2 connection) run one random NAS-Bench-201 search of M trials through
// a real nas-controller: AcquireTrial, one ReportProgress, CompleteTrial,
// as cheap estimators (tables, zero-cost proxies, supernet scoring) do.
// Nothing is trained; the controller and its database are what is timed.
//
// Prints one JSON object: lifecycles/s over the whole search and over its
// first and last tenth (whether the cost grows with the history), client-
// side p50/p99 latency of each call, its own CPU per lifecycle, and from
// the controller's /metrics endpoint its CPU seconds, resident memory and
// where AcquireTrial's time went (nas_acquire_phase_seconds).
// bench/controller/run.sh runs it at several worker counts beside a pgbench
// baseline.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/client/channel.h"
#include "common/release_mutexes.h"
#include "grpcpp/grpcpp.h"
#include "httplib.h"
#include "nas/v1/search_service.grpc.pb.h"
#include "nas/v1/worker_service.grpc.pb.h"

ABSL_FLAG(std::string, controller, "127.0.0.1:50051", "controller address");
ABSL_FLAG(std::string, metrics, "",
          "HOST:PORT of the controller's --http_listen (for its CPU and "
          "memory); empty: not reported");
ABSL_FLAG(int, workers, 8,
          "concurrent fake workers; 0: none, the search is run by workers "
          "started elsewhere (e.g. nas-worker --table processes) and timed "
          "by polling its counts");
ABSL_FLAG(int, trials, 2000, "trials in the search");
ABSL_FLAG(std::string, space, "nb201",
          "the search's space: nb201 (5,260 distinct computations, so at "
          "most that many trials) or chain (six stages, about 2 billion "
          "architectures: long searches)");
ABSL_FLAG(int, parallelism, 0, "search parallelism; 0: the worker count");
ABSL_FLAG(std::string, label, "", "a name for this run in the output");
ABSL_FLAG(int, watchers, 0,
          "WatchSearch streams held open on the search while it runs (as "
          "nasctl watch does); reports how long after the search's last "
          "completion each stream ended");
ABSL_FLAG(bool, watch_batched, true,
          "watchers read WatchSearchBatched, several events to a message, "
          "as nasctl watch does; false: WatchSearch, one event each");
ABSL_FLAG(int, idle_workers, 0,
          "instead of a search: this many registered workers polling "
          "AcquireTrial with nothing to run, for --idle_seconds; reports the "
          "controller's CPU and memory while they wait");
ABSL_FLAG(int, idle_seconds, 30, "how long --idle_workers poll");
ABSL_FLAG(int, max_minutes, 10,
          "stop a search that has not completed after this long; the "
          "figures then cover the trials that completed, and the exit "
          "status is 1");

namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

// One scrape of the controller's /metrics: its CPU seconds and resident
// memory, and nas_acquire_phase_seconds by phase (where AcquireTrial's
// time goes on the server: lease queries, strategy steps, waits).
struct ControllerScrape {
  struct Histogram {
    std::map<double, double> cumulative;  // by upper bound, +Inf last
    double sum = 0;
    double count = 0;
  };
  double cpu = 0;
  double rss = 0;
  std::map<std::string, Histogram> acquire_phases;
};

// The value of label `name` in a series' label set `labels` ({a="x",...}).
std::string LabelValue(absl::string_view labels, absl::string_view name) {
  const std::string key = absl::StrCat(name, "=\"");
  const size_t at = labels.find(key);
  if (at == absl::string_view::npos) return "";
  const size_t from = at + key.size();
  return std::string(labels.substr(from, labels.find('"', from) - from));
}

// nullopt without --metrics or when the scrape fails.
std::optional<ControllerScrape> ScrapeController() {
  const std::string address = absl::GetFlag(FLAGS_metrics);
  if (address.empty()) return std::nullopt;
  const size_t colon = address.rfind(':');
  int port = 0;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port)) return std::nullopt;
  httplib::Client client(address.substr(0, colon), port);
  httplib::Result r = client.Get("/metrics");
  if (!r || r->status != 200) return std::nullopt;
  ControllerScrape scrape;
  constexpr absl::string_view kPhases = "nas_acquire_phase_seconds";
  for (absl::string_view line : absl::StrSplit(r->body, '\n')) {
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ');
    if (f.size() != 2) continue;
    double value = 0;
    if (!absl::SimpleAtod(f[1], &value)) continue;
    if (f[0] == "process_cpu_seconds_total") scrape.cpu = value;
    if (f[0] == "process_resident_memory_bytes") scrape.rss = value;
    if (!absl::StartsWith(f[0], kPhases)) continue;
    const size_t brace = f[0].find('{');
    if (brace == absl::string_view::npos) continue;
    const absl::string_view series = f[0].substr(0, brace);
    ControllerScrape::Histogram& h =
        scrape.acquire_phases[LabelValue(f[0].substr(brace), "phase")];
    if (series == absl::StrCat(kPhases, "_bucket")) {
      const std::string le = LabelValue(f[0].substr(brace), "le");
      double bound = std::numeric_limits<double>::infinity();
      if (le != "+Inf" && !absl::SimpleAtod(le, &bound)) continue;
      h.cumulative[bound] = value;
    } else if (series == absl::StrCat(kPhases, "_sum")) {
      h.sum = value;
    } else if (series == absl::StrCat(kPhases, "_count")) {
      h.count = value;
    }
  }
  return scrape;
}

// ", \"acquire_phases\": {...}": per phase, the mean and the upper bound of
// the bucket that holds the median and the 99th percentile of the calls
// between the two scrapes (-1: beyond the last bound), in milliseconds.
std::string AcquirePhasesJson(const ControllerScrape& before,
                              const ControllerScrape& after) {
  std::vector<std::string> phases;
  for (const auto& [phase, h] : after.acquire_phases) {
    auto was = before.acquire_phases.find(phase);
    const ControllerScrape::Histogram empty;
    const ControllerScrape::Histogram& b =
        was == before.acquire_phases.end() ? empty : was->second;
    const double calls = h.count - b.count;
    if (calls <= 0) continue;
    auto bound_ms = [&](double q) {
      for (const auto& [bound, cumulative] : h.cumulative) {
        auto before_bound = b.cumulative.find(bound);
        const double below =
            cumulative -
            (before_bound == b.cumulative.end() ? 0 : before_bound->second);
        if (below >= q * calls) {
          return std::isinf(bound) ? -1.0 : bound * 1000;
        }
      }
      return -1.0;
    };
    phases.push_back(absl::StrFormat(
        "\"%s\": {\"mean_ms\": %.2f, \"p50_le_ms\": %g, \"p99_le_ms\": %g}",
        phase, (h.sum - b.sum) * 1000 / calls, bound_ms(0.5), bound_ms(0.99)));
  }
  if (phases.empty()) return "";
  return absl::StrCat(", \"acquire_phases\": {", absl::StrJoin(phases, ", "),
                      "}");
}

// User and system CPU seconds of this process so far.
double OwnCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

struct Samples {
  std::vector<double> acquire_ms, progress_ms, complete_ms;
  std::vector<Clock::time_point> completed_at;
  int errors = 0;
};

std::shared_ptr<grpc::Channel> Channel(int index) {
  nas::client::ChannelSecurity security;
  security.plaintext = true;
  grpc::ChannelArguments args;
  // A distinct argument gives each worker its own connection, as separate
  // worker processes have.
  args.SetInt("nas.bench.worker", index);
  auto channel = nas::client::MakeChannel(absl::GetFlag(FLAGS_controller),
                                          security, args);
  if (!channel.ok()) {
    std::fprintf(stderr, "%s\n", std::string(channel.status().message()).c_str());
    std::exit(2);
  }
  return *channel;
}

void RunWorker(int index, int64_t search_id, const std::atomic<bool>* done,
               Samples* out) {
  auto stub = nas::v1::WorkerService::NewStub(Channel(index));
  std::string worker_id;
  {
    grpc::ClientContext context;
    nas::v1::RegisterWorkerRequest request;
    request.set_host(absl::StrCat("bench-", index));
    request.set_device_type(nas::v1::DEVICE_TYPE_CPU);
    nas::v1::RegisterWorkerResponse response;
    if (!stub->RegisterWorker(&context, request, &response).ok()) {
      ++out->errors;
      return;
    }
    worker_id = response.worker_id();
  }
  std::mt19937_64 rng(index);
  std::uniform_real_distribution<double> accuracy(0.5, 0.95);
  while (!done->load()) {
    nas::v1::AcquireTrialRequest acquire;
    acquire.set_worker_id(worker_id);
    acquire.set_wait_ms(500);
    nas::v1::AcquireTrialResponse leased;
    grpc::ClientContext acquire_context;
    Clock::time_point t0 = Clock::now();
    if (!stub->AcquireTrial(&acquire_context, acquire, &leased).ok()) {
      ++out->errors;
      continue;
    }
    if (!leased.has_assignment()) continue;  // none ready: waited, ask again
    out->acquire_ms.push_back(Ms(Clock::now() - t0));
    const nas::v1::TrialAssignment& a = leased.assignment();
    const double value = accuracy(rng);

    nas::v1::ReportProgressRequest progress;
    progress.set_worker_id(worker_id);
    progress.set_trial_id(a.trial_id());
    progress.set_attempt(a.attempt());
    progress.mutable_metrics()->set_epoch(1);
    progress.mutable_metrics()->set_val_accuracy(value);
    progress.mutable_metrics()->set_val_loss(1 - value);
    nas::v1::ReportProgressResponse progressed;
    grpc::ClientContext progress_context;
    t0 = Clock::now();
    if (!stub->ReportProgress(&progress_context, progress, &progressed).ok()) {
      ++out->errors;
    }
    out->progress_ms.push_back(Ms(Clock::now() - t0));

    nas::v1::CompleteTrialRequest complete;
    complete.set_worker_id(worker_id);
    complete.set_trial_id(a.trial_id());
    complete.set_attempt(a.attempt());
    complete.mutable_metrics()->set_val_accuracy(value);
    complete.mutable_metrics()->set_test_accuracy(value);
    nas::v1::CompleteTrialResponse completed;
    grpc::ClientContext complete_context;
    t0 = Clock::now();
    if (!stub->CompleteTrial(&complete_context, complete, &completed).ok()) {
      ++out->errors;
      continue;
    }
    const Clock::time_point now = Clock::now();
    out->complete_ms.push_back(Ms(now - t0));
    out->completed_at.push_back(now);
  }
}

// Follows the search's event stream to its end (search_done); *ended is when
// the stream closed.
void RunWatcher(int64_t search_id, Clock::time_point* ended, bool* ok) {
  auto stub = nas::v1::SearchService::NewStub(Channel(-2));
  grpc::ClientContext context;
  context.set_deadline(
      std::chrono::system_clock::now() +
      std::chrono::minutes(absl::GetFlag(FLAGS_max_minutes) + 1));
  nas::v1::WatchSearchRequest request;
  request.set_search_id(search_id);
  bool done = false;
  grpc::Status status;
  if (absl::GetFlag(FLAGS_watch_batched)) {
    auto reader = stub->WatchSearchBatched(&context, request);
    nas::v1::SearchEventBatch batch;
    while (reader->Read(&batch)) {
      for (const nas::v1::SearchEvent& event : batch.events()) {
        done = done || event.has_search_done();
      }
    }
    status = reader->Finish();
  } else {
    auto reader = stub->WatchSearch(&context, request);
    nas::v1::SearchEvent event;
    while (reader->Read(&event)) done = done || event.has_search_done();
    status = reader->Finish();
  }
  *ok = status.ok() && done;
  *ended = Clock::now();
}

// Registers `count` workers that ask for trials (wait 500 ms, as the fake
// workers do; nas-worker asks with its --acquire_wait_ms) for `seconds`
// while no search runs, and prints the controller's CPU and memory.
int RunIdleWorkers(int count, int seconds) {
  std::atomic<bool> done{false};
  std::atomic<int> registered{0}, polls{0}, errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      auto stub = nas::v1::WorkerService::NewStub(Channel(i));
      grpc::ClientContext context;
      nas::v1::RegisterWorkerRequest request;
      request.set_host(absl::StrCat("idle-", i));
      nas::v1::RegisterWorkerResponse response;
      if (!stub->RegisterWorker(&context, request, &response).ok()) {
        ++errors;
        return;
      }
      ++registered;
      while (!done.load()) {
        nas::v1::AcquireTrialRequest acquire;
        acquire.set_worker_id(response.worker_id());
        acquire.set_wait_ms(500);
        nas::v1::AcquireTrialResponse leased;
        grpc::ClientContext acquire_context;
        if (stub->AcquireTrial(&acquire_context, acquire, &leased).ok()) {
          ++polls;
        } else {
          ++errors;
        }
      }
    });
  }
  // Measured once every worker is connected and polling.
  while (registered.load() + errors.load() < count) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const std::optional<ControllerScrape> before = ScrapeController();
  const int polls_before = polls.load();
  std::this_thread::sleep_for(std::chrono::seconds(seconds));
  const std::optional<ControllerScrape> after = ScrapeController();
  const int polled = polls.load() - polls_before;
  done = true;
  for (std::thread& t : threads) t.join();
  std::printf(
      "{\"label\": \"%s\", \"idle_workers\": %d, \"registered\": %d, "
      "\"errors\": %d, \"seconds\": %d, \"polls_per_s\": %.1f, "
      "\"controller_cpu_cores\": %.3f, \"controller_rss_mb\": %.1f}\n",
      absl::GetFlag(FLAGS_label).c_str(), count, registered.load(),
      errors.load(), seconds, static_cast<double>(polled) / seconds,
      before && after ? (after->cpu - before->cpu) / seconds : -1.0,
      after ? after->rss / 1048576 : -1.0);
  return errors.load() == 0 ? 0 : 1;
}

// Lifecycles per second over completions [from, to) of the sorted times.
double Rate(const std::vector<Clock::time_point>& at, size_t from, size_t to) {
  if (to <= from + 1) return 0;
  const double seconds =
      std::chrono::duration<double>(at[to - 1] - at[from]).count();
  return seconds > 0 ? (to - from - 1) / seconds : 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Its clients stand for nas-worker and nasctl, which run so.
  nas::UseReleaseMutexes();
  absl::SetProgramUsageMessage(
      "controller_bench --controller=HOST:PORT [--metrics=HOST:PORT] "
      "[--workers=N] [--trials=M]; see bench/controller/README.md");
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_idle_workers) > 0) {
    return RunIdleWorkers(absl::GetFlag(FLAGS_idle_workers),
                          absl::GetFlag(FLAGS_idle_seconds));
  }
  const int workers = absl::GetFlag(FLAGS_workers);
  const int trials = absl::GetFlag(FLAGS_trials);
  const int parallelism = absl::GetFlag(FLAGS_parallelism) > 0
                              ? absl::GetFlag(FLAGS_parallelism)
                              : workers;

  auto search_stub = nas::v1::SearchService::NewStub(Channel(-1));
  nas::v1::CreateSearchRequest create;
  nas::v1::SearchSpec& spec = *create.mutable_spec();
  spec.set_name(absl::StrCat("controller-bench-", workers, "w"));
  spec.set_seed(1);
  spec.mutable_dataset()->set_name(nas::v1::DATASET_NAME_CIFAR10);
  if (absl::GetFlag(FLAGS_space) == "chain") {
    nas::v1::ChainSpace* chain = spec.mutable_space()->mutable_chain();
    chain->set_stem_channels(16);
    for (int i = 0; i < 6; ++i) {
      nas::v1::ChainStage* stage = chain->add_stages();
      for (int depth : {1, 2, 3}) stage->add_depths(depth);
      for (int width : {16, 32, 64}) stage->add_widths(width);
      for (const char* op : {"conv3x3", "conv5x5", "ir_k3_e3", "skip"}) {
        stage->add_ops(op);
      }
      stage->set_stride(i % 2 == 0 ? 1 : 2);
    }
  } else if (absl::GetFlag(FLAGS_space) == "nb201") {
    spec.mutable_space()->mutable_nb201();
  } else {
    std::fprintf(stderr, "--space: nb201 or chain, got %s\n",
                 absl::GetFlag(FLAGS_space).c_str());
    return 2;
  }
  spec.mutable_strategy()->mutable_random();
  auto* objective = spec.add_objectives();
  objective->set_metric("val_accuracy");
  objective->set_direction(nas::v1::DIRECTION_MAXIMIZE);
  spec.mutable_budget()->set_max_trials(trials);
  spec.mutable_budget()->set_parallelism(parallelism);
  spec.mutable_budget()->set_max_attempts(1);
  spec.mutable_training()->set_epochs(1);
  nas::v1::Search search;
  {
    grpc::ClientContext context;
    grpc::Status s = search_stub->CreateSearch(&context, create, &search);
    if (!s.ok()) {
      std::fprintf(stderr, "CreateSearch: %s\n", s.error_message().c_str());
      return 1;
    }
  }
  const std::optional<ControllerScrape> before = ScrapeController();
  std::atomic<bool> done{false};
  std::vector<Samples> samples(workers);
  std::vector<std::thread> threads;
  const Clock::time_point start = Clock::now();
  const double own_cpu_before = OwnCpuSeconds();
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back(RunWorker, i, search.id(), &done, &samples[i]);
  }
  const int watchers = absl::GetFlag(FLAGS_watchers);
  std::vector<Clock::time_point> watch_ended(watchers);
  std::unique_ptr<bool[]> watch_ok(new bool[watchers]());
  for (int i = 0; i < watchers; ++i) {
    threads.emplace_back(RunWatcher, search.id(), &watch_ended[i],
                         &watch_ok[i]);
  }
  // Until the search completes (polled), or --max_minutes. Without fake
  // workers the polled counts are the completion times.
  std::vector<Clock::time_point> polled_completions;
  while (Clock::now() - start <
         std::chrono::minutes(absl::GetFlag(FLAGS_max_minutes))) {
    // Fake workers time their own completions; this poll only sees the
    // end, and GetSearch counts the search's trials, a cost that grows
    // with it: once a second. Polled counts are the timings otherwise.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(workers > 0 ? 1000 : 100));
    grpc::ClientContext context;
    nas::v1::GetSearchRequest get;
    get.set_search_id(search.id());
    nas::v1::Search now;
    if (!search_stub->GetSearch(&context, get, &now).ok()) continue;
    const Clock::time_point at = Clock::now();
    while (polled_completions.size() <
           static_cast<size_t>(now.counts().completed())) {
      polled_completions.push_back(at);
    }
    if (now.state() != nas::v1::SEARCH_STATE_RUNNING) break;
  }
  done = true;
  for (std::thread& t : threads) t.join();
  const std::optional<ControllerScrape> after = ScrapeController();
  const double own_cpu = OwnCpuSeconds() - own_cpu_before;

  Samples all;
  for (Samples& s : samples) {
    all.acquire_ms.insert(all.acquire_ms.end(), s.acquire_ms.begin(),
                          s.acquire_ms.end());
    all.progress_ms.insert(all.progress_ms.end(), s.progress_ms.begin(),
                           s.progress_ms.end());
    all.complete_ms.insert(all.complete_ms.end(), s.complete_ms.begin(),
                           s.complete_ms.end());
    all.completed_at.insert(all.completed_at.end(), s.completed_at.begin(),
                            s.completed_at.end());
    all.errors += s.errors;
  }
  if (workers == 0) all.completed_at = polled_completions;
  std::sort(all.completed_at.begin(), all.completed_at.end());
  const size_t n = all.completed_at.size();
  const size_t tenth = std::max<size_t>(n / 10, 2);
  const double seconds =
      n > 0 ? std::chrono::duration<double>(all.completed_at.back() - start)
                  .count()
            : 0;
  // How long after the last lifecycle (when the search completed) the
  // slowest watcher's stream ended.
  std::string watch = "";
  if (watchers > 0 && n > 0) {
    double lag_ms = 0;
    int failed = 0;
    for (int i = 0; i < watchers; ++i) {
      lag_ms = std::max(lag_ms, Ms(watch_ended[i] - all.completed_at.back()));
      failed += !watch_ok[i];
    }
    watch = absl::StrFormat(
        ", \"watchers\": %d, \"watch_failed\": %d, "
        "\"watch_end_after_search_ms\": %.0f",
        watchers, failed, lag_ms);
  }
  // The fake workers share the machine: what they cost is CPU the
  // controller and the database did not have.
  std::string usage = absl::StrFormat(", \"bench_cpu_ms_per_lifecycle\": %.3f",
                                      n > 0 ? own_cpu * 1000 / n : 0);
  if (before && after) {
    const double cpu = after->cpu - before->cpu;
    usage += absl::StrFormat(
        ", \"controller_cpu_s\": %.2f, \"controller_cpu_ms_per_lifecycle\": "
        "%.3f, \"controller_rss_mb\": %.1f%s",
        cpu, n > 0 ? cpu * 1000 / n : 0, after->rss / 1048576,
        AcquirePhasesJson(*before, *after));
  }
  std::printf(
      "{\"label\": \"%s\", \"workers\": %d, \"trials\": %d, \"completed\": "
      "%zu, \"errors\": %d, \"seconds\": %.2f, \"lifecycles_per_s\": %.1f, "
      "\"first_tenth_per_s\": %.1f, \"last_tenth_per_s\": %.1f, "
      "\"acquire_p50_ms\": %.2f, \"acquire_p99_ms\": %.2f, "
      "\"progress_p50_ms\": %.2f, \"progress_p99_ms\": %.2f, "
      "\"complete_p50_ms\": %.2f, \"complete_p99_ms\": %.2f%s%s}\n",
      absl::GetFlag(FLAGS_label).c_str(), workers, trials, n, all.errors,
      seconds,
      seconds > 0 ? n / seconds : 0,
      n >= 2 * tenth ? Rate(all.completed_at, 0, tenth) : 0,
      n >= 2 * tenth ? Rate(all.completed_at, n - tenth, n) : 0, Quantile(all.acquire_ms, 0.5),
      Quantile(all.acquire_ms, 0.99), Quantile(all.progress_ms, 0.5),
      Quantile(all.progress_ms, 0.99), Quantile(all.complete_ms, 0.5),
      Quantile(all.complete_ms, 0.99), watch.c_str(), usage.c_str());
  return n == static_cast<size_t>(trials) ? 0 : 1;
}
