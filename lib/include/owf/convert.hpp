// Converting weights between formats.
//
// Conversion streams: one tensor is in memory at a time (OWF sources are
// copied in pieces), so memory stays near the largest tensor, not the
// model. Tensor names, dtypes, shapes and bytes are kept exactly, so the
// weights digest of the result equals the source's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "owf/error.hpp"
#include "owf/metadata.hpp"
#include "owf/source.hpp"
#include "owf/writer.hpp"

namespace owf {

/// What to change in the model information on the way. Fields left empty
/// keep the source's value.
struct ConvertOptions {
  /// Replaces the source license. An OWF target needs a license: without
  /// one here or in the source, convert() fails with missing_license
  /// (NOASSERTION must be given explicitly).
  std::optional<License> license;
  /// Set (or replace) hyperparameters and metadata entries.
  std::map<std::string, Value> hyperparameters;
  std::map<std::string, std::string> metadata;
  /// Non-empty fields replace the source's provenance fields.
  Provenance provenance;
  /// OWF target: layout and compression. For GGUF targets only alignment
  /// is used (0 there: the source's alignment, else 32).
  WriteOptions write;
  /// false: an OWF target keeps an OWF source's alignment, else uses
  /// WriteOptions' default (64).
  bool alignment_given = false;
};

/// The model information the target gets: the source's, with `options`
/// applied.
OWF_API ModelInfo converted_info(const ModelInfo& source, const ConvertOptions& options);

/// Writes every tensor of `source` to `path` in format `to`. The target
/// appears complete or not at all.
OWF_API Status convert(const Source& source, const std::filesystem::path& path, Format to,
                       const ConvertOptions& options = {});

}  // namespace owf
