// safetensors writer (spec/interchange.md, safetensors "Writing"): the
// layout of the official serializer, byte for byte; tensors streamed from
// the source in bounded pieces.
#include <algorithm>
#include <array>
#include <string>
#include <unordered_set>

#include "formats/formats.hpp"
#include "formats/safetensors/safetensors_format.hpp"
#include "formats/safetensors/safetensors_json.hpp"
#include "formats/safetensors/safetensors_metadata.hpp"
#include "rules.hpp"
#include "tensor_pieces.hpp"
#include "utf8.hpp"

namespace owf::internal {

using namespace safetensors;

Status write_safetensors(const Source& source, const std::filesystem::path& path, const OutputOptions& output) {
  struct Item {
    std::size_t index;
    TensorInfo info;
    const Dtype* dtype;
  };
  std::vector<Item> items;
  items.reserve(source.tensor_count());
  std::unordered_set<std::string_view> names;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    const std::string tn = "tensor '" + std::string(t.name) + "'";
    if (auto s = check_tensor_name(t.name, Limits{}); !s.ok()) return Error(s.code(), tn + ": " + s.error().message());
    if (t.name == kMetadataKey)
      return Error(ErrorCode::kForeignFormatUnsupported, tn + ": the name is reserved in safetensors");
    const Dtype* d = dtype_of(t.dtype);
    if (d == nullptr) return dtype_not_kept(Format::kSafetensors, t);
    if (!names.insert(t.name).second) return Error(ErrorCode::kDuplicateTensorName, tn + " appears twice");
    if (!fills_whole_bytes(*d, t.element_count))
      return Error(ErrorCode::kForeignFormatUnsupported,
                   tn + ": " + std::to_string(t.element_count) + " " + std::string(d->name) +
                       " elements do not fill whole bytes, which safetensors requires");
    OWF_ASSIGN_OR_RETURN(const std::uint64_t size, tensor_byte_size(t.dtype, t.shape));
    if (size != t.logical_bytes)
      return Error(ErrorCode::kTensorSizeMismatch, tn + ": " + std::to_string(t.logical_bytes) +
                                                       " logical bytes, but dtype x shape needs " +
                                                       std::to_string(size));
    items.push_back({i, t, d});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.dtype->rank != b.dtype->rank) return a.dtype->rank > b.dtype->rank;
    return a.info.name < b.info.name;
  });

  OWF_ASSIGN_OR_RETURN(auto metadata, encode_model_info(source.info()));
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!is_valid_utf8(k) || !is_valid_utf8(v))
        return Error(ErrorCode::kBadUtf8, "metadata entry '" + k + "' is not UTF-8");
      if (!first) header += ',';
      first = false;
      append_json_string(header, k);
      header += ':';
      append_json_string(header, v);
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    if (i > 0 || !metadata.empty()) header += ',';
    append_json_string(header, it.info.name);
    header += ":{\"dtype\":\"";
    header += it.dtype->name;
    header += "\",\"shape\":[";
    for (std::size_t d = 0; d < it.info.shape.size(); ++d) {
      if (d) header += ',';
      header += std::to_string(it.info.shape[d]);
    }
    header +=
        "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + it.info.logical_bytes) + "]}";
    if (it.info.logical_bytes > UINT64_MAX - offset)
      return Error(ErrorCode::kShapeOverflow, "the safetensors data buffer size overflows 64 bits");
    offset += it.info.logical_bytes;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderBytes)
    return Error(ErrorCode::kLimitExceeded, "the safetensors header would be " + std::to_string(header.size()) +
                                                " bytes, above the " + std::to_string(kMaxHeaderBytes) +
                                                "-byte limit readers enforce");

  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  std::array<std::byte, 8> len;
  for (std::size_t i = 0; i < 8; ++i) len[i] = static_cast<std::byte>((header.size() >> (8 * i)) & 0xFF);
  OWF_RETURN_IF_ERROR(out->write(len));
  OWF_RETURN_IF_ERROR(out->write(std::as_bytes(std::span(header))));
  PieceBuffer buffer;
  for (const Item& it : items)
    OWF_RETURN_IF_ERROR(
        for_each_piece(source, it.index, buffer, [&](std::span<const std::byte> piece) { return out->write(piece); }));
  return out->finish(true);
}
}  // namespace owf::internal
