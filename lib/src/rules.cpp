#include "rules.hpp"

#include <algorithm>
#include <string>

#include "utf8.hpp"

namespace owf::internal {

Status check_tensor_name(std::string_view name, const Limits& limits) {
  if (name.empty()) return Error(ErrorCode::kBadTensorName, "the name is empty");
  if (name.size() > limits.max_name_bytes)
    return Error(ErrorCode::kLimitExceeded, "the name is " + std::to_string(name.size()) +
                                                " bytes, over the limit of " + std::to_string(limits.max_name_bytes));
  if (const auto nul = name.find('\0'); nul != std::string_view::npos)
    return Error(ErrorCode::kBadTensorName, "the name has a NUL byte at byte " + std::to_string(nul));
  if (const auto bad = find_invalid_utf8(name); bad != std::string_view::npos)
    return Error(ErrorCode::kBadUtf8, "the name is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  return {};
}

Status check_manifest_size(std::uint64_t bytes, const Limits& limits) {
  if (bytes > limits.max_manifest_bytes)
    return Error(ErrorCode::kLimitExceeded, "manifest is " + std::to_string(bytes) + " bytes, over the limit of " +
                                                std::to_string(limits.max_manifest_bytes));
  return {};
}

Status check_tensor_count(std::uint64_t count, const Limits& limits) {
  if (count > limits.max_tensors)
    return Error(ErrorCode::kLimitExceeded,
                 std::to_string(count) + " tensors, over the limit of " + std::to_string(limits.max_tensors));
  return {};
}

Status check_entry_count(std::uint64_t count, const Limits& limits) {
  if (count > limits.max_metadata_entries)
    return Error(ErrorCode::kLimitExceeded, std::to_string(count) +
                                                " hyperparameter and metadata entries, over the limit of " +
                                                std::to_string(limits.max_metadata_entries));
  return {};
}

Status check_rank(std::uint64_t rank, const Limits& limits) {
  if (rank > limits.max_rank)
    return Error(ErrorCode::kLimitExceeded,
                 "rank " + std::to_string(rank) + " is over the limit of " + std::to_string(limits.max_rank));
  return {};
}

Status check_role(std::uint64_t code) {
  if (code > static_cast<std::uint64_t>(Role::kBuffer))
    return Error(ErrorCode::kUnknownRole, "unknown role code " + std::to_string(code));
  return {};
}

namespace {

// spec/versioning.md, "Known features".
constexpr Feature kFeatures[] = {
    {"nvfp4", 1},
    {"q1_0", 1},
    {"q2_0", 1},
    {"zstd", 0},
};

}  // namespace

std::span<const Feature> known_features() { return kFeatures; }

std::optional<Feature> find_feature(std::string_view name) {
  for (const Feature& f : kFeatures)
    if (f.name == name) return f;
  return std::nullopt;
}

std::optional<Feature> feature_of(DType dtype) {
  switch (dtype) {
    case DType::kNVFP4:
      return find_feature("nvfp4");
    case DType::kQ1_0:
      return find_feature("q1_0");
    case DType::kQ2_0:
      return find_feature("q2_0");
    default:
      return std::nullopt;
  }
}

std::uint16_t manifest_field_since(std::size_t field_id) {
  // Manifest fields 0-6 are version 1.0's; 7 (signatures) came with 1.2.
  // Id 8 is reserved for shard sets (spec/versioning.md).
  return field_id == 7 ? 2 : 0;
}

std::uint16_t minor_version_for(std::span<const std::string> features, bool has_signatures) {
  std::uint16_t minor = has_signatures ? manifest_field_since(7) : 0;
  for (const auto& name : features)
    if (const auto f = find_feature(name)) minor = std::max(minor, f->since_minor);
  return minor;
}

Status check_signature_count(std::uint64_t count, const Limits& limits) {
  if (count <= limits.max_signatures) return {};
  return Error(ErrorCode::kLimitExceeded, std::to_string(count) + " signatures, over the limit of " +
                                              std::to_string(limits.max_signatures) + " (rule R37)");
}

Status check_signature_fields(std::size_t index, std::string_view algorithm, std::string_view key_id,
                              std::string_view covers, std::size_t signature_bytes) {
  const std::string where = "signature " + std::to_string(index);
  auto printable = [](std::string_view s) {
    return !s.empty() && s.size() <= 64 && std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
  };
  auto fail = [&](const std::string& what) {
    return Error(ErrorCode::kBadSignature, where + ": " + what + " (rule R37)");
  };
  if (!printable(algorithm)) return fail("the algorithm is not 1 to 64 bytes of printable ASCII");
  if (key_id.size() != 64 || !std::all_of(key_id.begin(), key_id.end(),
                                          [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }))
    return fail("the key id is not 64 lowercase hex digits");
  if (!printable(covers)) return fail("covers is not 1 to 64 bytes of printable ASCII");
  if (signature_bytes == 0 || signature_bytes > 1024)
    return fail(std::to_string(signature_bytes) + " signature bytes, not 1 to 1024");
  return {};
}

Status check_dtype_feature(DType dtype, std::span<const std::string_view> listed) {
  const auto feature = feature_of(dtype);
  if (!feature || std::find(listed.begin(), listed.end(), feature->name) != listed.end()) return {};
  return Error(ErrorCode::kUnknownDtype, "dtype " + std::string(dtype_name(dtype)) + " needs the required feature \"" +
                                             std::string(feature->name) + "\", which the file does not list");
}

}  // namespace owf::internal
