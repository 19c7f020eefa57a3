#include "common/spec/architecture_text.h"

#include <map>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace nas::spec {
namespace {

// Lists at most this many names in an error, so a huge space does not flood
// the message.
constexpr size_t kMaxListed = 12;

std::string ListNames(const std::vector<std::string>& names) {
  if (names.size() <= kMaxListed) return absl::StrJoin(names, ", ");
  std::vector<std::string> head(names.begin(), names.begin() + kMaxListed);
  return absl::StrCat(absl::StrJoin(head, ", "), ", ... (",
                      names.size() - kMaxListed, " more)");
}

int OptionIndex(const space::Decision& decision, absl::string_view option) {
  for (size_t i = 0; i < decision.options.size(); ++i) {
    if (decision.options[i] == option) return static_cast<int>(i);
  }
  return -1;
}

absl::Status NotAnOption(const space::Decision& decision,
                         absl::string_view option) {
  return absl::InvalidArgumentError(
      absl::StrCat(decision.name, ": \"", option,
                   "\" is not an option of this search's "
                   "space; expected one of ",
                   ListNames(decision.options)));
}

// The cell space's decisions are its six edges in ParseNb201String's order.
bool IsNb201(const space::SearchSpace& space) {
  return space.decisions().size() == 6 &&
         space.decisions()[0].name == "edge_1<-0";
}

std::vector<std::string> DecisionNames(const space::SearchSpace& space) {
  std::vector<std::string> names;
  for (const space::Decision& d : space.decisions()) names.push_back(d.name);
  return names;
}

absl::StatusOr<std::vector<int>> ParseNb201(const space::SearchSpace& space,
                                            const std::string& text) {
  std::vector<std::string> ops;
  std::string error;
  if (!space::ParseNb201String(text, &ops, &error)) {
    return absl::InvalidArgumentError(error);
  }
  std::vector<int> choices;
  for (size_t e = 0; e < ops.size(); ++e) {
    const int index = OptionIndex(space.decisions()[e], ops[e]);
    if (index < 0) return NotAnOption(space.decisions()[e], ops[e]);
    choices.push_back(index);
  }
  return choices;
}

// The decision names that Render writes for `choices`: those the
// architecture uses.
std::set<std::string> RenderedNames(const space::SearchSpace& space,
                                    const std::vector<int>& choices) {
  std::set<std::string> names;
  for (absl::string_view pair :
       absl::StrSplit(space.Render(choices), ' ', absl::SkipEmpty())) {
    names.insert(std::string(pair.substr(0, pair.find('='))));
  }
  return names;
}

absl::StatusOr<std::vector<int>> ParsePairs(const space::SearchSpace& space,
                                            const std::string& text) {
  const std::vector<space::Decision>& decisions = space.decisions();
  std::map<std::string, size_t, std::less<>> index_of;
  for (size_t i = 0; i < decisions.size(); ++i) index_of[decisions[i].name] = i;

  std::vector<int> choices(decisions.size(), 0);
  std::set<std::string> given;
  for (absl::string_view pair :
       absl::StrSplit(text, absl::ByAnyChar(" \t\n,"), absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    if (eq == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", pair, "\" is not name=option; this space's decisions are ",
          ListNames(DecisionNames(space))));
    }
    const absl::string_view name = pair.substr(0, eq);
    const absl::string_view option = pair.substr(eq + 1);
    auto it = index_of.find(name);
    if (it == index_of.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "unknown decision \"", name, "\"; this space's decisions are ",
          ListNames(DecisionNames(space))));
    }
    if (!given.insert(std::string(name)).second) {
      return absl::InvalidArgumentError(absl::StrCat(name, " is given twice"));
    }
    const int index = OptionIndex(decisions[it->second], option);
    if (index < 0) return NotAnOption(decisions[it->second], option);
    choices[it->second] = index;
  }
  if (std::string invalid = space.Validate(choices); !invalid.empty()) {
    return absl::InvalidArgumentError(invalid);
  }
  // Option 0 is a silent default only where it cannot matter.
  std::vector<std::string> missing;
  for (const std::string& name : RenderedNames(space, choices)) {
    if (given.count(name) == 0) missing.push_back(name);
  }
  if (!missing.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("missing ", ListNames(missing),
                     " (every decision the architecture uses needs a value)"));
  }
  return choices;
}

}  // namespace

absl::StatusOr<std::vector<int>> ParseArchitectureText(
    const space::SearchSpace& space, absl::string_view text) {
  const std::string trimmed(absl::StripAsciiWhitespace(text));
  if (trimmed.empty()) {
    return absl::InvalidArgumentError(
        "empty architecture: give its text or its choices");
  }
  if (IsNb201(space)) {
    if (trimmed[0] != '|') {
      return absl::InvalidArgumentError(
          "expected a NAS-Bench-201 string such as "
          "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|"
          "avg_pool_3x3~2|");
    }
    return ParseNb201(space, trimmed);
  }
  if (trimmed[0] == '|') {
    return absl::InvalidArgumentError(absl::StrCat(
        "a NAS-Bench-201 string, but this search's space is not the cell "
        "space; give name=option pairs for ",
        ListNames(DecisionNames(space))));
  }
  return ParsePairs(space, trimmed);
}

absl::StatusOr<std::vector<int>> ArchitectureChoices(
    const space::SearchSpace& space,
    const nas::v1::Architecture& architecture) {
  if (architecture.choices().empty()) {
    return ParseArchitectureText(space, architecture.text());
  }
  std::vector<int> choices(architecture.choices().begin(),
                           architecture.choices().end());
  if (std::string invalid = space.Validate(choices); !invalid.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("choices: ", invalid));
  }
  if (!architecture.text().empty()) {
    absl::StatusOr<std::vector<int>> parsed =
        ParseArchitectureText(space, architecture.text());
    if (!parsed.ok()) return parsed.status();
    if (space.Render(*parsed) != space.Render(choices)) {
      return absl::InvalidArgumentError(
          absl::StrCat("choices and text disagree: the choices are ",
                       space.Render(choices), "; give one of them"));
    }
  }
  return choices;
}

}  // namespace nas::spec
