// The bytes of an OWF file as the extension holds them.
//
// An OWF file is mapped privately and copy-on-write (MAP_PRIVATE with
// PROT_WRITE), not read-only: a zero-copy torch tensor has no read-only
// flag, and writing into one must change that tensor in this process, not
// crash it on a read-only page nor change the file. NumPy arrays over the
// mapping are flagged read-only. safetensors and torch.load(mmap=True) map
// files the same way. The library validates the mapped bytes with
// File::open_buffer; a tensor the user writes to afterwards no longer
// matches its digest, which verify() then reports.
//
// Arrays keep the mapping alive through their base object (a Mapping), so
// it outlives the Reader that created it for as long as any view exists.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "owf/error.hpp"

namespace owf::python {

class Mapping {
 public:
  /// Maps the whole file at `path`. Falls back to a read-only shared
  /// mapping when the system refuses a private writable one (strict
  /// overcommit); writable() then says false.
  static Result<std::shared_ptr<Mapping>> map_file(const std::string& path);
  /// A private, page-aligned copy of `bytes`.
  static Result<std::shared_ptr<Mapping>> copy_of(std::span<const std::byte> bytes);

  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  ~Mapping();

  std::span<std::byte> bytes() const { return {static_cast<std::byte*>(address_), size_}; }
  bool writable() const { return writable_; }
  const std::string& path() const { return path_; }

 private:
  Mapping() = default;
  void* address_ = nullptr;
  std::size_t size_ = 0;
  bool writable_ = false;
  std::string path_;
};

}  // namespace owf::python
