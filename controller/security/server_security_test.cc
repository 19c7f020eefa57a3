// The startup rules of MakeServerSecurity. TLS handshakes themselves are
// exercised end to end in tests/security_test.cc.
#include "controller/security/server_security.h"

#include <cstdio>
#include <fstream>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace nas::controller {
namespace {

std::string WriteTemp(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

TEST(ServerSecurityTest, LoopbackAddresses) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:50051"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:0"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:50051"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:50051"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:50051"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:50051"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.5:50051"));
  EXPECT_FALSE(IsLoopbackAddress("controller:50051"));
}

TEST(ServerSecurityTest, NoTlsAndNoPlaintextIsRefused) {
  absl::StatusOr<ServerSecurity> s =
      MakeServerSecurity(ServerSecurityOptions{}, "127.0.0.1:0");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "--tls_cert"));
}

TEST(ServerSecurityTest, PlaintextOnLoopbackWithoutTokensIsOpen) {
  ServerSecurityOptions options;
  options.plaintext = true;
  absl::StatusOr<ServerSecurity> s = MakeServerSecurity(options, "127.0.0.1:0");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_FALSE(s->authorizer.enabled());
}

TEST(ServerSecurityTest, RemotePlaintextNeedsTheExtraFlagAndTokens) {
  ServerSecurityOptions options;
  options.plaintext = true;
  absl::StatusOr<ServerSecurity> s = MakeServerSecurity(options, "0.0.0.0:0");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(
      absl::StrContains(s.status().message(), "--allow_remote_plaintext"));
  options.allow_remote_plaintext = true;
  s = MakeServerSecurity(options, "0.0.0.0:0");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "--auth_tokens_file"));
  options.auth_tokens_file =
      WriteTemp("tokens", "w worker worker-token-0123456789\n");
  s = MakeServerSecurity(options, "0.0.0.0:0");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->authorizer.enabled());
}

TEST(ServerSecurityTest, BadFilesNameTheFlag) {
  ServerSecurityOptions options;
  options.tls_cert = "/nonexistent/cert.pem";
  options.tls_key = "/nonexistent/key.pem";
  absl::StatusOr<ServerSecurity> s = MakeServerSecurity(options, "127.0.0.1:0");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "--tls_cert"));
  options.tls_cert = WriteTemp("not.pem", "hello");
  s = MakeServerSecurity(options, "127.0.0.1:0");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "not a PEM file"));

  ServerSecurityOptions plain;
  plain.plaintext = true;
  plain.auth_tokens_file =
      WriteTemp("bad_tokens", "x nobody 0123456789abcdef\n");
  s = MakeServerSecurity(plain, "127.0.0.1:0");
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "--auth_tokens_file"));
  EXPECT_TRUE(absl::StrContains(s.status().message(), "line 1"));
}

TEST(ServerSecurityTest, PlaintextWithCertificatesIsContradictory) {
  ServerSecurityOptions options;
  options.plaintext = true;
  options.tls_cert = "c.pem";
  EXPECT_FALSE(MakeServerSecurity(options, "127.0.0.1:0").ok());
}

}  // namespace
}  // namespace nas::controller
