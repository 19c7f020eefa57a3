// nas-controller: parses flags (falling back to environment variables) into
// ControllerOptions and serves until SIGINT/SIGTERM.
#include <csignal>
#include <cstdint>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "common/env_defaults.h"
#include "common/release_mutexes.h"
#include "controller/controller_server.h"
#include "spdlog/spdlog.h"

using nas::EnvBoolOr;
using nas::EnvIntOr;
using nas::EnvOr;

ABSL_FLAG(std::string, listen, EnvOr("NAS_LISTEN", "127.0.0.1:50051"),
          "address to serve gRPC on (env NAS_LISTEN)");
ABSL_FLAG(std::string, database_url, EnvOr("NAS_DATABASE_URL", ""),
          "PostgreSQL URL, e.g. postgresql://nas:nas@127.0.0.1:55432/nas, or "
          "'memory:' to keep everything in this process (lost when it stops; "
          "for tests, demos and benchmarks) (env NAS_DATABASE_URL)");
ABSL_FLAG(int, database_wait_seconds, EnvIntOr("NAS_DATABASE_WAIT_SECONDS", 60),
          "at startup, how long to keep retrying a database that cannot be "
          "reached (it may still be starting); 0 tries once. A refused login "
          "or a malformed URL fails at once (env NAS_DATABASE_WAIT_SECONDS)");
ABSL_FLAG(int, lease_seconds, EnvIntOr("NAS_LEASE_SECONDS", 60),
          "how long a trial lease lasts without a worker heartbeat: the time "
          "to notice a dead worker, not a bound on an epoch (workers renew "
          "every third of it while they train) (env NAS_LEASE_SECONDS)");
ABSL_FLAG(int, db_pool_size, EnvIntOr("NAS_DB_POOL_SIZE", 8),
          "database connections (env NAS_DB_POOL_SIZE)");
ABSL_FLAG(int, max_message_bytes, EnvIntOr("NAS_MAX_MESSAGE_BYTES", 4 << 20),
          "largest request accepted; checkpoint uploads need a little more "
          "than 1 MiB (env NAS_MAX_MESSAGE_BYTES)");
ABSL_FLAG(int, max_checkpoint_mib, EnvIntOr("NAS_MAX_CHECKPOINT_MIB", 1024),
          "largest checkpoint (trained weights) a worker may upload, in MiB; "
          "the controller holds an upload in memory while it stores it "
          "(env NAS_MAX_CHECKPOINT_MIB)");
ABSL_FLAG(std::string, tls_cert, EnvOr("NAS_TLS_CERT", ""),
          "PEM certificate chain of this server (env NAS_TLS_CERT)");
ABSL_FLAG(std::string, tls_key, EnvOr("NAS_TLS_KEY", ""),
          "PEM private key of --tls_cert (env NAS_TLS_KEY)");
ABSL_FLAG(std::string, tls_client_ca, EnvOr("NAS_TLS_CLIENT_CA", ""),
          "PEM CA certificates; when set, every client must present a "
          "certificate it signed (mutual TLS) (env NAS_TLS_CLIENT_CA)");
ABSL_FLAG(bool, plaintext, EnvBoolOr("NAS_PLAINTEXT", false),
          "serve without TLS; only on a loopback --listen address unless "
          "--allow_remote_plaintext (env NAS_PLAINTEXT)");
ABSL_FLAG(bool, allow_remote_plaintext,
          EnvBoolOr("NAS_ALLOW_REMOTE_PLAINTEXT", false),
          "with --plaintext: allow a non-loopback --listen address, for a "
          "private network only (env NAS_ALLOW_REMOTE_PLAINTEXT)");
ABSL_FLAG(std::string, http_listen, EnvOr("NAS_HTTP_LISTEN", ""),
          "address to serve HTTP on: /metrics for Prometheus (role monitor "
          "or admin when tokens are on) and /healthz; HTTPS with --tls_cert "
          "unless --plaintext; empty: off (env NAS_HTTP_LISTEN)");
ABSL_FLAG(std::string, auth_tokens_file, EnvOr("NAS_AUTH_TOKENS_FILE", ""),
          "file of '<name> <role> <token>' lines (role client, worker, monitor "
          "or admin); required unless --plaintext on loopback "
          "(env NAS_AUTH_TOKENS_FILE)");

namespace {
volatile std::sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }
}  // namespace

int main(int argc, char** argv) {
  nas::UseReleaseMutexes();
  absl::SetProgramUsageMessage(
      "Runs the NAS controller: search strategies, trial store, gRPC API.\n"
      "  nas-controller --database_url=postgresql://... [--listen=HOST:PORT]\n"
      "    (--tls_cert=F --tls_key=F [--tls_client_ca=F] "
      "--auth_tokens_file=F | --plaintext)\n"
      "See docs/security.md.");
  absl::ParseCommandLine(argc, argv);
  // A boolean NAS_* variable that does not parse would otherwise leave its
  // flag at the default without a word: every EnvBoolOr name above.
  if (absl::Status env =
          nas::CheckEnvBools({"NAS_PLAINTEXT", "NAS_ALLOW_REMOTE_PLAINTEXT"});
      !env.ok()) {
    spdlog::error("{}", std::string(env.message()));
    return 2;
  }

  nas::controller::ControllerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.database_url = absl::GetFlag(FLAGS_database_url);
  options.database_wait =
      absl::Seconds(absl::GetFlag(FLAGS_database_wait_seconds));
  options.lease = absl::Seconds(absl::GetFlag(FLAGS_lease_seconds));
  options.db_pool_size = absl::GetFlag(FLAGS_db_pool_size);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.max_checkpoint_bytes =
      int64_t{absl::GetFlag(FLAGS_max_checkpoint_mib)} << 20;
  options.security.tls_cert = absl::GetFlag(FLAGS_tls_cert);
  options.security.tls_key = absl::GetFlag(FLAGS_tls_key);
  options.security.tls_client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  options.security.plaintext = absl::GetFlag(FLAGS_plaintext);
  options.security.allow_remote_plaintext =
      absl::GetFlag(FLAGS_allow_remote_plaintext);
  options.security.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  options.http_listen = absl::GetFlag(FLAGS_http_listen);
  if (options.database_url.empty()) {
    spdlog::error("--database_url (or NAS_DATABASE_URL) is required");
    return 2;
  }
  if (options.lease < absl::Seconds(1) || options.db_pool_size < 1 ||
      options.max_message_bytes < 1024 ||
      options.database_wait < absl::ZeroDuration() ||
      options.max_checkpoint_bytes < 1) {
    spdlog::error(
        "--lease_seconds, --db_pool_size and --max_checkpoint_mib must be "
        ">= 1, --max_message_bytes >= 1024, --database_wait_seconds >= 0");
    return 2;
  }

  auto server = nas::controller::ControllerServer::Start(options);
  if (!server.ok()) {
    spdlog::error("cannot start: {}", std::string(server.status().message()));
    return absl::IsInvalidArgument(server.status()) ? 2 : 1;
  }
  spdlog::info("nas-controller serving on port {} (lease {}s)",
               (*server)->port(), absl::ToInt64Seconds(options.lease));

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(200));
  spdlog::info("shutting down");
  (*server)->Shutdown();
  return 0;
}
