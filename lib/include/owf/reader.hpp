// Opening, reading and verifying OWF files.
//
// Opening validates everything that can be validated without reading tensor
// data (spec/format.md, "Validation"): after open() returns, every accessor is
// safe and every tensor lies inside the file. verify() additionally checks
// every tensor digest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

#include "owf/error.hpp"
#include "owf/limits.hpp"
#include "owf/metadata.hpp"
#include "owf/remote.hpp"
#include "owf/tensor.hpp"
#include "owf/version.hpp"

namespace owf {

struct ShardSetInfo;  // owf/shard_set.hpp

namespace internal {
struct FileAccess;  // the library's own access to an open file (lib/src/file_access.hpp)
}

/// Progress of a long operation: bytes done out of total.
using ProgressCallback = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct VerifyOptions {
  unsigned threads = 0;       // 0: one per core
  ProgressCallback progress;  // called from worker threads, serialized
};

/// One tensor for File::load(): its index (File::find) and a buffer of
/// exactly its logical size. The buffers of one call must not overlap.
struct LoadRequest {
  std::size_t tensor = 0;
  std::span<std::byte> out;
};

struct LoadOptions {
  /// Threads reading and hashing; 0: one per core (more for remote files,
  /// where threads mostly wait).
  unsigned threads = 0;
  /// Check every tensor's SHA-256 (and canonical bytes, R36) as its bytes
  /// land. Always on for remote files (spec/security.md, "Remote files").
  bool verify = true;
  ProgressCallback progress;  // bytes loaded; called from worker threads, serialized
};

struct OpenOptions {
  Limits limits;
  /// Map the file privately and writable (copy-on-write) rather than
  /// read-only, for callers that hand out views which may be written (a
  /// PyTorch tensor has no read-only flag): a write then changes this
  /// process's copy of the page, never the file (and no longer matches its
  /// digest). Falls back to read-only where the system refuses;
  /// File::views_writable() tells.
  bool copy_on_write_views = false;
  /// For http:// and https:// URLs (owf/remote.hpp).
  RemoteOptions remote;
};

class OWF_API File {
 public:
  /// Validates a file and maps it for zero-copy views. Validation, reads
  /// and verification read the file (pread), so a file that shrinks
  /// meanwhile is an io_error; only views look at the mapping
  /// (spec/security.md, "Reading and mapping"). An http(s):// URL is read
  /// with range requests (owf/remote.hpp): not mapped, so use read().
  static Result<File> open(const std::filesystem::path& path, const Limits& limits = {});
  static Result<File> open(const std::filesystem::path& path, const OpenOptions& options);
  /// Validates a file held in memory. The buffer is borrowed: it must
  /// outlive the File and stay unchanged.
  static Result<File> open_buffer(std::span<const std::byte> bytes, const Limits& limits = {});

  File(File&&) noexcept;
  File& operator=(File&&) noexcept;
  ~File();

  Version version() const;
  std::uint64_t file_size() const;
  std::uint64_t alignment() const;
  std::span<const std::string_view> required_features() const;

  std::size_t tensor_count() const;
  /// Tensors in name order (the manifest order). Precondition: index < tensor_count().
  TensorInfo tensor(std::size_t index) const;
  /// Binary search by name.
  std::optional<std::size_t> find(std::string_view name) const;
  Result<TensorInfo> tensor(std::string_view name) const;

  /// Zero-copy view of a tensor's bytes, valid while the File lives. Fails
  /// (unsupported) for compressed tensors and for files that are not
  /// mapped: use read() for those.
  Result<std::span<const std::byte>> bytes(const TensorInfo& tensor) const;
  /// Typed zero-copy view; dtype_mismatch unless T matches the dtype.
  template <class T>
  Result<std::span<const T>> view(std::string_view name) const;

  /// Copies (decoding if needed) a tensor's logical bytes into `out`, whose
  /// size must equal tensor.logical_bytes. With check_digest, also checks
  /// the bytes against the tensor's SHA-256.
  Status read(const TensorInfo& tensor, std::span<std::byte> out, bool check_digest = false) const;
  /// Reads logical bytes [offset, offset + out.size()) of a tensor.
  Status read_range(const TensorInfo& tensor, std::uint64_t offset, std::span<std::byte> out) const;

  /// Loads tensors into caller-provided buffers (pinned memory, staging
  /// for a device upload, or simply memory the caller owns): large
  /// positioned reads from several threads in file order, each tensor's
  /// digest checked as its bytes land, compressed tensors decoded. Fails
  /// naming the first tensor that does not match (with how many more do
  /// not); buffers of tensors that failed hold unspecified bytes.
  Status load(std::span<const LoadRequest> requests, const LoadOptions& options = {}) const;

  /// Whether the bytes of views may be written (OpenOptions::copy_on_write_views).
  bool views_writable() const;
  /// The whole file as mapped, which views point into (a caller's buffer
  /// for open_buffer); empty when the file is not mapped. Same caveats as
  /// views: see spec/security.md, "Reading and mapping".
  std::span<const std::byte> mapping() const;

  /// Checks every tensor digest (and, for compressed tensors, every chunk),
  /// in parallel. Structural checks already happened at open.
  Status verify(const VerifyOptions& options = {}) const;

  /// The weights digest (spec/format.md, "Weights digest"): identifies the
  /// tensors independently of layout, compression and metadata.
  Sha256Digest weights_digest() const;

  const ModelInfo& info() const;

  /// The shard set this file belongs to (spec/shards.md), checked against
  /// the file alone (R38); nullptr when the file is not a shard. Open the
  /// whole set with FileSet (owf/shard_set.hpp).
  const ShardSetInfo* shard_set() const;

  /// The raw manifest bytes (FlatBuffers), as stored.
  std::span<const std::byte> manifest_bytes() const;

  struct Impl;

 private:
  friend struct internal::FileAccess;
  explicit File(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Maps C++ element types to dtypes for File::view.
template <class T>
constexpr std::optional<DType> dtype_of() {
  if constexpr (std::is_same_v<T, bool>)
    return DType::kBool;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return DType::kU8;
  else if constexpr (std::is_same_v<T, std::int8_t>)
    return DType::kI8;
  else if constexpr (std::is_same_v<T, std::uint16_t>)
    return DType::kU16;
  else if constexpr (std::is_same_v<T, std::int16_t>)
    return DType::kI16;
  else if constexpr (std::is_same_v<T, std::uint32_t>)
    return DType::kU32;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return DType::kI32;
  else if constexpr (std::is_same_v<T, std::uint64_t>)
    return DType::kU64;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return DType::kI64;
  else if constexpr (std::is_same_v<T, float>)
    return DType::kF32;
  else if constexpr (std::is_same_v<T, double>)
    return DType::kF64;
  else
    return std::nullopt;
}

template <class T>
Result<std::span<const T>> File::view(std::string_view name) const {
  static_assert(dtype_of<T>().has_value(), "no dtype corresponds to this C++ type");
  OWF_ASSIGN_OR_RETURN(TensorInfo t, tensor(name));
  if (t.dtype != *dtype_of<T>())
    return Error(ErrorCode::kDtypeMismatch, "tensor '" + std::string(name) + "' has dtype " +
                                                std::string(dtype_name(t.dtype)) + ", not " +
                                                std::string(dtype_name(*dtype_of<T>())));
  OWF_ASSIGN_OR_RETURN(auto raw, bytes(t));
  if (reinterpret_cast<std::uintptr_t>(raw.data()) % alignof(T) != 0)
    return Error(ErrorCode::kUnsupported, "tensor '" + std::string(name) + "' is not aligned for a typed view");
  return std::span<const T>(reinterpret_cast<const T*>(raw.data()), raw.size() / sizeof(T));
}

}  // namespace owf
