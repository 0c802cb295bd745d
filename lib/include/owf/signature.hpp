// Signatures (spec/signatures.md): who released these weights, checked
// offline. A signature signs the weights digest (format.md §7) and, unless
// it is weights-only, the info digest (license, provenance,
// hyperparameters, metadata and tensor roles). Neither depends on layout,
// alignment, compression or, for the weights digest, file format, so a
// signature stays valid across lossless conversion and fails as soon as a
// covered value changes.
//
// Signatures live in the manifest (Manifest.signatures, version 1.2) or
// beside the file as a DSSE envelope holding an in-toto Statement.
// Algorithms: Ed25519 and ECDSA P-256 with SHA-256, keys as PEM (PKCS#8
// private, SubjectPublicKeyInfo public) as `openssl genpkey` writes them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "owf/edit.hpp"
#include "owf/error.hpp"
#include "owf/metadata.hpp"
#include "owf/tensor.hpp"

namespace owf {

class File;
class Source;

/// What a signature covers.
enum class Covers : std::uint8_t { kWeights, kWeightsAndInfo };
/// "weights" or "weights+info", as stored.
OWF_API std::string_view covers_name(Covers covers);
OWF_API std::optional<Covers> covers_from_name(std::string_view name);

/// One signature as stored in a manifest. `algorithm` and `covers` may be
/// values this library does not know (reported, never valid).
struct Signature {
  std::string algorithm;  // "ed25519", "ecdsa-p256-sha256"
  std::string key_id;     // lowercase hex SHA-256 of the DER SubjectPublicKeyInfo
  std::string covers;     // "weights", "weights+info"
  std::vector<std::uint8_t> bytes;

  bool operator==(const Signature&) const = default;
};

/// A public key (PEM SubjectPublicKeyInfo). Copies share the key.
class OWF_API PublicKey {
 public:
  /// Errors: invalid_argument naming what is wrong (not PEM, not a public
  /// key, an algorithm or curve other than Ed25519 and P-256).
  static Result<PublicKey> from_pem(std::string_view pem);
  static Result<PublicKey> load(const std::filesystem::path& path);
  const std::string& key_id() const;
  const std::string& algorithm() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  friend class PrivateKey;
  explicit PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

/// A private key (PEM PKCS#8). Copies share the key.
class OWF_API PrivateKey {
 public:
  static Result<PrivateKey> from_pem(std::string_view pem);
  static Result<PrivateKey> load(const std::filesystem::path& path);
  const std::string& key_id() const;  // of its public key
  const std::string& algorithm() const;
  PublicKey public_key() const;

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit PrivateKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

/// A tensor's name and role, for the info digest.
struct RoleEntry {
  std::string_view name;
  Role role = Role::kOther;
};

/// The info digest (spec/signatures.md §3) of `info` and the tensors'
/// roles (need not be sorted).
OWF_API Sha256Digest info_digest_of(const ModelInfo& info, std::vector<RoleEntry> roles);
/// The info digest of a file of any format the library reads.
OWF_API Sha256Digest info_digest(const Source& source);

/// The exact bytes a signature signs (spec/signatures.md §4). `info` is
/// used only when `covers` is kWeightsAndInfo.
OWF_API std::vector<std::uint8_t> signature_message(Covers covers, const Sha256Digest& weights,
                                                    const Sha256Digest& info);

/// Signs the message of `covers` over these digests.
OWF_API Result<Signature> sign_digests(const PrivateKey& key, Covers covers, const Sha256Digest& weights,
                                       const Sha256Digest& info);
/// Signs `source` (its weights digest, and its info digest unless weights-only).
OWF_API Result<Signature> sign(const Source& source, const PrivateKey& key, Covers covers);

/// What a check found.
enum class SignatureStatus : std::uint8_t {
  kValid,             // made by a trusted key over this file's digests
  kInvalid,           // a trusted key's id, but the signature does not match
  kUntrustedKey,      // no trusted key has this id (or none was given)
  kUnknownAlgorithm,  // an algorithm this library does not implement
  kUnknownCovers,     // a `covers` value this library does not know
};
OWF_API std::string_view signature_status_name(SignatureStatus status);  // "valid", "invalid", ...

struct SignatureCheck {
  Signature signature;
  std::string origin;  // "embedded", or the path of a detached envelope
  SignatureStatus status = SignatureStatus::kUntrustedKey;
  std::string detail;  // for people: what matched or what no longer does
};

/// A detached signature: a DSSE envelope (spec/signatures.md §6) whose
/// in-toto Statement names the digests it signs.
struct DetachedSignature {
  std::string name;  // the Statement's subject name
  Covers covers = Covers::kWeights;
  Sha256Digest weights{};
  std::optional<Sha256Digest> info;   // present when covers is kWeightsAndInfo
  std::string payload;                // decoded payload, as signed
  std::vector<Signature> signatures;  // algorithm empty: taken from the trusted key
};

/// The envelope JSON of one signature by `key`.
OWF_API Result<std::string> make_envelope(const PrivateKey& key, std::string_view name, Covers covers,
                                          const Sha256Digest& weights, const Sha256Digest& info);
/// Errors: bad_signature naming what is missing or malformed.
OWF_API Result<DetachedSignature> parse_envelope(std::string_view json);

/// Checks the signatures embedded in `source` (an OWF file; none for other
/// formats) and those of `detached` against `trusted` keys. Computes the
/// weights digest of non-OWF sources by reading every tensor.
OWF_API Result<std::vector<SignatureCheck>> check_signatures(const Source& source, std::span<const PublicKey> trusted,
                                                             std::span<const DetachedSignature> detached = {},
                                                             std::string_view detached_origin = "detached");
/// The same with the weights digest of `source` already known (e.g. from
/// compute_digests), so that a foreign file is not read a second time.
OWF_API std::vector<SignatureCheck> check_signatures(const Source& source, const Sha256Digest& weights,
                                                     std::span<const PublicKey> trusted,
                                                     std::span<const DetachedSignature> detached = {},
                                                     std::string_view detached_origin = "detached");

/// The signatures embedded in an OWF file, in stored order.
OWF_API std::vector<Signature> embedded_signatures(const File& file);

/// Adds `signature` to the manifest of the OWF file at `path` (rewriting
/// the manifest only, as rewrite_info does; the file becomes version 1.2).
/// A signature by the same key over the same covers is replaced.
OWF_API Result<EditReport> add_signature(const std::filesystem::path& path, const Signature& signature,
                                         const EditOptions& options = {});
/// Removes every embedded signature whose key id is `key_id`. Errors:
/// not_found when there is none.
OWF_API Result<EditReport> remove_signatures(const std::filesystem::path& path, std::string_view key_id,
                                             const EditOptions& options = {});

}  // namespace owf
