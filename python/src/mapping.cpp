#include "mapping.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace owf::python {

std::shared_ptr<Mapping> Mapping::of_file(std::shared_ptr<const Source> owner, const File& file,
                                          const std::string& path) {
  std::shared_ptr<Mapping> m(new Mapping());
  m->owner_ = std::move(owner);
  m->bytes_ = file.mapping();
  m->writable_ = file.views_writable();
  m->path_ = path;
  return m;
}

Result<std::shared_ptr<Mapping>> Mapping::copy_of(std::span<const std::byte> bytes) {
  std::shared_ptr<Mapping> m(new Mapping());
  m->path_ = "<bytes>";
  m->writable_ = true;
  if (bytes.empty()) return m;
  void* a = ::mmap(nullptr, bytes.size(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED)
    return Error(ErrorCode::kLimitExceeded,
                 "cannot allocate " + std::to_string(bytes.size()) + " bytes: " + std::strerror(errno));
  std::memcpy(a, bytes.data(), bytes.size());
  m->copy_ = a;
  m->bytes_ = {static_cast<const std::byte*>(a), bytes.size()};
  return m;
}

Mapping::~Mapping() {
  if (copy_ != nullptr) ::munmap(copy_, bytes_.size());
}

}  // namespace owf::python
