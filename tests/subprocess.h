// Runs the project's binaries as real child processes in tests: start with
// arguments and extra environment, send signals, wait with a timeout. Output
// goes to a log file that tests print when they fail.
#ifndef NAS_TESTS_SUBPROCESS_H_
#define NAS_TESTS_SUBPROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace nas::testing {

class Subprocess {
 public:
  // Starts `argv[0]` with `argv`; stdout and stderr go to `log_path`.
  Subprocess(std::vector<std::string> argv, std::string log_path);
  // Kills (SIGKILL) and reaps the process if it still runs.
  ~Subprocess();
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  void Signal(int signal);
  // Waits up to `timeout` for exit; returns the exit status, or -1 if it
  // still runs (then it is left running).
  int Wait(std::chrono::milliseconds timeout);
  // SIGTERM, then SIGKILL if it has not exited after `grace`.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(5));
  std::string ReadLog() const;
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  int exit_status_ = -1;
  std::string log_path_;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int FreeLoopbackPort();

}  // namespace nas::testing

#endif  // NAS_TESTS_SUBPROCESS_H_
