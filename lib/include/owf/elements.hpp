// Element values: turning a tensor's stored elements into numbers, and
// numbers into the floating-point dtypes.
//
// Decoding follows spec/format.md §5 for every dtype: floating-point types
// exactly, integers and BOOL as their values, ggml's block types by ggml's
// reference dequantization (the floats ggml computes; the double output is
// that float, widened). Two kinds of dtype have no decoding here and are
// refused with `unsupported`: complex (C64, C128), which have no single real
// value (read their logical bytes as pairs of F32/F64), and the ggml IQ
// types built on lattice grid tables (IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S,
// IQ3_S, IQ2_S, IQ1_M). can_decode() says which.
//
// The readers work on every format a Source opens (compressed OWF tensors
// included) and in bounded memory: a tensor is read and decoded in pieces of
// a few MiB, never allocated whole because its header says so, on several
// threads when it is large.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "owf/dtype.hpp"
#include "owf/error.hpp"
#include "owf/tensor.hpp"

namespace owf {

class File;
class Source;

/// True when decode_elements() and the readers turn this dtype into real
/// numbers: every dtype except C64, C128 and the grid-table IQ types.
OWF_API bool can_decode(DType dtype);

/// True for the dtypes encode_elements() writes: F16, BF16, F32, F64,
/// F8_E4M3FN and F8_E5M2.
OWF_API bool can_encode(DType dtype);

/// Decodes `out.size()` elements of `dtype` stored in `bytes`, which must be
/// exactly the bytes those elements occupy (tensor_byte_size(dtype,
/// {out.size()})): whole blocks for block-quantized types, the final partial
/// byte rounded up for packed F4/F6. Fails with invalid_argument when the
/// sizes disagree and unsupported when !can_decode(dtype); every bit
/// pattern of a decodable dtype has a value (NaN where the format says so).
OWF_API Status decode_elements(DType dtype, std::span<const std::byte> bytes, std::span<float> out);
OWF_API Status decode_elements(DType dtype, std::span<const std::byte> bytes, std::span<double> out);

struct EncodeOptions {
  /// Finite values beyond the largest finite number of the target, after
  /// rounding. false (the default): they become infinity of their sign in
  /// F16, BF16, F8_E5M2 and F32 (IEEE 754), and NaN in F8_E4M3FN, which has
  /// no infinity (as PyTorch and ml_dtypes convert). true: they, and
  /// infinities, become the largest finite number of their sign.
  bool saturate = false;
};

/// Encodes `in` into `dtype` (one of can_encode()), rounding to nearest,
/// ties to even, with gradual underflow to subnormals and signed zeros.
/// NaN stays NaN with its sign (F16, BF16, F8_E5M2, F32: quiet, the highest
/// payload bits kept; F8_E4M3FN: S.1111.111). `out` must hold exactly
/// in.size() elements of `dtype` (invalid_argument otherwise).
OWF_API Status encode_elements(std::span<const float> in, DType dtype, std::span<std::byte> out,
                               const EncodeOptions& options = {});
OWF_API Status encode_elements(std::span<const double> in, DType dtype, std::span<std::byte> out,
                               const EncodeOptions& options = {});

struct ReadElementsOptions {
  /// Threads decoding pieces of a large read; 0: one per core, 1: only the
  /// calling thread.
  unsigned threads = 0;
  /// Logical bytes read and decoded at a time by each thread (at least one
  /// block).
  std::uint64_t piece_bytes = 4u << 20;
};

/// Decodes elements [first_element, first_element + out.size()) of tensor
/// `tensor_index` (row-major element order) into `out`. The range may start
/// and end inside a block: the blocks covering it are decoded and only the
/// requested elements are kept. Errors: invalid_argument for a range outside
/// the tensor or an index out of range, unsupported for a dtype that
/// !can_decode(), tensor_size_mismatch when the tensor's byte count does not
/// hold its element count, and whatever reading the source reports.
///
/// Memory: each thread holds one piece of `piece_bytes` logical bytes, read
/// with the source's ranged reads (OWF: File::read_range, which decodes only
/// the compressed chunks a piece touches). Sources without
/// ranged reads (Source::ranged_reads() false: NumPy and PyTorch files
/// today) deliver a tensor only whole, so such a tensor is read once into
/// memory of its logical size (bytes its reader found in the file).
/// Thread-safe: several reads may run at once on one file or source.
OWF_API Status read_elements(const Source& source, std::size_t tensor_index, std::uint64_t first_element,
                             std::span<float> out, const ReadElementsOptions& options = {});
OWF_API Status read_elements(const Source& source, std::size_t tensor_index, std::uint64_t first_element,
                             std::span<double> out, const ReadElementsOptions& options = {});
/// The same for a tensor of an open OWF file, looked up in `file` by
/// `tensor.name` (not_found when it has no tensor of that name).
OWF_API Status read_elements(const File& file, const TensorInfo& tensor, std::uint64_t first_element,
                             std::span<float> out, const ReadElementsOptions& options = {});
OWF_API Status read_elements(const File& file, const TensorInfo& tensor, std::uint64_t first_element,
                             std::span<double> out, const ReadElementsOptions& options = {});

/// A whole tensor by name: `out.size()` must equal its element count
/// (invalid_argument otherwise); not_found when there is no such tensor.
OWF_API Status read_as(const Source& source, std::string_view name, std::span<float> out,
                       const ReadElementsOptions& options = {});
OWF_API Status read_as(const Source& source, std::string_view name, std::span<double> out,
                       const ReadElementsOptions& options = {});
OWF_API Status read_as(const File& file, std::string_view name, std::span<float> out,
                       const ReadElementsOptions& options = {});
OWF_API Status read_as(const File& file, std::string_view name, std::span<double> out,
                       const ReadElementsOptions& options = {});

}  // namespace owf
