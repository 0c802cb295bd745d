#include "values.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

namespace owf::tools {
namespace {

// Elements decoded per piece: bounds memory to a few MiB per tensor.
constexpr std::uint64_t kPieceElements = 1u << 18;

double half_to_double(std::uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  double v;
  if (exp == 0)
    v = std::ldexp(mant, -24);
  else if (exp == 31)
    v = mant ? NAN : INFINITY;
  else
    v = std::ldexp(mant + 1024, exp - 25);
  return sign ? -v : v;
}

double e4m3fn_to_double(std::uint8_t b) {
  const int sign = b >> 7, exp = (b >> 3) & 0xF, mant = b & 0x7;
  double v;
  if (exp == 0xF && mant == 0x7)
    v = NAN;  // no infinities in FN
  else if (exp == 0)
    v = std::ldexp(mant, -9);
  else
    v = std::ldexp(mant + 8, exp - 10);
  return sign ? -v : v;
}

template <class T>
T load(const std::byte* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void decode(DType d, std::span<const std::byte> bytes, std::vector<double>& out) {
  const std::size_t size = dtype_info(d)->block_bytes;
  const std::size_t n = bytes.size() / size;
  out.resize(n);
  const std::byte* p = bytes.data();
  for (std::size_t i = 0; i < n; ++i, p += size) {
    double v = 0;
    switch (d) {
      case DType::kBool:
        v = load<std::uint8_t>(p) != 0 ? 1 : 0;
        break;
      case DType::kU8:
        v = load<std::uint8_t>(p);
        break;
      case DType::kI8:
        v = load<std::int8_t>(p);
        break;
      case DType::kU16:
        v = load<std::uint16_t>(p);
        break;
      case DType::kI16:
        v = load<std::int16_t>(p);
        break;
      case DType::kU32:
        v = load<std::uint32_t>(p);
        break;
      case DType::kI32:
        v = load<std::int32_t>(p);
        break;
      case DType::kU64:
        v = static_cast<double>(load<std::uint64_t>(p));
        break;
      case DType::kI64:
        v = static_cast<double>(load<std::int64_t>(p));
        break;
      case DType::kF16:
        v = half_to_double(load<std::uint16_t>(p));
        break;
      case DType::kBF16:
        v = std::bit_cast<float>(static_cast<std::uint32_t>(load<std::uint16_t>(p)) << 16);
        break;
      case DType::kF32:
        v = load<float>(p);
        break;
      case DType::kF64:
        v = load<double>(p);
        break;
      case DType::kF8_E4M3FN:
        v = e4m3fn_to_double(load<std::uint8_t>(p));
        break;
      case DType::kF8_E5M2:
        v = half_to_double(static_cast<std::uint16_t>(load<std::uint8_t>(p) << 8));
        break;
      case DType::kF8_E8M0: {
        const auto e = load<std::uint8_t>(p);
        v = e == 0xFF ? NAN : std::ldexp(1.0, e - 127);
        break;
      }
      default:
        break;
    }
    out[i] = v;
  }
}

// Reads elements [first, first + count) of a tensor and decodes them.
Status read_values(const Source& source, std::size_t index, DType dtype, std::uint64_t first, std::uint64_t count,
                   std::vector<std::byte>& bytes, std::vector<double>& out) {
  const std::uint64_t size = dtype_info(dtype)->block_bytes;
  bytes.resize(static_cast<std::size_t>(count * size));
  OWF_RETURN_IF_ERROR(source.read_range(index, first * size, bytes));
  decode(dtype, bytes, out);
  return {};
}

}  // namespace

bool has_values(DType d) {
  switch (d) {
    case DType::kBool:
    case DType::kU8:
    case DType::kI8:
    case DType::kU16:
    case DType::kI16:
    case DType::kU32:
    case DType::kI32:
    case DType::kU64:
    case DType::kI64:
    case DType::kF16:
    case DType::kBF16:
    case DType::kF32:
    case DType::kF64:
    case DType::kF8_E4M3FN:
    case DType::kF8_E5M2:
    case DType::kF8_E8M0:
      return true;
    default:
      return false;
  }
}

bool is_float_for_diff(DType d) {
  return d == DType::kF16 || d == DType::kBF16 || d == DType::kF32 || d == DType::kF64;
}

Result<TensorStats> tensor_stats(const Source& source, std::size_t index, std::size_t first_count) {
  const TensorInfo t = source.tensor(index);
  TensorStats st;
  long double sum = 0, sum_sq = 0;
  std::vector<std::byte> bytes;
  std::vector<double> values;
  for (std::uint64_t at = 0; at < t.element_count; at += kPieceElements) {
    const std::uint64_t n = std::min(kPieceElements, t.element_count - at);
    OWF_RETURN_IF_ERROR(read_values(source, index, t.dtype, at, n, bytes, values));
    for (double v : values) {
      if (st.first.size() < first_count) st.first.push_back(v);
      ++st.count;
      if (std::isnan(v)) {
        ++st.nan;
        continue;
      }
      if (std::isinf(v)) {
        ++st.inf;
        continue;
      }
      if (v == 0) ++st.zeros;
      if (st.finite == 0 || v < st.min) st.min = v;
      if (st.finite == 0 || v > st.max) st.max = v;
      ++st.finite;
      sum += v;
      sum_sq += static_cast<long double>(v) * v;
    }
  }
  if (st.finite) {
    st.mean = static_cast<double>(sum / st.finite);
    st.std_dev = std::sqrt(std::max(0.0, static_cast<double>(sum_sq / st.finite) - st.mean * st.mean));
  }
  return st;
}

Result<FloatDiff> float_diff(const Source& a, std::size_t ia, const Source& b, std::size_t ib) {
  const TensorInfo ta = a.tensor(ia), tb = b.tensor(ib);
  FloatDiff d;
  std::vector<std::byte> ra, rb;
  std::vector<double> va, vb;
  for (std::uint64_t at = 0; at < ta.element_count; at += kPieceElements) {
    const std::uint64_t n = std::min(kPieceElements, ta.element_count - at);
    OWF_RETURN_IF_ERROR(read_values(a, ia, ta.dtype, at, n, ra, va));
    OWF_RETURN_IF_ERROR(read_values(b, ib, tb.dtype, at, n, rb, vb));
    for (std::size_t i = 0; i < va.size(); ++i) {
      const double x = va[i], y = vb[i];
      if (x == y || (std::isnan(x) && std::isnan(y))) continue;
      ++d.differing;
      if (std::isnan(x) || std::isnan(y)) {
        ++d.nan_mismatch;
        continue;
      }
      const double abs = std::fabs(x - y);
      const double rel = abs / std::max(std::fabs(x), std::fabs(y));
      d.max_abs = std::isfinite(abs) ? std::max(d.max_abs, abs) : INFINITY;
      if (!std::isnan(rel)) d.max_rel = std::max(d.max_rel, rel);
    }
  }
  return d;
}

}  // namespace owf::tools
