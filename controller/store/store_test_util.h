// Test support for the PostgreSQL store: a scratch database per test and
// builders for specs and trials.
#ifndef NAS_CONTROLLER_STORE_STORE_TEST_UTIL_H_
#define NAS_CONTROLLER_STORE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
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

// Fixture: a scratch database and a store opened on it.
class StoreTest : public ::testing::Test {
 public:
  // A valid spec: chain space, val_accuracy maximized unless told.
  static nas::v1::SearchSpec Spec(
      const std::string& name, int max_trials, int max_attempts = 3,
      const std::string& metric = "val_accuracy",
      nas::v1::Direction direction = nas::v1::DIRECTION_MAXIMIZE);
  static NewTrial Trial(int i);

 protected:
  void SetUp() override;
  void TearDown() override;

  TrialStore& store() { return *store_; }
  ScratchDatabase& db() { return *db_; }

  // Creates a search and adds `trials` trials; returns its id.
  int64_t NewSearch(int max_trials, int trials, int max_attempts = 3);
  // Leases the next trial; fails the test when there is none.
  nas::v1::TrialAssignment Lease(const std::string& worker,
                                 absl::Duration lease = absl::Seconds(30));
  static LeaseRef Ref(const nas::v1::TrialAssignment& a,
                      const std::string& worker) {
    return LeaseRef{worker, a.trial_id(), a.attempt()};
  }
  nas::v1::Trial GetTrial(int64_t search_id, int32_t number);

  std::unique_ptr<ScratchDatabase> db_;
  std::unique_ptr<TrialStore> store_;
};

}  // namespace nas::controller::testing

#endif  // NAS_CONTROLLER_STORE_STORE_TEST_UTIL_H_
