// Converting weights between formats.
//
// Conversion streams: one tensor is in memory at a time (OWF sources are
// copied in pieces), so memory stays near the largest tensor, not the
// model. Tensor names, dtypes, shapes and bytes are kept exactly, so the
// weights digest of the result equals the source's, unless the options
// leave tensors out (include, exclude) or cast them (cast_to).
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

#include "owf/dtype.hpp"
#include "owf/elements.hpp"
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
  /// Read the finished file back through its format's reader and compare
  /// its weights digest with the source's before it replaces the target.
  /// An OWF target is fully verified: every digest against the file's
  /// bytes, where uncompressed tensors of 1 MiB or more were already hashed
  /// from the file's own bytes as they were written (WriteOptions::threads)
  /// and are not hashed twice. The source's own stored digests are checked
  /// while copying either way.
  bool check_output = true;

  /// Tensors to convert, chosen by name with glob patterns matched against
  /// whole names (`*`, `?`, `[...]`, as fnmatch(3) without flags: `*`
  /// crosses dots; character classes such as `[:alpha:]` are not
  /// supported). Matching takes time proportional to pattern x name. A tensor is converted when it matches an `include`
  /// pattern (or `include` is empty) and no `exclude` pattern. A pattern
  /// that matches no tensor of the source, or a choice that leaves no
  /// tensor, fails with invalid_argument naming it.
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  /// Cast floating-point and quantized tensors (the latter dequantized,
  /// spec/format.md §5.1) to this dtype, one of can_encode(): F32, F16,
  /// BF16, F64, F8_E4M3FN, F8_E5M2. Integer and BOOL tensors are kept as
  /// they are; complex tensors and ggml types without a decoding fail with
  /// unsupported (exclude them). Rounding and overflow follow
  /// encode_elements() with `cast_encoding`. A cast changes values: the
  /// target's weights digest is not the source's, and the target's model
  /// information records the cast (spec/format.md §4.7): the source's
  /// weights digest as a base model and the metadata keys
  /// owf.cast.from_weights_digest and owf.cast.dtype.
  std::optional<DType> cast_to;
  EncodeOptions cast_encoding;

  /// 0 (the default): one target file. Otherwise the most logical bytes of
  /// tensors per file: a safetensors target is written as a Hugging Face
  /// shard set when its tensors exceed this (spec/interchange.md, "Shard
  /// sets"). Tensors are taken in name order and a shard is closed when the
  /// next tensor would take it over the limit (a larger tensor is a shard
  /// of its own); `dir/model.safetensors` gives shards
  /// `dir/model-00001-of-0000N.safetensors` and, written last, the index
  /// `dir/model.safetensors.index.json` (transformers' names and layout).
  /// When everything fits in one shard, the ordinary single file is written.
  /// The set appears complete and checked, or not at all: a failure removes
  /// the shards already written, and no name is written when one of them
  /// (shards, index, or the single-file name) exists and overwrite is off.
  /// An OWF target becomes an OWF shard set (spec/shards.md): the same
  /// names, no index; every shard names the others. A GGUF target becomes
  /// a split set as llama.cpp's gguf-split writes it (`model-00001-of-0000N.gguf`,
  /// split.* keys; spec/interchange.md). NumPy targets: unsupported.
  std::uint64_t max_shard_bytes = 0;
};

/// What convert() wrote.
struct ConvertReport {
  Format format = Format::kOwf;
  std::size_t tensor_count = 0;
  /// The target's weights digest, as its reader will see it (equal to the
  /// source's, except that a .npy file names its tensor after the file,
  /// and unless tensors were left out or cast).
  Sha256Digest weights_digest{};
  /// Tensors of the source that include/exclude left out.
  std::size_t left_out = 0;
  /// Tensors whose values were cast (ConvertOptions::cast_to). When not 0,
  /// the conversion was lossy: weights_digest differs from
  /// source_weights_digest.
  std::size_t cast_count = 0;
  /// The source's weights digest, set when tensors were cast (it is the
  /// one recorded in the target's provenance).
  std::optional<Sha256Digest> source_weights_digest;
  /// The target was read back and matched (check_output).
  bool checked = false;
  /// Model information the target format has no place for, e.g.
  /// "license", "hyperparameters (3)" (spec/interchange.md).
  std::vector<std::string> not_kept;
  /// Tensors whose name the target cannot keep: (name, name in the target).
  std::vector<std::pair<std::string, std::string>> renamed;
  /// The files written: the target, or a shard set's shards and then its
  /// index (ConvertOptions::max_shard_bytes). weights_digest is the whole
  /// set's.
  std::vector<std::filesystem::path> files;
};

/// The model information the target gets: the source's, with `options`
/// applied.
OWF_API ModelInfo converted_info(const ModelInfo& source, const ConvertOptions& options);

/// Writes every tensor of `source` (those options.include and exclude
/// choose, cast as options.cast_to says) to `path` in format `to`. The target
/// appears complete and checked, or not at all; it replaces an existing
/// file only if options.write.overwrite (directories, devices, FIFOs and
/// sockets are never replaced). With options.max_shard_bytes, a
/// safetensors target may be a set of files (ConvertReport::files).
OWF_API Result<ConvertReport> convert(const Source& source, const std::filesystem::path& path, Format to,
                                      const ConvertOptions& options = {});

}  // namespace owf
