// The PostgreSQL roles of deploy/sql/roles.sql and reader_grants.sql: the
// controller's role `nas` is no superuser and owns what it migrates; the
// read-only role `nas_reader` can SELECT every table and view the controller
// creates, now or in a later migration, and can write nothing. The server
// must have been set up by scripts/pg_local.sh (or the same SQL files).
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace nas::controller::testing {
namespace {

constexpr char kInsufficientPrivilege[] = "42501";
constexpr char kReadOnlyTransaction[] = "25006";

class ReaderRoleTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    if (HasFatalFailure()) return;
    try {
      reader_ = std::make_unique<pqxx::connection>(
          ReaderUrl(AdminUrl(), db().name()));
    } catch (const std::exception& e) {
      FAIL() << "cannot connect as nas_reader (" << e.what()
             << "); start PostgreSQL with scripts/pg_local.sh, which runs "
                "deploy/sql/roles.sql and reader_grants.sql";
    }
  }

  // The scratch database is dropped WITH (FORCE), which role nas may not
  // do to the reader's session.
  void TearDown() override {
    reader_.reset();
    StoreTest::TearDown();
  }

  // A search with two trials, one completed with two epochs, and a worker,
  // so that every table and view has rows: trial_counts from a fold after
  // the trials were added, trial_count_deltas from the changes after it.
  void Populate() {
    const int64_t search = NewSearch(2, 2);
    ASSERT_TRUE(store().FoldTrialCounts().ok());
    const nas::v1::TrialAssignment a = Lease("w");
    for (int epoch = 1; epoch <= 2; ++epoch) {
      nas::v1::EpochMetrics metrics;
      metrics.set_epoch(epoch);
      metrics.set_train_loss(1.0 / epoch);
      metrics.set_val_loss(1.0 / epoch);
      metrics.set_val_accuracy(0.5 + 0.1 * epoch);
      metrics.set_seconds(1);
      ASSERT_TRUE(
          store().RecordEpoch(Ref(a, "w"), metrics, absl::Seconds(30)).ok());
    }
    nas::v1::TrialMetrics final_metrics;
    final_metrics.set_val_accuracy(0.7);
    ASSERT_TRUE(store().CompleteTrial(Ref(a, "w"), final_metrics).ok());
    nas::v1::RegisterWorkerRequest worker;
    worker.set_host("h");
    ASSERT_TRUE(store().RegisterWorker(worker).ok());
    ASSERT_GT(search, 0);
    // A supernet version, as the checkpoint store (another library) writes
    // it.
    db().Query(
        "INSERT INTO checkpoints (search_id, version, parent_version, "
        "size, sha256) VALUES (" +
        std::to_string(search) + ", 1, 0, 1, repeat('0', 64))");
    db().Query(
        "INSERT INTO checkpoint_chunks (checkpoint_id, seq, data) "
        "SELECT id, 0, '\\x00' FROM checkpoints");
  }

  // Every table and view in schema public, as the controller sees them.
  std::vector<std::string> Relations() {
    std::vector<std::string> names;
    for (const auto& row :
         db().Query("SELECT c.relname FROM pg_class c JOIN pg_namespace n "
                    "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                    "AND c.relkind IN ('r', 'v', 'm', 'p') ORDER BY 1")) {
      names.push_back(row[0].c_str());
    }
    return names;
  }

  long Count(const std::string& relation) {
    pqxx::read_transaction tx(*reader_);
    return tx.exec1("SELECT count(*) FROM " + relation)[0].as<long>();
  }

  // Runs `sql` as the reader with the read-only default lifted, so that
  // only privileges stand in the way, and returns the SQLSTATE ("" on
  // success).
  std::string ReaderWriteState(const std::string& sql) {
    try {
      pqxx::work tx(*reader_);
      tx.exec0("SET LOCAL transaction_read_only = off");
      tx.exec(sql);
      tx.commit();
      return "";
    } catch (const pqxx::insufficient_privilege&) {
      // libpqxx 6 throws this class for exactly SQLSTATE 42501 but leaves
      // its sqlstate() empty.
      return kInsufficientPrivilege;
    } catch (const pqxx::sql_error& e) {
      return e.sqlstate();
    }
  }

  std::unique_ptr<pqxx::connection> reader_;
};

TEST_F(ReaderRoleTest, ControllerRoleIsNotSuperuserAndOwnsTheSchema) {
  const pqxx::result role = db().Query(
      "SELECT rolsuper, rolcreaterole, rolbypassrls, rolreplication "
      "FROM pg_roles WHERE rolname = current_user");
  ASSERT_EQ(role.size(), 1u);
  for (const auto& field : role[0]) {
    EXPECT_FALSE(field.as<bool>()) << field.name();
  }
  const pqxx::result foreign = db().Query(
      "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
      "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
      "AND pg_get_userbyid(c.relowner) <> current_user");
  EXPECT_TRUE(foreign.empty()) << foreign[0][0].c_str() << " is not ours";
}

TEST_F(ReaderRoleTest, ReaderIsNeitherSuperuserNorController) {
  pqxx::read_transaction tx(*reader_);
  const pqxx::row role = tx.exec1(
      "SELECT current_user, rolsuper, rolcreatedb, rolcreaterole, "
      "pg_has_role(current_user, 'nas', 'MEMBER') FROM pg_roles "
      "WHERE rolname = current_user");
  EXPECT_EQ(role[0].as<std::string>(), "nas_reader");
  for (int i = 1; i < 5; ++i) EXPECT_FALSE(role[i].as<bool>()) << i;
}

TEST_F(ReaderRoleTest, ReaderSelectsEveryTableAndView) {
  Populate();
  const std::vector<std::string> relations = Relations();
  for (const char* expected :
       {"searches", "trials", "trial_epochs", "workers", "schema_migrations",
        "trial_history", "best_trials", "epoch_metrics", "checkpoints",
        "checkpoint_chunks", "checkpoint_lineage", "trial_counts",
        "trial_count_deltas"}) {
    EXPECT_NE(std::find(relations.begin(), relations.end(), expected),
              relations.end())
        << expected;
  }
  for (const std::string& relation : relations) {
    const long controller =
        db().Query("SELECT count(*) FROM " + relation)[0][0].as<long>();
    EXPECT_GT(controller, 0) << relation << " was not populated";
    EXPECT_EQ(Count(relation), controller) << relation;
  }
  pqxx::read_transaction tx(*reader_);
  EXPECT_EQ(tx.exec1("SELECT rank FROM best_trials")[0].as<int>(), 1);
  EXPECT_EQ(tx.exec1("SELECT count(*) FROM epoch_metrics "
                     "WHERE current_attempt")[0]
                .as<int>(),
            2);
}

TEST_F(ReaderRoleTest, ReaderSelectsWhatLaterMigrationsCreate) {
  // What a future migration does, as the controller's role.
  db().Query(
      "CREATE TABLE later_table (x integer); "
      "INSERT INTO later_table VALUES (7); "
      "CREATE VIEW later_view AS SELECT x * 2 AS y FROM later_table");
  pqxx::read_transaction tx(*reader_);
  EXPECT_EQ(tx.exec1("SELECT x FROM later_table")[0].as<int>(), 7);
  EXPECT_EQ(tx.exec1("SELECT y FROM later_view")[0].as<int>(), 14);
}

TEST_F(ReaderRoleTest, ReaderSessionsStartReadOnly) {
  std::string state;
  try {
    pqxx::work tx(*reader_);
    tx.exec("DELETE FROM trials");
  } catch (const pqxx::sql_error& e) {
    state = e.sqlstate();
  }
  EXPECT_EQ(state, kReadOnlyTransaction);
}

TEST_F(ReaderRoleTest, ReaderCannotWriteEvenWithReadOnlyLifted) {
  Populate();
  const size_t relations = Relations().size();
  const std::string before =
      db().Query(
              "SELECT md5(string_agg(t::text, ',' ORDER BY id)) "
              "FROM trials t")[0][0]
          .c_str();
  const std::vector<std::string> writes = {
      "INSERT INTO searches (spec, max_trials, parallelism, max_attempts, "
      "objective_metric, objective_direction) "
      "VALUES ('{}', 1, 1, 1, 'val_accuracy', 'MAXIMIZE')",
      "UPDATE trials SET reason = 'x'",
      "DELETE FROM trials",
      "DELETE FROM trial_epochs",
      "DELETE FROM checkpoint_chunks",
      "UPDATE checkpoints SET sha256 = repeat('1', 64)",
      "TRUNCATE trials CASCADE",
      "TRUNCATE schema_migrations",
      "SELECT * FROM trials FOR UPDATE",
      "INSERT INTO workers (host) VALUES ('x')",
      "SELECT nextval('worker_id_seq')",
      "SELECT setval('worker_id_seq', 1000)",
      "CREATE TABLE mine (x integer)",
      "CREATE TEMP TABLE mine (x integer)",
      "CREATE VIEW mine AS SELECT 1",
      "CREATE SCHEMA mine",
      "DROP TABLE trial_epochs",
      "DROP VIEW trial_history",
      "ALTER TABLE trials ADD COLUMN x integer",
      "CREATE INDEX mine ON trials (reason)",
      "COMMENT ON TABLE trials IS 'x'",
      "COPY trials (reason) FROM PROGRAM 'true'",
  };
  for (const std::string& sql : writes) {
    EXPECT_EQ(ReaderWriteState(sql), kInsufficientPrivilege) << sql;
  }
  const std::string after =
      db().Query(
              "SELECT md5(string_agg(t::text, ',' ORDER BY id)) "
              "FROM trials t")[0][0]
          .c_str();
  EXPECT_EQ(after, before);
  EXPECT_EQ(Relations().size(), relations);
}

}  // namespace
}  // namespace nas::controller::testing
