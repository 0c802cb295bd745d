// NumPy .npy and .npz: readers and writers, spec/interchange.md "NumPy".
//
// .npy: "\x93NUMPY", major, minor, header length (u16 in 1.0, u32 in 2.0 and
// 3.0), a Python dict literal {'descr': ..., 'fortran_order': ..., 'shape':
// (...)} padded with spaces and a newline, then the array bytes. The header
// is parsed by a small strict parser of our own: nothing is ever evaluated,
// and object arrays (pickles) are refused.
// .npz: a zip archive of .npy members, read through ZipArchive.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "io/output_file.hpp"
#include "formats/formats.hpp"
#include "formats/zip_archive.hpp"

namespace owf::internal {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
// The whole header (dict and padding). NumPy writes a few hundred bytes for
// any plain dtype; its own reader refuses more than 10000 by default.
constexpr std::uint64_t kMaxHeaderBytes = 65535;
constexpr std::size_t kGrowthAxisMaxDigits = 21;  // numpy.lib.format.GROWTH_AXIS_MAX_DIGITS
constexpr std::uint64_t kArrayAlign = 64;         // numpy.lib.format.ARRAY_ALIGN

// ---------------------------------------------------------------------------
// dtypes

struct NpDtype {
  std::string_view code;  // without the byte-order character
  DType dtype;
  unsigned swap_bytes;  // size of the unit whose bytes a big-endian file reverses (1: none)
};
constexpr std::array<NpDtype, 14> kNpDtypes = {{
    {"b1", DType::kBool, 1},
    {"u1", DType::kU8, 1},
    {"i1", DType::kI8, 1},
    {"u2", DType::kU16, 2},
    {"i2", DType::kI16, 2},
    {"u4", DType::kU32, 4},
    {"i4", DType::kI32, 4},
    {"u8", DType::kU64, 8},
    {"i8", DType::kI64, 8},
    {"f2", DType::kF16, 2},
    {"f4", DType::kF32, 4},
    {"f8", DType::kF64, 8},
    {"c8", DType::kC64, 4},
    {"c16", DType::kC128, 8},
}};

struct NpyLayout {
  DType dtype = DType::kU8;
  unsigned swap_bytes = 1;
  bool big_endian = false;
  bool fortran = false;
  std::vector<std::uint64_t> shape;
  std::uint64_t element_count = 0;
  std::uint64_t data_offset = 0;  // from the start of the .npy bytes
  std::uint64_t data_bytes = 0;
};

Result<const NpDtype*> parse_descr(std::string_view descr, NpyLayout& layout) {
  std::string_view code = descr;
  char order = 0;
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    order = code[0];
    code.remove_prefix(1);
  }
  if (code.starts_with("O"))
    return Error(ErrorCode::kForeignFormatUnsupported,
                 "descr '" + std::string(descr) + "' is an object array: its elements are pickled Python objects, which are never loaded");
  const NpDtype* found = nullptr;
  for (const auto& d : kNpDtypes)
    if (d.code == code) found = &d;
  if (code == "?") found = &kNpDtypes[0];
  if (found == nullptr) {
    if (!code.empty() && std::string_view("VSUaMmfcbuiO").find(code[0]) != std::string_view::npos)
      return Error(ErrorCode::kForeignFormatUnsupported, "descr '" + std::string(descr) + "' has no OWF dtype");
    return Error(ErrorCode::kForeignFormatInvalid, "descr '" + std::string(descr) + "' is not a NumPy dtype");
  }
  if (found->swap_bytes > 1 && order != '<' && order != '>')
    return Error(ErrorCode::kForeignFormatInvalid,
                 "descr '" + std::string(descr) + "' does not say its byte order ('<' or '>')");
  layout.dtype = found->dtype;
  layout.swap_bytes = found->swap_bytes;
  layout.big_endian = order == '>' && found->swap_bytes > 1;
  return found;
}

std::string_view descr_of(DType dtype) {
  switch (dtype) {
    case DType::kBool: return "|b1";
    case DType::kU8: return "|u1";
    case DType::kI8: return "|i1";
    case DType::kU16: return "<u2";
    case DType::kI16: return "<i2";
    case DType::kU32: return "<u4";
    case DType::kI32: return "<i4";
    case DType::kU64: return "<u8";
    case DType::kI64: return "<i8";
    case DType::kF16: return "<f2";
    case DType::kF32: return "<f4";
    case DType::kF64: return "<f8";
    case DType::kC64: return "<c8";
    case DType::kC128: return "<c16";
    default: return {};
  }
}

// ---------------------------------------------------------------------------
// The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }

class DictParser {
 public:
  explicit DictParser(std::string_view text) : s_(text) {}

  Status parse(NpyLayout& layout, std::uint32_t max_rank) {
    skip_ws();
    if (!eat('{')) return fail("the header is not a dict");
    std::set<std::string> seen;
    std::string descr;
    while (true) {
      skip_ws();
      if (eat('}')) break;
      OWF_ASSIGN_OR_RETURN(std::string key, parse_string());
      if (!seen.insert(key).second) return fail("key '" + key + "' appears twice");
      skip_ws();
      if (!eat(':')) return fail("':' expected after key '" + key + "'");
      skip_ws();
      if (key == "descr") {
        if (peek() == '[') return Error(ErrorCode::kForeignFormatUnsupported, "structured dtypes (a list descr) are not supported");
        OWF_ASSIGN_OR_RETURN(descr, parse_string());
      } else if (key == "fortran_order") {
        OWF_ASSIGN_OR_RETURN(layout.fortran, parse_bool());
      } else if (key == "shape") {
        OWF_ASSIGN_OR_RETURN(layout.shape, parse_shape(max_rank));
      } else {
        return fail("unexpected key '" + key + "' (only 'descr', 'fortran_order' and 'shape' are allowed)");
      }
      skip_ws();
      if (eat(',')) continue;
      skip_ws();
      if (eat('}')) break;
      return fail("',' or '}' expected");
    }
    for (const char* k : {"descr", "fortran_order", "shape"})
      if (!seen.count(k)) return fail(std::string("key '") + k + "' is missing");
    skip_ws();
    if (pos_ != s_.size()) return fail("unexpected text after the dict");
    OWF_ASSIGN_OR_RETURN(const NpDtype* d, parse_descr(descr, layout));
    (void)d;
    return {};
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (peek() != c || pos_ >= s_.size()) return false;
    ++pos_;
    return true;
  }
  void skip_ws() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  Error fail(const std::string& what) const {
    return Error(ErrorCode::kForeignFormatInvalid, "header dict, character " + std::to_string(pos_) + ": " + what);
  }
  Result<std::string> parse_string() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') return fail("a quoted string expected");
    ++pos_;
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\' || s_[pos_] == '\n') return fail("escapes and line breaks are not allowed in strings");
      ++pos_;
    }
    if (pos_ >= s_.size()) return fail("unterminated string");
    std::string out(s_.substr(start, pos_ - start));
    ++pos_;
    return out;
  }
  Result<bool> parse_bool() {
    if (s_.substr(pos_).starts_with("True")) {
      pos_ += 4;
      return true;
    }
    if (s_.substr(pos_).starts_with("False")) {
      pos_ += 5;
      return false;
    }
    return fail("True or False expected for 'fortran_order'");
  }
  Result<std::uint64_t> parse_int() {
    if (peek() == '-') return fail("negative dimension");
    if (peek() < '0' || peek() > '9') return fail("a dimension (non-negative integer) expected");
    if (peek() == '0' && pos_ + 1 < s_.size() && s_[pos_ + 1] >= '0' && s_[pos_ + 1] <= '9')
      return fail("a dimension with a leading zero");
    std::uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      const auto digit = static_cast<std::uint64_t>(peek() - '0');
      if (v > (UINT64_MAX - digit) / 10) return fail("a dimension above 2^64-1");
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long literal: (2L,)
    return v;
  }
  Result<std::vector<std::uint64_t>> parse_shape(std::uint32_t max_rank) {
    if (!eat('(')) return fail("'shape' must be a tuple");
    std::vector<std::uint64_t> shape;
    bool trailing_comma = false;
    while (true) {
      skip_ws();
      if (eat(')')) break;
      if (shape.size() >= max_rank)
        return Error(ErrorCode::kLimitExceeded, "shape has more than " + std::to_string(max_rank) + " dimensions");
      OWF_ASSIGN_OR_RETURN(std::uint64_t v, parse_int());
      shape.push_back(v);
      skip_ws();
      trailing_comma = eat(',');
      if (trailing_comma) continue;
      skip_ws();
      if (eat(')')) break;
      return fail("',' or ')' expected in 'shape'");
    }
    if (shape.size() == 1 && !trailing_comma) return fail("'shape' (n) is a number, not a tuple: write (n,)");
    return shape;
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

/// Reads `out.size()` bytes at `offset` of the .npy bytes (a file or an archive member).
using ReadFn = std::function<Status(std::uint64_t offset, std::span<std::byte> out)>;

Result<NpyLayout> parse_npy(const ReadFn& read, std::uint64_t total, const Limits& limits) {
  std::array<std::byte, 12> prefix{};
  if (total < 10) return Error(ErrorCode::kTruncated, std::to_string(total) + " bytes are too few for a .npy header");
  OWF_RETURN_IF_ERROR(read(0, std::span(prefix).first(10)));
  if (std::memcmp(prefix.data(), kMagic.data(), kMagic.size()) != 0)
    return Error(ErrorCode::kForeignFormatInvalid, "no .npy magic (\\x93NUMPY) at byte 0");
  const auto major = static_cast<unsigned>(prefix[6]), minor = static_cast<unsigned>(prefix[7]);
  std::uint64_t header_len = 0, header_start = 0;
  if (major == 1 && minor == 0) {
    header_len = static_cast<std::uint64_t>(prefix[8]) | static_cast<std::uint64_t>(prefix[9]) << 8;
    header_start = 10;
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (total < 12) return Error(ErrorCode::kTruncated, "the .npy header length is cut off");
    OWF_RETURN_IF_ERROR(read(10, std::span(prefix).subspan(10, 2)));
    for (int i = 3; i >= 0; --i) header_len = header_len << 8 | static_cast<std::uint64_t>(prefix[8 + static_cast<std::size_t>(i)]);
    header_start = 12;
  } else {
    return Error(ErrorCode::kForeignFormatUnsupported, ".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                                                           " is not supported (1.0, 2.0 and 3.0 are)");
  }
  if (header_len > kMaxHeaderBytes)
    return Error(ErrorCode::kLimitExceeded, ".npy header of " + std::to_string(header_len) + " bytes exceeds the limit of " +
                                                std::to_string(kMaxHeaderBytes));
  if (header_len > total - header_start)
    return Error(ErrorCode::kTruncated, ".npy header of " + std::to_string(header_len) + " bytes runs past the end (" +
                                            std::to_string(total) + " bytes)");
  std::string text(static_cast<std::size_t>(header_len), '\0');
  OWF_RETURN_IF_ERROR(read(header_start, std::as_writable_bytes(std::span(text))));
  for (std::size_t i = 0; i < text.size(); ++i)
    if (static_cast<unsigned char>(text[i]) >= 0x80 || (static_cast<unsigned char>(text[i]) < 0x20 && text[i] != '\n' && text[i] != '\t' && text[i] != '\r'))
      return Error(ErrorCode::kForeignFormatInvalid, "header byte " + std::to_string(header_start + i) + " is not printable ASCII");
  NpyLayout layout;
  OWF_RETURN_IF_ERROR(DictParser(text).parse(layout, limits.max_rank));
  auto count = element_count(layout.shape);
  if (!count.ok()) return count.error();
  layout.element_count = *count;
  OWF_ASSIGN_OR_RETURN(layout.data_bytes, tensor_byte_size(layout.dtype, layout.shape));
  layout.data_offset = header_start + header_len;
  const std::uint64_t available = total - layout.data_offset;
  if (available < layout.data_bytes)
    return Error(ErrorCode::kTruncated, "the array needs " + std::to_string(layout.data_bytes) + " data bytes (" +
                                            std::string(dtype_name(layout.dtype)) + " x shape) but only " +
                                            std::to_string(available) + " follow the header");
  if (available > layout.data_bytes)
    return Error(ErrorCode::kForeignFormatInvalid, std::to_string(available - layout.data_bytes) +
                                                       " bytes follow the array data (it ends at byte " +
                                                       std::to_string(layout.data_offset + layout.data_bytes) + ")");
  return layout;
}

// Fortran (column-major) order to row-major: element (i0..in-1) sits at
// sum(i_k * prod(d_j, j < k)) in the input.
void fortran_to_row_major(std::span<const std::byte> in, std::span<std::byte> out, std::span<const std::uint64_t> shape,
                          std::size_t element_bytes, std::uint64_t count) {
  const std::size_t rank = shape.size();
  std::vector<std::uint64_t> stride(rank), index(rank, 0);
  std::uint64_t s = element_bytes;
  for (std::size_t k = 0; k < rank; ++k) {
    stride[k] = s;
    s *= shape[k];
  }
  std::uint64_t in_offset = 0;
  for (std::uint64_t o = 0; o < count; ++o) {
    std::memcpy(out.data() + o * element_bytes, in.data() + in_offset, element_bytes);
    for (std::size_t k = rank; k-- > 0;) {
      in_offset += stride[k];
      if (++index[k] < shape[k]) break;
      in_offset -= stride[k] * shape[k];
      index[k] = 0;
    }
  }
}

void swap_units(std::span<std::byte> data, unsigned unit) {
  for (std::size_t i = 0; i + unit <= data.size(); i += unit) std::reverse(data.begin() + static_cast<std::ptrdiff_t>(i),
                                                                            data.begin() + static_cast<std::ptrdiff_t>(i + unit));
}

bool needs_transpose(const NpyLayout& l) {
  if (!l.fortran) return false;
  std::size_t big = 0;
  for (auto d : l.shape) big += d > 1;
  return big > 1;
}

// Logical bytes of an array from raw .npy data read by `read` at data offsets.
Status decode_array(const NpyLayout& l, const ReadFn& read, std::span<std::byte> out) {
  if (needs_transpose(l)) {
    std::vector<std::byte> raw(out.size());
    OWF_RETURN_IF_ERROR(read(l.data_offset, raw));
    const std::size_t element_bytes = static_cast<std::size_t>(l.data_bytes / l.element_count);
    fortran_to_row_major(raw, out, l.shape, element_bytes, l.element_count);
  } else {
    OWF_RETURN_IF_ERROR(read(l.data_offset, out));
  }
  if (l.big_endian) swap_units(out, l.swap_bytes);
  return {};
}

// ---------------------------------------------------------------------------
// File access (pread; see safetensors.cpp for why not mmap).

class NpyFile {
 public:
  ~NpyFile() {
    if (fd >= 0) ::close(fd);
  }
  int fd = -1;
  std::uint64_t size = 0;
  std::filesystem::path path;

  Status read_at(std::uint64_t offset, std::span<std::byte> out) const {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error(ErrorCode::kIoError, path.string() + ": " + std::strerror(errno));
      if (n == 0) return Error(ErrorCode::kTruncated, path.string() + ": file ends at byte " + std::to_string(offset + done));
      done += static_cast<std::size_t>(n);
    }
    return {};
  }
};

struct Member {
  std::string name;
  std::size_t entry = 0;  // archive entry index (npz)
  NpyLayout layout;
};

class NumpySource final : public Source {
 public:
  NumpySource(Format format, std::unique_ptr<NpyFile> file, std::unique_ptr<ZipArchive> zip, std::vector<Member> members)
      : format_(format), file_(std::move(file)), zip_(std::move(zip)), members_(std::move(members)) {
    for (const Member& m : members_) {
      TensorInfo t;
      t.name = m.name;
      t.dtype = m.layout.dtype;
      t.shape = m.layout.shape;
      t.role = infer_role(m.name);
      t.offset = m.layout.data_offset;  // npz: from the start of the member
      t.stored_bytes = zip_ ? zip_->entries()[m.entry].compressed_size : m.layout.data_bytes;
      t.logical_bytes = m.layout.data_bytes;
      t.element_count = m.layout.element_count;
      infos_.push_back(t);
    }
  }
  Format format() const override { return format_; }
  std::size_t tensor_count() const override { return infos_.size(); }
  TensorInfo tensor(std::size_t index) const override { return infos_.at(index); }
  const ModelInfo& info() const override { return info_; }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    if (index >= members_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
    const Member& m = members_[index];
    if (out.size() != m.layout.data_bytes)
      return Error(ErrorCode::kInvalidArgument, "buffer of " + std::to_string(out.size()) + " bytes for tensor '" + m.name +
                                                    "' of " + std::to_string(m.layout.data_bytes) + " bytes");
    return decode_array(m.layout, reader(m), out);
  }

  ReadFn reader(const Member& m) const {
    if (zip_) return [this, &m](std::uint64_t off, std::span<std::byte> out) { return zip_->read_range(m.entry, off, out); };
    return [this](std::uint64_t off, std::span<std::byte> out) { return file_->read_at(off, out); };
  }

 private:
  Format format_;
  std::unique_ptr<NpyFile> file_;
  std::unique_ptr<ZipArchive> zip_;
  std::vector<Member> members_;
  std::vector<TensorInfo> infos_;
  ModelInfo info_;
};

Error with_place(const Error& e, const std::string& place) { return Error(e.code(), place + ": " + e.message()); }

// ---------------------------------------------------------------------------
// Writing

Result<std::string> npy_header(const TensorInfo& t) {
  const std::string_view descr = descr_of(t.dtype);
  if (descr.empty())
    return Error(ErrorCode::kForeignFormatUnsupported, "tensor '" + std::string(t.name) + "' has dtype " +
                                                           std::string(dtype_name(t.dtype)) + ", which NumPy has no dtype for");
  std::string dict = "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < t.shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(t.shape[i]);
  }
  if (t.shape.size() == 1) dict += ',';
  dict += "), }";
  // NumPy leaves room to grow the first axis in place.
  if (!t.shape.empty()) dict.append(kGrowthAxisMaxDigits - std::min(kGrowthAxisMaxDigits, std::to_string(t.shape[0]).size()), ' ');
  const std::uint64_t hlen = dict.size() + 1;
  for (const std::uint64_t prefix : {10u, 12u}) {
    const std::uint64_t pad = kArrayAlign - (prefix + hlen) % kArrayAlign;  // 1..64, as NumPy pads
    const std::uint64_t total_len = hlen + pad;
    if (prefix == 10 && total_len > 0xFFFF) continue;
    std::string out(kMagic);
    out += prefix == 10 ? '\x01' : '\x02';
    out += '\x00';
    for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((total_len >> (8 * i)) & 0xFF);
    out += dict;
    out.append(static_cast<std::size_t>(pad), ' ');
    out += '\n';
    return out;
  }
  return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(t.name) + "': .npy header too large");
}

// A stored zip archive written in one pass through OutputFile. Sizes and
// CRC are known before each member's local header (the tensor is read
// first), so no data descriptors are needed; ZIP64 records appear only when
// a size, offset or count does not fit the classic fields.
class ZipWriter {
 public:
  explicit ZipWriter(OutputFile& out) : out_(out) {}

  Status add(const std::string& name, std::span<const std::byte> head, std::span<const std::byte> body) {
    Entry e;
    e.name = name;
    e.size = head.size() + body.size();
    e.offset = out_.position();
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(head.data()), head.size());
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(body.data()), body.size());
    e.crc = static_cast<std::uint32_t>(crc);
    const bool zip64 = e.size >= 0xFFFFFFFFu;
    std::string h;
    put32(h, 0x04034b50);
    put16(h, zip64 ? 45 : 20);  // version needed
    put16(h, 0x0800);           // UTF-8 names
    put16(h, 0);                // stored
    put16(h, 0);                // time 00:00
    put16(h, (0 << 9) | (1 << 5) | 1);  // date 1980-01-01
    put32(h, e.crc);
    put32(h, zip64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.size));
    put32(h, zip64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.size));
    put16(h, static_cast<std::uint16_t>(name.size()));
    put16(h, zip64 ? 20 : 0);
    h += name;
    if (zip64) {
      put16(h, 0x0001);
      put16(h, 16);
      put64(h, e.size);
      put64(h, e.size);
    }
    OWF_RETURN_IF_ERROR(out_.write(std::as_bytes(std::span(h))));
    OWF_RETURN_IF_ERROR(out_.write(head));
    OWF_RETURN_IF_ERROR(out_.write(body));
    entries_.push_back(std::move(e));
    return {};
  }

  Status finish() {
    const std::uint64_t cd_offset = out_.position();
    std::string cd;
    for (const Entry& e : entries_) {
      const bool big_size = e.size >= 0xFFFFFFFFu, big_offset = e.offset >= 0xFFFFFFFFu;
      std::string extra;
      if (big_size) {
        put64(extra, e.size);
        put64(extra, e.size);
      }
      if (big_offset) put64(extra, e.offset);
      put32(cd, 0x02014b50);
      put16(cd, (3 << 8) | 45);  // made by: Unix, 4.5
      put16(cd, big_size || big_offset ? 45 : 20);
      put16(cd, 0x0800);
      put16(cd, 0);
      put16(cd, 0);
      put16(cd, (0 << 9) | (1 << 5) | 1);
      put32(cd, e.crc);
      put32(cd, big_size ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.size));
      put32(cd, big_size ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.size));
      put16(cd, static_cast<std::uint16_t>(e.name.size()));
      put16(cd, static_cast<std::uint16_t>(extra.empty() ? 0 : extra.size() + 4));
      put16(cd, 0);  // comment
      put16(cd, 0);  // disk
      put16(cd, 0);  // internal attributes
      put32(cd, 0100644u << 16);  // external attributes: regular file, rw-r--r--
      put32(cd, big_offset ? 0xFFFFFFFFu : static_cast<std::uint32_t>(e.offset));
      cd += e.name;
      if (!extra.empty()) {
        put16(cd, 0x0001);
        put16(cd, static_cast<std::uint16_t>(extra.size()));
        cd += extra;
      }
    }
    const std::uint64_t count = entries_.size(), cd_size = cd.size();
    if (count >= 0xFFFF || cd_offset >= 0xFFFFFFFFu || cd_size >= 0xFFFFFFFFu) {
      const std::uint64_t eocd64 = cd_offset + cd_size;
      put32(cd, 0x06064b50);
      put64(cd, 44);
      put16(cd, (3 << 8) | 45);
      put16(cd, 45);
      put32(cd, 0);
      put32(cd, 0);
      put64(cd, count);
      put64(cd, count);
      put64(cd, cd_size);
      put64(cd, cd_offset);
      put32(cd, 0x07064b50);
      put32(cd, 0);
      put64(cd, eocd64);
      put32(cd, 1);
    }
    put32(cd, 0x06054b50);
    put16(cd, 0);
    put16(cd, 0);
    put16(cd, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, 0xFFFF)));
    put16(cd, static_cast<std::uint16_t>(std::min<std::uint64_t>(count, 0xFFFF)));
    put32(cd, static_cast<std::uint32_t>(std::min<std::uint64_t>(cd_size, 0xFFFFFFFFu)));
    put32(cd, static_cast<std::uint32_t>(std::min<std::uint64_t>(cd_offset, 0xFFFFFFFFu)));
    put16(cd, 0);
    return out_.write(std::as_bytes(std::span(cd)));
  }

 private:
  struct Entry {
    std::string name;
    std::uint64_t size = 0, offset = 0;
    std::uint32_t crc = 0;
  };
  static void put16(std::string& s, std::uint32_t v) {
    s += static_cast<char>(v & 0xFF);
    s += static_cast<char>((v >> 8) & 0xFF);
  }
  static void put32(std::string& s, std::uint32_t v) {
    put16(s, v & 0xFFFF);
    put16(s, v >> 16);
  }
  static void put64(std::string& s, std::uint64_t v) {
    put32(s, static_cast<std::uint32_t>(v));
    put32(s, static_cast<std::uint32_t>(v >> 32));
  }
  OutputFile& out_;
  std::vector<Entry> entries_;
};

}  // namespace

Result<std::unique_ptr<Source>> open_npy(const std::filesystem::path& path, const Limits& limits) {
  auto file = std::make_unique<NpyFile>();
  file->path = path;
  file->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (file->fd < 0) return Error(ErrorCode::kIoError, path.string() + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(file->fd, &st) != 0 || !S_ISREG(st.st_mode)) return Error(ErrorCode::kIoError, path.string() + ": not a regular file");
  file->size = static_cast<std::uint64_t>(st.st_size);
  const NpyFile& f = *file;
  auto layout = parse_npy([&f](std::uint64_t off, std::span<std::byte> out) { return f.read_at(off, out); }, f.size, limits);
  if (!layout.ok()) return with_place(layout.error(), path.string());
  std::vector<Member> members(1);
  members[0].name = path.stem().string();
  if (members[0].name.empty()) members[0].name = "array";
  members[0].layout = std::move(*layout);
  return std::unique_ptr<Source>(std::make_unique<NumpySource>(Format::kNpy, std::move(file), nullptr, std::move(members)));
}

Result<std::unique_ptr<Source>> open_npz(const std::filesystem::path& path, const Limits& limits) {
  ZipLimits zl;
  zl.max_entries = limits.max_tensors;
  zl.max_name_bytes = std::uint64_t{limits.max_name_bytes} + 4;  // + ".npy"
  OWF_ASSIGN_OR_RETURN(auto zip, ZipArchive::open(path, zl));
  std::vector<Member> members;
  members.reserve(zip->entries().size());
  for (std::size_t i = 0; i < zip->entries().size(); ++i) {
    const ZipEntry& e = zip->entries()[i];
    const std::string place = path.string() + ": member '" + e.name + "'";
    if (!e.name.ends_with(".npy") || e.name.size() == 4)
      return Error(ErrorCode::kForeignFormatUnsupported, place + " is not a .npy array");
    Member m;
    m.name = e.name.substr(0, e.name.size() - 4);
    m.entry = i;
    const ZipArchive& z = *zip;
    auto layout = parse_npy([&z, i](std::uint64_t off, std::span<std::byte> out) { return z.read_range(i, off, out); }, e.size, limits);
    if (!layout.ok()) return with_place(layout.error(), place);
    m.layout = std::move(*layout);
    members.push_back(std::move(m));
  }
  return std::unique_ptr<Source>(std::make_unique<NumpySource>(Format::kNpz, nullptr, std::move(zip), std::move(members)));
}

Status write_npy(const Source& source, const std::filesystem::path& path, const OutputOptions& output) {
  if (source.tensor_count() != 1)
    return Error(ErrorCode::kInvalidArgument, "a .npy file holds exactly one array; the source has " +
                                                  std::to_string(source.tensor_count()) + " tensors (use .npz)");
  const TensorInfo t = source.tensor(0);
  OWF_ASSIGN_OR_RETURN(std::string header, npy_header(t));
  std::vector<std::byte> data(static_cast<std::size_t>(t.logical_bytes));
  OWF_RETURN_IF_ERROR(source.read(0, data));
  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  OWF_RETURN_IF_ERROR(out->write(std::as_bytes(std::span(header))));
  OWF_RETURN_IF_ERROR(out->write(data));
  return out->finish(true);
}

Status write_npz(const Source& source, const std::filesystem::path& path, const OutputOptions& output) {
  // Check every tensor before writing anything.
  std::vector<std::string> headers;
  std::set<std::string> names;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    const std::string member = std::string(t.name) + ".npy";
    if (auto problem = zip_name_problem(member))
      return Error(ErrorCode::kForeignFormatUnsupported, "tensor '" + std::string(t.name) + "' cannot be an .npz member: " + *problem);
    if (member.size() > 0xFFFF) return Error(ErrorCode::kForeignFormatUnsupported, "tensor name too long for a zip member");
    if (!names.insert(member).second) return Error(ErrorCode::kDuplicateTensorName, "tensor '" + std::string(t.name) + "' appears twice");
    OWF_ASSIGN_OR_RETURN(std::string h, npy_header(t));
    headers.push_back(std::move(h));
  }
  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  ZipWriter zip(*out);
  std::vector<std::byte> data;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    data.resize(static_cast<std::size_t>(t.logical_bytes));
    OWF_RETURN_IF_ERROR(source.read(i, data));
    OWF_RETURN_IF_ERROR(zip.add(std::string(t.name) + ".npy", std::as_bytes(std::span(headers[i])), data));
  }
  OWF_RETURN_IF_ERROR(zip.finish());
  return out->finish(true);
}

}  // namespace owf::internal
