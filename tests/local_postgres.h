// A private PostgreSQL server for tests and benches that stop and start the
// database under a running service (scripts/pg_local.sh): a fresh data
// directory under /tmp and a free loopback port. It never touches the shared
// server at NAS_TEST_DATABASE_URL, which other tests use concurrently.
#ifndef NAS_TESTS_LOCAL_POSTGRES_H_
#define NAS_TESTS_LOCAL_POSTGRES_H_

#include <string>

namespace nas::testing {

class LocalPostgres {
 public:
  // Creates an empty data directory and picks a port; starts nothing.
  LocalPostgres();
  // Stops the server if it runs and removes its data directory.
  ~LocalPostgres();
  LocalPostgres(const LocalPostgres&) = delete;
  LocalPostgres& operator=(const LocalPostgres&) = delete;

  // Starts the server (initializing the directory the first time) and waits
  // until it accepts connections; bounded by a timeout. Starting a running
  // server is a no-op. On failure returns false and sets *error to the
  // script's output.
  bool Start(std::string* error);
  // pg_ctl stop -m fast: open connections are terminated. Bounded.
  bool Stop(std::string* error);

  // The admin URL (role `nas` with CREATEDB, database `nas`); fixed for the
  // object's lifetime, valid while the server runs.
  const std::string& url() const { return url_; }
  int port() const { return port_; }
  const std::string& data_dir() const { return data_dir_; }

 private:
  // Runs scripts/pg_local.sh with `args` under `timeout`; returns its exit
  // status and sets *output to its stdout and stderr.
  int RunScript(const std::string& args, std::string* output) const;

  std::string data_dir_;
  int port_;
  std::string url_;
  bool started_ = false;  // ever started: the port is fixed from then on
};

}  // namespace nas::testing

#endif  // NAS_TESTS_LOCAL_POSTGRES_H_
