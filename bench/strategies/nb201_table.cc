#include "bench/strategies/nb201_table.h"

#include <algorithm>
#include <fstream>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace nas::bench {

size_t Nb201Table::Index(const std::vector<int>& choices) const {
  size_t index = 0;
  for (size_t i = 0; i < radix_.size(); ++i) index = index * radix_[i] + choices[i];
  return index;
}

absl::StatusOr<Nb201Table> Nb201Table::Load(const std::string& path,
                                            const space::SearchSpace& space) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  Nb201Table table;
  size_t total = 1;
  for (const space::Decision& d : space.decisions()) {
    table.radix_.push_back(static_cast<int>(d.options.size()));
    total *= d.options.size();
  }
  std::vector<double> accuracy(total, -1);
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || (line_number == 1 && line.rfind("arch", 0) == 0)) {
      continue;
    }
    const auto where = [&] { return absl::StrCat(path, ":", line_number, ": "); };
    const size_t comma = line.find(',');
    double value = 0;
    if (comma == std::string::npos ||
        !absl::SimpleAtod(line.substr(comma + 1), &value)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "expected `arch,accuracy`"));
    }
    std::vector<std::string> ops;
    std::string error;
    if (!space::ParseNb201String(line.substr(0, comma), &ops, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(where(), error));
    }
    std::vector<int> choices;
    for (size_t e = 0; e < ops.size(); ++e) {
      const auto& options = space.decisions()[e].options;
      auto it = std::find(options.begin(), options.end(), ops[e]);
      if (it == options.end()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "op ", ops[e], " is not in the space"));
      }
      choices.push_back(static_cast<int>(it - options.begin()));
    }
    double& slot = accuracy[table.Index(choices)];
    if (slot >= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "architecture listed twice"));
    }
    slot = value;
  }

  std::unordered_map<std::string, int> class_ids;
  table.class_of_.resize(total);
  std::vector<int> choices(table.radix_.size(), 0);
  for (size_t index = 0; index < total; ++index) {
    if (accuracy[index] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": architecture ", space.Render(choices), " is missing"));
    }
    auto [it, added] = class_ids.emplace(space.CanonicalKey(choices),
                                         static_cast<int>(class_ids.size()));
    if (added) table.class_value_.push_back(accuracy[index]);
    double& value = table.class_value_[it->second];
    value = std::max(value, accuracy[index]);
    table.class_of_[index] = it->second;
    for (size_t i = choices.size(); i-- > 0;) {
      if (++choices[i] < table.radix_[i]) break;
      choices[i] = 0;
    }
  }
  table.optimum_class_ = static_cast<int>(
      std::max_element(table.class_value_.begin(), table.class_value_.end()) -
      table.class_value_.begin());
  table.optimum_classes_ = static_cast<int>(
      std::count(table.class_value_.begin(), table.class_value_.end(),
                 table.optimum()));
  return table;
}

}  // namespace nas::bench
