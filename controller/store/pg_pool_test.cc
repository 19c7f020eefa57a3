// How PgPool runs a caller's statements: in a transaction (Transact) or each
// on its own, without BEGIN and COMMIT (Read, WriteOne).
#include "controller/store/pg_pool.h"

#include <memory>
#include <string>

#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace nas::controller::testing {
namespace {

class PgPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string admin_url = AdminUrl();
    if (admin_url.empty()) GTEST_SKIP() << kNoDatabaseHelp;
    absl::StatusOr<std::unique_ptr<ScratchDatabase>> db =
        ScratchDatabase::Create(admin_url);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = *std::move(db);
    pool_ = std::make_unique<PgPool>(db_->url(), 1);
  }

  std::unique_ptr<ScratchDatabase> db_;
  std::unique_ptr<PgPool> pool_;
};

// Outside a transaction block a statement's transaction starts with it, so
// now() (the transaction's start) is the statement's own start time.
constexpr char kAlone[] = "SELECT now() = statement_timestamp()";

TEST_F(PgPoolTest, WriteOneRunsItsStatementAsItsOwnTransaction) {
  ASSERT_TRUE(pool_
                  ->Transact([](pqxx::work& tx) -> absl::Status {
                    tx.exec0("CREATE TABLE t (v int)");
                    tx.commit();
                    return absl::OkStatus();
                  })
                  .ok());
  absl::StatusOr<bool> alone =
      pool_->WriteOne([](pqxx::transaction_base& tx) -> absl::StatusOr<bool> {
        tx.exec0("INSERT INTO t VALUES (1)");
        return tx.exec1(kAlone)[0].as<bool>();
      });
  ASSERT_TRUE(alone.ok()) << alone.status();
  EXPECT_TRUE(*alone) << "WriteOne opened a transaction block";
  // Committed without a COMMIT: another connection sees the row.
  pqxx::connection other(db_->url());
  pqxx::nontransaction read(other);
  EXPECT_EQ(read.exec1("SELECT count(*) FROM t")[0].as<int>(), 1);

  // Transact's statements follow its BEGIN.
  absl::StatusOr<bool> in_block =
      pool_->Transact([](pqxx::work& tx) -> absl::StatusOr<bool> {
        return tx.exec1(kAlone)[0].as<bool>();
      });
  ASSERT_TRUE(in_block.ok()) << in_block.status();
  EXPECT_FALSE(*in_block);
}

}  // namespace
}  // namespace nas::controller::testing
