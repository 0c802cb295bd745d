// Choosing tensors by name (ConvertOptions::include and exclude): glob
// patterns matched against whole names, and a Source that shows only the
// chosen tensors of another.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "owf/source.hpp"

namespace owf::internal {

/// Whether `pattern` matches all of `name`, as fnmatch(3) without flags,
/// byte by byte: `*` any run of bytes ('.' and '/' included), `?` one
/// byte, `[...]` one byte of a set (ranges `a-z`; `[!...]` or `[^...]`
/// negates; `]` first is a member), `\` takes the next byte literally. A
/// `[` without its `]` is an ordinary byte.
bool glob_match(std::string_view pattern, std::string_view name);

/// Indices, in source order, of the tensors whose name matches an
/// `include` pattern (every tensor when `include` is empty) and no
/// `exclude` pattern. A pattern that matches no tensor of the source is an
/// error (invalid_argument naming it: a misspelt name must not pass
/// silently), and so is a selection of no tensor.
Result<std::vector<std::size_t>> select_tensors(const Source& source, std::span<const std::string> include,
                                                std::span<const std::string> exclude);

/// The tensors `indices` of `base` (which must outlive it), in that order.
/// Not an OWF file (owf_file() is null) even when `base` is: its weights
/// are a part of that file's.
class SelectedSource final : public Source {
 public:
  SelectedSource(const Source& base, std::vector<std::size_t> indices) : base_(base), indices_(std::move(indices)) {}

  Format format() const override { return base_.format(); }
  std::size_t tensor_count() const override { return indices_.size(); }
  TensorInfo tensor(std::size_t index) const override { return base_.tensor(indices_.at(index)); }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    return base_.read(indices_.at(index), out);
  }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    return base_.read_range(indices_.at(index), offset, out);
  }
  bool ranged_reads() const override { return base_.ranged_reads(); }
  const ModelInfo& info() const override { return base_.info(); }
  std::uint64_t alignment() const override { return base_.alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override {
    return base_.tensor_sha256(indices_.at(index));
  }

 private:
  const Source& base_;
  std::vector<std::size_t> indices_;
};

}  // namespace owf::internal
