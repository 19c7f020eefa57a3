// Flag defaults from environment variables, so that containers can configure
// the binaries (nas-controller, nas-worker, nasctl) by NAS_* variables as
// well as by flags. No gRPC, Torch or database here: any binary may link it.
#ifndef NAS_COMMON_ENV_DEFAULTS_H_
#define NAS_COMMON_ENV_DEFAULTS_H_

#include <initializer_list>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nas {

// The value of environment variable `name`, or `fallback` when it is unset
// or empty.
std::string EnvOr(const char* name, const std::string& fallback);

// The variable parsed as a number (absl::SimpleAtoi, SimpleAtod), or
// `fallback` when it is unset, empty or does not parse. A bad value is not an
// error here: the flag then keeps its default, and its own parser checks
// what is given on the command line.
int EnvIntOr(const char* name, int fallback);
double EnvDoubleOr(const char* name, double fallback);

// The one boolean syntax of every NAS_* variable, in every binary:
// "true", "yes", "1" or "false", "no", "0", in any letter case ("TRUE",
// "Yes"). Anything else, "on", "y" and "" included, is InvalidArgument
// naming `name` and listing the accepted words.
absl::StatusOr<bool> ParseBool(absl::string_view name, absl::string_view text);

// The variable parsed by ParseBool; `fallback` when unset or empty.
absl::StatusOr<bool> EnvBool(const char* name, bool fallback);

// For ABSL_FLAG defaults, which cannot report an error: like EnvBool, but a
// bad value gives `fallback`. A binary using it must also call CheckEnvBools
// with the same names.
bool EnvBoolOr(const char* name, bool fallback);

// OK, or the InvalidArgument of the first of `names` whose value ParseBool
// refuses (unset and empty are fine). Binaries call it right after parsing
// flags and exit with its message, so that NAS_PLAINTEXT=maybe is an error
// rather than a silent false. (absl computes flag defaults lazily, so
// EnvBoolOr cannot collect the names itself in time.)
absl::Status CheckEnvBools(std::initializer_list<const char*> names);

}  // namespace nas

#endif  // NAS_COMMON_ENV_DEFAULTS_H_
