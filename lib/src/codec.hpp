// Storage codecs (spec/compression.md): the byte-group filter, per-chunk
// zstd compression for the writer, validation of a compressed tensor's chunk
// table at open, and decoding of its logical bytes.
//
// zstd types stay inside codec.cpp; this header shows none.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "io/byte_source.hpp"
#include "manifest.hpp"
#include "owf/dtype.hpp"
#include "owf/error.hpp"
#include "owf/reader.hpp"
#include "owf/tensor.hpp"

namespace owf::internal {

/// Bytes per element plane of the byte-group filter for `dtype`: 2 for
/// F16/BF16, 4 for F32/C64, 8 for F64/C128; 0 when the filter is not
/// defined for the dtype (integers, 1-byte and packed types, quantized blocks).
unsigned byte_group_width(DType dtype);

/// Whether a tensor of `dtype` may be stored with `codec`.
bool codec_allowed(Codec codec, DType dtype);

/// The filter: `in` holds whole elements of `width` bytes; plane k of the
/// output holds byte k (little-endian significance) of every element, in
/// element order, and the planes follow each other: out[k*n + e] = in[e*width + k].
/// Preconditions: in.size() == out.size(), in.size() % width == 0.
void byte_group(std::span<const std::byte> in, unsigned width, std::span<std::byte> out);
/// The inverse, for logical bytes [begin, begin + out.size()) of a grouped
/// chunk `grouped` (which may hold more than the range asked for).
void byte_ungroup(std::span<const std::byte> grouped, unsigned width, std::uint64_t begin, std::span<std::byte> out);

/// Compresses chunks one at a time; holds a zstd context and a scratch
/// buffer, so one per thread. Output is a single zstd frame with the content
/// size, no checksum and no dictionary, and depends only on the input, the
/// codec and the level.
class ChunkCompressor {
 public:
  ChunkCompressor();
  ~ChunkCompressor();
  ChunkCompressor(ChunkCompressor&&) noexcept;
  ChunkCompressor& operator=(ChunkCompressor&&) noexcept;

  /// Replaces `out` with the frame for the logical bytes `chunk`.
  /// Precondition: codec is kZstd, or kZstdByteGroup with width dividing chunk.size().
  Status compress(Codec codec, unsigned width, int level, std::span<const std::byte> chunk,
                  std::vector<std::byte>& out);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

/// Open-time checks of a compressed tensor's chunk table against its
/// logical size, its stored range and the limits. No data is read.
Status check_chunk_table(const TensorInfo& tensor, const ChunkTable& table, const Limits& limits);

/// Decodes logical bytes [offset, offset + out.size()) of a compressed
/// tensor whose stored bytes are at tensor.offset in `source`, the chunks
/// spread over up to `threads` threads (0: one per core). Reads and
/// allocates at most one chunk (stored and decoded) per thread at a time;
/// never trusts sizes found inside the compressed frames. Precondition:
/// the range lies inside the tensor.
Status decode_range(const TensorInfo& tensor, const ChunkTable& table, const ByteSource& source, std::uint64_t offset,
                    std::span<std::byte> out, unsigned threads);

}  // namespace owf::internal
