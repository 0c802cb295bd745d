#include "formats/gguf/gguf_format.hpp"

namespace owf::internal::gguf {

namespace {

constexpr std::array<std::string_view, kValueTypeCount> kValueTypeNames = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};

constexpr std::array<GgmlType, 35> kGgmlTypes = {{
    {0, DType::kF32},     {1, DType::kF16},      {2, DType::kQ4_0},   {3, DType::kQ4_1},    {6, DType::kQ5_0},
    {7, DType::kQ5_1},    {8, DType::kQ8_0},     {9, DType::kQ8_1},   {10, DType::kQ2_K},   {11, DType::kQ3_K},
    {12, DType::kQ4_K},   {13, DType::kQ5_K},    {14, DType::kQ6_K},  {15, DType::kQ8_K},   {16, DType::kIQ2_XXS},
    {17, DType::kIQ2_XS}, {18, DType::kIQ3_XXS}, {19, DType::kIQ1_S}, {20, DType::kIQ4_NL}, {21, DType::kIQ3_S},
    {22, DType::kIQ2_S},  {23, DType::kIQ4_XS},  {24, DType::kI8},    {25, DType::kI16},    {26, DType::kI32},
    {27, DType::kI64},    {28, DType::kF64},     {29, DType::kIQ1_M}, {30, DType::kBF16},   {34, DType::kTQ1_0},
    {35, DType::kTQ2_0},  {39, DType::kMXFP4},   {40, DType::kNVFP4}, {41, DType::kQ1_0},   {42, DType::kQ2_0},
}};

}  // namespace

std::string_view value_type_name(std::uint32_t type) { return kValueTypeNames[type]; }

std::optional<std::uint32_t> value_type_from_name(std::string_view name) {
  for (std::uint32_t t = 0; t < kValueTypeCount; ++t)
    if (kValueTypeNames[t] == name) return t;
  return std::nullopt;
}

std::size_t scalar_size(std::uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

std::span<const GgmlType> ggml_types() { return kGgmlTypes; }

std::optional<DType> dtype_from_ggml(std::uint32_t id) {
  for (const auto& t : kGgmlTypes)
    if (t.id == id) return t.dtype;
  return std::nullopt;
}

std::optional<std::uint32_t> ggml_from_dtype(DType dtype) {
  for (const auto& t : kGgmlTypes)
    if (t.dtype == dtype) return t.id;
  return std::nullopt;
}

}  // namespace owf::internal::gguf
