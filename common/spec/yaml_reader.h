// Reading a yaml-cpp document against a fixed schema, strictly and with
// paths (internal to nas_spec; only spec_yaml.cc uses it).
//
// Every problem is INVALID_ARGUMENT "<path> (line N): <reason>", the path in
// the style "space.chain.stages[1].ops[2]", the same paths that validation
// of the proto uses, so that Locate() can add lines to its errors too.
#ifndef NAS_COMMON_SPEC_YAML_READER_H_
#define NAS_COMMON_SPEC_YAML_READER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/spec/space_from_proto.h"
#include "google/protobuf/repeated_field.h"
#include "yaml-cpp/yaml.h"

// Returns early from the enclosing function with a non-OK status.
#define NAS_SPEC_RETURN_IF_ERROR(expr)                                \
  do {                                                                \
    if (absl::Status status_ = (expr); !status_.ok()) return status_; \
  } while (false)

namespace nas::spec::internal {

// A mapping's entries in document order, after key checks.
struct YamlFields {
  std::vector<std::pair<std::string, YAML::Node>> entries;

  // The value of `key`, or nullptr when the mapping does not have it.
  const YAML::Node* Find(absl::string_view key) const;
};

// "a.b" from "a" and "b"; just "b" at the top level (empty path).
std::string ChildPath(absl::string_view path, absl::string_view key);
// "a[3]".
std::string IndexPath(absl::string_view path, size_t i);
// A key as a path shows it: as is when it is a plain name, quoted when it
// holds anything else (it is user text and may be long or odd).
std::string KeyForPath(absl::string_view key);
// What a node is, for "expected X, got Y": a quoted scalar, "a list",
// "a mapping" or "nothing".
std::string DescribeNode(const YAML::Node& node);

// Reads one document. It remembers the line of every path it has seen and
// the paths of the values it has read (explicitly_set), and refuses to
// visit more than a fixed number of values, which bounds the work an alias
// used many times can cause. Not thread-safe; one reader per document.
class YamlReader {
 public:
  YamlReader();

  // "<path> (line N): <reason>"; the line only when the path has been seen.
  absl::Status Error(absl::string_view path, absl::string_view reason) const;

  // Records that `path` was written at `mark` (ignored when mark is null).
  void Remember(const std::string& path, const YAML::Mark& mark);

  // Adds a line to a "<path>: <reason>" status from elsewhere (validation):
  // "<path> (line N): ..." when the path was seen, "<path> (in <ancestor> at
  // line N): ..." when only an ancestor was (a missing key). Unchanged
  // otherwise.
  absl::Status Locate(const absl::Status& status) const;

  // Paths of every value read, for ApplySpecDefaults/ValidateSearchSpec.
  const FieldPathSet& explicitly_set() const { return explicitly_set_; }

  // A mapping whose keys are all in `allowed`, none twice; a null node
  // ("key:" alone) is an empty mapping.
  absl::Status ReadMapping(const YAML::Node& node, const std::string& path,
                           const std::vector<absl::string_view>& allowed,
                           YamlFields* fields);
  // A list; each item's path is "path[i]".
  absl::Status ReadList(const YAML::Node& node, const std::string& path,
                        std::vector<YAML::Node>* items);
  // Scalars. Numbers must be plain (unquoted) YAML numbers: decimal
  // integers; floats also as 1e-3, .5, .inf, .nan. Text is any scalar.
  absl::Status ReadInt32(const YAML::Node& node, const std::string& path,
                         int32_t* value);
  absl::Status ReadUint64(const YAML::Node& node, const std::string& path,
                          uint64_t* value);
  absl::Status ReadDouble(const YAML::Node& node, const std::string& path,
                          double* value);
  absl::Status ReadString(const YAML::Node& node, const std::string& path,
                          std::string* value);
  // true or false, unquoted (YAML 1.2's core schema, as JSON writes them).
  absl::Status ReadBool(const YAML::Node& node, const std::string& path,
                        bool* value);
  absl::Status ReadInt32List(const YAML::Node& node, const std::string& path,
                             google::protobuf::RepeatedField<int32_t>* values);
  absl::Status ReadStringList(
      const YAML::Node& node, const std::string& path,
      google::protobuf::RepeatedPtrField<std::string>* values);

 private:
  std::string LineOf(absl::string_view path) const;
  absl::Status Spend(absl::string_view path);

  std::map<std::string, YAML::Mark, std::less<>> marks_;
  FieldPathSet explicitly_set_;
  int64_t nodes_left_;
};

}  // namespace nas::spec::internal

#endif  // NAS_COMMON_SPEC_YAML_READER_H_
