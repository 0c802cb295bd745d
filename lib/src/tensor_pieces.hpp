// Streaming a tensor of any Source in bounded pieces, so that no writer or
// hash holds a whole tensor because a file declares it large.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>

#include "owf/source.hpp"

namespace owf::internal {

/// The size of a piece: large enough that per-read costs vanish, small
/// enough to be negligible next to the model.
inline constexpr std::uint64_t kPieceBytes = 8ull << 20;

/// Memory reused across pieces and tensors; never zero-filled (every byte
/// handed out is overwritten by a read).
class PieceBuffer {
 public:
  /// `size` bytes; limit_exceeded (naming `tensor`) when they cannot be had.
  Result<std::span<std::byte>> get(std::uint64_t size, std::string_view tensor);

 private:
  std::unique_ptr<std::byte[]> data_;
  std::uint64_t capacity_ = 0;
};

/// Hands the logical bytes of tensor `index` of `source` to `sink`, in
/// order. Sources with ranged reads are read in pieces of at most
/// kPieceBytes; others whole (their read() has no other form). Errors name
/// the tensor.
Status for_each_piece(const Source& source, std::size_t index, PieceBuffer& buffer,
                      const std::function<Status(std::span<const std::byte>)>& sink);

}  // namespace owf::internal
