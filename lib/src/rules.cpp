#include "rules.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>

#include "utf8.hpp"

namespace owf::internal {

int compare_bytes(std::string_view a, std::string_view b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  if (c != 0) return c;
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

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
  // Manifest fields 0-6 are version 1.0's; 7 (signatures) came with 1.2,
  // 8 (shard_set) with 1.3.
  return field_id == 7 ? 2 : field_id == 8 ? 3 : 0;
}

std::uint16_t minor_version_for(std::span<const std::string> features, bool has_signatures, bool has_shard_set) {
  std::uint16_t minor = has_shard_set ? manifest_field_since(8) : has_signatures ? manifest_field_since(7) : 0;
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

namespace owf::internal {

namespace {

Error bad_shard_set(const std::string& what) {
  return Error(ErrorCode::kBadShardSet, "shard_set: " + what + " (rule R38)");
}

std::string quoted_name(std::string_view s) { return "'" + std::string(s.substr(0, 200)) + "'"; }

}  // namespace

std::optional<std::string> shard_file_name_problem(std::string_view name) {
  if (name.empty() || name.size() > 255) return std::to_string(name.size()) + " bytes, not 1 to 255";
  if (!is_valid_utf8(name)) return std::string("not valid UTF-8");
  if (name.find('\0') != std::string_view::npos) return std::string("holds a NUL byte");
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos)
    return std::string("holds a path separator: shards are plain file names in the set's directory");
  if (name == "." || name == "..") return std::string("is '" + std::string(name) + "', not a file name");
  return std::nullopt;
}

Status check_shard_count(std::uint64_t count, const Limits& limits) {
  if (count > limits.max_shards)
    return Error(ErrorCode::kLimitExceeded, "shard_set: " + std::to_string(count) + " shards, over the limit of " +
                                                std::to_string(limits.max_shards) + " (rule R38)");
  if (count == 0) return bad_shard_set("no shards");
  return {};
}

Status check_shard_entries(const ShardSetInfo& set, const Limits& limits) {
  if (set.index >= set.shards.size())
    return bad_shard_set("index " + std::to_string(set.index) + " is not below the " +
                         std::to_string(set.shards.size()) + " shards");
  std::unordered_set<std::string_view> names;
  std::uint64_t total = 0;
  for (std::size_t k = 0; k < set.shards.size(); ++k) {
    const ShardEntry& e = set.shards[k];
    const std::string where = "shards[" + std::to_string(k) + "]";
    if (auto problem = shard_file_name_problem(e.file_name)) return bad_shard_set(where + ": file name " + *problem);
    if (!names.insert(e.file_name).second)
      return bad_shard_set(where + ": file name " + quoted_name(e.file_name) + " is an earlier shard's too");
    if (e.tensor_count == 0) return bad_shard_set(where + " " + quoted_name(e.file_name) + " holds no tensor");
    if (e.tensor_count > ~std::uint64_t{0} - total)
      return bad_shard_set(where + ": the tensor counts add up to more than 64 bits hold");
    total += e.tensor_count;
    if (auto s = check_tensor_name(e.first_tensor, limits); !s.ok())
      return Error(s.error().code() == ErrorCode::kLimitExceeded ? ErrorCode::kLimitExceeded : ErrorCode::kBadShardSet,
                   "shard_set: " + where + ": first_tensor: " + s.error().message() + " (rule R38)");
    if (k > 0 && compare_bytes(set.shards[k - 1].first_tensor, e.first_tensor) >= 0)
      return bad_shard_set(where + ": first_tensor " + quoted_name(e.first_tensor) +
                           " does not sort after the previous shard's " + quoted_name(set.shards[k - 1].first_tensor));
  }
  return {};
}

Status check_own_shard(const ShardSetInfo& set, std::uint64_t tensor_count, std::string_view first_name,
                       std::string_view last_name, const Sha256Digest& weights_digest) {
  const ShardEntry& own = set.shards[set.index];
  const std::string where =
      "this file's entry (shards[" + std::to_string(set.index) + "] " + quoted_name(own.file_name) + ")";
  if (own.tensor_count != tensor_count)
    return bad_shard_set(where + " says " + std::to_string(own.tensor_count) + " tensors, the file holds " +
                         std::to_string(tensor_count));
  if (own.first_tensor != first_name)
    return bad_shard_set(where + " says its first tensor is " + quoted_name(own.first_tensor) + ", the file's is " +
                         quoted_name(first_name));
  if (own.weights_digest != weights_digest)
    return bad_shard_set(where + " says weights digest " + to_hex(own.weights_digest) + ", the file's is " +
                         to_hex(weights_digest));
  if (set.index + 1 < set.shards.size() && compare_bytes(last_name, set.shards[set.index + 1].first_tensor) >= 0)
    return bad_shard_set("the file's last tensor " + quoted_name(last_name) +
                         " does not sort before the next shard's first " +
                         quoted_name(set.shards[set.index + 1].first_tensor));
  return {};
}

}  // namespace owf::internal
