#include "common/spec/model_manifest.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/space/datasets.h"
#include "common/space/space.h"
#include "common/spec/dataset_names.h"
#include "common/spec/space_from_proto.h"
#include "google/protobuf/util/json_util.h"

namespace nas::spec {
namespace {

nas::v1::NetworkDef ToNetworkDef(const space::NetworkSpec& network) {
  nas::v1::NetworkDef def;
  if (const auto* cell = std::get_if<space::CellNetwork>(&network.body)) {
    nas::v1::CellNetworkDef* out = def.mutable_cell();
    out->set_channels(cell->channels);
    out->set_cells_per_stage(cell->cells_per_stage);
    for (const std::string& op : cell->edge_ops) out->add_edge_ops(op);
    out->set_stem_stride(cell->stem_stride);
    return def;
  }
  const auto& chain = std::get<space::ChainNetwork>(network.body);
  nas::v1::ChainNetworkDef* out = def.mutable_chain();
  out->set_stem_channels(chain.stem_channels);
  out->set_stem_stride(chain.stem_stride);
  for (const space::ChainLayer& layer : chain.layers) {
    nas::v1::ChainLayerDef* l = out->add_layers();
    l->set_op(layer.op);
    l->set_out_channels(layer.out_channels);
    l->set_stride(layer.stride);
  }
  out->set_head_channels(chain.head_channels);
  return def;
}

// Bounds that reject a damaged or hand-edited manifest before a network is
// built from it; generous next to the spaces' own limits.
constexpr int kMaxImageSide = 4096;
constexpr int kMaxInputChannels = 64;
constexpr int kMaxClasses = 100000;
constexpr int kMaxLayers = 4096;

absl::Status Bad(const std::string& field, const std::string& problem) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", problem));
}

absl::Status CheckRange(const std::string& field, int64_t value, int64_t min,
                        int64_t max) {
  if (value >= min && value <= max) return absl::OkStatus();
  return Bad(field,
             absl::StrCat("must be in [", min, ", ", max, "], got ", value));
}

absl::Status CheckStride(const std::string& field, int stride) {
  if (stride == 1 || stride == 2) return absl::OkStatus();
  return Bad(field, absl::StrCat("must be 1 or 2, got ", stride));
}

absl::Status CheckOp(const std::string& field, const std::string& op,
                     const std::vector<std::string>& known) {
  if (std::find(known.begin(), known.end(), op) != known.end()) {
    return absl::OkStatus();
  }
  return Bad(field, absl::StrCat("unknown op \"", op, "\""));
}

absl::StatusOr<space::InputShape> InputOf(const nas::v1::ModelInput& input) {
  space::InputShape shape;
  shape.channels = input.channels();
  shape.height = input.height();
  shape.width = input.width();
  shape.num_classes = input.num_classes();
  for (absl::Status s :
       {CheckRange("input.channels", shape.channels, 1, kMaxInputChannels),
        CheckRange("input.height", shape.height, 1, kMaxImageSide),
        CheckRange("input.width", shape.width, 1, kMaxImageSide),
        CheckRange("input.num_classes", shape.num_classes, 1, kMaxClasses)}) {
    if (!s.ok()) return s;
  }
  if (input.mean_size() != shape.channels ||
      input.std_size() != shape.channels) {
    return Bad(
        "input",
        absl::StrCat("needs one mean and one std per channel (", shape.channels,
                     "), got ", input.mean_size(), " and ", input.std_size()));
  }
  for (int c = 0; c < shape.channels; ++c) {
    if (!(input.std(c) > 0)) {
      return Bad(absl::StrCat("input.std[", c, "]"), "must be positive");
    }
  }
  return shape;
}

absl::StatusOr<space::CellNetwork> CellOf(const nas::v1::CellNetworkDef& def) {
  space::CellNetwork cell;
  cell.channels = def.channels();
  cell.cells_per_stage = def.cells_per_stage();
  cell.stem_stride = def.stem_stride();
  for (absl::Status s :
       {CheckRange("network.cell.channels", cell.channels, 1, kMaxChannels),
        CheckRange("network.cell.cells_per_stage", cell.cells_per_stage, 1,
                   kMaxCellsPerStage),
        CheckStride("network.cell.stem_stride", cell.stem_stride)}) {
    if (!s.ok()) return s;
  }
  if (def.edge_ops_size() != static_cast<int>(cell.edge_ops.size())) {
    return Bad("network.cell.edge_ops",
               absl::StrCat("needs 6 ops, got ", def.edge_ops_size()));
  }
  for (int e = 0; e < def.edge_ops_size(); ++e) {
    if (absl::Status s = CheckOp(absl::StrCat("network.cell.edge_ops[", e, "]"),
                                 def.edge_ops(e), space::Nb201Ops());
        !s.ok()) {
      return s;
    }
    cell.edge_ops[e] = def.edge_ops(e);
  }
  return cell;
}

absl::StatusOr<space::ChainNetwork> ChainOf(
    const nas::v1::ChainNetworkDef& def) {
  space::ChainNetwork chain;
  chain.stem_channels = def.stem_channels();
  chain.stem_stride = def.stem_stride();
  chain.head_channels = def.head_channels();
  for (absl::Status s :
       {CheckRange("network.chain.stem_channels", chain.stem_channels, 1,
                   kMaxChannels),
        CheckStride("network.chain.stem_stride", chain.stem_stride),
        CheckRange("network.chain.head_channels", chain.head_channels, 0,
                   kMaxWidth),
        CheckRange("network.chain.layers (count)", def.layers_size(), 0,
                   kMaxLayers)}) {
    if (!s.ok()) return s;
  }
  for (int i = 0; i < def.layers_size(); ++i) {
    const nas::v1::ChainLayerDef& l = def.layers(i);
    const std::string field = absl::StrCat("network.chain.layers[", i, "]");
    for (absl::Status s :
         {CheckOp(field + ".op", l.op(), space::ChainOps()),
          CheckRange(field + ".out_channels", l.out_channels(), 1, kMaxWidth),
          CheckStride(field + ".stride", l.stride())}) {
      if (!s.ok()) return s;
    }
    chain.layers.push_back({l.op(), l.out_channels(), l.stride()});
  }
  return chain;
}

}  // namespace

absl::StatusOr<nas::v1::ModelManifest> BuildModelManifest(
    const nas::v1::Search& search, const nas::v1::Trial& trial,
    int64_t weights_size, const std::string& weights_sha256) {
  const nas::v1::SearchSpec& spec = search.spec();
  const space::DatasetInfo* data =
      space::FindDataset(DatasetText(spec.dataset().name()));
  if (data == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("search ", search.id(), " has an unknown data set (",
                     nas::v1::DatasetName_Name(spec.dataset().name()), ")"));
  }
  absl::StatusOr<std::unique_ptr<space::SearchSpace>> space =
      MakeSearchSpace(spec.space());
  if (!space.ok()) return space.status();
  const std::vector<int> choices(trial.architecture().choices().begin(),
                                 trial.architecture().choices().end());
  if (std::string error = (*space)->Validate(choices); !error.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("trial ", trial.number(), "'s architecture: ", error));
  }

  nas::v1::ModelManifest m;
  m.set_format(kModelFormat);
  m.set_search_id(search.id());
  m.set_search_name(spec.name());
  m.set_trial_number(trial.number());
  m.set_trial_kind(trial.kind() == nas::v1::TRIAL_KIND_UNSPECIFIED
                       ? nas::v1::TRIAL_KIND_TRAIN
                       : trial.kind());
  m.set_dataset(spec.dataset().name());
  nas::v1::ModelInput* input = m.mutable_input();
  input->set_channels(data->shape.channels);
  input->set_height(data->shape.height);
  input->set_width(data->shape.width);
  input->set_num_classes(data->shape.num_classes);
  for (float v : data->mean) input->add_mean(v);
  for (float v : data->std) input->add_std(v);
  for (const std::string& name : data->class_names) m.add_class_names(name);
  *m.mutable_network() = ToNetworkDef((*space)->Network(choices, data->shape));
  *m.mutable_architecture() = trial.architecture();
  m.mutable_architecture()->set_text((*space)->Render(choices));
  *m.mutable_metrics() = trial.metrics();
  nas::v1::ModelWeights* weights = m.mutable_weights();
  weights->set_file(kWeightsFile);
  weights->set_size(weights_size);
  weights->set_sha256(weights_sha256);
  return m;
}

absl::StatusOr<space::NetworkSpec> NetworkOfManifest(
    const nas::v1::ModelManifest& manifest) {
  space::NetworkSpec network;
  absl::StatusOr<space::InputShape> input = InputOf(manifest.input());
  if (!input.ok()) return input.status();
  network.input = *input;
  if (manifest.class_names_size() != 0 &&
      manifest.class_names_size() != input->num_classes) {
    return Bad("class_names",
               absl::StrCat("has ", manifest.class_names_size(), " names for ",
                            input->num_classes, " classes"));
  }
  switch (manifest.network().body_case()) {
    case nas::v1::NetworkDef::kCell: {
      absl::StatusOr<space::CellNetwork> cell =
          CellOf(manifest.network().cell());
      if (!cell.ok()) return cell.status();
      network.body = *std::move(cell);
      return network;
    }
    case nas::v1::NetworkDef::kChain: {
      absl::StatusOr<space::ChainNetwork> chain =
          ChainOf(manifest.network().chain());
      if (!chain.ok()) return chain.status();
      network.body = *std::move(chain);
      return network;
    }
    default:
      return Bad("network", "needs cell or chain");
  }
}

std::string ManifestToJson(const nas::v1::ModelManifest& manifest) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  std::string json;
  // Cannot fail: every message here is well-formed by construction.
  (void)google::protobuf::util::MessageToJsonString(manifest, &json, options);
  return json;
}

absl::StatusOr<nas::v1::ModelManifest> ManifestFromJson(
    const std::string& json) {
  nas::v1::ModelManifest manifest;
  google::protobuf::util::JsonParseOptions options;
  // A newer exporter may add fields; the format string guards meaning.
  options.ignore_unknown_fields = true;
  if (auto s =
          google::protobuf::util::JsonStringToMessage(json, &manifest, options);
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a model manifest: ", s.ToString()));
  }
  if (manifest.format() != kModelFormat) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format: \"", manifest.format(), "\" is not ", kModelFormat,
        " (exported by another version; export it again)"));
  }
  return manifest;
}

}  // namespace nas::spec
