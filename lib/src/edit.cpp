// rewrite_info(): a new manifest and footer behind the unchanged data
// section, built as a temporary file beside the target and renamed over it.
//
// Why a temporary file even on file systems without reflinks: the manifest
// must start right after the data section and the footer must end the file,
// so a new manifest of a different size cannot be written in place without
// a window in which the file is broken. The rename is the only atomic step
// POSIX offers; reflinks make the copy in front of it free.
#include "owf/edit.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <system_error>
#include <vector>

#include "file_access.hpp"
#include "io/output_file.hpp"
#include "layout.hpp"
#include "manifest.hpp"
#include "manifest_rewrite.hpp"
#include "owf/shard_set.hpp"
#include "rules.hpp"
#include "sha256.hpp"

namespace owf {

namespace internal {

namespace {

Result<EditReport> rewrite_manifest_impl(const std::filesystem::path& path, const std::filesystem::path& target,
                                         bool replace, const std::function<Status(ManifestModel&)>& change,
                                         const EditOptions& options) {
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
  output.replace = replace;
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
  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(target, output));
  OWF_ASSIGN_OR_RETURN(report.reflinked, out->copy_prefix(path, data_end));
  if (!report.reflinked) report.copied_bytes = data_end;
  if (minor != file.version().minor) OWF_RETURN_IF_ERROR(out->overwrite(0, encode_header(minor)));
  OWF_RETURN_IF_ERROR(out->write(manifest));
  OWF_RETURN_IF_ERROR(out->write(footer_bytes));
  OWF_RETURN_IF_ERROR(out->finish(options.sync));
  return report;
}

}  // namespace

Result<EditReport> rewrite_manifest(const std::filesystem::path& path,
                                    const std::function<Status(ManifestModel&)>& change, const EditOptions& options) {
  return rewrite_manifest_impl(path, path, /*replace=*/true, change, options);
}

Result<EditReport> rewrite_manifest_to(const std::filesystem::path& path, const std::filesystem::path& target,
                                       const std::function<Status(ManifestModel&)>& change,
                                       const EditOptions& options) {
  return rewrite_manifest_impl(path, target, /*replace=*/false, change, options);
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

namespace owf {

namespace internal {
std::function<Status(std::string_view phase, std::size_t shard)> set_edit_fault_for_testing;
}  // namespace internal

namespace {

// ".NAME.KIND-" and 12 random hex digits, beside `path`.
std::filesystem::path hidden_sibling(const std::filesystem::path& path, const char* kind) {
  unsigned char random[6] = {};
  if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    const auto fallback = static_cast<std::uint64_t>(::getpid()) ^ reinterpret_cast<std::uintptr_t>(&random);
    std::memcpy(random, &fallback, sizeof random);
  }
  char hex[2 * sizeof random + 1] = {};
  for (std::size_t i = 0; i < sizeof random; ++i) std::snprintf(hex + 2 * i, 3, "%02x", random[i]);
  return path.parent_path() / ("." + path.filename().string() + "." + kind + "-" + hex);
}

Error io_error(const std::filesystem::path& path, const std::string& what, int err) {
  return Error(ErrorCode::kIoError, path.string() + ": " + what + ": " + std::strerror(err));
}

Status fault(std::string_view phase, std::size_t shard) {
  if (internal::set_edit_fault_for_testing) return internal::set_edit_fault_for_testing(phase, shard);
  return {};
}

// The temporary files of one set edit: staged new shards and hard links to
// the old ones. Destroyed before commit(), it puts every renamed shard
// back and removes every temporary file.
class SetEdit {
 public:
  explicit SetEdit(std::vector<std::filesystem::path> paths)
      : paths_(std::move(paths)), staged_(paths_.size()), backups_(paths_.size()) {}
  SetEdit(const SetEdit&) = delete;
  SetEdit& operator=(const SetEdit&) = delete;
  ~SetEdit() {
    std::error_code ec;
    // A renamed shard whose old version cannot be put back keeps it, the
    // hidden hard link, for a person to restore.
    const std::size_t keep = committed_ ? 0 : roll_back();
    for (const auto& p : staged_)
      if (!p.empty()) std::filesystem::remove(p, ec);
    for (std::size_t k = keep; k < backups_.size(); ++k)
      if (!backups_[k].empty()) std::filesystem::remove(backups_[k], ec);
  }

  std::filesystem::path& staged(std::size_t k) { return staged_[k]; }

  // Every old shard kept under a hidden name (a hard link: the shard stays
  // where it is), then every staged shard renamed over its old one.
  Status swap_in(bool sync) {
    for (std::size_t k = 0; k < paths_.size(); ++k) {
      const auto backup = hidden_sibling(paths_[k], "owf-before-edit");
      if (::link(paths_[k].c_str(), backup.c_str()) != 0)
        return io_error(
            paths_[k],
            "cannot keep the old shard while the set is edited (hard link " + backup.filename().string() + ")", errno);
      backups_[k] = backup;
    }
    for (std::size_t k = 0; k < paths_.size(); ++k) {
      OWF_RETURN_IF_ERROR(fault("rename", k));
      if (::rename(staged_[k].c_str(), paths_[k].c_str()) != 0)
        return io_error(paths_[k], "cannot rename the edited shard into place", errno);
      staged_[k].clear();
      renamed_ = k + 1;
    }
    if (sync) sync_directory();
    return {};
  }

  void commit() { committed_ = true; }

 private:
  // Puts back every old shard renamed over; returns 1 + the last shard
  // that could not be put back (0: all were).
  std::size_t roll_back() {
    std::size_t keep = 0;
    for (std::size_t k = 0; k < renamed_; ++k) {
      if (::rename(backups_[k].c_str(), paths_[k].c_str()) == 0)
        backups_[k].clear();
      else
        keep = k + 1;
    }
    if (renamed_ > 0) sync_directory();
    return keep;
  }
  void sync_directory() {
    const auto dir = paths_.front().parent_path();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }

  std::vector<std::filesystem::path> paths_;
  std::vector<std::filesystem::path> staged_;
  std::vector<std::filesystem::path> backups_;
  std::size_t renamed_ = 0;
  bool committed_ = false;
};

std::string shard_label(std::size_t k, std::size_t count, const std::filesystem::path& path) {
  return "shard " + std::to_string(k + 1) + " of " + std::to_string(count) + " (" + path.string() + ")";
}

}  // namespace

Result<SetEditReport> rewrite_set_info(const std::filesystem::path& shard_or_directory, const ModelInfo& info,
                                       const EditOptions& options) {
  if (!info.license)
    return Error(ErrorCode::kMissingLicense, "no license set: give an SPDX expression, or NOASSERTION explicitly");
  OpenOptions open;
  open.limits = options.limits;
  OWF_ASSIGN_OR_RETURN(FileSet set, FileSet::open(shard_or_directory, open));
  // Every shard present and agreeing (S1-S5) before anything is written.
  OWF_RETURN_IF_ERROR(set.open_all());
  const std::size_t count = set.shard_count();
  SetEditReport report;
  report.weights_digest = set.weights_digest();
  for (std::size_t k = 0; k < count; ++k) report.files.push_back(set.shard_path(k));
  SetEdit edit(report.files);

  for (std::size_t k = 0; k < count; ++k) {
    const auto& path = report.files[k];
    const auto fail = [&](const Error& e) { return Error(e.code(), shard_label(k, count, path) + ": " + e.message()); };
    OWF_ASSIGN_OR_RETURN(const File* old, set.shard_file(k));
    const ShardSetInfo old_set = *old->shard_set();
    if (auto s = fault("stage", k); !s.ok()) return fail(s.error());
    const auto staged = hidden_sibling(path, "owf-partial-edit");
    auto written = internal::rewrite_manifest_to(
        path, staged,
        [&](internal::ManifestModel& model) -> Status {
          model.info = info;
          return {};
        },
        options);
    if (!written.ok()) return fail(written.error());
    edit.staged(k) = staged;
    // The new shard is the old one with the new information: same tensors
    // (rewrite_manifest checked the weights digest), same set, and the
    // permission bits of the file it replaces.
    auto check = File::open(staged, options.limits);
    if (!check.ok()) return fail(check.error());
    if (check->shard_set() == nullptr || !(*check->shard_set() == old_set))
      return fail(Error(ErrorCode::kShardSetMismatch, "the rewritten shard describes another set; left unchanged"));
    if (!(check->info() == info))
      return fail(Error(ErrorCode::kIoError, "the rewritten shard reads back other information; left unchanged"));
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) ::chmod(staged.c_str(), st.st_mode & 07777);
    report.shards.push_back(*written);
  }
  OWF_RETURN_IF_ERROR(edit.swap_in(options.sync));
  // The set as a reader opens it now: every shard found and agreeing, with
  // the new information; else every shard is put back.
  auto reopened = FileSet::open(shard_or_directory, open);
  Status whole = reopened.ok() ? reopened->open_all() : Status(reopened.error());
  if (whole.ok() && !(reopened->info() == info))
    whole = Error(ErrorCode::kShardSetMismatch, "the set reads back other information");
  if (whole.ok() && reopened->weights_digest() != report.weights_digest)
    whole = Error(ErrorCode::kShardSetMismatch, "the set reads back another weights digest");
  if (!whole.ok())
    return Error(whole.error().code(),
                 "read back, the edited set does not open (every shard put back): " + whole.error().message());
  edit.commit();
  return report;
}

}  // namespace owf
