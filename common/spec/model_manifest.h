// The exported-model manifest (nas.v1.ModelManifest, written as model.json):
// built by the controller from a search and a trained trial, read back by
// nas-predict, which rebuilds the network from it. No Torch here.
#ifndef NAS_COMMON_SPEC_MODEL_MANIFEST_H_
#define NAS_COMMON_SPEC_MODEL_MANIFEST_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/space/network_spec.h"
#include "nas/v1/model.pb.h"
#include "nas/v1/search.pb.h"

namespace nas::spec {

// ModelManifest.format of what this code writes and reads.
inline constexpr char kModelFormat[] = "nas-model/1";
// The weights file's name inside an export folder.
inline constexpr char kWeightsFile[] = "weights.nastensor";

// The manifest of `trial` of `search`, with its weights' size and SHA-256.
// INVALID_ARGUMENT when the trial's architecture is not in the search's space
// or the data set is unknown (a damaged row, not a user's mistake).
absl::StatusOr<nas::v1::ModelManifest> BuildModelManifest(
    const nas::v1::Search& search, const nas::v1::Trial& trial,
    int64_t weights_size, const std::string& weights_sha256);

// The network a manifest describes, checked: INVALID_ARGUMENT naming the
// field (network.chain.layers[2].out_channels: ...) when it could not be
// built.
absl::StatusOr<space::NetworkSpec> NetworkOfManifest(
    const nas::v1::ModelManifest& manifest);

// model.json: protobuf JSON with proto field names, indented.
std::string ManifestToJson(const nas::v1::ModelManifest& manifest);
// Parses model.json; INVALID_ARGUMENT for malformed JSON or a format other
// than kModelFormat, saying which.
absl::StatusOr<nas::v1::ModelManifest> ManifestFromJson(
    const std::string& json);

}  // namespace nas::spec

#endif  // NAS_COMMON_SPEC_MODEL_MANIFEST_H_
