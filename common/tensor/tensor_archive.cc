#include "common/tensor/tensor_archive.h"

#include <cmath>
#include <cstring>
#include <algorithm>
#include <limits>
#include <type_traits>

namespace nas::tensor {
namespace {

constexpr char kMagic[] = "NASTNSR1";
constexpr size_t kMagicBytes = 8;
constexpr uint32_t kMaxNameBytes = 1024;
constexpr uint32_t kMaxRank = 8;

bool LittleEndianHost() {
  const uint32_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

template <typename T>
void Append(std::string* out, T value) {
  static_assert(std::is_trivially_copyable_v<T>);
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  if (!LittleEndianHost()) std::reverse(bytes, bytes + sizeof(T));
  out->append(bytes, sizeof(T));
}

// Reads fixed-size values from the archive, remembering where it is so that
// errors can say where the archive went wrong.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  template <typename T>
  bool Read(T* value) {
    if (bytes_.size() - pos_ < sizeof(T)) return false;
    char raw[sizeof(T)];
    std::memcpy(raw, bytes_.data() + pos_, sizeof(T));
    if (!LittleEndianHost()) std::reverse(raw, raw + sizeof(T));
    std::memcpy(value, raw, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool ReadBytes(size_t n, std::string_view* out) {
    if (bytes_.size() - pos_ < n) return false;
    *out = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  size_t pos() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::string CheckTensors(const TensorMap& tensors) {
  for (const auto& [name, t] : tensors) {
    if (name.empty() || name.size() > kMaxNameBytes) {
      return "tensor name must be 1.." + std::to_string(kMaxNameBytes) +
             " bytes";
    }
    if (t.shape.size() > kMaxRank) {
      return "tensor " + name + ": rank " + std::to_string(t.shape.size()) +
             " above " + std::to_string(kMaxRank);
    }
    for (int64_t d : t.shape) {
      if (d < 0) return "tensor " + name + ": negative dimension";
    }
    if (NumElements(t.shape) != static_cast<int64_t>(t.values.size())) {
      return "tensor " + name + ": shape " + ShapeText(t.shape) + " needs " +
             std::to_string(NumElements(t.shape)) + " values, has " +
             std::to_string(t.values.size());
    }
  }
  return "";
}

std::string Serialize(const TensorMap& tensors) {
  std::string out(kMagic, kMagicBytes);
  Append<uint32_t>(&out, static_cast<uint32_t>(tensors.size()));
  for (const auto& [name, t] : tensors) {
    Append<uint32_t>(&out, static_cast<uint32_t>(name.size()));
    out += name;
    Append<uint32_t>(&out, static_cast<uint32_t>(t.shape.size()));
    for (int64_t d : t.shape) Append<int64_t>(&out, d);
    if (LittleEndianHost()) {
      out.append(reinterpret_cast<const char*>(t.values.data()),
                 t.values.size() * sizeof(float));
    } else {
      for (float v : t.values) Append<float>(&out, v);
    }
  }
  return out;
}

bool Parse(std::string_view bytes, TensorMap* out, std::string* error) {
  out->clear();
  Reader in(bytes);
  auto fail = [&](const std::string& what) {
    if (error) {
      *error = "tensor archive: " + what + " at byte " + std::to_string(in.pos());
    }
    return false;
  };
  std::string_view magic;
  if (!in.ReadBytes(kMagicBytes, &magic) ||
      magic != std::string_view(kMagic, kMagicBytes)) {
    return fail("not a tensor archive (bad magic)");
  }
  uint32_t count = 0;
  if (!in.Read(&count)) return fail("truncated count");
  std::string previous;
  for (uint32_t i = 0; i < count; ++i) {
    uint32_t name_bytes = 0;
    std::string_view name;
    if (!in.Read(&name_bytes)) return fail("truncated name length");
    if (name_bytes == 0 || name_bytes > kMaxNameBytes) {
      return fail("name length " + std::to_string(name_bytes) +
                  " outside 1.." + std::to_string(kMaxNameBytes));
    }
    if (!in.ReadBytes(name_bytes, &name)) return fail("truncated name");
    if (i > 0 && std::string(name) <= previous) {
      return fail("tensor names not in strictly increasing order");
    }
    previous = std::string(name);
    uint32_t rank = 0;
    if (!in.Read(&rank)) return fail("truncated rank of " + previous);
    if (rank > kMaxRank) return fail("rank above 8 for " + previous);
    Tensor t;
    // Bounded so that a hostile archive cannot ask for more memory than it
    // carries bytes.
    const int64_t max_elements =
        static_cast<int64_t>(in.remaining() / sizeof(float));
    int64_t elements = 1;
    for (uint32_t d = 0; d < rank; ++d) {
      int64_t dim = 0;
      if (!in.Read(&dim)) return fail("truncated shape of " + previous);
      if (dim < 0) return fail("negative dimension in " + previous);
      if (dim > 0 && elements > max_elements / dim) {
        return fail("shape of " + previous + " larger than the archive");
      }
      elements *= dim;
      t.shape.push_back(dim);
    }
    std::string_view raw;
    if (!in.ReadBytes(static_cast<size_t>(elements) * sizeof(float), &raw)) {
      return fail("truncated values of " + previous);
    }
    t.values.resize(static_cast<size_t>(elements));
    if (LittleEndianHost()) {
      std::memcpy(t.values.data(), raw.data(), raw.size());
    } else {
      Reader values(raw);
      for (float& v : t.values) values.Read(&v);
    }
    (*out)[previous] = std::move(t);
  }
  if (in.remaining() != 0) return fail("trailing bytes after the last tensor");
  return true;
}

bool WeightedAverage(const std::vector<const TensorMap*>& archives,
                     const std::vector<double>& weights, TensorMap* out,
                     std::string* error) {
  auto fail = [&](const std::string& what) {
    if (error) *error = what;
    return false;
  };
  if (archives.empty()) return fail("nothing to average");
  if (archives.size() != weights.size()) {
    return fail("one weight per archive needed");
  }
  double total = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    if (!(weights[i] > 0) || !std::isfinite(weights[i])) {
      return fail("weight of archive " + std::to_string(i) +
                  " must be positive and finite");
    }
    total += weights[i];
  }
  const TensorMap& first = *archives[0];
  for (size_t i = 1; i < archives.size(); ++i) {
    const TensorMap& other = *archives[i];
    if (other.size() != first.size()) {
      return fail("archive " + std::to_string(i) + " has " +
                  std::to_string(other.size()) + " tensors, archive 0 has " +
                  std::to_string(first.size()));
    }
    for (const auto& [name, t] : first) {
      auto it = other.find(name);
      if (it == other.end()) {
        return fail("archive " + std::to_string(i) + " lacks tensor " + name);
      }
      if (it->second.shape != t.shape) {
        return fail("tensor " + name + ": shape " + ShapeText(t.shape) +
                    " in archive 0, " + ShapeText(it->second.shape) +
                    " in archive " + std::to_string(i));
      }
    }
  }
  if (std::string bad = CheckTensors(first); !bad.empty()) return fail(bad);
  out->clear();
  for (const auto& [name, t] : first) {
    std::vector<double> sum(t.values.size(), 0.0);
    for (size_t i = 0; i < archives.size(); ++i) {
      const std::vector<float>& v = archives[i]->at(name).values;
      const double w = weights[i] / total;
      for (size_t k = 0; k < v.size(); ++k) sum[k] += w * v[k];
    }
    Tensor merged;
    merged.shape = t.shape;
    merged.values.assign(sum.begin(), sum.end());
    (*out)[name] = std::move(merged);
  }
  return true;
}

}  // namespace nas::tensor
