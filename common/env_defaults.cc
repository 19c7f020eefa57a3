#include "common/env_defaults.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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

absl::StatusOr<bool> ParseBool(absl::string_view name, absl::string_view text) {
  const std::string word = absl::AsciiStrToLower(text);
  if (word == "true" || word == "yes" || word == "1") return true;
  if (word == "false" || word == "no" || word == "0") return false;
  return absl::InvalidArgumentError(absl::StrCat(
      name, ": expected true, false, yes, no, 1 or 0, got \"", text, "\""));
}

absl::StatusOr<bool> EnvBool(const char* name, bool fallback) {
  const std::string text = EnvOr(name, "");
  if (text.empty()) return fallback;
  return ParseBool(name, text);
}

bool EnvBoolOr(const char* name, bool fallback) {
  return EnvBool(name, fallback).value_or(fallback);
}

absl::Status CheckEnvBools(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (absl::Status s = EnvBool(name, false).status(); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace nas
