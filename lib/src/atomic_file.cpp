#include "atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "layout.hpp"

namespace owf::internal {
namespace {

constexpr std::size_t kBufferSize = 1u << 20;

Error io_error(const std::string& what) { return Error(ErrorCode::kIoError, what + ": " + std::strerror(errno)); }

}  // namespace

Result<std::unique_ptr<AtomicFile>> AtomicFile::create(const std::filesystem::path& target) {
  const auto dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  std::string pattern = (dir / ("." + target.filename().string() + ".owf-partial-XXXXXX")).string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return io_error("cannot create a temporary file in " + dir.string());
  ::fchmod(fd, 0644);
  return std::unique_ptr<AtomicFile>(new AtomicFile(target, pattern, fd));
}

AtomicFile::AtomicFile(std::filesystem::path target, std::filesystem::path temp, int fd)
    : target_(std::move(target)), temp_(std::move(temp)), fd_(fd) {
  buffer_.reserve(kBufferSize);
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!finished_) ::unlink(temp_.c_str());
}

Status AtomicFile::write_all(std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd_, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      failed_ = true;
      return io_error("writing " + temp_.string());
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Status AtomicFile::flush() {
  if (buffer_.empty()) return {};
  auto s = write_all(buffer_);
  buffer_.clear();
  return s;
}

Status AtomicFile::write(std::span<const std::byte> data) {
  if (failed_ || finished_) return Error(ErrorCode::kIoError, "write after a failed or finished write to " + target_.string());
  if (buffer_.size() + data.size() <= kBufferSize) {
    buffer_.insert(buffer_.end(), data.begin(), data.end());
  } else {
    OWF_RETURN_IF_ERROR(flush());
    if (data.size() < kBufferSize) buffer_.insert(buffer_.end(), data.begin(), data.end());
    else OWF_RETURN_IF_ERROR(write_all(data));
  }
  position_ += data.size();
  return {};
}

Status AtomicFile::write_zeros(std::uint64_t count) {
  static constexpr std::byte kZeros[4096] = {};
  while (count > 0) {
    const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(count, sizeof kZeros));
    OWF_RETURN_IF_ERROR(write(std::span(kZeros, n)));
    count -= n;
  }
  return {};
}

Status AtomicFile::pad_to(std::uint64_t alignment) { return write_zeros(align_up(position_, alignment) - position_); }

Status AtomicFile::finish(bool sync) {
  if (failed_) return Error(ErrorCode::kIoError, "an earlier write failed; nothing was written to " + target_.string());
  if (finished_) return Error(ErrorCode::kInvalidArgument, target_.string() + " is already finished");
  OWF_RETURN_IF_ERROR(flush());
  if (sync && ::fsync(fd_) != 0) {
    failed_ = true;
    return io_error("fsync " + temp_.string());
  }
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    failed_ = true;
    return io_error("close " + temp_.string());
  }
  if (::rename(temp_.c_str(), target_.c_str()) != 0) {
    failed_ = true;
    return io_error("rename to " + target_.string());
  }
  finished_ = true;
  if (sync) {
    // Make the rename itself durable.
    const auto dir = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
  }
  return {};
}

}  // namespace owf::internal
