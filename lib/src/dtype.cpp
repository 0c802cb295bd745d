#include "owf/dtype.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace owf {
namespace {

using C = DTypeClass;
using D = DType;
__extension__ typedef unsigned __int128 uint128;

// Block geometry of the ggml quantized types follows ggml's block structs
// (ggml-common.h): e.g. block_q4_0 is an F16 scale plus 16 bytes of nibbles.
constexpr std::array kDtypes = {
    DTypeInfo{D::kBool, "BOOL", C::kBool, 1, 1, false},
    DTypeInfo{D::kU8, "U8", C::kUnsigned, 1, 1, false},
    DTypeInfo{D::kI8, "I8", C::kSigned, 1, 1, false},
    DTypeInfo{D::kU16, "U16", C::kUnsigned, 1, 2, false},
    DTypeInfo{D::kI16, "I16", C::kSigned, 1, 2, false},
    DTypeInfo{D::kU32, "U32", C::kUnsigned, 1, 4, false},
    DTypeInfo{D::kI32, "I32", C::kSigned, 1, 4, false},
    DTypeInfo{D::kU64, "U64", C::kUnsigned, 1, 8, false},
    DTypeInfo{D::kI64, "I64", C::kSigned, 1, 8, false},
    DTypeInfo{D::kF16, "F16", C::kFloat, 1, 2, false},
    DTypeInfo{D::kBF16, "BF16", C::kFloat, 1, 2, false},
    DTypeInfo{D::kF32, "F32", C::kFloat, 1, 4, false},
    DTypeInfo{D::kF64, "F64", C::kFloat, 1, 8, false},
    DTypeInfo{D::kC64, "C64", C::kComplex, 1, 8, false},
    DTypeInfo{D::kC128, "C128", C::kComplex, 1, 16, false},
    DTypeInfo{D::kF8_E4M3FN, "F8_E4M3FN", C::kFloat, 1, 1, false},
    DTypeInfo{D::kF8_E5M2, "F8_E5M2", C::kFloat, 1, 1, false},
    DTypeInfo{D::kF8_E8M0, "F8_E8M0", C::kFloat, 1, 1, false},
    DTypeInfo{D::kF4_E2M1, "F4_E2M1", C::kFloat, 2, 1, false},
    DTypeInfo{D::kF6_E2M3, "F6_E2M3", C::kFloat, 4, 3, false},
    DTypeInfo{D::kF6_E3M2, "F6_E3M2", C::kFloat, 4, 3, false},
    DTypeInfo{D::kQ4_0, "Q4_0", C::kQuantized, 32, 18, true},
    DTypeInfo{D::kQ4_1, "Q4_1", C::kQuantized, 32, 20, true},
    DTypeInfo{D::kQ5_0, "Q5_0", C::kQuantized, 32, 22, true},
    DTypeInfo{D::kQ5_1, "Q5_1", C::kQuantized, 32, 24, true},
    DTypeInfo{D::kQ8_0, "Q8_0", C::kQuantized, 32, 34, true},
    DTypeInfo{D::kQ8_1, "Q8_1", C::kQuantized, 32, 36, true},
    DTypeInfo{D::kQ2_K, "Q2_K", C::kQuantized, 256, 84, true},
    DTypeInfo{D::kQ3_K, "Q3_K", C::kQuantized, 256, 110, true},
    DTypeInfo{D::kQ4_K, "Q4_K", C::kQuantized, 256, 144, true},
    DTypeInfo{D::kQ5_K, "Q5_K", C::kQuantized, 256, 176, true},
    DTypeInfo{D::kQ6_K, "Q6_K", C::kQuantized, 256, 210, true},
    DTypeInfo{D::kQ8_K, "Q8_K", C::kQuantized, 256, 292, true},
    DTypeInfo{D::kIQ2_XXS, "IQ2_XXS", C::kQuantized, 256, 66, true},
    DTypeInfo{D::kIQ2_XS, "IQ2_XS", C::kQuantized, 256, 74, true},
    DTypeInfo{D::kIQ3_XXS, "IQ3_XXS", C::kQuantized, 256, 98, true},
    DTypeInfo{D::kIQ1_S, "IQ1_S", C::kQuantized, 256, 50, true},
    DTypeInfo{D::kIQ4_NL, "IQ4_NL", C::kQuantized, 32, 18, true},
    DTypeInfo{D::kIQ3_S, "IQ3_S", C::kQuantized, 256, 110, true},
    DTypeInfo{D::kIQ2_S, "IQ2_S", C::kQuantized, 256, 82, true},
    DTypeInfo{D::kIQ4_XS, "IQ4_XS", C::kQuantized, 256, 136, true},
    DTypeInfo{D::kIQ1_M, "IQ1_M", C::kQuantized, 256, 56, true},
    DTypeInfo{D::kTQ1_0, "TQ1_0", C::kQuantized, 256, 54, true},
    DTypeInfo{D::kTQ2_0, "TQ2_0", C::kQuantized, 256, 66, true},
    DTypeInfo{D::kMXFP4, "MXFP4", C::kQuantized, 32, 17, true},
    DTypeInfo{D::kNVFP4, "NVFP4", C::kQuantized, 64, 36, true},
    DTypeInfo{D::kQ1_0, "Q1_0", C::kQuantized, 128, 18, true},
    DTypeInfo{D::kQ2_0, "Q2_0", C::kQuantized, 64, 18, true},
};

}  // namespace

std::span<const DTypeInfo> all_dtypes() { return kDtypes; }

std::optional<DTypeInfo> dtype_info(DType dtype) {
  for (const auto& info : kDtypes)
    if (info.dtype == dtype) return info;
  return std::nullopt;
}

std::optional<DType> dtype_from_code(std::uint32_t code) {
  for (const auto& info : kDtypes)
    if (static_cast<std::uint32_t>(info.dtype) == code) return info.dtype;
  return std::nullopt;
}

std::optional<DType> dtype_from_name(std::string_view name) {
  std::string upper(name);
  std::transform(upper.begin(), upper.end(), upper.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  for (const auto& info : kDtypes)
    if (info.name == upper) return info.dtype;
  return std::nullopt;
}

std::string_view dtype_name(DType dtype) {
  auto info = dtype_info(dtype);
  return info ? info->name : std::string_view("UNKNOWN");
}

Result<std::uint64_t> element_count(std::span<const std::uint64_t> shape) {
  // The exact product of the dimensions (spec/format.md, R18): a zero
  // dimension makes it 0 whatever the others are, even when a running
  // product of the dimensions before it would overflow.
  if (std::find(shape.begin(), shape.end(), std::uint64_t{0}) != shape.end()) return std::uint64_t{0};
  std::uint64_t count = 1;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (__builtin_mul_overflow(count, shape[i], &count))
      return Error(ErrorCode::kShapeOverflow, "element count overflows 64 bits at dimension " + std::to_string(i));
  }
  return count;
}

Result<std::uint64_t> tensor_byte_size(DType dtype, std::span<const std::uint64_t> shape) {
  auto info = dtype_info(dtype);
  if (!info)
    return Error(ErrorCode::kUnknownDtype, "unknown dtype code " + std::to_string(static_cast<unsigned>(dtype)));
  // R18 (element count, then logical size) before R19 (whole blocks per row).
  OWF_ASSIGN_OR_RETURN(std::uint64_t count, element_count(shape));
  const std::uint64_t per_block = info->block_elements;
  // ceil(count x block_bytes / block_elements): packed sub-byte types round
  // the final partial byte up. 128-bit arithmetic makes the overflow check exact.
  const uint128 numerator = static_cast<uint128>(count) * info->block_bytes;
  const uint128 bytes = (numerator + per_block - 1) / per_block;
  if (bytes > UINT64_MAX) return Error(ErrorCode::kShapeOverflow, "byte size overflows 64 bits");
  // Block-quantized rows are whole blocks, whatever the other dimensions
  // (a zero one included); a rank-0 tensor counts as a row of one element.
  if (info->row_blocked) {
    const std::uint64_t row = shape.empty() ? 1 : shape.back();
    if (row % per_block != 0)
      return Error(ErrorCode::kTensorSizeMismatch,
                   std::string(info->name) + " needs the innermost dimension to be a multiple of " +
                       std::to_string(per_block) + ", got " + std::to_string(row) + (shape.empty() ? " (rank 0)" : ""));
  }
  return static_cast<std::uint64_t>(bytes);
}

}  // namespace owf
