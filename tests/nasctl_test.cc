// nasctl end to end: the real binary, run through /bin/sh so that tests can
// feed its standard input and pipe its output, against a real controller and
// PostgreSQL. No workers: searches stay RUNNING until cancelled, which is
// what the watch test needs.
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "tests/subprocess.h"

namespace nas::testing {
namespace {

// No max_attempts, parallelism or batch_size: describe must show defaults.
constexpr char kSpec[] = R"(name: cli-nb201
seed: 5
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 8}
training: {epochs: 1}
)";

struct Result {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

class NasctlTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    cluster_ = new Cluster();
    ASSERT_TRUE(cluster_->StartController()) << cluster_->Logs();
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  // `shell_args` is shell text after "nasctl --plaintext --controller X".
  std::string CommandLine(const std::string& shell_args) const {
    return absl::StrCat(NAS_NASCTL_BINARY, " --controller ",
                        cluster_->address(), " ", shell_args);
  }

  // Runs `[env] nasctl ... shell_args [| ...]` to the end (generous timeout).
  Result Run(const std::string& shell_args, const std::string& env = "",
             bool plaintext = true) {
    const std::string log =
        absl::StrCat(cluster_->log_dir(), "/nasctl-", ++runs_, ".log");
    Subprocess process(
        {"/bin/sh", "-c",
         absl::StrCat(
             env, " ",
             CommandLine((plaintext ? "--plaintext " : "") + shell_args))},
        log);
    Result result;
    result.exit_code = process.Wait(std::chrono::seconds(60));
    result.output = process.ReadLog();
    return result;
  }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = absl::StrCat(cluster_->log_dir(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  int SearchCount() {
    nas::v1::ListSearchesResponse response;
    grpc::Status status = ListSearches(cluster_->search(), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.searches_size();
  }

  static Cluster* cluster_;
  // Across tests: every run gets a log of its own.
  static int runs_;
};

Cluster* NasctlTest::cluster_ = nullptr;
int NasctlTest::runs_ = 0;

TEST_F(NasctlTest, ValidateChecksLocallyAndOnTheControllerAndStoresNothing) {
  const int before = SearchCount();
  const std::string good = WriteFile("good.yaml", kSpec);
  Result ok = Run("validate " + good);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_TRUE(absl::StrContains(ok.output, ": valid: search \"cli-nb201\""))
      << ok.output;
  Result from_stdin = Run("validate - < " + good);
  EXPECT_EQ(from_stdin.exit_code, 0) << from_stdin.output;
  EXPECT_TRUE(absl::StrContains(from_stdin.output, "<stdin>: valid"))
      << from_stdin.output;

  // Only the strategy's factory, on the controller, knows this range.
  std::string bad_strategy = kSpec;
  absl::StrReplaceAll(
      {{"strategy: random", "strategy: {evolution: {population_size: 1}}"}},
      &bad_strategy);
  Result refused = Run("validate " + WriteFile("bad.yaml", bad_strategy));
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_TRUE(
      absl::StartsWith(refused.output, "INVALID_ARGUMENT: spec.strategy"))
      << refused.output;
  EXPECT_TRUE(absl::StrContains(refused.output, "population_size"))
      << refused.output;

  std::string bad_budget = kSpec;
  absl::StrReplaceAll({{"max_trials: 8", "max_trials: ten"}}, &bad_budget);
  Result local = Run("validate - < " + WriteFile("budget.yaml", bad_budget));
  EXPECT_EQ(local.exit_code, 1) << local.output;
  EXPECT_TRUE(absl::StartsWith(local.output, "<stdin>: budget.max_trials"))
      << local.output;

  EXPECT_EQ(SearchCount(), before);
}

TEST_F(NasctlTest, SubmitFromStdinThenDescribeShowsDefaults) {
  Result submitted =
      Run("submit - < " + WriteFile("submit.yaml", kSpec) + " -o json");
  ASSERT_EQ(submitted.exit_code, 0) << submitted.output;
  nas::v1::ListSearchesResponse listed;
  ASSERT_TRUE(ListSearches(cluster_->search(), &listed).ok());
  ASSERT_GT(listed.searches_size(), 0);
  const int64_t id = listed.searches(0).id();
  EXPECT_TRUE(
      absl::StrContains(submitted.output, absl::StrCat("\"id\":\"", id, "\"")))
      << submitted.output;

  Result described = Run(absl::StrCat("describe ", id));
  EXPECT_EQ(described.exit_code, 0) << described.output;
  for (const char* expected :
       {"state:    RUNNING", "name:     cli-nb201", "\"max_attempts\": 3",
        "\"parallelism\": 1", "\"batch_size\": 128"}) {
    EXPECT_TRUE(absl::StrContains(described.output, expected))
        << expected << "\n"
        << described.output;
  }
  Result missing = Run("describe 999999");
  EXPECT_EQ(missing.exit_code, 1) << missing.output;
  EXPECT_TRUE(
      absl::StartsWith(missing.output, "NOT_FOUND: search 999999 not found"))
      << missing.output;
  nas::v1::Search cancelled;
  EXPECT_TRUE(CancelSearch(cluster_->search(), id, &cancelled).ok());
}

TEST_F(NasctlTest, AnOptionTheCommandDoesNotTakeIsAUsageError) {
  Result limit = Run("cancel 1 --limit 5");
  EXPECT_EQ(limit.exit_code, 2) << limit.output;
  EXPECT_TRUE(absl::StartsWith(limit.output,
                               "unknown option --limit for \"nasctl cancel\""))
      << limit.output;
  Result k = Run("trials 1 -k 3");
  EXPECT_EQ(k.exit_code, 2) << k.output;
  EXPECT_TRUE(absl::StrContains(k.output, "unknown option -k")) << k.output;
  Result state = Run("searches --state bogus");
  EXPECT_EQ(state.exit_code, 2) << state.output;
  EXPECT_TRUE(absl::StartsWith(state.output, "--state: expected running"))
      << state.output;
  Result csv = Run("watch 1 -o csv");
  EXPECT_EQ(csv.exit_code, 2) << csv.output;
}

TEST_F(NasctlTest, WatchIntoAPipePrintsEachEventBeforeTheSearchEnds) {
  const int64_t id = CreateSearchOrFail(cluster_->search(), ParseSpec(kSpec));
  const std::string log = absl::StrCat(cluster_->log_dir(), "/watch.log");
  Subprocess watch(
      {"/bin/sh", "-c",
       CommandLine(absl::StrCat("--plaintext watch ", id, " | cat"))},
      log);
  // The snapshot line must arrive while the search still runs: before the
  // fix it sat in nasctl's stdout buffer until nasctl exited.
  const std::string snapshot =
      absl::StrCat("search ", id, " (cli-nb201): RUNNING");
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!absl::StrContains(watch.ReadLog(), snapshot) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(absl::StrContains(watch.ReadLog(), snapshot)) << watch.ReadLog();
  nas::v1::Search search;
  ASSERT_TRUE(GetSearch(cluster_->search(), id, &search).ok());
  EXPECT_EQ(search.state(), nas::v1::SEARCH_STATE_RUNNING);

  ASSERT_TRUE(CancelSearch(cluster_->search(), id, &search).ok());
  EXPECT_EQ(watch.Wait(std::chrono::seconds(60)), 0) << watch.ReadLog();
  EXPECT_TRUE(absl::StrContains(watch.ReadLog(),
                                absl::StrCat("search ", id, " CANCELLED")))
      << watch.ReadLog();
}

TEST_F(NasctlTest, SearchesFilterPageAndPrintCsv) {
  std::string alpha_spec = kSpec, beta_spec = kSpec;
  absl::StrReplaceAll({{"cli-nb201", "alpha-csv"}}, &alpha_spec);
  absl::StrReplaceAll({{"cli-nb201", "beta, csv"}}, &beta_spec);
  const int64_t alpha =
      CreateSearchOrFail(cluster_->search(), ParseSpec(alpha_spec));
  const int64_t beta =
      CreateSearchOrFail(cluster_->search(), ParseSpec(beta_spec));
  nas::v1::Search search;
  ASSERT_TRUE(CancelSearch(cluster_->search(), beta, &search).ok());

  Result cancelled = Run("searches -o csv --state cancelled --name csv");
  EXPECT_EQ(cancelled.exit_code, 0) << cancelled.output;
  EXPECT_EQ(cancelled.output,
            absl::StrCat("id,name,state,trials,max_trials,completed,running,"
                         "failed,state_reason\n",
                         beta, ",\"beta, csv\",CANCELLED,0,8,0,0,0,\n"));

  Result by_name = Run("searches --name alpha-");
  EXPECT_EQ(by_name.exit_code, 0) << by_name.output;
  EXPECT_TRUE(absl::StrContains(by_name.output, "alpha-csv")) << by_name.output;
  EXPECT_FALSE(absl::StrContains(by_name.output, "beta")) << by_name.output;

  Result first_page = Run("searches --limit 1 --name csv");
  EXPECT_EQ(first_page.exit_code, 0) << first_page.output;
  EXPECT_TRUE(absl::StrContains(first_page.output, "beta, csv"))
      << first_page.output;
  EXPECT_TRUE(
      absl::StrContains(first_page.output, absl::StrCat("--page_token ", beta)))
      << first_page.output;
  Result second_page =
      Run(absl::StrCat("searches --limit 1 --name csv --page_token ", beta));
  EXPECT_TRUE(absl::StrContains(second_page.output, "alpha-csv"))
      << second_page.output;
  EXPECT_FALSE(absl::StrContains(second_page.output, "--page_token"))
      << second_page.output;

  Result trials = Run(absl::StrCat("trials ", alpha, " -o csv --sort params"));
  EXPECT_EQ(trials.exit_code, 0) << trials.output;
  EXPECT_TRUE(absl::StartsWith(trials.output, "trial_id,number,state,"))
      << trials.output;
  ASSERT_TRUE(CancelSearch(cluster_->search(), alpha, &search).ok());
}

TEST_F(NasctlTest, PlaintextFromTheEnvironmentUsesTheSharedBoolParser) {
  Result yes = Run("searches", "NAS_PLAINTEXT=YES", /*plaintext=*/false);
  EXPECT_EQ(yes.exit_code, 0) << yes.output;
  EXPECT_TRUE(absl::StartsWith(yes.output, "ID  NAME")) << yes.output;
  Result maybe = Run("searches", "NAS_PLAINTEXT=maybe", /*plaintext=*/false);
  EXPECT_EQ(maybe.exit_code, 2) << maybe.output;
  EXPECT_TRUE(absl::StartsWith(
      maybe.output, "NAS_PLAINTEXT: expected true, false, yes, no, 1 or 0"))
      << maybe.output;
}

// Before one parser the controller and worker took "y" (absl::SimpleAtob)
// and ignored "maybe", leaving the flag false without a word.
TEST_F(NasctlTest, ControllerAndWorkerRefuseABadBooleanVariable) {
  for (const char* binary : {NAS_CONTROLLER_BINARY, NAS_WORKER_BINARY}) {
    for (const char* value : {"maybe", "y"}) {
      const std::string log =
          absl::StrCat(cluster_->log_dir(), "/bool-", ++runs_, ".log");
      Subprocess process(
          {"/bin/sh", "-c",
           absl::StrCat("NAS_PLAINTEXT=", value, " exec ", binary)},
          log);
      EXPECT_EQ(process.Wait(std::chrono::seconds(60)), 2) << binary << "\n"
                                                           << process.ReadLog();
      EXPECT_TRUE(absl::StrContains(
          process.ReadLog(),
          absl::StrCat("NAS_PLAINTEXT: expected true, false, yes, no, 1 or 0, "
                       "got \"",
                       value, "\"")))
          << binary << "\n"
          << process.ReadLog();
    }
  }
}

TEST_F(NasctlTest, VersionAndCommandHelp) {
  Result version = Run("--version");
  EXPECT_EQ(version.exit_code, 0) << version.output;
  EXPECT_TRUE(absl::StartsWith(version.output, "nasctl ")) << version.output;
  Result help = Run("help trials");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_TRUE(absl::StartsWith(help.output, "usage: nasctl trials SEARCH_ID"))
      << help.output;
  EXPECT_TRUE(absl::StrContains(help.output, "--sort")) << help.output;
}

}  // namespace
}  // namespace nas::testing
