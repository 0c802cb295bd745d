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

}  // namespace owf
