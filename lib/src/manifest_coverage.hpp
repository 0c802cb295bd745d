// Rule R35 (spec/format.md §4.8): every byte of the manifest belongs to
// exactly one object, so that decoding costs memory in proportion to the
// manifest and nothing hides in it.
//
// The FlatBuffers verifier accepts many offsets that point at one string,
// vector or table; a decoder that copies what each offset reaches can then
// be made to allocate far more than the manifest holds. This walk, run
// right after the verifier, follows every offset once, generically from
// the schema's reflection tables, and refuses a manifest in which two
// objects share or overlap bytes (vtables excepted: FlatBuffers builders
// share identical vtables), a table holds non-zero bytes outside its
// fields, or any byte outside all objects is non-zero.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "owf/error.hpp"

namespace owf::internal {

struct CoverageOptions {
  /// The file has a newer minor version than this reader implements: fields
  /// this reader does not know are allowed, and the bytes they reach (which
  /// it cannot walk) are not required to be zero.
  bool newer_minor = false;
  /// The file's minor version: a Manifest field introduced by a later minor
  /// version (rules.hpp, manifest_field_since) is refused.
  std::uint16_t file_minor = 0;
};

/// Precondition: `manifest` passed the FlatBuffers verifier for the
/// Manifest root type. Errors: manifest_invalid, naming the field path and
/// the manifest byte offsets at fault.
Status check_manifest_coverage(std::span<const std::byte> manifest, const CoverageOptions& options);

}  // namespace owf::internal
