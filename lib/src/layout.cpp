#include "layout.hpp"

#include <bit>
#include <string>

namespace owf::internal {

static_assert(std::endian::native == std::endian::little,
              "OWF's reader maps little-endian data directly; big-endian hosts are not supported");

namespace {

// Header: magic[8] major:u16 minor:u16 reserved[52] = 0
// Footer: manifest_offset:u64 manifest_length:u64 manifest_sha256[32]
//         major:u16 minor:u16 reserved:u32 = 0 magic[8]
constexpr std::size_t kFooterVersionAt = 48;
constexpr std::size_t kFooterReservedAt = 52;
constexpr std::size_t kFooterMagicAt = 56;

void store_u64(std::byte* p, std::uint64_t v) { std::memcpy(p, &v, 8); }
void store_u16(std::byte* p, std::uint16_t v) { std::memcpy(p, &v, 2); }

bool all_zero(std::span<const std::byte> s) {
  for (auto b : s)
    if (b != std::byte{0}) return false;
  return true;
}

}  // namespace

std::array<std::byte, kHeaderSize> encode_header(std::uint16_t minor) {
  std::array<std::byte, kHeaderSize> h{};
  std::memcpy(h.data(), kMagic.data(), kMagic.size());
  store_u16(h.data() + 8, kFormatMajor);
  store_u16(h.data() + 10, minor);
  return h;
}

std::array<std::byte, kFooterSize> encode_footer(const Footer& footer) {
  std::array<std::byte, kFooterSize> f{};
  store_u64(f.data(), footer.manifest_offset);
  store_u64(f.data() + 8, footer.manifest_length);
  std::memcpy(f.data() + 16, footer.manifest_sha256.data(), 32);
  store_u16(f.data() + kFooterVersionAt, footer.version.major);
  store_u16(f.data() + kFooterVersionAt + 2, footer.version.minor);
  std::memcpy(f.data() + kFooterMagicAt, kMagic.data(), kMagic.size());
  return f;
}

Result<Version> decode_header(std::span<const std::byte, kHeaderSize> bytes) {
  if (std::memcmp(bytes.data(), kMagic.data(), kMagic.size()) != 0) {
    // Name the likely cause when the magic survived but its line-ending
    // bytes did not: the file went through a text-mode transfer.
    if (std::memcmp(bytes.data() + 1, "OWF", 3) == 0)
      return Error(ErrorCode::kBadMagic, "header magic at offset 0 is damaged (text-mode transfer?)");
    return Error(ErrorCode::kBadMagic, "not an OWF file: no OWF magic at offset 0");
  }
  Version v{load_u16(bytes.data() + 8), load_u16(bytes.data() + 10)};
  if (v.major != kFormatMajor)
    return Error(ErrorCode::kUnsupportedVersion,
                 "format version " + std::to_string(v.major) + "." + std::to_string(v.minor) +
                     " (offset 8): this reader reads major version " + std::to_string(kFormatMajor));
  if (!all_zero(bytes.subspan(12)))
    return Error(ErrorCode::kBadHeader, "reserved header bytes at offsets 12..63 are not zero");
  return v;
}

Result<Footer> decode_footer(std::span<const std::byte, kFooterSize> bytes, std::uint64_t footer_offset) {
  if (std::memcmp(bytes.data() + kFooterMagicAt, kMagic.data(), kMagic.size()) != 0)
    return Error(ErrorCode::kBadFooterMagic, "no OWF magic at the end of the file (offset " +
                                                 std::to_string(footer_offset + kFooterMagicAt) +
                                                 "): truncated or not fully written?");
  Footer f;
  f.manifest_offset = load_u64(bytes.data());
  f.manifest_length = load_u64(bytes.data() + 8);
  std::memcpy(f.manifest_sha256.data(), bytes.data() + 16, 32);
  f.version = {load_u16(bytes.data() + kFooterVersionAt), load_u16(bytes.data() + kFooterVersionAt + 2)};
  if (!all_zero(bytes.subspan(kFooterReservedAt, 4)))
    return Error(ErrorCode::kBadFooter, "reserved footer bytes at offset " +
                                            std::to_string(footer_offset + kFooterReservedAt) + " are not zero");
  return f;
}

}  // namespace owf::internal
