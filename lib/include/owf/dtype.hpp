// Element types. The numeric codes are stable and part of the file format
// (spec/format.md, "Dtypes"); they are never reused or renumbered.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "owf/error.hpp"

namespace owf {

enum class DType : std::uint16_t {
  kBool = 1,
  kU8 = 2,
  kI8 = 3,
  kU16 = 4,
  kI16 = 5,
  kU32 = 6,
  kI32 = 7,
  kU64 = 8,
  kI64 = 9,
  kF16 = 10,
  kBF16 = 11,
  kF32 = 12,
  kF64 = 13,
  kC64 = 14,   // complex: two F32, real part first
  kC128 = 15,  // complex: two F64, real part first
  kF8_E4M3FN = 16,
  kF8_E5M2 = 17,
  kF8_E8M0 = 18,
  kF4_E2M1 = 19,  // packed, two elements per byte, first element in the low nibble
  kF6_E2M3 = 20,  // packed, four elements per three bytes, LSB first
  kF6_E3M2 = 21,  // packed, four elements per three bytes, LSB first
  // GGUF / ggml block-quantized types: the innermost dimension is a multiple
  // of the block's element count; bytes = elements / block_elements * block_bytes.
  kQ4_0 = 100,
  kQ4_1 = 101,
  kQ5_0 = 102,
  kQ5_1 = 103,
  kQ8_0 = 104,
  kQ8_1 = 105,
  kQ2_K = 106,
  kQ3_K = 107,
  kQ4_K = 108,
  kQ5_K = 109,
  kQ6_K = 110,
  kQ8_K = 111,
  kIQ2_XXS = 112,
  kIQ2_XS = 113,
  kIQ3_XXS = 114,
  kIQ1_S = 115,
  kIQ4_NL = 116,
  kIQ3_S = 117,
  kIQ2_S = 118,
  kIQ4_XS = 119,
  kIQ1_M = 120,
  kTQ1_0 = 121,
  kTQ2_0 = 122,
  kMXFP4 = 123,
  kNVFP4 = 124,
  kQ1_0 = 125,
  kQ2_0 = 126,
};

enum class DTypeClass : std::uint8_t { kBool, kUnsigned, kSigned, kFloat, kComplex, kQuantized };

/// Storage geometry of a dtype. Elements are stored in blocks of
/// `block_elements` elements taking `block_bytes` bytes; plain types have
/// block_elements == 1, packed sub-byte types and quantized types more.
struct DTypeInfo {
  DType dtype;
  std::string_view name;  // "F32", "Q4_K": the spelling used by the spec and the tools
  DTypeClass kind;
  std::uint32_t block_elements;
  std::uint32_t block_bytes;
  /// True when the innermost dimension must be a multiple of block_elements
  /// (block-quantized types); false when a final partial block is allowed
  /// (packed sub-byte floats, rounded up to whole bytes).
  bool row_blocked;
};

/// nullopt for a code this version does not know.
OWF_API std::optional<DTypeInfo> dtype_info(DType dtype);
OWF_API std::optional<DType> dtype_from_code(std::uint32_t code);
OWF_API std::optional<DType> dtype_from_name(std::string_view name);
OWF_API std::string_view dtype_name(DType dtype);
/// Every dtype this library knows, in code order.
OWF_API std::span<const DTypeInfo> all_dtypes();

/// Element count of a shape: the exact product of its dimensions, 0 when
/// any dimension is 0 (whatever the others); error (shape_overflow) when it
/// exceeds 2^64-1.
OWF_API Result<std::uint64_t> element_count(std::span<const std::uint64_t> shape);

/// Bytes that a tensor of this dtype and shape occupies, row-major and
/// little-endian; errors name what is wrong, checked in the order of
/// spec/format.md: the element count, then the byte size overflowing 64 bits
/// (shape_overflow), then a block-quantized row that is not a whole number
/// of blocks (tensor_size_mismatch; a rank-0 tensor counts as a row of one).
OWF_API Result<std::uint64_t> tensor_byte_size(DType dtype, std::span<const std::uint64_t> shape);

}  // namespace owf
