// The .npy array format (numpy.lib.format, versions 1.0, 2.0 and 3.0;
// spec/interchange.md, "NumPy"): its header, read and written, and the
// mapping between NumPy dtypes and OWF's. Shared by the .npy/.npz reader and
// writer.
//
//   "\x93NUMPY" major minor  header length (u16 LE in 1.0, u32 LE in 2.0/3.0)
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }  spaces  '\n'
//   array data
//
// The header is parsed by a small strict parser: nothing is evaluated, and
// object arrays (whose data is a pickle) are refused.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/byte_source.hpp"
#include "owf/dtype.hpp"
#include "owf/error.hpp"
#include "owf/reader.hpp"
#include "owf/tensor.hpp"

namespace owf::internal {

struct NpyHeader {
  DType dtype = DType::kU8;
  std::uint64_t element_bytes = 1;
  /// Bytes reversed as one unit to read big-endian data (1: none).
  std::uint64_t swap_unit = 1;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
  std::uint64_t element_count = 0;
  std::uint64_t data_offset = 0;  // from the start of the .npy bytes
  std::uint64_t data_bytes = 0;
};

/// Parses the header at the start of `source` (a .npy file or an archive
/// entry) and checks that exactly dtype x shape bytes of data follow it.
/// Errors name the source and the byte or header character at fault:
/// foreign_format_invalid, foreign_format_unsupported, truncated,
/// limit_exceeded, shape_overflow.
Result<NpyHeader> read_npy_header(const ByteSource& source, const Limits& limits);

/// The header numpy.save writes for `tensor` (version 1.0, or 2.0 when the
/// header needs more than 65,535 bytes): data starts at a multiple of 64.
/// foreign_format_unsupported, naming the tensor, for dtypes NumPy lacks.
Result<std::string> npy_header_for(const TensorInfo& tensor);

}  // namespace owf::internal
