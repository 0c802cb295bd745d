#pragma once

#include <string_view>

#include "owf/export.hpp"

namespace owf {

/// Library version (semantic versioning).
inline constexpr int kLibraryVersionMajor = 0;
inline constexpr int kLibraryVersionMinor = 1;
inline constexpr int kLibraryVersionPatch = 0;
/// The newest file format version this library writes and reads.
inline constexpr int kFormatVersionMajor = 1;
inline constexpr int kFormatVersionMinor = 0;

OWF_API std::string_view library_version();  // "0.1.0"

}  // namespace owf
