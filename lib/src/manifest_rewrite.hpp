// The one place that replaces an OWF file's manifest behind its unchanged
// data section (edit.cpp): rewrite_info and the signature functions change
// the manifest model and leave the rest to it.
#pragma once

#include <filesystem>
#include <functional>

#include "manifest.hpp"
#include "owf/edit.hpp"

namespace owf::internal {

/// Opens the OWF file at `path`, passes its manifest model to `change`, and
/// writes the changed manifest as rewrite_info does (atomic rename, data
/// section reflinked or copied in the kernel). The version written is the
/// oldest that has what the new manifest uses (minor_version_for).
Result<EditReport> rewrite_manifest(const std::filesystem::path& path,
                                    const std::function<Status(ManifestModel&)>& change, const EditOptions& options);

}  // namespace owf::internal
