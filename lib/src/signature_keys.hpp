// What signature.cpp (keys, embedded signatures) and signature_envelope.cpp
// (DSSE) share: raw signing and verification with a key's algorithm.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "owf/signature.hpp"

namespace owf::internal {

/// Ed25519 over `message` itself; ECDSA P-256 over SHA-256(message), DER.
Result<std::vector<std::uint8_t>> sign_bytes(const PrivateKey& key, std::span<const std::uint8_t> message);
/// True only for a signature that verifies; malformed bytes are false.
bool verify_bytes(const PublicKey& key, std::span<const std::uint8_t> message, std::span<const std::uint8_t> sig);
/// The trusted key with this id, or nullptr.
const PublicKey* find_key(std::span<const PublicKey> trusted, std::string_view key_id);

/// One signature of a DSSE envelope, checked against `trusted` and this
/// file's digests (signature_envelope.cpp).
SignatureCheck check_detached(const DetachedSignature& envelope, const Signature& signature,
                              std::span<const PublicKey> trusted, const Sha256Digest& weights, const Sha256Digest& info,
                              std::string_view origin);

}  // namespace owf::internal
