#include "formats/byte_range_source.hpp"

#include "sha256.hpp"
#include "tensor_pieces.hpp"

namespace owf::internal {

ByteRangeSource::ByteRangeSource(std::shared_ptr<const ByteSource> bytes, std::vector<RangeTensor> tensors)
    : bytes_(std::move(bytes)), tensors_(std::move(tensors)) {
  // The views point into this object's own vector, which never changes again.
  for (RangeTensor& t : tensors_) {
    t.info.name = t.name;
    t.info.shape = t.shape;
    t.info.codec = Codec::kNone;
    t.info.stored_bytes = t.info.logical_bytes;
  }
}

Status ByteRangeSource::read(std::size_t index, std::span<std::byte> out) const {
  if (index >= tensors_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
  const TensorInfo& t = tensors_[index].info;
  if (out.size() != t.logical_bytes)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(t.name) + "': output buffer has " +
                                                  std::to_string(out.size()) + " bytes, needs " +
                                                  std::to_string(t.logical_bytes));
  return bytes_->read_at(t.offset, out);
}

Status ByteRangeSource::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  if (index >= tensors_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
  const TensorInfo& t = tensors_[index].info;
  if (offset > t.logical_bytes || out.size() > t.logical_bytes - offset)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(t.name) + "': range [" + std::to_string(offset) +
                                                  ", +" + std::to_string(out.size()) + ") is outside its " +
                                                  std::to_string(t.logical_bytes) + " bytes");
  return bytes_->read_at(t.offset + offset, out);
}

Result<Sha256Digest> ByteRangeSource::tensor_sha256(std::size_t index) const {
  Sha256 hash;
  PieceBuffer buffer;
  OWF_RETURN_IF_ERROR(for_each_piece(*this, index, buffer, [&](std::span<const std::byte> piece) {
    hash.update(piece);
    return Status();
  }));
  return hash.finish();
}

}  // namespace owf::internal
