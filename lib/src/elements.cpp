// Decoding stored elements into numbers (owf/elements.hpp): checks, the
// handling of ranges that start or end inside a block, and the piecewise,
// parallel reading of tensors from files and sources. The per-dtype
// arithmetic lives in element_kernels.cpp.
#include "owf/elements.hpp"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "element_kernels.hpp"
#include "owf/reader.hpp"
#include "owf/source.hpp"
#include "parallel.hpp"

namespace owf {
namespace {

using internal::DecodeKernel;

Error not_decodable(DType dtype) {
  const auto info = dtype_info(dtype);
  if (!info)
    return Error(ErrorCode::kUnknownDtype, "unknown dtype code " + std::to_string(static_cast<unsigned>(dtype)));
  if (info->kind == DTypeClass::kComplex)
    return Error(ErrorCode::kUnsupported, std::string(info->name) +
                                              " elements are complex and have no single real value; read the "
                                              "logical bytes as (real, imaginary) pairs");
  return Error(ErrorCode::kUnsupported,
               "decoding " + std::string(info->name) + " (a ggml type built on grid tables) is not supported");
}

// A dtype's block geometry and its kernel for one output type.
template <class Out>
struct Decoder {
  std::uint64_t block_elements;
  std::uint64_t block_bytes;
  DecodeKernel<Out> kernel;
};

template <class Out>
Result<Decoder<Out>> decoder_for(DType dtype) {
  const internal::DecodeKernels* kernels = internal::decode_kernels(dtype);
  if (kernels == nullptr) return not_decodable(dtype);
  const DTypeInfo info = *dtype_info(dtype);
  return Decoder<Out>{info.block_elements, info.block_bytes, kernels->get<Out>()};
}

// Decodes blocks [first_block, first_block + block_count), whose stored bytes
// are `in` (the tensor's last block may be short: packed F4/F6 round only
// the used bits up to bytes), keeping the elements inside [want_begin,
// want_end). `out` receives element want_begin. Blocks that stick out of the
// wanted range, or are short, go through a zero-padded scratch block; all
// others are decoded in place with one kernel call.
template <class Out>
void decode_blocks(const Decoder<Out>& d, std::span<const std::byte> in, std::uint64_t first_block,
                   std::uint64_t block_count, std::uint64_t want_begin, std::uint64_t want_end, Out* out) {
  const std::uint64_t be = d.block_elements;
  const std::uint64_t bb = d.block_bytes;
  auto sticks_out = [&](std::uint64_t k) { return k * be < want_begin || (k + 1) * be > want_end; };
  auto via_scratch = [&](std::uint64_t k) {
    std::byte block[internal::kMaxBlockBytes] = {};
    Out values[internal::kMaxBlockElements];
    const std::uint64_t at = (k - first_block) * bb;
    std::memcpy(block, in.data() + at, static_cast<std::size_t>(std::min<std::uint64_t>(bb, in.size() - at)));
    d.kernel(block, 1, values);
    const std::uint64_t lo = std::max(k * be, want_begin);
    const std::uint64_t hi = std::min((k + 1) * be, want_end);
    std::copy(values + (lo - k * be), values + (hi - k * be), out + (lo - want_begin));
  };
  std::uint64_t begin = first_block;
  std::uint64_t end = first_block + block_count;
  if (begin < end && sticks_out(begin)) via_scratch(begin++);
  if (begin < end && sticks_out(end - 1)) via_scratch(--end);
  if (begin < end)
    d.kernel(in.data() + (begin - first_block) * bb, static_cast<std::size_t>(end - begin),
             out + (begin * be - want_begin));
}

template <class Out>
Status decode_all(DType dtype, std::span<const std::byte> bytes, std::span<Out> out) {
  OWF_ASSIGN_OR_RETURN(const Decoder<Out> d, decoder_for<Out>(dtype));
  const std::uint64_t count[] = {out.size()};
  auto expected = tensor_byte_size(dtype, count);
  if (!expected.ok()) return Error(ErrorCode::kInvalidArgument, expected.error().message());
  if (bytes.size() != *expected)
    return Error(ErrorCode::kInvalidArgument,
                 std::to_string(out.size()) + " elements of " + std::string(dtype_name(dtype)) + " occupy " +
                     std::to_string(*expected) + " bytes, not " + std::to_string(bytes.size()));
  const std::uint64_t blocks = (out.size() + d.block_elements - 1) / d.block_elements;
  decode_blocks(d, bytes, 0, blocks, 0, out.size(), out.data());
  return {};
}

// Where a tensor's logical bytes come from: all in memory, or read by range.
struct TensorBytes {
  std::span<const std::byte> memory;  // used when read_range is empty
  std::function<Status(std::uint64_t offset, std::span<std::byte> out)> read_range;
};

// Scratch buffers for pieces, one per thread at most, reused.
class PiecePool {
 public:
  explicit PiecePool(std::size_t bytes) : bytes_(bytes) {}
  std::unique_ptr<std::byte[]> take() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto buffer = std::move(free_.back());
        free_.pop_back();
        return buffer;
      }
    }
    return std::unique_ptr<std::byte[]>(new (std::nothrow) std::byte[bytes_]);
  }
  void give(std::unique_ptr<std::byte[]> buffer) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(buffer));
  }

 private:
  std::size_t bytes_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<std::byte[]>> free_;
};

// Checks a request against the tensor before anything is read: a dtype
// that decodes, a range inside the tensor, and a byte size that matches the
// element count (the decoders rely on it).
template <class Out>
Result<Decoder<Out>> check_request(const TensorInfo& t, std::uint64_t first, std::size_t count) {
  OWF_ASSIGN_OR_RETURN(const Decoder<Out> d, decoder_for<Out>(t.dtype));
  if (first > t.element_count || count > t.element_count - first)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(t.name) + "': elements [" +
                                                  std::to_string(first) + ", +" + std::to_string(count) +
                                                  ") are outside its " + std::to_string(t.element_count) + " elements");
  const std::uint64_t flat[] = {t.element_count};
  const auto size = tensor_byte_size(t.dtype, flat);
  if (!size.ok() || *size != t.logical_bytes)
    return Error(ErrorCode::kTensorSizeMismatch,
                 "tensor '" + std::string(t.name) + "': " + std::to_string(t.logical_bytes) + " bytes do not hold " +
                     std::to_string(t.element_count) + " elements of " + std::string(dtype_name(t.dtype)));
  return d;
}

template <class Out>
Status read_range_elements(const TensorInfo& t, const TensorBytes& source, std::uint64_t first, std::span<Out> out,
                           const ReadElementsOptions& options) {
  OWF_ASSIGN_OR_RETURN(const Decoder<Out> d, check_request<Out>(t, first, out.size()));
  if (out.empty()) return {};
  if (!source.read_range && source.memory.size() != t.logical_bytes)
    return Error(ErrorCode::kTensorSizeMismatch, "tensor '" + std::string(t.name) +
                                                     "': " + std::to_string(source.memory.size()) +
                                                     " bytes instead of " + std::to_string(t.logical_bytes));
  const std::uint64_t be = d.block_elements;
  const std::uint64_t bb = d.block_bytes;
  const std::uint64_t want_end = first + out.size();
  const std::uint64_t first_block = first / be;
  const std::uint64_t end_block = want_end / be + (want_end % be != 0 ? 1 : 0);
  const std::uint64_t per_piece = std::max<std::uint64_t>(1, options.piece_bytes / bb);
  const std::uint64_t pieces = (end_block - first_block + per_piece - 1) / per_piece;
  const std::size_t buffer_bytes =
      source.read_range ? static_cast<std::size_t>(std::min(per_piece * bb, t.logical_bytes)) : 0;

  PiecePool pool(buffer_bytes);
  std::mutex error_mutex;
  std::optional<Error> error;
  std::atomic<bool> failed{false};
  auto fail = [&](Error e) {
    std::lock_guard lock(error_mutex);
    if (!error) error = std::move(e);
    failed = true;
  };
  internal::parallel_for(static_cast<std::size_t>(pieces), options.threads, [&](std::size_t i) {
    if (failed) return;
    const std::uint64_t b0 = first_block + i * per_piece;
    const std::uint64_t b1 = std::min(end_block, b0 + per_piece);
    const std::uint64_t offset = b0 * bb;
    const std::uint64_t length = std::min(b1 * bb, t.logical_bytes) - offset;
    if (!source.read_range) {
      decode_blocks(d, source.memory.subspan(offset, length), b0, b1 - b0, first, want_end, out.data());
      return;
    }
    auto buffer = pool.take();
    if (!buffer)
      return fail(Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(t.name) + "': no memory for a piece of " +
                                                       std::to_string(buffer_bytes) + " bytes"));
    const std::span<std::byte> piece(buffer.get(), static_cast<std::size_t>(length));
    const Status read = source.read_range(offset, piece);
    if (!read.ok()) return fail(read.error());
    decode_blocks(d, std::span<const std::byte>(piece), b0, b1 - b0, first, want_end, out.data());
    pool.give(std::move(buffer));
  });
  if (error) return *error;
  return {};
}

template <class Out>
Status read_file_elements(const File& file, const TensorInfo& tensor, std::uint64_t first, std::span<Out> out,
                          const ReadElementsOptions& options) {
  // The file's own description of the tensor, not the caller's copy.
  OWF_ASSIGN_OR_RETURN(const TensorInfo t, file.tensor(tensor.name));
  // Through the file's reads, never its mapping: mapped bytes are for
  // zero-copy views only, since a file that shrinks under a mapping faults.
  TensorBytes bytes;
  bytes.read_range = [&](std::uint64_t offset, std::span<std::byte> piece) {
    return file.read_range(t, offset, piece);
  };
  return read_range_elements(t, bytes, first, out, options);
}

template <class Out>
Status read_source_elements(const Source& source, std::size_t index, std::uint64_t first, std::span<Out> out,
                            const ReadElementsOptions& options) {
  if (index >= source.tensor_count())
    return Error(ErrorCode::kInvalidArgument, "tensor index " + std::to_string(index) +
                                                  " is out of range (the source has " +
                                                  std::to_string(source.tensor_count()) + " tensors)");
  if (const File* file = source.owf_file()) return read_file_elements(*file, source.tensor(index), first, out, options);
  const TensorInfo t = source.tensor(index);
  TensorBytes bytes;
  std::unique_ptr<std::byte[]> whole;
  if (source.ranged_reads()) {
    bytes.read_range = [&](std::uint64_t offset, std::span<std::byte> piece) {
      return source.read_range(index, offset, piece);
    };
  } else if (!out.empty()) {
    // This source delivers the tensor only whole (its reader has checked at
    // open that the bytes are in the file): read it once.
    OWF_RETURN_IF_ERROR(check_request<Out>(t, first, out.size()).status());
    whole.reset(new (std::nothrow) std::byte[t.logical_bytes]);
    if (!whole && t.logical_bytes != 0)
      return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(t.name) + "': no memory for its " +
                                                  std::to_string(t.logical_bytes) + " bytes");
    bytes.memory = std::span<const std::byte>(whole.get(), static_cast<std::size_t>(t.logical_bytes));
    OWF_RETURN_IF_ERROR(source.read(index, std::span<std::byte>(whole.get(), bytes.memory.size())));
  }
  return read_range_elements(t, bytes, first, out, options);
}

template <class Out>
Status whole_tensor(const TensorInfo& t, std::span<Out> out) {
  if (out.size() != t.element_count)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(t.name) + "' has " +
                                                  std::to_string(t.element_count) + " elements, the buffer " +
                                                  std::to_string(out.size()));
  return {};
}

template <class Out>
Status read_source_as(const Source& source, std::string_view name, std::span<Out> out,
                      const ReadElementsOptions& options) {
  const auto index = source.find(name);
  if (!index) return Error(ErrorCode::kNotFound, "no tensor named '" + std::string(name) + "'");
  OWF_RETURN_IF_ERROR(whole_tensor(source.tensor(*index), out));
  return read_source_elements(source, *index, 0, out, options);
}

template <class Out>
Status read_file_as(const File& file, std::string_view name, std::span<Out> out, const ReadElementsOptions& options) {
  OWF_ASSIGN_OR_RETURN(const TensorInfo t, file.tensor(name));
  OWF_RETURN_IF_ERROR(whole_tensor(t, out));
  return read_file_elements(file, t, 0, out, options);
}

}  // namespace

bool can_decode(DType dtype) { return internal::decode_kernels(dtype) != nullptr; }

Status decode_elements(DType dtype, std::span<const std::byte> bytes, std::span<float> out) {
  return decode_all(dtype, bytes, out);
}
Status decode_elements(DType dtype, std::span<const std::byte> bytes, std::span<double> out) {
  return decode_all(dtype, bytes, out);
}

Status read_elements(const Source& source, std::size_t tensor_index, std::uint64_t first_element, std::span<float> out,
                     const ReadElementsOptions& options) {
  return read_source_elements(source, tensor_index, first_element, out, options);
}
Status read_elements(const Source& source, std::size_t tensor_index, std::uint64_t first_element, std::span<double> out,
                     const ReadElementsOptions& options) {
  return read_source_elements(source, tensor_index, first_element, out, options);
}
Status read_elements(const File& file, const TensorInfo& tensor, std::uint64_t first_element, std::span<float> out,
                     const ReadElementsOptions& options) {
  return read_file_elements(file, tensor, first_element, out, options);
}
Status read_elements(const File& file, const TensorInfo& tensor, std::uint64_t first_element, std::span<double> out,
                     const ReadElementsOptions& options) {
  return read_file_elements(file, tensor, first_element, out, options);
}

Status read_as(const Source& source, std::string_view name, std::span<float> out, const ReadElementsOptions& options) {
  return read_source_as(source, name, out, options);
}
Status read_as(const Source& source, std::string_view name, std::span<double> out, const ReadElementsOptions& options) {
  return read_source_as(source, name, out, options);
}
Status read_as(const File& file, std::string_view name, std::span<float> out, const ReadElementsOptions& options) {
  return read_file_as(file, name, out, options);
}
Status read_as(const File& file, std::string_view name, std::span<double> out, const ReadElementsOptions& options) {
  return read_file_as(file, name, out, options);
}

}  // namespace owf
