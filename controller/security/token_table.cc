#include "controller/security/token_table.h"

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace nas::controller {
namespace {

constexpr size_t kMinTokenLength = 16;

std::optional<Role> ParseRole(absl::string_view text) {
  if (text == "client") return Role::kClient;
  if (text == "worker") return Role::kWorker;
  if (text == "monitor") return Role::kMonitor;
  if (text == "admin") return Role::kAdmin;
  return std::nullopt;
}

// Equal-length inputs take the same time whatever their contents; unequal
// lengths are compared over the longer one, so only "lengths differ" leaks.
bool ConstantTimeEquals(absl::string_view a, absl::string_view b) {
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? a[i] : 0;
    const unsigned char y = i < b.size() ? b[i] : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kClient:
      return "client";
    case Role::kWorker:
      return "worker";
    case Role::kMonitor:
      return "monitor";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text) {
  TokenTable table;
  std::set<std::string> names;
  std::set<std::string> tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    auto error = [&](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", what));
    };
    if (fields.size() != 3) {
      return error(absl::StrCat("expected \"<name> <role> <token>\", got ",
                                fields.size(), " fields"));
    }
    std::optional<Role> role = ParseRole(fields[1]);
    if (!role) {
      return error(absl::StrCat("role \"", fields[1],
                                "\" is not one of client, worker, monitor, admin"));
    }
    if (fields[2].size() < kMinTokenLength) {
      return error(absl::StrCat("token of \"", fields[0], "\" is shorter than ",
                                kMinTokenLength, " characters"));
    }
    if (!names.insert(std::string(fields[0])).second) {
      return error(absl::StrCat("name \"", fields[0], "\" appears twice"));
    }
    if (!tokens.insert(std::string(fields[2])).second) {
      return error("token already given to another name");
    }
    table.entries_.push_back(
        Entry{Caller{std::string(fields[0]), *role}, std::string(fields[2])});
  }
  if (table.entries_.empty()) {
    return absl::InvalidArgumentError(
        "no tokens (every line empty or comment)");
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<TokenTable> table = Parse(text.str());
  if (!table.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", table.status().message()));
  }
  return table;
}

std::optional<Caller> TokenTable::Find(absl::string_view token) const {
  std::optional<Caller> found;
  for (const Entry& entry : entries_) {
    if (ConstantTimeEquals(entry.token, token)) found = entry.caller;
  }
  return found;
}

}  // namespace nas::controller
