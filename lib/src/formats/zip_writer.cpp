#include "formats/zip_writer.hpp"

#include <zlib.h>

#include <algorithm>

#include "formats/zip_archive.hpp"
#include "formats/zip_format.hpp"

namespace owf::internal {

using namespace zip;

namespace {

constexpr std::uint16_t kDosDate = (0 << 9) | (1 << 5) | 1;  // 1980-01-01
constexpr std::uint16_t kDosTime = 0;
constexpr std::uint16_t kMadeByUnix45 = (3 << 8) | kVersion45;
constexpr std::uint32_t kRegularFileAttributes = 0100644u << 16;  // rw-r--r--
constexpr std::uint64_t kCrcOffsetInLocalHeader = 14;

void put16(std::string& s, std::uint32_t v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}
void put64(std::string& s, std::uint64_t v) {
  put32(s, static_cast<std::uint32_t>(v));
  put32(s, static_cast<std::uint32_t>(v >> 32));
}
std::uint32_t field32(std::uint64_t v) { return v >= kZip64Size ? kZip64Size : static_cast<std::uint32_t>(v); }

}  // namespace

Status ZipWriter::begin_entry(const std::string& name, std::uint64_t size) {
  if (open_) return Error(ErrorCode::kInvalidArgument, "zip entry '" + entries_.back().name + "' is not ended");
  if (auto problem = zip_name_problem(name))
    return Error(ErrorCode::kInvalidArgument, "zip entry name '" + name + "': " + *problem);
  if (name.size() > 0xFFFF)
    return Error(ErrorCode::kInvalidArgument, "zip entry name of " + std::to_string(name.size()) + " bytes");
  Entry e;
  e.name = name;
  e.size = size;
  e.offset = out_.position();
  const bool zip64 = size >= kZip64Size;
  std::string h;
  put32(h, kLocalHeaderSignature);
  put16(h, zip64 ? kVersion45 : kVersion20);
  put16(h, kFlagUtf8);
  put16(h, kMethodStored);
  put16(h, kDosTime);
  put16(h, kDosDate);
  put32(h, 0);  // CRC-32, written by end_entry()
  put32(h, field32(size));
  put32(h, field32(size));
  put16(h, static_cast<std::uint16_t>(name.size()));
  put16(h, zip64 ? 20 : 0);
  h += name;
  if (zip64) {
    put16(h, kZip64ExtraId);
    put16(h, 16);
    put64(h, size);
    put64(h, size);
  }
  OWF_RETURN_IF_ERROR(out_.write(std::as_bytes(std::span(h))));
  entries_.push_back(std::move(e));
  open_ = true;
  written_ = 0;
  return {};
}

Status ZipWriter::append(std::span<const std::byte> data) {
  if (!open_) return Error(ErrorCode::kInvalidArgument, "zip data outside an entry");
  Entry& e = entries_.back();
  if (data.size() > e.size - written_)
    return Error(ErrorCode::kInvalidArgument,
                 "zip entry '" + e.name + "' receives more than its " + std::to_string(e.size) + " bytes");
  e.crc = static_cast<std::uint32_t>(crc32_z(e.crc, reinterpret_cast<const Bytef*>(data.data()), data.size()));
  written_ += data.size();
  return out_.write(data);
}

Status ZipWriter::end_entry() {
  if (!open_) return Error(ErrorCode::kInvalidArgument, "no zip entry to end");
  const Entry& e = entries_.back();
  if (written_ != e.size)
    return Error(ErrorCode::kInvalidArgument, "zip entry '" + e.name + "' received " + std::to_string(written_) +
                                                  " of its " + std::to_string(e.size) + " bytes");
  std::string crc;
  put32(crc, e.crc);
  open_ = false;
  return out_.overwrite(e.offset + kCrcOffsetInLocalHeader, std::as_bytes(std::span(crc)));
}

Status ZipWriter::finish() {
  if (open_) return Error(ErrorCode::kInvalidArgument, "zip entry '" + entries_.back().name + "' is not ended");
  const std::uint64_t cd_offset = out_.position();
  std::string cd;
  for (const Entry& e : entries_) {
    const bool big_size = e.size >= kZip64Size, big_offset = e.offset >= kZip64Size;
    std::string extra;
    if (big_size) {
      put64(extra, e.size);
      put64(extra, e.size);
    }
    if (big_offset) put64(extra, e.offset);
    put32(cd, kCentralHeaderSignature);
    put16(cd, kMadeByUnix45);
    put16(cd, big_size || big_offset ? kVersion45 : kVersion20);
    put16(cd, kFlagUtf8);
    put16(cd, kMethodStored);
    put16(cd, kDosTime);
    put16(cd, kDosDate);
    put32(cd, e.crc);
    put32(cd, field32(e.size));
    put32(cd, field32(e.size));
    put16(cd, static_cast<std::uint16_t>(e.name.size()));
    put16(cd, static_cast<std::uint16_t>(extra.empty() ? 0 : extra.size() + 4));
    put16(cd, 0);  // comment
    put16(cd, 0);  // disk
    put16(cd, 0);  // internal attributes
    put32(cd, kRegularFileAttributes);
    put32(cd, field32(e.offset));
    cd += e.name;
    if (!extra.empty()) {
      put16(cd, kZip64ExtraId);
      put16(cd, static_cast<std::uint16_t>(extra.size()));
      cd += extra;
    }
  }
  const std::uint64_t count = entries_.size(), cd_size = cd.size();
  if (count >= kZip64Count || cd_offset >= kZip64Size || cd_size >= kZip64Size) {
    const std::uint64_t end64_offset = cd_offset + cd_size;
    put32(cd, kZip64EndSignature);
    put64(cd, kZip64EndBytes - 12);
    put16(cd, kMadeByUnix45);
    put16(cd, kVersion45);
    put32(cd, 0);
    put32(cd, 0);
    put64(cd, count);
    put64(cd, count);
    put64(cd, cd_size);
    put64(cd, cd_offset);
    put32(cd, kZip64LocatorSignature);
    put32(cd, 0);
    put64(cd, end64_offset);
    put32(cd, 1);
  }
  put32(cd, kEndSignature);
  put16(cd, 0);
  put16(cd, 0);
  put16(cd, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, kZip64Count)));
  put16(cd, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, kZip64Count)));
  put32(cd, field32(cd_size));
  put32(cd, field32(cd_offset));
  put16(cd, 0);
  return out_.write(std::as_bytes(std::span(cd)));
}

}  // namespace owf::internal
