#include "formats/zip_archive.hpp"

#include <zlib.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <unordered_set>

#include "formats/zip_format.hpp"
#include "io/byte_cursor.hpp"
#include "utf8.hpp"

namespace owf::internal {

using namespace zip;

namespace {

constexpr std::size_t kInputBytes = 64 * 1024;    // compressed bytes fetched per refill
constexpr std::size_t kScratchBytes = 64 * 1024;  // decoded bytes skipped per step
constexpr std::size_t kMaxStreams = 4;            // deflated entries kept open

std::uint16_t le16(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint16_t>(std::to_integer<unsigned>(b[at]) | std::to_integer<unsigned>(b[at + 1]) << 8);
}
std::uint32_t le32(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint32_t>(le16(b, at)) | static_cast<std::uint32_t>(le16(b, at + 2)) << 16;
}
std::uint64_t le64(std::span<const std::byte> b, std::size_t at) {
  return static_cast<std::uint64_t>(le32(b, at)) | static_cast<std::uint64_t>(le32(b, at + 4)) << 32;
}

Error invalid(const ByteSource& source, const std::string& what) {
  return Error(ErrorCode::kForeignFormatInvalid, source.name() + ": " + what);
}
Error unsupported(const ByteSource& source, const std::string& what) {
  return Error(ErrorCode::kForeignFormatUnsupported, source.name() + ": " + what);
}

std::string method_name(std::uint16_t method) {
  switch (method) {
    case 12:
      return "12 (bzip2)";
    case 14:
      return "14 (LZMA)";
    case 93:
      return "93 (Zstandard)";
    case 95:
      return "95 (xz)";
    case 99:
      return "99 (AES encryption)";
    default:
      return std::to_string(method);
  }
}

// Values a ZIP64 extra field (id 0x0001) supplies for the classic fields
// that hold the 0xFFFFFFFF / 0xFFFF sentinel, in the order APPNOTE 4.5.3
// gives: size, compressed size, local header offset, disk.
struct Zip64Fields {
  std::uint64_t size, compressed_size, header_offset;
  std::uint32_t disk;
};

// `fields` holds the classic values on entry; those at their sentinel are
// replaced from the extra field. Returns a description of the defect.
std::optional<std::string> apply_zip64(std::span<const std::byte> extra, Zip64Fields& fields, bool local) {
  const bool want_size = fields.size == kZip64Size, want_csize = fields.compressed_size == kZip64Size;
  const bool want_offset = !local && fields.header_offset == kZip64Size,
             want_disk = !local && fields.disk == kZip64Count;
  if (!want_size && !want_csize && !want_offset && !want_disk) return std::nullopt;
  std::size_t at = 0;
  while (at + 4 <= extra.size()) {
    const std::uint16_t id = le16(extra, at), length = le16(extra, at + 2);
    if (at + 4 + length > extra.size()) return "an extra field that runs past its end";
    if (id == kZip64ExtraId) {
      std::size_t p = at + 4;
      const std::size_t end = p + length;
      auto take = [&](std::uint64_t& v, std::size_t bytes) {
        if (p + bytes > end) return false;
        v = bytes == 8 ? le64(extra, p) : le32(extra, p);
        p += bytes;
        return true;
      };
      std::uint64_t disk = fields.disk;
      // A local header's ZIP64 field holds both sizes whenever it is present.
      if ((want_size || local) && !take(fields.size, 8)) return "a ZIP64 field without the size";
      if ((want_csize || local) && !take(fields.compressed_size, 8)) return "a ZIP64 field without the compressed size";
      if (want_offset && !take(fields.header_offset, 8)) return "a ZIP64 field without the local header offset";
      if (want_disk && !take(disk, 4)) return "a ZIP64 field without the disk number";
      fields.disk = static_cast<std::uint32_t>(disk);
      return std::nullopt;
    }
    at += 4 + length;
  }
  return "sizes that defer to a ZIP64 extra field it does not have";
}

struct EndRecord {
  std::uint64_t entries = 0;
  std::uint64_t cd_offset = 0;
  std::uint64_t cd_size = 0;
  std::uint64_t cd_end_expected = 0;  // where the end records begin
};

Result<EndRecord> read_end_record(const ByteSource& source) {
  const std::uint64_t size = source.size();
  if (size < kEndBytes)
    return invalid(source,
                   size == 0 ? "the file is empty, not a zip archive"
                             : "not a zip archive: " + std::to_string(size) + " bytes are too few for its end record");
  const std::uint64_t tail_length = std::min<std::uint64_t>(size, kEndBytes + kMaxCommentBytes);
  OWF_ASSIGN_OR_RETURN(const std::vector<std::byte> tail,
                       read_range_checked(source, size - tail_length, tail_length, "the zip end record"));
  // The last signature whose comment length reaches exactly to the end.
  std::optional<std::size_t> found;
  for (std::size_t i = tail.size() - kEndBytes + 1; i-- > 0;) {
    if (le32(tail, i) == kEndSignature && i + kEndBytes + le16(tail, i + 20) == tail.size()) {
      found = i;
      break;
    }
  }
  if (!found) return invalid(source, "no zip end-of-central-directory record: not a zip archive");
  const std::span<const std::byte> r = std::span(tail).subspan(*found, kEndBytes);
  const std::uint64_t end_at = size - tail_length + *found;
  const std::uint16_t disk = le16(r, 4), cd_disk = le16(r, 6), here = le16(r, 8), total = le16(r, 10);
  const std::uint32_t cd_size = le32(r, 12), cd_offset = le32(r, 16);
  EndRecord end{total, cd_offset, cd_size, end_at};

  const bool has_locator = end_at >= kZip64LocatorBytes && [&] {
    std::array<std::byte, 4> sig{};
    return source.read_at(end_at - kZip64LocatorBytes, sig).ok() && le32(sig, 0) == kZip64LocatorSignature;
  }();
  const bool deferred = disk == kZip64Count || cd_disk == kZip64Count || here == kZip64Count || total == kZip64Count ||
                        cd_size == kZip64Size || cd_offset == kZip64Size;
  if (!has_locator) {
    if (deferred) return invalid(source, "the end record defers to ZIP64 records that are not there");
    if (disk != 0 || cd_disk != 0 || here != total)
      return unsupported(source, "split (multi-disk) archives are not read");
    return end;
  }
  const std::uint64_t locator_at = end_at - kZip64LocatorBytes;
  OWF_ASSIGN_OR_RETURN(const auto locator,
                       read_range_checked(source, locator_at, kZip64LocatorBytes, "the ZIP64 locator"));
  const std::uint64_t end64_at = le64(locator, 8);
  if (le32(locator, 4) != 0 || le32(locator, 16) > 1)
    return unsupported(source, "split (multi-disk) archives are not read");
  if (end64_at > locator_at || locator_at - end64_at < kZip64EndBytes)
    return invalid(source,
                   "the ZIP64 locator points at byte " + std::to_string(end64_at) + ", where no ZIP64 end record fits");
  OWF_ASSIGN_OR_RETURN(const auto r64, read_range_checked(source, end64_at, kZip64EndBytes, "the ZIP64 end record"));
  if (le32(r64, 0) != kZip64EndSignature)
    return invalid(source, "no ZIP64 end record at byte " + std::to_string(end64_at));
  if (le64(r64, 4) != locator_at - end64_at - 12)
    return invalid(source, "the ZIP64 end record's length disagrees with where its locator is");
  if (le32(r64, 16) != 0 || le32(r64, 20) != 0 || le64(r64, 24) != le64(r64, 32))
    return unsupported(source, "split (multi-disk) archives are not read");
  const EndRecord end64{le64(r64, 32), le64(r64, 48), le64(r64, 40), end64_at};
  if ((total != kZip64Count && total != end64.entries) || (cd_size != kZip64Size && cd_size != end64.cd_size) ||
      (cd_offset != kZip64Size && cd_offset != end64.cd_offset))
    return invalid(source, "the end record and the ZIP64 end record disagree");
  return end64;
}

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

Result<std::shared_ptr<const ZipArchive>> ZipArchive::open(std::shared_ptr<const ByteSource> source_ptr,
                                                           const ZipLimits& limits) {
  const ByteSource& source = *source_ptr;
  OWF_ASSIGN_OR_RETURN(const EndRecord end, read_end_record(source));
  if (end.cd_offset > end.cd_end_expected || end.cd_size != end.cd_end_expected - end.cd_offset)
    return invalid(source, "the central directory [" + std::to_string(end.cd_offset) + ", +" +
                               std::to_string(end.cd_size) + ") does not end where the end record begins (byte " +
                               std::to_string(end.cd_end_expected) + ")");
  if (end.entries > limits.max_entries)
    return Error(ErrorCode::kLimitExceeded, source.name() + ": " + std::to_string(end.entries) +
                                                " archive entries exceed the limit of " +
                                                std::to_string(limits.max_entries));
  if (end.entries > end.cd_size / kCentralHeaderBytes)
    return invalid(source, "the end record counts " + std::to_string(end.entries) + " entries, more than its " +
                               std::to_string(end.cd_size) + "-byte central directory can hold");

  std::shared_ptr<ZipArchive> archive(new ZipArchive());
  archive->source_ = source_ptr;
  auto& entries = archive->entries_;
  entries.reserve(static_cast<std::size_t>(end.entries));
  std::vector<std::uint16_t> flags;
  flags.reserve(static_cast<std::size_t>(end.entries));
  ByteCursor cd(source, end.cd_offset, end.cd_offset + end.cd_size);
  std::uint64_t total = 0;
  for (std::uint64_t i = 0; i < end.entries; ++i) {
    const std::string where = "archive entry " + std::to_string(i);
    const std::uint64_t at = cd.offset();
    OWF_ASSIGN_OR_RETURN(const auto h, cd.view(kCentralHeaderBytes, where));
    if (le32(h, 0) != kCentralHeaderSignature)
      return invalid(source, "no central directory header for " + where + " at byte " + std::to_string(at));
    const std::uint16_t flag = le16(h, 8), method = le16(h, 10);
    const std::uint32_t crc = le32(h, 16);
    Zip64Fields f{le32(h, 24), le32(h, 20), le32(h, 42), le16(h, 34)};
    const std::uint16_t name_length = le16(h, 28), extra_length = le16(h, 30), comment_length = le16(h, 32);
    OWF_ASSIGN_OR_RETURN(std::string name, cd.read_string(name_length, limits.max_name_bytes, "the name of " + where));
    OWF_ASSIGN_OR_RETURN(const auto extra, cd.view(extra_length, "the extra field of " + where));
    if (auto problem = apply_zip64(extra, f, false)) return invalid(source, where + " has " + *problem);
    OWF_RETURN_IF_ERROR(cd.skip(comment_length, "the comment of " + where));
    if (auto problem = zip_name_problem(name)) return invalid(source, where + " has " + *problem);
    const std::string named = where + " '" + name + "'";
    if (f.disk != 0) return unsupported(source, named + " is on another disk: split archives are not read");
    if ((flag & (kFlagEncrypted | kFlagStrongEncryption | kFlagMaskedHeaders)) != 0)
      return unsupported(source, named + " is encrypted");
    ZipEntry e;
    e.name = std::move(name);
    e.size = f.size;
    e.compressed_size = f.compressed_size;
    e.crc32 = crc;
    e.header_offset = f.header_offset;
    if (method == kMethodStored) {
      e.stored = true;
      if (e.compressed_size != e.size)
        return invalid(source, named + " is stored but declares " + std::to_string(e.size) + " bytes in " +
                                   std::to_string(e.compressed_size) + " stored bytes");
    } else if (method == kMethodDeflated) {
      e.stored = false;
      const std::uint64_t cap = e.compressed_size > (UINT64_MAX - kDeflateSlack) / kMaxDeflateRatio
                                    ? UINT64_MAX
                                    : e.compressed_size * kMaxDeflateRatio + kDeflateSlack;
      if (e.size > cap)
        return invalid(source, named + " declares " + std::to_string(e.size) + " bytes from " +
                                   std::to_string(e.compressed_size) +
                                   " deflated bytes, more than deflate can produce (1032:1)");
    } else {
      return unsupported(source, named + " uses compression method " + method_name(method) +
                                     " (only stored and deflated entries are read)");
    }
    if (e.size > limits.max_entry_bytes)
      return Error(ErrorCode::kLimitExceeded, source.name() + ": " + named + " declares " + std::to_string(e.size) +
                                                  " bytes, above the limit of " +
                                                  std::to_string(limits.max_entry_bytes));
    if (e.size > limits.max_total_bytes - total)  // total <= max_total_bytes holds here
      return Error(ErrorCode::kLimitExceeded, source.name() + ": the entries declare more than " +
                                                  std::to_string(limits.max_total_bytes) + " bytes in total");
    total += e.size;
    entries.push_back(std::move(e));
    flags.push_back(flag);
  }
  if (cd.remaining() != 0)
    return invalid(source, "the central directory holds " + std::to_string(cd.remaining()) + " bytes after its " +
                               std::to_string(end.entries) + " entries");
  {
    std::unordered_set<std::string_view> names;
    names.reserve(entries.size());
    for (const ZipEntry& e : entries)
      if (!names.insert(e.name).second)
        return invalid(source, "two archive entries have the same name '" + e.name + "'");
  }

  // Local headers: each agrees with its central entry; data before the
  // central directory.
  for (std::size_t i = 0; i < entries.size(); ++i) {
    ZipEntry& e = entries[i];
    const std::string named = "archive entry '" + e.name + "'";
    if (e.header_offset > end.cd_offset || end.cd_offset - e.header_offset < kLocalHeaderBytes)
      return invalid(source, named + ": its local header at byte " + std::to_string(e.header_offset) +
                                 " is not before the central directory");
    ByteCursor local(source, e.header_offset, end.cd_offset);
    OWF_ASSIGN_OR_RETURN(const auto h, local.view(kLocalHeaderBytes, "the local header of " + named));
    if (le32(h, 0) != kLocalHeaderSignature)
      return invalid(source, named + ": no local header at byte " + std::to_string(e.header_offset));
    const std::uint16_t flag = le16(h, 6), method = le16(h, 8);
    const std::uint32_t crc = le32(h, 14);
    Zip64Fields f{le32(h, 22), le32(h, 18), 0, 0};
    const std::uint16_t name_length = le16(h, 26), extra_length = le16(h, 28);
    OWF_ASSIGN_OR_RETURN(const std::string local_name,
                         local.read_string(name_length, UINT16_MAX, "the local name of " + named));
    OWF_ASSIGN_OR_RETURN(const auto extra, local.view(extra_length, "the local extra field of " + named));
    if (auto problem = apply_zip64(extra, f, true))
      return invalid(source, named + ": its local header has " + *problem);
    const std::uint16_t kept = kFlagEncrypted | kFlagDataDescriptor;
    const bool descriptor = (flags[i] & kFlagDataDescriptor) != 0;
    auto agrees = [descriptor](std::uint64_t local_value, std::uint64_t central) {
      return local_value == central || (descriptor && local_value == 0);
    };
    if (local_name != e.name || method != (e.stored ? kMethodStored : kMethodDeflated) ||
        (flag & kept) != (flags[i] & kept) || !agrees(crc, e.crc32) || !agrees(f.size, e.size) ||
        !agrees(f.compressed_size, e.compressed_size))
      return invalid(source, named + ": its local header (byte " + std::to_string(e.header_offset) +
                                 ") disagrees with its central directory entry");
    e.data_offset = local.offset();
    if (e.compressed_size > end.cd_offset - e.data_offset)
      return invalid(source, named + ": its " + std::to_string(e.compressed_size) + " bytes of data at byte " +
                                 std::to_string(e.data_offset) + " run past the start of the central directory");
  }
  // No two entries share bytes.
  std::vector<std::size_t> order(entries.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return entries[a].header_offset < entries[b].header_offset; });
  for (std::size_t k = 1; k < order.size(); ++k) {
    const ZipEntry& a = entries[order[k - 1]];
    const ZipEntry& b = entries[order[k]];
    const std::uint64_t a_end = a.data_offset + a.compressed_size;
    if (a_end > b.header_offset)
      return invalid(source, "archive entries '" + a.name + "' (bytes " + std::to_string(a.header_offset) + " to " +
                                 std::to_string(a_end) + ") and '" + b.name + "' (from byte " +
                                 std::to_string(b.header_offset) +
                                 ") overlap: entries may not share bytes (a zip bomb construction)");
  }
  archive->stored_progress_.resize(entries.size());
  archive->rewinds_.resize(entries.size());
  return std::shared_ptr<const ZipArchive>(std::move(archive));
}

// ---------------------------------------------------------------------------
// Reading

struct ZipArchive::Stream {
  std::size_t entry = SIZE_MAX;
  z_stream zs{};
  bool initialized = false;
  bool ended = false;          // the deflate stream reached its end
  std::uint64_t produced = 0;  // decoded bytes so far: the next offset
  std::uint64_t consumed = 0;  // compressed bytes fetched so far
  std::uint32_t crc = 0;
  std::uint64_t last_use = 0;
  std::vector<std::byte> input;

  ~Stream() {
    if (initialized) inflateEnd(&zs);
  }
  bool restart() {
    ended = false;
    produced = consumed = 0;
    crc = 0;
    zs.next_in = nullptr;
    zs.avail_in = 0;
    if (!initialized) {
      if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return false;
      initialized = true;
      return true;
    }
    return inflateReset(&zs) == Z_OK;
  }
};

ZipArchive::~ZipArchive() = default;

std::optional<std::size_t> ZipArchive::find(std::string_view name) const {
  for (std::size_t i = 0; i < entries_.size(); ++i)
    if (entries_[i].name == name) return i;
  return std::nullopt;
}

Error ZipArchive::entry_error(const ZipEntry& e, const std::string& what) const {
  return Error(ErrorCode::kForeignFormatInvalid, source_->name() + ": archive entry '" + e.name + "' " + what);
}

Status ZipArchive::read(std::size_t index, std::span<std::byte> out) const {
  if (index >= entries_.size()) return Error(ErrorCode::kInvalidArgument, "archive entry index out of range");
  if (out.size() != entries_[index].size)
    return Error(ErrorCode::kInvalidArgument, "buffer of " + std::to_string(out.size()) + " bytes for archive entry '" +
                                                  entries_[index].name + "' of " +
                                                  std::to_string(entries_[index].size) + " bytes");
  return read_range(index, 0, out);
}

Status ZipArchive::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  if (index >= entries_.size()) return Error(ErrorCode::kInvalidArgument, "archive entry index out of range");
  const ZipEntry& e = entries_[index];
  if (offset > e.size || out.size() > e.size - offset)
    return Error(ErrorCode::kInvalidArgument, "range [" + std::to_string(offset) + ", +" + std::to_string(out.size()) +
                                                  ") outside archive entry '" + e.name + "' of " +
                                                  std::to_string(e.size) + " bytes");
  if (out.empty()) return {};
  return e.stored ? read_stored(index, offset, out) : read_deflated(index, offset, out);
}

Status ZipArchive::read_stored(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  const ZipEntry& e = entries_[index];
  OWF_RETURN_IF_ERROR(source_->read_at(e.data_offset + offset, out));
  std::lock_guard lock(mutex_);
  InOrder& p = stored_progress_[index];
  if (p.position != offset) return {};
  p.crc = static_cast<std::uint32_t>(crc32_z(p.crc, reinterpret_cast<const Bytef*>(out.data()), out.size()));
  p.position += out.size();
  if (p.position < e.size) return {};
  const std::uint32_t crc = p.crc;
  p = InOrder{};
  if (crc != e.crc32) return entry_error(e, "fails its CRC-32 check (the stored bytes are corrupt)");
  return {};
}

ZipArchive::Stream& ZipArchive::stream_for(std::size_t index) const {
  Stream* chosen = nullptr;
  for (auto& s : streams_)
    if (s->entry == index) chosen = s.get();
  if (chosen == nullptr) {
    if (streams_.size() < kMaxStreams) {
      streams_.push_back(std::make_unique<Stream>());
      chosen = streams_.back().get();
    } else {
      chosen = std::min_element(streams_.begin(), streams_.end(), [](const auto& a, const auto& b) {
                 return a->last_use < b->last_use;
               })->get();
    }
    chosen->entry = index;
    chosen->produced = UINT64_MAX;  // forces a restart
  }
  chosen->last_use = ++clock_;
  return *chosen;
}

// One inflate call into `out` (fetching compressed input first if none is
// buffered); `got` is the number of bytes decoded.
Status ZipArchive::inflate_step(Stream& s, std::span<std::byte> out, std::size_t& got) const {
  const ZipEntry& e = entries_[s.entry];
  got = 0;
  if (s.zs.avail_in == 0) {
    const std::uint64_t left = e.compressed_size - s.consumed;
    if (left == 0)
      return entry_error(e, "is cut short: its deflate data ends after " + std::to_string(s.produced) +
                                " decoded bytes, without the end of the stream");
    s.input.resize(static_cast<std::size_t>(std::min<std::uint64_t>(left, kInputBytes)));
    OWF_RETURN_IF_ERROR(source_->read_at(e.data_offset + s.consumed, s.input));
    s.consumed += s.input.size();
    s.zs.next_in = reinterpret_cast<Bytef*>(s.input.data());
    s.zs.avail_in = static_cast<uInt>(s.input.size());
  }
  const std::size_t want = std::min<std::size_t>(out.size(), UINT_MAX);
  s.zs.next_out = reinterpret_cast<Bytef*>(out.data());
  s.zs.avail_out = static_cast<uInt>(want);
  const int ret = inflate(&s.zs, Z_NO_FLUSH);
  got = want - s.zs.avail_out;
  s.crc = static_cast<std::uint32_t>(crc32_z(s.crc, reinterpret_cast<const Bytef*>(out.data()), got));
  s.produced += got;
  if (ret == Z_STREAM_END) {
    s.ended = true;
  } else if (ret != Z_OK && !(ret == Z_BUF_ERROR && s.zs.avail_in == 0)) {
    return entry_error(e, "holds corrupt deflate data near decoded byte " + std::to_string(s.produced) + " (" +
                              (s.zs.msg != nullptr ? s.zs.msg : "inflate error " + std::to_string(ret)) + ")");
  }
  return {};
}

// Decodes the next out.size() bytes of the stream into `out`.
Status ZipArchive::inflate_into(Stream& s, std::span<std::byte> out) const {
  const ZipEntry& e = entries_[s.entry];
  std::size_t done = 0;
  while (done < out.size()) {
    if (s.ended)
      return entry_error(e,
                         "ends after " + std::to_string(s.produced) + " bytes but declares " + std::to_string(e.size));
    std::size_t got = 0;
    OWF_RETURN_IF_ERROR(inflate_step(s, out.subspan(done), got));
    done += got;
  }
  return {};
}

// At the declared end: the deflate stream must end here too, and the CRC match.
Status ZipArchive::finish_stream(Stream& s) const {
  const ZipEntry& e = entries_[s.entry];
  while (!s.ended) {
    std::byte probe[1];
    std::size_t got = 0;
    OWF_RETURN_IF_ERROR(inflate_step(s, probe, got));
    if (got != 0) return entry_error(e, "holds more than its declared " + std::to_string(e.size) + " bytes");
  }
  if (s.crc != e.crc32) return entry_error(e, "fails its CRC-32 check (the decoded bytes are corrupt)");
  return {};
}

Status ZipArchive::read_deflated(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  const ZipEntry& e = entries_[index];
  std::lock_guard lock(mutex_);
  if (cached_index_ == index) {
    std::memcpy(out.data(), cached_.data() + offset, out.size());
    return {};
  }
  Stream& s = stream_for(index);
  const bool backwards = s.produced > offset && s.produced != UINT64_MAX;
  const bool again = backwards && rewinds_[index] != 0;
  if (backwards) rewinds_[index] = 1;
  if (again && e.size <= kMaxCachedEntryBytes) {
    // Read out of order again: decode the entry once and keep it.
    cached_index_ = SIZE_MAX;
    cached_.resize(static_cast<std::size_t>(e.size));
    Status status = s.restart() ? inflate_into(s, cached_) : entry_error(e, "cannot be decoded (out of memory)");
    if (status.ok()) status = finish_stream(s);
    s.produced = UINT64_MAX;
    if (!status.ok()) {
      cached_.clear();
      return status;
    }
    cached_index_ = index;
    std::memcpy(out.data(), cached_.data() + offset, out.size());
    return {};
  }
  Status status = [&]() -> Status {
    if (s.produced > offset && !s.restart()) return entry_error(e, "cannot be decoded (out of memory)");
    if (s.produced < offset) {
      scratch_.resize(kScratchBytes);
      while (s.produced < offset) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(offset - s.produced, scratch_.size()));
        OWF_RETURN_IF_ERROR(inflate_into(s, std::span(scratch_).first(n)));
      }
    }
    OWF_RETURN_IF_ERROR(inflate_into(s, out));
    if (s.produced == e.size) return finish_stream(s);
    return {};
  }();
  if (!status.ok()) s.produced = UINT64_MAX;  // the next read starts afresh
  return status;
}

namespace {

class ZipEntrySource final : public ByteSource {
 public:
  ZipEntrySource(std::shared_ptr<const ZipArchive> archive, std::size_t index)
      : archive_(std::move(archive)),
        index_(index),
        name_(archive_->source().name() + ": archive entry '" + archive_->entries()[index].name + "'") {}
  std::uint64_t size() const override { return archive_->entries()[index_].size; }
  const std::string& name() const override { return name_; }
  Status read_at(std::uint64_t offset, std::span<std::byte> out) const override {
    return archive_->read_range(index_, offset, out);
  }
  bool remote() const override { return archive_->source().remote(); }

 private:
  std::shared_ptr<const ZipArchive> archive_;
  std::size_t index_;
  std::string name_;
};

}  // namespace

std::shared_ptr<const ByteSource> ZipArchive::entry_source(std::size_t index) const {
  return std::make_shared<ZipEntrySource>(shared_from_this(), index);
}

}  // namespace owf::internal
