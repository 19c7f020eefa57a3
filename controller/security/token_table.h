// Who may call the controller: named bearer tokens with a role each, loaded
// from the --auth_tokens_file. No gRPC here, so parsing and lookup are
// tested without a server.
#ifndef NAS_CONTROLLER_SECURITY_TOKEN_TABLE_H_
#define NAS_CONTROLLER_SECURITY_TOKEN_TABLE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nas::controller {

// client: create and read its own searches. worker: register, acquire and
// report trials. monitor: read the HTTP metrics endpoint (what Prometheus
// scrapes with), nothing else. admin: everything, every search.
enum class Role { kClient, kWorker, kMonitor, kAdmin };

absl::string_view RoleName(Role role);

// An authenticated caller. `name` is the token's name from the file (never
// the token itself), so it can be logged and stored as a search's owner.
struct Caller {
  std::string name;
  Role role = Role::kAdmin;
};

class TokenTable {
 public:
  // Parses lines "<name> <role> <token>" separated by blanks; '#' starts a
  // comment, blank lines are skipped. InvalidArgument, naming the line
  // number but never echoing a token, on: a wrong field count, an unknown
  // role, a name or token seen twice, a token shorter than 16 characters.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text);
  // Reads and parses a file; NotFound when it cannot be read. The error
  // names the file.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The caller owning `token`, or nullopt. Compares against every entry in
  // time independent of where (or whether) the token matches.
  std::optional<Caller> Find(absl::string_view token) const;
  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Caller caller;
    std::string token;
  };
  std::vector<Entry> entries_;
};

}  // namespace nas::controller

#endif  // NAS_CONTROLLER_SECURITY_TOKEN_TABLE_H_
