#include "common/env_defaults.h"

#include <cstdlib>

#include "absl/strings/numbers.h"

namespace nas {

std::string EnvOr(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

int EnvIntOr(const char* name, int fallback) {
  int value;
  return absl::SimpleAtoi(EnvOr(name, ""), &value) ? value : fallback;
}

double EnvDoubleOr(const char* name, double fallback) {
  double value;
  return absl::SimpleAtod(EnvOr(name, ""), &value) ? value : fallback;
}

bool EnvBoolOr(const char* name, bool fallback) {
  bool value;
  return absl::SimpleAtob(EnvOr(name, ""), &value) ? value : fallback;
}

}  // namespace nas
