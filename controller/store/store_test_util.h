// Test support for the trial stores: a scratch PostgreSQL database or a
// MemoryStore per test, builders for specs and trials, and the conformance
// suite's fixture, which runs one test against every store.
#ifndef NAS_CONTROLLER_STORE_STORE_TEST_UTIL_H_
#define NAS_CONTROLLER_STORE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "common/time/clock.h"
#include "controller/checkpoints/checkpoint_store.h"
#include "controller/store/postgres_store.h"
#include "controller/store/trial_store.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace nas::controller::testing {

// The admin URL from NAS_TEST_DATABASE_URL, or "" when it is unset.
std::string AdminUrl();
// What a test says when NAS_TEST_DATABASE_URL is unset.
extern const char kNoDatabaseHelp[];

// `url` with its database name replaced by `dbname`.
std::string WithDatabase(const std::string& url, const std::string& dbname);

// The URL of the read-only role (nas_reader, deploy/sql/roles.sql) for
// database `dbname` on the server of `admin_url`: NAS_TEST_READER_URL with
// its database replaced when set, otherwise `admin_url` with user and
// password nas_reader (what scripts/pg_local.sh creates).
std::string ReaderUrl(const std::string& admin_url, const std::string& dbname);

// A fresh, empty database named nas_test_<pid>_<n>, dropped on
// destruction (WITH (FORCE), so leftover connections do not block it).
// Like the service's database (deploy/sql/reader_grants.sql), PUBLIC has no
// TEMPORARY on it; the rest of the reader's grants come from template1.
class ScratchDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDatabase>> Create(
      const std::string& admin_url);
  ~ScratchDatabase();

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // Runs `sql` in its own transaction on a separate connection, for
  // assertions on the raw tables. Throws on error (the test fails).
  pqxx::result Query(const std::string& sql);

 private:
  ScratchDatabase(std::string admin_url, std::string name)
      : admin_url_(std::move(admin_url)),
        name_(std::move(name)),
        url_(WithDatabase(admin_url_, name_)) {}

  std::string admin_url_;
  std::string name_;
  std::string url_;
  std::unique_ptr<pqxx::connection> connection_;
};

// Which TrialStore a fixture opens.
enum class StoreBackend { kPostgres, kMemory };

// "Postgres" or "Memory", for test names and failure messages.
std::string BackendName(const ::testing::TestParamInfo<StoreBackend>& info);
inline void PrintTo(StoreBackend backend, std::ostream* os) {
  *os << (backend == StoreBackend::kPostgres ? "Postgres" : "Memory");
}

// A store opened on a fresh scratch database (PostgreSQL) or a fresh
// MemoryStore on a FakeClock, with builders and hooks that stand in for
// what a PostgreSQL test would do in SQL.
class StoreTestBase {
 public:
  // A valid spec: chain space, val_accuracy maximized unless told.
  static nas::v1::SearchSpec Spec(
      const std::string& name, int max_trials, int max_attempts = 3,
      const std::string& metric = "val_accuracy",
      nas::v1::Direction direction = nas::v1::DIRECTION_MAXIMIZE);
  static NewTrial Trial(int i);
  static LeaseRef Ref(const nas::v1::TrialAssignment& a,
                      const std::string& worker) {
    return LeaseRef{worker, a.trial_id(), a.attempt()};
  }

 protected:
  // Fails the test (fatally) when the store cannot be opened.
  void OpenStore(StoreBackend backend);
  void CloseStore();

  TrialStore& store() { return *store_; }
  bool postgres() const { return backend_ == StoreBackend::kPostgres; }
  // REQUIRES: postgres().
  ScratchDatabase& db() { return *db_; }
  // The store's checkpoints: the MemoryStore itself, or a PostgreSQL
  // checkpoint store on the same database, opened on first use.
  CheckpointStore& checkpoints();
  // A second checkpoint store over the same data, as a controller replica
  // has (for a MemoryStore, the one store: there are no replicas).
  CheckpointStore& ReplicaCheckpoints();

  // Creates a search and adds `trials` trials; returns its id.
  int64_t NewSearch(int max_trials, int trials, int max_attempts = 3);
  // Leases the next trial; fails the test when there is none.
  nas::v1::TrialAssignment Lease(const std::string& worker,
                                 absl::Duration lease = absl::Seconds(30));
  nas::v1::Trial GetTrial(int64_t search_id, int32_t number);

  // Ends the lease of RUNNING trial `trial_id` (or of every RUNNING trial)
  // a second ago by the store's clock, so that ExpireLeases takes it.
  void ExpireLease(int64_t trial_id);
  void ExpireAllLeases();
  // How long the lease of RUNNING trial `trial_id` has left.
  absl::Duration LeaseLeft(int64_t trial_id);
  // Now by the store's clock.
  absl::Time StoreNow();
  // Lets `d` pass on the store's clock: sleeps for PostgreSQL, moves the
  // fake clock of a MemoryStore.
  void PassTime(absl::Duration d);

 private:
  StoreBackend backend_ = StoreBackend::kPostgres;
  std::unique_ptr<ScratchDatabase> db_;
  std::unique_ptr<FakeClock> clock_;
  std::unique_ptr<TrialStore> store_;
  std::unique_ptr<CheckpointStore> checkpoints_;
  std::unique_ptr<CheckpointStore> replica_checkpoints_;
};

// Fixture: a scratch PostgreSQL database and a store opened on it, for
// tests of what only PostgreSQL has (SQL views, roles, connections) and
// of the layers above the store.
class StoreTest : public StoreTestBase, public ::testing::Test {
 protected:
  void SetUp() override { OpenStore(StoreBackend::kPostgres); }
  void TearDown() override { CloseStore(); }
};

// Fixture of the conformance suite: the same test runs against every
// TrialStore. Tests use TEST_P and INSTANTIATE_FOR_EVERY_STORE(Suite).
class AnyStoreTest : public StoreTestBase,
                     public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override { OpenStore(GetParam()); }
  void TearDown() override { CloseStore(); }
};

#define INSTANTIATE_FOR_EVERY_STORE(suite)                                   \
  INSTANTIATE_TEST_SUITE_P(                                                  \
      , suite,                                                               \
      ::testing::Values(::nas::controller::testing::StoreBackend::kPostgres, \
                        ::nas::controller::testing::StoreBackend::kMemory),  \
      ::nas::controller::testing::BackendName)

}  // namespace nas::controller::testing

#endif  // NAS_CONTROLLER_STORE_STORE_TEST_UTIL_H_
