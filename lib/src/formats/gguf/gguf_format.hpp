// GGUF (llama.cpp / ggml) file-format constants shared by the reader and the
// writer: value types, the ggml tensor type ids OWF knows, and ggml's own
// limits (spec/interchange.md, "GGUF").
//
// Layout (all little-endian): "GGUF", u32 version, u64 tensor_count,
// u64 kv_count, kv_count key/value pairs, tensor_count tensor infos, zero
// padding to the alignment, then the data section. Tensor offsets are
// relative to the data section.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "owf/dtype.hpp"

namespace owf::internal::gguf {

inline constexpr std::string_view kMagic = "GGUF";
inline constexpr std::uint32_t kWriteVersion = 3;
inline constexpr std::uint64_t kDefaultAlignment = 32;
inline constexpr std::uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
inline constexpr int kMaxArrayDepth = 8;      // nested arrays: the outermost array is depth 1

// ggml's own reader (ggml/src/gguf.cpp) refuses what lies beyond these; OWF
// reads such files and reports them as compatibility notes.
inline constexpr std::size_t kGgmlMaxName = 64;  // GGML_MAX_NAME, including the terminating NUL
inline constexpr std::uint64_t kGgmlMaxAlignment = 1ull << 20;
inline constexpr std::uint64_t kGgmlMaxStringBytes = 64ull << 20;    // GGUF_MAX_STRING_LENGTH
inline constexpr std::uint64_t kGgmlMaxArrayElements = 64ull << 20;  // GGUF_MAX_ARRAY_ELEMENTS

enum ValueType : std::uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
inline constexpr std::uint32_t kValueTypeCount = 13;

/// "u8", "i8", ..., "arr", "f64" (ggml's names). Precondition: type < kValueTypeCount.
std::string_view value_type_name(std::uint32_t type);
std::optional<std::uint32_t> value_type_from_name(std::string_view name);
/// Bytes of a scalar of that type; 0 for strings, arrays and unknown types.
std::size_t scalar_size(std::uint32_t type);

/// A ggml_type id (ggml.h) and the OWF dtype it is.
struct GgmlType {
  std::uint32_t id;
  DType dtype;
};
/// Every ggml type OWF reads and writes. Ids 4, 5, 31-33 and 36-38 were
/// removed from ggml.
std::span<const GgmlType> ggml_types();
std::optional<DType> dtype_from_ggml(std::uint32_t id);
std::optional<std::uint32_t> ggml_from_dtype(DType dtype);

}  // namespace owf::internal::gguf
