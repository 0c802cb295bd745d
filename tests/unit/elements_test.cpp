// Element values (owf/elements.hpp): decoding every dtype, encoding the
// floating-point ones, and reading tensors as numbers from files and sources.
//
// Expected values are derived here, independently of the decoders: float
// formats from their definitions with ldexp (every F16 and BF16 pattern,
// every pattern of the 8-bit and smaller formats); block types by packing
// chosen scales and quants into bytes following ggml's struct layouts (the
// inverse direction of the decoder) and computing each value by its formula;
// rounding by a brute-force search for the nearest representable value.
#include "owf/elements.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "fake_source.hpp"
#include "owf/owf.h"
#include "reference_values.hpp"
#include "test_util.hpp"

using namespace owf;
using owf::test::TempDir;

namespace {

const std::filesystem::path kCorpus = OWF_CORPUS_DIR;

template <class T>
std::uint64_t bits_of(T v) {
  if constexpr (sizeof(T) == 4)
    return std::bit_cast<std::uint32_t>(v);
  else
    return std::bit_cast<std::uint64_t>(v);
}

// Same value and sign (any NaN matches any NaN).
template <class T>
bool same(T a, T b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return bits_of(a) == bits_of(b);
}

template <class T>
std::vector<T> decode(DType dtype, const std::vector<std::uint8_t>& bytes, std::size_t count) {
  std::vector<T> out(count);
  const Status s = decode_elements(dtype, std::as_bytes(std::span(bytes)), std::span(out));
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  return out;
}

// Decodes with both outputs and checks them against `expected` (floats;
// the double output must be the same value).
void check_decodes(DType dtype, const std::vector<std::uint8_t>& bytes, const std::vector<float>& expected) {
  const auto f = decode<float>(dtype, bytes, expected.size());
  const auto d = decode<double>(dtype, bytes, expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    INFO(dtype_name(dtype), " element ", i);
    CHECK_MESSAGE(same(f[i], expected[i]), f[i], " != expected ", expected[i]);
    CHECK_MESSAGE(same(d[i], static_cast<double>(expected[i])), d[i], " != expected ", expected[i]);
  }
}

// A sign/exponent/mantissa pattern by its definition: exponent field 0 is
// subnormal (m * 2^(1 - bias - M)), others (2^M + m) * 2^(e - bias - M).
double by_definition(unsigned e, unsigned m, int man_bits, int bias, bool negative) {
  const double v = e == 0
                       ? std::ldexp(static_cast<double>(m), 1 - bias - man_bits)
                       : std::ldexp(static_cast<double>((1u << man_bits) + m), static_cast<int>(e) - bias - man_bits);
  return negative ? -v : v;
}

}  // namespace

// ---------------------------------------------------------------------------
// Floating-point formats

namespace {

// Decodes all 65,536 patterns of a 16-bit format with the IEEE layout
// (sign, exponent, mantissa) and checks each against its definition:
// NaNs keep their payload in the top mantissa bits of the binary32.
void check_every_16_bit_pattern(DType dtype, int man_bits, int bias) {
  std::vector<std::uint8_t> bytes(2 * 65536);
  for (unsigned h = 0; h < 65536; ++h) {
    bytes[2 * h] = static_cast<std::uint8_t>(h & 0xFF);
    bytes[2 * h + 1] = static_cast<std::uint8_t>(h >> 8);
  }
  const auto f = decode<float>(dtype, bytes, 65536);
  const auto d = decode<double>(dtype, bytes, 65536);
  const unsigned exp_max = (1u << (15 - man_bits)) - 1, man_mask = (1u << man_bits) - 1;
  int mismatches = 0;
  for (unsigned h = 0; h < 65536; ++h) {
    const bool negative = (h >> 15) != 0;
    const unsigned e = (h >> man_bits) & exp_max, m = h & man_mask;
    if (e == exp_max && m == 0) {
      mismatches += !(std::isinf(f[h]) && std::signbit(f[h]) == negative && std::isinf(d[h]));
    } else if (e == exp_max) {
      const std::uint32_t want = (negative ? 0x80000000u : 0u) | 0x7f800000u | (m << (23 - man_bits));
      mismatches += !(std::bit_cast<std::uint32_t>(f[h]) == want && std::isnan(d[h]));
    } else {
      const double want = by_definition(e, m, man_bits, bias, negative);
      mismatches += !(same(static_cast<double>(f[h]), want) && same(d[h], want));
    }
  }
  CHECK(mismatches == 0);
}

}  // namespace

TEST_CASE("elements: every F16 pattern decodes to its IEEE binary16 value") {
  check_every_16_bit_pattern(DType::kF16, 10, 15);
  // Landmarks, written out.
  const auto f =
      decode<float>(DType::kF16, {0x00, 0x3C, 0xFF, 0x7B, 0x01, 0x00, 0x00, 0x04, 0x00, 0xC0, 0x00, 0x80}, 6);
  CHECK(f[0] == 1.0f);
  CHECK(f[1] == 65504.0f);
  CHECK(f[2] == std::ldexp(1.0f, -24));
  CHECK(f[3] == std::ldexp(1.0f, -14));
  CHECK(f[4] == -2.0f);
  CHECK((std::signbit(f[5]) && f[5] == 0.0f));
}

TEST_CASE("elements: every BF16 pattern decodes to the binary32 with those upper 16 bits") {
  check_every_16_bit_pattern(DType::kBF16, 7, 127);
  const auto f = decode<float>(DType::kBF16, {0x80, 0x3F, 0x7F, 0x7F, 0x01, 0x00}, 3);
  CHECK(f[0] == 1.0f);
  CHECK(f[1] == std::ldexp(255.0f, 120));  // (2 - 2^-7) * 2^127
  CHECK(f[2] == std::ldexp(1.0f, -133));
}

TEST_CASE("elements: every 8-bit float pattern (E4M3FN, E5M2, E8M0)") {
  std::vector<std::uint8_t> bytes(256);
  for (unsigned b = 0; b < 256; ++b) bytes[b] = static_cast<std::uint8_t>(b);

  SUBCASE("F8_E4M3FN: bias 7, no infinity, only S.1111.111 is NaN") {
    std::vector<float> expected(256);
    for (unsigned b = 0; b < 256; ++b) {
      const unsigned e = (b >> 3) & 15, m = b & 7;
      expected[b] = (b & 0x7F) == 0x7F ? std::numeric_limits<float>::quiet_NaN()
                                       : static_cast<float>(by_definition(e, m, 3, 7, (b & 0x80) != 0));
    }
    check_decodes(DType::kF8_E4M3FN, bytes, expected);
    const auto f = decode<float>(DType::kF8_E4M3FN, bytes, 256);
    CHECK(f[0x7E] == 448.0f);
    CHECK(f[0xFE] == -448.0f);
    CHECK(f[0x78] == 256.0f);  // exponent 15 is finite
    CHECK(f[0x01] == std::ldexp(1.0f, -9));
    CHECK(f[0x08] == std::ldexp(1.0f, -6));
  }
  SUBCASE("F8_E5M2: bias 15, IEEE infinities and NaNs") {
    std::vector<float> expected(256);
    for (unsigned b = 0; b < 256; ++b) {
      const unsigned e = (b >> 2) & 31, m = b & 3;
      const bool negative = (b & 0x80) != 0;
      if (e == 31)
        expected[b] = m == 0 ? (negative ? -INFINITY : INFINITY) : std::numeric_limits<float>::quiet_NaN();
      else
        expected[b] = static_cast<float>(by_definition(e, m, 2, 15, negative));
    }
    check_decodes(DType::kF8_E5M2, bytes, expected);
    const auto f = decode<float>(DType::kF8_E5M2, bytes, 256);
    CHECK(f[0x7B] == 57344.0f);
    CHECK(f[0x01] == std::ldexp(1.0f, -16));
  }
  SUBCASE("F8_E8M0: 2^(b - 127), 0xFF is NaN") {
    std::vector<float> expected(256);
    for (unsigned b = 0; b < 256; ++b)
      expected[b] = b == 255 ? std::numeric_limits<float>::quiet_NaN() : std::ldexp(1.0f, static_cast<int>(b) - 127);
    check_decodes(DType::kF8_E8M0, bytes, expected);
    const auto f = decode<float>(DType::kF8_E8M0, bytes, 256);
    CHECK(f[127] == 1.0f);
    CHECK(f[0] == std::ldexp(1.0f, -127));
    CHECK(f[254] == std::ldexp(1.0f, 127));
  }
}

TEST_CASE("elements: F4_E2M1, every code and the nibble order") {
  // Codes 0..15 in order: byte k holds code 2k in its low nibble.
  std::vector<std::uint8_t> bytes(8);
  for (unsigned k = 0; k < 8; ++k) bytes[k] = static_cast<std::uint8_t>((2 * k) | ((2 * k + 1) << 4));
  const std::vector<float> expected = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                       -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};
  check_decodes(DType::kF4_E2M1, bytes, expected);
  // By definition too: bias 1, one mantissa bit.
  for (unsigned c = 0; c < 16; ++c)
    CHECK(same(static_cast<double>(expected[c]), by_definition((c >> 1) & 3, c & 1, 1, 1, (c & 8) != 0)));
  // An odd count: the last byte holds one element in its low nibble.
  check_decodes(DType::kF4_E2M1, {0x72, 0x0F}, {1.0f, 6.0f, -6.0f});
}

TEST_CASE("elements: F6_E2M3 and F6_E3M2, every code and the bit stream") {
  // Codes 0..63 as a little-endian bit stream of 6-bit fields: 48 bytes.
  std::vector<std::uint8_t> stream(48, 0);
  for (unsigned c = 0; c < 64; ++c)
    for (unsigned bit = 0; bit < 6; ++bit)
      if ((c >> bit) & 1u) stream[(6 * c + bit) / 8] |= static_cast<std::uint8_t>(1u << ((6 * c + bit) % 8));
  std::vector<float> e2m3(64), e3m2(64);
  for (unsigned c = 0; c < 64; ++c) {
    e2m3[c] = static_cast<float>(by_definition((c >> 3) & 3, c & 7, 3, 1, (c & 32) != 0));
    e3m2[c] = static_cast<float>(by_definition((c >> 2) & 7, c & 3, 2, 3, (c & 32) != 0));
  }
  check_decodes(DType::kF6_E2M3, stream, e2m3);
  check_decodes(DType::kF6_E3M2, stream, e3m2);
  CHECK(e2m3[31] == 7.5f);
  CHECK(e2m3[1] == 0.125f);
  CHECK(e3m2[31] == 28.0f);
  CHECK(e3m2[1] == 0.0625f);
  // Five elements (a partial second block) take ceil(30 / 8) = 4 bytes.
  const std::vector<std::uint8_t> five(stream.begin(), stream.begin() + 4);
  check_decodes(DType::kF6_E2M3, five, {e2m3[0], e2m3[1], e2m3[2], e2m3[3], e2m3[4]});
}

TEST_CASE("elements: integers and BOOL") {
  auto le = [](auto v) {
    std::vector<std::uint8_t> b(sizeof v);
    std::memcpy(b.data(), &v, sizeof v);
    return b;
  };
  auto cat = [](std::vector<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> out;
    for (auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  check_decodes(DType::kBool, {0, 1, 2, 255}, {0.0f, 1.0f, 1.0f, 1.0f});
  check_decodes(DType::kU8, {0, 7, 255}, {0.0f, 7.0f, 255.0f});
  check_decodes(DType::kI8, {0x80, 0xFF, 0x7F}, {-128.0f, -1.0f, 127.0f});
  check_decodes(DType::kU16, cat({le(std::uint16_t{65535}), le(std::uint16_t{1})}), {65535.0f, 1.0f});
  check_decodes(DType::kI16, cat({le(std::int16_t{-32768}), le(std::int16_t{300})}), {-32768.0f, 300.0f});
  check_decodes(DType::kU32, le(std::uint32_t{16777216u}), {16777216.0f});
  check_decodes(DType::kI32, le(std::int32_t{-2147483647 - 1}), {-2147483648.0f});
  // Values a float cannot hold round to nearest even in the float output and
  // stay exact in the double output.
  const auto i32 = le(std::int32_t{16777217});
  CHECK(decode<float>(DType::kI32, i32, 1)[0] == 16777216.0f);
  CHECK(decode<double>(DType::kI32, i32, 1)[0] == 16777217.0);
  const auto u32 = le(std::uint32_t{4294967295u});
  CHECK(decode<float>(DType::kU32, u32, 1)[0] == 4294967296.0f);
  CHECK(decode<double>(DType::kU32, u32, 1)[0] == 4294967295.0);
  // 64-bit integers round once, to the output type (no double rounding
  // through double on the way to float).
  const std::int64_t tricky = (std::int64_t{1} << 53) + 1;
  const auto i64 = cat({le(std::int64_t{INT64_MIN}), le(tricky), le(std::int64_t{-3})});
  const auto f = decode<float>(DType::kI64, i64, 3);
  const auto d = decode<double>(DType::kI64, i64, 3);
  CHECK(f[0] == -9223372036854775808.0f);
  CHECK(d[0] == -9223372036854775808.0);
  CHECK(d[1] == 9007199254740992.0);  // 2^53 + 1 -> 2^53 (ties to even)
  CHECK(f[1] == 9007199254740992.0f);
  CHECK(f[2] == -3.0f);
  // 0x8000008000000001 is just above the midpoint between two floats: a
  // rounding through double would land on the midpoint and then on the even float.
  const std::uint64_t above_tie = 0x8000008000000001ull;
  const auto u = decode<float>(DType::kU64, le(above_tie), 1);
  CHECK(u[0] == std::ldexp(static_cast<float>(0x800001), 40));
  const auto umax = decode<double>(DType::kU64, le(UINT64_MAX), 1);
  CHECK(umax[0] == 18446744073709551616.0);
  check_decodes(DType::kF32, le(1.5f), {1.5f});
  const auto f64 = decode<double>(DType::kF64, le(0.1), 1);
  CHECK(f64[0] == 0.1);
  const auto f64f = decode<float>(DType::kF64, le(0.1), 1);
  CHECK(f64f[0] == 0.1f);
}

// ---------------------------------------------------------------------------
// ggml block types: blocks packed here from chosen scales and quants

namespace {

using Bytes = std::vector<std::uint8_t>;

struct Rng {
  std::mt19937 g{12345};
  unsigned below(unsigned n) { return static_cast<unsigned>(g() % n); }
  // A binary16 scale: normal, of either sign, exponent field 5..20, or now
  // and then a subnormal.
  std::uint16_t half() {
    const unsigned sign = below(2) << 15;
    if (below(8) == 0) return static_cast<std::uint16_t>(sign | (1 + below(1023)));
    return static_cast<std::uint16_t>(sign | ((5 + below(16)) << 10) | below(1024));
  }
};

float half_value(std::uint16_t h) {
  return static_cast<float>(by_definition((h >> 10) & 31, h & 1023, 10, 15, (h >> 15) != 0));
}

void put16(Bytes& b, std::size_t at, std::uint16_t v) {
  b[at] = static_cast<std::uint8_t>(v & 0xFF);
  b[at + 1] = static_cast<std::uint8_t>(v >> 8);
}

void put_bits(Bytes& b, std::size_t byte, unsigned bit, unsigned value) {
  if (value != 0) b[byte + bit / 8] |= static_cast<std::uint8_t>(1u << (bit % 8));
}

// E2M1 by definition (bias 1, one mantissa bit).
float e2m1(unsigned code) {
  return static_cast<float>(by_definition((code >> 1) & 3, code & 1, 1, 1, (code & 8) != 0));
}

// The E2M1 code as ggml's MXFP4 and NVFP4 read it: ggml's table holds
// integers (the values doubled), so code 8, -0, reads as +0.
float ggml_e2m1(unsigned code) { return code == 8 ? 0.0f : e2m1(code); }

// ggml's IQ4_NL levels (kvalues_iq4nl in ggml-common.h).
constexpr int kIq4[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// One block of each type: appends its bytes and its expected values.
using MakeBlock = void (*)(Rng&, Bytes&, std::vector<float>&);

// Q4_0 / IQ4_NL layout: d, then qs[j] = q[j] | q[j + 16] << 4.
void pack_nibbles32(Bytes& b, std::size_t at, const unsigned* q) {
  for (int j = 0; j < 16; ++j) b[at + j] = static_cast<std::uint8_t>(q[j] | (q[j + 16] << 4));
}

// Q4_0, Q4_1, Q5_0, Q5_1: d (and m for the _1 types), the fifth bits of
// Q5 (element j in bit j of a 32-bit word), then the low nibbles.
template <int kBits, bool kMin>
void make_q4_5(Rng& r, Bytes& out, std::vector<float>& want) {
  const std::size_t qh_at = kMin ? 4 : 2, qs_at = qh_at + (kBits == 5 ? 4 : 0);
  Bytes b(qs_at + 16, 0);
  const std::uint16_t d = r.half(), m = r.half();
  put16(b, 0, d);
  if (kMin) put16(b, 2, m);
  unsigned q[32], low[32];
  for (unsigned j = 0; j < 32; ++j) {
    q[j] = r.below(1u << kBits);
    low[j] = q[j] & 15;
    if (kBits == 5) put_bits(b, qh_at, j, q[j] >> 4);
  }
  pack_nibbles32(b, qs_at, low);
  for (unsigned v : q) {
    if (kMin) {
      const float product = static_cast<float>(v) * half_value(d);  // rounded to binary32, then the sum
      want.push_back(product + half_value(m));
    } else {
      want.push_back(static_cast<float>(static_cast<int>(v) - (1 << (kBits - 1))) * half_value(d));
    }
  }
  out.insert(out.end(), b.begin(), b.end());
}

// Q8_0 (d, 32 quants) and Q8_1 (d, s, 32 quants; s is not used).
template <std::size_t kBlockBytes>
void make_q8(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(kBlockBytes, 0);
  const std::uint16_t d = r.half();
  put16(b, 0, d);
  if (kBlockBytes == 36) put16(b, 2, r.half());
  for (std::size_t j = 0; j < 32; ++j) {
    const int q = static_cast<int>(r.below(256)) - 128;
    b[kBlockBytes - 32 + j] = static_cast<std::uint8_t>(q);
    want.push_back(static_cast<float>(q) * half_value(d));
  }
  out.insert(out.end(), b.begin(), b.end());
}

// Q2_K / Q3_K 2-bit quants: element i of a super-block sits in byte
// 32 * (i / 128) + i % 32, bits 2 * ((i % 128) / 32).
void pack_2bit_k(Bytes& b, std::size_t qs_at, const unsigned* q) {
  for (unsigned i = 0; i < 256; ++i)
    b[qs_at + 32 * (i / 128) + i % 32] |= static_cast<std::uint8_t>((q[i] & 3) << (2 * ((i % 128) / 32)));
}

void make_q2_k(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(84, 0);
  unsigned sc[16], mn[16], q[256];
  for (int s = 0; s < 16; ++s) {
    sc[s] = r.below(16);
    mn[s] = r.below(16);
    b[s] = static_cast<std::uint8_t>(sc[s] | (mn[s] << 4));
  }
  for (auto& v : q) v = r.below(4);
  pack_2bit_k(b, 16, q);
  const std::uint16_t d = r.half(), dmin = r.half();
  put16(b, 80, d);
  put16(b, 82, dmin);
  for (unsigned i = 0; i < 256; ++i) {
    const float dl = half_value(d) * static_cast<float>(sc[i / 16]);
    const float ml = half_value(dmin) * static_cast<float>(mn[i / 16]);
    const float product = dl * static_cast<float>(q[i]);
    want.push_back(product - ml);
  }
  out.insert(out.end(), b.begin(), b.end());
}

void make_q3_k(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(110, 0);
  unsigned scale[16], q[256];  // 6-bit scales (value - 32), 3-bit quants (value - 4)
  for (auto& v : scale) v = r.below(64);
  for (auto& v : q) v = r.below(8);
  // hmask: the high bit of element i in hmask[i % 32], bit i / 32.
  for (unsigned i = 0; i < 256; ++i)
    if (q[i] & 4) b[i % 32] |= static_cast<std::uint8_t>(1u << (i / 32));
  pack_2bit_k(b, 32, q);
  // Scales: low nibbles of 0-7 in bytes 0-7, of 8-15 in the high nibbles of
  // bytes 0-7; the top two bits of scale j in byte 8 + j % 4, bits 2 * (j / 4).
  for (unsigned j = 0; j < 16; ++j) {
    if (j < 8)
      b[96 + j] |= static_cast<std::uint8_t>(scale[j] & 15);
    else
      b[96 + j - 8] |= static_cast<std::uint8_t>((scale[j] & 15) << 4);
    b[96 + 8 + j % 4] |= static_cast<std::uint8_t>((scale[j] >> 4) << (2 * (j / 4)));
  }
  const std::uint16_t d = r.half();
  put16(b, 108, d);
  for (unsigned i = 0; i < 256; ++i) {
    const float dl = half_value(d) * static_cast<float>(static_cast<int>(scale[i / 16]) - 32);
    want.push_back(dl * static_cast<float>(static_cast<int>(q[i]) - 4));
  }
  out.insert(out.end(), b.begin(), b.end());
}

// Q4_K / Q5_K: eight 6-bit scales and mins in 12 bytes.
void pack_scales_k(Bytes& b, std::size_t at, const unsigned* sc, const unsigned* mn) {
  for (unsigned j = 0; j < 8; ++j) {
    if (j < 4) {
      b[at + j] |= static_cast<std::uint8_t>(sc[j]);
      b[at + j + 4] |= static_cast<std::uint8_t>(mn[j]);
    } else {
      b[at + j + 4] |= static_cast<std::uint8_t>((sc[j] & 15) | ((mn[j] & 15) << 4));
      b[at + j - 4] |= static_cast<std::uint8_t>((sc[j] >> 4) << 6);
      b[at + j] |= static_cast<std::uint8_t>((mn[j] >> 4) << 6);
    }
  }
}

// Q4_K / Q5_K low nibbles: element i in byte 32 * (i / 64) + i % 32, the
// high nibble when i % 64 >= 32.
void pack_nibbles_k(Bytes& b, std::size_t at, const unsigned* q) {
  for (unsigned i = 0; i < 256; ++i)
    b[at + 32 * (i / 64) + i % 32] |= static_cast<std::uint8_t>((q[i] & 15) << (i % 64 >= 32 ? 4 : 0));
}

template <int kBits>
void make_qk(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(kBits == 4 ? 144 : 176, 0);
  const std::uint16_t d = r.half(), dmin = r.half();
  put16(b, 0, d);
  put16(b, 2, dmin);
  unsigned sc[8], mn[8], q[256];
  for (int j = 0; j < 8; ++j) {
    sc[j] = r.below(64);
    mn[j] = r.below(64);
  }
  pack_scales_k(b, 4, sc, mn);
  for (auto& v : q) v = r.below(1u << kBits);
  if constexpr (kBits == 4) {
    pack_nibbles_k(b, 16, q);
  } else {
    pack_nibbles_k(b, 48, q);
    // The fifth bit of element i in qh[i % 32], bit 2 * (i / 64) + (i % 64 >= 32).
    for (unsigned i = 0; i < 256; ++i)
      if (q[i] & 16) b[16 + i % 32] |= static_cast<std::uint8_t>(1u << (2 * (i / 64) + (i % 64 >= 32 ? 1 : 0)));
  }
  for (unsigned i = 0; i < 256; ++i) {
    const float dl = half_value(d) * static_cast<float>(sc[i / 32]);
    const float ml = half_value(dmin) * static_cast<float>(mn[i / 32]);
    const float product = dl * static_cast<float>(q[i]);
    want.push_back(product - ml);
  }
  out.insert(out.end(), b.begin(), b.end());
}

void make_q6_k(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(210, 0);
  unsigned q[256];  // 6-bit, value q - 32
  int scale[16];
  for (auto& v : q) v = r.below(64);
  for (auto& v : scale) v = static_cast<int>(r.below(256)) - 128;
  // Element i = 128 n + 32 k + l: low nibble in ql[64 n + l + 32 (k % 2)]
  // (high nibble when k >= 2), top two bits in qh[32 n + l] bits 2 k.
  for (unsigned i = 0; i < 256; ++i) {
    const unsigned n = i / 128, k = (i % 128) / 32, l = i % 32;
    b[64 * n + l + 32 * (k % 2)] |= static_cast<std::uint8_t>((q[i] & 15) << (k >= 2 ? 4 : 0));
    b[128 + 32 * n + l] |= static_cast<std::uint8_t>((q[i] >> 4) << (2 * k));
  }
  for (int s = 0; s < 16; ++s) b[192 + s] = static_cast<std::uint8_t>(scale[s]);
  const std::uint16_t d = r.half();
  put16(b, 208, d);
  for (unsigned i = 0; i < 256; ++i) {
    const float ds = half_value(d) * static_cast<float>(scale[i / 16]);
    want.push_back(ds * static_cast<float>(static_cast<int>(q[i]) - 32));
  }
  out.insert(out.end(), b.begin(), b.end());
}

void make_q8_k(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(292, 0);
  const float d = std::ldexp(static_cast<float>(1 + r.below(1u << 23)), -30 + static_cast<int>(r.below(20)));
  std::memcpy(b.data(), &d, 4);
  for (int j = 0; j < 256; ++j) {
    const int q = static_cast<int>(r.below(256)) - 128;
    b[4 + j] = static_cast<std::uint8_t>(q);
    want.push_back(d * static_cast<float>(q));
  }
  for (int j = 260; j < 292; ++j) b[j] = static_cast<std::uint8_t>(r.below(256));  // bsums: not used
  out.insert(out.end(), b.begin(), b.end());
}

void make_iq4_nl(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(18, 0);
  const std::uint16_t d = r.half();
  put16(b, 0, d);
  unsigned q[32];
  for (auto& v : q) v = r.below(16);
  pack_nibbles32(b, 2, q);
  for (unsigned v : q) want.push_back(half_value(d) * static_cast<float>(kIq4[v]));
  out.insert(out.end(), b.begin(), b.end());
}

void make_iq4_xs(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(136, 0);
  const std::uint16_t d = r.half();
  put16(b, 0, d);
  unsigned ls[8], q[256];
  std::uint16_t scales_h = 0;
  for (unsigned ib = 0; ib < 8; ++ib) {
    ls[ib] = r.below(64);
    b[4 + ib / 2] |= static_cast<std::uint8_t>((ls[ib] & 15) << (4 * (ib % 2)));
    scales_h = static_cast<std::uint16_t>(scales_h | ((ls[ib] >> 4) << (2 * ib)));
  }
  put16(b, 2, scales_h);
  for (auto& v : q) v = r.below(16);
  for (unsigned ib = 0; ib < 8; ++ib) pack_nibbles32(b, 8 + 16 * ib, q + 32 * ib);
  for (unsigned i = 0; i < 256; ++i) {
    const float dl = half_value(d) * static_cast<float>(static_cast<int>(ls[i / 32]) - 32);
    want.push_back(dl * static_cast<float>(kIq4[q[i]]));
  }
  out.insert(out.end(), b.begin(), b.end());
}

// TQ1_0 packs five trits t0..t4 (t0 most significant) as
// ceil(value * 256 / 243): ggml's quantizer.
std::uint8_t pack_trits(const unsigned* t, int count) {
  unsigned v = 0;
  for (int n = 0; n < 5; ++n) v = 3 * v + (n < count ? t[n] : 0);
  return static_cast<std::uint8_t>((v * 256 + 242) / 243);
}

void make_tq1_0(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(54, 0);
  unsigned t[256];
  for (auto& v : t) v = r.below(3);
  unsigned group[5];
  // Elements 0-159: byte m holds elements m + 32 n; 160-239: byte 32 + m
  // holds 160 + m + 16 n; 240-255: qh[j] holds 240 + j + 4 n.
  for (unsigned m = 0; m < 32; ++m) {
    for (unsigned n = 0; n < 5; ++n) group[n] = t[m + 32 * n];
    b[m] = pack_trits(group, 5);
  }
  for (unsigned m = 0; m < 16; ++m) {
    for (unsigned n = 0; n < 5; ++n) group[n] = t[160 + m + 16 * n];
    b[32 + m] = pack_trits(group, 5);
  }
  for (unsigned j = 0; j < 4; ++j) {
    for (unsigned n = 0; n < 4; ++n) group[n] = t[240 + j + 4 * n];
    b[48 + j] = pack_trits(group, 4);
  }
  const std::uint16_t d = r.half();
  put16(b, 52, d);
  for (unsigned v : t) want.push_back(static_cast<float>(static_cast<int>(v) - 1) * half_value(d));
  out.insert(out.end(), b.begin(), b.end());
}

void make_tq2_0(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(66, 0);
  unsigned q[256];
  for (auto& v : q) v = r.below(4);  // 3 (= +2) does not occur in ggml's output but decodes
  // Element i = 128 h + 32 n + m: byte 32 h + m, bits 2 n.
  for (unsigned i = 0; i < 256; ++i)
    b[32 * (i / 128) + i % 32] |= static_cast<std::uint8_t>(q[i] << (2 * ((i % 128) / 32)));
  const std::uint16_t d = r.half();
  put16(b, 64, d);
  for (unsigned v : q) want.push_back(static_cast<float>(static_cast<int>(v) - 1) * half_value(d));
  out.insert(out.end(), b.begin(), b.end());
}

// MXFP4: E8M0 scale, values E2M1(q) * 2^(e - 127) (infinite past binary32).
void make_mxfp4(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(17, 0);
  const unsigned picks[] = {0, 1, 2, 100, 127, 130, 254, 255};
  const unsigned e = r.below(3) == 0 ? picks[r.below(8)] : 100 + r.below(50);
  b[0] = static_cast<std::uint8_t>(e);
  unsigned q[32];
  for (auto& v : q) v = r.below(16);
  pack_nibbles32(b, 1, q);
  for (unsigned v : q)
    want.push_back(static_cast<float>(std::ldexp(static_cast<double>(ggml_e2m1(v)), static_cast<int>(e) - 127)));
  out.insert(out.end(), b.begin(), b.end());
}

// NVFP4 scale as ggml reads it: bit 7 ignored, an unsigned E4M3 with
// bias 7 and no NaN, except that 0x7F itself reads 0.
double nvfp4_scale(unsigned x) {
  if (x == 0x7F) return 0.0;
  return by_definition((x >> 3) & 15, x & 7, 3, 7, false);
}

void make_nvfp4(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(36, 0);
  const unsigned picks[] = {0x00, 0x01, 0x38, 0x7E, 0x7F, 0x80, 0xB8, 0xFF};
  unsigned scale[4], q[64];
  for (auto& s : scale) s = r.below(2) == 0 ? picks[r.below(8)] : r.below(256);
  for (int s = 0; s < 4; ++s) b[s] = static_cast<std::uint8_t>(scale[s]);
  for (auto& v : q) v = r.below(16);
  // Sub-block s: byte 4 + 8 s + j holds elements 16 s + j (low) and 16 s + 8 + j (high).
  for (unsigned s = 0; s < 4; ++s)
    for (unsigned j = 0; j < 8; ++j)
      b[4 + 8 * s + j] = static_cast<std::uint8_t>(q[16 * s + j] | (q[16 * s + 8 + j] << 4));
  for (unsigned i = 0; i < 64; ++i) want.push_back(static_cast<float>(ggml_e2m1(q[i]) * nvfp4_scale(scale[i / 16])));
  out.insert(out.end(), b.begin(), b.end());
}

void make_q1_0(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(18, 0);
  const std::uint16_t d = r.half();
  put16(b, 0, d);
  for (unsigned j = 0; j < 128; ++j) {
    const unsigned bit = r.below(2);
    put_bits(b, 2, j, bit);
    want.push_back(bit != 0 ? half_value(d) : -half_value(d));
  }
  out.insert(out.end(), b.begin(), b.end());
}

void make_q2_0(Rng& r, Bytes& out, std::vector<float>& want) {
  Bytes b(18, 0);
  const std::uint16_t d = r.half();
  put16(b, 0, d);
  for (unsigned j = 0; j < 64; ++j) {
    const unsigned q = r.below(4);  // 0 1 2 3 -> -1 0 1 2
    b[2 + j / 4] |= static_cast<std::uint8_t>(q << (2 * (j % 4)));
    want.push_back(static_cast<float>(static_cast<int>(q) - 1) * half_value(d));
  }
  out.insert(out.end(), b.begin(), b.end());
}

const std::map<DType, MakeBlock>& block_makers() {
  static const std::map<DType, MakeBlock> makers = {
      {DType::kQ4_0, make_q4_5<4, false>}, {DType::kQ4_1, make_q4_5<4, true>}, {DType::kQ5_0, make_q4_5<5, false>},
      {DType::kQ5_1, make_q4_5<5, true>},  {DType::kQ8_0, make_q8<34>},        {DType::kQ8_1, make_q8<36>},
      {DType::kQ2_K, make_q2_k},           {DType::kQ3_K, make_q3_k},          {DType::kQ4_K, make_qk<4>},
      {DType::kQ5_K, make_qk<5>},          {DType::kQ6_K, make_q6_k},          {DType::kQ8_K, make_q8_k},
      {DType::kIQ4_NL, make_iq4_nl},       {DType::kIQ4_XS, make_iq4_xs},      {DType::kTQ1_0, make_tq1_0},
      {DType::kTQ2_0, make_tq2_0},         {DType::kMXFP4, make_mxfp4},        {DType::kNVFP4, make_nvfp4},
      {DType::kQ1_0, make_q1_0},           {DType::kQ2_0, make_q2_0},
  };
  return makers;
}

}  // namespace

TEST_CASE("elements: every decodable block type against blocks packed from known scales and quants") {
  for (const auto& [block_dtype, make] : block_makers()) {
    const DType dtype = block_dtype;  // clang 14 lambdas (CAPTURE) cannot capture a structured binding
    CAPTURE(dtype_name(dtype));
    Rng rng;
    Bytes bytes;
    std::vector<float> want;
    for (int block = 0; block < 40; ++block) make(rng, bytes, want);
    REQUIRE(bytes.size() % dtype_info(dtype)->block_bytes == 0);
    REQUIRE(want.size() == bytes.size() / dtype_info(dtype)->block_bytes * dtype_info(dtype)->block_elements);
    check_decodes(dtype, bytes, want);
  }
}

TEST_CASE("elements: hand-written blocks with values worked out on paper") {
  SUBCASE("Q8_0: d = 0.5, quants -128, -1, 0, 1, 127") {
    Bytes b(34, 0);
    put16(b, 0, 0x3800);  // 0.5
    const int q[] = {-128, -1, 0, 1, 127};
    for (int j = 0; j < 5; ++j) b[2 + j] = static_cast<std::uint8_t>(q[j]);
    const auto f = decode<float>(DType::kQ8_0, b, 32);
    CHECK(f[0] == -64.0f);
    CHECK(f[1] == -0.5f);
    CHECK(f[2] == 0.0f);
    CHECK(f[3] == 0.5f);
    CHECK(f[4] == 63.5f);
  }
  SUBCASE("Q4_0: d = 2, byte 0x9F: element 0 = (15 - 8) * 2, element 16 = (9 - 8) * 2") {
    Bytes b(18, 0x88);  // every other element (8 - 8) * 2 = 0
    put16(b, 0, 0x4000);
    b[2] = 0x9F;
    const auto f = decode<float>(DType::kQ4_0, b, 32);
    CHECK(f[0] == 14.0f);
    CHECK(f[16] == 2.0f);
    CHECK(f[1] == 0.0f);
  }
  SUBCASE("Q4_K: d = 1, dmin = 0.5, first scale 3 and min 2: 3 q - 1") {
    Bytes b(144, 0);
    put16(b, 0, 0x3C00);
    put16(b, 2, 0x3800);
    b[4] = 3;      // scale 0
    b[4 + 4] = 2;  // min 0
    b[16] = 0x05;  // element 0: q = 5; element 32: q = 0 with scale 1 (0)
    const auto f = decode<float>(DType::kQ4_K, b, 256);
    CHECK(f[0] == 14.0f);  // 1 * 3 * 5 - 0.5 * 2
    CHECK(f[1] == -1.0f);
    CHECK(f[32] == 0.0f);
  }
  SUBCASE("MXFP4: e = 127 (scale 1): codes are E2M1; e = 255 overflows binary32 for |v| >= 1") {
    Bytes b(34, 0);
    b[0] = 127;
    b[1] = 0x7F;  // element 0 code 0xF = -6, element 16 code 7 = 6
    b[17] = 255;
    b[18] = 0x21;  // element 32 code 1 = 0.5, element 48 code 2 = 1
    b[19] = 0x04;  // element 33 code 4 = 2
    const auto f = decode<float>(DType::kMXFP4, b, 64);
    CHECK(f[0] == -6.0f);
    CHECK(f[16] == 6.0f);
    CHECK(f[32] == std::ldexp(1.0f, 127));
    CHECK((std::isinf(f[48]) && f[48] > 0));  // 1 * 2^128
    CHECK((std::isinf(f[33]) && f[33] > 0));  // 2 * 2^128
  }
  SUBCASE("NVFP4: scale bytes 0x38 (1), 0x7E (448), 0x7F (0) and 0xFF (480)") {
    Bytes b(36, 0);
    b[0] = 0x38;
    b[1] = 0x7E;
    b[2] = 0x7F;
    b[3] = 0xFF;
    for (int s = 0; s < 4; ++s) b[4 + 8 * s] = 0x07;  // first element of each sub-block: code 7 (6.0)
    const auto f = decode<float>(DType::kNVFP4, b, 64);
    CHECK(f[0] == 6.0f);
    CHECK(f[16] == 2688.0f);
    CHECK(f[32] == 0.0f);
    CHECK(f[48] == 2880.0f);
    CHECK(f[8] == 0.0f);
  }
  SUBCASE("Q1_0 and Q2_0: d = 0.25") {
    Bytes b(18, 0);
    put16(b, 0, 0x3400);
    b[2] = 0x01;
    auto f = decode<float>(DType::kQ1_0, b, 128);
    CHECK(f[0] == 0.25f);
    CHECK(f[1] == -0.25f);
    b[2] = 0xE4;  // codes 0, 1, 2, 3 -> -1, 0, 1, 2
    f = decode<float>(DType::kQ2_0, b, 64);
    CHECK(f[0] == -0.25f);
    CHECK(f[1] == 0.0f);
    CHECK(f[2] == 0.25f);
    CHECK(f[3] == 0.5f);
  }
}

TEST_CASE("elements: which dtypes decode and encode") {
  const std::vector<DType> not_decoded = {DType::kC64,    DType::kC128,    DType::kIQ2_XXS,
                                          DType::kIQ2_XS, DType::kIQ3_XXS, DType::kIQ1_S,
                                          DType::kIQ3_S,  DType::kIQ2_S,   DType::kIQ1_M};
  for (const DTypeInfo& info : all_dtypes()) {
    CAPTURE(info.name);
    const bool expected = std::find(not_decoded.begin(), not_decoded.end(), info.dtype) == not_decoded.end();
    CHECK(can_decode(info.dtype) == expected);
    if (info.kind == DTypeClass::kQuantized && expected) CHECK(block_makers().count(info.dtype) == 1);
    const bool encodes = info.dtype == DType::kF16 || info.dtype == DType::kBF16 || info.dtype == DType::kF32 ||
                         info.dtype == DType::kF64 || info.dtype == DType::kF8_E4M3FN || info.dtype == DType::kF8_E5M2;
    CHECK(can_encode(info.dtype) == encodes);
  }
  std::vector<float> out(1);
  const std::byte bytes[16] = {};
  Status s = decode_elements(DType::kC64, std::span(bytes).first(8), std::span(out));
  CHECK(s.code() == ErrorCode::kUnsupported);
  CHECK(s.error().message().find("complex") != std::string::npos);
  std::vector<float> block(256);
  s = decode_elements(DType::kIQ2_XXS, std::span<const std::byte>(), std::span(block));
  CHECK(s.code() == ErrorCode::kUnsupported);
  CHECK(s.error().message().find("IQ2_XXS") != std::string::npos);
  // Sizes that disagree.
  s = decode_elements(DType::kF32, std::span(bytes).first(7), std::span(out).first(2));
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  std::vector<float> partial(31);
  s = decode_elements(DType::kQ8_0, std::span(bytes).first(0), std::span(partial));
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  std::vector<float> none;
  CHECK(decode_elements(DType::kQ4_K, std::span<const std::byte>(), std::span(none)).ok());
}

// ---------------------------------------------------------------------------
// Encoding: checked against a brute-force search for the nearest value

namespace {

struct Narrow {
  DType dtype;
  int exp_bits;
  int man_bits;
  bool has_inf;  // IEEE specials; otherwise only S.1..1.1..1 is NaN (E4M3FN)
};

constexpr Narrow kNarrow[] = {{DType::kF16, 5, 10, true},
                              {DType::kBF16, 8, 7, true},
                              {DType::kF8_E4M3FN, 4, 3, false},
                              {DType::kF8_E5M2, 5, 2, true}};

// Every finite non-negative value of a format with its pattern, ascending.
struct Finite {
  std::vector<double> value;
  std::vector<std::uint32_t> bits;
};

Finite finite_values(const Narrow& f) {
  Finite out;
  const unsigned exp_max = (1u << f.exp_bits) - 1, man_max = (1u << f.man_bits) - 1;
  const int bias = (1 << (f.exp_bits - 1)) - 1;
  for (std::uint32_t b = 0; b < (1u << (f.exp_bits + f.man_bits)); ++b) {
    const unsigned e = b >> f.man_bits, m = b & man_max;
    if (f.has_inf ? e == exp_max : (e == exp_max && m == man_max)) continue;
    out.value.push_back(by_definition(e, m, f.man_bits, bias, false));
    out.bits.push_back(b);
  }
  return out;
}

// The pattern of the value nearest to x, ties to the even pattern; past the
// largest finite value (by more than half a step) the overflow pattern.
std::uint32_t nearest(double x, const Narrow& f, const Finite& fin, bool saturate) {
  const std::uint32_t sign = std::signbit(x) ? 1u << (f.exp_bits + f.man_bits) : 0u;
  const std::uint32_t top = fin.bits.back();
  const std::uint32_t overflow = saturate ? top : f.has_inf ? top + 1 : (1u << (f.exp_bits + f.man_bits)) - 1;
  const double a = std::fabs(x);
  if (std::isinf(a)) return sign | overflow;
  // One step past the top, the pattern top + 1 (infinity, or E4M3FN's NaN).
  const double next = 2 * fin.value.back() - fin.value[fin.value.size() - 2];
  if (a >= next) return sign | overflow;
  const auto it = std::lower_bound(fin.value.begin(), fin.value.end(), a);
  const std::size_t hi = static_cast<std::size_t>(it - fin.value.begin());  // may be size(): `next`
  const double hi_value = hi < fin.value.size() ? fin.value[hi] : next;
  const std::uint32_t hi_bits = hi < fin.value.size() ? fin.bits[hi] : top + 1;
  if (hi_value == a) return sign | hi_bits;
  const double lo_value = fin.value[hi - 1];
  const std::uint32_t lo_bits = fin.bits[hi - 1];
  std::uint32_t pick;
  if (a - lo_value < hi_value - a)
    pick = lo_bits;
  else if (a - lo_value > hi_value - a)
    pick = hi_bits;
  else
    pick = (lo_bits & 1u) == 0 ? lo_bits : hi_bits;
  return sign | (pick == top + 1 ? overflow : pick);
}

template <class T>
std::vector<std::uint32_t> encode_bits(const std::vector<T>& in, DType dtype, bool saturate = false) {
  const std::size_t width = dtype_info(dtype)->block_bytes;
  std::vector<std::byte> out(in.size() * width);
  EncodeOptions options;
  options.saturate = saturate;
  const Status s = encode_elements(in, dtype, out, options);
  REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  std::vector<std::uint32_t> bits(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    std::uint32_t b = 0;
    std::memcpy(&b, out.data() + i * width, width);
    bits[i] = b;
  }
  return bits;
}

}  // namespace

TEST_CASE("elements: encoding F16, BF16, F8_E4M3FN and F8_E5M2 rounds to nearest, ties to even") {
  for (const Narrow& f : kNarrow) {
    CAPTURE(dtype_name(f.dtype));
    const Finite fin = finite_values(f);
    std::vector<double> xs;
    // Every finite value of either sign, every midpoint between neighbours
    // (exact ties) and the doubles just beside each midpoint.
    for (std::size_t i = 0; i < fin.value.size(); ++i) {
      xs.push_back(fin.value[i]);
      xs.push_back(-fin.value[i]);
      const double upper = i + 1 < fin.value.size() ? fin.value[i + 1] : 2 * fin.value[i] - fin.value[i - 1];
      const double mid = (fin.value[i] + upper) / 2;
      for (double x : {mid, std::nextafter(mid, 0.0), std::nextafter(mid, INFINITY)}) {
        xs.push_back(x);
        xs.push_back(-x);
      }
    }
    // Log-uniform random magnitudes from far below the smallest subnormal to
    // far above the largest value.
    std::mt19937_64 rng(7);
    const double lo = std::log2(fin.value[1]) - 4, hi = std::log2(fin.value.back()) + 4;
    std::uniform_real_distribution<double> exponent(lo, hi);
    for (int i = 0; i < 100000; ++i) xs.push_back((rng() & 1 ? -1 : 1) * std::exp2(exponent(rng)));
    xs.push_back(INFINITY);
    xs.push_back(-INFINITY);
    xs.push_back(1e300);
    xs.push_back(-1e-300);

    for (bool saturate : {false, true}) {
      const auto got = encode_bits(xs, f.dtype, saturate);
      int wrong = 0;
      for (std::size_t i = 0; i < xs.size(); ++i) {
        const std::uint32_t want = nearest(xs[i], f, fin, saturate);
        if (got[i] != want && ++wrong <= 5) FAIL_CHECK(xs[i], " encodes to ", got[i], ", expected ", want);
      }
      CHECK(wrong == 0);
    }
    // The float overload: every float among the values gives the same bits.
    std::vector<float> fs;
    std::vector<double> as_double;
    for (double x : xs)
      if (static_cast<double>(static_cast<float>(x)) == x) {
        fs.push_back(static_cast<float>(x));
        as_double.push_back(x);
      }
    CHECK(encode_bits(fs, f.dtype) == encode_bits(as_double, f.dtype));
  }
}

TEST_CASE("elements: encoding edge cases written out") {
  auto one = [](double x, DType dtype, bool saturate = false) {
    return encode_bits(std::vector<double>{x}, dtype, saturate)[0];
  };
  SUBCASE("F16 subnormals and underflow") {
    CHECK(one(std::ldexp(1.0, -24), DType::kF16) == 0x0001);
    CHECK(one(std::ldexp(1.0, -25), DType::kF16) == 0x0000);  // tie between 0 and 2^-24: even
    CHECK(one(std::ldexp(3.0, -25), DType::kF16) == 0x0002);  // tie between 1 and 2 ulps: even
    CHECK(one(std::nextafter(std::ldexp(1.0, -25), 1.0), DType::kF16) == 0x0001);
    CHECK(one(-std::ldexp(1.0, -30), DType::kF16) == 0x8000);    // signed zero
    CHECK(one(std::ldexp(1023.0, -24), DType::kF16) == 0x03FF);  // largest subnormal
    CHECK(one(std::ldexp(2047.0, -25), DType::kF16) == 0x0400);  // rounds up into the smallest normal
  }
  SUBCASE("overflow: infinity, NaN for E4M3FN, or saturation") {
    CHECK(one(65504.0, DType::kF16) == 0x7BFF);
    CHECK(one(65519.99, DType::kF16) == 0x7BFF);
    CHECK(one(65520.0, DType::kF16) == 0x7C00);  // the tie rounds to the even pattern: infinity
    CHECK(one(-1e10, DType::kF16) == 0xFC00);
    CHECK(one(1e10, DType::kF16, true) == 0x7BFF);
    CHECK(one(-INFINITY, DType::kF16, true) == 0xFBFF);
    CHECK(one(464.0, DType::kF8_E4M3FN) == 0x7E);  // tie between 448 (even) and the NaN slot
    CHECK(one(464.5, DType::kF8_E4M3FN) == 0x7F);  // NaN: E4M3FN has no infinity
    CHECK(one(-1000.0, DType::kF8_E4M3FN) == 0xFF);
    CHECK(one(INFINITY, DType::kF8_E4M3FN) == 0x7F);
    CHECK(one(1000.0, DType::kF8_E4M3FN, true) == 0x7E);
    CHECK(one(-INFINITY, DType::kF8_E4M3FN, true) == 0xFE);
    CHECK(one(61440.0, DType::kF8_E5M2) == 0x7C);  // tie above 57344: infinity
    CHECK(one(3.4e38, DType::kBF16) == 0x7F80);    // above (2 - 2^-8) * 2^127
  }
  SUBCASE("NaN stays NaN with its sign") {
    const double qnan = std::numeric_limits<double>::quiet_NaN();
    CHECK(one(qnan, DType::kF16) == 0x7E00);
    CHECK(one(-qnan, DType::kF16) == 0xFE00);
    CHECK(one(qnan, DType::kBF16) == 0x7FC0);
    CHECK(one(qnan, DType::kF8_E5M2) == 0x7E);
    CHECK(one(qnan, DType::kF8_E4M3FN) == 0x7F);
    CHECK(one(-qnan, DType::kF8_E4M3FN, true) == 0xFF);
    // A payload whose kept bits are zero still gives a NaN (quiet bit set).
    const double low_payload = std::bit_cast<double>(0x7ff0000000000001ull);
    CHECK(one(low_payload, DType::kF16) == 0x7E00);
    CHECK(one(std::bit_cast<double>(0x7ff4000000000000ull), DType::kF16) == 0x7F00);
  }
  SUBCASE("F32 and F64") {
    const auto f32 = encode_bits(
        std::vector<double>{1.0 + std::ldexp(1.0, -24), 1.0 + 3 * std::ldexp(1.0, -24), 3.5e38, -1e-50}, DType::kF32);
    CHECK(f32[0] == 0x3F800000u);  // tie: even
    CHECK(f32[1] == 0x3F800002u);
    CHECK(f32[2] == 0x7F800000u);
    CHECK(f32[3] == 0x80000000u);
    CHECK(encode_bits(std::vector<double>{3.5e38}, DType::kF32, true)[0] == 0x7F7FFFFFu);
    std::vector<std::byte> out(16);
    const std::vector<double> in = {0.1, -INFINITY};
    EncodeOptions sat;
    sat.saturate = true;
    REQUIRE(encode_elements(std::span(in), DType::kF64, std::span(out), sat).ok());
    double back[2];
    std::memcpy(back, out.data(), 16);
    CHECK(back[0] == 0.1);
    CHECK(back[1] == -std::numeric_limits<double>::max());
  }
  SUBCASE("refusals") {
    std::vector<std::byte> out(4);
    const std::vector<float> in = {1.0f, 2.0f};
    CHECK(encode_elements(std::span(in), DType::kQ8_0, std::span(out)).code() == ErrorCode::kUnsupported);
    CHECK(encode_elements(std::span(in), DType::kI32, std::span(out)).code() == ErrorCode::kUnsupported);
    CHECK(encode_elements(std::span(in), DType::kF32, std::span(out)).code() == ErrorCode::kInvalidArgument);
    CHECK(encode_elements(std::span(in), DType::kF16, std::span(out)).ok());
  }
}

// ---------------------------------------------------------------------------
// Reading tensors as numbers

namespace {

struct TestTensor {
  TensorSpec spec;
  Bytes bytes;
};

// Tensors of several kinds of dtype, compressible (so that a compressed
// file really compresses them): plain, packed sub-byte, block types.
std::vector<TestTensor> test_tensors() {
  std::vector<TestTensor> out;
  Rng rng;
  auto blocks = [&](DType dtype, std::uint64_t rows, std::uint64_t cols) {
    Bytes bytes;
    std::vector<float> unused;
    const MakeBlock make = block_makers().at(dtype);
    const std::uint64_t n = rows * cols / dtype_info(dtype)->block_elements;
    for (std::uint64_t i = 0; i < n; ++i) {
      if (i < 4)
        make(rng, bytes, unused);
      else
        bytes.insert(bytes.end(), bytes.begin() + static_cast<std::ptrdiff_t>((i % 4) * dtype_info(dtype)->block_bytes),
                     bytes.begin() + static_cast<std::ptrdiff_t>((i % 4 + 1) * dtype_info(dtype)->block_bytes));
    }
    out.push_back({{"t." + std::string(dtype_name(dtype)), dtype, {rows, cols}, Role::kWeight}, bytes});
  };
  auto plain = [&](DType dtype, std::vector<std::uint64_t> shape) {
    const std::uint64_t size = *tensor_byte_size(dtype, shape);
    Bytes bytes(size);
    for (std::uint64_t i = 0; i < size; ++i) bytes[i] = static_cast<std::uint8_t>(i % 7 == 0 ? rng.below(256) : 0x3C);
    // Bits of the last byte that no element uses must be zero (R36): found
    // as the bits whose flip leaves every decoded value as it was.
    const std::uint64_t n = *element_count(shape);
    const auto values = decode<double>(dtype, bytes, n);
    for (int bit = 0; bit < 8 && size > 0; ++bit) {
      Bytes flipped = bytes;
      flipped.back() ^= static_cast<std::uint8_t>(1u << bit);
      const auto after = decode<double>(dtype, flipped, n);
      if (std::equal(values.begin(), values.end(), after.begin(), [](double x, double y) { return same(x, y); }))
        bytes.back() &= static_cast<std::uint8_t>(~(1u << bit));
    }
    out.push_back({{"t." + std::string(dtype_name(dtype)), dtype, std::move(shape), Role::kWeight}, bytes});
  };
  blocks(DType::kQ4_K, 3, 512);
  blocks(DType::kQ8_0, 400, 256);  // over 64 KiB: two compressed chunks
  blocks(DType::kTQ1_0, 2, 256);
  plain(DType::kBF16, {300, 300});  // three compressed chunks
  plain(DType::kF16, {5000});
  plain(DType::kF6_E3M2, {1, 13});
  plain(DType::kF4_E2M1, {5});
  plain(DType::kI64, {100});
  plain(DType::kF32, {});
  return out;
}

void write_file(const std::filesystem::path& path, const std::vector<TestTensor>& tensors, bool compress) {
  WriteOptions options;
  options.sync = false;
  options.compression.enabled = compress;
  options.compression.chunk_bytes = 64u << 10;  // the smallest allowed
  auto w = Writer::create(path, options);
  REQUIRE(w.ok());
  License license;
  license.spdx = "MIT";
  REQUIRE(w->set_license(license).ok());
  for (const auto& t : tensors) {
    const Status s = w->add_tensor(t.spec, std::as_bytes(std::span(t.bytes)));
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
  }
  REQUIRE(w->finish().ok());
}

// Element ranges worth reading from a tensor of n elements with blocks of b.
std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges(std::uint64_t n, std::uint64_t b) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> r = {{0, n}, {0, 0}, {n, 0}, {n - 1, 1}, {0, 1}};
  if (n > 2 * b + 8) {
    r.push_back({1, n - 2});                  // inside the first and last blocks
    r.push_back({b - 1, 2});                  // across one block boundary
    r.push_back({b, b});                      // exactly one block
    r.push_back({b + 3, b > 5 ? b - 5 : 1});  // inside one block
    r.push_back({b / 2, n - b});              // many blocks, both ends partial
  }
  return r;
}

template <class Out, class ReadFn>
void check_ranges(const TensorInfo& t, const std::vector<Out>& whole, ReadFn&& read) {
  const std::uint64_t b = dtype_info(t.dtype)->block_elements;
  for (const auto& range : ranges(t.element_count, b)) {
    // Plain variables: clang 14 lambdas (CAPTURE) cannot capture structured bindings.
    const std::uint64_t first = range.first, count = range.second;
    // Pieces of one block, of 1000 bytes and of the default 4 MiB. (Pieces
    // much smaller than a compressed chunk decode that chunk once for each.)
    const std::uint64_t tiny = count * dtype_info(t.dtype)->block_bytes < 20000 ? 1 : 1000;
    for (const ReadElementsOptions& options :
         {ReadElementsOptions{1, 4u << 20}, ReadElementsOptions{3, tiny}, ReadElementsOptions{2, 1000}}) {
      CAPTURE(t.name);
      CAPTURE(first);
      CAPTURE(count);
      CAPTURE(options.piece_bytes);
      std::vector<Out> got(count, Out(-12345));
      const Status s = read(first, std::span(got), options);
      REQUIRE_MESSAGE(s.ok(), s.error().to_string());
      bool equal = true;
      for (std::uint64_t i = 0; i < count; ++i) equal = equal && same(got[i], whole[first + i]);
      CHECK(equal);
    }
  }
}

template <class Out>
std::vector<Out> decode_whole(const TestTensor& t) {
  const std::uint64_t n = *element_count(t.spec.shape);
  return decode<Out>(t.spec.dtype, t.bytes, n);
}

}  // namespace

TEST_CASE("elements: read_elements and read_as over OWF files, raw and compressed, in pieces and on threads") {
  TempDir dir;
  const auto tensors = test_tensors();
  for (bool compress : {false, true}) {
    CAPTURE(compress);
    const auto path = dir / (compress ? "z.owf" : "raw.owf");
    write_file(path, tensors, compress);
    auto file = File::open(path);
    REQUIRE(file.ok());
    if (compress) CHECK(file->tensor("t.Q8_0")->codec != Codec::kNone);
    auto source = open_source(path);
    REQUIRE(source.ok());
    for (const auto& tt : tensors) {
      const TensorInfo t = *file->tensor(tt.spec.name);
      const auto whole_f = decode_whole<float>(tt);
      const auto whole_d = decode_whole<double>(tt);
      check_ranges(t, whole_f, [&](std::uint64_t first, std::span<float> out, const ReadElementsOptions& o) {
        return read_elements(*file, t, first, out, o);
      });
      check_ranges(t, whole_d, [&](std::uint64_t first, std::span<double> out, const ReadElementsOptions& o) {
        return read_elements(*file, t, first, out, o);
      });
      const std::size_t index = *(*source)->find(tt.spec.name);
      check_ranges(t, whole_f, [&](std::uint64_t first, std::span<float> out, const ReadElementsOptions& o) {
        return read_elements(**source, index, first, out, o);
      });
      std::vector<float> by_name(t.element_count);
      REQUIRE(read_as(*file, tt.spec.name, by_name).ok());  // a vector converts to the span
      CHECK(std::equal(by_name.begin(), by_name.end(), whole_f.begin(), [](float a, float b) { return same(a, b); }));
      std::vector<double> by_name_d(t.element_count);
      REQUIRE(read_as(**source, tt.spec.name, by_name_d).ok());
      CHECK(std::equal(by_name_d.begin(), by_name_d.end(), whole_d.begin(),
                       [](double a, double b) { return same(a, b); }));
    }
  }
}

TEST_CASE("elements: reading refuses what it cannot do, and says what and where") {
  TempDir dir;
  std::vector<TestTensor> tensors = {{{"c", DType::kC64, {2}, Role::kOther}, Bytes(16, 0)},
                                     {{"iq", DType::kIQ2_XXS, {256}, Role::kOther}, Bytes(66, 0)},
                                     {{"w", DType::kF32, {4}, Role::kWeight}, Bytes(16, 0)}};
  write_file(dir / "m.owf", tensors, false);
  auto file = File::open(dir / "m.owf");
  REQUIRE(file.ok());
  std::vector<float> out(4);
  Status s = read_as(*file, "c", std::span(out).first(2));
  CHECK(s.code() == ErrorCode::kUnsupported);
  s = read_elements(*file, *file->tensor("iq"), 0, std::span(out));
  CHECK(s.code() == ErrorCode::kUnsupported);
  s = read_elements(*file, *file->tensor("w"), 2, std::span(out).first(3));
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  CHECK(s.error().message() == "tensor 'w': elements [2, +3) are outside its 4 elements");
  s = read_elements(*file, *file->tensor("w"), 5, std::span(out).first(0));
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  s = read_as(*file, "w", std::span(out).first(3));
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  s = read_as(*file, "nope", std::span(out));
  CHECK(s.code() == ErrorCode::kNotFound);
  auto source = open_source(dir / "m.owf");
  REQUIRE(source.ok());
  s = read_elements(**source, 3, 0, std::span(out));
  CHECK(s.code() == ErrorCode::kInvalidArgument);
  s = read_as(**source, "nope", std::span(out));
  CHECK(s.code() == ErrorCode::kNotFound);
  CHECK(read_as(**source, "w", std::span(out)).ok());
}

namespace {

// A source that claims one enormous tensor and produces any range of its
// bytes on demand (byte i is a function of i). It checks that the readers
// ask for ranges of at most `max_read` bytes and never for the whole tensor.
class HugeSource final : public Source {
 public:
  HugeSource(DType dtype, std::uint64_t elements, std::uint64_t max_read)
      : dtype_(dtype), shape_{elements}, max_read_(max_read) {}
  Format format() const override { return Format::kSafetensors; }
  std::size_t tensor_count() const override { return 1; }
  TensorInfo tensor(std::size_t) const override {
    TensorInfo t;
    t.name = "huge";
    t.dtype = dtype_;
    t.shape = shape_;
    t.element_count = shape_[0];
    t.logical_bytes = claimed_bytes ? *claimed_bytes : *tensor_byte_size(dtype_, shape_);
    t.stored_bytes = t.logical_bytes;
    return t;
  }
  Status read(std::size_t, std::span<std::byte>) const override {
    whole_reads = true;
    return Error(ErrorCode::kIoError, "read() of the whole tensor");
  }
  Status read_range(std::size_t, std::uint64_t offset, std::span<std::byte> out) const override {
    if (out.size() > max_read_) too_large = true;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = byte_at(offset + i);
    return {};
  }
  bool ranged_reads() const override { return true; }
  const ModelInfo& info() const override { return info_; }

  static std::byte byte_at(std::uint64_t i) { return static_cast<std::byte>((i * 2654435761u) >> 13); }

  std::optional<std::uint64_t> claimed_bytes;
  mutable std::atomic<bool> whole_reads{false};
  mutable std::atomic<bool> too_large{false};

 private:
  DType dtype_;
  std::uint64_t shape_[1];
  std::uint64_t max_read_;
  ModelInfo info_;
};

}  // namespace

TEST_CASE("elements: a tensor that claims terabytes is read in pieces, only the range asked for") {
  for (DType dtype : {DType::kF32, DType::kQ4_K, DType::kF6_E2M3}) {
    CAPTURE(dtype_name(dtype));
    const DTypeInfo info = *dtype_info(dtype);
    const std::uint64_t elements = (std::uint64_t{1} << 40) / info.block_elements * info.block_elements;
    HugeSource source(dtype, elements, 1024 + info.block_bytes);
    const std::uint64_t first = (std::uint64_t{1} << 39) + 3;  // not on a block boundary
    std::vector<float> got(5000);
    ReadElementsOptions options;
    options.piece_bytes = 1024;
    options.threads = 2;
    const Status s = read_elements(source, 0, first, std::span(got), options);
    REQUIRE_MESSAGE(s.ok(), s.error().to_string());
    CHECK(!source.whole_reads);
    CHECK(!source.too_large);
    // The same values from the covering blocks decoded here.
    const std::uint64_t b0 = first / info.block_elements;
    const std::uint64_t b1 = (first + got.size() + info.block_elements - 1) / info.block_elements;
    Bytes bytes((b1 - b0) * info.block_bytes);
    for (std::size_t i = 0; i < bytes.size(); ++i)
      bytes[i] = static_cast<std::uint8_t>(HugeSource::byte_at(b0 * info.block_bytes + i));
    const auto want = decode<float>(dtype, bytes, (b1 - b0) * info.block_elements);
    bool equal = true;
    for (std::size_t i = 0; i < got.size(); ++i)
      equal = equal && same(got[i], want[first - b0 * info.block_elements + i]);
    CHECK(equal);
  }
  // A tensor whose byte count does not match its elements is refused, not trusted.
  HugeSource lying(DType::kF32, 1000, 1u << 20);
  lying.claimed_bytes = 3999;
  std::vector<float> out(10);
  const Status s = read_elements(lying, 0, 0, std::span(out));
  CHECK(s.code() == ErrorCode::kTensorSizeMismatch);
}

TEST_CASE("elements: a source that reads tensors only whole") {
  // Element i of the fake tensor is the byte i & 0xFF.
  test::FakeSource source({{"t", DType::kU8, {600}}}, /*ranged=*/false);
  REQUIRE(!source.ranged_reads());
  std::vector<double> got(600 - 3);
  ReadElementsOptions options;
  options.piece_bytes = 8;
  REQUIRE(read_elements(source, 0, 2, std::span(got), options).ok());
  for (std::size_t i = 0; i < got.size(); ++i) CHECK(got[i] == static_cast<double>((i + 2) & 0xFF));
}

namespace {

// A GGUF v3 file with 1-D tensors and no key/value pairs, laid out by hand.
Bytes gguf_file(const std::vector<std::tuple<std::string, std::uint32_t, std::uint64_t, Bytes>>& tensors) {
  Bytes out;
  auto put = [&](auto v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
  };
  auto align = [&](Bytes& b) { b.resize((b.size() + 31) / 32 * 32, 0); };
  out.insert(out.end(), {'G', 'G', 'U', 'F'});
  put(std::uint32_t{3});
  put(std::uint64_t{tensors.size()});
  put(std::uint64_t{0});
  Bytes data;
  for (const auto& [name, type, ne0, bytes] : tensors) {
    put(std::uint64_t{name.size()});
    out.insert(out.end(), name.begin(), name.end());
    put(std::uint32_t{1});
    put(ne0);
    put(type);
    put(std::uint64_t{data.size()});
    data.insert(data.end(), bytes.begin(), bytes.end());
    align(data);
  }
  align(out);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

}  // namespace

TEST_CASE("elements: GGUF files holding NVFP4 (40), Q1_0 (41) and Q2_0 (42) tensors") {
  struct Case {
    DType dtype;
    std::uint32_t ggml;
    int blocks;
  };
  const Case cases[] = {{DType::kNVFP4, 40, 3}, {DType::kQ1_0, 41, 2}, {DType::kQ2_0, 42, 5}};
  std::vector<std::tuple<std::string, std::uint32_t, std::uint64_t, Bytes>> tensors;
  std::map<std::string, std::vector<float>> expected;
  Rng rng;
  for (const Case& c : cases) {
    Bytes bytes;
    std::vector<float> want;
    for (int i = 0; i < c.blocks; ++i) block_makers().at(c.dtype)(rng, bytes, want);
    const std::string name = "t." + std::string(dtype_name(c.dtype));
    tensors.emplace_back(name, c.ggml, want.size(), bytes);
    expected[name] = want;
  }
  TempDir dir;
  const auto path = dir / "new-types.gguf";
  const Bytes file = gguf_file(tensors);
  owf::test::spit(path, std::as_bytes(std::span(file)));
  auto source = open_source(path);
  REQUIRE_MESSAGE(source.ok(), source.error().to_string());
  for (const Case& c : cases) {
    const std::string name = "t." + std::string(dtype_name(c.dtype));
    const auto index = (*source)->find(name);
    REQUIRE(index);
    CHECK((*source)->tensor(*index).dtype == c.dtype);
    const auto& want = expected[name];
    std::vector<float> got(want.size());
    REQUIRE(read_as(**source, name, std::span(got)).ok());
    for (std::size_t i = 0; i < want.size(); ++i) CHECK(same(got[i], want[i]));
  }
}

TEST_CASE("elements: the corpus's Q8_0 model against an independent dequantization and its F32 original") {
  auto q8 = open_source(kCorpus / "llama4j" / "tinyllamas-stories-260k-q8_0.gguf");
  auto f32 = open_source(kCorpus / "python-gen-worker" / "stories260K.gguf");
  REQUIRE(q8.ok());
  REQUIRE(f32.ok());
  int q8_tensors = 0, f32_tensors = 0;
  double worst = 0;  // largest |dequantized - original| in units of the block's step amax / 127
  for (std::size_t i = 0; i < (*q8)->tensor_count(); ++i) {
    const TensorInfo t = (*q8)->tensor(i);
    CAPTURE(t.name);
    std::vector<float> got(t.element_count);
    REQUIRE(read_elements(**q8, i, 0, std::span(got)).ok());
    Bytes raw(t.logical_bytes);
    REQUIRE((*q8)->read(i, std::as_writable_bytes(std::span(raw))).ok());
    // Independent decoding of the stored bytes.
    std::vector<float> want(t.element_count);
    if (t.dtype == DType::kQ8_0) {
      ++q8_tensors;
      want = owf::test::dequantize_q8_0(std::as_bytes(std::span(raw)));
    } else {
      REQUIRE(t.dtype == DType::kF32);
      ++f32_tensors;
      std::memcpy(want.data(), raw.data(), raw.size());
    }
    bool equal = true;
    for (std::size_t k = 0; k < want.size(); ++k) equal = equal && same(got[k], want[k]);
    CHECK(equal);

    // The F32 model holds the weights this one was quantized from.
    const auto j = (*f32)->find(t.name);
    REQUIRE(j);
    std::vector<float> original((*f32)->tensor(*j).element_count);
    REQUIRE(original.size() == got.size());
    REQUIRE(read_elements(**f32, *j, 0, std::span(original)).ok());
    if (t.dtype == DType::kF32) {
      CHECK(std::memcmp(original.data(), got.data(), 4 * got.size()) == 0);
      continue;
    }
    // ggml's Q8_0: d = amax / 127 stored as F16 (relative error <= 2^-11),
    // q = round(x / d), so |q * d16 - x| <= d / 2 + 127 * d * 2^-11 < 0.563 d.
    for (std::size_t b = 0; b < got.size() / 32; ++b) {
      float amax = 0;
      for (std::size_t k = 0; k < 32; ++k) amax = std::max(amax, std::fabs(original[32 * b + k]));
      const double step = amax / 127.0;
      for (std::size_t k = 32 * b; k < 32 * b + 32; ++k) {
        const double err = std::fabs(static_cast<double>(got[k]) - original[k]);
        if (step > 0)
          worst = std::max(worst, err / step);
        else
          CHECK(got[k] == 0.0f);
      }
    }
  }
  CHECK(q8_tensors == 37);
  CHECK(f32_tensors == 11);
  MESSAGE("worst Q8_0 error: ", worst, " of a quantization step");
  CHECK(worst < 0.563);
}

TEST_CASE("elements: the C API") {
  SUBCASE("decode, encode and what each dtype supports") {
    const std::uint8_t f16[] = {0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00};  // 1, -2, 2^-24
    float f[3];
    REQUIRE(owf_decode_f32(OWF_DTYPE_F16, f16, sizeof f16, f, 3) == OWF_OK);
    CHECK(f[0] == 1.0f);
    CHECK(f[1] == -2.0f);
    CHECK(f[2] == std::ldexp(1.0f, -24));
    double d[3];
    REQUIRE(owf_decode_f64(OWF_DTYPE_F16, f16, sizeof f16, d, 3) == OWF_OK);
    CHECK(d[2] == std::ldexp(1.0, -24));
    std::uint8_t back[6];
    REQUIRE(owf_encode_f32(f, 3, OWF_DTYPE_F16, back, sizeof back, 0) == OWF_OK);
    CHECK(std::memcmp(back, f16, 6) == 0);
    REQUIRE(owf_encode_f64(d, 3, OWF_DTYPE_F16, back, sizeof back, 1) == OWF_OK);
    CHECK(std::memcmp(back, f16, 6) == 0);
    const double big = 1000.0;
    std::uint8_t e4m3 = 0;
    REQUIRE(owf_encode_f64(&big, 1, OWF_DTYPE_F8_E4M3FN, &e4m3, 1, 0) == OWF_OK);
    CHECK(e4m3 == 0x7F);
    REQUIRE(owf_encode_f64(&big, 1, OWF_DTYPE_F8_E4M3FN, &e4m3, 1, 1) == OWF_OK);
    CHECK(e4m3 == 0x7E);
    CHECK(owf_decode_f32(OWF_DTYPE_F16, f16, 5, f, 3) == OWF_INVALID_ARGUMENT);
    CHECK(owf_decode_f32(999, f16, 6, f, 3) == OWF_UNKNOWN_DTYPE);
    CHECK(owf_decode_f32(OWF_DTYPE_C64, f16, 0, f, 0) == OWF_UNSUPPORTED);
    CHECK(owf_decode_f32(OWF_DTYPE_F16, nullptr, 6, f, 3) == OWF_INVALID_ARGUMENT);
    CHECK(owf_decode_f32(OWF_DTYPE_F16, f16, 6, nullptr, 3) == OWF_INVALID_ARGUMENT);
    CHECK(owf_decode_f32(OWF_DTYPE_F16, nullptr, 0, nullptr, 0) == OWF_OK);
    CHECK(owf_encode_f32(f, 3, OWF_DTYPE_Q8_0, back, 6, 0) == OWF_UNSUPPORTED);
    CHECK(owf_dtype_can_decode(OWF_DTYPE_Q4_K) == 1);
    CHECK(owf_dtype_can_decode(OWF_DTYPE_NVFP4) == 1);
    CHECK(owf_dtype_can_decode(OWF_DTYPE_IQ1_M) == 0);
    CHECK(owf_dtype_can_decode(OWF_DTYPE_C128) == 0);
    CHECK(owf_dtype_can_decode(7777) == 0);
    CHECK(owf_dtype_can_encode(OWF_DTYPE_BF16) == 1);
    CHECK(owf_dtype_can_encode(OWF_DTYPE_U8) == 0);
  }
  SUBCASE("reading a range of a compressed tensor") {
    TempDir dir;
    const auto tensors = test_tensors();
    write_file(dir / "z.owf", tensors, true);
    owf_file* file = nullptr;
    REQUIRE(owf_file_open((dir / "z.owf").c_str(), nullptr, &file, nullptr) == OWF_OK);
    size_t index = 0;
    REQUIRE(owf_file_find_tensor(file, "t.Q4_K", &index) == OWF_OK);
    const auto& q4k =
        *std::find_if(tensors.begin(), tensors.end(), [](const auto& t) { return t.spec.name == "t.Q4_K"; });
    const auto whole = decode_whole<float>(q4k);
    std::vector<float> got(700);
    REQUIRE(owf_file_read_elements_f32(file, index, 300, got.data(), got.size(), 2) == OWF_OK);
    for (std::size_t i = 0; i < got.size(); ++i) CHECK(same(got[i], whole[300 + i]));
    std::vector<double> got_d(10);
    REQUIRE(owf_file_read_elements_f64(file, index, whole.size() - 10, got_d.data(), 10, 0) == OWF_OK);
    CHECK(got_d[9] == static_cast<double>(whole.back()));
    CHECK(owf_file_read_elements_f32(file, index, whole.size() - 1, got.data(), 2, 0) == OWF_INVALID_ARGUMENT);
    CHECK(std::string(owf_file_error_message(file)).find("outside") != std::string::npos);
    CHECK(owf_file_read_elements_f32(file, 99, 0, got.data(), 1, 0) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_read_elements_f32(file, index, 0, nullptr, 1, 0) == OWF_INVALID_ARGUMENT);
    CHECK(owf_file_read_elements_f32(nullptr, index, 0, got.data(), 1, 0) == OWF_INVALID_ARGUMENT);
    owf_file_free(file);
  }
}
