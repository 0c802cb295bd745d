#include "mapping.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace owf::python {

namespace {

Error io_error(const std::string& path, const std::string& what) {
  return Error(ErrorCode::kIoError, path + ": " + what + ": " + std::strerror(errno));
}

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

Result<std::shared_ptr<Mapping>> Mapping::map_file(const std::string& path) {
  const Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return io_error(path, "cannot open");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(path, "cannot stat");
  if (!S_ISREG(st.st_mode)) return Error(ErrorCode::kIoError, path + ": not a regular file");
  std::shared_ptr<Mapping> m(new Mapping());
  m->path_ = path;
  m->size_ = static_cast<std::size_t>(st.st_size);
  if (m->size_ == 0) return m;  // validation reports the empty file
  void* a = ::mmap(nullptr, m->size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  m->writable_ = a != MAP_FAILED;
  if (a == MAP_FAILED) a = ::mmap(nullptr, m->size_, PROT_READ, MAP_SHARED, fd.get(), 0);
  if (a == MAP_FAILED) return io_error(path, "cannot map");
  m->address_ = a;
  return m;
}

Result<std::shared_ptr<Mapping>> Mapping::copy_of(std::span<const std::byte> bytes) {
  std::shared_ptr<Mapping> m(new Mapping());
  m->path_ = "<bytes>";
  m->size_ = bytes.size();
  m->writable_ = true;
  if (bytes.empty()) return m;
  void* a = ::mmap(nullptr, bytes.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED)
    return Error(ErrorCode::kLimitExceeded,
                 "cannot allocate " + std::to_string(bytes.size()) + " bytes: " + std::strerror(errno));
  std::memcpy(a, bytes.data(), bytes.size());
  m->address_ = a;
  return m;
}

Mapping::~Mapping() {
  if (address_ != nullptr) ::munmap(address_, size_);
}

}  // namespace owf::python
