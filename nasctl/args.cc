#include "nasctl/args.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace nas::cli {
namespace {

// Short options and their long names.
const std::map<std::string, std::string>& ShortNames() {
  static const auto* names = new std::map<std::string, std::string>{
      {"o", "output"}, {"k", "k"}, {"h", "help"}};
  return *names;
}

}  // namespace

std::optional<std::string> Args::Get(const std::string& name) const {
  auto it = options.find(name);
  if (it == options.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<int> Args::GetInt(const std::string& name, int fallback, int min,
                                 int max) const {
  std::optional<std::string> text = Get(name);
  if (!text) return fallback;
  int value;
  if (!absl::SimpleAtoi(*text, &value) || value < min || value > max) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": expected an integer in [", min, ", ", max,
                     "], got \"", *text, "\""));
  }
  return value;
}

namespace {

// How people type it: "-k" for one-letter names, "--limit" otherwise.
std::string Spelled(const std::string& name) {
  return (name.size() == 1 ? "-" : "--") + name;
}

}  // namespace

absl::Status CheckOptions(const Args& args,
                          const std::set<std::string>& allowed) {
  for (const auto& [name, value] : args.options) {
    if (allowed.count(name)) continue;
    std::vector<std::string> takes;
    for (const std::string& ok : allowed) takes.push_back(Spelled(ok));
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown option ", Spelled(name), " for \"nasctl ", args.command,
        "\"; it takes ", takes.empty() ? "none" : absl::StrJoin(takes, ", "),
        " (see nasctl help ", args.command, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Args> ParseArgs(int argc, const char* const* argv,
                               const std::set<std::string>& value_options,
                               const std::set<std::string>& flag_options) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-') {
      if (args.command.empty()) {
        args.command = arg;
      } else {
        args.positional.push_back(arg);
      }
      continue;
    }
    std::string name = arg.substr(arg[1] == '-' ? 2 : 1);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (arg[1] != '-') {
      auto it = ShortNames().find(name);
      if (it == ShortNames().end()) {
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option ", arg, "; see --help"));
      }
      name = it->second;
    }
    if (name == "help") {
      args.help = true;
    } else if (flag_options.count(name)) {
      args.options[name] = "true";
    } else if (value_options.count(name)) {
      if (!value) {
        if (i + 1 >= argc) {
          return absl::InvalidArgumentError(
              absl::StrCat("option --", name, " needs a value"));
        }
        value = argv[++i];
      }
      args.options[name] = *value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option ", arg, "; see --help"));
    }
  }
  return args;
}

}  // namespace nas::cli
