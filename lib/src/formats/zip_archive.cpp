#include "formats/zip_archive.hpp"

#include <zip.h>

#include <algorithm>
#include <cstdio>
#include <unordered_set>

#include "utf8.hpp"

namespace owf::internal {
namespace {

// Deflate cannot expand a byte of input to more than 1032 bytes of output
// (258-byte matches coded in 2 bits); anything above that is a lie.
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::uint64_t kDeflateSlack = 1024;
constexpr std::size_t kScratchBytes = 64 * 1024;

Error invalid(const std::filesystem::path& path, const std::string& what) {
  return Error(ErrorCode::kForeignFormatInvalid, path.string() + ": " + what);
}

std::string libzip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string message = zip_error_strerror(&error);
  zip_error_fini(&error);
  return message;
}

struct FileCloser {
  void operator()(zip_file_t* f) const {
    if (f != nullptr) zip_fclose(f);
  }
};

}  // namespace

std::optional<std::string> zip_name_problem(std::string_view name) {
  if (name.empty()) return "an empty name";
  if (!is_valid_utf8(name)) return "a name that is not UTF-8";
  for (const char c : name) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return "a control character in the name";
    if (c == '\\') return "a backslash in the name";
  }
  if (name.front() == '/') return "an absolute path";
  if (name.size() >= 2 && name[1] == ':') return "a drive letter";
  std::size_t start = 0;
  while (start <= name.size()) {
    const std::size_t end = std::min(name.find('/', start), name.size());
    const std::string_view segment = name.substr(start, end - start);
    if (segment.empty()) return "an empty path segment";
    if (segment == "." || segment == "..") return "a '" + std::string(segment) + "' path segment";
    start = end + 1;
  }
  return std::nullopt;
}

Result<std::unique_ptr<ZipArchive>> ZipArchive::open(const std::filesystem::path& path, const ZipLimits& limits) {
  int code = 0;
  zip_t* za = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
  if (za == nullptr) {
    if (code == ZIP_ER_OPEN || code == ZIP_ER_READ || code == ZIP_ER_NOENT)
      return Error(ErrorCode::kIoError, path.string() + ": " + libzip_message(code));
    if (code == ZIP_ER_EXISTS) return invalid(path, "two archive entries have the same name");
    return invalid(path, "not a valid zip archive (" + libzip_message(code) + ")");
  }
  std::unique_ptr<ZipArchive> archive(new ZipArchive());
  archive->path_ = path;
  archive->zip_ = za;

  const zip_int64_t count = zip_get_num_entries(za, 0);
  if (count < 0) return invalid(path, "cannot count the archive's entries");
  if (static_cast<std::uint64_t>(count) > limits.max_entries)
    return Error(ErrorCode::kLimitExceeded, path.string() + ": " + std::to_string(count) + " archive entries exceed the limit of " +
                                                std::to_string(limits.max_entries));
  archive->entries_.reserve(static_cast<std::size_t>(count));
  std::unordered_set<std::string_view> names;
  names.reserve(static_cast<std::size_t>(count));
  std::uint64_t total = 0;
  for (zip_uint64_t i = 0; i < static_cast<zip_uint64_t>(count); ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(za, i, ZIP_FL_ENC_RAW, &st) != 0 || (st.valid & ZIP_STAT_NAME) == 0)
      return invalid(path, "cannot read archive entry " + std::to_string(i));
    const std::string_view raw_name(st.name);
    const std::string where = "archive entry " + std::to_string(i);
    if (raw_name.size() > limits.max_name_bytes)
      return Error(ErrorCode::kLimitExceeded, path.string() + ": " + where + " has a " + std::to_string(raw_name.size()) +
                                                  "-byte name, above the limit of " + std::to_string(limits.max_name_bytes));
    if (auto problem = zip_name_problem(raw_name)) return invalid(path, where + " has " + *problem);
    const std::string named = where + " '" + std::string(raw_name) + "'";
    const zip_uint64_t needed = ZIP_STAT_SIZE | ZIP_STAT_COMP_SIZE | ZIP_STAT_COMP_METHOD | ZIP_STAT_CRC;
    if ((st.valid & needed) != needed) return invalid(path, named + " lacks its sizes, method or CRC");
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) != 0 && st.encryption_method != ZIP_EM_NONE)
      return Error(ErrorCode::kForeignFormatUnsupported, path.string() + ": " + named + " is encrypted");
    ZipEntry e;
    e.name = std::string(raw_name);
    e.size = st.size;
    e.compressed_size = st.comp_size;
    e.crc32 = st.crc;
    if (st.comp_method == ZIP_CM_STORE) {
      e.stored = true;
      if (e.compressed_size != e.size)
        return invalid(path, named + " is stored but declares " + std::to_string(e.size) + " bytes in " +
                                 std::to_string(e.compressed_size) + " stored bytes");
    } else if (st.comp_method == ZIP_CM_DEFLATE) {
      e.stored = false;
      const std::uint64_t cap = e.compressed_size > (UINT64_MAX - kDeflateSlack) / kMaxDeflateRatio
                                    ? UINT64_MAX
                                    : e.compressed_size * kMaxDeflateRatio + kDeflateSlack;
      if (e.size > cap)
        return invalid(path, named + " declares " + std::to_string(e.size) + " bytes from " + std::to_string(e.compressed_size) +
                                 " deflated bytes, more than deflate can produce");
    } else {
      return Error(ErrorCode::kForeignFormatUnsupported,
                   path.string() + ": " + named + " uses compression method " + std::to_string(st.comp_method) +
                       " (only stored and deflated entries are supported)");
    }
    if (e.size > limits.max_entry_bytes)
      return Error(ErrorCode::kLimitExceeded, path.string() + ": " + named + " declares " + std::to_string(e.size) +
                                                  " bytes, above the limit of " + std::to_string(limits.max_entry_bytes));
    if (e.size > limits.max_total_bytes - total)  // total <= max_total_bytes holds here
      return Error(ErrorCode::kLimitExceeded, path.string() + ": the entries declare more than " +
                                                  std::to_string(limits.max_total_bytes) + " bytes in total");
    total += e.size;
    archive->entries_.push_back(std::move(e));
  }
  for (const ZipEntry& e : archive->entries_)
    if (!names.insert(e.name).second) return invalid(path, "two archive entries have the same name '" + e.name + "'");
  return archive;
}

ZipArchive::~ZipArchive() {
  if (zip_ != nullptr) zip_discard(static_cast<zip_t*>(zip_));
}

std::optional<std::size_t> ZipArchive::find(std::string_view name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return i;
  return std::nullopt;
}

Status ZipArchive::read(std::size_t index, std::span<std::byte> out) const {
  if (index >= entries_.size()) return Error(ErrorCode::kInvalidArgument, "archive entry index out of range");
  if (out.size() != entries_[index].size)
    return Error(ErrorCode::kInvalidArgument, "buffer of " + std::to_string(out.size()) + " bytes for archive entry '" +
                                                  entries_[index].name + "' of " + std::to_string(entries_[index].size) + " bytes");
  return read_range(index, 0, out);
}

Status ZipArchive::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  if (index >= entries_.size()) return Error(ErrorCode::kInvalidArgument, "archive entry index out of range");
  const ZipEntry& e = entries_[index];
  if (offset > e.size || out.size() > e.size - offset)
    return Error(ErrorCode::kInvalidArgument, "range [" + std::to_string(offset) + ", +" + std::to_string(out.size()) +
                                                  ") outside archive entry '" + e.name + "' of " + std::to_string(e.size) +
                                                  " bytes");
  const std::string where = path_.string() + ": archive entry '" + e.name + "'";
  std::lock_guard lock(mutex_);
  std::unique_ptr<zip_file_t, FileCloser> f(zip_fopen_index(static_cast<zip_t*>(zip_), index, 0));
  if (!f) return Error(ErrorCode::kForeignFormatInvalid, where + ": cannot open (" + zip_strerror(static_cast<zip_t*>(zip_)) + ")");
  auto read_error = [&](std::uint64_t at) {
    return Error(ErrorCode::kForeignFormatInvalid, where + ": corrupt data at byte " + std::to_string(at) + " (" +
                                                       zip_file_strerror(f.get()) + ")");
  };
  auto short_error = [&](std::uint64_t at) {
    return Error(ErrorCode::kForeignFormatInvalid, where + " ends after " + std::to_string(at) + " bytes but declares " +
                                                       std::to_string(e.size));
  };
  if (offset > 0 && e.stored) {
    if (zip_fseek(f.get(), static_cast<zip_int64_t>(offset), SEEK_SET) != 0) return read_error(offset);
  } else if (offset > 0) {
    std::vector<std::byte> scratch(static_cast<std::size_t>(std::min<std::uint64_t>(offset, kScratchBytes)));
    std::uint64_t skipped = 0;
    while (skipped < offset) {
      const auto want = static_cast<zip_uint64_t>(std::min<std::uint64_t>(offset - skipped, scratch.size()));
      const zip_int64_t n = zip_fread(f.get(), scratch.data(), want);
      if (n < 0) return read_error(skipped);
      if (n == 0) return short_error(skipped);
      skipped += static_cast<std::uint64_t>(n);
    }
  }
  std::size_t done = 0;
  while (done < out.size()) {
    const zip_int64_t n = zip_fread(f.get(), out.data() + done, out.size() - done);
    if (n < 0) return read_error(offset + done);
    if (n == 0) return short_error(offset + done);
    done += static_cast<std::size_t>(n);
  }
  if (offset + out.size() == e.size) {
    std::byte probe[1];
    const zip_int64_t n = zip_fread(f.get(), probe, 1);
    if (n < 0) return read_error(e.size);
    if (n > 0)
      return Error(ErrorCode::kForeignFormatInvalid, where + " holds more than its declared " + std::to_string(e.size) + " bytes");
  }
  return {};
}

}  // namespace owf::internal
