// Writing a model as a set of files (shards, then an index naming them):
// which tensors go to which shard, what the shards are called, and how the
// set appears "consistent or absent" (spec/interchange.md, "Shard sets").
// Used by convert() for Hugging Face safetensors shard sets; nothing here
// depends on the shards' format.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <vector>

#include "io/output_file.hpp"
#include "owf/source.hpp"

namespace owf::internal {

/// Tensor indices of `source` grouped into shards. Tensors are taken in
/// name order (byte-wise); a new shard starts when the next tensor would
/// take the current shard's logical bytes over `max_shard_bytes` and the
/// current shard is not empty, so a tensor larger than the limit is a shard
/// of its own. Each shard's indices are in name order; no shard is empty,
/// except the one shard of a source without tensors. `max_shard_bytes` 0:
/// no limit (one shard).
std::vector<std::vector<std::size_t>> plan_shards(const Source& source, std::uint64_t max_shard_bytes);

/// The name of shard `index` (0-based) of `count`, as transformers names
/// them: `dir/model.safetensors`, 0 of 3 -> `dir/model-00001-of-00003.safetensors`
/// (the target's stem and extension; both numbers have at least 5 digits).
std::filesystem::path shard_path(const std::filesystem::path& target, std::size_t index, std::size_t count);

/// The files of one set written by one call: its shards, then (optionally)
/// an index. Each file is written atomically by a writer going through
/// OutputFile; this class makes the set atomic enough:
/// - create() checks every name first, with OutputFile's rules
///   (check_output_target): nothing is written when one of them exists and
///   may not be replaced, or is a directory, device, ...;
/// - the first write removes an existing index at the index's name (when
///   replacing is allowed), so that an old index never names a mixture of
///   old and new shards;
/// - a write that fails removes every file this object has written, and its
///   error names the file; so does destroying the object before commit().
/// - a shard file being replaced is first hard-linked to a hidden name
///   beside it; a failed write (or destruction before commit()) puts the
///   old files back, commit() removes the links: a failure leaves the old
///   shards as they were, not a part of them (an old index is still gone;
///   without hard links, the old shards written over are gone too). Files are published in the order written: write the
///   index
/// last, so that a reader that finds it finds every shard.
class ShardSetOutput {
 public:
  /// `index` empty: a set without an index. Fails (as check_output_target)
  /// on the first name that may not be written.
  static Result<ShardSetOutput> create(std::vector<std::filesystem::path> shards, std::filesystem::path index,
                                       const OutputOptions& options);
  ShardSetOutput(ShardSetOutput&& other) noexcept;
  ShardSetOutput& operator=(ShardSetOutput&&) = delete;
  ShardSetOutput(const ShardSetOutput&) = delete;
  ShardSetOutput& operator=(const ShardSetOutput&) = delete;
  ~ShardSetOutput();

  /// A writer of one file: given the path, writes it through OutputFile.
  using WriteFile = std::function<Status(const std::filesystem::path& path)>;
  /// Writes shard `k` with `write`. On failure: every file written so far
  /// is removed and the error reads "shard 2 of 3 (PATH): ...".
  Status write_shard(std::size_t k, const WriteFile& write);
  /// Writes the index the same way ("index PATH: ..."). Precondition: the
  /// set has an index.
  Status write_index(const WriteFile& write);
  /// The set is complete: it stays. Without commit(), the destructor
  /// removes what was written.
  void commit();

  const std::vector<std::filesystem::path>& shards() const { return shards_; }
  const std::filesystem::path& index() const { return index_; }
  /// The files written so far, in order.
  const std::vector<std::filesystem::path>& written() const { return written_; }

 private:
  ShardSetOutput(std::vector<std::filesystem::path> shards, std::filesystem::path index, bool replace);
  Status write_file(const std::filesystem::path& path, const std::string& label, const WriteFile& write);
  void remove_written();
  void restore_replaced();

  struct Replaced {
    std::filesystem::path target, saved;
  };

  std::vector<std::filesystem::path> shards_;
  std::filesystem::path index_;
  bool replace_ = false;
  std::vector<std::filesystem::path> written_;
  std::vector<Replaced> replaced_;  // old shards, linked aside until commit()
  bool started_ = false;
  bool committed_ = false;
};

}  // namespace owf::internal
