// Casting on the way through convert() (ConvertOptions::cast_to): a Source
// whose floating-point and quantized tensors read as another floating-point
// dtype, decoded from the base source (owf/elements.hpp) and encoded again
// in bounded pieces, so that no tensor is ever held whole because its file
// declares it large.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "owf/elements.hpp"
#include "owf/source.hpp"

namespace owf::internal {

class CastSource final : public Source {
 public:
  /// Casts to `to` (one of can_encode()) every tensor of `base` (which must
  /// outlive the result) whose dtype is floating-point or quantized and not
  /// already `to`; integer and BOOL tensors read unchanged. Fails with
  /// unsupported, naming the tensor, for tensors whose values cannot be
  /// cast (complex ones, and the ggml types that have no decoding), and
  /// with shape_overflow for a tensor too large to exist in `to`.
  static Result<std::unique_ptr<CastSource>> create(const Source& base, DType to, const EncodeOptions& encoding);

  /// Whether tensor `index` is cast (its dtype is not the base's).
  bool is_cast(std::size_t index) const { return cast_bytes_.at(index) != kNotCast; }
  std::size_t cast_count() const;

  Format format() const override { return base_.format(); }
  std::size_t tensor_count() const override { return base_.tensor_count(); }
  TensorInfo tensor(std::size_t index) const override;
  Status read(std::size_t index, std::span<std::byte> out) const override;
  /// Bytes of a cast tensor come from the base's elements that cover the
  /// range, read in order in pieces aligned to whole blocks.
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override;
  bool ranged_reads() const override { return base_.ranged_reads(); }
  const ModelInfo& info() const override { return info_; }
  std::uint64_t alignment() const override { return base_.alignment(); }

 private:
  static constexpr std::uint64_t kNotCast = UINT64_MAX;
  CastSource(const Source& base, DType to, const EncodeOptions& encoding, std::vector<std::uint64_t> cast_bytes,
             ModelInfo info, std::vector<std::vector<std::uint64_t>> shapes)
      : base_(base),
        to_(to),
        encoding_(encoding),
        cast_bytes_(std::move(cast_bytes)),
        info_(std::move(info)),
        shapes_(std::move(shapes)) {}

  // Reads elements [first, first + out.size()) of the base tensor as numbers.
  using ElementReader = std::function<Status(std::uint64_t first, std::span<double> out)>;
  Status cast_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out,
                    const ElementReader& elements) const;

  const Source& base_;
  DType to_;
  EncodeOptions encoding_;
  std::vector<std::uint64_t> cast_bytes_;           // logical bytes once cast, kNotCast for tensors read unchanged
  ModelInfo info_;                                  // the base's, without the shapes cast tensors take back
  std::vector<std::vector<std::uint64_t>> shapes_;  // a cast tensor's shape when not the base's, else empty
};

}  // namespace owf::internal
