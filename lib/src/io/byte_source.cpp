#include "io/byte_source.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace owf::internal {

Error system_error(std::string_view name, std::string_view what, int errno_value) {
  std::string message(name);
  message.append(": ").append(what).append(": ").append(std::strerror(errno_value));
  return Error(ErrorCode::kIoError, std::move(message));
}

std::string_view file_type_name(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

namespace {

class FileByteSource final : public ByteSource {
 public:
  FileByteSource(int fd, std::uint64_t size, std::string name) : fd_(fd), size_(size), name_(std::move(name)) {}
  ~FileByteSource() override {
    if (mapping_ != nullptr) ::munmap(mapping_, static_cast<std::size_t>(size_));
    ::close(fd_);
  }

  Status map(bool copy_on_write) {
    if (size_ == 0) return {};
    void* m = MAP_FAILED;
    if (copy_on_write) {
      m = ::mmap(nullptr, static_cast<std::size_t>(size_), PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_, 0);
      writable_ = m != MAP_FAILED;
    }
    if (m == MAP_FAILED) m = ::mmap(nullptr, static_cast<std::size_t>(size_), PROT_READ, MAP_SHARED, fd_, 0);
    if (m == MAP_FAILED) return system_error(name_, "cannot map", errno);
    mapping_ = m;
    return {};
  }

  bool mapping_writable() const override { return writable_; }

  std::uint64_t size() const override { return size_; }
  const std::string& name() const override { return name_; }

  Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return system_error(name_, "read at byte " + std::to_string(offset + done), errno);
      if (n == 0)
        return Error(ErrorCode::kIoError, name_ + ": file ends at byte " + std::to_string(offset + done) + ", not " +
                                              std::to_string(size_) + ": it shrank after it was opened");
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  std::span<const std::byte> mapping() const override {
    if (mapping_ == nullptr) return {};
    return {static_cast<const std::byte*>(mapping_), static_cast<std::size_t>(size_)};
  }

  void will_read(std::uint64_t offset, std::uint64_t length) const override {
    ::posix_fadvise(fd_, static_cast<off_t>(offset), static_cast<off_t>(length), POSIX_FADV_WILLNEED);
  }

 private:
  int fd_;
  std::uint64_t size_;
  std::string name_;
  void* mapping_ = nullptr;
  bool writable_ = false;
};

class BufferByteSource final : public ByteSource {
 public:
  BufferByteSource(std::span<const std::byte> bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}
  std::uint64_t size() const override { return bytes_.size(); }
  const std::string& name() const override { return name_; }
  Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
    if (offset > bytes_.size() || out.size() > bytes_.size() - offset)
      return Error(ErrorCode::kIoError, name_ + ": read of " + std::to_string(out.size()) + " bytes at " +
                                            std::to_string(offset) + " is past its " + std::to_string(bytes_.size()) +
                                            " bytes");
    if (!out.empty()) std::memcpy(out.data(), bytes_.data() + offset, out.size());
    return {};
  }
  std::span<const std::byte> mapping() const override { return bytes_; }
  bool in_memory() const override { return true; }

 private:
  std::span<const std::byte> bytes_;
  std::string name_;
};

class OwnedBufferByteSource final : public ByteSource {
 public:
  OwnedBufferByteSource(std::vector<std::byte> bytes, std::string name)
      : owned_(std::move(bytes)), view_(owned_, std::move(name)) {}
  std::uint64_t size() const override { return view_.size(); }
  const std::string& name() const override { return view_.name(); }
  Status read_at(std::uint64_t offset, std::span<std::byte> out) const override { return view_.read_at(offset, out); }
  std::span<const std::byte> mapping() const override { return view_.mapping(); }
  bool in_memory() const override { return true; }

 private:
  std::vector<std::byte> owned_;
  BufferByteSource view_;
};

}  // namespace

Result<std::shared_ptr<const ByteSource>> open_file_source(const std::filesystem::path& path,
                                                           const FileSourceOptions& options) {
  const std::string name = path.string();
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return system_error(name, "cannot open", errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return system_error(name, "cannot stat", e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(ErrorCode::kIoError,
                 name + ": is " + std::string(file_type_name(st.st_mode)) + ", not a regular file");
  }
  // O_NONBLOCK only kept open() from hanging on a FIFO; regular files ignore it.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  auto source = std::make_shared<FileByteSource>(fd, static_cast<std::uint64_t>(st.st_size), name);
  if (options.map) OWF_RETURN_IF_ERROR(source->map(options.copy_on_write));
  return std::shared_ptr<const ByteSource>(std::move(source));
}

std::shared_ptr<const ByteSource> buffer_source(std::span<const std::byte> bytes, std::string name) {
  return std::make_shared<BufferByteSource>(bytes, std::move(name));
}

std::shared_ptr<const ByteSource> owned_buffer_source(std::vector<std::byte> bytes, std::string name) {
  return std::make_shared<OwnedBufferByteSource>(std::move(bytes), std::move(name));
}

Result<std::vector<std::byte>> read_range_checked(const ByteSource& source, std::uint64_t offset, std::uint64_t length,
                                                  std::string_view what) {
  if (offset > source.size() || length > source.size() - offset)
    return Error(ErrorCode::kTruncated, source.name() + ": " + std::string(what) + " at [" + std::to_string(offset) +
                                            ", +" + std::to_string(length) + ") extends past the end of the file (" +
                                            std::to_string(source.size()) + " bytes)");
  std::vector<std::byte> out(static_cast<std::size_t>(length));
  OWF_RETURN_IF_ERROR(source.read_at(offset, out));
  return out;
}

}  // namespace owf::internal
