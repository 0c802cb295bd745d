// Any weights file, whatever its format: OWF, safetensors, GGUF, NumPy
// (.npy/.npz) or a PyTorch checkpoint. Tools and applications read every
// format through this one interface; foreign readers are held to the same
// standard as OWF's own (validated at open, errors that say where).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "owf/digest.hpp"
#include "owf/error.hpp"
#include "owf/limits.hpp"
#include "owf/metadata.hpp"
#include "owf/reader.hpp"
#include "owf/remote.hpp"
#include "owf/tensor.hpp"

namespace owf {

class FileSet;  // owf/shard_set.hpp

enum class Format : std::uint8_t { kOwf, kSafetensors, kGguf, kNpz, kNpy, kPyTorch };

OWF_API std::string_view format_name(Format format);  // "owf", "safetensors", "gguf", "npz", "npy", "pytorch"
OWF_API std::optional<Format> format_from_name(std::string_view name);
/// From the file name: .owf .safetensors .gguf .npz .npy .pt .pth .bin
OWF_API std::optional<Format> format_from_extension(const std::filesystem::path& path);
/// From the first bytes of the file, falling back to the extension.
OWF_API Result<Format> detect_format(const std::filesystem::path& path);

/// A readable set of tensors with model information.
class OWF_API Source {
 public:
  virtual ~Source() = default;
  virtual Format format() const = 0;
  /// Tensors in the order the format defines (OWF: by name; others: file order).
  virtual std::size_t tensor_count() const = 0;
  /// `sha256` is filled only where the file stores digests (OWF); use
  /// tensor_sha256() for every format.
  virtual TensorInfo tensor(std::size_t index) const = 0;
  /// Logical bytes (row-major, little-endian) into `out` of exactly
  /// tensor(index).logical_bytes bytes.
  virtual Status read(std::size_t index, std::span<std::byte> out) const = 0;
  /// Logical bytes [offset, offset + out.size()) of tensor(index). The
  /// default reads the whole tensor and copies the range; readers that can
  /// read a range directly override it together with ranged_reads().
  virtual Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const;
  /// True when read_range() costs only the range, so that callers may
  /// stream a tensor in pieces instead of holding it whole.
  virtual bool ranged_reads() const { return false; }
  virtual const ModelInfo& info() const = 0;
  /// The file's data alignment, where the format has one (0 otherwise).
  virtual std::uint64_t alignment() const { return 0; }
  /// Stored digest (OWF) or one computed by reading the tensor.
  virtual Result<Sha256Digest> tensor_sha256(std::size_t index) const;
  /// Compatibility notes: what the usual readers of this file's format would
  /// do differently with it, although this reader reads it correctly (GGUF:
  /// what ggml's reader, and so llama.cpp, refuses). One sentence each,
  /// naming the place in the file. Empty for most files and formats.
  virtual std::vector<std::string> notes() const { return {}; }
  /// The OWF File behind this source, if it is one.
  virtual const File* owf_file() const { return nullptr; }
  /// The OWF shard set behind this source, if it is one (owf/shard_set.hpp).
  virtual const FileSet* owf_file_set() const { return nullptr; }
  /// Whether tensor(i).sha256 are digests the file stores (an OWF file or
  /// set), against which what is read can be checked.
  bool stores_digests() const { return owf_file() != nullptr || owf_file_set() != nullptr; }
  /// The weights digest the file stores (an OWF file or set), else nullopt.
  std::optional<Sha256Digest> stored_weights_digest() const;
  /// The files this source reads when there are several (a shard set: its
  /// index, then its shards; a GGUF split set: its splits in order); empty
  /// for a source of one file.
  virtual std::vector<std::filesystem::path> files() const { return {}; }

  std::optional<std::size_t> find(std::string_view name) const;
};

/// Opens any supported format (detected from the content) with its reader's
/// full validation. `path` may be an http(s):// URL (owf/remote.hpp). A
/// Hugging Face shard index (or a directory holding one) opens its shards,
/// and a GGUF file (or URL) that is one split of a set
/// (NAME-00002-of-00003.gguf) opens every split, as one Source
/// (spec/interchange.md, "Shard sets").
OWF_API Result<std::unique_ptr<Source>> open_source(const std::filesystem::path& path,
                                                    std::optional<Format> format = std::nullopt,
                                                    const Limits& limits = {});

/// An open OWF file as a Source, e.g. one from File::open_buffer (open_source
/// does the same for OWF files it opens by path).
OWF_API std::unique_ptr<Source> source_of(File file);

/// Options for opening a source beyond format and limits.
struct SourceOptions {
  std::optional<Format> format;  // nullopt: detected from the content
  Limits limits;
  /// PyTorch checkpoints: read only the tensors under this key of the
  /// pickled object ("model_state_dict", or a dotted path "a.b"); plain
  /// values are still read from the whole checkpoint. Empty: everything.
  /// Other formats: must be empty (invalid_argument otherwise).
  std::string select;
  /// For http:// and https:// URLs (owf/remote.hpp).
  RemoteOptions remote;
};
OWF_API Result<std::unique_ptr<Source>> open_source(const std::filesystem::path& path, const SourceOptions& options);

}  // namespace owf
