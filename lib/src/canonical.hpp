// Canonical tensor bytes (spec/format.md §5, rule R36): every value has
// exactly one encoding in a tensor's logical bytes, so that equal weights
// have equal digests. A BOOL element is the byte 0 or 1; in a packed tensor
// (F4_E2M1, F6_E2M3, F6_E3M2) the bits of the last byte after the last
// element are zero. Every other dtype has no non-canonical bytes.
//
// The check takes the logical bytes piece by piece, as verification and
// the writer see them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "owf/dtype.hpp"
#include "owf/error.hpp"

namespace owf::internal {

/// The offset, within the tensor's logical bytes, of the first
/// non-canonical byte of `piece`, which holds logical bytes
/// [offset, offset + piece.size()) of a tensor of `dtype` with `elements`
/// elements; nullopt when the piece is canonical.
std::optional<std::uint64_t> find_noncanonical_byte(DType dtype, std::uint64_t elements,
                                                    std::span<const std::byte> piece, std::uint64_t offset);

/// The same as a Status: noncanonical_tensor_data naming the tensor, the
/// byte and its value.
Status check_canonical_bytes(std::string_view tensor, DType dtype, std::uint64_t elements,
                             std::span<const std::byte> piece, std::uint64_t offset);

}  // namespace owf::internal
