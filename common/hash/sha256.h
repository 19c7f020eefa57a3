// SHA-256 of byte strings, as lower-case hex: the checksum checkpoints carry
// on the wire and in the database (the same digest `sha256sum` prints).
#ifndef NAS_COMMON_HASH_SHA256_H_
#define NAS_COMMON_HASH_SHA256_H_

#include <string>
#include <string_view>

namespace nas::hash {

// The digest of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// Digests a stream of chunks without holding them all.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view bytes);
  // The digest of everything passed to Update; the object is then spent.
  std::string FinishHex();

 private:
  struct State;
  State* state_;
};

}  // namespace nas::hash

#endif  // NAS_COMMON_HASH_SHA256_H_
