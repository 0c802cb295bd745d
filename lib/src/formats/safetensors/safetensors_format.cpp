#include "formats/safetensors/safetensors_format.hpp"

#include <array>

namespace owf::internal::safetensors {

namespace {

constexpr std::array<Dtype, 20> kDtypes = {{
    {"BOOL", DType::kBool, 0, 8},
    {"F4", DType::kF4_E2M1, 1, 4},
    {"F6_E2M3", DType::kF6_E2M3, 2, 6},
    {"F6_E3M2", DType::kF6_E3M2, 3, 6},
    {"U8", DType::kU8, 4, 8},
    {"I8", DType::kI8, 5, 8},
    {"F8_E5M2", DType::kF8_E5M2, 6, 8},
    {"F8_E4M3", DType::kF8_E4M3FN, 7, 8},
    {"F8_E8M0", DType::kF8_E8M0, 8, 8},
    // 9, 10: F8_E4M3FNUZ, F8_E5M2FNUZ (no OWF dtype)
    {"I16", DType::kI16, 11, 16},
    {"U16", DType::kU16, 12, 16},
    {"F16", DType::kF16, 13, 16},
    {"BF16", DType::kBF16, 14, 16},
    {"I32", DType::kI32, 15, 32},
    {"U32", DType::kU32, 16, 32},
    {"F32", DType::kF32, 17, 32},
    {"C64", DType::kC64, 18, 64},
    {"F64", DType::kF64, 19, 64},
    {"I64", DType::kI64, 20, 64},
    {"U64", DType::kU64, 21, 64},
}};

}  // namespace

const Dtype* dtype_by_name(std::string_view name) {
  for (const auto& d : kDtypes)
    if (d.name == name) return &d;
  return nullptr;
}

const Dtype* dtype_of(DType dtype) {
  for (const auto& d : kDtypes)
    if (d.dtype == dtype) return &d;
  return nullptr;
}

bool fills_whole_bytes(const Dtype& dtype, std::uint64_t element_count) {
  if (dtype.bits >= 8) return true;
  return element_count % (dtype.bits == 4 ? 2 : 4) == 0;
}

}  // namespace owf::internal::safetensors
