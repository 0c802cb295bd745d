// Element values computed independently of the library's decoders and
// encoders, from the formats' definitions, for tests that check what the
// library decodes, casts or converts.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace owf::test {

/// The value of an IEEE binary16 pattern.
inline float half_value(std::uint16_t h) {
  const int e = (h >> 10) & 31, m = h & 1023;
  float v = e == 0    ? std::ldexp(static_cast<float>(m), -24)
            : e == 31 ? (m == 0 ? INFINITY : NAN)
                      : std::ldexp(static_cast<float>(1024 + m), e - 25);
  return (h >> 15) != 0 ? -v : v;
}

/// ggml's Q8_0 dequantization of whole blocks (34 bytes: an F16 scale d,
/// then 32 int8 quants q): q * d, computed in binary32.
inline std::vector<float> dequantize_q8_0(std::span<const std::byte> raw) {
  std::vector<float> out;
  for (std::size_t b = 0; b + 34 <= raw.size(); b += 34) {
    const auto h =
        static_cast<std::uint16_t>(std::to_integer<unsigned>(raw[b]) | std::to_integer<unsigned>(raw[b + 1]) << 8);
    for (std::size_t j = 0; j < 32; ++j)
      out.push_back(static_cast<float>(static_cast<std::int8_t>(std::to_integer<std::uint8_t>(raw[b + 2 + j]))) *
                    half_value(h));
  }
  return out;
}

/// The BF16 pattern nearest to a binary32 value (ties to even), NaN kept
/// quiet: the upper 16 bits, rounded.
inline std::uint16_t bf16_nearest(float f) {
  const auto bits = std::bit_cast<std::uint32_t>(f);
  if (std::isnan(f)) return static_cast<std::uint16_t>((bits >> 16) | 0x40);
  return static_cast<std::uint16_t>((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
}

}  // namespace owf::test
