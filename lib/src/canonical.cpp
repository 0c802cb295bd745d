#include "canonical.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace owf::internal {
namespace {

bool is_packed(const DTypeInfo& info) { return info.block_elements > 1 && !info.row_blocked; }

// Bits used in the last logical byte of a packed tensor: 1..8.
unsigned bits_in_last_byte(const DTypeInfo& info, std::uint64_t elements) {
  const unsigned element_bits = 8 * info.block_bytes / info.block_elements;  // 4 or 6
  const unsigned tail = static_cast<unsigned>((elements % 8) * element_bits % 8);
  return tail == 0 ? 8 : tail;
}

std::string hex_byte(std::byte b) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  const auto v = std::to_integer<unsigned>(b);
  return std::string("0x") + kDigits[v >> 4] + kDigits[v & 15];
}

}  // namespace

std::optional<std::uint64_t> find_noncanonical_byte(DType dtype, std::uint64_t elements,
                                                    std::span<const std::byte> piece, std::uint64_t offset) {
  if (dtype == DType::kBool) {
    const auto it = std::find_if(piece.begin(), piece.end(), [](std::byte b) { return b > std::byte{1}; });
    if (it == piece.end()) return std::nullopt;
    return offset + static_cast<std::uint64_t>(it - piece.begin());
  }
  const auto info = dtype_info(dtype);
  if (!info || !is_packed(*info) || elements == 0) return std::nullopt;
  const unsigned used = bits_in_last_byte(*info, elements);
  if (used == 8) return std::nullopt;
  // The last logical byte; the size fits in 64 bits (a checked shape).
  const auto size = tensor_byte_size(dtype, std::array{elements});
  if (!size.ok() || *size == 0) return std::nullopt;
  const std::uint64_t last = *size - 1;
  if (last < offset || last - offset >= piece.size()) return std::nullopt;
  const auto unused_bits = static_cast<std::byte>(0xFF << used);
  if ((piece[last - offset] & unused_bits) == std::byte{0}) return std::nullopt;
  return last;
}

Status check_canonical_bytes(std::string_view tensor, DType dtype, std::uint64_t elements,
                             std::span<const std::byte> piece, std::uint64_t offset) {
  const auto at = find_noncanonical_byte(dtype, elements, piece, offset);
  if (!at) return {};
  const std::string where = "tensor '" + std::string(tensor.substr(0, 200)) + "': logical byte " + std::to_string(*at) +
                            " is " + hex_byte(piece[*at - offset]);
  if (dtype == DType::kBool) return Error(ErrorCode::kNonCanonicalTensorData, where + "; a BOOL is the byte 0 or 1");
  const auto info = dtype_info(dtype);
  return Error(ErrorCode::kNonCanonicalTensorData,
               where + "; the " + std::to_string(8 - bits_in_last_byte(*info, elements)) + " bits after the last " +
                   std::string(info->name) + " element must be zero");
}

}  // namespace owf::internal
