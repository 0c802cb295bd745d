// Changing the model information of an OWF file without touching its
// tensors.
//
// The manifest sits at the end of the file (after the data section, before
// the footer), so a new manifest never moves a tensor. rewrite_info() builds
// the new file as a temporary beside the target and renames it over the
// target: a crash leaves the old file or the new one, never a mix (plus,
// when it struck before the rename, a hidden ".NAME.owf-partial-XXXXXXXXXXXX"
// temporary file beside it, which may be deleted).
//
// I/O: the data section is shared with the old file by a reflink (FICLONE)
// where the file system supports it (Btrfs, XFS, bcachefs, ...): then the
// work is proportional to the manifest only. Elsewhere (ext4, tmpfs) it is
// copied in the kernel with copy_file_range, which reads and writes the
// whole data section once; EditReport says which happened.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "owf/error.hpp"
#include "owf/metadata.hpp"
#include "owf/reader.hpp"

namespace owf {

struct EditOptions {
  bool sync = true;  // fsync the new file and its directory before returning
  Limits limits;     // for opening the existing file
};

struct EditReport {
  bool reflinked = false;            // data section shared, not copied
  std::uint64_t data_bytes = 0;      // size of header + data section
  std::uint64_t copied_bytes = 0;    // bytes the kernel had to copy (0 when reflinked)
  std::uint64_t manifest_bytes = 0;  // size of the new manifest
  Sha256Digest weights_digest{};     // unchanged by construction; checked
};

/// Replaces license, provenance, hyperparameters and metadata of the OWF
/// file at `path` with `info` (validated like Writer::set_info; a license
/// is required). Tensor bytes, layout, alignment and digests are kept.
OWF_API Result<EditReport> rewrite_info(const std::filesystem::path& path, const ModelInfo& info,
                                        const EditOptions& options = {});

/// What rewrite_set_info did: one EditReport per shard, in set order.
struct SetEditReport {
  std::vector<std::filesystem::path> files;  // the shards, in set order
  std::vector<EditReport> shards;
  Sha256Digest weights_digest{};  // the set's, unchanged and checked
};

/// rewrite_info for a shard set (spec/shards.md §5, "Changing a set's
/// information"): `shard_or_directory` is any shard of the set or its
/// directory, opened as FileSet::open does. Every shard gets the same new
/// information (rule S4), all or none: each shard's new version is
/// written beside it under a hidden temporary name and checked (it opens,
/// same weights digest, same shard_set, the new information); only then
/// are all renamed into place, and the set is opened again and checked
/// (S1-S5). On any failure, before or during the renames, every shard is
/// left (or put back) as it was and no temporary file remains. The old
/// shards are kept as hard links until the new set is checked, so the file
/// system must allow hard links. Embedded signatures are kept per shard,
/// as rewrite_info keeps them.
OWF_API Result<SetEditReport> rewrite_set_info(const std::filesystem::path& shard_or_directory, const ModelInfo& info,
                                               const EditOptions& options = {});

}  // namespace owf
