#include "bench/ranking/search_spec_lite.h"

#include <fstream>
#include <map>
#include <sstream>
#include <utility>
#include <vector>

namespace nas::bench {
namespace {

std::string Trim(const std::string& s) {
  const size_t begin = s.find_first_not_of(" \t\r");
  if (begin == std::string::npos) return "";
  const size_t end = s.find_last_not_of(" \t\r");
  return s.substr(begin, end - begin + 1);
}

// Splits at top-level commas (not inside [] or {}).
std::vector<std::string> SplitTopLevel(const std::string& s) {
  std::vector<std::string> parts;
  int depth = 0;
  std::string current;
  for (char c : s) {
    if (c == '[' || c == '{') ++depth;
    if (c == ']' || c == '}') --depth;
    if (c == ',' && depth == 0) {
      parts.push_back(Trim(current));
      current.clear();
    } else {
      current += c;
    }
  }
  if (!Trim(current).empty()) parts.push_back(Trim(current));
  return parts;
}

std::string Unbracket(const std::string& s, char open, char close) {
  const std::string t = Trim(s);
  if (t.size() >= 2 && t.front() == open && t.back() == close) {
    return t.substr(1, t.size() - 2);
  }
  return t;
}

// "{a: 1, b: [x, y]}" -> {a: "1", b: "[x, y]"}.
std::map<std::string, std::string> FlowMap(const std::string& s) {
  std::map<std::string, std::string> out;
  for (const std::string& part : SplitTopLevel(Unbracket(s, '{', '}'))) {
    const size_t colon = part.find(':');
    if (colon == std::string::npos) continue;
    out[Trim(part.substr(0, colon))] = Trim(part.substr(colon + 1));
  }
  return out;
}

std::vector<std::string> FlowList(const std::string& s) {
  return SplitTopLevel(Unbracket(s, '[', ']'));
}

bool ToInt(const std::string& text, int* out) {
  try {
    size_t used = 0;
    *out = std::stoi(text, &used);
    return used == text.size();
  } catch (...) {
    return false;
  }
}

bool ToDouble(const std::string& text, double* out) {
  try {
    size_t used = 0;
    *out = std::stod(text, &used);
    return used == text.size();
  } catch (...) {
    return false;
  }
}

}  // namespace

bool ReadSpecLite(const std::string& path, SpecLite* spec, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  // Scalars by dotted path ("training.epochs") and list items by the path of
  // the key that holds them ("space.chain.stages").
  std::map<std::string, std::string> scalars;
  std::map<std::string, std::vector<std::string>> lists;
  std::vector<std::pair<int, std::string>> stack;  // (indent, key)
  std::string line;
  while (std::getline(in, line)) {
    const size_t hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    if (Trim(line).empty()) continue;
    const int indent = static_cast<int>(line.find_first_not_of(' '));
    const std::string body = Trim(line);
    const bool item = body.rfind("- ", 0) == 0;
    // A list item belongs to the nearest key indented less than (or, in
    // YAML's compact style, as much as) the dash.
    while (!stack.empty() &&
           (item ? stack.back().first > indent : stack.back().first >= indent)) {
      stack.pop_back();
    }
    std::string prefix;
    for (const auto& [unused, key] : stack) prefix += key + ".";
    if (item) {
      lists[prefix.empty() ? "" : prefix.substr(0, prefix.size() - 1)]
          .push_back(Trim(body.substr(2)));
      continue;
    }
    const size_t colon = body.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = Trim(body.substr(0, colon));
    const std::string value = Trim(body.substr(colon + 1));
    if (value.empty()) {
      stack.push_back({indent, key});
    } else {
      scalars[prefix + key] = value;
    }
  }

  auto get_int = [&](const std::string& key, int* out) {
    auto it = scalars.find(key);
    if (it == scalars.end()) return true;
    if (!ToInt(it->second, out)) {
      *error = key + ": not an integer: " + it->second;
      return false;
    }
    return true;
  };
  auto get_double = [&](const std::string& key, double* out) {
    auto it = scalars.find(key);
    if (it == scalars.end()) return true;
    if (!ToDouble(it->second, out)) {
      *error = key + ": not a number: " + it->second;
      return false;
    }
    return true;
  };
  if (scalars.count("name")) spec->name = scalars["name"];
  if (scalars.count("dataset.name")) spec->dataset = scalars["dataset.name"];
  int seed = static_cast<int>(spec->seed);
  if (!get_int("seed", &seed)) return false;
  spec->seed = static_cast<uint64_t>(seed);
  if (!get_double("dataset.validation_fraction", &spec->validation_fraction) ||
      !get_int("space.chain.stem_channels", &spec->chain.stem_channels) ||
      !get_int("space.chain.stem_stride", &spec->chain.stem_stride) ||
      !get_int("training.epochs", &spec->epochs) ||
      !get_double("training.data_fraction", &spec->data_fraction) ||
      !get_int("training.batch_size", &spec->batch_size) ||
      !get_double("training.learning_rate", &spec->learning_rate)) {
    return false;
  }
  auto stages = lists.find("space.chain.stages");
  if (stages == lists.end() || stages->second.empty()) {
    *error = path + ": no space.chain.stages (the bench needs a chain space)";
    return false;
  }
  spec->chain.stages.clear();
  for (size_t i = 0; i < stages->second.size(); ++i) {
    const std::string where = "space.chain.stages[" + std::to_string(i) + "]";
    std::map<std::string, std::string> fields = FlowMap(stages->second[i]);
    space::ChainStageConfig stage;
    for (const char* key : {"depths", "widths"}) {
      std::vector<int>& values =
          std::string(key) == "depths" ? stage.depths : stage.widths;
      for (const std::string& text : FlowList(fields[key])) {
        int value = 0;
        if (!ToInt(text, &value)) {
          *error = where + "." + key + ": not an integer: " + text;
          return false;
        }
        values.push_back(value);
      }
    }
    stage.ops = FlowList(fields["ops"]);
    if (fields.count("stride") && !ToInt(fields["stride"], &stage.stride)) {
      *error = where + ".stride: not an integer: " + fields["stride"];
      return false;
    }
    spec->chain.stages.push_back(stage);
  }
  return true;
}

}  // namespace nas::bench
