// Signatures (spec/signatures.md): keys, the info digest, the signed
// message, signing and checking, embedded signatures. OpenSSL is touched
// here only (and by sha256.cpp); the DSSE envelope is in
// signature_envelope.cpp.
#include "owf/signature.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <variant>

#include "file_access.hpp"
#include "manifest_rewrite.hpp"
#include "owf/digest.hpp"
#include "owf/reader.hpp"
#include "owf/source.hpp"
#include "sha256.hpp"
#include "signature_keys.hpp"

namespace owf {

// ---------------------------------------------------------------------------
// Keys

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The last OpenSSL error as text, and an empty queue afterwards.
std::string openssl_error() {
  const unsigned long e = ERR_peek_last_error();
  std::string out;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out.empty() ? "no OpenSSL detail" : out;
}

// "ed25519", "ecdsa-p256-sha256", or an error for every other key.
Result<std::string> algorithm_of(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) return std::string("ed25519");
  if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1 &&
        (std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256"))
      return std::string("ecdsa-p256-sha256");
    return Error(ErrorCode::kInvalidArgument,
                 "an EC key on curve '" + std::string(group) + "': only P-256 (prime256v1) is supported");
  }
  return Error(ErrorCode::kInvalidArgument, std::string("a key of type ") + OBJ_nid2sn(EVP_PKEY_get_base_id(key)) +
                                                ": only Ed25519 and ECDSA P-256 keys are supported");
}

// Hex SHA-256 of the DER SubjectPublicKeyInfo.
Result<std::string> key_id_of(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(key, &der);
  if (length <= 0) return Error(ErrorCode::kInvalidArgument, "cannot encode the public key: " + openssl_error());
  const Sha256Digest d = internal::sha256(std::span(reinterpret_cast<const std::byte*>(der), std::size_t(length)));
  OPENSSL_free(der);
  return to_hex(d);
}

Result<std::string> slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kIoError, "cannot open key file " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  if (s.str().size() > (1u << 20)) return Error(ErrorCode::kInvalidArgument, path.string() + " is too large for a key");
  return s.str();
}

}  // namespace

namespace internal {

// A key read from PEM, with what names it.
struct KeyParts {
  std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key{nullptr, EVP_PKEY_free};
  std::string key_id;
  std::string algorithm;
};

}  // namespace internal

namespace {

using internal::KeyParts;

// Reads one PEM key with `read` (a PEM_read_bio_* call); `what` names the
// expected kind in the error.
Result<KeyParts> read_pem_key(std::string_view pem, EVP_PKEY* (*read)(BIO*), const char* what) {
  ERR_clear_error();
  if (pem.size() > (1u << 20)) return Error(ErrorCode::kInvalidArgument, std::string(what) + ": over 1 MiB");
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  KeyParts parts;
  parts.key.reset(bio ? read(bio.get()) : nullptr);
  if (!parts.key) return Error(ErrorCode::kInvalidArgument, std::string("not ") + what + ": " + openssl_error());
  OWF_ASSIGN_OR_RETURN(parts.algorithm, algorithm_of(parts.key.get()));
  OWF_ASSIGN_OR_RETURN(parts.key_id, key_id_of(parts.key.get()));
  return parts;
}

// Key::from_pem on the contents of `path`; errors name the file.
template <class Key>
Result<Key> load_key(const std::filesystem::path& path) {
  OWF_ASSIGN_OR_RETURN(std::string pem, slurp(path));
  auto key = Key::from_pem(pem);
  if (!key.ok()) return Error(key.error().code(), path.string() + ": " + key.error().message());
  return key;
}

}  // namespace

struct PublicKey::Impl : KeyParts {};
struct PrivateKey::Impl : KeyParts {
  std::shared_ptr<const PublicKey::Impl> public_key;
};

Result<PublicKey> PublicKey::from_pem(std::string_view pem) {
  OWF_ASSIGN_OR_RETURN(KeyParts parts,
                       read_pem_key(
                           pem, [](BIO* bio) { return PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr); },
                           "a PEM public key (-----BEGIN PUBLIC KEY-----, SubjectPublicKeyInfo)"));
  auto impl = std::make_shared<Impl>();
  static_cast<KeyParts&>(*impl) = std::move(parts);
  return PublicKey(std::move(impl));
}

Result<PublicKey> PublicKey::load(const std::filesystem::path& path) { return load_key<PublicKey>(path); }
const std::string& PublicKey::key_id() const { return impl_->key_id; }
const std::string& PublicKey::algorithm() const { return impl_->algorithm; }

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  // No passphrase callback: encrypted keys are refused rather than prompted for.
  OWF_ASSIGN_OR_RETURN(KeyParts parts, read_pem_key(
                                           pem,
                                           [](BIO* bio) {
                                             return PEM_read_bio_PrivateKey(
                                                 bio, nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
                                           },
                                           "an unencrypted PEM private key (-----BEGIN PRIVATE KEY-----, PKCS#8)"));
  // The public half, for public_key(): its DER, re-read as a public key.
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(parts.key.get(), &der);
  if (length <= 0) return Error(ErrorCode::kInvalidArgument, "cannot encode the public key: " + openssl_error());
  const unsigned char* p = der;
  PkeyPtr pub(d2i_PUBKEY(nullptr, &p, length));
  OPENSSL_free(der);
  if (!pub) return Error(ErrorCode::kInvalidArgument, "cannot derive the public key: " + openssl_error());
  auto impl = std::make_shared<Impl>();
  auto public_impl = std::make_shared<PublicKey::Impl>();
  public_impl->key.reset(pub.release());
  public_impl->key_id = parts.key_id;
  public_impl->algorithm = parts.algorithm;
  impl->public_key = std::move(public_impl);
  static_cast<KeyParts&>(*impl) = std::move(parts);
  return PrivateKey(std::move(impl));
}

Result<PrivateKey> PrivateKey::load(const std::filesystem::path& path) { return load_key<PrivateKey>(path); }
const std::string& PrivateKey::key_id() const { return impl_->key_id; }
const std::string& PrivateKey::algorithm() const { return impl_->algorithm; }
PublicKey PrivateKey::public_key() const { return PublicKey(impl_->public_key); }

namespace internal {

Result<std::vector<std::uint8_t>> sign_bytes(const PrivateKey& key, std::span<const std::uint8_t> message) {
  ERR_clear_error();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  // Ed25519 signs the message itself (no digest); ECDSA signs its SHA-256.
  const EVP_MD* md = key.algorithm() == "ed25519" ? nullptr : EVP_sha256();
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.impl().key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, message.data(), message.size()) != 1)
    return Error(ErrorCode::kInvalidArgument, "cannot sign with key " + key.key_id() + ": " + openssl_error());
  std::vector<std::uint8_t> out(length);
  if (EVP_DigestSign(ctx.get(), out.data(), &length, message.data(), message.size()) != 1)
    return Error(ErrorCode::kInvalidArgument, "cannot sign with key " + key.key_id() + ": " + openssl_error());
  out.resize(length);
  return out;
}

bool verify_bytes(const PublicKey& key, std::span<const std::uint8_t> message, std::span<const std::uint8_t> sig) {
  ERR_clear_error();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  const EVP_MD* md = key.algorithm() == "ed25519" ? nullptr : EVP_sha256();
  // EVP_DigestVerify returns 1 for a valid signature, 0 for an invalid one
  // and a negative value for a malformed one (a DER parse failure): all but
  // 1 are "does not verify".
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key.impl().key.get()) == 1 &&
                  EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), message.data(), message.size()) == 1;
  ERR_clear_error();
  return ok;
}

const PublicKey* find_key(std::span<const PublicKey> trusted, std::string_view key_id) {
  for (const PublicKey& k : trusted)
    if (k.key_id() == key_id) return &k;
  return nullptr;
}

}  // namespace internal

// ---------------------------------------------------------------------------
// Digests and the message

std::string_view covers_name(Covers covers) { return covers == Covers::kWeights ? "weights" : "weights+info"; }

std::optional<Covers> covers_from_name(std::string_view name) {
  if (name == "weights") return Covers::kWeights;
  if (name == "weights+info") return Covers::kWeightsAndInfo;
  return std::nullopt;
}

namespace {

// The encodings of spec/signatures.md §3: integers little-endian, strings
// as u64 length + bytes, lists as u64 count + elements.
class InfoEncoder {
 public:
  void bytes(const void* p, std::size_t n) { h_.update(p, n); }
  void u8(std::uint8_t v) { bytes(&v, 1); }
  void u64(std::uint64_t v) {
    std::uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
    bytes(b, 8);
  }
  void str(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (const auto& s : v) str(s);
  }
  void f64(double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    u64(bits);
  }
  // The value type codes are those of the schema's union Value.
  void value(const Value& v) {
    struct Visit {
      InfoEncoder& e;
      const Value& v;
      void operator()(bool b) const { e.u8(1), e.u8(b ? 1 : 0); }
      void operator()(std::int64_t i) const { e.u8(2), e.u8(std::uint8_t(v.int_type)), e.u64(std::uint64_t(i)); }
      void operator()(double d) const { e.u8(3), e.u8(std::uint8_t(v.float_type)), e.f64(d); }
      void operator()(const std::string& s) const { e.u8(4), e.str(s); }
      void operator()(const std::vector<bool>& a) const {
        e.u8(5), e.u64(a.size());
        for (bool b : a) e.u8(b ? 1 : 0);
      }
      void operator()(const std::vector<std::int64_t>& a) const {
        e.u8(6), e.u8(std::uint8_t(v.int_type)), e.u64(a.size());
        for (auto i : a) e.u64(std::uint64_t(i));
      }
      void operator()(const std::vector<double>& a) const {
        e.u8(7), e.u8(std::uint8_t(v.float_type)), e.u64(a.size());
        for (auto d : a) e.f64(d);
      }
      void operator()(const std::vector<std::string>& a) const { e.u8(8), e.strs(a); }
    };
    std::visit(Visit{*this, v}, v.data);
  }
  Sha256Digest finish() { return h_.finish(); }

 private:
  internal::Sha256 h_;
};

bool name_less(std::string_view a, std::string_view b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

}  // namespace

Sha256Digest info_digest_of(const ModelInfo& info, std::vector<RoleEntry> roles) {
  InfoEncoder e;
  e.bytes("OWF-INFO-V1", 11);
  e.u8(info.license ? 1 : 0);
  if (info.license) {
    const License& l = *info.license;
    for (const std::string* s : {&l.spdx, &l.concluded, &l.name, &l.url, &l.text}) e.str(*s);
    e.strs(l.copyright);
    e.str(l.attribution);
    e.str(l.restrictions);
  }
  const Provenance& p = info.provenance;
  for (const std::string* s : {&p.name, &p.version, &p.architecture, &p.description}) e.str(*s);
  e.strs(p.authors);
  e.str(p.source_url);
  e.u64(p.base_models.size());
  for (const BaseModel& b : p.base_models) {
    e.str(b.name);
    e.bytes(b.weights_digest.data(), 32);
  }
  for (const std::string* s : {&p.training_data, &p.software, &p.created}) e.str(*s);
  // std::map orders std::string keys by char_traits<char>::compare, which
  // compares as unsigned char: byte order, as the spec says.
  e.u64(info.hyperparameters.size());
  for (const auto& [key, v] : info.hyperparameters) {
    e.str(key);
    e.value(v);
  }
  e.u64(info.metadata.size());
  for (const auto& [key, v] : info.metadata) {
    e.str(key);
    e.str(v);
  }
  std::sort(roles.begin(), roles.end(),
            [](const RoleEntry& a, const RoleEntry& b) { return name_less(a.name, b.name); });
  e.u64(roles.size());
  for (const RoleEntry& r : roles) {
    e.str(r.name);
    e.u8(static_cast<std::uint8_t>(r.role));
  }
  return e.finish();
}

Sha256Digest info_digest(const Source& source) {
  std::vector<TensorInfo> tensors(source.tensor_count());
  std::vector<RoleEntry> roles;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    tensors[i] = source.tensor(i);
    roles.push_back({tensors[i].name, tensors[i].role});
  }
  return info_digest_of(source.info(), std::move(roles));
}

std::vector<std::uint8_t> signature_message(Covers covers, const Sha256Digest& weights, const Sha256Digest& info) {
  constexpr std::string_view kDomain = "OWF-SIGNATURE-V1";
  const std::string_view name = covers_name(covers);
  std::vector<std::uint8_t> out(kDomain.begin(), kDomain.end());
  out.push_back(static_cast<std::uint8_t>(name.size()));
  out.insert(out.end(), name.begin(), name.end());
  out.insert(out.end(), weights.begin(), weights.end());
  if (covers == Covers::kWeightsAndInfo) out.insert(out.end(), info.begin(), info.end());
  return out;
}

Result<Signature> sign_digests(const PrivateKey& key, Covers covers, const Sha256Digest& weights,
                               const Sha256Digest& info) {
  OWF_ASSIGN_OR_RETURN(std::vector<std::uint8_t> bytes,
                       internal::sign_bytes(key, signature_message(covers, weights, info)));
  return Signature{key.algorithm(), key.key_id(), std::string(covers_name(covers)), std::move(bytes)};
}

Result<Signature> sign(const Source& source, const PrivateKey& key, Covers covers) {
  OWF_ASSIGN_OR_RETURN(Sha256Digest weights, compute_weights_digest(source));
  return sign_digests(key, covers, weights, info_digest(source));
}

std::string_view signature_status_name(SignatureStatus status) {
  switch (status) {
    case SignatureStatus::kValid:
      return "valid";
    case SignatureStatus::kInvalid:
      return "invalid";
    case SignatureStatus::kUntrustedKey:
      return "untrusted_key";
    case SignatureStatus::kUnknownAlgorithm:
      return "unknown_algorithm";
    case SignatureStatus::kUnknownCovers:
      return "unknown_covers";
  }
  return "invalid";
}

// ---------------------------------------------------------------------------
// Checking

namespace {

bool known_algorithm(std::string_view a) { return a == "ed25519" || a == "ecdsa-p256-sha256"; }

SignatureCheck check_embedded(const Signature& s, std::span<const PublicKey> trusted, const Sha256Digest& weights,
                              const Sha256Digest& info) {
  SignatureCheck c{s, "embedded", SignatureStatus::kInvalid, {}};
  const auto covers = covers_from_name(s.covers);
  if (!known_algorithm(s.algorithm)) {
    c.status = SignatureStatus::kUnknownAlgorithm;
    c.detail = "algorithm '" + s.algorithm + "' is not one this implementation verifies";
    return c;
  }
  if (!covers) {
    c.status = SignatureStatus::kUnknownCovers;
    c.detail = "covers '" + s.covers + "' is not one this implementation knows";
    return c;
  }
  const PublicKey* key = internal::find_key(trusted, s.key_id);
  if (key == nullptr) {
    c.status = SignatureStatus::kUntrustedKey;
    c.detail = trusted.empty() ? "present, not checked: no trusted key given" : "key " + s.key_id + " is not trusted";
    return c;
  }
  if (key->algorithm() != s.algorithm) {
    c.detail = "the trusted key " + s.key_id + " is " + key->algorithm() + ", the signature says " + s.algorithm;
    return c;
  }
  if (internal::verify_bytes(*key, signature_message(*covers, weights, info), s.bytes)) {
    c.status = SignatureStatus::kValid;
    c.detail = "signed by this key over the " +
               (*covers == Covers::kWeights ? "weights digest " + to_hex(weights)
                                            : "weights digest " + to_hex(weights) + " and info digest " + to_hex(info));
    return c;
  }
  c.detail = *covers == Covers::kWeights
                 ? "the signature does not match this file's weights digest " + to_hex(weights) +
                       ": a tensor's name, dtype, shape or bytes changed since signing, or the signature is damaged"
                 : "the signature does not match this file's weights digest " + to_hex(weights) + " and info digest " +
                       to_hex(info) +
                       ": a tensor's name, dtype, shape, bytes or role, or the license, provenance, hyperparameters "
                       "or metadata changed since signing, or the signature is damaged";
  return c;
}

}  // namespace

Result<std::vector<SignatureCheck>> check_signatures(const Source& source, std::span<const PublicKey> trusted,
                                                     std::span<const DetachedSignature> detached,
                                                     std::string_view detached_origin) {
  OWF_ASSIGN_OR_RETURN(Sha256Digest weights, compute_weights_digest(source));
  return check_signatures(source, weights, trusted, detached, detached_origin);
}

std::vector<SignatureCheck> check_signatures(const Source& source, const Sha256Digest& weights,
                                             std::span<const PublicKey> trusted,
                                             std::span<const DetachedSignature> detached,
                                             std::string_view detached_origin) {
  const Sha256Digest info = info_digest(source);
  std::vector<SignatureCheck> out;
  if (const File* f = source.owf_file())
    for (const Signature& s : embedded_signatures(*f)) out.push_back(check_embedded(s, trusted, weights, info));
  for (const DetachedSignature& d : detached)
    for (const Signature& s : d.signatures)
      out.push_back(internal::check_detached(d, s, trusted, weights, info, detached_origin));
  return out;
}

// ---------------------------------------------------------------------------
// Embedded signatures

std::vector<Signature> embedded_signatures(const File& file) {
  return internal::FileAccess::validated(file).manifest.signatures;
}

Result<EditReport> add_signature(const std::filesystem::path& path, const Signature& signature,
                                 const EditOptions& options) {
  return internal::rewrite_manifest(
      path,
      [&](internal::ManifestModel& model) -> Status {
        std::erase_if(model.signatures,
                      [&](const Signature& s) { return s.key_id == signature.key_id && s.covers == signature.covers; });
        model.signatures.push_back(signature);
        return {};
      },
      options);
}

Result<EditReport> remove_signatures(const std::filesystem::path& path, std::string_view key_id,
                                     const EditOptions& options) {
  return internal::rewrite_manifest(
      path,
      [&](internal::ManifestModel& model) -> Status {
        if (std::erase_if(model.signatures, [&](const Signature& s) { return s.key_id == key_id; }) == 0)
          return Error(ErrorCode::kNotFound,
                       path.string() + " has no signature by key " + std::string(key_id.substr(0, 200)));
        return {};
      },
      options);
}

}  // namespace owf
