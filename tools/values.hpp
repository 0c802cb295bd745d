// Element values for owf-inspect --tensor and owf-diff: statistics and
// element-wise differences, computed in bounded pieces (a tensor is never
// held whole, whatever size its file declares).
#pragma once

#include <cstdint>
#include <vector>

#include "owf/owf.hpp"

namespace owf::tools {

/// Whether values of this dtype can be shown as numbers.
bool has_values(DType dtype);
/// True for F16, BF16, F32 and F64, whose differences owf-diff reports.
bool is_float_for_diff(DType dtype);

struct TensorStats {
  std::uint64_t count = 0, nan = 0, inf = 0, zeros = 0, finite = 0;
  double min = 0, max = 0, mean = 0, std_dev = 0;
  std::vector<double> first;  // the first values, in order
};
/// Precondition: has_values(dtype).
Result<TensorStats> tensor_stats(const Source& source, std::size_t index, std::size_t first_count);

struct FloatDiff {
  std::uint64_t differing = 0;  // elements not equal (NaN equals NaN here)
  std::uint64_t nan_mismatch = 0;
  double max_abs = 0, max_rel = 0;
};
/// Element-wise comparison of two tensors with equal shapes and float
/// dtypes (is_float_for_diff).
Result<FloatDiff> float_diff(const Source& a, std::size_t index_a, const Source& b, std::size_t index_b);

}  // namespace owf::tools
