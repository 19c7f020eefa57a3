// The one place where clients (nas-worker, nasctl, tests) turn security
// flags into a gRPC channel: TLS with an optional client certificate, or
// plaintext when asked for, and the bearer token sent with every call.
#ifndef NAS_COMMON_CLIENT_CHANNEL_H_
#define NAS_COMMON_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/channel.h"
#include "grpcpp/support/channel_arguments.h"

namespace nas::client {

struct ChannelSecurity {
  // No TLS; must be chosen explicitly. The token, if any, then travels in
  // the clear, so use it only on loopback or a private network.
  bool plaintext = false;
  // PEM files. tls_ca verifies the server (empty: the system's roots);
  // tls_cert and tls_key, together, are this client's certificate for
  // servers that require mutual TLS.
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  // Sent as "authorization: Bearer <token>" on every call when not empty.
  std::string token;
};

// InvalidArgument when `target` is not HOST:PORT with a port in 1..65535
// (see net::ValidateClientTarget; URI targets such as dns:/// pass), and
// naming the option when a file cannot be read, only one
// of tls_cert/tls_key is given, or plaintext is combined with TLS files.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& target, const ChannelSecurity& security,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

// The token from `token_file` when given (surrounding whitespace removed),
// else from the environment variable NAS_TOKEN, else "". Tokens are not
// accepted on the command line, where `ps` would show them.
// InvalidArgument when the file cannot be read or holds no token.
absl::StatusOr<std::string> LoadToken(const std::string& token_file);

}  // namespace nas::client

#endif  // NAS_COMMON_CLIENT_CHANNEL_H_
