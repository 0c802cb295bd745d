#include "tensor_pieces.hpp"

#include <algorithm>
#include <exception>
#include <string>

namespace owf::internal {

Result<std::span<std::byte>> PieceBuffer::get(std::uint64_t size, std::string_view tensor) {
  if (size > capacity_) {
    const auto too_large = [&] {
      return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(tensor) + "': " + std::to_string(size) +
                                                  " bytes do not fit in memory (its source cannot read pieces)");
    };
    if (size > SIZE_MAX / 2) return too_large();
    data_.reset();
    capacity_ = 0;
    try {
      data_ = std::make_unique_for_overwrite<std::byte[]>(static_cast<std::size_t>(size));
    } catch (const std::exception&) {  // bad_alloc
      return too_large();
    }
    capacity_ = size;
  }
  return std::span<std::byte>(data_.get(), static_cast<std::size_t>(size));
}

Status for_each_piece(const Source& source, std::size_t index, PieceBuffer& buffer,
                      const std::function<Status(std::span<const std::byte>)>& sink) {
  const TensorInfo t = source.tensor(index);
  const std::uint64_t size = t.logical_bytes;
  const bool ranged = source.ranged_reads() && size > kPieceBytes;
  OWF_ASSIGN_OR_RETURN(const std::span<std::byte> space, buffer.get(ranged ? kPieceBytes : size, t.name));
  const auto in_tensor = [&](const Status& s) -> Status {
    if (s.ok()) return s;
    return Error(s.code(), "tensor '" + std::string(t.name) + "': " + s.error().message());
  };
  if (!ranged) {
    OWF_RETURN_IF_ERROR(in_tensor(source.read(index, space)));
    return sink(space);
  }
  for (std::uint64_t done = 0; done < size;) {
    const auto piece = space.first(static_cast<std::size_t>(std::min(kPieceBytes, size - done)));
    OWF_RETURN_IF_ERROR(in_tensor(source.read_range(index, done, piece)));
    OWF_RETURN_IF_ERROR(sink(piece));
    done += piece.size();
  }
  return {};
}

}  // namespace owf::internal
