// A Source made up in memory, for testing writers with what no reader
// produces: names a file format cannot hold, tensors declared far larger
// than any buffer, sources whose reads fail part-way.
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include "owf/source.hpp"

namespace owf::test {

struct FakeTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  std::uint64_t offset = 0;  // TensorInfo::offset (data order)
  std::uint8_t salt = 0;     // added to every byte, so that tensors differ
};

class FakeSource final : public Source {
 public:
  /// Reads return bytes equal to the low byte of their offset in the tensor
  /// (plus the tensor's salt), and fail (io_error) at or beyond `readable`
  /// bytes into a tensor.
  FakeSource(std::vector<FakeTensor> tensors, bool ranged, std::uint64_t readable = UINT64_MAX, ModelInfo info = {})
      : tensors_(std::move(tensors)), ranged_(ranged), readable_(readable), info_(std::move(info)) {}

  Format format() const override { return Format::kOwf; }
  std::size_t tensor_count() const override { return tensors_.size(); }
  TensorInfo tensor(std::size_t index) const override {
    const FakeTensor& t = tensors_.at(index);
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.offset = t.offset;
    info.element_count = element_count(t.shape).value();
    info.logical_bytes = info.stored_bytes = tensor_byte_size(t.dtype, t.shape).value();
    return info;
  }
  Status read(std::size_t index, std::span<std::byte> out) const override { return fill(index, 0, out); }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    if (!ranged_) return Source::read_range(index, offset, out);
    return fill(index, offset, out);
  }
  bool ranged_reads() const override { return ranged_; }
  const ModelInfo& info() const override { return info_; }

  /// The largest piece any read asked for.
  std::uint64_t largest_read() const { return largest_read_; }

 private:
  Status fill(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
    largest_read_ = std::max<std::uint64_t>(largest_read_, out.size());
    if (offset + out.size() > readable_)
      return Error(ErrorCode::kIoError,
                   "fake read of tensor " + std::to_string(index) + " at " + std::to_string(offset) + " fails");
    const std::uint8_t salt = tensors_.at(index).salt;
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::byte>((offset + i + salt) & 0xFF);
    return {};
  }

  std::vector<FakeTensor> tensors_;
  bool ranged_;
  std::uint64_t readable_;
  ModelInfo info_;
  mutable std::uint64_t largest_read_ = 0;
};

}  // namespace owf::test
