// How nas-controller, nas-worker and nasctl start, as real processes: a
// database that cannot be opened is one clear line and a non-zero exit (no
// crash, no password); a database that comes up late is waited for; ports
// are validated and never shared between two controllers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "tests/local_postgres.h"
#include "tests/subprocess.h"

namespace nas::testing {
namespace {

using std::chrono::seconds;

constexpr char kPassword[] = "s3cret-pw";

class ControllerStartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nas-start-XXXXXX";
    log_dir_ = mkdtemp(tmpl);
  }

  // Runs `argv` to its end (at most `timeout`) and returns its exit status
  // (128 + signal when killed by one); -1 when it was still running.
  int RunToExit(std::vector<std::string> argv, seconds timeout,
                std::string* log) {
    Subprocess process(std::move(argv),
                       log_dir_ + "/run-" + std::to_string(runs_++) + ".log");
    const int status = process.Wait(timeout);
    *log = process.ReadLog();
    return status;
  }

  std::vector<std::string> ControllerArgv(const std::string& listen,
                                          const std::string& url) {
    return {NAS_CONTROLLER_BINARY, "--listen=" + listen,
            "--database_url=" + url, "--plaintext"};
  }

  std::string log_dir_;
  int runs_ = 0;
};

std::string Loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

TEST_F(ControllerStartTest, UnreachableDatabaseIsOneLineAndExitOne) {
  // Port 1 refuses connections; --database_wait_seconds=0 tries once.
  const std::string url =
      std::string("postgresql://nas:") + kPassword + "@127.0.0.1:1/nas";
  std::vector<std::string> argv =
      ControllerArgv(Loopback(FreeLoopbackPort()), url);
  argv.push_back("--database_wait_seconds=0");
  std::string log;
  const int status = RunToExit(argv, seconds(60), &log);
  EXPECT_EQ(status, 1) << log;  // not 139 (SIGSEGV) nor any signal
  EXPECT_NE(log.find("cannot start: cannot open the database "
                     "postgresql://nas:***@127.0.0.1:1/nas: "),
            std::string::npos)
      << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
}

TEST_F(ControllerStartTest, MalformedDatabaseUrlIsAUsageError) {
  std::string log;
  const int status =
      RunToExit(ControllerArgv(Loopback(FreeLoopbackPort()), "not-a-url"),
                seconds(30), &log);
  EXPECT_EQ(status, 2) << log;
  EXPECT_NE(log.find("database URL \"not-a-url\" is malformed"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("expected postgresql://"), std::string::npos) << log;
}

TEST_F(ControllerStartTest, WrongPasswordFailsAtOnceWithoutThePassword) {
  LocalPostgres postgres;
  std::string error;
  ASSERT_TRUE(postgres.Start(&error)) << error;
  const std::string url = "postgresql://nas:" + std::string(kPassword) +
                          "@127.0.0.1:" + std::to_string(postgres.port()) +
                          "/nas";
  // The default wait (60 s) must not apply: waiting does not fix a
  // password. The bound below is generous for a loaded machine, yet well
  // under the wait.
  std::string log;
  const int status = RunToExit(
      ControllerArgv(Loopback(FreeLoopbackPort()), url), seconds(45), &log);
  EXPECT_EQ(status, 1) << log;
  EXPECT_NE(log.find("password authentication failed"), std::string::npos)
      << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  EXPECT_EQ(log.find("waiting up to"), std::string::npos) << log;
}

TEST_F(ControllerStartTest, WaitsForADatabaseThatComesUpLater) {
  LocalPostgres postgres;
  std::string error;
  // Initialize it (roles, database) once, then take it down.
  ASSERT_TRUE(postgres.Start(&error)) << error;
  ASSERT_TRUE(postgres.Stop(&error)) << error;
  // While the server is down its port is free, and a test running beside
  // this one could be handed it (FreeLoopbackPort) and take it: then the
  // restart below failed within seconds. Bound here, the port is not handed
  // out; a connection to it is refused, as with no server.
  const int reserved = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(reserved, 0);
  const int on = 1;
  setsockopt(reserved, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(postgres.port()));
  ASSERT_EQ(
      bind(reserved, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0)
      << "port " << postgres.port() << " was taken while the server was down";

  const std::string listen = Loopback(FreeLoopbackPort());
  std::vector<std::string> argv = ControllerArgv(listen, postgres.url());
  argv.push_back("--database_wait_seconds=300");
  Subprocess controller(argv, log_dir_ + "/waiting-controller.log");
  ASSERT_TRUE(WaitFor(
      [&] {
        return controller.ReadLog().find("waiting up to") != std::string::npos;
      },
      seconds(60)))
      << controller.ReadLog();
  EXPECT_TRUE(controller.running()) << controller.ReadLog();
  EXPECT_EQ(controller.ReadLog().find("nas:nas@"), std::string::npos)
      << controller.ReadLog();

  close(reserved);
  ASSERT_TRUE(postgres.Start(&error)) << error;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      nas::client::MakeChannel(listen, {.plaintext = true});
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = nas::v1::SearchService::NewStub(*channel);
  EXPECT_TRUE(WaitFor(
      [&] {
        nas::v1::ListSearchesResponse response;
        return ListSearches(*stub, &response).ok();
      },
      seconds(120)))
      << controller.ReadLog();
  EXPECT_TRUE(controller.running()) << controller.ReadLog();
  controller.Stop();
}

TEST_F(ControllerStartTest, BusyPortIsRefusedAndTheFirstKeepsServing) {
  Cluster cluster;
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();
  std::string log;
  const int status = RunToExit(
      ControllerArgv(cluster.address(), cluster.db().url()), seconds(60), &log);
  EXPECT_EQ(status, 1) << log;
  EXPECT_NE(log.find("cannot listen on " + cluster.address() +
                     ": the port is in use"),
            std::string::npos)
      << log;
  nas::v1::ListSearchesResponse response;
  grpc::Status listed = ListSearches(cluster.search(), &response);
  EXPECT_TRUE(listed.ok()) << listed.error_message();
  EXPECT_TRUE(cluster.controller()->running()) << cluster.Logs();
}

TEST_F(ControllerStartTest, InvalidListenAddressesAreUsageErrors) {
  for (const std::string listen :
       {"127.0.0.1:99999", "127.0.0.1", "127.0.0.1:-5", "127.0.0.1:http"}) {
    std::string log;
    // The database is never reached: the address is checked first.
    const int status = RunToExit(
        ControllerArgv(listen, "postgresql://nas:nas@127.0.0.1:1/nas"),
        seconds(30), &log);
    EXPECT_EQ(status, 2) << listen << "\n" << log;
    EXPECT_NE(log.find("--listen: \"" + listen + "\""), std::string::npos)
        << log;
    EXPECT_NE(log.find("expected HOST:PORT"), std::string::npos) << log;
  }
}

TEST_F(ControllerStartTest, InvalidControllerAddressesAreUsageErrors) {
  for (const std::string target :
       {"127.0.0.1", "127.0.0.1:99999", "127.0.0.1:0"}) {
    std::string log;
    int status = RunToExit({NAS_WORKER_BINARY, "--controller=" + target,
                            "--plaintext", "--device=cpu", "--data_dir=/tmp"},
                           seconds(30), &log);
    EXPECT_EQ(status, 2) << "worker " << target << "\n" << log;
    EXPECT_NE(log.find("--controller: \"" + target + "\""), std::string::npos)
        << log;
    status = RunToExit(
        {NAS_NASCTL_BINARY, "--controller", target, "--plaintext", "searches"},
        seconds(30), &log);
    EXPECT_EQ(status, 2) << "nasctl " << target << "\n" << log;
    EXPECT_NE(log.find("--controller: \"" + target + "\""), std::string::npos)
        << log;
  }
}

}  // namespace
}  // namespace nas::testing
