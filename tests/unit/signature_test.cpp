// Signatures (spec/signatures.md): signing and checking with both
// algorithms, every change a signature must notice, changes it must
// survive (recompression, conversion to safetensors for a weights-only
// signature), hostile keys and signature bytes, embedded and detached.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "owf/owf.h"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kKeys = std::filesystem::path(OWF_SOURCE_DIR) / "tests/data/keys";

PrivateKey private_key(const std::string& name) {
  auto k = PrivateKey::load(kKeys / (name + ".pem"));
  REQUIRE_MESSAGE(k.ok(), k.error().to_string());
  return *k;
}

PublicKey public_key(const std::string& name) {
  auto k = PublicKey::load(kKeys / (name + ".pub.pem"));
  REQUIRE_MESSAGE(k.ok(), k.error().to_string());
  return *k;
}

ModelInfo sample_info() {
  ModelInfo info;
  info.license = License{.spdx = "Apache-2.0"};
  info.provenance.name = "tiny";
  info.hyperparameters["layers"] = Value(std::int64_t{2});
  info.hyperparameters["rope.theta"] = Value(10000.0);
  info.metadata["dataset"] = "none";
  return info;
}

struct Tensor {
  std::string name;
  Role role;
  std::vector<std::byte> bytes;  // F32
};

std::vector<Tensor> sample_tensors() {
  // Zeros compress, for the recompressed copy.
  return {{"a.weight", Role::kWeight, std::vector<std::byte>(4096)},
          {"b.bias", Role::kBias, owf::test::pseudo_random_bytes(16, 2)}};
}

void write(const std::filesystem::path& path, const std::vector<Tensor>& tensors, const ModelInfo& info) {
  auto w = Writer::create(path);
  REQUIRE(w.ok());
  REQUIRE(w->set_info(info).ok());
  for (const auto& t : tensors)
    REQUIRE(w->add_tensor({t.name, DType::kF32, {t.bytes.size() / 4}, t.role}, t.bytes).ok());
  REQUIRE(w->finish().ok());
}

std::unique_ptr<Source> open(const std::filesystem::path& path) {
  auto s = open_source(path);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return std::move(*s);
}

// The status of the only signature check of `path` against `trusted`.
SignatureStatus status_of(const std::filesystem::path& path, const std::vector<PublicKey>& trusted,
                          std::span<const DetachedSignature> detached = {}) {
  auto source = open(path);
  auto checks = check_signatures(*source, trusted, detached);
  REQUIRE_MESSAGE(checks.ok(), checks.error().to_string());
  REQUIRE(checks->size() == 1);
  INFO((*checks)[0].detail);
  return (*checks)[0].status;
}

}  // namespace

TEST_CASE("signatures: keys load from PEM and name themselves by the SHA-256 of their public key") {
  CHECK(private_key("ed25519").algorithm() == "ed25519");
  CHECK(private_key("p256").algorithm() == "ecdsa-p256-sha256");
  CHECK(private_key("ed25519").key_id() == public_key("ed25519").key_id());
  CHECK(private_key("p256").public_key().key_id() == public_key("p256").key_id());
  CHECK(public_key("ed25519").key_id() != public_key("other-ed25519").key_id());
  CHECK(public_key("ed25519").key_id().size() == 64);

  auto p384 = PrivateKey::load(kKeys / "p384.pem");
  REQUIRE(!p384.ok());
  CHECK(p384.error().message().find("P-256") != std::string::npos);
  for (const char* garbage : {"", "not a key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}) {
    CAPTURE(garbage);
    CHECK(PublicKey::from_pem(garbage).error().code() == ErrorCode::kInvalidArgument);
    CHECK(PrivateKey::from_pem(garbage).error().code() == ErrorCode::kInvalidArgument);
  }
}

TEST_CASE("signatures: the message holds the domain, what is covered and the digests") {
  Sha256Digest w{}, i{};
  w.fill(0x11);
  i.fill(0x22);
  const auto weights_only = signature_message(Covers::kWeights, w, i);
  CHECK(weights_only.size() == 16 + 1 + 7 + 32);
  CHECK(std::string(weights_only.begin(), weights_only.begin() + 16) == "OWF-SIGNATURE-V1");
  CHECK(weights_only[16] == 7);
  const auto both = signature_message(Covers::kWeightsAndInfo, w, i);
  CHECK(both.size() == 16 + 1 + 12 + 64);
  CHECK(both.back() == 0x22);
}

TEST_CASE("signatures: the info digest covers license, provenance, hyperparameters, metadata and roles") {
  const ModelInfo info = sample_info();
  const std::vector<RoleEntry> roles = {{"b", Role::kBias}, {"a", Role::kWeight}};
  const Sha256Digest d = info_digest_of(info, roles);
  CHECK(d == info_digest_of(info, {{"a", Role::kWeight}, {"b", Role::kBias}}));  // order of entries does not count
  ModelInfo changed = info;
  changed.license->spdx = "MIT";
  CHECK(info_digest_of(changed, roles) != d);
  changed = info;
  changed.provenance.created = "2026";
  CHECK(info_digest_of(changed, roles) != d);
  changed = info;
  changed.hyperparameters["layers"] = Value(std::int64_t{2}, IntType::kI32);  // the declared type counts
  CHECK(info_digest_of(changed, roles) != d);
  changed = info;
  changed.metadata["dataset"] = "some";
  CHECK(info_digest_of(changed, roles) != d);
  CHECK(info_digest_of(info, {{"b", Role::kWeight}, {"a", Role::kWeight}}) != d);
  changed = info;
  changed.license.reset();
  CHECK(info_digest_of(changed, roles) != d);
}

TEST_CASE("signatures: embedded signatures of both algorithms verify, and each covered change breaks them") {
  TempDir dir;
  for (const char* key_name : {"ed25519", "p256"}) {
    CAPTURE(key_name);
    const PrivateKey key = private_key(key_name);
    const std::vector<PublicKey> trusted = {public_key(key_name)};
    const auto signed_path = dir / (std::string(key_name) + ".owf");
    write(signed_path, sample_tensors(), sample_info());
    {
      auto source = open(signed_path);
      auto sig = sign(*source, key, Covers::kWeightsAndInfo);
      REQUIRE_MESSAGE(sig.ok(), sig.error().to_string());
      CHECK(sig->algorithm == key.algorithm());
      REQUIRE(add_signature(signed_path, *sig).ok());
    }
    auto file = File::open(signed_path);
    REQUIRE(file.ok());
    CHECK(file->version().minor == 2);
    REQUIRE(embedded_signatures(*file).size() == 1);
    CHECK(status_of(signed_path, trusted) == SignatureStatus::kValid);

    SUBCASE("no trusted key: present, not checked") {
      CHECK(status_of(signed_path, {}) == SignatureStatus::kUntrustedKey);
    }
    SUBCASE("wrong key") {
      CHECK(status_of(signed_path, {public_key("other-ed25519")}) == SignatureStatus::kUntrustedKey);
    }
    // Each change rewrites the file with the original signature embedded.
    auto resign_with = [&](const std::vector<Tensor>& tensors, const ModelInfo& info) {
      const auto path = dir / "changed.owf";
      std::filesystem::remove(path);
      write(path, tensors, info);
      REQUIRE(add_signature(path, embedded_signatures(*file)[0]).ok());
      return path;
    };
    SUBCASE("changed weight byte") {
      auto tensors = sample_tensors();
      tensors[0].bytes[3] ^= std::byte{1};
      CHECK(status_of(resign_with(tensors, sample_info()), trusted) == SignatureStatus::kInvalid);
    }
    SUBCASE("changed license") {
      ModelInfo info = sample_info();
      info.license->spdx = "MIT";
      CHECK(status_of(resign_with(sample_tensors(), info), trusted) == SignatureStatus::kInvalid);
    }
    SUBCASE("changed hyperparameter") {
      ModelInfo info = sample_info();
      info.hyperparameters["layers"] = Value(std::int64_t{3});
      CHECK(status_of(resign_with(sample_tensors(), info), trusted) == SignatureStatus::kInvalid);
    }
    SUBCASE("renamed tensor") {
      auto tensors = sample_tensors();
      tensors[1].name = "c.bias";
      CHECK(status_of(resign_with(tensors, sample_info()), trusted) == SignatureStatus::kInvalid);
    }
    SUBCASE("changed role") {
      auto tensors = sample_tensors();
      tensors[1].role = Role::kOther;
      CHECK(status_of(resign_with(tensors, sample_info()), trusted) == SignatureStatus::kInvalid);
    }
    SUBCASE("truncated, garbage or unknown-algorithm signature bytes") {
      Signature s = embedded_signatures(*file)[0];
      const auto path = dir / "bad.owf";
      for (int variant = 0; variant < 3; ++variant) {
        CAPTURE(variant);
        std::filesystem::remove(path);
        write(path, sample_tensors(), sample_info());
        Signature bad = s;
        if (variant == 0) bad.bytes.resize(bad.bytes.size() / 2);
        if (variant == 1) bad.bytes.assign(bad.bytes.size(), 0xA5);
        if (variant == 2) bad.algorithm = "rsa-pss-sha512";
        REQUIRE(add_signature(path, bad).ok());
        CHECK(status_of(path, trusted) ==
              (variant == 2 ? SignatureStatus::kUnknownAlgorithm : SignatureStatus::kInvalid));
      }
    }
    SUBCASE("a recompressed copy still verifies") {
      auto source = open(signed_path);
      ConvertOptions options;
      options.write.compression.enabled = true;
      options.write.compression.min_saving = 0;
      REQUIRE(convert(*source, dir / "zstd.owf", Format::kOwf, options).ok());
      // The signature travels: what it covers is unchanged.
      auto copy = File::open(dir / "zstd.owf");
      REQUIRE(copy.ok());
      CHECK(copy->tensor(0).codec != Codec::kNone);
      CHECK(status_of(dir / "zstd.owf", trusted) == SignatureStatus::kValid);
      // A conversion that changes the license leaves the signature over it behind.
      options.license = License{.spdx = "MIT"};
      REQUIRE(convert(*source, dir / "mit.owf", Format::kOwf, options).ok());
      CHECK(embedded_signatures(*File::open(dir / "mit.owf")).empty());
      // One over the weights alone stays.
      REQUIRE(add_signature(signed_path, *sign(*source, key, Covers::kWeights)).ok());
      auto resigned = open(signed_path);
      REQUIRE(convert(*resigned, dir / "mit2.owf", Format::kOwf, options).ok());
      auto mit2 = File::open(dir / "mit2.owf");
      REQUIRE(embedded_signatures(*mit2).size() == 1);
      CHECK(embedded_signatures(*mit2)[0].covers == "weights");
    }
  }
}

TEST_CASE("signatures: removing, replacing, and validation of stored entries (R37)") {
  TempDir dir;
  const auto path = dir / "m.owf";
  write(path, sample_tensors(), sample_info());
  auto source = open(path);
  auto a = sign(*source, private_key("ed25519"), Covers::kWeights);
  auto b = sign(*source, private_key("p256"), Covers::kWeightsAndInfo);
  source.reset();
  REQUIRE(add_signature(path, *a).ok());
  REQUIRE(add_signature(path, *b).ok());
  REQUIRE(add_signature(path, *a).ok());  // replaces the first
  CHECK(embedded_signatures(*File::open(path)).size() == 2);
  REQUIRE(remove_signatures(path, a->key_id).ok());
  CHECK(embedded_signatures(*File::open(path)).size() == 1);
  CHECK(remove_signatures(path, a->key_id).error().code() == ErrorCode::kNotFound);
  REQUIRE(remove_signatures(path, b->key_id).ok());
  auto unsigned_file = File::open(path);
  CHECK(unsigned_file->version().minor == 0);  // back to the oldest version with what it holds

  Signature bad = *a;
  bad.key_id = "ABC";
  CHECK(add_signature(path, bad).error().code() == ErrorCode::kBadSignature);
  bad = *a;
  bad.bytes.clear();
  CHECK(add_signature(path, bad).error().code() == ErrorCode::kBadSignature);
}

TEST_CASE(
    "signatures: a weights-only signature verifies a safetensors conversion; a full one only while the information "
    "is the same") {
  TempDir dir;
  const auto path = dir / "m.owf";
  write(path, sample_tensors(), sample_info());
  auto source = open(path);
  // The information converts exactly (interchange.md), unless changed on the way.
  REQUIRE(convert(*source, dir / "same.safetensors", Format::kSafetensors).ok());
  ConvertOptions relicensed;
  relicensed.license = License{.spdx = "MIT"};
  REQUIRE(convert(*source, dir / "m.safetensors", Format::kSafetensors, relicensed).ok());
  auto weights = compute_weights_digest(*source);
  REQUIRE(weights.ok());
  const Sha256Digest info = info_digest(*source);
  const PrivateKey key = private_key("p256");
  const std::vector<PublicKey> trusted = {public_key("p256")};

  auto weights_only = make_envelope(key, "m.owf", Covers::kWeights, *weights, info);
  REQUIRE(weights_only.ok());
  auto parsed = parse_envelope(*weights_only);
  REQUIRE_MESSAGE(parsed.ok(), parsed.error().to_string());
  CHECK(parsed->name == "m.owf");
  CHECK(parsed->weights == *weights);
  CHECK(status_of(dir / "m.safetensors", trusted, std::span(&*parsed, 1)) == SignatureStatus::kValid);
  CHECK(status_of(dir / "m.safetensors", {}, std::span(&*parsed, 1)) == SignatureStatus::kUntrustedKey);

  auto full = parse_envelope(*make_envelope(key, "m.owf", Covers::kWeightsAndInfo, *weights, info));
  REQUIRE(full.ok());
  CHECK(status_of(dir / "same.safetensors", trusted, std::span(&*full, 1)) == SignatureStatus::kValid);
  auto st = open(dir / "m.safetensors");
  auto checks = check_signatures(*st, trusted, std::span(&*full, 1));
  REQUIRE(checks.ok());
  REQUIRE(checks->size() == 1);
  CHECK((*checks)[0].status == SignatureStatus::kInvalid);
  CHECK((*checks)[0].detail.find("model information no longer matches") != std::string::npos);
}

TEST_CASE("signatures: detached envelopes are checked field by field and hostile ones refused") {
  TempDir dir;
  const auto path = dir / "m.owf";
  write(path, sample_tensors(), sample_info());
  auto source = open(path);
  auto weights = compute_weights_digest(*source);
  const Sha256Digest info = info_digest(*source);
  const PrivateKey key = private_key("ed25519");
  auto envelope = make_envelope(key, "m.owf", Covers::kWeightsAndInfo, *weights, info);
  REQUIRE(envelope.ok());
  auto parsed = parse_envelope(*envelope);
  REQUIRE(parsed.ok());
  CHECK(status_of(path, {public_key("ed25519")}, std::span(&*parsed, 1)) == SignatureStatus::kValid);

  // A payload signed by the key but naming other weights.
  Sha256Digest other = *weights;
  other[0] ^= 1;
  auto lying = parse_envelope(*make_envelope(key, "m.owf", Covers::kWeightsAndInfo, other, info));
  REQUIRE(lying.ok());
  CHECK(status_of(path, {public_key("ed25519")}, std::span(&*lying, 1)) == SignatureStatus::kInvalid);
  // A payload changed after signing.
  DetachedSignature tampered = *parsed;
  tampered.payload += " ";
  CHECK(status_of(path, {public_key("ed25519")}, std::span(&tampered, 1)) == SignatureStatus::kInvalid);

  for (const char* hostile : {"", "[]", "{\"payloadType\":\"x\"}", "{\"payloadType\":\"application/vnd.in-toto+json\"}",
                              "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"!!\",\"signatures\":[]}",
                              "{\"payloadType\":\"application/vnd.in-toto+json\",\"payload\":\"e30=\","
                              "\"signatures\":[{\"keyid\":\"k\",\"sig\":\"AA==\"}]}"}) {
    CAPTURE(hostile);
    auto r = parse_envelope(hostile);
    REQUIRE(!r.ok());
    CHECK(r.error().code() == ErrorCode::kBadSignature);
  }
}

TEST_CASE("signatures: the C API signs and counts valid signatures") {
  TempDir dir;
  const auto path = dir / "m.owf";
  write(path, sample_tensors(), sample_info());
  const std::string key = (kKeys / "p256.pem").string();
  const std::string pub = (kKeys / "p256.pub.pem").string();
  const std::string other = (kKeys / "other-ed25519.pub.pem").string();
  REQUIRE(owf_sign_file(path.c_str(), key.c_str(), 0, nullptr) == OWF_OK);
  const char* trusted[] = {other.c_str(), pub.c_str()};
  std::size_t valid = 9;
  CHECK(owf_verify_signatures(path.c_str(), trusted, 2, &valid, nullptr) == OWF_OK);
  CHECK(valid == 1);
  CHECK(owf_verify_signatures(path.c_str(), trusted, 1, &valid, nullptr) == OWF_OK);
  CHECK(valid == 0);
  owf_error* error = nullptr;
  CHECK(owf_sign_file(path.c_str(), pub.c_str(), 0, &error) == OWF_INVALID_ARGUMENT);  // a public key
  CHECK(std::string(owf_error_message(error)).find("private key") != std::string::npos);
  owf_error_free(error);
  CHECK(owf_verify_signatures(nullptr, trusted, 2, &valid, nullptr) == OWF_INVALID_ARGUMENT);
}
