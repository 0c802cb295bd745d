#include "codec.hpp"

#include <zstd.h>
#include <zstd_errors.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <optional>
#include <string>

#include "parallel.hpp"

namespace owf::internal {
namespace {

std::string label(const TensorInfo& t) { return "tensor '" + std::string(t.name.substr(0, 200)) + "'"; }

std::string chunk_label(const TensorInfo& t, std::size_t index) { return label(t) + " chunk " + std::to_string(index); }

// Plane transposes with the width known at compile time, so the inner loop
// is a fixed-stride gather or scatter the compiler can unroll.
template <unsigned W>
void group_elements(const std::byte* in, std::size_t n, std::byte* out) {
  for (std::size_t e = 0; e < n; ++e)
    for (unsigned k = 0; k < W; ++k) out[k * n + e] = in[e * W + k];
}

// Elements [first, first + count) of a chunk of n elements.
template <unsigned W>
void ungroup_elements(const std::byte* grouped, std::size_t n, std::size_t first, std::size_t count, std::byte* out) {
  const std::byte* planes[W];
  for (unsigned k = 0; k < W; ++k) planes[k] = grouped + k * n + first;
  for (std::size_t e = 0; e < count; ++e)
    for (unsigned k = 0; k < W; ++k) out[e * W + k] = planes[k][e];
}

void ungroup_dispatch(const std::byte* grouped, unsigned width, std::size_t n, std::size_t first, std::size_t count,
                      std::byte* out) {
  switch (width) {
    case 2:
      return ungroup_elements<2>(grouped, n, first, count, out);
    case 4:
      return ungroup_elements<4>(grouped, n, first, count, out);
    case 8:
      return ungroup_elements<8>(grouped, n, first, count, out);
    default:
      for (std::size_t e = 0; e < count; ++e)
        for (unsigned k = 0; k < width; ++k) out[e * width + k] = grouped[k * n + first + e];
  }
}

struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
using DCtxPtr = std::unique_ptr<ZSTD_DCtx, DCtxDeleter>;

// Decodes one chunk's frame into exactly dst.size() bytes, refusing a frame
// that is truncated, followed by other bytes, not a plain zstd frame, needs a
// dictionary, declares another size, or decodes to another size.
Status decompress_exact(ZSTD_DCtx* dctx, std::span<const std::byte> src, std::span<std::byte> dst, const TensorInfo& t,
                        std::size_t index) {
  auto corrupt = [&](const std::string& why) {
    return Error(ErrorCode::kCorruptCompressedData, chunk_label(t, index) + ": " + why);
  };
  // Stable zstd API only: the magic number excludes skippable frames.
  std::uint32_t magic = 0;
  if (src.size() >= 4) std::memcpy(&magic, src.data(), 4);
  if (magic != ZSTD_MAGICNUMBER) return corrupt("does not start with a zstd frame");
  const unsigned long long declared = ZSTD_getFrameContentSize(src.data(), src.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return corrupt("truncated or malformed frame header");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != dst.size())
    return corrupt("frame declares " + std::to_string(declared) + " bytes, the chunk holds " +
                   std::to_string(dst.size()));
  if (const unsigned dict = ZSTD_getDictID_fromFrame(src.data(), src.size()); dict != 0)
    return corrupt("frame needs dictionary " + std::to_string(dict) + "; dictionaries are not allowed");
  const std::size_t frame = ZSTD_findFrameCompressedSize(src.data(), src.size());
  if (ZSTD_isError(frame))
    return corrupt(std::string("truncated or malformed frame (") + ZSTD_getErrorName(frame) + ")");
  if (frame != src.size())
    return corrupt(std::to_string(src.size() - frame) + " bytes follow the frame, which ends at chunk byte " +
                   std::to_string(frame));
  // One-shot decoding writes straight into dst and stops with an error at
  // its end: nothing is allocated from the sizes the frame declares.
  const std::size_t got = ZSTD_decompressDCtx(dctx, dst.data(), dst.size(), src.data(), src.size());
  if (ZSTD_isError(got)) {
    if (ZSTD_getErrorCode(got) == ZSTD_error_dstSize_tooSmall)
      return corrupt("decodes to more than the chunk's " + std::to_string(dst.size()) + " bytes");
    return corrupt(std::string("cannot decode (") + ZSTD_getErrorName(got) + ")");
  }
  if (got != dst.size())
    return corrupt("decodes to " + std::to_string(got) + " bytes, the chunk holds " + std::to_string(dst.size()));
  return {};
}

}  // namespace

unsigned byte_group_width(DType dtype) {
  switch (dtype) {
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kF32:
    case DType::kC64:
      return 4;
    case DType::kF64:
    case DType::kC128:
      return 8;
    default:
      return 0;
  }
}

bool codec_allowed(Codec codec, DType dtype) {
  switch (codec) {
    case Codec::kNone:
    case Codec::kZstd:
      return true;
    case Codec::kZstdByteGroup:
      return byte_group_width(dtype) != 0;
  }
  return false;
}

void byte_group(std::span<const std::byte> in, unsigned width, std::span<std::byte> out) {
  const std::size_t n = in.size() / width;
  switch (width) {
    case 2:
      return group_elements<2>(in.data(), n, out.data());
    case 4:
      return group_elements<4>(in.data(), n, out.data());
    case 8:
      return group_elements<8>(in.data(), n, out.data());
    default:
      for (std::size_t e = 0; e < n; ++e)
        for (unsigned k = 0; k < width; ++k) out[k * n + e] = in[e * width + k];
  }
}

void byte_ungroup(std::span<const std::byte> grouped, unsigned width, std::uint64_t begin, std::span<std::byte> out) {
  const std::size_t n = grouped.size() / width;
  std::size_t i = static_cast<std::size_t>(begin);
  const std::size_t end = i + out.size();
  std::byte* dst = out.data();
  // A partial element at each end byte by byte, whole elements in between.
  while (i < end && i % width != 0) {
    *dst++ = grouped[(i % width) * n + i / width];
    ++i;
  }
  const std::size_t whole = (end - i) / width;
  ungroup_dispatch(grouped.data(), width, n, i / width, whole, dst);
  dst += whole * width;
  i += whole * width;
  while (i < end) {
    *dst++ = grouped[(i % width) * n + i / width];
    ++i;
  }
}

constexpr int kByteGroupTunedMaxLevel = 9;

struct ChunkCompressor::Impl {
  ZSTD_CCtx* cctx = nullptr;
  std::vector<std::byte> grouped;
  ~Impl() { ZSTD_freeCCtx(cctx); }
};

ChunkCompressor::ChunkCompressor() : impl_(std::make_unique<Impl>()) {}
ChunkCompressor::~ChunkCompressor() = default;
ChunkCompressor::ChunkCompressor(ChunkCompressor&&) noexcept = default;
ChunkCompressor& ChunkCompressor::operator=(ChunkCompressor&&) noexcept = default;

Status ChunkCompressor::compress(Codec codec, unsigned width, int level, std::span<const std::byte> chunk,
                                 std::vector<std::byte>& out) {
  Impl& c = *impl_;
  auto fail = [](const char* what, std::size_t code) {
    return Error(ErrorCode::kIoError, std::string("zstd: ") + what + ": " + ZSTD_getErrorName(code));
  };
  if (c.cctx == nullptr) {
    c.cctx = ZSTD_createCCtx();
    if (c.cctx == nullptr) return Error(ErrorCode::kIoError, "zstd: cannot create a compression context");
  }
  std::vector<std::pair<ZSTD_cParameter, int>> params = {
      {ZSTD_c_compressionLevel, level}, {ZSTD_c_checksumFlag, 0}, {ZSTD_c_contentSizeFlag, 1}, {ZSTD_c_dictIDFlag, 0}};
  // Byte planes are sign/exponent bytes (skewed, but without long repeats)
  // and mantissa bytes (noise). Literal coding wins there: the short matches
  // that levels 2-9 look for cost more than they save and take most of the
  // time. Up to level 9 the filter's frames use the fastest match finder
  // with long minimum matches (smaller and about twice as fast as zstd's own
  // level 3 parameters on such planes); from level 10 zstd's own parameters apply.
  if (codec == Codec::kZstdByteGroup && level <= kByteGroupTunedMaxLevel) {
    params.push_back({ZSTD_c_strategy, ZSTD_fast});
    params.push_back({ZSTD_c_minMatch, 7});
    params.push_back({ZSTD_c_hashLog, 10});
  }
  const std::size_t reset = ZSTD_CCtx_reset(c.cctx, ZSTD_reset_parameters);
  if (ZSTD_isError(reset)) return fail("cannot reset parameters", reset);
  for (auto [param, value] : params) {
    const std::size_t r = ZSTD_CCtx_setParameter(c.cctx, param, value);
    if (ZSTD_isError(r)) return fail("cannot set a parameter", r);
  }
  if (codec != Codec::kZstdByteGroup) {
    out.resize(ZSTD_compressBound(chunk.size()));
    const std::size_t n = ZSTD_compress2(c.cctx, out.data(), out.size(), chunk.data(), chunk.size());
    if (ZSTD_isError(n)) return fail("cannot compress", n);
    out.resize(n);
    return {};
  }
  c.grouped.resize(chunk.size());
  byte_group(chunk, width, c.grouped);
  // Each plane ends a zstd block (a flush), so no block mixes planes and
  // every plane gets its own literal statistics; small chunks would
  // otherwise code a skewed exponent plane and a flat mantissa plane with one
  // Huffman table. Still a single frame with its content size.
  const std::size_t r = ZSTD_CCtx_setPledgedSrcSize(c.cctx, chunk.size());
  if (ZSTD_isError(r)) return fail("cannot set the content size", r);
  out.resize(ZSTD_compressBound(chunk.size()) + 64 * width);
  ZSTD_outBuffer o{out.data(), out.size(), 0};
  const std::size_t plane = chunk.size() / width;
  for (unsigned k = 0; k < width; ++k) {
    ZSTD_inBuffer in{c.grouped.data() + k * plane, plane, 0};
    const ZSTD_EndDirective mode = k + 1 == width ? ZSTD_e_end : ZSTD_e_flush;
    for (;;) {
      const std::size_t left = ZSTD_compressStream2(c.cctx, &o, &in, mode);
      if (ZSTD_isError(left)) return fail("cannot compress", left);
      if (left == 0 && in.pos == in.size) break;
      if (o.pos == o.size) return Error(ErrorCode::kIoError, "zstd: compressed chunk exceeds its bound");
    }
  }
  out.resize(o.pos);
  return {};
}

Status check_chunk_table(const TensorInfo& t, const ChunkTable& table, const Limits& limits) {
  auto bad = [&](const std::string& why) { return Error(ErrorCode::kBadChunkTable, label(t) + ": " + why); };
  if (!codec_allowed(t.codec, t.dtype))
    return bad("codec " + std::string(codec_name(t.codec)) + " is not defined for dtype " +
               std::string(dtype_name(t.dtype)));
  if (t.logical_bytes == 0) return bad("an empty tensor must use codec none");
  const std::uint64_t length = table.chunk_length;
  if (length == 0) return bad("chunk_length is 0");
  if (length > limits.max_chunk_bytes)
    return Error(ErrorCode::kLimitExceeded, label(t) + ": chunk_length " + std::to_string(length) +
                                                " is over the limit of " + std::to_string(limits.max_chunk_bytes));
  if (t.codec == Codec::kZstdByteGroup && length % byte_group_width(t.dtype) != 0)
    return bad("chunk_length " + std::to_string(length) + " is not a multiple of the element width " +
               std::to_string(byte_group_width(t.dtype)));
  const std::uint64_t expected = (t.logical_bytes - 1) / length + 1;
  if (table.chunks.size() != expected)
    return bad(std::to_string(table.chunks.size()) + " chunks listed; " + std::to_string(t.logical_bytes) +
               " logical bytes in chunks of " + std::to_string(length) + " make " + std::to_string(expected));
  // The chunks tile [0, stored_bytes) in order: no gap, no overlap.
  std::uint64_t cursor = 0;
  for (std::size_t i = 0; i < table.chunks.size(); ++i) {
    const ChunkRef& c = table.chunks[i];
    if (c.offset != cursor)
      return bad("chunk " + std::to_string(i) + " starts at stored byte " + std::to_string(c.offset) + ", expected " +
                 std::to_string(cursor) + (c.offset > cursor ? " (gap)" : " (overlap)"));
    if (c.stored_length == 0) return bad("chunk " + std::to_string(i) + " has stored_length 0");
    if (__builtin_add_overflow(cursor, c.stored_length, &cursor) || cursor > t.stored_bytes)
      return bad("chunk " + std::to_string(i) + " [" + std::to_string(c.offset) + ", +" +
                 std::to_string(c.stored_length) + ") runs past the tensor's " + std::to_string(t.stored_bytes) +
                 " stored bytes");
  }
  if (cursor != t.stored_bytes)
    return bad("chunks cover " + std::to_string(cursor) + " of the tensor's " + std::to_string(t.stored_bytes) +
               " stored bytes");
  return {};
}

Status decode_range(const TensorInfo& t, const ChunkTable& table, const ByteSource& source, std::uint64_t offset,
                    std::span<std::byte> out, unsigned threads) {
  if (out.empty()) return {};
  const std::uint64_t length = table.chunk_length;
  const unsigned width = t.codec == Codec::kZstdByteGroup ? byte_group_width(t.dtype) : 1;
  // check_chunk_table ran at open; these guard the arithmetic below anyway.
  if (length == 0 || width == 0 || (t.codec != Codec::kZstd && t.codec != Codec::kZstdByteGroup) ||
      offset > t.logical_bytes || out.size() > t.logical_bytes - offset)
    return Error(ErrorCode::kBadChunkTable, label(t) + ": cannot decode range [" + std::to_string(offset) + ", +" +
                                                std::to_string(out.size()) + ")");
  const std::uint64_t first = offset / length;
  const std::uint64_t last = (offset + out.size() - 1) / length;
  if (last >= table.chunks.size())
    return Error(ErrorCode::kBadChunkTable,
                 label(t) + ": chunk " + std::to_string(last) + " is not in the chunk table");
  const std::size_t count = static_cast<std::size_t>(last - first + 1);
  const unsigned groups = static_cast<unsigned>(std::min<std::size_t>(resolve_threads(threads), count));

  // Each worker takes chunks in order from a shared counter and keeps its
  // own context and scratch; the error reported is that of the lowest chunk.
  std::atomic<std::size_t> next{0};
  std::vector<std::optional<std::pair<std::size_t, Error>>> failures(groups);
  parallel_for(groups, groups, [&](std::size_t g) {
    // The calling thread keeps its context across calls: reading many
    // small tensors would otherwise spend its time creating contexts.
    thread_local DCtxPtr cached;
    if (!cached) cached.reset(ZSTD_createDCtx());
    ZSTD_DCtx* const dctx = cached.get();
    std::vector<std::byte> scratch;
    std::vector<std::byte> compressed;
    for (std::size_t k = next.fetch_add(1); k < count; k = next.fetch_add(1)) {
      const std::uint64_t index = first + k;
      auto fail = [&](Error e) {
        if (!failures[g] || failures[g]->first > k) failures[g].emplace(k, std::move(e));
      };
      if (dctx == nullptr) {
        fail(Error(ErrorCode::kIoError, "zstd: cannot create a decompression context"));
        return;
      }
      const ChunkRef& c = table.chunks[index];
      if (c.offset > t.stored_bytes || c.stored_length > t.stored_bytes - c.offset) {
        fail(Error(ErrorCode::kBadChunkTable, chunk_label(t, index) + " lies outside the tensor's stored bytes"));
        return;
      }
      const std::uint64_t begin = index * length;  // logical, < logical_bytes
      const std::uint64_t size = std::min(length, t.logical_bytes - begin);
      const std::uint64_t want_begin = std::max(begin, offset);
      const std::uint64_t want_end = std::min(begin + size, offset + out.size());
      std::span<std::byte> dst = out.subspan(want_begin - offset, want_end - want_begin);
      // Buffers are read in place; files through read_at(), one chunk at a
      // time, so that a file shrinking meanwhile is an error, not a signal.
      std::span<const std::byte> src;
      if (source.in_memory()) {
        src = source.mapping().subspan(t.offset + c.offset, c.stored_length);
      } else {
        compressed.resize(c.stored_length);
        if (auto s = source.read_at(t.offset + c.offset, compressed); !s.ok()) return fail(s.error());
        src = compressed;
      }
      if (t.codec == Codec::kZstd && want_begin == begin && want_end == begin + size) {
        if (auto s = decompress_exact(dctx, src, dst, t, index); !s.ok()) return fail(s.error());
        continue;
      }
      scratch.resize(size);
      if (auto s = decompress_exact(dctx, src, scratch, t, index); !s.ok()) return fail(s.error());
      if (t.codec == Codec::kZstd)
        std::memcpy(dst.data(), scratch.data() + (want_begin - begin), dst.size());
      else
        byte_ungroup(scratch, width, want_begin - begin, dst);
    }
  });
  const std::pair<std::size_t, Error>* worst = nullptr;
  for (const auto& f : failures)
    if (f && (worst == nullptr || f->first < worst->first)) worst = &*f;
  if (worst != nullptr) return worst->second;
  return {};
}

}  // namespace owf::internal
