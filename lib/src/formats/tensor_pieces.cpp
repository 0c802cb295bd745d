#include "formats/tensor_pieces.hpp"

#include <algorithm>
#include <exception>
#include <string>

namespace owf::internal {

Status for_each_piece(const Source& source, std::size_t index, std::vector<std::byte>& buffer,
                      const std::function<Status(std::span<const std::byte>)>& sink) {
  const TensorInfo t = source.tensor(index);
  const std::uint64_t size = t.logical_bytes;
  const bool ranged = source.ranged_reads() && size > kPieceBytes;
  const std::uint64_t piece_size = ranged ? kPieceBytes : size;
  if (buffer.size() < piece_size) {
    buffer.clear();
    buffer.shrink_to_fit();
    try {
      buffer.resize(static_cast<std::size_t>(piece_size));
    } catch (const std::exception&) {  // bad_alloc, length_error
      return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(t.name) + "': " + std::to_string(size) +
                                                  " bytes do not fit in memory (its source cannot read pieces)");
    }
  }
  const auto in_tensor = [&](const Status& s) -> Status {
    if (s.ok()) return s;
    return Error(s.code(), "tensor '" + std::string(t.name) + "': " + s.error().message());
  };
  if (!ranged) {
    const auto whole = std::span(buffer).first(static_cast<std::size_t>(size));
    OWF_RETURN_IF_ERROR(in_tensor(source.read(index, whole)));
    return sink(whole);
  }
  for (std::uint64_t done = 0; done < size;) {
    const auto n = static_cast<std::size_t>(std::min(piece_size, size - done));
    const auto piece = std::span(buffer).first(n);
    OWF_RETURN_IF_ERROR(in_tensor(source.read_range(index, done, piece)));
    OWF_RETURN_IF_ERROR(sink(piece));
    done += n;
  }
  return {};
}

}  // namespace owf::internal
