// SHA-256 through OpenSSL, behind a type that keeps OpenSSL out of every
// other file.
#pragma once

#include <cstddef>
#include <span>

#include "owf/metadata.hpp"

namespace owf::internal {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::byte> data);
  void update(const void* data, std::size_t size) {
    update(std::span<const std::byte>(static_cast<const std::byte*>(data), size));
  }
  /// Returns the digest and resets the hasher for reuse.
  Sha256Digest finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};

Sha256Digest sha256(std::span<const std::byte> data);

}  // namespace owf::internal
