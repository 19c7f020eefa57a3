#include "controller/store/migrations.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "controller/store/postgres_store.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"

namespace nas::controller::testing {
namespace {

// Fresh scratch database without a store, so that each test decides when
// (and how often) migrations run.
class MigrationsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(AdminUrl().empty()) << kNoDatabaseHelp;
    auto db = ScratchDatabase::Create(AdminUrl());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
  }

  absl::StatusOr<std::unique_ptr<TrialStore>> Open() {
    return OpenPostgresStore({db_->url(), /*pool_size=*/2});
  }

  std::unique_ptr<ScratchDatabase> db_;
};

// Strictly increasing from 1. Not necessarily consecutive: versions are
// reserved for work merged in parallel (issue 12 took 5, 6 and 7), and
// ApplyMigrations applies every missing version whatever its neighbours.
TEST(MigrationListTest, VersionsIncreaseFromOne) {
  int previous = 0;
  ASSERT_FALSE(AllMigrations().empty());
  EXPECT_EQ(AllMigrations().front().version, 1);
  for (const Migration& migration : AllMigrations()) {
    EXPECT_GT(migration.version, previous);
    previous = migration.version;
    EXPECT_FALSE(migration.name.empty());
    EXPECT_FALSE(migration.sql.empty());
  }
  EXPECT_GE(AllMigrations().size(), 2u);
}

TEST_F(MigrationsTest, AppliesEveryMigrationToAnEmptyDatabase) {
  ASSERT_TRUE(Open().ok());
  const pqxx::result rows = db_->Query(
      "SELECT version, name FROM schema_migrations ORDER BY version");
  ASSERT_EQ(rows.size(), AllMigrations().size());
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i][0].as<int>(), AllMigrations()[i].version);
    EXPECT_EQ(rows[i][1].as<std::string>(), AllMigrations()[i].name);
  }
  for (const char* relation :
       {"searches", "trials", "trial_epochs", "workers", "trial_history",
        "best_trials", "epoch_metrics"}) {
    EXPECT_FALSE(db_->Query(std::string("SELECT to_regclass('") + relation +
                            "') IS NULL")[0][0]
                     .as<bool>())
        << relation;
  }
}

TEST_F(MigrationsTest, ReopeningChangesNothing) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->CreateSearch(StoreTest::Spec("kept", 1), "").ok());
  }
  const std::string before =
      db_->Query(
             "SELECT string_agg(version || name || applied_at, ',' "
             "ORDER BY version) FROM schema_migrations")[0][0]
          .as<std::string>();
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  const std::string after =
      db_->Query(
             "SELECT string_agg(version || name || applied_at, ',' "
             "ORDER BY version) FROM schema_migrations")[0][0]
          .as<std::string>();
  EXPECT_EQ(before, after);
  auto searches = (*store)->ListSearches(0, 10, std::nullopt, false);
  ASSERT_TRUE(searches.ok()) << searches.status();
  ASSERT_EQ(searches->size(), 1u);
  EXPECT_EQ((*searches)[0].spec().name(), "kept");
}

TEST_F(MigrationsTest, ConcurrentOpensDoNotRace) {
  constexpr int kOpeners = 4;
  std::vector<absl::Status> results(kOpeners);
  std::vector<std::thread> threads;
  for (int i = 0; i < kOpeners; ++i) {
    threads.emplace_back([this, i, &results] { results[i] = Open().status(); });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& status : results) EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(
      db_->Query("SELECT count(*) FROM schema_migrations")[0][0].as<int>(),
      static_cast<int>(AllMigrations().size()));
}

TEST_F(MigrationsTest, RefusesASchemaNewerThanItKnows) {
  ASSERT_TRUE(Open().ok());
  db_->Query(
      "INSERT INTO schema_migrations (version, name) VALUES (999, 'future')");
  auto store = Open();
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
      << store.status();
  EXPECT_NE(store.status().message().find("999"), std::string::npos);
}

TEST(OpenPostgresStoreTest, UnreachableDatabaseIsUnavailable) {
  // Port 1 on loopback: nothing listens there.
  auto store = OpenPostgresStore(
      {"postgresql://nas:nas@127.0.0.1:1/nas?connect_timeout=2", 1});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable)
      << store.status();
}

TEST(OpenPostgresStoreTest, EmptyUrlIsInvalid) {
  auto store = OpenPostgresStore({"", 1});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(WithDatabaseTest, ReplacesTheDatabaseName) {
  EXPECT_EQ(WithDatabase("postgresql://u:p@h:1/nas", "x"),
            "postgresql://u:p@h:1/x");
  EXPECT_EQ(WithDatabase("postgresql://u:p@h:1/nas?sslmode=disable", "x"),
            "postgresql://u:p@h:1/x?sslmode=disable");
  EXPECT_EQ(WithDatabase("postgresql://h:1", "x"), "postgresql://h:1/x");
  EXPECT_EQ(WithDatabase("host=h dbname=nas", "x"),
            "host=h dbname=nas dbname=x");
}

}  // namespace
}  // namespace nas::controller::testing
