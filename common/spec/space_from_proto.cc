#include "common/spec/space_from_proto.h"

#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "common/spec/field_errors.h"

namespace nas::spec {
namespace {

using internal::CheckRange;
using internal::FieldError;
using internal::QuoteForMessage;

// A non-empty list of distinct ops, each one of `known`.
absl::Status CheckOps(
    absl::string_view path,
    const google::protobuf::RepeatedPtrField<std::string>& ops,
    const std::vector<std::string>& known) {
  if (ops.empty()) return FieldError(path, "must list at least one op");
  for (int i = 0; i < ops.size(); ++i) {
    const std::string item = absl::StrCat(path, "[", i, "]");
    bool is_known = false;
    for (const std::string& k : known) is_known = is_known || k == ops[i];
    if (!is_known) {
      return FieldError(
          item, absl::StrCat("unknown op ", QuoteForMessage(ops[i]),
                             "; expected one of ", absl::StrJoin(known, ", ")));
    }
    // Every earlier op is known and distinct, so i < known.size(): cheap.
    for (int j = 0; j < i; ++j) {
      if (ops[j] == ops[i]) {
        return FieldError(item,
                          absl::StrCat("duplicate op ", QuoteForMessage(ops[i]),
                                       " (also at index ", j, ")"));
      }
    }
  }
  return absl::OkStatus();
}

// A non-empty list of distinct integers in [min, max]; `what` names one entry.
absl::Status CheckIntChoices(
    absl::string_view path, absl::string_view what,
    const google::protobuf::RepeatedField<int32_t>& values, int min, int max) {
  if (values.empty())
    return FieldError(path, absl::StrCat("must list at least one ", what));
  // Lists come from any client and may be long: no quadratic scan.
  std::map<int, int> first_index;
  for (int i = 0; i < values.size(); ++i) {
    const std::string item = absl::StrCat(path, "[", i, "]");
    if (absl::Status s = CheckRange(item, values[i], min, max); !s.ok())
      return s;
    if (auto [it, inserted] = first_index.emplace(values[i], i); !inserted) {
      return FieldError(item,
                        absl::StrCat("duplicate ", what, " ", values[i],
                                     " (also at index ", it->second, ")"));
    }
  }
  return absl::OkStatus();
}

bool Keep(const FieldPathSet& explicitly_set, absl::string_view path) {
  return explicitly_set.find(path) != explicitly_set.end();
}

absl::Status ValidateNb201(const nas::v1::NasBench201Space& nb201) {
  if (absl::Status s =
          CheckRange("space.nb201.channels", nb201.channels(), 1, kMaxChannels);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          CheckRange("space.nb201.cells_per_stage", nb201.cells_per_stage(), 1,
                     kMaxCellsPerStage);
      !s.ok()) {
    return s;
  }
  if (nb201.stem_stride() != 1 && nb201.stem_stride() != 2) {
    return FieldError("space.nb201.stem_stride",
                      absl::StrCat("must be 1 or 2, got ", nb201.stem_stride()));
  }
  return CheckOps("space.nb201.ops", nb201.ops(), nas::space::Nb201Ops());
}

absl::Status ValidateChain(const nas::v1::ChainSpace& chain) {
  if (absl::Status s = CheckRange("space.chain.stem_channels",
                                  chain.stem_channels(), 1, kMaxChannels);
      !s.ok()) {
    return s;
  }
  if (chain.stem_stride() != 1 && chain.stem_stride() != 2) {
    return FieldError("space.chain.stem_stride",
                      absl::StrCat("must be 1 or 2, got ", chain.stem_stride()));
  }
  if (chain.stages().empty())
    return FieldError("space.chain.stages", "must list at least one stage");
  if (chain.stages_size() > kMaxStages) {
    return FieldError(
        "space.chain.stages",
        absl::StrCat("at most ", kMaxStages, " stages are allowed, got ",
                     chain.stages_size()));
  }
  for (int i = 0; i < chain.stages_size(); ++i) {
    const nas::v1::ChainStage& stage = chain.stages(i);
    const std::string path = absl::StrCat("space.chain.stages[", i, "]");
    if (absl::Status s = CheckIntChoices(absl::StrCat(path, ".depths"), "depth",
                                         stage.depths(), 1, kMaxDepth);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckIntChoices(absl::StrCat(path, ".widths"), "width",
                                         stage.widths(), 1, kMaxWidth);
        !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckOps(absl::StrCat(path, ".ops"), stage.ops(),
                                  nas::space::ChainOps());
        !s.ok()) {
      return s;
    }
    if (stage.stride() != 1 && stage.stride() != 2) {
      return FieldError(absl::StrCat(path, ".stride"),
                        absl::StrCat("must be 1 or 2, got ", stage.stride()));
    }
  }
  return absl::OkStatus();
}

nas::space::Nb201Config ToConfig(const nas::v1::NasBench201Space& nb201) {
  nas::space::Nb201Config config;
  config.channels = nb201.channels();
  config.cells_per_stage = nb201.cells_per_stage();
  config.stem_stride = nb201.stem_stride();
  config.ops.assign(nb201.ops().begin(), nb201.ops().end());
  return config;
}

nas::space::ChainConfig ToConfig(const nas::v1::ChainSpace& chain) {
  nas::space::ChainConfig config;
  config.stem_channels = chain.stem_channels();
  config.stem_stride = chain.stem_stride();
  for (const nas::v1::ChainStage& stage : chain.stages()) {
    nas::space::ChainStageConfig& out = config.stages.emplace_back();
    out.depths.assign(stage.depths().begin(), stage.depths().end());
    out.widths.assign(stage.widths().begin(), stage.widths().end());
    out.ops.assign(stage.ops().begin(), stage.ops().end());
    out.stride = stage.stride();
  }
  return config;
}

}  // namespace

void ApplySearchSpaceDefaults(nas::v1::SearchSpace* proto,
                              const FieldPathSet& explicitly_set) {
  if (proto->has_nb201()) {
    nas::v1::NasBench201Space* nb201 = proto->mutable_nb201();
    if (nb201->channels() == 0 &&
        !Keep(explicitly_set, "space.nb201.channels")) {
      nb201->set_channels(16);
    }
    if (nb201->cells_per_stage() == 0 &&
        !Keep(explicitly_set, "space.nb201.cells_per_stage")) {
      nb201->set_cells_per_stage(5);
    }
    if (nb201->stem_stride() == 0 &&
        !Keep(explicitly_set, "space.nb201.stem_stride")) {
      nb201->set_stem_stride(1);
    }
    if (nb201->ops().empty() && !Keep(explicitly_set, "space.nb201.ops")) {
      for (const std::string& op : nas::space::Nb201Ops()) nb201->add_ops(op);
    }
  } else if (proto->has_chain()) {
    nas::v1::ChainSpace* chain = proto->mutable_chain();
    if (chain->stem_channels() == 0 &&
        !Keep(explicitly_set, "space.chain.stem_channels")) {
      chain->set_stem_channels(16);
    }
    if (chain->stem_stride() == 0 &&
        !Keep(explicitly_set, "space.chain.stem_stride")) {
      chain->set_stem_stride(2);
    }
    for (int i = 0; i < chain->stages_size(); ++i) {
      nas::v1::ChainStage* stage = chain->mutable_stages(i);
      if (stage->stride() == 0 &&
          !Keep(explicitly_set,
                absl::StrCat("space.chain.stages[", i, "].stride"))) {
        stage->set_stride(1);
      }
    }
  }
}

absl::Status ValidateSearchSpace(const nas::v1::SearchSpace& proto) {
  switch (proto.kind_case()) {
    case nas::v1::SearchSpace::kNb201:
      return ValidateNb201(proto.nb201());
    case nas::v1::SearchSpace::kChain:
      return ValidateChain(proto.chain());
    case nas::v1::SearchSpace::KIND_NOT_SET:
      break;
  }
  return FieldError("space", "required; set exactly one of nb201, chain");
}

absl::StatusOr<SpaceConfig> SearchSpaceConfig(
    const nas::v1::SearchSpace& proto) {
  nas::v1::SearchSpace filled = proto;
  ApplySearchSpaceDefaults(&filled);
  if (absl::Status s = ValidateSearchSpace(filled); !s.ok()) return s;
  if (filled.has_nb201()) return SpaceConfig(ToConfig(filled.nb201()));
  return SpaceConfig(ToConfig(filled.chain()));
}

absl::StatusOr<std::unique_ptr<nas::space::SearchSpace>> MakeSearchSpace(
    const nas::v1::SearchSpace& proto) {
  absl::StatusOr<SpaceConfig> config = SearchSpaceConfig(proto);
  if (!config.ok()) return config.status();

  std::string error;
  std::unique_ptr<nas::space::SearchSpace> result;
  absl::string_view prefix;
  if (const auto* nb201 = std::get_if<nas::space::Nb201Config>(&*config)) {
    prefix = "space.nb201.";
    result = nas::space::MakeNb201Space(*nb201, &error);
  } else {
    prefix = "space.chain.";
    result = nas::space::MakeChainSpace(
        std::get<nas::space::ChainConfig>(*config), &error);
  }
  if (result == nullptr) {
    if (error.empty()) error = "the search space could not be built";
    return absl::InvalidArgumentError(absl::StrCat(prefix, error));
  }
  return result;
}

absl::Status ValidateArchitecture(const nas::space::SearchSpace& search_space,
                                  const nas::v1::Architecture& architecture) {
  const std::vector<int> choices(architecture.choices().begin(),
                                 architecture.choices().end());
  std::string error = search_space.Validate(choices);
  if (error.empty()) return absl::OkStatus();
  return FieldError("architecture.choices", error);
}

}  // namespace nas::spec
