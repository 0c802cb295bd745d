// Writing OWF files, one tensor at a time.
//
// Memory is bounded by what the caller hands over per call, not by the
// model: each tensor is hashed and written as it arrives. Nothing appears
// under the target name until finish() succeeds; the file is written to a
// temporary name beside the target, synced, and renamed into place.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "owf/error.hpp"
#include "owf/metadata.hpp"
#include "owf/tensor.hpp"

namespace owf {

struct Signature;

namespace internal {
struct WriterAccess;  // the library's own access to a writer (lib/src/writer_access.hpp)
}

struct CompressionOptions {
  bool enabled = false;
  int level = 3;
  std::uint64_t chunk_bytes = 1ull << 20;  // logical bytes per independently decodable chunk
  double min_saving = 0.05;                // keep a tensor raw unless it shrinks by this fraction
  unsigned threads = 0;                    // 0: one per core
};

struct WriteOptions {
  std::uint64_t alignment = 64;  // power of two, 1 .. 2 MiB
  CompressionOptions compression;
  bool sync = true;  // fsync the file and its directory before finish() returns
  /// Threads that hash large uncompressed tensors, read back from the file,
  /// while the caller's thread goes on writing; 0: one per core.
  unsigned threads = 0;
  /// Whether finish() may replace an existing file (or symbolic link) at the
  /// target; false: already_exists instead. Directories, devices, FIFOs and
  /// sockets are never replaced (spec/security.md, "Writing").
  bool overwrite = true;
  /// Called by finish() once the file is complete and synced, with the path
  /// of the temporary file, before it is renamed to the target: a failure
  /// leaves the target untouched (a converter re-reads and checks the file
  /// here). Optional.
  std::function<Status(const std::filesystem::path& temporary)> before_rename;
};

struct TensorSpec {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;
  Role role = Role::kOther;
  /// When set, the writer fails (tensor_digest_mismatch) and writes nothing
  /// if the bytes given hash differently: a copy from a file that stores
  /// digests is checked as it streams, at no extra pass. The error comes
  /// from end_tensor(), or, for a tensor of 1 MiB or more, which is hashed
  /// in the background, from a later begin_tensor() or finish().
  std::optional<Sha256Digest> expected_sha256;
};

class OWF_API Writer {
 public:
  /// Creates a temporary file beside `path`. The target is untouched until finish().
  static Result<Writer> create(const std::filesystem::path& path, const WriteOptions& options = {});

  Writer(Writer&&) noexcept;
  Writer& operator=(Writer&&) noexcept;
  /// Without a successful finish(), removes the temporary file.
  ~Writer();

  /// Required before finish(): a valid SPDX expression, or NOASSERTION.
  Status set_license(License license);
  Status set_provenance(Provenance provenance);
  Status set_hyperparameter(const std::string& key, Value value);
  Status set_metadata(const std::string& key, std::string value);
  /// Copies license, provenance, hyperparameters and metadata (validated).
  Status set_info(const ModelInfo& info);
  /// Signatures to embed as they are (owf/signature.hpp; checked as a
  /// reader checks them, R37); the file becomes version 1.2. The writer
  /// does not check what they sign: convert() passes on an OWF source's
  /// signatures whose covered digests the conversion keeps.
  Status set_signatures(std::span<const Signature> signatures);

  /// Adds a whole tensor. `data` holds its logical bytes (row-major,
  /// little-endian) and must have the size dtype x shape demands. Bytes
  /// that are not canonical (spec/format.md §5: a BOOL byte other than 0
  /// or 1, non-zero bits after the last element of a packed F4/F6 tensor)
  /// are refused with noncanonical_tensor_data and no tensor is added.
  Status add_tensor(const TensorSpec& spec, std::span<const std::byte> data);

  /// Streams a tensor in pieces, for tensors larger than the caller wants
  /// in memory: begin, append until logical size is reached, end. A piece
  /// with non-canonical bytes is refused (noncanonical_tensor_data) and not
  /// written; the tensor stays open for a corrected piece.
  Status begin_tensor(const TensorSpec& spec);
  Status append(std::span<const std::byte> data);
  Status end_tensor();

  /// Writes manifest and footer, syncs and renames into place.
  Status finish();

  struct Impl;

 private:
  friend struct internal::WriterAccess;
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace owf
