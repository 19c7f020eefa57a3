// The controller's HTTP endpoint against a real controller, PostgreSQL and
// workers: /metrics counters move exactly as trials are leased, finish,
// fail a fence or expire; workers' work is pushed through the controller
// under their names; HTTPS and token roles guard it as they guard gRPC; a
// plain-HTTP address off loopback is refused at startup.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "httplib.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "tests/test_certs.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kTablePath[] = NAS_NB201_TABLE;

constexpr char kSearch[] = R"(
name: metrics-nb201
seed: 5
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 24, parallelism: 4, max_attempts: 3}
training: {epochs: 1}
)";

// Sum of the samples of `name` (exactly, not its _bucket/_sum/_count kin)
// whose label set contains every one of `labels` (e.g. "kind=\"TRAIN\"");
// -1 when there is none.
double Sum(const std::string& text, const std::string& name,
           const std::vector<std::string>& labels = {}) {
  double total = -1;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    const size_t space = line.rfind(' ');
    const absl::string_view series = line.substr(0, space);
    const absl::string_view metric = series.substr(0, series.find('{'));
    if (metric != name) continue;
    bool match = true;
    for (const std::string& label : labels) {
      match = match && absl::StrContains(series, label);
    }
    double value = 0;
    if (!match || !absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    total = (total < 0 ? 0 : total) + value;
  }
  return total;
}

std::string Scrape(int port) {
  httplib::Client client("127.0.0.1", port);
  httplib::Result result = client.Get("/metrics");
  if (!result || result->status != 200) {
    ADD_FAILURE() << "GET /metrics: "
                  << (result ? absl::StrCat(result->status, " ", result->body)
                             : httplib::to_string(result.error()));
    return "";
  }
  return result->body;
}

ClusterOptions WithHttp(int lease_seconds) {
  ClusterOptions options;
  options.lease_seconds = lease_seconds;
  options.controller_flags = {"--http_listen=127.0.0.1:0"};
  return options;
}

TEST(MetricsEndpoint, CountersFollowEachLeaseCompletionRefusalAndExpiry) {
  Cluster cluster(WithHttp(/*lease_seconds=*/2));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int port = cluster.HttpPort();
  ASSERT_GT(port, 0) << cluster.Logs();
  const int64_t id = CreateSearchOrFail(cluster.search(), ParseSpec(kSearch));
  const std::string search = absl::StrCat("search=\"", id, "\"");
  const std::string complete_call =
      "grpc_method=\"CompleteTrial\"";

  std::string text = Scrape(port);
  EXPECT_EQ(Sum(text, "nas_searches_running"), 1) << text;
  EXPECT_EQ(Sum(text, "nas_trials_finished_total"), -1) << text;
  EXPECT_GT(Sum(text, "process_resident_memory_bytes"), 0) << text;
  EXPECT_GE(Sum(text, "nas_database_connections_opened_total",
                {"pool=\"trials\""}),
            1)
      << text;

  const std::string worker =
      RegisterWorkerOrFail(cluster.worker_api(), "metrics-host");
  ASSERT_FALSE(worker.empty());
  const std::string worker_label = absl::StrCat("worker=\"", worker, "\"");
  nas::v1::TrialAssignment first =
      AcquireTrialOrFail(cluster.worker_api(), worker, 5000);
  ASSERT_NE(first.trial_id(), 0);
  text = Scrape(port);
  EXPECT_EQ(Sum(text, "nas_worker_info",
                {worker_label, "name=\"metrics-host\"",
                 "host=\"metrics-host\""}),
            1)
      << text;
  EXPECT_EQ(Sum(text, "nas_workers_connected", {"estimator=\"undeclared\""}),
            1)
      << text;
  EXPECT_EQ(Sum(text, "nas_trials_leased_total", {"kind=\"TRAIN\""}), 1)
      << text;
  EXPECT_EQ(Sum(text, "nas_search_trials", {search, "state=\"running\""}), 1)
      << text;
  EXPECT_EQ(Sum(text, "nas_search_trials",
                {search, "name=\"metrics-nb201\"", "state=\"completed\""}),
            0)
      << text;

  ASSERT_TRUE(
      CompleteTrial(cluster.worker_api(), worker, first, 0.5).ok());
  text = Scrape(port);
  EXPECT_EQ(Sum(text, "nas_trials_finished_total",
                {"kind=\"TRAIN\"", "outcome=\"completed\""}),
            1)
      << text;
  EXPECT_EQ(Sum(text, "nas_search_trials", {search, "state=\"completed\""}),
            1)
      << text;
  EXPECT_EQ(Sum(text, "grpc_server_handled_total",
                {complete_call, "grpc_code=\"OK\""}),
            1)
      << text;
  EXPECT_EQ(Sum(text, "grpc_server_handling_seconds_count", {complete_call}),
            1)
      << text;
  EXPECT_EQ(Sum(text, "nas_worker_trials_total",
                {worker_label, "name=\"metrics-host\"",
                 "outcome=\"completed\""}),
            1)
      << text;
  EXPECT_GE(Sum(text, "nas_worker_trial_seconds_total", {worker_label}), 0)
      << text;

  // A worker retrying a completion whose reply it lost gets OK, and the
  // trial is counted once (the repeat used to count again).
  EXPECT_TRUE(CompleteTrial(cluster.worker_api(), worker, first, 0.5).ok());
  // A completion for a lease the worker does not hold is fenced off and
  // counted by its code.
  nas::v1::TrialAssignment stale = first;
  stale.set_attempt(first.attempt() + 1);
  EXPECT_EQ(CompleteTrial(cluster.worker_api(), worker, stale, 0.5)
                .error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  text = Scrape(port);
  EXPECT_EQ(Sum(text, "grpc_server_handled_total",
                {complete_call, "grpc_code=\"OK\""}),
            2)
      << text;
  EXPECT_EQ(Sum(text, "grpc_server_handled_total",
                {complete_call, "grpc_code=\"FAILED_PRECONDITION\""}),
            1)
      << text;
  EXPECT_EQ(Sum(text, "nas_trials_finished_total"), 1) << text;
  EXPECT_EQ(Sum(text, "nas_worker_trials_total", {worker_label}), 1) << text;
  // All three completions went through group commit; one at a time, each
  // was a batch of its own.
  EXPECT_EQ(Sum(text, "nas_database_batched_requests_total",
                {"pool=\"trials\"", "op=\"completions\""}),
            3)
      << text;
  EXPECT_EQ(Sum(text, "nas_database_batches_total",
                {"pool=\"trials\"", "op=\"completions\""}),
            3)
      << text;

  // A lease left to expire (2 s, checked every second) is counted once.
  nas::v1::TrialAssignment abandoned =
      AcquireTrialOrFail(cluster.worker_api(), worker, 5000);
  ASSERT_NE(abandoned.trial_id(), 0);
  ASSERT_TRUE(WaitFor(
      [&] {
        text = Scrape(port);
        return Sum(text, "nas_lease_expiries_total") >= 1;
      },
      seconds(30)))
      << text << cluster.Logs();
  EXPECT_EQ(Sum(text, "nas_lease_expiries_total"), 1) << text;
  EXPECT_EQ(Sum(text, "nas_trials_leased_total"), 2) << text;

  // The liveness probe needs nothing.
  httplib::Client client("127.0.0.1", port);
  httplib::Result health = client.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, "ok\n");
}

TEST(MetricsEndpoint, RealWorkersWorkIsCountedUnderTheirNames) {
  Cluster cluster(WithHttp(/*lease_seconds=*/10));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int port = cluster.HttpPort();
  ASSERT_GT(port, 0) << cluster.Logs();
  for (const char* name : {"rack-a", "rack-b"}) {
    cluster.StartWorkersWith(1, {std::string("--table=") + kTablePath,
                                 std::string("--name=") + name});
  }
  // Both registered before the search starts: a tabular search of 24
  // trials can end before a late worker has read its table.
  std::string text;
  ASSERT_TRUE(WaitFor(
      [&] {
        text = Scrape(port);
        return Sum(text, "nas_workers_connected", {"estimator=\"tabular\""}) ==
               2;
      },
      seconds(60)))
      << text << cluster.Logs();
  nas::v1::Search search;
  ASSERT_TRUE(RunSearchToCompletion(cluster, ParseSpec(kSearch), &search));
  text = Scrape(port);

  EXPECT_EQ(Sum(text, "nas_trials_finished_total",
                {"kind=\"TRAIN\"", "outcome=\"completed\""}),
            search.counts().completed())
      << text;
  EXPECT_EQ(search.counts().completed(), 24);
  EXPECT_EQ(Sum(text, "nas_worker_trials_total", {"outcome=\"completed\""}),
            24)
      << text;
  // Both workers took trials, and each one's series carries its name.
  EXPECT_GT(Sum(text, "nas_worker_trials_total", {"name=\"rack-a\""}), 0)
      << text;
  EXPECT_GT(Sum(text, "nas_worker_trials_total", {"name=\"rack-b\""}), 0)
      << text;
  EXPECT_EQ(Sum(text, "nas_worker_info", {"device_type=\"cpu\""}), 2) << text;
  EXPECT_EQ(Sum(text, "nas_workers_connected", {"estimator=\"tabular\""}), 2)
      << text;
  EXPECT_GE(Sum(text, "grpc_server_handling_seconds_count",
                {"grpc_method=\"AcquireTrial\""}),
            24)
      << text;
  EXPECT_EQ(Sum(text, "grpc_server_handled_total",
                {"grpc_method=\"CompleteTrial\"", "grpc_code=\"OK\""}),
            24)
      << text;
  // The finished search is no longer reported.
  EXPECT_EQ(Sum(text, "nas_search_trials",
                {absl::StrCat("search=\"", search.id(), "\"")}),
            -1)
      << text;
}

class MetricsSecurityTest : public ::testing::Test {
 protected:
  static constexpr char kClientToken[] = "client-secret-token-0001";
  static constexpr char kMonitorToken[] = "monitor-secret-token-0002";
  static constexpr char kAdminToken[] = "admin-secret-token-0003";

  void SetUp() override {
    char tmpl[] = "/tmp/nas-metrics-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string error;
    ASSERT_TRUE(MakeTestCerts(dir_, &certs_, &error)) << error;
    tokens_file_ = dir_ + "/tokens";
    std::ofstream(tokens_file_) << "alice client " << kClientToken << "\n"
                                << "prometheus monitor " << kMonitorToken
                                << "\n"
                                << "root admin " << kAdminToken << "\n";
  }

  std::string dir_;
  TestCerts certs_;
  std::string tokens_file_;
};

TEST_F(MetricsSecurityTest, HttpsWithTheControllersCertificateAndRoles) {
  ClusterOptions options;
  options.controller_flags = {"--tls_cert=" + certs_.server_cert,
                              "--tls_key=" + certs_.server_key,
                              "--auth_tokens_file=" + tokens_file_,
                              "--http_listen=127.0.0.1:0"};
  nas::client::ChannelSecurity admin;
  admin.tls_ca = certs_.ca;
  admin.token = kAdminToken;
  options.client_security = admin;
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int port = cluster.HttpPort();
  ASSERT_GT(port, 0) << cluster.Logs();

  httplib::SSLClient client("127.0.0.1", port);
  client.set_ca_cert_path(certs_.ca.c_str());
  client.enable_server_certificate_verification(true);
  auto get = [&](const std::string& path, const std::string& token) {
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    return client.Get(path.c_str(), headers);
  };

  httplib::Result anonymous = get("/metrics", "");
  ASSERT_TRUE(anonymous) << httplib::to_string(anonymous.error());
  EXPECT_EQ(anonymous->status, 401) << anonymous->body;
  EXPECT_TRUE(absl::StrContains(anonymous->body, "Bearer")) << anonymous->body;

  httplib::Result client_role = get("/metrics", kClientToken);
  ASSERT_TRUE(client_role);
  EXPECT_EQ(client_role->status, 403) << client_role->body;
  EXPECT_TRUE(absl::StrContains(client_role->body, "needs role monitor"))
      << client_role->body;

  for (const char* token : {kMonitorToken, kAdminToken}) {
    httplib::Result allowed = get("/metrics", token);
    ASSERT_TRUE(allowed);
    EXPECT_EQ(allowed->status, 200) << allowed->body;
    EXPECT_TRUE(absl::StrContains(allowed->body,
                                  "# TYPE nas_trials_finished_total counter"))
        << allowed->body;
    EXPECT_TRUE(absl::StrContains(allowed->get_header_value("Content-Type"),
                                  "version=0.0.4"));
  }
  httplib::Result health = get("/healthz", "");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);

  // Plain HTTP to the HTTPS port gets no metrics.
  httplib::Client plain("127.0.0.1", port);
  httplib::Result refused = plain.Get("/healthz");
  EXPECT_TRUE(!refused || refused->status != 200);
}

// `nasctl watch` asks the controller for the best trial when a trial
// completes, at most once a second: it asked on every completion, so ten
// watchers of a fleet at full speed sent thousands of ranking calls a
// second. Counted by the controller's own call counter.
TEST(MetricsEndpoint, NasctlWatchAsksForTheBestAtMostOnceASecond) {
  Cluster cluster(WithHttp(/*lease_seconds=*/30));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const int port = cluster.HttpPort();
  ASSERT_GT(port, 0) << cluster.Logs();
  nas::v1::SearchSpec spec = ParseSpec(kSearch);
  constexpr int kTrials = 40;
  spec.mutable_budget()->set_max_trials(kTrials);
  const int64_t id = CreateSearchOrFail(cluster.search(), spec);
  const std::string log = cluster.log_dir() + "/watch.log";
  Subprocess watch({NAS_NASCTL_BINARY, "--controller", cluster.address(),
                    "--plaintext", "watch", absl::StrCat(id)},
                   log);
  ASSERT_TRUE(
      WaitFor([&] { return absl::StrContains(watch.ReadLog(), "RUNNING"); },
              seconds(60)))
      << watch.ReadLog();
  const std::string best_calls = "grpc_method=\"GetBestTrials\"";
  const double before = std::max(
      0.0, Sum(Scrape(port), "grpc_server_handled_total", {best_calls}));

  const std::string worker =
      RegisterWorkerOrFail(cluster.worker_api(), "watched-host");
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kTrials; ++i) {
    const nas::v1::TrialAssignment a =
        AcquireTrialOrFail(cluster.worker_api(), worker, 5000);
    ASSERT_GT(a.trial_id(), 0) << cluster.Logs();
    ASSERT_TRUE(
        CompleteTrial(cluster.worker_api(), worker, a, 0.5 + 0.01 * i).ok());
  }
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  ASSERT_EQ(watch.Wait(seconds(60)), 0) << watch.ReadLog();
  EXPECT_TRUE(absl::StrContains(watch.ReadLog(),
                                absl::StrCat("search ", id, " COMPLETED")))
      << watch.ReadLog();
  const double asked =
      Sum(Scrape(port), "grpc_server_handled_total", {best_calls}) - before;
  // One per completion before the fix: kTrials. The stream may deliver the
  // last events a moment after the loop, hence the extra second.
  EXPECT_GE(asked, 1) << "it still shows the best";
  EXPECT_LE(asked, 2 + took) << took << " s for " << kTrials << " trials";
  EXPECT_LT(asked, kTrials) << took << " s: too slow to tell";
}

TEST(MetricsStartup, PlainHttpOffLoopbackIsRefusedWithTheRule) {
  Cluster cluster;  // only for its database
  const std::string log_path = cluster.log_dir() + "/refused.log";
  Subprocess controller(
      {NAS_CONTROLLER_BINARY, "--listen=127.0.0.1:0", "--plaintext",
       "--database_url=" + cluster.db().url(), "--http_listen=0.0.0.0:0"},
      log_path);
  EXPECT_EQ(controller.Wait(seconds(60)), 2) << controller.ReadLog();
  EXPECT_TRUE(absl::StrContains(
      controller.ReadLog(),
      "--http_listen 0.0.0.0:0 is not a loopback address: plain HTTP is "
      "served only on loopback unless --allow_remote_plaintext"))
      << controller.ReadLog();
}

}  // namespace
}  // namespace nas::testing
