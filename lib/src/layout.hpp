// The byte framing of an OWF file (spec/format.md, "Layout"):
//
//   [header 64 B][data section: tensors + zero padding][manifest][footer 64 B]
//
// Only this header and layout.cpp know the header and footer byte layout.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "owf/error.hpp"
#include "owf/metadata.hpp"
#include "owf/reader.hpp"

namespace owf::internal {

// PNG-style: a high-bit byte catches 7-bit transfers, CR LF and LF catch
// line-ending conversion, 0x1A stops `type` on DOS.
inline constexpr std::array<std::uint8_t, 8> kMagic = {0x89, 'O', 'W', 'F', '\r', '\n', 0x1A, '\n'};
inline constexpr std::uint64_t kHeaderSize = 64;
inline constexpr std::uint64_t kFooterSize = 64;
inline constexpr std::uint16_t kFormatMajor = 1;
/// The newest minor version this implementation reads and writes. Writers
/// write the oldest minor version whose content a file uses (its features).
inline constexpr std::uint16_t kFormatMinor = kFormatVersionMinor;
/// The manifest starts at a multiple of 8 so FlatBuffers scalars in a
/// memory-mapped file are naturally aligned.
inline constexpr std::uint64_t kManifestAlignment = 8;
inline constexpr std::uint64_t kMaxAlignment = 1ull << 21;

struct Footer {
  std::uint64_t manifest_offset = 0;
  std::uint64_t manifest_length = 0;
  Sha256Digest manifest_sha256{};
  Version version{kFormatMajor, 0};
};

std::array<std::byte, kHeaderSize> encode_header(std::uint16_t minor = 0);
std::array<std::byte, kFooterSize> encode_footer(const Footer& footer);
/// Checks magic, version and reserved bytes of the first 64 bytes.
Result<Version> decode_header(std::span<const std::byte, kHeaderSize> bytes);
/// Checks magic and reserved bytes of the last 64 bytes.
Result<Footer> decode_footer(std::span<const std::byte, kFooterSize> bytes, std::uint64_t footer_offset);

inline std::uint64_t align_up(std::uint64_t value, std::uint64_t alignment) {
  return (value + alignment - 1) & ~(alignment - 1);
}

inline bool is_power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

inline std::uint64_t load_u64(const std::byte* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;  // little-endian hosts only (static_assert in layout.cpp)
}
inline std::uint16_t load_u16(const std::byte* p) {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

}  // namespace owf::internal
