// Turns the controller's security flags into gRPC server credentials and an
// Authorizer, enforcing the rules of docs/security.md: TLS unless plaintext
// is asked for explicitly, plaintext only on loopback unless also allowed
// remotely, and authentication off only for plaintext on loopback.
#ifndef NAS_CONTROLLER_SECURITY_SERVER_SECURITY_H_
#define NAS_CONTROLLER_SECURITY_SERVER_SECURITY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "controller/security/authorizer.h"
#include "grpcpp/security/server_credentials.h"

namespace nas::controller {

struct ServerSecurityOptions {
  // PEM files. tls_cert and tls_key are required unless plaintext;
  // tls_client_ca, when set, makes client certificates mandatory (mTLS).
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  bool plaintext = false;
  // Plaintext on a non-loopback address, e.g. inside a private container
  // network; refused without this.
  bool allow_remote_plaintext = false;
  // "<name> <role> <token>" lines; see TokenTable. Required unless
  // plaintext on loopback.
  std::string auth_tokens_file;
};

struct ServerSecurity {
  std::shared_ptr<grpc::ServerCredentials> credentials;
  Authorizer authorizer;
  // For the startup log line, e.g. "mTLS, 3 tokens".
  std::string summary;
};

// InvalidArgument naming the flag on a rule violated, a file unreadable or
// a tokens file malformed.
absl::StatusOr<ServerSecurity> MakeServerSecurity(
    const ServerSecurityOptions& options, absl::string_view listen_address);

// True for 127.0.0.0/8, ::1 and localhost, with a port.
bool IsLoopbackAddress(absl::string_view listen_address);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_SECURITY_SERVER_SECURITY_H_
