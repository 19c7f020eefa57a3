#include "common/spec/yaml_reader.h"

#include <algorithm>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/spec/field_errors.h"

namespace nas::spec::internal {
namespace {

// Bounds the work of walking the document. Aliases let a 1 MiB text name
// the same big list millions of times; the largest valid spec (16 stages of
// 32 depths, 4096 widths and 9 ops) has about 66000 values.
constexpr int64_t kMaxNodes = 200'000;

// A plain (unquoted, untagged) scalar or one explicitly tagged `tag`: quoted
// text is a string in YAML, so "5" is not a number.
bool IsUntypedOr(const YAML::Node& node, absl::string_view tag) {
  return node.IsScalar() && (node.Tag() == "?" || node.Tag() == tag);
}

bool IsDecimalInteger(absl::string_view text) {
  if (!text.empty() && (text[0] == '-' || text[0] == '+'))
    text.remove_prefix(1);
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// YAML 1.2 core-schema floats: decimal with optional exponent, .inf, .nan.
bool ParseYamlFloat(absl::string_view text, double* value) {
  absl::string_view body = text;
  bool negative = false;
  if (!body.empty() && (body[0] == '-' || body[0] == '+')) {
    negative = body[0] == '-';
    body.remove_prefix(1);
  }
  if (body == ".inf" || body == ".Inf" || body == ".INF") {
    *value = negative ? -std::numeric_limits<double>::infinity()
                      : std::numeric_limits<double>::infinity();
    return true;
  }
  if (text == ".nan" || text == ".NaN" || text == ".NAN") {
    *value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  size_t i = 0, digits = 0;
  auto skip_digits = [&] {
    size_t n = 0;
    while (i < body.size() && body[i] >= '0' && body[i] <= '9') ++i, ++n;
    return n;
  };
  digits += skip_digits();
  if (i < body.size() && body[i] == '.') ++i, digits += skip_digits();
  if (digits == 0) return false;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    if (i < body.size() && (body[i] == '-' || body[i] == '+')) ++i;
    if (skip_digits() == 0) return false;
  }
  return i == body.size() && absl::SimpleAtod(text, value);
}

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t next = std::min({row[j] + 1, row[j - 1] + 1,
                                    diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = row[j];
      row[j] = next;
    }
  }
  return row[b.size()];
}

}  // namespace

const YAML::Node* YamlFields::Find(absl::string_view key) const {
  for (const auto& [name, value] : entries) {
    if (name == key) return &value;
  }
  return nullptr;
}

std::string ChildPath(absl::string_view path, absl::string_view key) {
  return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
}

std::string KeyForPath(absl::string_view key) {
  const bool plain = !key.empty() && key.size() <= 64 &&
                     std::all_of(key.begin(), key.end(), [](char c) {
                       return (c >= 'a' && c <= 'z') ||
                              (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '_' || c == '-';
                     });
  return plain ? std::string(key) : QuoteForMessage(key);
}

std::string IndexPath(absl::string_view path, size_t i) {
  return absl::StrCat(path, "[", i, "]");
}

std::string DescribeNode(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return QuoteForMessage(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

YamlReader::YamlReader() : nodes_left_(kMaxNodes) {}

absl::Status YamlReader::Error(absl::string_view path,
                               absl::string_view reason) const {
  return absl::InvalidArgumentError(
      absl::StrCat(path, LineOf(path), ": ", reason));
}

std::string YamlReader::LineOf(absl::string_view path) const {
  auto it = marks_.find(path);
  return it == marks_.end() ? ""
                            : absl::StrCat(" (line ", it->second.line + 1, ")");
}

void YamlReader::Remember(const std::string& path, const YAML::Mark& mark) {
  if (!mark.is_null()) marks_[path] = mark;
}

absl::Status YamlReader::Spend(absl::string_view path) {
  if (--nodes_left_ >= 0) return absl::OkStatus();
  return Error(path,
               absl::StrCat("the spec is too large (more than ", kMaxNodes,
                            " values, counting each use of an alias)"));
}

absl::Status YamlReader::ReadMapping(
    const YAML::Node& node, const std::string& path,
    const std::vector<absl::string_view>& allowed, YamlFields* fields) {
  fields->entries.clear();
  if (node.IsNull())
    return absl::OkStatus();  // "key:" alone is an empty mapping
  if (!node.IsMap()) {
    return Error(path,
                 absl::StrCat("expected a mapping, got ", DescribeNode(node)));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    NAS_SPEC_RETURN_IF_ERROR(Spend(path));
    const YAML::Node key = it->first;
    if (!key.IsScalar()) {
      return Error(path,
                   absl::StrCat("keys must be names, got ", DescribeNode(key),
                                " at line ", key.Mark().line + 1));
    }
    const std::string child = ChildPath(path, KeyForPath(key.Scalar()));
    if (std::find(allowed.begin(), allowed.end(), key.Scalar()) ==
        allowed.end()) {
      // Suggest only near misses: a typo or a shortened name.
      absl::string_view closest;
      size_t best = 3;
      for (absl::string_view name : allowed) {
        const size_t distance = EditDistance(key.Scalar(), name);
        if (distance < best) best = distance, closest = name;
      }
      for (absl::string_view name : allowed) {
        if (closest.empty() && key.Scalar().size() >= 3 &&
            absl::StartsWith(name, key.Scalar())) {
          closest = name;
        }
      }
      Remember(child, key.Mark());
      if (allowed.size() == 0)
        return Error(child, "unknown key; this section takes no keys");
      return Error(
          child, absl::StrCat("unknown key; expected one of ",
                              absl::StrJoin(allowed, ", "),
                              closest.empty() ? ""
                                              : absl::StrCat(" (did you mean ",
                                                             closest, "?)")));
    }
    if (fields->Find(key.Scalar()) != nullptr) {
      auto first = marks_.find(child);
      const std::string where =
          first == marks_.end()
              ? ""
              : absl::StrCat("; first given at line ", first->second.line + 1);
      Remember(child, key.Mark());
      return Error(child, absl::StrCat("duplicate key", where));
    }
    Remember(child, key.Mark());
    fields->entries.emplace_back(key.Scalar(), it->second);
  }
  return absl::OkStatus();
}

absl::Status YamlReader::ReadList(const YAML::Node& node,
                                  const std::string& path,
                                  std::vector<YAML::Node>* items) {
  items->clear();
  if (!node.IsSequence())
    return Error(path,
                 absl::StrCat("expected a list, got ", DescribeNode(node)));
  explicitly_set_.insert(path);
  // A null item (a bare "-") has no mark of its own; the list's will do.
  auto list_mark = marks_.find(path);
  size_t i = 0;
  for (auto it = node.begin(); it != node.end(); ++it, ++i) {
    NAS_SPEC_RETURN_IF_ERROR(Spend(path));
    const YAML::Node item = *it;
    Remember(IndexPath(path, i),
             !item.Mark().is_null() || list_mark == marks_.end()
                 ? item.Mark()
                 : list_mark->second);
    items->push_back(item);
  }
  return absl::OkStatus();
}

absl::Status YamlReader::ReadInt32(const YAML::Node& node,
                                   const std::string& path, int32_t* value) {
  int64_t parsed = 0;
  if (!IsUntypedOr(node, "tag:yaml.org,2002:int") ||
      !IsDecimalInteger(node.Scalar()) ||
      !absl::SimpleAtoi(node.Scalar(), &parsed)) {
    return Error(path,
                 absl::StrCat("expected an integer, got ", DescribeNode(node)));
  }
  if (parsed < std::numeric_limits<int32_t>::min() ||
      parsed > std::numeric_limits<int32_t>::max()) {
    return Error(path,
                 absl::StrCat("integer out of range, got ", node.Scalar()));
  }
  *value = static_cast<int32_t>(parsed);
  explicitly_set_.insert(path);
  return absl::OkStatus();
}

absl::Status YamlReader::ReadUint64(const YAML::Node& node,
                                    const std::string& path, uint64_t* value) {
  if (!IsUntypedOr(node, "tag:yaml.org,2002:int") ||
      !IsDecimalInteger(node.Scalar()) || node.Scalar()[0] == '-' ||
      !absl::SimpleAtoi(node.Scalar(), value)) {
    return Error(path, absl::StrCat("expected an integer from 0 to ",
                                    std::numeric_limits<uint64_t>::max(),
                                    ", got ", DescribeNode(node)));
  }
  explicitly_set_.insert(path);
  return absl::OkStatus();
}

absl::Status YamlReader::ReadDouble(const YAML::Node& node,
                                    const std::string& path, double* value) {
  if (!IsUntypedOr(node, "tag:yaml.org,2002:float") ||
      !ParseYamlFloat(node.Scalar(), value)) {
    return Error(path,
                 absl::StrCat("expected a number, got ", DescribeNode(node)));
  }
  explicitly_set_.insert(path);
  return absl::OkStatus();
}

absl::Status YamlReader::ReadString(const YAML::Node& node,
                                    const std::string& path,
                                    std::string* value) {
  if (!node.IsScalar())
    return Error(path, absl::StrCat("expected text, got ", DescribeNode(node)));
  *value = node.Scalar();
  explicitly_set_.insert(path);
  return absl::OkStatus();
}

absl::Status YamlReader::ReadBool(const YAML::Node& node,
                                  const std::string& path, bool* value) {
  const bool scalar =
      node.IsScalar() && IsUntypedOr(node, "tag:yaml.org,2002:bool");
  if (scalar && node.Scalar() == "true") {
    *value = true;
  } else if (scalar && node.Scalar() == "false") {
    *value = false;
  } else {
    return Error(
        path, absl::StrCat("expected true or false, got ", DescribeNode(node)));
  }
  explicitly_set_.insert(path);
  return absl::OkStatus();
}

absl::Status YamlReader::ReadInt32List(
    const YAML::Node& node, const std::string& path,
    google::protobuf::RepeatedField<int32_t>* values) {
  std::vector<YAML::Node> items;
  NAS_SPEC_RETURN_IF_ERROR(ReadList(node, path, &items));
  for (size_t i = 0; i < items.size(); ++i) {
    int32_t value = 0;
    NAS_SPEC_RETURN_IF_ERROR(ReadInt32(items[i], IndexPath(path, i), &value));
    values->Add(value);
  }
  return absl::OkStatus();
}

absl::Status YamlReader::ReadStringList(
    const YAML::Node& node, const std::string& path,
    google::protobuf::RepeatedPtrField<std::string>* values) {
  std::vector<YAML::Node> items;
  NAS_SPEC_RETURN_IF_ERROR(ReadList(node, path, &items));
  for (size_t i = 0; i < items.size(); ++i) {
    NAS_SPEC_RETURN_IF_ERROR(
        ReadString(items[i], IndexPath(path, i), values->Add()));
  }
  return absl::OkStatus();
}

absl::Status YamlReader::Locate(const absl::Status& status) const {
  const absl::string_view message = status.message();
  const size_t colon = message.find(": ");
  if (colon == absl::string_view::npos) return status;
  const absl::string_view path = message.substr(0, colon);
  if (path.find(' ') != absl::string_view::npos) return status;  // not a path
  absl::string_view ancestor = path;
  while (!ancestor.empty() && marks_.find(ancestor) == marks_.end()) {
    const size_t cut = ancestor.find_last_of(".[");
    ancestor = ancestor.substr(0, cut == absl::string_view::npos ? 0 : cut);
  }
  if (ancestor.empty()) return status;
  const int line = marks_.find(ancestor)->second.line + 1;
  const std::string where =
      ancestor == path
          ? absl::StrCat(" (line ", line, ")")
          : absl::StrCat(" (in ", ancestor, " at line ", line, ")");
  return absl::Status(status.code(),
                      absl::StrCat(path, where, message.substr(colon)));
}

}  // namespace nas::spec::internal
