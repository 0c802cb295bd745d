// Hostile signature material (spec/signatures.md): the input as a detached
// signature (a DSSE envelope) and as PEM keys. A parsed envelope is checked
// against a trusted key and any digests: it may fail, never crash, and is
// never valid unless the payload says exactly these digests.
#include <string_view>
#include <vector>

#include "fuzz_budget.hpp"
#include "fuzz_common.hpp"
#include "owf/signature.hpp"
#include "signature_keys.hpp"

namespace {

// A test key of the suite (tests/data/keys/ed25519.pub.pem).
constexpr std::string_view kTrusted =
    "-----BEGIN PUBLIC KEY-----\n"
    "MCowBQYDK2VwAyEAsNWRmfZnzYng9MnBz7kEL5WCuQ3baH4jK8YCjLk9/Mg=\n"
    "-----END PUBLIC KEY-----\n";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  owf::fuzz::within_budget(size, [&] {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (auto envelope = owf::parse_envelope(text); envelope.ok()) {
      FUZZ_ASSERT(!envelope->signatures.empty() && envelope->signatures.size() <= 64);
      FUZZ_ASSERT((envelope->covers == owf::Covers::kWeightsAndInfo) == envelope->info.has_value());
      static const owf::PublicKey trusted = *owf::PublicKey::from_pem(kTrusted);
      const std::vector<owf::PublicKey> keys = {trusted};
      const owf::Sha256Digest other{};
      for (const auto& s : envelope->signatures) {
        const auto check = owf::internal::check_detached(*envelope, s, keys, other, other, "fuzz");
        if (check.status == owf::SignatureStatus::kValid) FUZZ_ASSERT(envelope->weights == other);
      }
    }
    if (auto key = owf::PublicKey::from_pem(text); key.ok()) FUZZ_ASSERT(key->key_id().size() == 64);
    if (auto key = owf::PrivateKey::from_pem(text); key.ok()) FUZZ_ASSERT(key->key_id().size() == 64);
  });
  return 0;
}
