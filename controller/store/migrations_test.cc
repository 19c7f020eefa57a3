#include "controller/store/migrations.h"

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "controller/store/pg_pool.h"
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

  // The schema as migration `version` left it, without a store.
  void MigrateTo(int version) {
    db_->Query(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
        "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
    for (const Migration& migration : AllMigrations()) {
      if (migration.version > version) break;
      db_->Query(migration.sql);
      db_->Query("INSERT INTO schema_migrations (version, name) VALUES (" +
                 std::to_string(migration.version) + ", '" + migration.name +
                 "')");
    }
  }

  std::unique_ptr<ScratchDatabase> db_;
};

TEST(MigrationListTest, VersionsAreConsecutiveFromOne) {
  int previous = 0;
  ASSERT_FALSE(AllMigrations().empty());
  for (const Migration& migration : AllMigrations()) {
    EXPECT_EQ(migration.version, previous + 1);
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
        "best_trials", "epoch_metrics", "checkpoints", "checkpoint_chunks",
        "checkpoint_lineage", "trial_counts", "trial_count_deltas"}) {
    EXPECT_FALSE(db_->Query(std::string("SELECT to_regclass('") + relation +
                            "') IS NULL")[0][0]
                     .as<bool>())
        << relation;
  }
}

// \d+ documents the schema: a migration that adds a table, view or column
// must add its COMMENT too (see version 7 in migrations.cc).
TEST_F(MigrationsTest, EveryTableViewAndColumnHasAComment) {
  ASSERT_TRUE(Open().ok());
  const pqxx::result relations = db_->Query(
      "SELECT c.relname FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm') "
      "AND coalesce(obj_description(c.oid, 'pg_class'), '') = '' "
      "ORDER BY 1");
  for (const pqxx::row& row : relations) {
    ADD_FAILURE() << "no COMMENT ON TABLE/VIEW " << row[0].as<std::string>();
  }
  const pqxx::result columns = db_->Query(
      "SELECT c.relname || '.' || a.attname FROM pg_class c "
      "JOIN pg_namespace n ON n.oid = c.relnamespace "
      "JOIN pg_attribute a ON a.attrelid = c.oid "
      "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'm') "
      "AND a.attnum > 0 AND NOT a.attisdropped "
      "AND coalesce(col_description(c.oid, a.attnum), '') = '' ORDER BY 1");
  for (const pqxx::row& row : columns) {
    ADD_FAILURE() << "no COMMENT ON COLUMN " << row[0].as<std::string>();
  }
  // The check looks at something: every relation of migrations 1 and 2.
  EXPECT_GE(db_->Query("SELECT count(*) FROM pg_class c JOIN pg_namespace n "
                       "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                       "AND c.relkind IN ('r', 'v')")[0][0]
                .as<int>(),
            8);
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
  auto searches = (*store)->ListSearches(0, 10, SearchFilter());
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

TEST(OpenPostgresStoreTest, UnreachableDatabaseIsNamedWithoutItsPassword) {
  auto store = OpenPostgresStore(
      {"postgresql://nas:hunter22@127.0.0.1:1/nas?connect_timeout=2", 1});
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find(
                "cannot open the database "
                "postgresql://nas:***@127.0.0.1:1/nas?connect_timeout=2: "),
            std::string::npos)
      << store.status();
  EXPECT_EQ(store.status().message().find("hunter22"), std::string::npos)
      << store.status();
}

TEST(OpenPostgresStoreTest, MalformedUrlIsInvalid) {
  for (const char* url :
       {"not-a-url", "postgresql://nas:nas@127.0.0.1:5432/nas?bogus=1"}) {
    auto store = OpenPostgresStore({url, 1});
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument)
        << store.status();
    EXPECT_NE(store.status().message().find("is malformed"), std::string::npos)
        << store.status();
  }
}

TEST(RedactedDatabaseUrlTest, MasksPasswords) {
  EXPECT_EQ(RedactedDatabaseUrl("postgresql://u:secret@h:1/db"),
            "postgresql://u:***@h:1/db");
  EXPECT_EQ(RedactedDatabaseUrl("postgres://u:p%40ss@h/db?sslmode=require"),
            "postgres://u:***@h/db?sslmode=require");
  EXPECT_EQ(RedactedDatabaseUrl("postgresql://u@h/db"), "postgresql://u@h/db");
  EXPECT_EQ(RedactedDatabaseUrl("postgresql://h/db?user=u&password=pw&x=1"),
            "postgresql://h/db?user=u&password=***&x=1");
  EXPECT_EQ(RedactedDatabaseUrl("host=h user=u password=pw dbname=d"),
            "host=h user=u password=*** dbname=d");
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

// Version 5: reasons written by older controllers ended in a newline; the
// migration strips it, so old and new reasons read alike.
TEST_F(MigrationsTest, Version5StripsTheTrailingNewlineOfOlderReasons) {
  // The schema as version 4 left it, with reasons written the old way.
  db_->Query(
      "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
      "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  for (const Migration& migration : AllMigrations()) {
    if (migration.version > 4) break;
    db_->Query(migration.sql);
    db_->Query("INSERT INTO schema_migrations (version, name) VALUES (" +
               std::to_string(migration.version) + ", '" + migration.name +
               "')");
  }
  db_->Query(
      "INSERT INTO searches (id, spec, max_trials, parallelism, max_attempts, "
      "objective_metric, objective_direction) VALUES (1, '{}', 2, 1, 1, "
      "'val_accuracy', 'MAXIMIZE')");
  db_->Query(
      "INSERT INTO trials (search_id, number, reason) VALUES "
      "(1, 0, E'attempt 1 on worker w-1: lease expired\\nattempt 2 on "
      "worker w-2: lease expired\\n'), (1, 1, '')");

  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(db_->Query("SELECT reason FROM trials WHERE number = 0")[0][0]
                .as<std::string>(),
            "attempt 1 on worker w-1: lease expired\n"
            "attempt 2 on worker w-2: lease expired");
  EXPECT_EQ(db_->Query("SELECT reason FROM trials WHERE number = 1")[0][0]
                .as<std::string>(),
            "");
  // The new columns exist (the query throws otherwise).
  EXPECT_EQ(db_->Query("SELECT count(capabilities) + count(name) FROM workers")
                [0][0]
                .as<int>(),
            0);
}

// Version 8: workers registered before weight sharing declared
// capabilities without kinds, which mean TRAIN and RETRAIN; their tokens
// gain those kinds so that they keep leasing what they ran before.
TEST_F(MigrationsTest, Version8GivesOlderCapabilitiesTheTrainingKinds) {
  db_->Query(
      "CREATE TABLE schema_migrations (version integer PRIMARY KEY, "
      "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
  for (const Migration& migration : AllMigrations()) {
    if (migration.version > 7) break;
    db_->Query(migration.sql);
    db_->Query("INSERT INTO schema_migrations (version, name) VALUES (" +
               std::to_string(migration.version) + ", '" + migration.name +
               "')");
  }
  db_->Query(
      "INSERT INTO workers (id, capabilities) VALUES "
      "('w-1', '{nb201:*,chain:DATASET_NAME_MNIST}'), ('w-2', NULL), "
      "('w-3', '{}')");
  db_->Query(
      "INSERT INTO searches (id, spec, max_trials, parallelism, max_attempts, "
      "objective_metric, objective_direction) VALUES (1, '{}', 2, 1, 1, "
      "'val_accuracy', 'MAXIMIZE')");
  db_->Query("INSERT INTO trials (search_id, number) VALUES (1, 0)");

  ASSERT_TRUE(Open().ok());
  EXPECT_EQ(db_->Query("SELECT array_to_string(capabilities, ' ') FROM "
                       "workers WHERE id = 'w-1'")[0][0]
                .as<std::string>(),
            "chain:DATASET_NAME_MNIST:RETRAIN chain:DATASET_NAME_MNIST:TRAIN "
            "nb201:*:RETRAIN nb201:*:TRAIN");
  EXPECT_TRUE(
      db_->Query(
             "SELECT capabilities IS NULL FROM workers WHERE id = 'w-2'")[0][0]
          .as<bool>())
      << "a worker that declared nothing is still offered everything";
  EXPECT_EQ(db_->Query("SELECT cardinality(capabilities) FROM workers "
                       "WHERE id = 'w-3'")[0][0]
                .as<int>(),
            0)
      << "a worker that runs nothing still runs nothing";
  const pqxx::row row = db_->Query(
      "SELECT t.kind, t.task IS NULL, s.extra_trials FROM trials t "
      "JOIN searches s ON s.id = t.search_id")[0];
  EXPECT_EQ(row[0].as<std::string>(), "TRAIN");
  EXPECT_TRUE(row[1].as<bool>());
  EXPECT_EQ(row[2].as<int>(), 0);
}

// Version 12: the counts of a database with trials start from the trials
// there, and the triggers keep them from then on.
TEST_F(MigrationsTest, Version12CountsTheTrialsAlreadyThere) {
  MigrateTo(11);
  db_->Query(
      "INSERT INTO searches (id, spec, max_trials, parallelism, max_attempts, "
      "objective_metric, objective_direction) SELECT id, '{}', 20, 1, 3, "
      "'val_accuracy', 'MAXIMIZE' FROM generate_series(1, 3) id");
  // Search 1: every state, three kinds; search 2: no trials.
  db_->Query(
      "INSERT INTO trials (search_id, number, kind, state, attempt, "
      "worker_id, lease_expires_at) SELECT 1, n - 1, kind, state, "
      "CASE WHEN state = 'PENDING' THEN 0 ELSE 1 END, "
      "CASE WHEN state = 'PENDING' THEN NULL ELSE 'w-1' END, "
      "CASE WHEN state = 'RUNNING' THEN now() + interval '1 hour' END "
      "FROM unnest("
      "'{TRAIN,TRAIN,TRAIN,TRAIN,TRAIN,TRAIN,RETRAIN,RETRAIN,ZERO_COST}'"
      "::text[], "
      "'{PENDING,PENDING,PENDING,RUNNING,COMPLETED,COMPLETED,FAILED,CANCELLED,"
      "STOPPED}'::text[]) WITH ORDINALITY AS t (kind, state, n)");
  db_->Query(
      "INSERT INTO trials (search_id, number, state, attempt, worker_id) "
      "VALUES (3, 0, 'COMPLETED', 1, 'w-1')");

  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(db_->Query("SELECT string_agg(format('%s %s %s %s', search_id, "
                       "kind, state, n), ', ' ORDER BY search_id, kind, "
                       "state) FROM trial_counts")[0][0]
                .as<std::string>(),
            "1 RETRAIN CANCELLED 1, 1 RETRAIN FAILED 1, 1 TRAIN COMPLETED 2, "
            "1 TRAIN PENDING 3, 1 TRAIN RUNNING 1, 1 ZERO_COST STOPPED 1, "
            "3 TRAIN COMPLETED 1");
  EXPECT_EQ(
      db_->Query("SELECT count(*) FROM trial_count_deltas")[0][0].as<int>(), 0);

  absl::StatusOr<nas::v1::Search> search = (*store)->GetSearch(1);
  ASSERT_TRUE(search.ok()) << search.status();
  nas::v1::Search expected;
  nas::v1::TrialCounts* all = expected.mutable_counts();
  all->set_pending(3);
  all->set_running(1);
  all->set_completed(2);
  all->set_failed(1);
  all->set_stopped(1);
  all->set_cancelled(1);
  nas::v1::KindCounts* train = expected.add_kind_counts();
  train->set_kind(nas::v1::TRIAL_KIND_TRAIN);
  train->mutable_counts()->set_pending(3);
  train->mutable_counts()->set_running(1);
  train->mutable_counts()->set_completed(2);
  nas::v1::KindCounts* retrain = expected.add_kind_counts();
  retrain->set_kind(nas::v1::TRIAL_KIND_RETRAIN);
  retrain->mutable_counts()->set_failed(1);
  retrain->mutable_counts()->set_cancelled(1);
  nas::v1::KindCounts* zero_cost = expected.add_kind_counts();
  zero_cost->set_kind(nas::v1::TRIAL_KIND_ZERO_COST);
  zero_cost->mutable_counts()->set_stopped(1);
  EXPECT_EQ(search->counts().DebugString(), expected.counts().DebugString());
  ASSERT_EQ(search->kind_counts_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(search->kind_counts(i).DebugString(),
              expected.kind_counts(i).DebugString());
  }
  absl::StatusOr<nas::v1::Search> empty = (*store)->GetSearch(2);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->has_counts());
  EXPECT_EQ(empty->counts().ByteSizeLong(), 0u);
  EXPECT_EQ(empty->kind_counts_size(), 0);

  // Counted from here on by the triggers: a lease moves a PENDING trial.
  absl::StatusOr<std::optional<nas::v1::TrialAssignment>> leased =
      (*store)->LeaseTrial("w-2", absl::Seconds(30));
  ASSERT_TRUE(leased.ok()) << leased.status();
  ASSERT_TRUE(leased->has_value());
  search = (*store)->GetSearch(1);
  ASSERT_TRUE(search.ok()) << search.status();
  EXPECT_EQ(search->counts().pending(), 2);
  EXPECT_EQ(search->counts().running(), 2);
}

// Version 13: no index covers lease_expires_at, so a renewal writes no
// index entry; expiry still finds the few running trials of a long history
// through an index, not a scan of every trial.
TEST_F(MigrationsTest, Version13LeavesLeasesUnindexedAndExpiryIndexed) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(
      db_->Query("SELECT count(*) FROM pg_index i JOIN pg_attribute a "
                 "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
                 "WHERE i.indrelid = 'trials'::regclass AND a.attname = "
                 "'lease_expires_at'")[0][0]
          .as<int>(),
      0);
  db_->Query(
      "INSERT INTO searches (id, spec, max_trials, parallelism, max_attempts, "
      "objective_metric, objective_direction) VALUES (1, '{}', 50000, 4, 3, "
      "'val_accuracy', 'MAXIMIZE')");
  db_->Query(
      "INSERT INTO trials (search_id, number, state, attempt, worker_id, "
      "lease_expires_at) SELECT 1, n, CASE WHEN n < 20000 THEN 'COMPLETED' "
      "ELSE 'RUNNING' END, 1, 'w-1', CASE WHEN n < 20000 THEN NULL ELSE "
      "now() + interval '1 hour' END FROM generate_series(0, 20003) n");
  db_->Query("ANALYZE trials");
  // The statement ExpireLeases runs, less its SET list.
  std::string plan;
  for (const pqxx::row& row : db_->Query(
           "EXPLAIN UPDATE trials t SET lease_expires_at = NULL FROM "
           "searches s WHERE s.id = t.search_id AND t.state = 'RUNNING' AND "
           "t.lease_expires_at < now()")) {
    plan += row[0].as<std::string>() + "\n";
  }
  EXPECT_NE(plan.find("trials_open_idx"), std::string::npos) << plan;
  absl::StatusOr<int> expired = (*store)->ExpireLeases();
  ASSERT_TRUE(expired.ok()) << expired.status();
  EXPECT_EQ(*expired, 0);
}

}  // namespace
}  // namespace nas::controller::testing
