#include "values.hpp"

#include <algorithm>
#include <cmath>
#include <memory>

namespace owf::tools {
namespace {

// Elements read per piece: bounds memory to a few MiB per tensor.
constexpr std::uint64_t kPieceElements = 1u << 18;

// How far a pair lies beyond the tolerance (> 0: not close). NaN on one
// side only, and an unmatched infinity, are infinitely far.
double excess(double a, double b, const Tolerance& tol) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b) ? -INFINITY : INFINITY;
  if (a == b) return -INFINITY;  // equal infinities included
  const double diff = std::fabs(a - b);
  if (std::isinf(diff)) return INFINITY;
  return diff - (tol.atol + tol.rtol * std::fabs(b));
}

}  // namespace

std::string value_note(DType dtype) {
  const auto info = dtype_info(dtype);
  if (info && info->kind == DTypeClass::kQuantized) return "dequantized from " + std::string(info->name);
  return {};
}

Result<TensorStats> tensor_stats(const Source& source, std::size_t index, std::size_t first_count) {
  const TensorInfo t = source.tensor(index);
  TensorStats st;
  long double sum = 0, sum_sq = 0;
  std::vector<double> values(static_cast<std::size_t>(std::min(kPieceElements, t.element_count)));
  for (std::uint64_t at = 0; at < t.element_count; at += kPieceElements) {
    const auto piece =
        std::span(values).first(static_cast<std::size_t>(std::min(kPieceElements, t.element_count - at)));
    OWF_RETURN_IF_ERROR(read_elements(source, index, at, piece));
    for (double v : piece) {
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

Result<ValueDiff> value_diff(const Source& a, std::size_t ia, const Source& b, std::size_t ib,
                             const Tolerance& tolerance, std::size_t worst_count) {
  const std::uint64_t n = a.tensor(ia).element_count;
  if (b.tensor(ib).element_count != n)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(a.tensor(ia).name) + "': " + std::to_string(n) +
                                                  " elements against " + std::to_string(b.tensor(ib).element_count));
  ValueDiff d;
  d.count = n;
  // The worst elements so far as a min-heap on their excess.
  std::vector<std::pair<double, ElementPair>> worst;
  const auto better = [](const auto& x, const auto& y) { return x.first > y.first; };
  const std::size_t size = static_cast<std::size_t>(std::min(kPieceElements, n));
  std::vector<double> va(size), vb(size);
  for (std::uint64_t at = 0; at < n; at += kPieceElements) {
    const auto m = static_cast<std::size_t>(std::min(kPieceElements, n - at));
    OWF_RETURN_IF_ERROR(read_elements(a, ia, at, std::span(va).first(m)));
    OWF_RETURN_IF_ERROR(read_elements(b, ib, at, std::span(vb).first(m)));
    for (std::size_t i = 0; i < m; ++i) {
      const double x = va[i], y = vb[i];
      const double e = excess(x, y, tolerance);
      if (e == -INFINITY) continue;  // equal
      ++d.differing;
      if (e > 0) ++d.exceeding;
      if (std::isnan(x) || std::isnan(y)) {
        ++d.nan_mismatch;
      } else {
        const double abs = std::fabs(x - y);
        d.max_abs = std::max(d.max_abs, abs);
        d.max_rel = std::max(d.max_rel, y == 0 ? INFINITY : abs / std::fabs(y));
      }
      if (worst_count == 0 || e <= 0) continue;
      if (worst.size() == worst_count) {
        if (!(e > worst.front().first)) continue;
        std::pop_heap(worst.begin(), worst.end(), better);
        worst.pop_back();
      }
      worst.push_back({e, ElementPair{at + i, x, y}});
      std::push_heap(worst.begin(), worst.end(), better);
    }
  }
  std::sort_heap(worst.begin(), worst.end(), better);
  for (const auto& w : worst) d.worst.push_back(w.second);
  return d;
}

}  // namespace owf::tools
