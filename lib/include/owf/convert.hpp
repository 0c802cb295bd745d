// Converting weights between formats.
//
// Conversion streams: one tensor is in memory at a time (OWF sources are
// copied in pieces), so memory stays near the largest tensor, not the
// model. Tensor names, dtypes, shapes and bytes are kept exactly, so the
// weights digest of the result equals the source's.
//
// What is copied is checked: a source that stores digests (OWF) is checked
// tensor by tensor as its bytes stream through, and the target is read
// back before it appears under its name (ConvertOptions::check_output). A
// corrupt source never yields a target; the target appears complete and
// checked, or not at all.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
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
  /// Read the finished file back through its format's reader (an OWF target:
  /// full verification) and compare its weights digest with the source's
  /// before it replaces the target. The source's own stored digests are
  /// checked while copying either way.
  bool check_output = true;
};

/// What convert() wrote.
struct ConvertReport {
  Format format = Format::kOwf;
  std::size_t tensor_count = 0;
  /// The target's weights digest, as its reader will see it (equal to the
  /// source's, except that a .npy file names its tensor after the file).
  Sha256Digest weights_digest{};
  /// The target was read back and matched (check_output).
  bool checked = false;
  /// Model information the target format has no place for, e.g.
  /// "license", "hyperparameters (3)" (spec/interchange.md).
  std::vector<std::string> not_kept;
  /// Tensors whose name the target cannot keep: (name, name in the target).
  std::vector<std::pair<std::string, std::string>> renamed;
};

/// The model information the target gets: the source's, with `options`
/// applied.
OWF_API ModelInfo converted_info(const ModelInfo& source, const ConvertOptions& options);

/// Writes every tensor of `source` to `path` in format `to`. The target
/// appears complete and checked, or not at all; it replaces an existing
/// file only if options.write.overwrite (directories, devices, FIFOs and
/// sockets are never replaced).
OWF_API Result<ConvertReport> convert(const Source& source, const std::filesystem::path& path, Format to,
                                      const ConvertOptions& options = {});

}  // namespace owf
