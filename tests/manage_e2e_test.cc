// Managing searches end to end: enqueue (warm starts), extend, delete and
// archive through the real service, with nas-controller and tabular
// nas-worker processes (--table: no training) over loopback gRPC and a real
// PostgreSQL; the nasctl commands against the same cluster.
#include <chrono>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "grpcpp/client_context.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "tests/subprocess.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kTablePath[] = NAS_NB201_TABLE;

// No "none" op: no edge is ever dead, so every one-decision neighbour is a
// new computation and evolution's children are always visible mutations.
// Options in order: skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
constexpr char kEvolutionSearch[] = R"(
name: warm-start
seed: 11
dataset: {name: cifar10}
space: {nb201: {ops: [skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]}}
strategy: {evolution: {population_size: 3, sample_size: 2}}
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 10, parallelism: 2, max_attempts: 2}
training: {epochs: 1}
)";

constexpr char kRandomSearch[] = R"(
name: extend-me
seed: 12
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 5, parallelism: 2, max_attempts: 2}
training: {epochs: 1}
)";

// Three cells of the table, the first two by text, the third by choices.
constexpr char kWarmA[] =
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|"
    "nor_conv_3x3~1|nor_conv_3x3~2|";
constexpr char kWarmB[] =
    "|nor_conv_1x1~0|+|skip_connect~0|nor_conv_3x3~1|+|nor_conv_3x3~0|"
    "avg_pool_3x3~1|nor_conv_1x1~2|";
// choices 2,1,0,3,2,1 in the search's ops.
constexpr char kWarmC[] =
    "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|avg_pool_3x3~0|"
    "nor_conv_3x3~1|nor_conv_1x1~2|";

std::map<std::string, double> ReadTable() { return ReadNb201Table(kTablePath); }

ClusterOptions TabularWorkers() {
  ClusterOptions options;
  options.worker_flags = {std::string("--table=") + kTablePath,
                          "--table_noise=0", "--acquire_wait_ms=200"};
  return options;
}

void SetDeadline(grpc::ClientContext& context) {
  context.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
}

nas::v1::Architecture Text(const std::string& text) {
  nas::v1::Architecture a;
  a.set_text(text);
  return a;
}

grpc::Status Enqueue(nas::v1::SearchService::Stub& stub, int64_t id,
                     const std::vector<nas::v1::Architecture>& archs,
                     nas::v1::EnqueueTrialsResponse* response) {
  nas::v1::EnqueueTrialsRequest request;
  request.set_search_id(id);
  for (const nas::v1::Architecture& a : archs) {
    *request.add_architectures() = a;
  }
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.EnqueueTrials(&context, request, response);
}

grpc::Status Extend(nas::v1::SearchService::Stub& stub, int64_t id,
                    int max_trials, nas::v1::Search* search) {
  nas::v1::ExtendSearchRequest request;
  request.set_search_id(id);
  request.set_max_trials(max_trials);
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.ExtendSearch(&context, request, search);
}

grpc::Status Delete(nas::v1::SearchService::Stub& stub, int64_t id, bool force,
                    nas::v1::DeleteSearchResponse* response) {
  nas::v1::DeleteSearchRequest request;
  request.set_search_id(id);
  request.set_force(force);
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.DeleteSearch(&context, request, response);
}

grpc::Status Archive(nas::v1::SearchService::Stub& stub, int64_t id,
                     bool archived) {
  nas::v1::ArchiveSearchRequest request;
  request.set_search_id(id);
  request.set_archived(archived);
  nas::v1::Search search;
  grpc::ClientContext context;
  SetDeadline(context);
  return stub.ArchiveSearch(&context, request, &search);
}

std::vector<int64_t> ListedIds(nas::v1::SearchService::Stub& stub,
                               bool include_archived) {
  nas::v1::ListSearchesRequest request;
  request.set_include_archived(include_archived);
  nas::v1::ListSearchesResponse response;
  grpc::ClientContext context;
  SetDeadline(context);
  grpc::Status status = stub.ListSearches(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<int64_t> ids;
  for (const nas::v1::Search& s : response.searches()) ids.push_back(s.id());
  return ids;
}

TEST(ManageSearches, EnqueuedArchitecturesRunFirstAndSeedTheStrategy) {
  const std::map<std::string, double> table = ReadTable();
  ASSERT_EQ(table.size(), 15625u)
      << "the NAS-Bench-201 table is missing at " << kTablePath;
  Cluster cluster(TabularWorkers());
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  // No worker yet: nothing can be proposed before the enqueue.
  const int64_t id =
      CreateSearchOrFail(cluster.search(), ParseSpec(kEvolutionSearch));
  ASSERT_NE(id, 0);
  const std::string sid = std::to_string(id);

  // A bad architecture is named, and nothing is added.
  nas::v1::EnqueueTrialsResponse refused;
  grpc::Status status = Enqueue(
      cluster.search(), id,
      {Text(kWarmA), Text("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")},
      &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "architectures[1]"))
      << status.error_message();
  EXPECT_TRUE(absl::StrContains(status.error_message(), "\"none\""))
      << status.error_message();
  // More than the budget holds.
  std::vector<nas::v1::Architecture> eleven(11, Text(kWarmA));
  status = Enqueue(cluster.search(), id, eleven, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "extend"))
      << status.error_message();
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid),
            "0");

  nas::v1::Architecture by_choices;
  for (int c : {2, 1, 0, 3, 2, 1}) by_choices.add_choices(c);
  nas::v1::EnqueueTrialsResponse enqueued;
  status = Enqueue(cluster.search(), id,
                   {Text(kWarmA), Text(kWarmB), by_choices}, &enqueued);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(enqueued.trials_size(), 3);
  const std::vector<std::string> warm = {kWarmA, kWarmB, kWarmC};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(enqueued.trials(i).number(), i);
    EXPECT_EQ(enqueued.trials(i).state(), nas::v1::TRIAL_STATE_PENDING);
    EXPECT_EQ(enqueued.trials(i).architecture().text(), warm[i]);
  }

  cluster.StartWorkers(2);
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(120)))
      << cluster.Logs();
  const std::vector<nas::v1::Trial> trials =
      ListAllTrialsOrFail(cluster.search(), id);
  ASSERT_EQ(trials.size(), 10u) << cluster.Logs();
  for (const nas::v1::Trial& t : trials) {
    ASSERT_EQ(t.state(), nas::v1::TRIAL_STATE_COMPLETED) << t.reason();
    if (t.number() < 3) {
      // Trained (looked up) like any other trial: the table's value.
      EXPECT_EQ(t.architecture().text(), warm[t.number()]);
      auto row = table.find(t.architecture().text());
      ASSERT_NE(row, table.end()) << t.architecture().text();
      EXPECT_NEAR(t.metrics().test_accuracy(), row->second / 100, 1e-12);
      EXPECT_EQ(t.metrics().val_accuracy(), t.metrics().test_accuracy());
    }
  }
  // They ran first: leases go by trial number.
  EXPECT_EQ(
      cluster.db().QueryScalar(
          "SELECT (SELECT max(started_at) FROM trials WHERE search_id = " +
          sid +
          " AND number < 3) <= (SELECT min(started_at) FROM trials "
          "WHERE search_id = " +
          sid + " AND number >= 3)"),
      "t");
  // Evolution built on them: with a population of 3, every later trial is
  // a one-decision mutation of an earlier completed one, so trial 3 mutates
  // an enqueued architecture. Random cells would almost never be.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials c WHERE c.search_id = " + sid +
                " AND c.number >= 3 AND NOT EXISTS (SELECT 1 FROM trials p "
                "WHERE p.search_id = " +
                sid +
                " AND p.number < c.number AND p.state = 'COMPLETED' AND "
                "(SELECT count(*) FROM unnest(p.arch_choices, c.arch_choices) "
                "AS u(a, b) WHERE a <> b) = 1)"),
            "0")
      << cluster.Logs();
}

TEST(ManageSearches, ExtendedCompletedSearchRunsMoreAndCompletesAgain) {
  ASSERT_TRUE(std::ifstream(kTablePath))
      << "the NAS-Bench-201 table is missing at " << kTablePath;
  Cluster cluster(TabularWorkers());
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  const int64_t id =
      CreateSearchOrFail(cluster.search(), ParseSpec(kRandomSearch));
  ASSERT_NE(id, 0);
  const std::string sid = std::to_string(id);
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(120)))
      << cluster.Logs();

  nas::v1::Search search;
  grpc::Status status = Extend(cluster.search(), id, 5, &search);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "max_trials"))
      << status.error_message();

  // The limit a spec has holds here too.
  status = Extend(cluster.search(), id, 100001, &search);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "100000"))
      << status.error_message();

  status = Extend(cluster.search(), id, 15, &search);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(search.state(), nas::v1::SEARCH_STATE_RUNNING);
  EXPECT_EQ(search.spec().budget().max_trials(), 15);
  EXPECT_FALSE(search.has_finished_at());
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), id, seconds(120)))
      << cluster.Logs();
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid +
                " AND state = 'COMPLETED'"),
            "15")
      << cluster.Logs();
  // The strategy saw the first five: no computation twice.
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(DISTINCT canonical_key) FROM trials "
                "WHERE search_id = " +
                sid),
            "15");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT max(number) FROM trials WHERE search_id = " + sid),
            "14");

  // Cancelling is final. The workers go first: tabular trials take
  // milliseconds, so with them running the five more trials could complete
  // the search before the cancel arrives (CI saw that once).
  for (auto& worker : cluster.workers()) worker->Stop();
  status = Extend(cluster.search(), id, 20, &search);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_TRUE(CancelSearch(cluster.search(), id, &search).ok());
  status = Extend(cluster.search(), id, 30, &search);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "cancelled"))
      << status.error_message();
}

TEST(ManageSearches, DeleteRemovesRowsAndArchiveHidesFromTheList) {
  ASSERT_TRUE(std::ifstream(kTablePath))
      << "the NAS-Bench-201 table is missing at " << kTablePath;
  Cluster cluster(TabularWorkers());
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  cluster.StartWorkers(2);
  const int64_t done =
      CreateSearchOrFail(cluster.search(), ParseSpec(kRandomSearch));
  ASSERT_NE(done, 0);
  ASSERT_TRUE(WaitUntilCompleted(cluster.search(), done, seconds(120)))
      << cluster.Logs();
  const std::string sid = std::to_string(done);
  ASSERT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trial_epochs e JOIN trials t ON "
                "t.id = e.trial_id WHERE t.search_id = " +
                sid),
            "5");

  // A running search with nothing to run: delete needs force.
  nas::v1::SearchSpec spec = ParseSpec(kRandomSearch);
  spec.set_name("running");
  spec.mutable_budget()->set_max_trials(1000);
  for (auto& worker : cluster.workers()) worker->Stop();
  const int64_t running = CreateSearchOrFail(cluster.search(), spec);
  ASSERT_NE(running, 0);

  // Archive: hidden from the list unless asked, still there by id.
  EXPECT_EQ(Archive(cluster.search(), running, true).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  ASSERT_TRUE(Archive(cluster.search(), done, true).ok());
  EXPECT_EQ(ListedIds(cluster.search(), false), std::vector<int64_t>{running});
  EXPECT_EQ(ListedIds(cluster.search(), true),
            (std::vector<int64_t>{running, done}));
  nas::v1::Search got;
  ASSERT_TRUE(GetSearch(cluster.search(), done, &got).ok());
  EXPECT_TRUE(got.has_archived_at());
  ASSERT_TRUE(Archive(cluster.search(), done, false).ok());
  EXPECT_EQ(ListedIds(cluster.search(), false),
            (std::vector<int64_t>{running, done}));

  // Delete: every row of the search goes, the other search's stay.
  nas::v1::DeleteSearchResponse deleted;
  ASSERT_TRUE(Delete(cluster.search(), done, false, &deleted).ok());
  EXPECT_EQ(deleted.deleted_trials(), 5);
  EXPECT_EQ(deleted.search().id(), done);
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM searches WHERE id = " + sid),
            "0");
  EXPECT_EQ(cluster.db().QueryScalar(
                "SELECT count(*) FROM trials WHERE search_id = " + sid),
            "0");
  EXPECT_EQ(cluster.db().QueryScalar("SELECT count(*) FROM trial_epochs"), "0");
  EXPECT_EQ(GetSearch(cluster.search(), done, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);

  grpc::Status status = Delete(cluster.search(), running, false, &deleted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_TRUE(absl::StrContains(status.error_message(), "force"))
      << status.error_message();
  ASSERT_TRUE(Delete(cluster.search(), running, true, &deleted).ok());
  EXPECT_EQ(deleted.search().state(), nas::v1::SEARCH_STATE_CANCELLED);
  EXPECT_EQ(cluster.db().QueryScalar("SELECT count(*) FROM searches"), "0");
}

// Watchers of a search deleted while running end: on the controller that
// deleted it through search_done, on another replica with NOT_FOUND (its
// poll finds the search gone) rather than waiting forever.
TEST(ManageSearches, WatchersOfADeletedSearchEnd) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  const std::string replica = cluster.StartControllerReplica();
  ASSERT_FALSE(replica.empty()) << cluster.Logs();
  auto replica_search = nas::v1::SearchService::NewStub(
      grpc::CreateChannel(replica, grpc::InsecureChannelCredentials()));
  nas::v1::SearchSpec spec = ParseSpec(kRandomSearch);
  const int64_t id = CreateSearchOrFail(cluster.search(), spec);
  ASSERT_NE(id, 0);

  nas::v1::WatchSearchRequest watch;
  watch.set_search_id(id);
  auto start_watch = [&](nas::v1::SearchService::Stub& stub,
                         grpc::ClientContext& context) {
    context.set_deadline(std::chrono::system_clock::now() + seconds(60));
    auto reader = stub.WatchSearch(&context, watch);
    nas::v1::SearchEvent snapshot;
    EXPECT_TRUE(reader->Read(&snapshot) && snapshot.has_snapshot());
    return reader;
  };
  grpc::ClientContext here_context, there_context;
  auto here = start_watch(cluster.search(), here_context);
  auto there = start_watch(*replica_search, there_context);

  nas::v1::DeleteSearchResponse deleted;
  ASSERT_TRUE(Delete(cluster.search(), id, /*force=*/true, &deleted).ok());

  nas::v1::SearchEvent event;
  ASSERT_TRUE(here->Read(&event)) << cluster.Logs();
  EXPECT_TRUE(event.has_search_done());
  EXPECT_EQ(event.search().state(), nas::v1::SEARCH_STATE_CANCELLED);
  while (there->Read(&event)) {
  }
  const grpc::Status ended = there->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::NOT_FOUND)
      << ended.error_message();
  here_context.TryCancel();
  here->Finish();
}

// nasctl extend, enqueue, archive, unarchive, delete, with the search given
// by name.
TEST(ManageSearches, NasctlCommandsTakeANameOrAnId) {
  Cluster cluster(TabularWorkers());
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  nas::v1::SearchSpec spec = ParseSpec(kRandomSearch);
  spec.set_name("by-name");
  const int64_t id = CreateSearchOrFail(cluster.search(), spec);
  ASSERT_NE(id, 0);
  int runs = 0;
  auto nasctl = [&](std::vector<std::string> args, int expected_rc) {
    std::vector<std::string> argv = {NAS_NASCTL_BINARY, "--controller",
                                     cluster.address(), "--plaintext"};
    argv.insert(argv.end(), args.begin(), args.end());
    Subprocess run(
        argv, cluster.log_dir() + "/nasctl-" + std::to_string(runs++) + ".log");
    EXPECT_EQ(run.Wait(seconds(30)), expected_rc)
        << args[0] << ": " << run.ReadLog();
    return run.ReadLog();
  };
  EXPECT_TRUE(absl::StrContains(
      nasctl({"extend", "by-name", "--max_trials", "8"}, 0), "max_trials 8"));
  const std::string enqueued =
      nasctl({"enqueue", "by-name", kWarmA, "0,1,2,3,4,0"}, 0);
  EXPECT_TRUE(
      absl::StrContains(enqueued, "trial #0 pending: " + std::string(kWarmA)))
      << enqueued;
  EXPECT_TRUE(absl::StrContains(enqueued, "trial #1 pending"));
  const std::string file = cluster.log_dir() + "/archs.txt";
  std::ofstream(file) << "# warm starts\n\n" << kWarmB << "\n";
  EXPECT_TRUE(absl::StrContains(
      nasctl({"enqueue", std::to_string(id), "--file", file}, 0),
      "trial #2 pending"));
  EXPECT_TRUE(absl::StrContains(nasctl({"enqueue", "by-name", "|bogus|"}, 1),
                                "architectures[0]"));
  EXPECT_TRUE(absl::StrContains(nasctl({"archive", "by-name"}, 1), "RUNNING"));
  EXPECT_TRUE(absl::StrContains(nasctl({"delete", "by-name"}, 1), "--force"));
  EXPECT_TRUE(
      absl::StrContains(nasctl({"delete", "no-such-name"}, 1), "no search"));
  EXPECT_EQ(nasctl({"extend", "by-name"}, 2).find("usage"), 0u);
  EXPECT_TRUE(absl::StrContains(
      nasctl({"delete", "by-name", "--force"}, 0),
      "deleted search " + std::to_string(id) + " and its 3 trials"));
  EXPECT_EQ(cluster.db().QueryScalar("SELECT count(*) FROM trials"), "0");
}

}  // namespace
}  // namespace nas::testing
