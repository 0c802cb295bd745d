// Streaming one tensor of a Source in bounded pieces, for every consumer
// that must not hold a tensor whole because a file declares it large
// (digests, writers of foreign formats).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "owf/source.hpp"

namespace owf::internal {

/// Bytes per piece when a tensor is streamed.
inline constexpr std::uint64_t kTensorPieceBytes = 8ull << 20;

/// Calls `fn` on the logical bytes of tensor `index`, in order: in pieces
/// of at most kTensorPieceBytes when the source reads ranges, else whole
/// (a source without ranged reads holds the tensor anyway). `buffer` is
/// reused between calls.
Status for_each_piece(const Source& source, std::size_t index, std::vector<std::byte>& buffer,
                      const std::function<Status(std::span<const std::byte>)>& fn);

}  // namespace owf::internal
