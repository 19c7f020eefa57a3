#include "controller/store/capability_tokens.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace nas::controller {
namespace {

std::string SpaceKindToken(nas::v1::SpaceKind kind) {
  switch (kind) {
    case nas::v1::SPACE_KIND_NB201:
      return "nb201";
    case nas::v1::SPACE_KIND_CHAIN:
      return "chain";
    default:
      return "";
  }
}

}  // namespace

std::string SpaceToken(const nas::v1::SearchSpace& space) {
  if (space.has_nb201()) return "nb201";
  if (space.has_chain()) return "chain";
  return "";
}

std::string NeedToken(const nas::v1::SearchSpec& spec) {
  return absl::StrCat(SpaceToken(spec.space()), ":",
                      nas::v1::DatasetName_Name(spec.dataset().name()));
}

std::vector<std::string> CapabilityTokens(const nas::v1::Capabilities& caps) {
  std::vector<std::string> tokens;
  for (const nas::v1::Capability& c : caps.can_run()) {
    const std::string space = SpaceKindToken(c.space());
    if (space.empty()) continue;
    if (c.datasets().empty()) tokens.push_back(absl::StrCat(space, ":*"));
    for (int d : c.datasets()) {
      tokens.push_back(absl::StrCat(
          space, ":",
          nas::v1::DatasetName_Name(static_cast<nas::v1::DatasetName>(d))));
    }
  }
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  return tokens;
}

bool CanRun(const std::vector<std::string>& tokens, const std::string& need) {
  const std::string any = absl::StrCat(need.substr(0, need.find(':')), ":*");
  return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& t) {
    return t == need || t == any;
  });
}

}  // namespace nas::controller
