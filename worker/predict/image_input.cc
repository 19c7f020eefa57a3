#include "worker/predict/image_input.h"

#include <fstream>
#include <iterator>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "stb_image.h"
#include "stb_image_resize.h"

namespace nas::predict {
namespace {

constexpr uint32_t kIdxImagesMagic = 0x00000803;
constexpr uint32_t kIdxLabelsMagic = 0x00000801;

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  return std::string(std::istreambuf_iterator<char>(file),
                     std::istreambuf_iterator<char>());
}

uint32_t BigEndian32(const std::string& bytes, size_t offset) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4; ++i) {
    value = (value << 8) | static_cast<uint8_t>(bytes[offset + i]);
  }
  return value;
}

absl::StatusOr<std::vector<Image>> FromIdx(const std::string& path,
                                           const std::string& bytes,
                                           int limit) {
  if (bytes.size() < 16) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": an IDX image file needs a 16-byte header"));
  }
  const uint64_t n = BigEndian32(bytes, 4);
  const uint64_t rows = BigEndian32(bytes, 8);
  const uint64_t cols = BigEndian32(bytes, 12);
  if (rows == 0 || cols == 0 || rows > 65536 || cols > 65536 ||
      bytes.size() != 16 + n * rows * cols) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": size ", bytes.size(), " does not match its header (", n,
        " images of ", rows, "x", cols, ")"));
  }
  const uint64_t count =
      limit > 0 ? std::min<uint64_t>(n, static_cast<uint64_t>(limit)) : n;
  std::vector<Image> images(count);
  const size_t size = rows * cols;
  for (uint64_t i = 0; i < count; ++i) {
    Image& image = images[i];
    image.name = absl::StrCat(path, "[", i, "]");
    image.channels = 1;
    image.height = static_cast<int>(rows);
    image.width = static_cast<int>(cols);
    const char* start = bytes.data() + 16 + i * size;
    image.pixels.assign(start, start + size);
  }
  return images;
}

absl::StatusOr<Image> Decode(const std::string& path,
                             const std::string& bytes) {
  int width = 0, height = 0, channels = 0;
  std::unique_ptr<stbi_uc, void (*)(void*)> data(
      stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                            static_cast<int>(bytes.size()), &width, &height,
                            &channels, 0),
      stbi_image_free);
  if (data == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": not a PNG, JPEG or IDX image (", stbi_failure_reason(), ")"));
  }
  // Transparency is dropped: the models were trained on opaque images.
  const int kept = channels == 2 ? 1 : channels == 4 ? 3 : channels;
  Image image{path, kept, height, width, {}};
  image.pixels.resize(static_cast<size_t>(kept) * height * width);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const stbi_uc* pixel = data.get() + (y * width + x) * channels;
      for (int c = 0; c < kept; ++c) {
        image.pixels[(static_cast<size_t>(c) * height + y) * width + x] =
            pixel[c];
      }
    }
  }
  return image;
}

}  // namespace

absl::StatusOr<std::vector<Image>> ReadImages(const std::string& path,
                                              int limit) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() >= 4 && BigEndian32(*bytes, 0) == kIdxImagesMagic) {
    return FromIdx(path, *bytes, limit);
  }
  absl::StatusOr<Image> image = Decode(path, *bytes);
  if (!image.ok()) return image.status();
  std::vector<Image> images;
  images.push_back(*std::move(image));
  return images;
}

absl::StatusOr<std::vector<int>> ReadIdxLabels(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  if (bytes->size() < 8 || BigEndian32(*bytes, 0) != kIdxLabelsMagic ||
      bytes->size() != 8 + static_cast<size_t>(BigEndian32(*bytes, 4))) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": not an IDX label file (magic 0x00000801 and "
                     "one byte per label)"));
  }
  return std::vector<int>(bytes->begin() + 8, bytes->end());
}

std::vector<float> ToModelInput(const Image& image,
                                const nas::v1::ModelInput& input) {
  const int channels = input.channels();
  const size_t plane = static_cast<size_t>(image.height) * image.width;
  // Channels first, at the image's own size.
  std::vector<uint8_t> converted(static_cast<size_t>(channels) * plane);
  for (int c = 0; c < channels; ++c) {
    for (size_t p = 0; p < plane; ++p) {
      uint8_t value;
      if (image.channels == channels) {
        value = image.pixels[c * plane + p];
      } else if (image.channels == 1) {
        value = image.pixels[p];
      } else {
        int sum = 0;
        for (int k = 0; k < image.channels; ++k) {
          sum += image.pixels[k * plane + p];
        }
        value = static_cast<uint8_t>(sum / image.channels);
      }
      converted[c * plane + p] = value;
    }
  }
  const int height = input.height(), width = input.width();
  const size_t out_plane = static_cast<size_t>(height) * width;
  std::vector<uint8_t> sized(static_cast<size_t>(channels) * out_plane);
  for (int c = 0; c < channels; ++c) {
    if (image.height == height && image.width == width) {
      std::copy_n(converted.begin() + c * plane, plane,
                  sized.begin() + c * out_plane);
    } else {
      stbir_resize_uint8(converted.data() + c * plane, image.width,
                         image.height, 0, sized.data() + c * out_plane, width,
                         height, 0, 1);
    }
  }
  std::vector<float> out(sized.size());
  for (int c = 0; c < channels; ++c) {
    // As the trainer computes it (Dataset::Normalize), so that the same
    // pixels give the same floats: (pixel - 255 mean) / (255 std).
    const float shift = static_cast<float>(255.0 * input.mean(c));
    const float scale = static_cast<float>(255.0 * input.std(c));
    for (size_t p = 0; p < out_plane; ++p) {
      out[c * out_plane + p] =
          (static_cast<float>(sized[c * out_plane + p]) - shift) / scale;
    }
  }
  return out;
}

}  // namespace nas::predict
