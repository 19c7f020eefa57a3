// Security end to end: TLS and mutual TLS handshakes, bearer tokens and
// roles, search ownership, tokens kept out of logs, startup rules, and
// oversized requests, against real nas-controller and nas-worker processes.
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "gtest/gtest.h"
#include "tests/cluster.h"
#include "tests/cluster_calls.h"
#include "tests/test_certs.h"

namespace nas::testing {
namespace {

constexpr char kAliceToken[] = "alice-secret-token-0001";
constexpr char kBobToken[] = "bob-secret-token-0002";
constexpr char kWorkerToken[] = "worker-secret-token-0003";
constexpr char kAdminToken[] = "admin-secret-token-0004";

constexpr char kSearch[] = R"(
name: secure-nb201
seed: 11
dataset: {name: cifar10}
space: {nb201: {}}
strategy: random
objectives: [{metric: val_accuracy, direction: maximize}]
budget: {max_trials: 8, parallelism: 2, max_attempts: 2}
training: {epochs: 1}
)";

nas::v1::SearchSpec Spec() { return ParseSpec(kSearch); }

grpc::ClientContext* WithDeadline(grpc::ClientContext* context) {
  context->set_deadline(std::chrono::system_clock::now() +
                        std::chrono::seconds(10));
  return context;
}

// One client's view of the service: both stubs over one channel.
struct Client {
  std::unique_ptr<nas::v1::SearchService::Stub> search_api;
  std::unique_ptr<nas::v1::WorkerService::Stub> worker_api;

  grpc::StatusCode Create(nas::v1::Search* out = nullptr) {
    nas::v1::Search search;
    grpc::StatusCode code =
        CreateSearch(*search_api, Spec(), &search).error_code();
    if (out) *out = search;
    return code;
  }
  grpc::StatusCode Get(int64_t id, nas::v1::Search* out = nullptr) {
    nas::v1::Search search;
    grpc::StatusCode code = GetSearch(*search_api, id, &search).error_code();
    if (out) *out = search;
    return code;
  }
  grpc::StatusCode List(nas::v1::ListSearchesResponse* out = nullptr) {
    nas::v1::ListSearchesResponse response;
    grpc::StatusCode code = ListSearches(*search_api, &response).error_code();
    if (out) *out = response;
    return code;
  }
  grpc::StatusCode Cancel(int64_t id) {
    nas::v1::Search response;
    return CancelSearch(*search_api, id, &response).error_code();
  }
  grpc::StatusCode Trials(int64_t id) {
    grpc::ClientContext context;
    nas::v1::ListTrialsRequest request;
    request.set_search_id(id);
    nas::v1::ListTrialsResponse response;
    return search_api->ListTrials(WithDeadline(&context), request, &response)
        .error_code();
  }
  // ExtendSearch, EnqueueTrials, ArchiveSearch and DeleteSearch (forced) on
  // search `id`: each call's code, in that order.
  std::vector<grpc::StatusCode> Manage(int64_t id) {
    std::vector<grpc::StatusCode> codes;
    {
      grpc::ClientContext context;
      nas::v1::ExtendSearchRequest request;
      request.set_search_id(id);
      request.set_max_trials(1000);
      nas::v1::Search response;
      codes.push_back(
          search_api->ExtendSearch(WithDeadline(&context), request, &response)
              .error_code());
    }
    {
      grpc::ClientContext context;
      nas::v1::EnqueueTrialsRequest request;
      request.set_search_id(id);
      request.add_architectures()->set_text(
          "stage1.depth=1 stage1.width=8 stage1.layer1.op=conv3x3");
      nas::v1::EnqueueTrialsResponse response;
      codes.push_back(
          search_api->EnqueueTrials(WithDeadline(&context), request, &response)
              .error_code());
    }
    {
      grpc::ClientContext context;
      nas::v1::ArchiveSearchRequest request;
      request.set_search_id(id);
      request.set_archived(true);
      nas::v1::Search response;
      codes.push_back(
          search_api->ArchiveSearch(WithDeadline(&context), request, &response)
              .error_code());
    }
    {
      grpc::ClientContext context;
      nas::v1::DeleteSearchRequest request;
      request.set_search_id(id);
      request.set_force(true);
      nas::v1::DeleteSearchResponse response;
      codes.push_back(
          search_api->DeleteSearch(WithDeadline(&context), request, &response)
              .error_code());
    }
    return codes;
  }
  grpc::StatusCode Register() {
    std::string worker_id;
    return RegisterWorker(*worker_api, "test", &worker_id).error_code();
  }
  grpc::StatusCode Acquire() {
    nas::v1::AcquireTrialResponse response;
    return AcquireTrial(*worker_api, "w-1", /*wait_ms=*/0, &response)
        .error_code();
  }
  // A well-formed upload for a lease nobody holds.
  grpc::StatusCode Upload() {
    grpc::ClientContext context;
    nas::v1::UploadCheckpointResponse response;
    auto writer =
        worker_api->UploadCheckpoint(WithDeadline(&context), &response);
    nas::v1::UploadCheckpointRequest message;
    nas::v1::UploadHeader* header = message.mutable_header();
    header->set_worker_id("w-1");
    header->set_trial_id(999999);
    header->set_attempt(1);
    header->set_size(1);
    // SHA-256 of "x".
    header->set_sha256(
        "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881");
    message.set_data("x");
    writer->Write(message);
    writer->WritesDone();
    return writer->Finish().error_code();
  }
  grpc::StatusCode Fetch(int64_t search_id) {
    grpc::ClientContext context;
    nas::v1::FetchCheckpointRequest request;
    request.set_worker_id("w-1");
    request.set_search_id(search_id);
    request.set_version(1);
    auto reader = worker_api->FetchCheckpoint(WithDeadline(&context), request);
    nas::v1::CheckpointChunk chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish().error_code();
  }
};

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/nas-sec-XXXXXX";
    dir_ = mkdtemp(tmpl);
    std::string error;
    ASSERT_TRUE(MakeTestCerts(dir_, &certs_, &error)) << error;
    tokens_file_ = dir_ + "/tokens";
    std::ofstream(tokens_file_) << "# name role token\n"
                                << "alice client " << kAliceToken << "\n"
                                << "bob   client " << kBobToken << "\n"
                                << "w1    worker " << kWorkerToken << "\n"
                                << "root  admin  " << kAdminToken << "\n";
    worker_token_file_ = dir_ + "/worker.token";
    std::ofstream(worker_token_file_) << kWorkerToken << "\n";
  }

  // TLS (and, with `mtls`, required client certificates) plus tokens; the
  // harness itself connects as admin.
  ClusterOptions SecureOptions(bool mtls) const {
    ClusterOptions options;
    options.controller_flags = {"--tls_cert=" + certs_.server_cert,
                                "--tls_key=" + certs_.server_key,
                                "--auth_tokens_file=" + tokens_file_};
    if (mtls)
      options.controller_flags.push_back("--tls_client_ca=" + certs_.ca);
    options.client_security = As(kAdminToken, mtls);
    return options;
  }

  nas::client::ChannelSecurity As(const std::string& token,
                                  bool client_cert) const {
    nas::client::ChannelSecurity security;
    security.tls_ca = certs_.ca;
    security.token = token;
    if (client_cert) {
      security.tls_cert = certs_.client_cert;
      security.tls_key = certs_.client_key;
    }
    return security;
  }

  static Client Connect(Cluster& cluster,
                        const nas::client::ChannelSecurity& security) {
    std::shared_ptr<grpc::Channel> channel = cluster.Channel(security);
    return Client{nas::v1::SearchService::NewStub(channel),
                  nas::v1::WorkerService::NewStub(channel)};
  }

  std::string dir_;
  TestCerts certs_;
  std::string tokens_file_;
  std::string worker_token_file_;
};

TEST_F(SecurityTest, TokensAndRolesOverTls) {
  Cluster cluster(SecureOptions(/*mtls=*/false));
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();

  // TLS is required: a plaintext client never gets an answer.
  nas::client::ChannelSecurity plaintext;
  plaintext.plaintext = true;
  plaintext.token = kAdminToken;
  EXPECT_EQ(Connect(cluster, plaintext).List(), grpc::StatusCode::UNAVAILABLE);

  Client nobody = Connect(cluster, As("", false));
  Client forger = Connect(cluster, As("alice-secret-token-0009", false));
  Client alice = Connect(cluster, As(kAliceToken, false));
  Client bob = Connect(cluster, As(kBobToken, false));
  Client worker = Connect(cluster, As(kWorkerToken, false));
  Client admin = Connect(cluster, As(kAdminToken, false));

  // The health service stays open to probes without a token (TLS still).
  {
    auto health =
        grpc::health::v1::Health::NewStub(cluster.Channel(As("", false)));
    grpc::health::v1::HealthCheckResponse serving;
    grpc::ClientContext context;
    ASSERT_TRUE(health->Check(WithDeadline(&context), {}, &serving).ok());
    EXPECT_EQ(serving.status(),
              grpc::health::v1::HealthCheckResponse::SERVING);
  }

  for (Client* c : {&nobody, &forger}) {
    EXPECT_EQ(c->List(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(c->Create(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(c->Register(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(c->Acquire(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(c->Upload(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(c->Fetch(1), grpc::StatusCode::UNAUTHENTICATED);
  }

  nas::v1::Search mine;
  ASSERT_EQ(alice.Create(&mine), grpc::StatusCode::OK) << cluster.Logs();
  EXPECT_EQ(mine.owner(), "alice");

  // Workers may not create or read searches; clients may not take work.
  EXPECT_EQ(worker.Create(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(worker.Get(mine.id()), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(worker.List(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(worker.Register(), grpc::StatusCode::OK);
  EXPECT_EQ(alice.Register(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(alice.Acquire(), grpc::StatusCode::PERMISSION_DENIED);
  // Checkpoints move between workers and the controller only.
  EXPECT_EQ(alice.Upload(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(alice.Fetch(mine.id()), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(worker.Upload(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(worker.Fetch(mine.id()), grpc::StatusCode::NOT_FOUND);

  // Clients see only their own searches; to others they do not exist.
  EXPECT_EQ(alice.Get(mine.id()), grpc::StatusCode::OK);
  EXPECT_EQ(bob.Get(mine.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bob.Trials(mine.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bob.Cancel(mine.id()), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(bob.Manage(mine.id()),
            std::vector<grpc::StatusCode>(4, grpc::StatusCode::NOT_FOUND));
  EXPECT_EQ(worker.Manage(mine.id()),
            std::vector<grpc::StatusCode>(
                4, grpc::StatusCode::PERMISSION_DENIED));
  nas::v1::ListSearchesResponse listed;
  ASSERT_EQ(bob.List(&listed), grpc::StatusCode::OK);
  EXPECT_EQ(listed.searches_size(), 0);
  nas::v1::Search bobs;
  ASSERT_EQ(bob.Create(&bobs), grpc::StatusCode::OK);
  ASSERT_EQ(alice.List(&listed), grpc::StatusCode::OK);
  ASSERT_EQ(listed.searches_size(), 1);
  EXPECT_EQ(listed.searches(0).id(), mine.id());

  // Admins do everything, with every search.
  ASSERT_EQ(admin.List(&listed), grpc::StatusCode::OK);
  EXPECT_EQ(listed.searches_size(), 2);
  EXPECT_EQ(admin.Get(mine.id()), grpc::StatusCode::OK);
  EXPECT_EQ(admin.Register(), grpc::StatusCode::OK);
  EXPECT_EQ(admin.Cancel(bobs.id()), grpc::StatusCode::OK);
  EXPECT_EQ(alice.Cancel(mine.id()), grpc::StatusCode::OK);

  // nasctl: TLS from --tls_ca, the token from --token_file or NAS_TOKEN.
  const std::string alice_token_file = dir_ + "/alice.token";
  std::ofstream(alice_token_file) << kAliceToken << "\n";
  {
    Subprocess nasctl(
        {NAS_NASCTL_BINARY, "--controller", cluster.address(), "--tls_ca",
         certs_.ca, "--token_file", alice_token_file, "-o", "json", "searches"},
        dir_ + "/nasctl-alice.log");
    EXPECT_EQ(nasctl.Wait(std::chrono::seconds(20)), 0) << nasctl.ReadLog();
    EXPECT_TRUE(absl::StrContains(nasctl.ReadLog(), "\"owner\":\"alice\""))
        << nasctl.ReadLog();
    EXPECT_FALSE(absl::StrContains(nasctl.ReadLog(), "\"owner\":\"bob\""))
        << nasctl.ReadLog();
  }
  {
    setenv("NAS_TOKEN", kWorkerToken, 1);
    Subprocess nasctl({NAS_NASCTL_BINARY, "--controller", cluster.address(),
                       "--tls_ca", certs_.ca, "searches"},
                      dir_ + "/nasctl-worker.log");
    unsetenv("NAS_TOKEN");
    EXPECT_EQ(nasctl.Wait(std::chrono::seconds(20)), 1) << nasctl.ReadLog();
    EXPECT_TRUE(absl::StrContains(nasctl.ReadLog(), "has role worker"))
        << nasctl.ReadLog();
  }

  // Refusals are logged by token name; no token ever reaches the log.
  const std::string log = cluster.controller()->ReadLog();
  EXPECT_TRUE(absl::StrContains(log, "token \"w1\" has role worker")) << log;
  EXPECT_TRUE(absl::StrContains(log, "unknown or malformed")) << log;
  for (const char* token : {kAliceToken, kBobToken, kWorkerToken, kAdminToken,
                            "alice-secret-token-0009"}) {
    EXPECT_FALSE(absl::StrContains(log, token)) << token;
  }
}

TEST_F(SecurityTest, MutualTlsWorkersCompleteATabularSearch) {
  ClusterOptions options = SecureOptions(/*mtls=*/true);
  options.worker_flags = {
      "--tls_ca=" + certs_.ca, "--tls_cert=" + certs_.client_cert,
      "--tls_key=" + certs_.client_key, "--token_file=" + worker_token_file_,
      std::string("--table=") + NAS_NB201_TABLE};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();

  // Without a client certificate, or with one from another CA, the
  // handshake fails even with a valid token.
  EXPECT_EQ(Connect(cluster, As(kAdminToken, false)).List(),
            grpc::StatusCode::UNAVAILABLE);
  nas::client::ChannelSecurity rogue = As(kAdminToken, false);
  rogue.tls_cert = certs_.rogue_client_cert;
  rogue.tls_key = certs_.rogue_client_key;
  EXPECT_EQ(Connect(cluster, rogue).List(), grpc::StatusCode::UNAVAILABLE);

  // A worker holding a client token is refused and exits with an error.
  {
    const std::string client_token_file = dir_ + "/alice.token";
    std::ofstream(client_token_file) << kAliceToken << "\n";
    Subprocess worker({NAS_WORKER_BINARY, "--controller=" + cluster.address(),
                       "--tls_ca=" + certs_.ca,
                       "--tls_cert=" + certs_.client_cert,
                       "--tls_key=" + certs_.client_key,
                       "--token_file=" + client_token_file,
                       std::string("--table=") + NAS_NB201_TABLE},
                      dir_ + "/worker-with-client-token.log");
    EXPECT_EQ(worker.Wait(std::chrono::seconds(30)), 1) << worker.ReadLog();
    EXPECT_TRUE(absl::StrContains(worker.ReadLog(), "RegisterWorker refused"))
        << worker.ReadLog();
    EXPECT_FALSE(absl::StrContains(worker.ReadLog(), kAliceToken));
  }

  Client alice = Connect(cluster, As(kAliceToken, true));
  nas::v1::Search search;
  ASSERT_EQ(alice.Create(&search), grpc::StatusCode::OK) << cluster.Logs();
  cluster.StartWorkers(2);
  grpc::StatusCode polled = grpc::StatusCode::OK;
  WaitFor(
      [&] {
        polled = alice.Get(search.id(), &search);
        return polled != grpc::StatusCode::OK ||
               search.state() == nas::v1::SEARCH_STATE_COMPLETED;
      },
      std::chrono::seconds(120), std::chrono::milliseconds(250));
  ASSERT_EQ(polled, grpc::StatusCode::OK);
  ASSERT_EQ(search.state(), nas::v1::SEARCH_STATE_COMPLETED) << cluster.Logs();
  EXPECT_EQ(search.counts().completed(), 8) << search.DebugString();

  const std::string logs = cluster.Logs();
  for (const char* token :
       {kAliceToken, kBobToken, kWorkerToken, kAdminToken}) {
    EXPECT_FALSE(absl::StrContains(logs, token)) << token;
  }
}

TEST_F(SecurityTest, ControllerRefusesUnsafeStartups) {
  const std::string database = "--database_url=postgresql://127.0.0.1:1/none";
  struct Case {
    std::vector<std::string> flags;
    const char* expected;
  };
  const Case cases[] = {
      {{"--listen=127.0.0.1:0"}, "--tls_cert and --tls_key are required"},
      {{"--listen=0.0.0.0:0", "--plaintext"}, "--allow_remote_plaintext"},
      {{"--listen=0.0.0.0:0", "--plaintext", "--allow_remote_plaintext"},
       "--auth_tokens_file is required"},
      {{"--listen=127.0.0.1:0", "--tls_cert=" + certs_.server_cert,
        "--tls_key=" + certs_.server_key},
       "--auth_tokens_file is required"},
  };
  int n = 0;
  for (const Case& c : cases) {
    std::vector<std::string> argv = {NAS_CONTROLLER_BINARY, database};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    Subprocess controller(argv,
                          dir_ + "/refused-" + std::to_string(n++) + ".log");
    EXPECT_EQ(controller.Wait(std::chrono::seconds(10)), 2)
        << controller.ReadLog();
    EXPECT_TRUE(absl::StrContains(controller.ReadLog(), c.expected))
        << controller.ReadLog();
  }
}

// Plaintext, authentication off: the size limit holds on its own.
TEST(OversizedRequestTest, IsResourceExhaustedAndTheControllerServesOn) {
  ClusterOptions options;
  options.controller_flags = {"--max_message_bytes=65536"};
  Cluster cluster(options);
  ASSERT_TRUE(cluster.StartController()) << cluster.Logs();

  nas::v1::SearchSpec spec = Spec();
  spec.set_name(std::string(200 * 1024, 'x'));
  nas::v1::Search search;
  {
    grpc::Status status = CreateSearch(cluster.search(), spec, &search);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << status.error_message();
  }
  EXPECT_TRUE(cluster.controller()->running());
  spec.set_name("small");
  grpc::Status status = CreateSearch(cluster.search(), spec, &search);
  EXPECT_TRUE(status.ok()) << status.error_message() << cluster.Logs();
  EXPECT_EQ(search.spec().name(), "small");
}

}  // namespace
}  // namespace nas::testing
