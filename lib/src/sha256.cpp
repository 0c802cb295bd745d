#include "sha256.hpp"

#include <openssl/evp.h>

#include <cstdlib>

namespace owf::internal {
namespace {

// Fetched once: EVP_sha256() would look the implementation up per context.
const EVP_MD* sha256_md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

EVP_MD_CTX* as_ctx(void* p) { return static_cast<EVP_MD_CTX*>(p); }

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Failure here means OpenSSL cannot allocate a few hundred bytes or has no
  // SHA-256 at all; neither is recoverable in a meaningful way.
  if (ctx_ == nullptr || EVP_DigestInit_ex(as_ctx(ctx_), sha256_md(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(as_ctx(ctx_)); }

void Sha256::update(std::span<const std::byte> data) {
  if (!data.empty()) EVP_DigestUpdate(as_ctx(ctx_), data.data(), data.size());
}

Sha256Digest Sha256::finish() {
  Sha256Digest out{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(as_ctx(ctx_), out.data(), &len);
  EVP_DigestInit_ex(as_ctx(ctx_), sha256_md(), nullptr);
  return out;
}

Sha256Digest sha256(std::span<const std::byte> data) {
  Sha256 h;
  h.update(data);
  return h.finish();
}

}  // namespace owf::internal
