#include "cast_source.hpp"

#include <algorithm>
#include <cstring>
#include <new>
#include <string>

#include "formats/gguf/gguf_metadata.hpp"

namespace owf::internal {
namespace {

// Elements decoded and encoded at a time: 4 MiB of doubles.
constexpr std::uint64_t kPieceElements = 1u << 19;

std::string tensor_named(const TensorInfo& t) { return "tensor '" + std::string(t.name) + "'"; }

}  // namespace

Result<std::unique_ptr<CastSource>> CastSource::create(const Source& base, DType to, const EncodeOptions& encoding) {
  if (!can_encode(to))
    return Error(ErrorCode::kInvalidArgument, "cannot cast to " + std::string(dtype_name(to)) +
                                                  ": the cast targets are F32, F16, BF16, F64, F8_E4M3FN and F8_E5M2");
  std::vector<std::uint64_t> cast_bytes(base.tensor_count(), kNotCast);
  std::vector<std::vector<std::uint64_t>> shapes(base.tensor_count());
  ModelInfo model_info = base.info();
  for (std::size_t i = 0; i < base.tensor_count(); ++i) {
    const TensorInfo t = base.tensor(i);
    const auto info = dtype_info(t.dtype);
    if (!info) return Error(ErrorCode::kUnknownDtype, tensor_named(t) + " has an unknown dtype");
    if (t.dtype == to || (info->kind != DTypeClass::kFloat && info->kind != DTypeClass::kQuantized &&
                          info->kind != DTypeClass::kComplex))
      continue;
    if (!can_decode(t.dtype))
      return Error(
          ErrorCode::kUnsupported,
          tensor_named(t) + " has dtype " + std::string(info->name) + ", whose values cannot be cast to " +
              std::string(dtype_name(to)) +
              (info->kind == DTypeClass::kComplex ? " (they are complex)" : " (this library does not decode it)") +
              "; leave the tensor out of the conversion");
    auto bytes = tensor_byte_size(to, t.shape);
    if (!bytes.ok()) return Error(bytes.error().code(), tensor_named(t) + ": " + bytes.error().message());
    cast_bytes[i] = *bytes;
    // A GGUF block-type tensor whose rows do not fill whole blocks is read
    // flat, its shape kept in metadata (spec/interchange.md, GGUF); cast
    // to a plain dtype it takes that shape again, and the note goes.
    if (auto dims = gguf::file_shape(model_info, t.name, t.shape); dims.size() != t.shape.size()) {
      shapes[i] = std::move(dims);
      model_info.metadata.erase(gguf::file_shape_key(t.name));
    }
  }
  return std::unique_ptr<CastSource>(
      new CastSource(base, to, encoding, std::move(cast_bytes), std::move(model_info), std::move(shapes)));
}

std::size_t CastSource::cast_count() const {
  return static_cast<std::size_t>(
      std::count_if(cast_bytes_.begin(), cast_bytes_.end(), [](std::uint64_t b) { return b != kNotCast; }));
}

TensorInfo CastSource::tensor(std::size_t index) const {
  TensorInfo t = base_.tensor(index);
  if (!is_cast(index)) return t;
  t.dtype = to_;
  if (!shapes_[index].empty()) t.shape = shapes_[index];
  t.codec = Codec::kNone;
  t.logical_bytes = t.stored_bytes = cast_bytes_[index];
  t.sha256 = {};
  return t;
}

Status CastSource::read(std::size_t index, std::span<std::byte> out) const {
  if (!is_cast(index)) return base_.read(index, out);
  const TensorInfo t = base_.tensor(index);
  if (out.size() != cast_bytes_[index])
    return Error(ErrorCode::kInvalidArgument, tensor_named(t) + ": a buffer of " + std::to_string(out.size()) +
                                                  " bytes for " + std::to_string(cast_bytes_[index]));
  if (base_.ranged_reads()) return read_range(index, 0, out);
  // The base delivers the tensor only whole: read its stored elements once
  // and decode them piece by piece.
  std::unique_ptr<std::byte[]> raw(new (std::nothrow) std::byte[t.logical_bytes]);
  if (!raw && t.logical_bytes != 0)
    return Error(ErrorCode::kLimitExceeded,
                 tensor_named(t) + ": no memory for its " + std::to_string(t.logical_bytes) + " bytes");
  const std::span<std::byte> stored(raw.get(), static_cast<std::size_t>(t.logical_bytes));
  OWF_RETURN_IF_ERROR(base_.read(index, stored));
  const DTypeInfo from = *dtype_info(t.dtype);
  return cast_range(index, 0, out, [&](std::uint64_t first, std::span<double> values) -> Status {
    // Pieces start on a block boundary (cast_range aligns them).
    const std::uint64_t at = first / from.block_elements * from.block_bytes;
    const std::uint64_t count[] = {values.size()};
    OWF_ASSIGN_OR_RETURN(const std::uint64_t size, tensor_byte_size(t.dtype, count));
    if (at > stored.size() || size > stored.size() - at)
      return Error(ErrorCode::kTensorSizeMismatch,
                   tensor_named(t) + ": " + std::to_string(stored.size()) + " bytes do not hold its elements");
    return decode_elements(t.dtype, stored.subspan(at, size), values);
  });
}

Status CastSource::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  if (!is_cast(index)) return base_.read_range(index, offset, out);
  if (!base_.ranged_reads()) return Source::read_range(index, offset, out);  // read whole, then copied
  ReadElementsOptions options;
  options.threads = 1;  // the base is read in order: a checked source hashes it as it streams
  return cast_range(index, offset, out, [&](std::uint64_t first, std::span<double> values) {
    return read_elements(base_, index, first, values, options);
  });
}

Status CastSource::cast_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out,
                              const ElementReader& elements) const {
  const TensorInfo t = base_.tensor(index);
  const std::uint64_t size = cast_bytes_[index];
  if (offset > size || out.size() > size - offset)
    return Error(ErrorCode::kInvalidArgument, tensor_named(t) + ": bytes [" + std::to_string(offset) + ", +" +
                                                  std::to_string(out.size()) + ") are outside its " +
                                                  std::to_string(size));
  const std::uint64_t element_bytes = dtype_info(to_)->block_bytes;  // can_encode(): one element per block
  const std::uint64_t block = dtype_info(t.dtype)->block_elements;
  // Pieces end on multiples of `piece`, a whole number of the base's
  // blocks, so that consecutive ranges read the base without overlap.
  const std::uint64_t piece = std::max<std::uint64_t>(1, kPieceElements / block) * block;
  const std::uint64_t end = offset + out.size();
  const std::uint64_t first = offset / element_bytes;
  const std::uint64_t last = (end + element_bytes - 1) / element_bytes;
  const std::uint64_t most = std::min(piece, last - first);
  std::unique_ptr<double[]> values(new (std::nothrow) double[most]);
  std::unique_ptr<std::byte[]> encoded(new (std::nothrow) std::byte[most * element_bytes]);
  if (most != 0 && (!values || !encoded))
    return Error(ErrorCode::kLimitExceeded, tensor_named(t) + ": no memory to cast a piece");
  for (std::uint64_t e = first; e < last;) {
    const std::uint64_t next = std::min(last, (e / piece + 1) * piece);
    const auto n = static_cast<std::size_t>(next - e);
    const std::span<double> v(values.get(), n);
    const std::span<std::byte> bytes(encoded.get(), n * element_bytes);
    OWF_RETURN_IF_ERROR(elements(e, v));
    OWF_RETURN_IF_ERROR(encode_elements(std::span<const double>(v), to_, bytes, encoding_));
    const std::uint64_t lo = std::max(e * element_bytes, offset);
    const std::uint64_t hi = std::min(next * element_bytes, end);
    std::memcpy(out.data() + (lo - offset), bytes.data() + (lo - e * element_bytes), static_cast<std::size_t>(hi - lo));
    e = next;
  }
  return {};
}

}  // namespace owf::internal
