// Reading a strided view of stored elements as row-major logical bytes, by
// ranges: PyTorch tensors (views, transposes, broadcasts with stride 0) and
// NumPy arrays in Fortran order. Any byte range of the logical tensor can be
// read, and reading it touches only the stored elements the range covers, so
// a caller can stream a tensor of any declared size in bounded pieces; a
// broadcast tensor's repeated element is read once per piece, not once per
// logical element.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/byte_source.hpp"
#include "owf/error.hpp"

namespace owf::internal {

struct StridedLayout {
  /// Where the storage lies in the source: bytes [storage_offset, + storage_bytes).
  std::uint64_t storage_offset = 0;
  std::uint64_t storage_bytes = 0;
  std::uint64_t element_bytes = 1;
  /// Bytes reversed as one unit when the stored data is big-endian (the
  /// element, or half of it for complex types); 1: no swapping.
  std::uint64_t swap_unit = 1;
  /// Logical shape (row-major), and per dimension the step in the storage,
  /// in elements; element [0, ..., 0] is storage element `first`.
  std::vector<std::uint64_t> shape;
  std::vector<std::uint64_t> stride;
  std::uint64_t first = 0;

  /// Row-major strides over `shape` starting at element 0 (a plain array).
  static std::vector<std::uint64_t> row_major(std::span<const std::uint64_t> shape);
  /// Column-major (Fortran) strides over `shape`.
  static std::vector<std::uint64_t> column_major(std::span<const std::uint64_t> shape);
  /// True when logical order is storage order from `first` on.
  bool contiguous() const;
  /// Bytes from the first to the last stored element the view addresses
  /// (0 for an empty view): what a view can read at most once per piece.
  std::uint64_t span_bytes() const;
};

/// Logical bytes [offset, offset + out.size()) of the view. Preconditions,
/// checked by the reader at open: every element the view addresses lies
/// inside the storage, which lies inside the source, and the range lies
/// inside the view's logical bytes. Memory: `out` and at most one 1 MiB
/// window. Errors come from the source.
Status read_strided(const ByteSource& source, const StridedLayout& layout, std::uint64_t offset,
                    std::span<std::byte> out);

}  // namespace owf::internal
