#include "controller/store/capability_tokens.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "controller/store/proto_rows.h"

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

// The kinds a capability runs, as trials.kind text.
std::vector<std::string> KindNames(const nas::v1::Capability& capability) {
  if (capability.kinds().empty()) {
    return {TrialKindName(nas::v1::TRIAL_KIND_TRAIN),
            TrialKindName(nas::v1::TRIAL_KIND_RETRAIN)};
  }
  std::vector<std::string> names;
  for (int kind : capability.kinds()) {
    // Open enums: a newer worker may name kinds this controller never
    // leases.
    if (kind == nas::v1::TRIAL_KIND_UNSPECIFIED ||
        !nas::v1::TrialKind_IsValid(kind)) {
      continue;
    }
    names.push_back(TrialKindName(static_cast<nas::v1::TrialKind>(kind)));
  }
  return names;
}

}  // namespace

std::string SpaceToken(const nas::v1::SearchSpace& space) {
  if (space.has_nb201()) return "nb201";
  if (space.has_chain()) return "chain";
  return "";
}

std::string NeedToken(const nas::v1::SearchSpec& spec,
                      nas::v1::TrialKind kind) {
  return absl::StrCat(SpaceToken(spec.space()), ":",
                      nas::v1::DatasetName_Name(spec.dataset().name()), ":",
                      TrialKindName(kind));
}

std::vector<std::string> CapabilityTokens(const nas::v1::Capabilities& caps) {
  std::vector<std::string> tokens;
  for (const nas::v1::Capability& c : caps.can_run()) {
    const std::string space = SpaceKindToken(c.space());
    if (space.empty()) continue;
    std::vector<std::string> datasets;
    if (c.datasets().empty()) datasets.push_back("*");
    for (int d : c.datasets()) {
      datasets.push_back(
          nas::v1::DatasetName_Name(static_cast<nas::v1::DatasetName>(d)));
    }
    for (const std::string& kind : KindNames(c)) {
      for (const std::string& dataset : datasets) {
        tokens.push_back(absl::StrCat(space, ":", dataset, ":", kind));
      }
    }
  }
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  return tokens;
}

bool CanRun(const std::vector<std::string>& tokens, const std::string& need) {
  // need is "<space>:<dataset>:<KIND>"; a data set name has no colon.
  const size_t first = need.find(':');
  const size_t last = need.rfind(':');
  const std::string any = first == last ? need
                                        : absl::StrCat(need.substr(0, first),
                                                       ":*", need.substr(last));
  return std::any_of(tokens.begin(), tokens.end(), [&](const std::string& t) {
    return t == need || t == any;
  });
}

std::optional<CapabilityToken> ParseCapabilityToken(const std::string& token) {
  const std::vector<std::string> parts = absl::StrSplit(token, ':');
  if (parts.size() != 3) return std::nullopt;
  const nas::v1::TrialKind kind = TrialKindFromName(parts[2]);
  if (kind == nas::v1::TRIAL_KIND_UNSPECIFIED) return std::nullopt;
  return CapabilityToken{parts[0], parts[1], kind};
}

}  // namespace nas::controller
