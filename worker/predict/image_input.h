// The images nas-predict classifies, read without Torch: PNG and JPEG
// files (decoded by stb_image) and IDX image files (the MNIST format, many
// images in one file), turned into the exact input an exported model was
// trained on (model.json's input: shape and normalisation).
#ifndef NAS_WORKER_PREDICT_IMAGE_INPUT_H_
#define NAS_WORKER_PREDICT_IMAGE_INPUT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nas/v1/model.pb.h"

namespace nas::predict {

struct Image {
  std::string name;  // the file, with "[i]" for the i-th image of an IDX file
  int channels = 0;
  int height = 0;
  int width = 0;
  std::vector<uint8_t> pixels;  // channel-major: [C][H][W]
};

// The images in `path`: every image of an IDX image file (magic 0x00000803;
// at most `limit` of them when limit > 0), or the one image of a PNG or
// JPEG file. INVALID_ARGUMENT naming the file for anything else or a
// damaged file; NOT_FOUND when it cannot be opened.
absl::StatusOr<std::vector<Image>> ReadImages(const std::string& path,
                                              int limit);

// The labels of an IDX label file (magic 0x00000801).
absl::StatusOr<std::vector<int>> ReadIdxLabels(const std::string& path);

// `image` as the model's input: converted to its channel count (grey is
// repeated to RGB; RGB becomes its mean), resized to its height and width
// when it differs, then normalised, (pixel / 255 - mean[c]) / std[c]
// (computed as the trainer does, in float).
// Channel-major floats, C * H * W of them.
std::vector<float> ToModelInput(const Image& image,
                                const nas::v1::ModelInput& input);

}  // namespace nas::predict

#endif  // NAS_WORKER_PREDICT_IMAGE_INPUT_H_
