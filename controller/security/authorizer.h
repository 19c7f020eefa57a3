// Checks the bearer token of each call against the token table and the role
// the method needs. Every handler calls Authorize first, so the rule for a
// method sits in one visible line at its top.
#ifndef NAS_CONTROLLER_SECURITY_AUTHORIZER_H_
#define NAS_CONTROLLER_SECURITY_AUTHORIZER_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "controller/security/token_table.h"
#include "grpcpp/server_context.h"

namespace nas::controller {

class Authorizer {
 public:
  // Authentication off (--plaintext on loopback without a tokens file):
  // every caller is an admin with an empty name.
  Authorizer() = default;
  explicit Authorizer(TokenTable tokens) : tokens_(std::move(tokens)) {}

  bool enabled() const { return tokens_.has_value(); }

  // Reads "authorization: Bearer <token>" from the call's metadata.
  // Unauthenticated when it is missing, malformed or unknown;
  // PermissionDenied when the token's role is neither `needed` nor admin.
  // Logs refusals with the peer and the token's name, never the token.
  absl::StatusOr<Caller> Authorize(const grpc::ServerContext& context,
                                   Role needed) const;
  // The same rule for any protocol: `authorization` is the header's value
  // (nullopt when absent), `peer` names the caller in refusal logs.
  absl::StatusOr<Caller> AuthorizeHeader(
      std::optional<absl::string_view> authorization, absl::string_view peer,
      Role needed) const;

 private:
  std::optional<TokenTable> tokens_;
};

// Whether `caller` may see a search owned by `owner`: admins see all,
// clients only their own. Others' searches should look absent (NotFound),
// so that ids do not reveal what other clients run.
bool MaySee(const Caller& caller, const std::string& owner);

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_SECURITY_AUTHORIZER_H_
