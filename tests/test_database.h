// A fresh, uniquely named PostgreSQL database per test, created through the
// admin URL in NAS_TEST_DATABASE_URL (scripts/run_tests.sh starts a private
// server and sets it) and dropped afterwards.
#ifndef NAS_TESTS_TEST_DATABASE_H_
#define NAS_TESTS_TEST_DATABASE_H_

#include <string>

namespace nas::testing {

class TestDatabase {
 public:
  // Throws std::runtime_error naming the problem when NAS_TEST_DATABASE_URL
  // is unset or the server refuses.
  TestDatabase();
  ~TestDatabase();
  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  const std::string& url() const { return url_; }
  const std::string& name() const { return name_; }

  // Runs one query and returns the first column of the first row as text
  // ("" when there are no rows).
  std::string QueryScalar(const std::string& sql) const;

 private:
  std::string admin_url_;
  std::string name_;
  std::string url_;
};

}  // namespace nas::testing

#endif  // NAS_TESTS_TEST_DATABASE_H_
