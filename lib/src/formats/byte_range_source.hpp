// A Source whose tensors are plain byte ranges of one ByteSource (GGUF,
// safetensors): every read is a read_at() of the range, so reading costs
// only the bytes asked for, a file that shrinks after it was opened is an
// io_error, and nothing is ever mapped.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "io/byte_source.hpp"
#include "owf/source.hpp"

namespace owf::internal {

/// A tensor of a ByteRangeSource: its TensorInfo (name and shape views are
/// filled in by the source) and the storage they view.
struct RangeTensor {
  std::string name;
  std::vector<std::uint64_t> shape;
  TensorInfo info;  // offset: absolute offset in the ByteSource; logical_bytes: its size
};

class ByteRangeSource : public Source {
 public:
  /// Precondition: every tensor's [offset, offset + logical_bytes) lies
  /// inside `bytes` (the reader checked it).
  ByteRangeSource(std::shared_ptr<const ByteSource> bytes, std::vector<RangeTensor> tensors);

  std::size_t tensor_count() const override { return tensors_.size(); }
  TensorInfo tensor(std::size_t index) const override { return tensors_.at(index).info; }
  Status read(std::size_t index, std::span<std::byte> out) const override;
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override;
  bool ranged_reads() const override { return true; }
  /// Hashed in pieces (never a whole tensor in memory).
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override;

 protected:
  const ByteSource& bytes() const { return *bytes_; }

 private:
  std::shared_ptr<const ByteSource> bytes_;
  std::vector<RangeTensor> tensors_;
};

}  // namespace owf::internal
