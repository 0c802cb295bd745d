// The bytes that zero-copy arrays view, and what keeps them alive.
//
// An OWF file is opened by the library with copy-on-write views
// (owf::OpenOptions::copy_on_write_views): a zero-copy torch tensor has no
// read-only flag, and writing into one must change that tensor in this
// process, not crash it on a read-only page nor change the file. NumPy
// arrays over the mapping are flagged read-only. safetensors and
// torch.load(mmap=True) map files the same way. A tensor the user writes
// to afterwards no longer matches its digest, which verify() reports.
//
// Arrays keep the bytes alive through their base object (a Mapping that
// holds the opened source), so they outlive the Reader that created them
// for as long as any view exists.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "owf/owf.hpp"

namespace owf::python {

class Mapping {
 public:
  /// The mapping of an opened OWF file, kept alive by `owner`.
  static std::shared_ptr<Mapping> of_file(std::shared_ptr<const Source> owner, const File& file,
                                          const std::string& path);
  /// A private, page-aligned, writable copy of `bytes`.
  static Result<std::shared_ptr<Mapping>> copy_of(std::span<const std::byte> bytes);

  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  std::span<const std::byte> bytes() const { return bytes_; }
  bool writable() const { return writable_; }
  const std::string& path() const { return path_; }

 private:
  Mapping() = default;
  std::shared_ptr<const Source> owner_;  // a mapped file
  void* copy_ = nullptr;                 // or a copy made by copy_of
  std::span<const std::byte> bytes_;
  bool writable_ = false;
  std::string path_;
};

}  // namespace owf::python
