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
  std::optional<Caller> caller;
  if (it != metadata.end()) {
    absl::string_view value(it->second.data(), it->second.size());
    if (absl::StartsWith(value, kBearer)) {
      caller = tokens_->Find(value.substr(kBearer.size()));
    }
  }
  if (!caller) {
    spdlog::warn("refused a call from {}: {} bearer token", context.peer(),
                 it == metadata.end() ? "no" : "an unknown or malformed");
    return absl::UnauthenticatedError(
        "missing or unknown token: send \"authorization: Bearer <token>\"");
  }
  if (caller->role != needed && caller->role != Role::kAdmin) {
    spdlog::warn("refused a call from {}: token \"{}\" has role {}, needs {}",
                 context.peer(), caller->name,
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
