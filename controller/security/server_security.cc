#include "controller/security/server_security.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nas::controller {
namespace {

absl::StatusOr<std::string> ReadPem(absl::string_view flag,
                                    const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": cannot read ", path));
  }
  std::stringstream text;
  text << in.rdbuf();
  if (!absl::StrContains(text.str(), "-----BEGIN ")) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", path, " is not a PEM file"));
  }
  return text.str();
}

}  // namespace

bool IsLoopbackAddress(absl::string_view address) {
  absl::string_view host = address;
  if (absl::StartsWith(host, "[")) {
    size_t end = host.find(']');
    host = end == absl::string_view::npos ? host : host.substr(1, end - 1);
  } else if (size_t colon = host.rfind(':'); colon != absl::string_view::npos) {
    host = host.substr(0, colon);
  }
  return absl::StartsWith(host, "127.") || host == "::1" || host == "localhost";
}

absl::StatusOr<ServerSecurity> MakeServerSecurity(
    const ServerSecurityOptions& options, absl::string_view listen_address) {
  ServerSecurity security;
  const bool loopback = IsLoopbackAddress(listen_address);
  if (options.plaintext) {
    if (!options.tls_cert.empty() || !options.tls_key.empty() ||
        !options.tls_client_ca.empty()) {
      return absl::InvalidArgumentError(
          "--plaintext cannot be combined with --tls_cert, --tls_key or "
          "--tls_client_ca");
    }
    if (!loopback && !options.allow_remote_plaintext) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--plaintext on ", listen_address,
          ", which is not loopback: anyone on the network could read and "
          "forge calls; use TLS, or add --allow_remote_plaintext if the "
          "network is private"));
    }
    security.credentials = grpc::InsecureServerCredentials();
    security.summary = "plaintext";
  } else {
    if (options.tls_cert.empty() || options.tls_key.empty()) {
      return absl::InvalidArgumentError(
          "--tls_cert and --tls_key are required (or --plaintext to serve "
          "without TLS on loopback)");
    }
    grpc::SslServerCredentialsOptions ssl;
    grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
    absl::StatusOr<std::string> cert = ReadPem("tls_cert", options.tls_cert);
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("tls_key", options.tls_key);
    if (!key.ok()) return key.status();
    pair.cert_chain = *std::move(cert);
    pair.private_key = *std::move(key);
    ssl.pem_key_cert_pairs.push_back(std::move(pair));
    security.summary = "TLS";
    if (!options.tls_client_ca.empty()) {
      absl::StatusOr<std::string> ca =
          ReadPem("tls_client_ca", options.tls_client_ca);
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
      ssl.client_certificate_request =
          GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      security.summary = "mTLS";
    }
    security.credentials = grpc::SslServerCredentials(ssl);
  }

  if (options.auth_tokens_file.empty()) {
    if (!options.plaintext || !loopback) {
      return absl::InvalidArgumentError(
          "--auth_tokens_file is required unless serving --plaintext on "
          "loopback");
    }
    absl::StrAppend(&security.summary, ", authentication off");
    return security;
  }
  absl::StatusOr<TokenTable> tokens =
      TokenTable::Load(options.auth_tokens_file);
  if (!tokens.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--auth_tokens_file: ", tokens.status().message()));
  }
  absl::StrAppend(&security.summary, ", ", tokens->size(), " tokens");
  security.authorizer = Authorizer(*std::move(tokens));
  return security;
}

}  // namespace nas::controller
