// The zip records OWF reads and writes (PKWARE APPNOTE 6.3.x, sections 4.3
// and 4.5): signatures, fixed record sizes and the sentinel values that
// send a reader to the ZIP64 records. Shared by zip_archive.cpp (reading)
// and zip_writer.cpp (writing), so that both speak of the same bytes.
#pragma once

#include <cstdint>

namespace owf::internal::zip {

inline constexpr std::uint32_t kLocalHeaderSignature = 0x04034b50;
inline constexpr std::uint32_t kCentralHeaderSignature = 0x02014b50;
inline constexpr std::uint32_t kEndSignature = 0x06054b50;
inline constexpr std::uint32_t kZip64EndSignature = 0x06064b50;
inline constexpr std::uint32_t kZip64LocatorSignature = 0x07064b50;

inline constexpr std::uint64_t kLocalHeaderBytes = 30;    // before the name and extra field
inline constexpr std::uint64_t kCentralHeaderBytes = 46;  // before the name, extra field and comment
inline constexpr std::uint64_t kEndBytes = 22;            // before the archive comment
inline constexpr std::uint64_t kZip64EndBytes = 56;       // ZIP64 end record without extensible data
inline constexpr std::uint64_t kZip64LocatorBytes = 20;
inline constexpr std::uint64_t kMaxCommentBytes = 0xFFFF;

inline constexpr std::uint16_t kZip64ExtraId = 0x0001;

// A classic 16- or 32-bit field holding this value defers to the ZIP64 record.
inline constexpr std::uint16_t kZip64Count = 0xFFFF;
inline constexpr std::uint32_t kZip64Size = 0xFFFFFFFF;

// General purpose flags.
inline constexpr std::uint16_t kFlagEncrypted = 1u << 0;
inline constexpr std::uint16_t kFlagDataDescriptor = 1u << 3;
inline constexpr std::uint16_t kFlagStrongEncryption = 1u << 6;
inline constexpr std::uint16_t kFlagUtf8 = 1u << 11;
inline constexpr std::uint16_t kFlagMaskedHeaders = 1u << 13;

// Compression methods.
inline constexpr std::uint16_t kMethodStored = 0;
inline constexpr std::uint16_t kMethodDeflated = 8;

// "Version needed to extract": 2.0 for plain entries, 4.5 for ZIP64 ones.
inline constexpr std::uint16_t kVersion20 = 20;
inline constexpr std::uint16_t kVersion45 = 45;

// Deflate cannot expand a byte of input to more than 1032 bytes of output
// (258-byte matches coded in 2 bits); a larger declared ratio is a lie.
inline constexpr std::uint64_t kMaxDeflateRatio = 1032;
inline constexpr std::uint64_t kDeflateSlack = 1024;

}  // namespace owf::internal::zip
