#include "common/spec/spec_yaml.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/spec/constraint_text.h"
#include "common/spec/dataset_names.h"
#include "common/spec/field_errors.h"
#include "common/spec/spec_validation.h"
#include "common/spec/yaml_document.h"
#include "common/spec/yaml_reader.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "yaml-cpp/yaml.h"

namespace nas::spec {
namespace {

using internal::ChildPath;
using internal::DescribeNode;
using internal::IndexPath;
using internal::KeyForPath;
using internal::QuoteForMessage;
using internal::YamlFields;

// Reads a YAML document into a SearchSpec, remembering where each field was
// written so that every error, its own or validation's, names the line.
class SpecReader {
 public:
  absl::Status ReadSpec(const YAML::Node& root, nas::v1::SearchSpec* spec);

  const internal::YamlReader& yaml() const { return yaml_; }

 private:
  absl::Status ReadDataset(const YAML::Node& node, nas::v1::Dataset* dataset);
  absl::Status ReadSpace(const YAML::Node& node, nas::v1::SearchSpace* space);
  absl::Status ReadNb201(const YAML::Node& node,
                         nas::v1::NasBench201Space* nb201);
  absl::Status ReadChain(const YAML::Node& node, nas::v1::ChainSpace* chain);
  // A message whose oneof "kind" holds option messages (StrategySpec,
  // EarlyStoppingSpec): the shorthand "path: name" (default options) or a
  // mapping with exactly one name and its options.
  absl::Status ReadKind(const YAML::Node& node, const std::string& path,
                        google::protobuf::Message* message);
  // A strategy's options: a mapping onto the scalar fields of `options`.
  absl::Status ReadOptions(const YAML::Node& node, const std::string& path,
                           google::protobuf::Message* options);
  absl::Status ReadObjective(const YAML::Node& node, const std::string& path,
                             nas::v1::Objective* objective);
  // A constraint is one string, "latency_ms <= 5" (constraint_text.h).
  absl::Status ReadConstraint(const YAML::Node& node, const std::string& path,
                              nas::v1::Constraint* constraint);
  absl::Status ReadBudget(const YAML::Node& node,
                          nas::v1::SearchBudget* budget);
  absl::Status ReadTraining(const YAML::Node& node,
                            nas::v1::TrainingBudget* training);
  // "estimation: from_scratch", "estimation: weight_sharing",
  // "estimation: zero_cost" (defaults), or a mapping with exactly one of
  // them and its options.
  absl::Status ReadEstimation(const YAML::Node& node,
                              nas::v1::EstimationSpec* estimation);
  absl::Status ReadWeightSharing(const YAML::Node& node,
                                 nas::v1::WeightSharingConfig* config);

  internal::YamlReader yaml_;
};

absl::Status SpecReader::ReadSpec(const YAML::Node& root,
                                  nas::v1::SearchSpec* spec) {
  if (root.IsNull()) return absl::InvalidArgumentError("the spec is empty");
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the spec must be a YAML mapping of keys to values, got ",
                     DescribeNode(root)));
  }
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(
      yaml_.ReadMapping(root, "",
                        {"name", "seed", "dataset", "space", "strategy",
                         "objectives", "constraints", "budget", "training",
                         "estimation", "early_stopping"},
                        &fields));
  for (const auto& [key, value] : fields.entries) {
    if (key == "name") {
      NAS_SPEC_RETURN_IF_ERROR(
          yaml_.ReadString(value, key, spec->mutable_name()));
    } else if (key == "seed") {
      uint64_t seed = 0;
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadUint64(value, key, &seed));
      spec->set_seed(seed);
    } else if (key == "dataset") {
      NAS_SPEC_RETURN_IF_ERROR(ReadDataset(value, spec->mutable_dataset()));
    } else if (key == "space") {
      NAS_SPEC_RETURN_IF_ERROR(ReadSpace(value, spec->mutable_space()));
    } else if (key == "strategy") {
      NAS_SPEC_RETURN_IF_ERROR(
          ReadKind(value, key, spec->mutable_strategy()));
    } else if (key == "early_stopping") {
      NAS_SPEC_RETURN_IF_ERROR(
          ReadKind(value, key, spec->mutable_early_stopping()));
    } else if (key == "objectives") {
      std::vector<YAML::Node> items;
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadList(value, key, &items));
      for (size_t i = 0; i < items.size(); ++i) {
        NAS_SPEC_RETURN_IF_ERROR(
            ReadObjective(items[i], IndexPath(key, i), spec->add_objectives()));
      }
    } else if (key == "constraints") {
      std::vector<YAML::Node> items;
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadList(value, key, &items));
      for (size_t i = 0; i < items.size(); ++i) {
        NAS_SPEC_RETURN_IF_ERROR(ReadConstraint(items[i], IndexPath(key, i),
                                                spec->add_constraints()));
      }
    } else if (key == "budget") {
      NAS_SPEC_RETURN_IF_ERROR(ReadBudget(value, spec->mutable_budget()));
    } else if (key == "training") {
      NAS_SPEC_RETURN_IF_ERROR(ReadTraining(value, spec->mutable_training()));
    } else if (key == "estimation") {
      NAS_SPEC_RETURN_IF_ERROR(
          ReadEstimation(value, spec->mutable_estimation()));
    }
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadEstimation(const YAML::Node& node,
                                        nas::v1::EstimationSpec* estimation) {
  constexpr absl::string_view kExpected =
      "expected from_scratch, weight_sharing or zero_cost";
  if (node.IsScalar()) {
    if (node.Scalar() == "from_scratch") {
      estimation->mutable_from_scratch();
    } else if (node.Scalar() == "weight_sharing") {
      estimation->mutable_weight_sharing();
    } else if (node.Scalar() == "zero_cost") {
      estimation->mutable_zero_cost();
    } else {
      return yaml_.Error(
          "estimation",
          absl::StrCat("unknown estimation ", QuoteForMessage(node.Scalar()),
                       "; ", kExpected));
    }
    return absl::OkStatus();
  }
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
      node, "estimation", {"from_scratch", "weight_sharing", "zero_cost"},
      &fields));
  if (fields.entries.size() != 1) {
    return yaml_.Error(
        "estimation",
        fields.entries.empty()
            ? std::string(kExpected)
            : absl::StrCat("exactly one estimation may be given, got ",
                           fields.entries[0].first, " and ",
                           fields.entries[1].first));
  }
  const auto& [name, options] = fields.entries[0];
  if (name == "from_scratch") {
    YamlFields none;
    NAS_SPEC_RETURN_IF_ERROR(
        yaml_.ReadMapping(options, "estimation.from_scratch", {}, &none));
    estimation->mutable_from_scratch();
    return absl::OkStatus();
  }
  if (name == "zero_cost") {
    return ReadOptions(options, "estimation.zero_cost",
                       estimation->mutable_zero_cost());
  }
  return ReadWeightSharing(options, estimation->mutable_weight_sharing());
}

absl::Status SpecReader::ReadWeightSharing(
    const YAML::Node& node, nas::v1::WeightSharingConfig* config) {
  const std::string path = "estimation.weight_sharing";
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
      node, path, {"supernet", "candidates", "retrain_top_k"}, &fields));
  for (const auto& [key, value] : fields.entries) {
    if (key == "supernet") {
      NAS_SPEC_RETURN_IF_ERROR(ReadOptions(value, ChildPath(path, key),
                                           config->mutable_supernet()));
    } else if (key == "candidates") {
      NAS_SPEC_RETURN_IF_ERROR(ReadOptions(value, ChildPath(path, key),
                                           config->mutable_candidates()));
    } else {
      int32_t k = 0;
      NAS_SPEC_RETURN_IF_ERROR(
          yaml_.ReadInt32(value, ChildPath(path, key), &k));
      config->set_retrain_top_k(k);
    }
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadDataset(const YAML::Node& node,
                                     nas::v1::Dataset* dataset) {
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
      node, "dataset", {"name", "validation_fraction"}, &fields));
  if (const YAML::Node* value = fields.Find("name")) {
    std::string name;
    NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadString(*value, "dataset.name", &name));
    dataset->set_name(DatasetFromText(name));
    if (dataset->name() == nas::v1::DATASET_NAME_UNSPECIFIED) {
      return yaml_.Error(
          "dataset.name",
          absl::StrCat("unknown dataset ", QuoteForMessage(name),
                       "; expected one of fashion_mnist, mnist, cifar10"));
    }
  }
  if (const YAML::Node* value = fields.Find("validation_fraction")) {
    double fraction = 0;
    NAS_SPEC_RETURN_IF_ERROR(
        yaml_.ReadDouble(*value, "dataset.validation_fraction", &fraction));
    dataset->set_validation_fraction(fraction);
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadSpace(const YAML::Node& node,
                                   nas::v1::SearchSpace* space) {
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(
      yaml_.ReadMapping(node, "space", {"nb201", "chain"}, &fields));
  if (fields.entries.size() > 1) {
    return yaml_.Error("space",
                       "exactly one of nb201, chain may be given, got both");
  }
  if (const YAML::Node* value = fields.Find("nb201")) {
    return ReadNb201(*value, space->mutable_nb201());
  }
  if (const YAML::Node* value = fields.Find("chain")) {
    return ReadChain(*value, space->mutable_chain());
  }
  return absl::OkStatus();  // neither: validation says space is required
}

absl::Status SpecReader::ReadNb201(const YAML::Node& node,
                                   nas::v1::NasBench201Space* nb201) {
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
      node, "space.nb201", {"channels", "cells_per_stage", "stem_stride", "ops"},
      &fields));
  for (const auto& [key, value] : fields.entries) {
    const std::string path = ChildPath("space.nb201", key);
    int32_t number = 0;
    if (key == "channels") {
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadInt32(value, path, &number));
      nb201->set_channels(number);
    } else if (key == "cells_per_stage") {
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadInt32(value, path, &number));
      nb201->set_cells_per_stage(number);
    } else if (key == "stem_stride") {
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadInt32(value, path, &number));
      nb201->set_stem_stride(number);
    } else if (key == "ops") {
      NAS_SPEC_RETURN_IF_ERROR(
          yaml_.ReadStringList(value, path, nb201->mutable_ops()));
    }
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadChain(const YAML::Node& node,
                                   nas::v1::ChainSpace* chain) {
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
      node, "space.chain", {"stem_channels", "stem_stride", "stages"}, &fields));
  if (const YAML::Node* value = fields.Find("stem_channels")) {
    int32_t channels = 0;
    NAS_SPEC_RETURN_IF_ERROR(
        yaml_.ReadInt32(*value, "space.chain.stem_channels", &channels));
    chain->set_stem_channels(channels);
  }
  if (const YAML::Node* value = fields.Find("stem_stride")) {
    int32_t stride = 0;
    NAS_SPEC_RETURN_IF_ERROR(
        yaml_.ReadInt32(*value, "space.chain.stem_stride", &stride));
    chain->set_stem_stride(stride);
  }
  const YAML::Node* stages_node = fields.Find("stages");
  if (stages_node == nullptr) return absl::OkStatus();
  std::vector<YAML::Node> stages;
  NAS_SPEC_RETURN_IF_ERROR(
      yaml_.ReadList(*stages_node, "space.chain.stages", &stages));
  for (size_t i = 0; i < stages.size(); ++i) {
    const std::string path = IndexPath("space.chain.stages", i);
    nas::v1::ChainStage* stage = chain->add_stages();
    YamlFields stage_fields;
    NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
        stages[i], path, {"depths", "widths", "ops", "stride"}, &stage_fields));
    for (const auto& [key, value] : stage_fields.entries) {
      const std::string field_path = ChildPath(path, key);
      if (key == "depths") {
        NAS_SPEC_RETURN_IF_ERROR(
            yaml_.ReadInt32List(value, field_path, stage->mutable_depths()));
      } else if (key == "widths") {
        NAS_SPEC_RETURN_IF_ERROR(
            yaml_.ReadInt32List(value, field_path, stage->mutable_widths()));
      } else if (key == "ops") {
        NAS_SPEC_RETURN_IF_ERROR(
            yaml_.ReadStringList(value, field_path, stage->mutable_ops()));
      } else if (key == "stride") {
        int32_t stride = 0;
        NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadInt32(value, field_path, &stride));
        stage->set_stride(stride);
      }
    }
  }
  return absl::OkStatus();
}

// The strategies are the fields of StrategySpec's oneof; each one's options
// are the scalar fields of its config message. Reading them by reflection
// keeps YAML in step with the proto as strategies are added.
// The option names of the one oneof, "kind", of `descriptor`.
std::vector<absl::string_view> KindNames(
    const google::protobuf::Descriptor* descriptor) {
  const google::protobuf::OneofDescriptor* kind =
      descriptor->FindOneofByName("kind");
  std::vector<absl::string_view> names;
  for (int i = 0; i < kind->field_count(); ++i) {
    names.emplace_back(kind->field(i)->name());
  }
  return names;
}

absl::Status SpecReader::ReadKind(const YAML::Node& node,
                                  const std::string& path,
                                  google::protobuf::Message* message) {
  const google::protobuf::Descriptor* descriptor = message->GetDescriptor();
  const google::protobuf::Reflection* reflection = message->GetReflection();
  const std::vector<absl::string_view> names = KindNames(descriptor);
  const std::string expected =
      absl::StrCat("expected one of ", absl::StrJoin(names, ", "));
  if (node.IsScalar()) {  // the shorthand "strategy: random"
    const google::protobuf::FieldDescriptor* field =
        descriptor->FindFieldByName(node.Scalar());
    if (field == nullptr || field->containing_oneof() == nullptr) {
      return yaml_.Error(
          path, absl::StrCat("unknown ", path, " ",
                             QuoteForMessage(node.Scalar()), "; ", expected));
    }
    reflection->MutableMessage(message, field);
    return absl::OkStatus();
  }
  if (node.IsMap()) {  // name unknown kinds as such, not as keys
    for (auto it = node.begin(); it != node.end(); ++it) {
      if (it->first.IsScalar() &&
          std::find(names.begin(), names.end(), it->first.Scalar()) ==
              names.end()) {
        const std::string key_path =
            ChildPath(path, KeyForPath(it->first.Scalar()));
        yaml_.Remember(key_path, it->first.Mark());
        return yaml_.Error(key_path,
                           absl::StrCat("unknown ", path, "; ", expected));
      }
    }
  }
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(node, path, names, &fields));
  if (fields.entries.size() > 1) {
    return yaml_.Error(path,
                       absl::StrCat("exactly one ", path, " may be given, got ",
                                    fields.entries[0].first, " and ",
                                    fields.entries[1].first));
  }
  if (fields.entries.empty()) {
    return absl::OkStatus();  // validation says when one is required
  }
  const auto& [name, options] = fields.entries[0];
  return ReadOptions(
      options, ChildPath(path, name),
      reflection->MutableMessage(message, descriptor->FindFieldByName(name)));
}

absl::Status SpecReader::ReadOptions(const YAML::Node& node,
                                     const std::string& path,
                                     google::protobuf::Message* options) {
  const google::protobuf::Descriptor* descriptor = options->GetDescriptor();
  const google::protobuf::Reflection* reflection = options->GetReflection();
  std::vector<absl::string_view> keys;
  for (int i = 0; i < descriptor->field_count(); ++i) {
    keys.emplace_back(descriptor->field(i)->name());
  }
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(node, path, keys, &fields));
  for (const auto& [key, value] : fields.entries) {
    const google::protobuf::FieldDescriptor* field =
        descriptor->FindFieldByName(key);
    const std::string field_path = ChildPath(path, key);
    if (field->is_repeated()) {
      return yaml_.Error(field_path, "lists are not supported here");
    }
    switch (field->cpp_type()) {
      case google::protobuf::FieldDescriptor::CPPTYPE_INT32: {
        int32_t number = 0;
        NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadInt32(value, field_path, &number));
        reflection->SetInt32(options, field, number);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_DOUBLE: {
        double number = 0;
        NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadDouble(value, field_path, &number));
        reflection->SetDouble(options, field, number);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_STRING: {
        std::string text;
        NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadString(value, field_path, &text));
        reflection->SetString(options, field, text);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_BOOL: {
        bool flag = false;
        NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadBool(value, field_path, &flag));
        reflection->SetBool(options, field, flag);
        break;
      }
      case google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE:
        NAS_SPEC_RETURN_IF_ERROR(ReadOptions(
            value, field_path, reflection->MutableMessage(options, field)));
        break;
      default:  // no such option yet; add a case when one appears
        return yaml_.Error(
            field_path, absl::StrCat("options of type ", field->cpp_type_name(),
                                     " are not supported in YAML yet"));
    }
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadObjective(const YAML::Node& node,
                                       const std::string& path,
                                       nas::v1::Objective* objective) {
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(
      yaml_.ReadMapping(node, path, {"metric", "direction"}, &fields));
  if (const YAML::Node* value = fields.Find("metric")) {
    NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadString(*value, ChildPath(path, "metric"),
                                              objective->mutable_metric()));
  }
  if (const YAML::Node* value = fields.Find("direction")) {
    const std::string direction_path = ChildPath(path, "direction");
    std::string direction;
    NAS_SPEC_RETURN_IF_ERROR(
        yaml_.ReadString(*value, direction_path, &direction));
    if (direction == "maximize") {
      objective->set_direction(nas::v1::DIRECTION_MAXIMIZE);
    } else if (direction == "minimize") {
      objective->set_direction(nas::v1::DIRECTION_MINIMIZE);
    } else {
      return yaml_.Error(
          direction_path,
          absl::StrCat("unknown direction ", QuoteForMessage(direction),
                       "; expected maximize or minimize"));
    }
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadConstraint(const YAML::Node& node,
                                        const std::string& path,
                                        nas::v1::Constraint* constraint) {
  std::string text;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadString(node, path, &text));
  absl::StatusOr<nas::v1::Constraint> parsed = ParseConstraint(text);
  if (!parsed.ok()) return yaml_.Error(path, parsed.status().message());
  *constraint = *std::move(parsed);
  // Validation names the parts; they were all written on this line.
  for (const char* part : {"metric", "op", "bound"}) {
    const std::string part_path = ChildPath(path, part);
    yaml_.Remember(part_path, node.Mark());
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadBudget(const YAML::Node& node,
                                    nas::v1::SearchBudget* budget) {
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
      node, "budget", {"max_trials", "parallelism", "max_attempts"}, &fields));
  for (const auto& [key, value] : fields.entries) {
    int32_t number = 0;
    NAS_SPEC_RETURN_IF_ERROR(
        yaml_.ReadInt32(value, ChildPath("budget", key), &number));
    if (key == "max_trials") budget->set_max_trials(number);
    if (key == "parallelism") budget->set_parallelism(number);
    if (key == "max_attempts") budget->set_max_attempts(number);
  }
  return absl::OkStatus();
}

absl::Status SpecReader::ReadTraining(const YAML::Node& node,
                                      nas::v1::TrainingBudget* training) {
  YamlFields fields;
  NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadMapping(
      node, "training",
      {"epochs", "data_fraction", "batch_size", "learning_rate"}, &fields));
  for (const auto& [key, value] : fields.entries) {
    const std::string path = ChildPath("training", key);
    int32_t number = 0;
    double real = 0;
    if (key == "epochs" || key == "batch_size") {
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadInt32(value, path, &number));
      if (key == "epochs") training->set_epochs(number);
      if (key == "batch_size") training->set_batch_size(number);
    } else {
      NAS_SPEC_RETURN_IF_ERROR(yaml_.ReadDouble(value, path, &real));
      if (key == "data_fraction") training->set_data_fraction(real);
      if (key == "learning_rate") training->set_learning_rate(real);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<nas::v1::SearchSpec> ParseSearchSpecYaml(
    std::string_view std_text) {
  const absl::string_view text(std_text.data(), std_text.size());
  if (text.size() > kMaxSpecBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the spec is ", text.size(), " bytes; at most ",
                     kMaxSpecBytes, " (1 MiB) are accepted"));
  }
  absl::StatusOr<YAML::Node> document =
      internal::LoadSingleDocument(std::string(text));
  if (!document.ok()) return document.status();
  nas::v1::SearchSpec spec;
  SpecReader reader;
  try {
    if (absl::Status s = reader.ReadSpec(*document, &spec); !s.ok())
      return s;
  } catch (const YAML::Exception& e) {  // not expected: reads check types first
    return absl::InvalidArgumentError(
        absl::StrCat("YAML error at line ", e.mark.line + 1, ": ", e.msg));
  }
  ApplySpecDefaults(&spec, reader.yaml().explicitly_set());
  if (absl::Status s = ValidateSearchSpec(spec, reader.yaml().explicitly_set());
      !s.ok()) {
    return reader.yaml().Locate(s);
  }
  return spec;
}

absl::StatusOr<nas::v1::SearchSpec> ParseSearchSpecFile(
    const std::string& path) {
  // Every message starts with the path, as a compiler's does.
  auto fail = [&](absl::StatusCode code, absl::string_view reason) {
    return absl::Status(code, absl::StrCat(path, ": ", reason));
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const absl::StatusCode code = error == ENOENT || error == ENOTDIR
                                      ? absl::StatusCode::kNotFound
                                  : error == EACCES || error == EPERM
                                      ? absl::StatusCode::kPermissionDenied
                                      : absl::StatusCode::kFailedPrecondition;
    return fail(code, absl::StrCat("cannot open: ", std::strerror(error)));
  }
  std::string text;
  absl::Status status;
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    status = fail(absl::StatusCode::kFailedPrecondition,
                  absl::StrCat("cannot stat: ", std::strerror(errno)));
  } else if (S_ISDIR(info.st_mode)) {
    status = fail(absl::StatusCode::kFailedPrecondition,
                  "is a directory, not a spec file");
  } else if (S_ISREG(info.st_mode) &&
             static_cast<uint64_t>(info.st_size) > kMaxSpecBytes) {
    status = fail(
        absl::StatusCode::kInvalidArgument,
        absl::StrCat("file is ", info.st_size, " bytes; a spec may be at most ",
                     kMaxSpecBytes, " bytes (1 MiB)"));
  } else {
    // Stop at the first chunk past the limit: a pipe or a file that grew
    // after fstat is refused without being read whole.
    char buffer[64 * 1024];
    while (status.ok()) {
      const ssize_t n = ::read(fd, buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        status = fail(absl::StatusCode::kFailedPrecondition,
                      absl::StrCat("cannot read: ", std::strerror(errno)));
      } else if (n == 0) {
        break;
      } else if (text.size() + static_cast<size_t>(n) > kMaxSpecBytes) {
        status = fail(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("more than ", kMaxSpecBytes,
                                   " bytes; a spec may be at most 1 MiB"));
      } else {
        text.append(buffer, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  if (!status.ok()) return status;
  absl::StatusOr<nas::v1::SearchSpec> spec = ParseSearchSpecYaml(text);
  if (!spec.ok()) return fail(spec.status().code(), spec.status().message());
  return spec;
}

}  // namespace nas::spec
