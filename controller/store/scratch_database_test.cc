// The scratch database every store test runs on must drop cleanly even while
// a session of another role is still attached to it. PostgreSQL's
// autovacuum workers and a reader session that is still closing are such
// sessions; before the test role was granted pg_signal_backend, DROP
// DATABASE ... WITH (FORCE) failed on them and a random store test failed
// in its teardown ("must be a member of the role whose process is being
// terminated").
#include <memory>
#include <string>

#include "controller/store/store_test_util.h"
#include "gtest/gtest.h"
#include "pqxx/pqxx"

namespace nas::controller::testing {
namespace {

bool DatabaseExists(const std::string& name) {
  pqxx::connection admin(AdminUrl());
  pqxx::nontransaction tx(admin);
  return !tx.exec_params("SELECT 1 FROM pg_database WHERE datname = $1", name)
              .empty();
}

TEST(ScratchDatabaseTest, DropsWhileAnotherRoleIsConnected) {
  const std::string admin_url = AdminUrl();
  ASSERT_FALSE(admin_url.empty()) << kNoDatabaseHelp;
  absl::StatusOr<std::unique_ptr<ScratchDatabase>> db =
      ScratchDatabase::Create(admin_url);
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string name = (*db)->name();

  // Stays open across the drop: the destructor must end this session.
  pqxx::connection reader(ReaderUrl(admin_url, name));
  {
    pqxx::nontransaction tx(reader);
    ASSERT_EQ(tx.exec1("SELECT current_user")[0].as<std::string>(),
              "nas_reader");
  }
  db->reset();  // a failed drop is an ADD_FAILURE inside the destructor
  EXPECT_FALSE(DatabaseExists(name)) << name << " was not dropped";
}

}  // namespace
}  // namespace nas::controller::testing
