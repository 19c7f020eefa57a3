#include "tests/local_postgres.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "tests/subprocess.h"

namespace nas::testing {
namespace {

constexpr char kScript[] = NAS_SOURCE_DIR "/scripts/pg_local.sh";
// pg_ctl itself waits at most 60 s; this bounds the whole script.
constexpr int kScriptTimeoutSeconds = 120;

}  // namespace

LocalPostgres::LocalPostgres() : port_(FreeLoopbackPort()) {
  // Under /tmp: the server's OS user must be able to traverse every parent.
  char tmpl[] = "/tmp/nas-pg-test-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    throw std::runtime_error("cannot create a data directory under /tmp");
  }
  data_dir_ = tmpl;
  url_ = "postgresql://nas:nas@127.0.0.1:" + std::to_string(port_) + "/nas";
}

LocalPostgres::~LocalPostgres() {
  std::string ignored;
  if (started_) Stop(&ignored);
  std::error_code error;
  std::filesystem::remove_all(data_dir_, error);
}

int LocalPostgres::RunScript(const std::string& args,
                             std::string* output) const {
  // Paths are ours (mkdtemp) and the port is a number: nothing to quote.
  const std::string command = "timeout " +
                              std::to_string(kScriptTimeoutSeconds) + " " +
                              kScript + " " + args + " 2>&1";
  output->clear();
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *output = "popen failed: " + command;
    return -1;
  }
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
    output->append(buffer, n);
  }
  const int status = pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool LocalPostgres::Start(std::string* error) {
  std::string output;
  // A port that was free when picked may have been taken since; the first
  // start may move to another one (the URL changes only before first use).
  for (int try_number = 0; try_number < 3; ++try_number) {
    const int status = RunScript(
        "start " + data_dir_ + " " + std::to_string(port_), &output);
    if (status == 0) {
      started_ = true;
      return true;
    }
    // The server's own reasons are in its log, not in the script's output.
    std::ifstream log(data_dir_ + "/server.log");
    std::stringstream server_log;
    server_log << log.rdbuf();
    output += "\n--- server.log ---\n" + server_log.str();
    const bool port_taken =
        output.find("could not bind") != std::string::npos ||
        output.find("already in use") != std::string::npos;
    if (started_ || !port_taken) break;
    port_ = FreeLoopbackPort();
    url_ = "postgresql://nas:nas@127.0.0.1:" + std::to_string(port_) + "/nas";
  }
  *error = "pg_local.sh start failed:\n" + output;
  return false;
}

bool LocalPostgres::Stop(std::string* error) {
  std::string output;
  if (RunScript("stop " + data_dir_, &output) != 0) {
    *error = "pg_local.sh stop failed:\n" + output;
    return false;
  }
  return true;
}

}  // namespace nas::testing
