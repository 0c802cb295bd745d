// Encoding numbers into the floating-point dtypes (owf/elements.hpp):
// round to nearest, ties to even, straight from the binary64 value, so a
// double is rounded once (never through binary32 first).
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "owf/elements.hpp"

namespace owf {
namespace {

// A binary floating-point format narrower than binary64 with the IEEE
// layout: sign, exponent (bias 2^(exp_bits-1) - 1), mantissa. `has_inf`:
// IEEE specials in the top exponent; otherwise (E4M3FN) the top exponent
// holds finite values and only S.1..1.1..1 is NaN.
struct Narrow {
  int exp_bits;
  int man_bits;
  bool has_inf;
};

constexpr Narrow kF16{5, 10, true};
constexpr Narrow kBF16{8, 7, true};
constexpr Narrow kE4M3FN{4, 3, false};
constexpr Narrow kE5M2{5, 2, true};

std::uint32_t encode_narrow(double x, Narrow f, bool saturate) {
  const int m_bits = f.man_bits;
  const std::uint64_t xb = std::bit_cast<std::uint64_t>(x);
  const std::uint32_t sign = static_cast<std::uint32_t>(xb >> 63) << (f.exp_bits + m_bits);
  const std::uint64_t mag = xb & ~(std::uint64_t{1} << 63);
  const std::uint64_t exp_ones = (std::uint64_t{1} << f.exp_bits) - 1;
  const std::uint64_t man_ones = (std::uint64_t{1} << m_bits) - 1;
  const std::uint64_t max_finite =
      f.has_inf ? ((exp_ones - 1) << m_bits) | man_ones : (exp_ones << m_bits) | (man_ones - 1);
  const std::uint64_t inf = exp_ones << m_bits;
  const std::uint64_t fn_nan = (exp_ones << m_bits) | man_ones;
  constexpr std::uint64_t kDoubleInf = 0x7ff0000000000000ull;

  if (mag > kDoubleInf) {  // NaN: quiet, sign and highest payload bits kept
    if (!f.has_inf) return sign | static_cast<std::uint32_t>(fn_nan);
    const std::uint64_t payload = (mag >> (52 - m_bits)) & man_ones;
    return sign | static_cast<std::uint32_t>(inf | payload | (std::uint64_t{1} << (m_bits - 1)));
  }
  const std::uint64_t overflow = saturate ? max_finite : f.has_inf ? inf : fn_nan;
  if (mag == kDoubleInf) return sign | static_cast<std::uint32_t>(overflow);
  const int biased = static_cast<int>(mag >> 52);
  // Zero and binary64 subnormals (below 2^-1022) are far under half the
  // smallest subnormal of every target: they round to zero.
  if (biased == 0) return sign;

  const int bias = (1 << (f.exp_bits - 1)) - 1;
  const int e = biased - 1023;
  const int emin = 1 - bias;
  const int k = e > emin ? e : emin;  // exponent of the result's ulp scale
  const std::uint64_t significand = (std::uint64_t{1} << 52) | (mag & ((std::uint64_t{1} << 52) - 1));
  // q = significand * 2^(e - 52) / 2^(k - m_bits), rounded to nearest even.
  const int shift = 52 + k - m_bits - e;  // >= 52 - m_bits > 0
  std::uint64_t q = 0;
  if (shift < 64) {
    q = significand >> shift;
    const std::uint64_t rest = significand & ((std::uint64_t{1} << shift) - 1);
    const std::uint64_t half = std::uint64_t{1} << (shift - 1);
    if (rest > half || (rest == half && (q & 1) != 0)) ++q;
  }
  // For a normal result q carries the implicit bit; a carry out of the
  // mantissa moves into the exponent field, as it should. For a subnormal
  // result (k == emin) the exponent term is zero and q is the pattern.
  const std::uint64_t bits = (static_cast<std::uint64_t>(k + bias - 1) << m_bits) + q;
  if (bits > max_finite) return sign | static_cast<std::uint32_t>(overflow);
  return sign | static_cast<std::uint32_t>(bits);
}

float to_f32(double x, bool saturate) {
  const float f = static_cast<float>(x);  // round to nearest even; overflow to infinity
  if (saturate && std::isinf(f)) return std::copysign(std::numeric_limits<float>::max(), f);
  return f;
}

double to_f64(double x, bool saturate) {
  if (saturate && std::isinf(x)) return std::copysign(std::numeric_limits<double>::max(), x);
  return x;
}

// Encodes every value into patterns of type Word (one or two bytes).
template <class Word, class In>
void encode_all(std::span<const In> in, Narrow f, bool saturate, std::byte* out) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    const auto word = static_cast<Word>(encode_narrow(static_cast<double>(in[i]), f, saturate));
    std::memcpy(out + i * sizeof(Word), &word, sizeof(Word));
  }
}

template <class In>
Status encode(std::span<const In> in, DType dtype, std::span<std::byte> out, const EncodeOptions& options) {
  if (!can_encode(dtype))
    return Error(ErrorCode::kUnsupported, "cannot encode numbers as " + std::string(dtype_name(dtype)) +
                                              ": only F16, BF16, F32, F64, F8_E4M3FN and F8_E5M2 are encoded");
  const std::size_t width = dtype_info(dtype)->block_bytes;
  if (out.size() / width != in.size() || out.size() % width != 0)
    return Error(ErrorCode::kInvalidArgument,
                 std::to_string(in.size()) + " values of " + std::string(dtype_name(dtype)) + " need " +
                     std::to_string(in.size() * width) + " bytes, not " + std::to_string(out.size()));
  const bool sat = options.saturate;
  std::byte* o = out.data();
  switch (dtype) {
    case DType::kF16:
      encode_all<std::uint16_t>(in, kF16, sat, o);
      break;
    case DType::kBF16:
      encode_all<std::uint16_t>(in, kBF16, sat, o);
      break;
    case DType::kF8_E4M3FN:
      encode_all<std::uint8_t>(in, kE4M3FN, sat, o);
      break;
    case DType::kF8_E5M2:
      encode_all<std::uint8_t>(in, kE5M2, sat, o);
      break;
    case DType::kF32:
      for (std::size_t i = 0; i < in.size(); ++i) {
        const float f = to_f32(static_cast<double>(in[i]), sat);
        std::memcpy(o + 4 * i, &f, 4);
      }
      break;
    default:  // F64
      for (std::size_t i = 0; i < in.size(); ++i) {
        const double d = to_f64(static_cast<double>(in[i]), sat);
        std::memcpy(o + 8 * i, &d, 8);
      }
      break;
  }
  return {};
}

}  // namespace

bool can_encode(DType dtype) {
  switch (dtype) {
    case DType::kF16:
    case DType::kBF16:
    case DType::kF32:
    case DType::kF64:
    case DType::kF8_E4M3FN:
    case DType::kF8_E5M2:
      return true;
    default:
      return false;
  }
}

Status encode_elements(std::span<const float> in, DType dtype, std::span<std::byte> out, const EncodeOptions& options) {
  return encode(in, dtype, out, options);
}

Status encode_elements(std::span<const double> in, DType dtype, std::span<std::byte> out,
                       const EncodeOptions& options) {
  return encode(in, dtype, out, options);
}

}  // namespace owf
