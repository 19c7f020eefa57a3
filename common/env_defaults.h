// Flag defaults from environment variables, so that containers can configure
// the binaries (nas-controller, nas-worker, nasctl) by NAS_* variables as
// well as by flags. No gRPC, Torch or database here: any binary may link it.
#ifndef NAS_COMMON_ENV_DEFAULTS_H_
#define NAS_COMMON_ENV_DEFAULTS_H_

#include <string>

namespace nas {

// The value of environment variable `name`, or `fallback` when it is unset
// or empty.
std::string EnvOr(const char* name, const std::string& fallback);

// The variable parsed as a number or boolean (absl::SimpleAtoi, SimpleAtod,
// SimpleAtob: "true"/"false", "1"/"0", "yes"/"no", ...), or `fallback` when
// it is unset, empty or does not parse. A bad value is not an error here:
// the flag then keeps its default, and its own parser checks what is given
// on the command line.
int EnvIntOr(const char* name, int fallback);
double EnvDoubleOr(const char* name, double fallback);
bool EnvBoolOr(const char* name, bool fallback);

}  // namespace nas

#endif  // NAS_COMMON_ENV_DEFAULTS_H_
