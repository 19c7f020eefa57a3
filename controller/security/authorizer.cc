#include "controller/security/authorizer.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace nas::controller {
namespace {

constexpr absl::string_view kBearer = "Bearer ";

}  // namespace

absl::StatusOr<Caller> Authorizer::Authorize(const grpc::ServerContext& context,
                                             Role needed) const {
  if (!tokens_) return Caller{};
  const auto& metadata = context.client_metadata();
  auto it = metadata.find("authorization");
  std::optional<absl::string_view> header;
  if (it != metadata.end()) {
    header = absl::string_view(it->second.data(), it->second.size());
  }
  return AuthorizeHeader(header, context.peer(), needed);
}

absl::StatusOr<Caller> Authorizer::AuthorizeHeader(
    std::optional<absl::string_view> authorization, absl::string_view peer,
    Role needed) const {
  if (!tokens_) return Caller{};
  std::optional<Caller> caller;
  if (authorization && absl::StartsWith(*authorization, kBearer)) {
    caller = tokens_->Find(authorization->substr(kBearer.size()));
  }
  if (!caller) {
    spdlog::warn("refused a call from {}: {} bearer token", std::string(peer),
                 authorization ? "an unknown or malformed" : "no");
    return absl::UnauthenticatedError(
        "missing or unknown token: send \"authorization: Bearer <token>\"");
  }
  if (caller->role != needed && caller->role != Role::kAdmin) {
    spdlog::warn("refused a call from {}: token \"{}\" has role {}, needs {}",
                 std::string(peer), caller->name,
                 std::string(RoleName(caller->role)),
                 std::string(RoleName(needed)));
    return absl::PermissionDeniedError(absl::StrCat(
        "token \"", caller->name, "\" has role ", RoleName(caller->role),
        "; this call needs role ", RoleName(needed), " or admin"));
  }
  return *caller;
}

bool MaySee(const Caller& caller, const std::string& owner) {
  return caller.role == Role::kAdmin || caller.name == owner;
}

}  // namespace nas::controller
