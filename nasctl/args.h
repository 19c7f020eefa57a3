// Command-line parsing for nasctl: a command name, positional arguments and
// --flag[=value] options (also "-o json" and "-k 3" short forms).
#ifndef NAS_NASCTL_ARGS_H_
#define NAS_NASCTL_ARGS_H_

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace nas::cli {

struct Args {
  std::string command;
  std::vector<std::string> positional;
  std::map<std::string, std::string> options;  // long names, no dashes
  bool help = false;

  std::optional<std::string> Get(const std::string& name) const;
  // InvalidArgument when present but not an integer in [min, max].
  absl::StatusOr<int> GetInt(const std::string& name, int fallback, int min,
                             int max) const;
};

// `value_options` take a value ("--controller X" or "--controller=X");
// `flag_options` do not. Anything else starting with '-' is an error.
absl::StatusOr<Args> ParseArgs(int argc, const char* const* argv,
                               const std::set<std::string>& value_options,
                               const std::set<std::string>& flag_options);

// OK when every option in `args` is in `allowed`; otherwise InvalidArgument
// naming the first other one and the command, e.g.
//   unknown option --limit for "nasctl cancel"; it takes none (see nasctl
//   help cancel)
// so that an option a command would ignore is refused rather than dropped.
absl::Status CheckOptions(const Args& args,
                          const std::set<std::string>& allowed);

}  // namespace nas::cli

#endif  // NAS_NASCTL_ARGS_H_
