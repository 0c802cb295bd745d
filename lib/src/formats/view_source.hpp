// A Source whose tensors are strided views over byte sources: what the
// NumPy (.npy, .npz) and PyTorch readers build once they have validated a
// file. Every read, whole or by range, goes through read_strided(), so
// ranged_reads() holds for every tensor, however it is laid out.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "formats/strided_read.hpp"
#include "io/byte_source.hpp"
#include "owf/source.hpp"

namespace owf::internal {

struct TensorView {
  std::string name;
  DType dtype = DType::kU8;
  Role role = Role::kOther;
  /// Where the stored elements are; the layout says which ones, in which
  /// order. The reader checked that every element lies inside `bytes`.
  std::shared_ptr<const ByteSource> bytes;
  StridedLayout layout;
  std::uint64_t logical_bytes = 0;
  std::uint64_t element_count = 0;
  std::uint64_t offset = 0;        // TensorInfo::offset, in the format's terms
  std::uint64_t stored_bytes = 0;  // TensorInfo::stored_bytes
};

class ViewSource final : public Source {
 public:
  ViewSource(Format format, std::vector<TensorView> views, ModelInfo info)
      : format_(format), views_(std::move(views)), info_(std::move(info)) {}

  Format format() const override { return format_; }
  std::size_t tensor_count() const override { return views_.size(); }
  TensorInfo tensor(std::size_t index) const override;
  Status read(std::size_t index, std::span<std::byte> out) const override;
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override;
  bool ranged_reads() const override { return true; }
  const ModelInfo& info() const override { return info_; }

 private:
  Format format_;
  std::vector<TensorView> views_;
  ModelInfo info_;
};

}  // namespace owf::internal
