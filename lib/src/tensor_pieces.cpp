#include "tensor_pieces.hpp"

#include <algorithm>

namespace owf::internal {

Status for_each_piece(const Source& source, std::size_t index, std::vector<std::byte>& buffer,
                      const std::function<Status(std::span<const std::byte>)>& fn) {
  const TensorInfo t = source.tensor(index);
  if (!source.ranged_reads() || t.logical_bytes <= kTensorPieceBytes) {
    buffer.resize(static_cast<std::size_t>(t.logical_bytes));
    OWF_RETURN_IF_ERROR(source.read(index, buffer));
    return fn(buffer);
  }
  buffer.resize(static_cast<std::size_t>(kTensorPieceBytes));
  for (std::uint64_t at = 0; at < t.logical_bytes; at += kTensorPieceBytes) {
    const auto piece =
        std::span(buffer).first(static_cast<std::size_t>(std::min(kTensorPieceBytes, t.logical_bytes - at)));
    OWF_RETURN_IF_ERROR(source.read_range(index, at, piece));
    OWF_RETURN_IF_ERROR(fn(piece));
  }
  return {};
}

}  // namespace owf::internal
