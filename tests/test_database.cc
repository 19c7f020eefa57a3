#include "tests/test_database.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <pqxx/pqxx>
#include <stdexcept>

namespace nas::testing {
namespace {

// Replaces the database name (the path after the last '/') in a URL.
std::string WithDatabase(const std::string& url, const std::string& name) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  const size_t query = url.find('?', slash == std::string::npos ? 0 : slash);
  std::string base = slash == std::string::npos ? url : url.substr(0, slash);
  std::string params = query == std::string::npos ? "" : url.substr(query);
  return base + "/" + name + params;
}

}  // namespace

TestDatabase::TestDatabase() {
  const char* admin = std::getenv("NAS_TEST_DATABASE_URL");
  if (!admin || !*admin) {
    throw std::runtime_error(
        "NAS_TEST_DATABASE_URL is not set: run the tests through "
        "scripts/run_tests.sh, which starts PostgreSQL and sets it");
  }
  admin_url_ = admin;
  static std::atomic<int> counter{0};
  name_ = "nas_e2e_" + std::to_string(getpid()) + "_" +
          std::to_string(counter++);
  pqxx::connection conn(admin_url_);
  pqxx::nontransaction tx(conn);
  tx.exec("DROP DATABASE IF EXISTS " + name_);
  tx.exec("CREATE DATABASE " + name_);
  // As in the service's database (deploy/sql/reader_grants.sql); the
  // reader's other grants come from template1.
  tx.exec("REVOKE TEMPORARY ON DATABASE " + name_ + " FROM PUBLIC");
  url_ = WithDatabase(admin_url_, name_);
}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction tx(conn);
    tx.exec("DROP DATABASE IF EXISTS " + name_ + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Best effort: a leftover test database is harmless.
  }
}

std::string TestDatabase::QueryScalar(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  pqxx::result r = tx.exec(sql);
  if (r.empty() || r[0][0].is_null()) return "";
  return r[0][0].c_str();
}

}  // namespace nas::testing
