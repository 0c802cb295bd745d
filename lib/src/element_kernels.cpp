// Decoding kernels for every dtype that has real values (spec/format.md §5).
//
// Floating-point types decode exactly (every F16, BF16, F8, F6 and F4 value
// is a float). ggml's block types follow ggml's reference dequantization
// (ggml-quants.c): arithmetic in binary32, one rounding per operation, in
// the order ggml writes it, without fused multiply-add (this file is built
// with -ffp-contract=off), so the floats are those ggml computes. Their
// double output is that float, widened.
#include "element_kernels.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <limits>

namespace owf::internal {
namespace {

using u8 = std::uint8_t;

const u8* bytes_of(const std::byte* p) { return reinterpret_cast<const u8*>(p); }

template <class T>
T load(const u8* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// 2^k as a float, for k in [-149, 127].
constexpr float pow2f(int k) {
  return k >= -126 ? std::bit_cast<float>(static_cast<std::uint32_t>(k + 127) << 23)
                   : std::bit_cast<float>(std::uint32_t{1} << (k + 149));
}

// IEEE binary16 to binary32, exact; NaN payloads are kept. Written without
// branches so that loops over it vectorize.
inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const std::uint32_t magnitude = h & 0x7fffu;
  const std::uint32_t shifted = magnitude << 13;
  const std::uint32_t normal = shifted + (112u << 23);   // rebias the exponent: 15 -> 127
  const std::uint32_t inf_nan = shifted + (224u << 23);  // exponent 31 -> 255
  // Subnormal m * 2^-24: (1 + m/1024) * 2^-14 - 2^-14, exact.
  const float subnormal = std::bit_cast<float>(shifted + (113u << 23)) - pow2f(-14);
  // Select with masks rather than branches.
  const std::uint32_t is_inf_nan = 0u - static_cast<std::uint32_t>(magnitude >= 0x7c00u);
  const std::uint32_t is_subnormal = 0u - static_cast<std::uint32_t>(magnitude < 0x0400u);
  const std::uint32_t bits = (normal & ~(is_inf_nan | is_subnormal)) | (inf_nan & is_inf_nan) |
                             (std::bit_cast<std::uint32_t>(subnormal) & is_subnormal);
  return std::bit_cast<float>(bits | sign);
}

inline float half_at(const u8* p) { return half_to_float(load<std::uint16_t>(p)); }

// --- Small floating-point formats, decoded through tables -----------------

enum class Specials { kNone, kIeee, kFiniteOnly };  // kFiniteOnly: only S.1..1.1..1 is NaN (E4M3FN)

struct MiniFloat {
  int exp_bits;
  int man_bits;
  int bias;
  Specials specials;
};

// The value of a sign/exponent/mantissa bit pattern (OCP and IEEE rules).
constexpr float mini_to_float(unsigned bits, MiniFloat f) {
  const unsigned exp_max = (1u << f.exp_bits) - 1;
  const unsigned man_max = (1u << f.man_bits) - 1;
  const bool negative = ((bits >> (f.exp_bits + f.man_bits)) & 1u) != 0;
  const unsigned e = (bits >> f.man_bits) & exp_max;
  const unsigned m = bits & man_max;
  float v;
  if (f.specials == Specials::kIeee && e == exp_max) {
    v = m == 0 ? std::numeric_limits<float>::infinity() : std::numeric_limits<float>::quiet_NaN();
  } else if (f.specials == Specials::kFiniteOnly && e == exp_max && m == man_max) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (e == 0) {
    v = static_cast<float>(m) * pow2f(1 - f.bias - f.man_bits);
  } else {
    v = static_cast<float>((1u << f.man_bits) + m) * pow2f(static_cast<int>(e) - f.bias - f.man_bits);
  }
  return negative ? -v : v;
}

template <std::size_t N>
constexpr std::array<float, N> mini_table(MiniFloat f) {
  std::array<float, N> t{};
  for (unsigned i = 0; i < N; ++i) t[i] = mini_to_float(i, f);
  return t;
}

constexpr auto kE4M3FN = mini_table<256>({4, 3, 7, Specials::kFiniteOnly});
constexpr auto kE2M3 = mini_table<64>({2, 3, 1, Specials::kNone});
constexpr auto kE3M2 = mini_table<64>({3, 2, 3, Specials::kNone});
constexpr auto kE2M1 = mini_table<16>({2, 1, 1, Specials::kNone});

// OCP E8M0: 2^(b - 127); 0xFF is NaN.
constexpr std::array<float, 256> kE8M0 = [] {
  std::array<float, 256> t{};
  for (int i = 0; i < 255; ++i) t[i] = pow2f(i - 127);
  t[255] = std::numeric_limits<float>::quiet_NaN();
  return t;
}();

// ggml's NVFP4 sub-block scale (ggml_ue4m3_to_fp32): an unsigned E4M3 whose
// bit 7 is ignored, 0x00 and 0x7F read as 0, halved because ggml's E2M1
// values are doubled. 0xFF therefore reads as 240, as in ggml.
constexpr std::array<float, 256> kUe4m3Half = [] {
  std::array<float, 256> t{};
  for (int x = 0; x < 256; ++x) {
    const int e = (x >> 3) & 0xF;
    const int m = x & 7;
    if (x == 0 || x == 0x7F)
      t[x] = 0.0f;
    else if (e == 0)
      t[x] = static_cast<float>(m) * pow2f(-10);
    else
      t[x] = static_cast<float>(8 + m) * pow2f(e - 11);
  }
  return t;
}();

// ggml's tables of 4-bit codes: E2M1 values doubled (MXFP4, NVFP4) and the
// non-linear IQ4_NL levels (ggml-common.h).
constexpr std::int8_t kFp4Doubled[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};
constexpr std::int8_t kIq4Levels[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// --- Plain types ----------------------------------------------------------

template <class Out, class T>
void plain(const std::byte* in, std::size_t n, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(load<T>(p + i * sizeof(T)));
}

template <class Out>
void boolean(const std::byte* in, std::size_t n, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t i = 0; i < n; ++i) out[i] = p[i] != 0 ? Out{1} : Out{0};
}

template <class Out>
void f16(const std::byte* in, std::size_t n, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(half_at(p + 2 * i));
}

// F16 to float is arithmetic rather than memory bound on SSE2 (half the
// speed of a copy of the output); with eight lanes it keeps up with memory.
// The AVX2 build of the same loop is chosen once, where the CPU has AVX2.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) void f16_avx2(const std::byte* in, std::size_t n, float* out) {
  const u8* p = bytes_of(in);
  for (std::size_t i = 0; i < n; ++i) out[i] = half_at(p + 2 * i);
}

void f16_to_float(const std::byte* in, std::size_t n, float* out) {
  static const DecodeKernel<float> best = __builtin_cpu_supports("avx2") ? &f16_avx2 : &f16<float>;
  best(in, n, out);
}
#else
void f16_to_float(const std::byte* in, std::size_t n, float* out) { f16<float>(in, n, out); }
#endif

template <class Out>
void bf16(const std::byte* in, std::size_t n, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = static_cast<Out>(std::bit_cast<float>(static_cast<std::uint32_t>(load<std::uint16_t>(p + 2 * i)) << 16));
}

// E5M2 is the upper byte of a binary16.
template <class Out>
void e5m2(const std::byte* in, std::size_t n, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(half_to_float(static_cast<std::uint16_t>(p[i] << 8)));
}

template <class Out, const std::array<float, 256>& kTable>
void byte_table(const std::byte* in, std::size_t n, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<Out>(kTable[p[i]]);
}

// F4_E2M1: a block is one byte, first element in the low nibble.
template <class Out>
void e2m1(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b) {
    out[2 * b] = static_cast<Out>(kE2M1[p[b] & 0xF]);
    out[2 * b + 1] = static_cast<Out>(kE2M1[p[b] >> 4]);
  }
}

// F6: a block is three bytes holding four elements, a little-endian bit
// stream with the first element in the lowest bits.
template <class Out, const std::array<float, 64>& kTable>
void fp6(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 3, out += 4) {
    const std::uint32_t v = p[0] | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16);
    for (int k = 0; k < 4; ++k) out[k] = static_cast<Out>(kTable[(v >> (6 * k)) & 63]);
  }
}

// --- ggml blocks of 32 ------------------------------------------------------

template <class Out>
void q4_0(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 18, out += 32) {
    const float d = half_at(p);
    const u8* qs = p + 2;
    for (int j = 0; j < 16; ++j) {
      out[j] = static_cast<Out>(static_cast<float>((qs[j] & 0xF) - 8) * d);
      out[j + 16] = static_cast<Out>(static_cast<float>((qs[j] >> 4) - 8) * d);
    }
  }
}

template <class Out>
void q4_1(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 20, out += 32) {
    const float d = half_at(p);
    const float m = half_at(p + 2);
    const u8* qs = p + 4;
    for (int j = 0; j < 16; ++j) {
      out[j] = static_cast<Out>(static_cast<float>(qs[j] & 0xF) * d + m);
      out[j + 16] = static_cast<Out>(static_cast<float>(qs[j] >> 4) * d + m);
    }
  }
}

// The fifth bit of element j is bit j of the 32-bit qh.
template <class Out>
void q5_0(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 22, out += 32) {
    const float d = half_at(p);
    const std::uint32_t qh = load<std::uint32_t>(p + 2);
    const u8* qs = p + 6;
    for (int j = 0; j < 16; ++j) {
      const int x0 = static_cast<int>((qs[j] & 0xF) | (((qh >> j) & 1u) << 4)) - 16;
      const int x1 = static_cast<int>((qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4)) - 16;
      out[j] = static_cast<Out>(static_cast<float>(x0) * d);
      out[j + 16] = static_cast<Out>(static_cast<float>(x1) * d);
    }
  }
}

template <class Out>
void q5_1(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 24, out += 32) {
    const float d = half_at(p);
    const float m = half_at(p + 2);
    const std::uint32_t qh = load<std::uint32_t>(p + 4);
    const u8* qs = p + 8;
    for (int j = 0; j < 16; ++j) {
      const std::uint32_t x0 = (qs[j] & 0xFu) | (((qh >> j) & 1u) << 4);
      const std::uint32_t x1 = (qs[j] >> 4) | (((qh >> (j + 16)) & 1u) << 4);
      out[j] = static_cast<Out>(static_cast<float>(x0) * d + m);
      out[j + 16] = static_cast<Out>(static_cast<float>(x1) * d + m);
    }
  }
}

// Q8_0 (34 bytes: d, 32 quants) and Q8_1 (36 bytes: d, s, 32 quants; s is
// d times the sum of the quants, redundant for decoding).
template <class Out, std::size_t kBlockBytes>
void q8(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += kBlockBytes, out += 32) {
    const float d = half_at(p);
    const u8* qs = p + (kBlockBytes - 32);
    for (int j = 0; j < 32; ++j) out[j] = static_cast<Out>(static_cast<float>(static_cast<std::int8_t>(qs[j])) * d);
  }
}

template <class Out>
void iq4_nl(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 18, out += 32) {
    const float d = half_at(p);
    const u8* qs = p + 2;
    for (int j = 0; j < 16; ++j) {
      out[j] = static_cast<Out>(d * static_cast<float>(kIq4Levels[qs[j] & 0xF]));
      out[j + 16] = static_cast<Out>(d * static_cast<float>(kIq4Levels[qs[j] >> 4]));
    }
  }
}

// MXFP4: E8M0 scale e, d = 2^(e-128) (half of 2^(e-127): the E2M1 table is doubled).
template <class Out>
void mxfp4(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 17, out += 32) {
    const float d = pow2f(p[0] - 128);
    const u8* qs = p + 1;
    for (int j = 0; j < 16; ++j) {
      out[j] = static_cast<Out>(static_cast<float>(kFp4Doubled[qs[j] & 0xF]) * d);
      out[j + 16] = static_cast<Out>(static_cast<float>(kFp4Doubled[qs[j] >> 4]) * d);
    }
  }
}

// NVFP4: four sub-blocks of 16, each with its own UE4M3 scale.
template <class Out>
void nvfp4(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 36) {
    for (int s = 0; s < 4; ++s, out += 16) {
      const float d = kUe4m3Half[p[s]];
      const u8* qs = p + 4 + 8 * s;
      for (int j = 0; j < 8; ++j) {
        out[j] = static_cast<Out>(static_cast<float>(kFp4Doubled[qs[j] & 0xF]) * d);
        out[j + 8] = static_cast<Out>(static_cast<float>(kFp4Doubled[qs[j] >> 4]) * d);
      }
    }
  }
}

// Q1_0: 128 elements, bit j of the quants (LSB first) selects +d or -d.
template <class Out>
void q1_0(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 18, out += 128) {
    const float d = half_at(p);
    const float neg_d = -d;
    const u8* qs = p + 2;
    for (int j = 0; j < 128; ++j) out[j] = static_cast<Out>(((qs[j / 8] >> (j % 8)) & 1) != 0 ? d : neg_d);
  }
}

// Q2_0: 64 elements, 2-bit codes LSB first, value (q - 1) * d.
template <class Out>
void q2_0(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 18, out += 64) {
    const float d = half_at(p);
    const u8* qs = p + 2;
    for (int j = 0; j < 64; ++j) {
      const int q = (qs[j / 4] >> (2 * (j % 4))) & 3;
      out[j] = static_cast<Out>(static_cast<float>(q - 1) * d);
    }
  }
}

// --- ggml super-blocks of 256 ----------------------------------------------

// Q2_K: scales[16] (low nibble scale, high nibble min), qs[64], d, dmin.
template <class Out>
void q2_k(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 84) {
    const u8* scales = p;
    const float d = half_at(p + 80);
    const float dmin = half_at(p + 82);
    for (int n = 0; n < 2; ++n) {
      const u8* q = p + 16 + 32 * n;
      for (int shift = 0; shift < 8; shift += 2) {
        for (int h = 0; h < 2; ++h, out += 16) {
          const u8 sc = *scales++;
          const float dl = d * static_cast<float>(sc & 0xF);
          const float ml = dmin * static_cast<float>(sc >> 4);
          for (int l = 0; l < 16; ++l)
            out[l] = static_cast<Out>(dl * static_cast<float>((q[16 * h + l] >> shift) & 3) - ml);
        }
      }
    }
  }
}

// Q3_K: hmask[32], qs[64], scales[12] (sixteen 6-bit scales), d.
template <class Out>
void q3_k(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 110) {
    const u8* hmask = p;
    const u8* packed = p + 96;
    const float d = half_at(p + 108);
    int scale[16];
    for (int i = 0; i < 16; ++i) {
      const int low = i < 8 ? packed[i] & 0xF : packed[i - 8] >> 4;
      const int high = (packed[8 + i % 4] >> (2 * (i / 4))) & 3;
      scale[i] = (low | (high << 4)) - 32;
    }
    int is = 0;
    for (int n = 0; n < 2; ++n) {
      const u8* q = p + 32 + 32 * n;
      for (int j = 0; j < 4; ++j) {
        const int shift = 2 * j;
        const u8 mask = static_cast<u8>(1u << (4 * n + j));
        for (int h = 0; h < 2; ++h, out += 16) {
          const float dl = d * static_cast<float>(scale[is++]);
          for (int l = 0; l < 16; ++l) {
            const int v = ((q[16 * h + l] >> shift) & 3) - ((hmask[16 * h + l] & mask) != 0 ? 0 : 4);
            out[l] = static_cast<Out>(dl * static_cast<float>(v));
          }
        }
      }
    }
  }
}

// The eight 6-bit scales and mins of Q4_K and Q5_K (ggml's get_scale_min_k4).
inline void scale_min_k4(int j, const u8* s, int& scale, int& min) {
  if (j < 4) {
    scale = s[j] & 63;
    min = s[j + 4] & 63;
  } else {
    scale = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
    min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

// Q4_K (d, dmin, scales[12], qs[128]) and Q5_K (d, dmin, scales[12],
// qh[32], qs[128]: a fifth bit per element).
template <class Out, bool kFifthBit>
void q4_5_k(const std::byte* in, std::size_t blocks, Out* out) {
  constexpr std::size_t kBlockBytes = kFifthBit ? 176 : 144;
  constexpr std::size_t kQs = kFifthBit ? 48 : 16;
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += kBlockBytes) {
    const float d = half_at(p);
    const float dmin = half_at(p + 2);
    const u8* scales = p + 4;
    const u8* qh = p + 16;
    for (int c = 0; c < 4; ++c, out += 64) {
      int sc = 0, m = 0;
      scale_min_k4(2 * c, scales, sc, m);
      const float d1 = d * static_cast<float>(sc);
      const float m1 = dmin * static_cast<float>(m);
      scale_min_k4(2 * c + 1, scales, sc, m);
      const float d2 = d * static_cast<float>(sc);
      const float m2 = dmin * static_cast<float>(m);
      const u8* ql = p + kQs + 32 * c;
      for (int l = 0; l < 32; ++l) {
        int q = ql[l] & 0xF;
        if constexpr (kFifthBit) q += ((qh[l] >> (2 * c)) & 1) << 4;
        out[l] = static_cast<Out>(d1 * static_cast<float>(q) - m1);
      }
      for (int l = 0; l < 32; ++l) {
        int q = ql[l] >> 4;
        if constexpr (kFifthBit) q += ((qh[l] >> (2 * c + 1)) & 1) << 4;
        out[32 + l] = static_cast<Out>(d2 * static_cast<float>(q) - m2);
      }
    }
  }
}

// Q6_K: ql[128], qh[64], scales[16] (int8), d. Value d * scale * q, in that order.
template <class Out>
void q6_k(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 210) {
    const float d = half_at(p + 208);
    for (int n = 0; n < 2; ++n, out += 128) {
      const u8* ql = p + 64 * n;
      const u8* qh = p + 128 + 32 * n;
      const auto* sc = reinterpret_cast<const std::int8_t*>(p + 192 + 8 * n);
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        out[l] = static_cast<Out>(d * static_cast<float>(sc[is]) * static_cast<float>(q1));
        out[l + 32] = static_cast<Out>(d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2));
        out[l + 64] = static_cast<Out>(d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3));
        out[l + 96] = static_cast<Out>(d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4));
      }
    }
  }
}

// Q8_K: d (binary32), qs[256] (int8), bsums[16] (redundant).
template <class Out>
void q8_k(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 292, out += 256) {
    const float d = load<float>(p);
    for (int j = 0; j < 256; ++j) out[j] = static_cast<Out>(d * static_cast<float>(static_cast<std::int8_t>(p[4 + j])));
  }
}

// IQ4_XS: d, scales_h (u16), scales_l[4], qs[128]; eight sub-blocks of 32
// with 6-bit scales.
template <class Out>
void iq4_xs(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 136) {
    const float d = half_at(p);
    const std::uint16_t scales_h = load<std::uint16_t>(p + 2);
    const u8* scales_l = p + 4;
    for (int ib = 0; ib < 8; ++ib, out += 32) {
      const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
      const float dl = d * static_cast<float>(ls - 32);
      const u8* qs = p + 8 + 16 * ib;
      for (int j = 0; j < 16; ++j) {
        out[j] = static_cast<Out>(dl * static_cast<float>(kIq4Levels[qs[j] & 0xF]));
        out[j + 16] = static_cast<Out>(dl * static_cast<float>(kIq4Levels[qs[j] >> 4]));
      }
    }
  }
}

// The n-th base-3 digit (most significant first) of a TQ1_0 byte, as ggml
// extracts it: multiply by 3^n modulo 256, then take the top "trit".
inline int tq1_trit(u8 byte, int n) {
  static constexpr u8 kPow3[5] = {1, 3, 9, 27, 81};
  const u8 q = static_cast<u8>(byte * kPow3[n]);
  return (q * 3) >> 8;
}

// TQ1_0: qs[48] (five trits per byte), qh[4] (four per byte), d.
template <class Out>
void tq1_0(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 54) {
    const float d = half_at(p + 52);
    // Bytes 0-31: five rows of 32; bytes 32-47: five rows of 16; qh: four rows of 4.
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 32; ++m) *out++ = static_cast<Out>(static_cast<float>(tq1_trit(p[m], n) - 1) * d);
    for (int n = 0; n < 5; ++n)
      for (int m = 0; m < 16; ++m) *out++ = static_cast<Out>(static_cast<float>(tq1_trit(p[32 + m], n) - 1) * d);
    for (int n = 0; n < 4; ++n)
      for (int m = 0; m < 4; ++m) *out++ = static_cast<Out>(static_cast<float>(tq1_trit(p[48 + m], n) - 1) * d);
  }
}

// TQ2_0: qs[64] (2-bit codes), d; value (q - 1) * d.
template <class Out>
void tq2_0(const std::byte* in, std::size_t blocks, Out* out) {
  const u8* p = bytes_of(in);
  for (std::size_t b = 0; b < blocks; ++b, p += 66) {
    const float d = half_at(p + 64);
    for (int j = 0; j < 64; j += 32)
      for (int shift = 0; shift < 8; shift += 2)
        for (int m = 0; m < 32; ++m) *out++ = static_cast<Out>(static_cast<float>(((p[j + m] >> shift) & 3) - 1) * d);
  }
}

// --- The table --------------------------------------------------------------

struct Entry {
  DType dtype;
  DecodeKernels kernels;
};

template <class T>
constexpr DecodeKernels plain_kernels() {
  return {&plain<float, T>, &plain<double, T>};
}

constexpr Entry kTable[] = {
    {DType::kBool, {&boolean<float>, &boolean<double>}},
    {DType::kU8, plain_kernels<std::uint8_t>()},
    {DType::kI8, plain_kernels<std::int8_t>()},
    {DType::kU16, plain_kernels<std::uint16_t>()},
    {DType::kI16, plain_kernels<std::int16_t>()},
    {DType::kU32, plain_kernels<std::uint32_t>()},
    {DType::kI32, plain_kernels<std::int32_t>()},
    {DType::kU64, plain_kernels<std::uint64_t>()},
    {DType::kI64, plain_kernels<std::int64_t>()},
    {DType::kF16, {&f16_to_float, &f16<double>}},
    {DType::kBF16, {&bf16<float>, &bf16<double>}},
    {DType::kF32, plain_kernels<float>()},
    {DType::kF64, plain_kernels<double>()},
    {DType::kF8_E4M3FN, {&byte_table<float, kE4M3FN>, &byte_table<double, kE4M3FN>}},
    {DType::kF8_E5M2, {&e5m2<float>, &e5m2<double>}},
    {DType::kF8_E8M0, {&byte_table<float, kE8M0>, &byte_table<double, kE8M0>}},
    {DType::kF4_E2M1, {&e2m1<float>, &e2m1<double>}},
    {DType::kF6_E2M3, {&fp6<float, kE2M3>, &fp6<double, kE2M3>}},
    {DType::kF6_E3M2, {&fp6<float, kE3M2>, &fp6<double, kE3M2>}},
    {DType::kQ4_0, {&q4_0<float>, &q4_0<double>}},
    {DType::kQ4_1, {&q4_1<float>, &q4_1<double>}},
    {DType::kQ5_0, {&q5_0<float>, &q5_0<double>}},
    {DType::kQ5_1, {&q5_1<float>, &q5_1<double>}},
    {DType::kQ8_0, {&q8<float, 34>, &q8<double, 34>}},
    {DType::kQ8_1, {&q8<float, 36>, &q8<double, 36>}},
    {DType::kQ2_K, {&q2_k<float>, &q2_k<double>}},
    {DType::kQ3_K, {&q3_k<float>, &q3_k<double>}},
    {DType::kQ4_K, {&q4_5_k<float, false>, &q4_5_k<double, false>}},
    {DType::kQ5_K, {&q4_5_k<float, true>, &q4_5_k<double, true>}},
    {DType::kQ6_K, {&q6_k<float>, &q6_k<double>}},
    {DType::kQ8_K, {&q8_k<float>, &q8_k<double>}},
    {DType::kIQ4_NL, {&iq4_nl<float>, &iq4_nl<double>}},
    {DType::kIQ4_XS, {&iq4_xs<float>, &iq4_xs<double>}},
    {DType::kTQ1_0, {&tq1_0<float>, &tq1_0<double>}},
    {DType::kTQ2_0, {&tq2_0<float>, &tq2_0<double>}},
    {DType::kMXFP4, {&mxfp4<float>, &mxfp4<double>}},
    {DType::kNVFP4, {&nvfp4<float>, &nvfp4<double>}},
    {DType::kQ1_0, {&q1_0<float>, &q1_0<double>}},
    {DType::kQ2_0, {&q2_0<float>, &q2_0<double>}},
};

}  // namespace

const DecodeKernels* decode_kernels(DType dtype) {
  for (const Entry& e : kTable)
    if (e.dtype == dtype) return &e.kernels;
  return nullptr;
}

}  // namespace owf::internal
