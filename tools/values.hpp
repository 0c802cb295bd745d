// Element values for owf-inspect --tensor and owf-diff: statistics and
// element-wise comparisons of any dtype the library decodes
// (owf::can_decode: every one but complex and the ggml grid-table types),
// computed in bounded pieces through owf::read_elements, so that a tensor
// is never held whole, whatever size its file declares.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "owf/owf.hpp"

namespace owf::tools {

/// How values of `dtype` are shown as numbers: "" for plain types,
/// "dequantized from Q8_0" for block-quantized ones.
std::string value_note(DType dtype);

struct TensorStats {
  std::uint64_t count = 0, nan = 0, inf = 0, zeros = 0, finite = 0;
  double min = 0, max = 0, mean = 0, std_dev = 0;  // over the finite values
  std::vector<double> first;                       // the first values, in order
};
/// Precondition: can_decode(dtype of the tensor).
Result<TensorStats> tensor_stats(const Source& source, std::size_t index, std::size_t first_count);

/// When a pair of values (a from A, b from B) counts as close: as
/// numpy.isclose(a, b, rtol, atol, equal_nan=True), |a - b| <= atol +
/// rtol * |b| with B the reference; infinities are close only to
/// themselves, NaN only to NaN.
struct Tolerance {
  double atol = 0, rtol = 0;
};

struct ElementPair {
  std::uint64_t index = 0;  // row-major element index
  double a = 0, b = 0;
};

struct ValueDiff {
  std::uint64_t count = 0;
  std::uint64_t differing = 0;     // a != b (NaN equal to NaN)
  std::uint64_t exceeding = 0;     // not close under the tolerance
  std::uint64_t nan_mismatch = 0;  // NaN on one side only
  double max_abs = 0;              // largest |a - b| (infinite when an infinity is not matched)
  double max_rel = 0;              // largest |a - b| / |b|, over elements that differ
  /// The elements farthest beyond the tolerance (largest |a - b| - (atol +
  /// rtol * |b|); a NaN mismatch first), worst first; only elements beyond
  /// it (with no tolerance: every element that differs).
  std::vector<ElementPair> worst;
};

/// Element-wise comparison of two tensors with the same element count and
/// decodable dtypes (which may differ). Keeps `worst_count` worst elements.
Result<ValueDiff> value_diff(const Source& a, std::size_t index_a, const Source& b, std::size_t index_b,
                             const Tolerance& tolerance, std::size_t worst_count);

}  // namespace owf::tools
