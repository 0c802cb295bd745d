#include "formats/view_source.hpp"

namespace owf::internal {

TensorInfo ViewSource::tensor(std::size_t index) const {
  const TensorView& v = views_.at(index);
  TensorInfo t;
  t.name = v.name;
  t.dtype = v.dtype;
  t.shape = v.layout.shape;
  t.role = v.role;
  t.codec = Codec::kNone;
  t.offset = v.offset;
  t.stored_bytes = v.stored_bytes;
  t.logical_bytes = v.logical_bytes;
  t.element_count = v.element_count;
  return t;
}

Status ViewSource::read(std::size_t index, std::span<std::byte> out) const {
  if (index >= views_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
  const TensorView& v = views_[index];
  if (out.size() != v.logical_bytes)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + v.name + "': buffer of " + std::to_string(out.size()) +
                                                  " bytes for " + std::to_string(v.logical_bytes) + " logical bytes");
  return read_range(index, 0, out);
}

Status ViewSource::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  if (index >= views_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
  const TensorView& v = views_[index];
  if (offset > v.logical_bytes || out.size() > v.logical_bytes - offset)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + v.name + "': range [" + std::to_string(offset) + ", +" +
                                                  std::to_string(out.size()) + ") is outside its " +
                                                  std::to_string(v.logical_bytes) + " bytes");
  const Status s = read_strided(*v.bytes, v.layout, offset, out);
  if (!s.ok()) return Error(s.code(), "tensor '" + v.name + "': " + s.error().message());
  return {};
}

}  // namespace owf::internal
