// Detached signatures (spec/signatures.md §6): a DSSE envelope whose
// payload is an in-toto Statement v1 naming the digests it signs. DSSE
// signs PAE(payloadType, payload), not the message of §4.
#include <cstring>
#include <nlohmann/json.hpp>

#include "base64.hpp"
#include "owf/signature.hpp"
#include "signature_keys.hpp"

namespace owf {
namespace {

constexpr std::string_view kPayloadType = "application/vnd.in-toto+json";
constexpr std::string_view kStatementType = "https://in-toto.io/Statement/v1";
constexpr std::string_view kPredicateType = "https://openweights.org/owf/signature/v1";
constexpr std::size_t kMaxEnvelopeBytes = 1u << 20;

// DSSE's pre-authentication encoding:
// "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, LEN in ASCII decimal.
std::vector<std::uint8_t> pae(std::string_view type, std::string_view body) {
  const std::string head =
      "DSSEv1 " + std::to_string(type.size()) + " " + std::string(type) + " " + std::to_string(body.size()) + " ";
  std::vector<std::uint8_t> out(head.begin(), head.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

std::span<const std::byte> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

Error bad(const std::string& what) { return Error(ErrorCode::kBadSignature, "signature envelope: " + what); }

}  // namespace

Result<std::string> make_envelope(const PrivateKey& key, std::string_view name, Covers covers,
                                  const Sha256Digest& weights, const Sha256Digest& info) {
  nlohmann::json predicate = {{"covers", std::string(covers_name(covers))}};
  if (covers == Covers::kWeightsAndInfo) predicate["info_digest"] = {{"sha256", to_hex(info)}};
  const nlohmann::json statement = {
      {"_type", std::string(kStatementType)},
      {"subject", nlohmann::json::array({{{"name", std::string(name)}, {"digest", {{"sha256", to_hex(weights)}}}}})},
      {"predicateType", std::string(kPredicateType)},
      {"predicate", predicate}};
  const std::string payload = statement.dump();
  OWF_ASSIGN_OR_RETURN(std::vector<std::uint8_t> sig, internal::sign_bytes(key, pae(kPayloadType, payload)));
  const nlohmann::json envelope = {
      {"payloadType", std::string(kPayloadType)},
      {"payload", internal::base64_encode(as_bytes(payload))},
      {"signatures",
       nlohmann::json::array({{{"keyid", key.key_id()},
                               {"sig", internal::base64_encode(
                                           std::span(reinterpret_cast<const std::byte*>(sig.data()), sig.size()))}}})}};
  return envelope.dump(2) + "\n";
}

Result<DetachedSignature> parse_envelope(std::string_view json) {
  if (json.size() > kMaxEnvelopeBytes)
    return bad(std::to_string(json.size()) + " bytes, over the limit of " + std::to_string(kMaxEnvelopeBytes));
  const nlohmann::json env = nlohmann::json::parse(json, nullptr, false);
  if (env.is_discarded() || !env.is_object()) return bad("not a JSON object");
  auto string_at = [](const nlohmann::json& o, const char* key) -> const std::string* {
    const auto it = o.find(key);
    return it != o.end() && it->is_string() ? &it->get_ref<const std::string&>() : nullptr;
  };
  const std::string* type = string_at(env, "payloadType");
  if (type == nullptr || *type != kPayloadType) return bad("payloadType is not \"" + std::string(kPayloadType) + "\"");
  const std::string* payload64 = string_at(env, "payload");
  if (payload64 == nullptr) return bad("no payload string");
  const auto payload = internal::base64_decode(*payload64);
  if (!payload) return bad("the payload is not padded standard base64");
  DetachedSignature out;
  out.payload.assign(reinterpret_cast<const char*>(payload->data()), payload->size());

  const auto sigs = env.find("signatures");
  if (sigs == env.end() || !sigs->is_array() || sigs->empty() || sigs->size() > 64)
    return bad("signatures is not an array of 1 to 64 entries");
  for (std::size_t i = 0; i < sigs->size(); ++i) {
    const nlohmann::json& s = (*sigs)[i];
    const std::string* keyid = s.is_object() ? string_at(s, "keyid") : nullptr;
    const std::string* sig64 = s.is_object() ? string_at(s, "sig") : nullptr;
    if (keyid == nullptr || sig64 == nullptr) return bad("signature " + std::to_string(i) + " lacks keyid or sig");
    const auto sig = internal::base64_decode(*sig64);
    if (!sig || sig->empty() || sig->size() > 1024)
      return bad("the sig of signature " + std::to_string(i) + " is not 1 to 1024 bytes of padded standard base64");
    Signature entry;
    entry.key_id = keyid->substr(0, 200);
    entry.bytes.resize(sig->size());
    std::memcpy(entry.bytes.data(), sig->data(), sig->size());
    out.signatures.push_back(std::move(entry));
  }

  const nlohmann::json st = nlohmann::json::parse(out.payload, nullptr, false);
  if (st.is_discarded() || !st.is_object()) return bad("the payload is not a JSON object");
  if (const std::string* t = string_at(st, "_type"); t == nullptr || *t != kStatementType)
    return bad("the payload's _type is not \"" + std::string(kStatementType) + "\"");
  if (const std::string* t = string_at(st, "predicateType"); t == nullptr || *t != kPredicateType)
    return bad("the payload's predicateType is not \"" + std::string(kPredicateType) + "\"");
  const auto subject = st.find("subject");
  if (subject == st.end() || !subject->is_array() || subject->size() != 1 || !(*subject)[0].is_object())
    return bad("the statement does not have exactly one subject");
  const nlohmann::json& sub = (*subject)[0];
  if (const std::string* n = string_at(sub, "name")) out.name = n->substr(0, 4096);
  const auto digest_of = [&](const nlohmann::json& parent, const char* key) -> std::optional<Sha256Digest> {
    const auto d = parent.find(key);
    if (d == parent.end() || !d->is_object()) return std::nullopt;
    const std::string* hex = string_at(*d, "sha256");
    return hex == nullptr ? std::nullopt : digest_from_hex(*hex);
  };
  const auto weights = digest_of(sub, "digest");
  if (!weights) return bad("the subject has no digest.sha256 of 64 hex digits");
  out.weights = *weights;
  const auto predicate = st.find("predicate");
  if (predicate == st.end() || !predicate->is_object()) return bad("the statement has no predicate object");
  const std::string* covers_text = string_at(*predicate, "covers");
  const auto covers = covers_text == nullptr ? std::nullopt : covers_from_name(*covers_text);
  if (!covers) return bad("the predicate's covers is not \"weights\" or \"weights+info\"");
  out.covers = *covers;
  for (Signature& s : out.signatures) s.covers = std::string(covers_name(*covers));
  if (*covers == Covers::kWeightsAndInfo) {
    out.info = digest_of(*predicate, "info_digest");
    if (!out.info) return bad("the predicate has no info_digest.sha256 of 64 hex digits");
  }
  return out;
}

namespace internal {

SignatureCheck check_detached(const DetachedSignature& envelope, const Signature& signature,
                              std::span<const PublicKey> trusted, const Sha256Digest& weights, const Sha256Digest& info,
                              std::string_view origin) {
  SignatureCheck c{signature, std::string(origin), SignatureStatus::kInvalid, {}};
  const PublicKey* key = find_key(trusted, signature.key_id);
  if (key == nullptr) {
    c.status = SignatureStatus::kUntrustedKey;
    c.detail =
        trusted.empty() ? "present, not checked: no trusted key given" : "key " + signature.key_id + " is not trusted";
    return c;
  }
  c.signature.algorithm = key->algorithm();
  if (!verify_bytes(*key, pae(kPayloadType, envelope.payload), signature.bytes)) {
    c.detail = "the envelope's signature does not verify with key " + key->key_id() + ": it is damaged or not by it";
    return c;
  }
  if (envelope.weights != weights) {
    c.detail = "the weights no longer match: signed weights digest " + to_hex(envelope.weights) + ", this file has " +
               to_hex(weights) + " (a tensor's name, dtype, shape or bytes changed)";
    return c;
  }
  if (envelope.covers == Covers::kWeightsAndInfo && envelope.info != info) {
    c.detail = "the model information no longer matches: signed info digest " + to_hex(*envelope.info) +
               ", this file has " + to_hex(info) +
               " (license, provenance, hyperparameters, metadata or tensor roles changed)";
    return c;
  }
  c.status = SignatureStatus::kValid;
  c.detail = "valid " + key->algorithm() + " signature over the weights digest " + to_hex(weights) +
             (envelope.covers == Covers::kWeightsAndInfo ? " and info digest " + to_hex(info) : "");
  return c;
}

}  // namespace internal
}  // namespace owf
