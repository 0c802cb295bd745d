// The manifest's rules on single values (spec/format.md §4 and §8), in one
// place: the manifest decoder applies them when reading, the writer before
// writing, and every foreign-format reader to what it passes on, so that
// no component accepts what another refuses.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "owf/error.hpp"
#include "owf/reader.hpp"
#include "owf/shard_set.hpp"

namespace owf::internal {

/// Orders names by their UTF-8 bytes, as unsigned chars (format.md §4.2).
int compare_bytes(std::string_view a, std::string_view b);

/// R15, in the spec's order: non-empty (bad_tensor_name), at most
/// limits.max_name_bytes (limit_exceeded), no NUL byte (bad_tensor_name),
/// valid UTF-8 (bad_utf8). The message names the problem, not the tensor:
/// callers say where.
Status check_tensor_name(std::string_view name, const Limits& limits);

/// R8: a manifest of at most limits.max_manifest_bytes (limit_exceeded).
Status check_manifest_size(std::uint64_t bytes, const Limits& limits);

/// R14: at most limits.max_tensors tensors (limit_exceeded).
Status check_tensor_count(std::uint64_t count, const Limits& limits);

/// R24: at most limits.max_metadata_entries hyperparameters and metadata
/// entries together (limit_exceeded).
Status check_entry_count(std::uint64_t count, const Limits& limits);

/// R17: at most limits.max_rank dimensions (limit_exceeded).
Status check_rank(std::uint64_t rank, const Limits& limits);

/// R20: a role code of format.md §4.3 (unknown_role).
Status check_role(std::uint64_t code);

/// A feature a file may list in required_features (spec/versioning.md),
/// and the format minor version that introduced it.
struct Feature {
  std::string_view name;
  std::uint16_t since_minor;
};

/// Every feature this implementation reads (R12).
std::span<const Feature> known_features();
std::optional<Feature> find_feature(std::string_view name);

/// The minor version that introduced field `field_id` of the Manifest
/// table (0 for the fields of version 1.0). R35: a file of an older minor
/// version that the reader implements must not have the field.
std::uint16_t manifest_field_since(std::size_t field_id);

/// The minor version a writer writes (spec/versioning.md): the oldest one
/// that has every listed feature and every manifest field the file uses.
std::uint16_t minor_version_for(std::span<const std::string> features, bool has_signatures, bool has_shard_set = false);

/// R37 (spec/signatures.md): at most limits.max_signatures entries
/// (limit_exceeded); each with an algorithm and covers of 1 to 64 bytes of
/// printable ASCII, a key id of 64 lowercase hex digits and 1 to 1024
/// signature bytes (bad_signature). `index` is for messages.
Status check_signature_count(std::uint64_t count, const Limits& limits);
Status check_signature_fields(std::size_t index, std::string_view algorithm, std::string_view key_id,
                              std::string_view covers, std::size_t signature_bytes);

/// R38 (spec/shards.md §3), check 1: 1 to limits.max_shards entries
/// (limit_exceeded above, bad_shard_set at 0).
Status check_shard_count(std::uint64_t count, const Limits& limits);
/// R38 checks 2-3: the index and every entry (file names, tensor counts,
/// first tensors), in entry order (bad_shard_set; first tensors as R15).
Status check_shard_entries(const ShardSetInfo& set, const Limits& limits);
/// R38 checks 4-5: the file's own entry describes the file, whose tensors
/// (name order) have these first and last names and this weights digest.
Status check_own_shard(const ShardSetInfo& set, std::uint64_t tensor_count, std::string_view first_name,
                       std::string_view last_name, const Sha256Digest& weights_digest);
/// A plain file name of a shard (R38): nullopt, or what is wrong with it.
std::optional<std::string> shard_file_name_problem(std::string_view name);

/// The feature a file must list to hold tensors of `dtype` (dtypes added
/// after version 1.0; R16), or nullopt.
std::optional<Feature> feature_of(DType dtype);

/// R16's second condition: a dtype that needs a feature is used only by a
/// file that lists it. unknown_dtype naming the feature; callers say where.
Status check_dtype_feature(DType dtype, std::span<const std::string_view> listed);

}  // namespace owf::internal
