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
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "layout.hpp"
#include "manifest.hpp"
#include "sha256.hpp"

namespace owf {

namespace {

Error io_error(const std::string& what) { return Error(ErrorCode::kIoError, what + ": " + std::strerror(errno)); }

// A descriptor closed at scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// The temporary file: removed at scope exit unless renamed.
struct TempFile {
  std::string path;
  Fd fd;
  bool keep = false;
  ~TempFile() {
    if (!keep && !path.empty()) ::unlink(path.c_str());
  }
};

Status write_all(int fd, std::span<const std::byte> data, std::uint64_t offset, const std::string& name) {
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return io_error("writing " + name);
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

// Copies [0, length) of `in` to `out` in the kernel, falling back to
// read/write where copy_file_range cannot be used.
Status copy_prefix(int in, int out, std::uint64_t length, const std::string& name) {
  std::uint64_t done = 0;
  bool kernel_copy = true;
  std::vector<std::byte> buffer;
  while (done < length) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length - done, 1ull << 30));
    if (kernel_copy) {
      loff_t in_off = static_cast<loff_t>(done), out_off = static_cast<loff_t>(done);
      const ssize_t n = ::copy_file_range(in, &in_off, out, &out_off, want, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        kernel_copy = false;
        continue;
      }
      if (n < 0) return io_error("copying the data section of " + name);
      if (n == 0) return Error(ErrorCode::kTruncated, name + " became shorter while it was being edited");
      done += static_cast<std::uint64_t>(n);
      continue;
    }
    buffer.resize(std::min<std::size_t>(want, 4u << 20));
    const ssize_t n = ::pread(in, buffer.data(), buffer.size(), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return io_error("reading " + name);
    if (n == 0) return Error(ErrorCode::kTruncated, name + " became shorter while it was being edited");
    OWF_RETURN_IF_ERROR(write_all(out, std::span(buffer.data(), static_cast<std::size_t>(n)), done, name));
    done += static_cast<std::uint64_t>(n);
  }
  return {};
}

}  // namespace

Result<EditReport> rewrite_info(const std::filesystem::path& path, const ModelInfo& info, const EditOptions& options) {
  if (!info.license)
    return Error(ErrorCode::kMissingLicense, "no license set: give an SPDX expression, or NOASSERTION explicitly");
  OWF_ASSIGN_OR_RETURN(File file, File::open(path, options.limits));
  const auto old_manifest = file.manifest_bytes();
  OWF_ASSIGN_OR_RETURN(internal::DecodedManifest old, internal::decode_manifest(old_manifest, options.limits));
  // The manifest ends right before the footer and starts right after the data section.
  const std::uint64_t data_end = file.file_size() - internal::kFooterSize - old_manifest.size();

  internal::ManifestModel model;
  model.alignment = old.alignment;
  for (auto f : old.required_features) model.required_features.emplace_back(f);
  for (std::size_t i = 0; i < old.tensors.size(); ++i) {
    const TensorInfo& t = old.tensors[i];
    internal::TensorRecord r;
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
  model.info = info;
  OWF_ASSIGN_OR_RETURN(std::vector<std::byte> manifest, internal::encode_manifest(std::move(model)));
  // Decoding checks the new information exactly as a reader will (SPDX,
  // UTF-8, keys, limits) before anything is written.
  {
    std::vector<std::uint64_t> aligned((manifest.size() + 7) / 8);
    std::memcpy(aligned.data(), manifest.data(), manifest.size());
    auto check = internal::decode_manifest(
        std::span(reinterpret_cast<const std::byte*>(aligned.data()), manifest.size()), options.limits);
    if (!check.ok()) return check.error();
  }
  internal::Footer footer;
  footer.manifest_offset = data_end;
  footer.manifest_length = manifest.size();
  footer.manifest_sha256 = internal::sha256(manifest);
  const auto footer_bytes = internal::encode_footer(footer);

  const std::string name = path.string();
  Fd in;
  in.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (in.fd < 0) return io_error("cannot open " + name);
  struct stat st {};
  if (::fstat(in.fd, &st) != 0) return io_error("stat " + name);
  if (static_cast<std::uint64_t>(st.st_size) != file.file_size())
    return Error(ErrorCode::kIoError, name + " changed while it was being edited");

  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  TempFile temp;
  temp.path = (dir / ("." + path.filename().string() + ".owf-edit-XXXXXX")).string();
  temp.fd.fd = ::mkstemp(temp.path.data());
  if (temp.fd.fd < 0) {
    temp.path.clear();
    return io_error("cannot create a temporary file in " + dir.string());
  }
  ::fchmod(temp.fd.fd, st.st_mode & 07777);

  EditReport report;
  report.data_bytes = data_end;
  report.manifest_bytes = manifest.size();
  // Whole-file clone, then cut: FICLONERANGE would need a block-aligned
  // length, and the data section rarely ends on a block boundary.
  if (::ioctl(temp.fd.fd, FICLONE, in.fd) == 0 && ::ftruncate(temp.fd.fd, static_cast<off_t>(data_end)) == 0) {
    report.reflinked = true;
  } else {
    if (::ftruncate(temp.fd.fd, 0) != 0) return io_error("truncating " + temp.path);
    OWF_RETURN_IF_ERROR(copy_prefix(in.fd, temp.fd.fd, data_end, name));
    report.copied_bytes = data_end;
  }
  OWF_RETURN_IF_ERROR(write_all(temp.fd.fd, manifest, data_end, temp.path));
  OWF_RETURN_IF_ERROR(write_all(temp.fd.fd, footer_bytes, data_end + manifest.size(), temp.path));
  if (options.sync && ::fsync(temp.fd.fd) != 0) return io_error("fsync " + temp.path);

  // The new file must open like any other before it replaces the old one.
  {
    auto check = File::open(temp.path, options.limits);
    if (!check.ok()) return check.error();
    report.weights_digest = check->weights_digest();
    if (report.weights_digest != file.weights_digest())
      return Error(ErrorCode::kIoError, "the rewritten " + name + " has a different weights digest; left unchanged");
  }
  if (::rename(temp.path.c_str(), path.c_str()) != 0) return io_error("rename over " + name);
  temp.keep = true;
  if (options.sync) {
    Fd d;
    d.fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d.fd >= 0) ::fsync(d.fd);
  }
  return report;
}

}  // namespace owf
