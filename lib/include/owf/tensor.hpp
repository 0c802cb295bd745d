// What a tensor is, independently of the file format it came from.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "owf/dtype.hpp"
#include "owf/metadata.hpp"

namespace owf {

/// What a tensor is for. Stable codes (spec/format.md, "Roles").
enum class Role : std::uint8_t {
  kOther = 0,
  kWeight = 1,
  kBias = 2,
  kEmbedding = 3,
  kNormalization = 4,
  kBuffer = 5,  // running statistics, counters, masks, rotary tables
};

OWF_API std::string_view role_name(Role role);  // "weight", "bias", ...
OWF_API std::optional<Role> role_from_name(std::string_view name);
/// Guesses a role from a tensor name, as converters do: "*.bias" -> bias,
/// "*embed*"/"wte"/"token_embd" -> embedding, "*norm*"/"ln_*" -> normalization,
/// "running_mean"/"num_batches_tracked" -> buffer, "*.weight"/"kernel" -> weight.
OWF_API Role infer_role(std::string_view tensor_name);

/// How a tensor's bytes are stored. Stable codes (spec/format.md, "Codecs").
enum class Codec : std::uint8_t {
  kNone = 0,           // logical bytes as they are; zero-copy access
  kZstd = 1,           // independent zstd frames per chunk
  kZstdByteGroup = 2,  // byte planes split per chunk, then zstd
};
OWF_API std::string_view codec_name(Codec codec);

/// A tensor as described by its file. Views point into the open file
/// (or reader) and stay valid while it is open.
struct TensorInfo {
  std::string_view name;
  DType dtype = DType::kU8;
  std::span<const std::uint64_t> shape;
  Role role = Role::kOther;
  Codec codec = Codec::kNone;
  std::uint64_t offset = 0;         // file offset of the stored bytes
  std::uint64_t stored_bytes = 0;   // bytes occupied in the file
  std::uint64_t logical_bytes = 0;  // bytes once decoded: row-major, little-endian
  std::uint64_t element_count = 0;
  Sha256Digest sha256{};  // SHA-256 of the logical bytes
};

}  // namespace owf
