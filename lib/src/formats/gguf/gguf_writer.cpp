// GGUF writer (spec/interchange.md, GGUF "Writing"): a v3 file laid out as
// llama.cpp's and gguf-py's writers lay it out, tensors in the recorded
// GGUF order, streamed from the source in bounded pieces.
#include <algorithm>
#include <string>
#include <unordered_map>

#include "formats/formats.hpp"
#include "formats/gguf/gguf_format.hpp"
#include "formats/gguf/gguf_metadata.hpp"
#include "formats/gguf/gguf_split.hpp"
#include "formats/gguf/gguf_values.hpp"
#include "layout.hpp"
#include "rules.hpp"
#include "tensor_pieces.hpp"

namespace owf::internal {

namespace {

using namespace gguf;

constexpr std::string_view kAlignmentKey = "general.alignment";

struct OutTensor {
  std::size_t index;
  TensorInfo info;
  std::uint32_t ggml_type = 0;
  std::vector<std::uint64_t> dims;  // row-major; written reversed
  std::uint64_t relative = 0;
};

/// Checks a tensor against what OWF and GGUF can hold; refusals name it.
Result<OutTensor> out_tensor(const Source& source, std::size_t index) {
  const TensorInfo info = source.tensor(index);
  const std::string who = "tensor '" + std::string(info.name) + "'";
  if (auto s = check_tensor_name(info.name, Limits{}); !s.ok())
    return Error(s.code(), who + ": " + s.error().message());
  if (info.name.size() >= kGgmlMaxName)
    return Error(ErrorCode::kForeignFormatUnsupported, who + ": GGUF tensor names must be shorter than " +
                                                           std::to_string(kGgmlMaxName) + " bytes (ggml's limit)");
  const auto ggml = ggml_from_dtype(info.dtype);
  if (!ggml) return dtype_not_kept(Format::kGguf, info);
  OutTensor t{index, info, *ggml, file_shape(source.info(), info.name, info.shape), 0};
  if (t.dims.size() > kMaxDims)
    return Error(ErrorCode::kForeignFormatUnsupported,
                 who + " has rank " + std::to_string(t.dims.size()) + "; GGUF allows at most 4 dimensions");
  for (std::uint64_t d : t.dims)
    if (d > static_cast<std::uint64_t>(INT64_MAX))
      return Error(ErrorCode::kForeignFormatUnsupported, who + " has a dimension above 2^63-1");
  OWF_ASSIGN_OR_RETURN(const std::uint64_t size, tensor_byte_size(info.dtype, info.shape));
  if (size != info.logical_bytes)
    return Error(ErrorCode::kTensorSizeMismatch, who + ": " + std::to_string(info.logical_bytes) +
                                                     " logical bytes, but dtype x shape needs " + std::to_string(size));
  return t;
}

/// GGUF's tensor order: the names recorded in gguf.tensor_order first, in
/// that order, then the other tensors in data order.
void put_in_gguf_order(std::vector<OutTensor>& tensors, const ModelInfo& info) {
  std::stable_sort(tensors.begin(), tensors.end(),
                   [](const OutTensor& a, const OutTensor& b) { return a.info.offset < b.info.offset; });
  const std::vector<std::string> order = recorded_tensor_order(info);
  if (order.empty()) return;
  std::unordered_map<std::string_view, std::size_t> rank;
  for (std::size_t i = 0; i < order.size(); ++i) rank.emplace(order[i], i);
  const auto rank_of = [&](const OutTensor& t) {
    const auto it = rank.find(t.info.name);
    return it == rank.end() ? order.size() : it->second;
  };
  std::stable_sort(tensors.begin(), tensors.end(),
                   [&](const OutTensor& a, const OutTensor& b) { return rank_of(a) < rank_of(b); });
}

/// alignment 0: general.alignment if the source has it, the GGUF source's
/// own alignment, else GGUF's default. An OWF file's alignment is its own
/// and is not carried over.
Result<std::uint64_t> choose_alignment(const Source& source, std::uint64_t requested) {
  std::uint64_t a = requested;
  if (a == 0) {
    const auto& hp = source.info().hyperparameters;
    if (auto it = hp.find(std::string(kAlignmentKey)); it != hp.end()) {
      if (const auto* v = std::get_if<std::int64_t>(&it->second.data)) a = static_cast<std::uint64_t>(*v);
    }
  }
  if (a == 0) a = source.format() == Format::kGguf && source.alignment() != 0 ? source.alignment() : kDefaultAlignment;
  if (!is_power_of_two(a) || a > kMaxAlignment)
    return Error(ErrorCode::kBadAlignment, "GGUF alignment " + std::to_string(a) +
                                               " is not a power of two between 1 and " + std::to_string(kMaxAlignment));
  return a;
}

using Kvs = std::vector<std::pair<std::string, EncodedValue>>;

/// The pairs of one split of a set, as gguf-split writes them: the model's
/// pairs in the first split only, then split.no, split.count and
/// split.tensors.count (any split.* pair of the model's is replaced).
Result<Kvs> split_kvs(const Source& source, std::uint64_t align, const GgufSplit& split) {
  if (split.count < 1 || split.no >= split.count || split.tensors_count < 0 ||
      source.tensor_count() > static_cast<std::uint64_t>(split.tensors_count))
    return Error(ErrorCode::kInvalidArgument,
                 "GGUF split " + std::to_string(split.no) + " of " + std::to_string(split.count) + " with " +
                     std::to_string(source.tensor_count()) + " of " + std::to_string(split.tensors_count) +
                     " tensors: split.no must be below split.count and the split's tensors at most "
                     "split.tensors.count");
  Kvs kvs;
  if (split.no == 0) {
    OWF_ASSIGN_OR_RETURN(kvs, kvs_from_model_info(source.info(), align));
    std::erase_if(kvs, [](const auto& kv) { return kv.first.starts_with(kSplitKeyPrefix); });
  } else if (align != kDefaultAlignment) {
    kvs.emplace_back(std::string(kAlignmentKey), encode_u32(static_cast<std::uint32_t>(align)));
  }
  const std::pair<std::string_view, Value> keys[] = {
      {kSplitNoKey, Value(std::int64_t{split.no}, IntType::kU16)},
      {kSplitCountKey, Value(std::int64_t{split.count}, IntType::kU16)},
      {kSplitTensorsCountKey, Value(std::int64_t{split.tensors_count}, IntType::kI32)}};
  for (const auto& [key, value] : keys) {
    OWF_ASSIGN_OR_RETURN(EncodedValue v, encode_value(key, value));
    kvs.emplace_back(std::string(key), std::move(v));
  }
  return kvs;
}

}  // namespace

Status write_gguf(const Source& source, const std::filesystem::path& path, std::uint64_t alignment,
                  const OutputOptions& output, const std::optional<GgufSplit>& split) {
  OWF_ASSIGN_OR_RETURN(const std::uint64_t align, choose_alignment(source, alignment));

  std::vector<OutTensor> tensors;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    OWF_ASSIGN_OR_RETURN(OutTensor t, out_tensor(source, i));
    tensors.push_back(std::move(t));
  }
  put_in_gguf_order(tensors, source.info());
  std::uint64_t end = 0;
  for (auto& t : tensors) {
    t.relative = end;
    if (t.info.logical_bytes > UINT64_MAX - align || end > UINT64_MAX - align - t.info.logical_bytes)
      return Error(ErrorCode::kShapeOverflow,
                   "tensor '" + std::string(t.info.name) + "': the GGUF data section would be larger than 2^64 bytes");
    end = align_up(end + t.info.logical_bytes, align);
  }

  OWF_ASSIGN_OR_RETURN(const Kvs kvs,
                       split ? split_kvs(source, align, *split) : kvs_from_model_info(source.info(), align));

  Encoder head;
  head.raw(std::as_bytes(std::span(gguf::kMagic.data(), gguf::kMagic.size())));
  head.put<std::uint32_t>(kWriteVersion);
  head.put<std::uint64_t>(tensors.size());
  head.put<std::uint64_t>(kvs.size());
  for (const auto& [key, kv] : kvs) {
    head.str(key);
    head.put<std::uint32_t>(kv.type);
    head.raw(kv.payload);
  }
  for (const auto& t : tensors) {
    head.str(t.info.name);
    head.put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
    for (std::size_t d = t.dims.size(); d-- > 0;) head.put<std::int64_t>(static_cast<std::int64_t>(t.dims[d]));
    head.put<std::uint32_t>(t.ggml_type);
    head.put<std::uint64_t>(t.relative);
  }

  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  OWF_RETURN_IF_ERROR(out->write(head.bytes()));
  if (!tensors.empty()) {
    // Canonical layout (llama.cpp's and gguf-py's writers): the data section
    // and every tensor padded to the alignment. A file without tensors ends
    // after its header, as vocabulary-only files do.
    OWF_RETURN_IF_ERROR(out->pad_to(align));
    PieceBuffer buffer;
    for (const auto& t : tensors) {
      OWF_RETURN_IF_ERROR(
          for_each_piece(source, t.index, buffer, [&](std::span<const std::byte> piece) { return out->write(piece); }));
      OWF_RETURN_IF_ERROR(out->pad_to(align));
    }
  }
  return out->finish(true);
}

}  // namespace owf::internal
