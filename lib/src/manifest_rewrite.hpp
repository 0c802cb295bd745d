// The one place that replaces an OWF file's manifest behind its unchanged
// data section (edit.cpp): rewrite_info and the signature functions change
// the manifest model and leave the rest to it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string_view>

#include "manifest.hpp"
#include "owf/edit.hpp"

namespace owf::internal {

/// Opens the OWF file at `path`, passes its manifest model to `change`, and
/// writes the changed manifest as rewrite_info does (atomic rename, data
/// section reflinked or copied in the kernel). The version written is the
/// oldest that has what the new manifest uses (minor_version_for).
Result<EditReport> rewrite_manifest(const std::filesystem::path& path,
                                    const std::function<Status(ManifestModel&)>& change, const EditOptions& options);

/// The same, but the new file appears at `target` (beside `path`, on the
/// same file system), created there and never replacing anything: `path` is
/// left as it is. rewrite_set_info stages every shard this way.
Result<EditReport> rewrite_manifest_to(const std::filesystem::path& path, const std::filesystem::path& target,
                                       const std::function<Status(ManifestModel&)>& change, const EditOptions& options);

/// Tests only: when set, rewrite_set_info calls it before staging shard k
/// (phase "stage") and before renaming shard k into place ("rename"); an
/// error fails the edit at that point.
extern std::function<Status(std::string_view phase, std::size_t shard)> set_edit_fault_for_testing;

}  // namespace owf::internal
