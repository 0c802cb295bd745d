#include "io/output_file.hpp"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "io/byte_source.hpp"
#include "io/http_source.hpp"

namespace owf::internal {
namespace {

constexpr std::size_t kBufferSize = 1u << 20;

std::filesystem::path directory_of(const std::filesystem::path& target) {
  return target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
}

// A name no other writer picks: ".NAME.owf-partial-" and 12 random hex digits.
std::string temporary_name(const std::filesystem::path& target) {
  unsigned char random[6] = {};
  if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
    const auto fallback = static_cast<std::uint64_t>(::getpid()) ^ reinterpret_cast<std::uintptr_t>(&random);
    std::memcpy(random, &fallback, sizeof random);
  }
  char hex[13];
  for (std::size_t i = 0; i < sizeof random; ++i) std::snprintf(hex + 2 * i, 3, "%02x", random[i]);
  return "." + target.filename().string() + ".owf-partial-" + hex;
}

}  // namespace

Status check_output_target(const std::filesystem::path& target, const OutputOptions& options) {
  const std::string name = target.string();
  if (target.empty() || !target.has_filename())
    return Error(ErrorCode::kInvalidArgument, "'" + name + "' does not name a file");
  // URLs are read, never written (spec/security.md, "Remote files").
  if (is_url(name))
    return Error(ErrorCode::kUnsupported, redacted_url(name) + ": remote files are read-only; write to a local file");
  struct stat st {};
  if (::lstat(target.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return system_error(name, "cannot inspect the target", errno);
  }
  if (S_ISLNK(st.st_mode) || S_ISREG(st.st_mode)) {
    if (!options.replace)
      return Error(ErrorCode::kAlreadyExists,
                   name + " exists" + (S_ISLNK(st.st_mode) ? " (a symbolic link)" : "") + " and may not be replaced");
    return {};
  }
  return Error(ErrorCode::kInvalidArgument, name + " is " + std::string(file_type_name(st.st_mode)) +
                                                "; only regular files are written or replaced");
}

Result<std::unique_ptr<OutputFile>> OutputFile::create(const std::filesystem::path& target,
                                                       const OutputOptions& options) {
  OWF_RETURN_IF_ERROR(check_output_target(target, options));
  const auto dir = directory_of(target);
  // A replaced file keeps its permission bits (for a symlink, those of the
  // file it points to); a new one gets 0666 minus the umask, from open().
  struct stat existing {};
  const bool keep_mode = ::stat(target.c_str(), &existing) == 0 && S_ISREG(existing.st_mode);
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::filesystem::path temp = dir / temporary_name(target);
    const int fd = ::open(temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return system_error(dir.string(), "cannot create a temporary file", errno);
    if (keep_mode) ::fchmod(fd, existing.st_mode & 07777);
    return std::unique_ptr<OutputFile>(new OutputFile(target, temp, fd, options));
  }
  return Error(ErrorCode::kIoError, dir.string() + ": cannot create a temporary file: every name tried exists");
}

OutputFile::OutputFile(std::filesystem::path target, std::filesystem::path temp, int fd, OutputOptions options)
    : target_(std::move(target)), temp_(std::move(temp)), fd_(fd), options_(options) {
  buffer_.reserve(kBufferSize);
}

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(temp_.c_str());
}

Status OutputFile::fail(Error error) {
  failed_ = true;
  return error;
}

Result<bool> OutputFile::copy_prefix(const std::filesystem::path& from, std::uint64_t length) {
  if (position_ != 0 || failed_ || finished_)
    return Error(ErrorCode::kInvalidArgument, "copy_prefix() must come before any write to " + temp_.string());
  const std::string name = from.string();
  const int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return fail(system_error(name, "cannot open", errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{in};
  struct stat st {};
  if (::fstat(in, &st) != 0) return fail(system_error(name, "cannot stat", errno));
  if (!S_ISREG(st.st_mode) || static_cast<std::uint64_t>(st.st_size) < length)
    return fail(Error(ErrorCode::kIoError,
                      name + " changed: it no longer holds the " + std::to_string(length) + " bytes to be kept"));
  // Whole-file clone, then cut: FICLONERANGE would need a block-aligned
  // length, and the kept prefix rarely ends on a block boundary.
  if (::ioctl(fd_, FICLONE, in) == 0 && ::ftruncate(fd_, static_cast<off_t>(length)) == 0) {
    position_ = fd_position_ = written_back_to_ = length;
    if (::lseek(fd_, static_cast<off_t>(length), SEEK_SET) < 0)
      return fail(system_error(temp_.string(), "seek", errno));
    return true;
  }
  if (::ftruncate(fd_, 0) != 0) return fail(system_error(temp_.string(), "cannot truncate", errno));
  std::uint64_t done = 0;
  bool kernel_copy = true;
  std::vector<std::byte> buffer;
  while (done < length) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(length - done, 1ull << 30));
    if (kernel_copy) {
      loff_t in_off = static_cast<loff_t>(done);
      const ssize_t n = ::copy_file_range(in, &in_off, fd_, nullptr, want, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP)) {
        kernel_copy = false;
        continue;
      }
      if (n < 0) return fail(system_error(name, "copying its first " + std::to_string(length) + " bytes", errno));
      if (n == 0) return fail(Error(ErrorCode::kIoError, name + " became shorter while it was being copied"));
      done += static_cast<std::uint64_t>(n);
      fd_position_ += static_cast<std::uint64_t>(n);
      continue;
    }
    buffer.resize(std::min<std::size_t>(want, 4u << 20));
    const ssize_t n = ::pread(in, buffer.data(), buffer.size(), static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(system_error(name, "read at byte " + std::to_string(done), errno));
    if (n == 0) return fail(Error(ErrorCode::kIoError, name + " became shorter while it was being copied"));
    OWF_RETURN_IF_ERROR(write_all(std::span(buffer.data(), static_cast<std::size_t>(n))));
    done += static_cast<std::uint64_t>(n);
  }
  position_ = length;
  return false;
}

Status OutputFile::write_all(std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(system_error(temp_.string(), "write", errno));
    data = data.subspan(static_cast<std::size_t>(n));
    fd_position_ += static_cast<std::uint64_t>(n);
  }
  // Only a request to start: errors surface at the fsync in finish().
  constexpr std::uint64_t kWriteBackBytes = 16u << 20;
  if (options_.write_back_early && fd_position_ - written_back_to_ >= kWriteBackBytes) {
    ::sync_file_range(fd_, static_cast<off_t>(written_back_to_), static_cast<off_t>(fd_position_ - written_back_to_),
                      SYNC_FILE_RANGE_WRITE);
    written_back_to_ = fd_position_;
  }
  return {};
}

Status OutputFile::flush() {
  if (buffer_.empty()) return {};
  auto s = write_all(buffer_);
  buffer_.clear();
  return s;
}

Status OutputFile::read_at(std::uint64_t offset, std::span<std::byte> out) const {
  for (std::size_t done = 0; done < out.size();) {
    const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return system_error(temp_.string(), "read back at byte " + std::to_string(offset + done), errno);
    if (n == 0)
      return Error(ErrorCode::kIoError, temp_.string() + " ends before byte " + std::to_string(offset + done) +
                                            ", which was written: did something truncate it?");
    done += static_cast<std::size_t>(n);
  }
  return {};
}

Status OutputFile::write(std::span<const std::byte> data) {
  if (failed_ || finished_)
    return Error(ErrorCode::kIoError, "write after a failed or finished write to " + target_.string());
  if (buffer_.size() + data.size() <= kBufferSize) {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
  } else {
    OWF_RETURN_IF_ERROR(flush());
    if (data.size() < kBufferSize)
      buffer_.insert(buffer_.end(), data.begin(), data.end());
    else
      OWF_RETURN_IF_ERROR(write_all(data));
  }
  position_ += data.size();
  return {};
}

Status OutputFile::overwrite(std::uint64_t offset, std::span<const std::byte> data) {
  if (failed_ || finished_)
    return Error(ErrorCode::kIoError, "write after a failed or finished write to " + target_.string());
  if (offset > position_ || data.size() > position_ - offset)
    return Error(ErrorCode::kInvalidArgument, "overwrite of bytes not yet written to " + target_.string());
  OWF_RETURN_IF_ERROR(flush());
  while (!data.empty()) {
    const ssize_t n = ::pwrite(fd_, data.data(), data.size(), static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(system_error(temp_.string(), "write", errno));
    data = data.subspan(static_cast<std::size_t>(n));
    offset += static_cast<std::uint64_t>(n);
  }
  return {};
}

Status OutputFile::write_zeros(std::uint64_t count) {
  static constexpr std::byte kZeros[4096] = {};
  while (count > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(count, sizeof kZeros));
    OWF_RETURN_IF_ERROR(write(std::span(kZeros, n)));
    count -= n;
  }
  return {};
}

Status OutputFile::pad_to(std::uint64_t alignment) {
  const std::uint64_t aligned = (position_ + alignment - 1) & ~(alignment - 1);
  return write_zeros(aligned - position_);
}

Status OutputFile::finish(bool sync) {
  if (failed_) return Error(ErrorCode::kIoError, "an earlier write failed; nothing was written to " + target_.string());
  if (finished_) return Error(ErrorCode::kInvalidArgument, target_.string() + " is already finished");
  OWF_RETURN_IF_ERROR(flush());
  if (sync && ::fsync(fd_) != 0) return fail(system_error(temp_.string(), "fsync", errno));
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) return fail(system_error(temp_.string(), "close", errno));
  if (options_.before_rename)
    if (auto s = options_.before_rename(temp_); !s.ok()) return fail(s.error());
  // The target may have changed since create(): check again right before
  // the rename, so that a device or directory put there meanwhile survives.
  if (auto s = check_output_target(target_, options_); !s.ok()) return fail(s.error());
  if (options_.replace) {
    if (::rename(temp_.c_str(), target_.c_str()) != 0)
      return fail(system_error(target_.string(), "cannot rename the finished file into place", errno));
  } else if (::renameat2(AT_FDCWD, temp_.c_str(), AT_FDCWD, target_.c_str(), RENAME_NOREPLACE) != 0) {
    // File systems without RENAME_NOREPLACE: link() fails just as atomically
    // when the name exists.
    if (errno != EINVAL && errno != ENOSYS) {
      if (errno == EEXIST)
        return fail(Error(ErrorCode::kAlreadyExists, target_.string() + " appeared meanwhile; left as it is"));
      return fail(system_error(target_.string(), "cannot rename the finished file into place", errno));
    }
    if (::link(temp_.c_str(), target_.c_str()) != 0) {
      if (errno == EEXIST)
        return fail(Error(ErrorCode::kAlreadyExists, target_.string() + " appeared meanwhile; left as it is"));
      return fail(system_error(target_.string(), "cannot link the finished file into place", errno));
    }
    ::unlink(temp_.c_str());
  }
  finished_ = true;
  if (sync) {
    // Make the rename itself durable.
    const int dfd = ::open(directory_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return {};
}

}  // namespace owf::internal
