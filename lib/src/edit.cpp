// rewrite_info(): a new manifest and footer behind the unchanged data
// section, built as a temporary file beside the target and renamed over it.
//
// Why a temporary file even on file systems without reflinks: the manifest
// must start right after the data section and the footer must end the file,
// so a new manifest of a different size cannot be written in place without
// a window in which the file is broken. The rename is the only atomic step
// POSIX offers; reflinks make the copy in front of it free.
#include "owf/edit.hpp"

#include <string>
#include <vector>

#include "file_access.hpp"
#include "io/output_file.hpp"
#include "layout.hpp"
#include "manifest.hpp"
#include "manifest_rewrite.hpp"
#include "rules.hpp"
#include "sha256.hpp"

namespace owf {

namespace internal {

Result<EditReport> rewrite_manifest(const std::filesystem::path& path,
                                    const std::function<Status(ManifestModel&)>& change, const EditOptions& options) {
  OWF_ASSIGN_OR_RETURN(File file, File::open(path, options.limits));
  // The new manifest is encoded with this implementation's schema: fields of
  // a newer minor version would be dropped while the header still claims it.
  if (file.version().minor > kFormatMinor)
    return Error(ErrorCode::kUnsupported, path.string() + " is version " + std::to_string(file.version().major) + "." +
                                              std::to_string(file.version().minor) +
                                              ", newer than this implementation (1." + std::to_string(kFormatMinor) +
                                              "): rewriting its manifest would drop what it does not know");
  const auto old_manifest = file.manifest_bytes();
  const DecodedManifest& old = FileAccess::validated(file).manifest;
  // The manifest ends right before the footer and starts right after the data section.
  const std::uint64_t data_end = file.file_size() - kFooterSize - old_manifest.size();

  ManifestModel model;
  model.alignment = old.alignment;
  for (auto f : old.required_features) model.required_features.emplace_back(f);
  for (std::size_t i = 0; i < old.tensors.size(); ++i) {
    const TensorInfo& t = old.tensors[i];
    TensorRecord r;
    r.name = std::string(t.name);
    r.dtype = t.dtype;
    r.shape.assign(t.shape.begin(), t.shape.end());
    r.role = t.role;
    r.codec = t.codec;
    r.offset = t.offset;
    r.stored_length = t.stored_bytes;
    r.sha256 = t.sha256;
    r.chunk_length = old.chunk_tables[i].chunk_length;
    r.chunks.assign(old.chunk_tables[i].chunks.begin(), old.chunk_tables[i].chunks.end());
    model.tensors.push_back(std::move(r));
  }
  model.info = old.info;
  model.signatures = old.signatures;
  model.shard_set = old.shard_set;
  OWF_RETURN_IF_ERROR(change(model));
  const std::uint16_t minor =
      minor_version_for(model.required_features, !model.signatures.empty(), model.shard_set.has_value());
  OWF_ASSIGN_OR_RETURN(std::vector<std::byte> manifest, encode_manifest(std::move(model)));
  // Decoding checks the new information exactly as a reader will (SPDX,
  // UTF-8, keys, limits) before anything is written.
  OWF_RETURN_IF_ERROR(check_manifest(manifest, options.limits));
  Footer footer;
  footer.version = {kFormatMajor, minor};
  footer.manifest_offset = data_end;
  footer.manifest_length = manifest.size();
  footer.manifest_sha256 = sha256(manifest);
  const auto footer_bytes = encode_footer(footer);

  EditReport report;
  report.data_bytes = data_end;
  report.manifest_bytes = manifest.size();
  OutputOptions output;
  // The new file must open like any other, with the same weights, before it
  // replaces the old one.
  output.before_rename = [&](const std::filesystem::path& temporary) -> Status {
    OWF_ASSIGN_OR_RETURN(File check, File::open(temporary, options.limits));
    report.weights_digest = check.weights_digest();
    if (report.weights_digest != file.weights_digest())
      return Error(ErrorCode::kIoError,
                   "the rewritten " + path.string() + " has a different weights digest; left unchanged");
    return {};
  };
  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  OWF_ASSIGN_OR_RETURN(report.reflinked, out->copy_prefix(path, data_end));
  if (!report.reflinked) report.copied_bytes = data_end;
  if (minor != file.version().minor) OWF_RETURN_IF_ERROR(out->overwrite(0, encode_header(minor)));
  OWF_RETURN_IF_ERROR(out->write(manifest));
  OWF_RETURN_IF_ERROR(out->write(footer_bytes));
  OWF_RETURN_IF_ERROR(out->finish(options.sync));
  return report;
}

}  // namespace internal

Result<EditReport> rewrite_info(const std::filesystem::path& path, const ModelInfo& info, const EditOptions& options) {
  if (!info.license)
    return Error(ErrorCode::kMissingLicense, "no license set: give an SPDX expression, or NOASSERTION explicitly");
  return internal::rewrite_manifest(
      path,
      [&](internal::ManifestModel& model) -> Status {
        model.info = info;
        return {};
      },
      options);
}

}  // namespace owf
