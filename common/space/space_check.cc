#include "common/space/space_check.h"

#include <algorithm>
#include <set>

namespace nas::space::internal {

std::string CheckRange(const std::string& field, int value, int min, int max) {
  if (value < min) return field + ": must be at least " + std::to_string(min);
  if (value > max) return field + ": must be at most " + std::to_string(max);
  return "";
}

std::string CheckOps(const std::string& field,
                     const std::vector<std::string>& ops,
                     const std::vector<std::string>& known) {
  if (ops.empty()) return field + ": must not be empty";
  std::set<std::string> seen;
  for (size_t i = 0; i < ops.size(); ++i) {
    const std::string item = field + "[" + std::to_string(i) + "]";
    if (std::find(known.begin(), known.end(), ops[i]) == known.end()) {
      return item + ": unknown op \"" + ops[i] + "\"";
    }
    if (!seen.insert(ops[i]).second) {
      return item + ": duplicate op \"" + ops[i] + "\"";
    }
  }
  return "";
}

std::string CheckIntOptions(const std::string& field,
                            const std::vector<int>& values, int min, int max) {
  if (values.empty()) return field + ": must not be empty";
  std::set<int> seen;
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string item = field + "[" + std::to_string(i) + "]";
    std::string error = CheckRange(item, values[i], min, max);
    if (!error.empty()) return error;
    if (!seen.insert(values[i]).second) {
      return item + ": duplicate value " + std::to_string(values[i]);
    }
  }
  return "";
}

std::string CheckChoices(const std::vector<Decision>& decisions,
                         const std::vector<int>& choices) {
  if (choices.size() != decisions.size()) {
    return "expected " + std::to_string(decisions.size()) + " choices, got " +
           std::to_string(choices.size());
  }
  for (size_t i = 0; i < choices.size(); ++i) {
    const int size = static_cast<int>(decisions[i].options.size());
    if (choices[i] < 0 || choices[i] >= size) {
      return "choice " + std::to_string(i) + " (" + decisions[i].name +
             "): index " + std::to_string(choices[i]) + " out of range [0, " +
             std::to_string(size) + ")";
    }
  }
  return "";
}

}  // namespace nas::space::internal
