// Writing a stored (uncompressed) zip archive in one pass through an
// OutputFile: .npz files. Each entry's size is known before its data, so
// the local header carries it (no data descriptors); the CRC-32, known only
// after the data, is written into the local header when the entry ends.
// ZIP64 records appear only where a size, offset or count does not fit the
// classic fields. Names are written as UTF-8, times as 1980-01-01 00:00, so
// that the output depends only on the entries.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "io/output_file.hpp"
#include "owf/error.hpp"

namespace owf::internal {

class ZipWriter {
 public:
  explicit ZipWriter(OutputFile& out) : out_(out) {}

  /// Starts an entry of exactly `size` bytes; `name` must satisfy
  /// zip_name_problem() and fit 65,535 bytes (invalid_argument otherwise).
  Status begin_entry(const std::string& name, std::uint64_t size);
  /// The next bytes of the current entry.
  Status append(std::span<const std::byte> data);
  /// Ends the current entry (which must have received exactly its size).
  Status end_entry();
  /// Writes the central directory and end records; the archive is then
  /// complete (the caller finishes the OutputFile).
  Status finish();

 private:
  struct Entry {
    std::string name;
    std::uint64_t size = 0, offset = 0;
    std::uint32_t crc = 0;
  };
  OutputFile& out_;
  std::vector<Entry> entries_;
  bool open_ = false;
  std::uint64_t written_ = 0;  // bytes of the current entry so far
};

}  // namespace owf::internal
