#pragma once

#include <cstdint>
#include <string_view>

#include "owf/export.hpp"

namespace owf {

/// A file format version, major.minor (spec/versioning.md).
struct Version {
  std::uint16_t major = 0;
  std::uint16_t minor = 0;
};

/// Library version (semantic versioning).
inline constexpr int kLibraryVersionMajor = 0;
inline constexpr int kLibraryVersionMinor = 1;
inline constexpr int kLibraryVersionPatch = 0;
/// The newest file format version this library writes and reads.
inline constexpr int kFormatVersionMajor = 1;
inline constexpr int kFormatVersionMinor = 3;

OWF_API std::string_view library_version();  // "0.1.0"

}  // namespace owf
