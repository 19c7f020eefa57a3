// The controller's HTTP side, beside its gRPC port: GET /metrics in the
// Prometheus text format (role monitor or admin when authentication is on),
// GET /healthz for liveness probes (no token), and the dashboard's pages
// (/, /searches/ID; role client or admin, by header or by the cookie that
// POST /login sets from a token typed into its form). It follows the gRPC
// server's security: HTTPS with the same certificate (and client CA) when
// the controller serves TLS; plain HTTP only under the same rule as
// --plaintext (loopback unless remote plaintext is allowed).
#ifndef NAS_CONTROLLER_HTTP_HTTP_ENDPOINT_H_
#define NAS_CONTROLLER_HTTP_HTTP_ENDPOINT_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "common/metrics/metrics.h"
#include "controller/dashboard/dashboard.h"
#include "controller/security/authorizer.h"
#include "controller/security/server_security.h"

namespace httplib {
class Server;
}

namespace nas::controller {

class HttpEndpoint {
 public:
  // Binds `listen` (HOST:PORT; port 0 picks a free one) and serves on a
  // thread of its own. InvalidArgument for a malformed address or plaintext
  // on a non-loopback address without allow_remote_plaintext;
  // Unavailable when the port cannot be bound or the certificate not
  // loaded. `auth` and `registry` must outlive the endpoint.
  // `dashboard` may be null (no pages).
  static absl::StatusOr<std::unique_ptr<HttpEndpoint>> Start(
      const std::string& listen, const ServerSecurityOptions& security,
      const Authorizer* auth, metrics::Registry* registry,
      Dashboard* dashboard);
  // The rules Start applies to its options, without binding anything, so
  // that a misconfiguration is refused before the controller opens its
  // database.
  static absl::Status CheckOptions(const std::string& listen,
                                   const ServerSecurityOptions& security);
  // Stops serving and joins its thread.
  ~HttpEndpoint();

  int port() const { return port_; }
  // "http" or "https", for logs.
  const std::string& scheme() const { return scheme_; }

 private:
  HttpEndpoint() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::string scheme_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_HTTP_HTTP_ENDPOINT_H_
