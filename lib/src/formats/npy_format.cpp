#include "formats/npy_format.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <string_view>

#include "io/byte_cursor.hpp"

namespace owf::internal {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr std::uint64_t kPrefixBytes = 10;  // magic, version, u16 length (1.0)
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
  std::uint64_t element_bytes;
  std::uint64_t swap_unit;  // the unit whose bytes a big-endian file reverses (1: none)
  std::string_view descr;   // what the writer writes
};
constexpr std::array<NpDtype, 14> kNpDtypes = {{
    {"b1", DType::kBool, 1, 1, "|b1"},
    {"u1", DType::kU8, 1, 1, "|u1"},
    {"i1", DType::kI8, 1, 1, "|i1"},
    {"u2", DType::kU16, 2, 2, "<u2"},
    {"i2", DType::kI16, 2, 2, "<i2"},
    {"u4", DType::kU32, 4, 4, "<u4"},
    {"i4", DType::kI32, 4, 4, "<i4"},
    {"u8", DType::kU64, 8, 8, "<u8"},
    {"i8", DType::kI64, 8, 8, "<i8"},
    {"f2", DType::kF16, 2, 2, "<f2"},
    {"f4", DType::kF32, 4, 4, "<f4"},
    {"f8", DType::kF64, 8, 8, "<f8"},
    {"c8", DType::kC64, 8, 4, "<c8"},
    {"c16", DType::kC128, 16, 8, "<c16"},
}};

Status parse_descr(std::string_view descr, NpyHeader& header) {
  std::string_view code = descr;
  char order = 0;
  if (!code.empty() && (code[0] == '<' || code[0] == '>' || code[0] == '|' || code[0] == '=')) {
    order = code[0];
    code.remove_prefix(1);
  }
  if (code.starts_with("O"))
    return Error(ErrorCode::kForeignFormatUnsupported,
                 "descr '" + std::string(descr) +
                     "' is an object array: its elements are pickled Python objects, which are never loaded");
  const NpDtype* found = code == "?" ? &kNpDtypes[0] : nullptr;
  for (const auto& d : kNpDtypes)
    if (d.code == code) found = &d;
  if (found == nullptr) {
    if (!code.empty() && std::string_view("VSUaMmfcbuiO").find(code[0]) != std::string_view::npos)
      return Error(ErrorCode::kForeignFormatUnsupported, "descr '" + std::string(descr) + "' has no OWF dtype");
    return Error(ErrorCode::kForeignFormatInvalid, "descr '" + std::string(descr) + "' is not a NumPy dtype");
  }
  if (found->swap_unit > 1 && order != '<' && order != '>')
    return Error(ErrorCode::kForeignFormatInvalid,
                 "descr '" + std::string(descr) + "' does not say its byte order ('<' or '>')");
  header.dtype = found->dtype;
  header.element_bytes = found->element_bytes;
  header.swap_unit = order == '>' ? found->swap_unit : 1;
  return {};
}

// ---------------------------------------------------------------------------
// The header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }

class DictParser {
 public:
  explicit DictParser(std::string_view text) : s_(text) {}

  Status parse(NpyHeader& header, std::uint32_t max_rank) {
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
        if (peek() == '[')
          return Error(ErrorCode::kForeignFormatUnsupported, "structured dtypes (a list descr) are not supported");
        OWF_ASSIGN_OR_RETURN(descr, parse_string());
      } else if (key == "fortran_order") {
        OWF_ASSIGN_OR_RETURN(header.fortran_order, parse_bool());
      } else if (key == "shape") {
        OWF_ASSIGN_OR_RETURN(header.shape, parse_shape(max_rank));
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
    return parse_descr(descr, header);
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool eat(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
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
    for (const bool value : {true, false}) {
      const std::string_view word = value ? "True" : "False";
      if (s_.substr(pos_).starts_with(word)) {
        pos_ += word.size();
        return value;
      }
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

Error with_name(const ByteSource& source, const Error& e) {
  return Error(e.code(), source.name() + ": " + e.message());
}

Result<NpyHeader> parse_header(const ByteSource& source, const Limits& limits) {
  const std::uint64_t total = source.size();
  if (total < kPrefixBytes)
    return Error(ErrorCode::kTruncated, total == 0 ? std::string("the file is empty, not a .npy array")
                                                   : std::to_string(total) + " bytes are too few for a .npy header");
  ByteCursor in(source, 0, total);
  OWF_ASSIGN_OR_RETURN(const auto prefix, in.view(kPrefixBytes - 2, "the .npy magic and version"));
  if (std::memcmp(prefix.data(), kMagic.data(), kMagic.size()) != 0)
    return Error(ErrorCode::kForeignFormatInvalid, "no .npy magic (\\x93NUMPY) at byte 0: not a .npy array");
  const auto major = std::to_integer<unsigned>(prefix[6]), minor = std::to_integer<unsigned>(prefix[7]);
  std::uint64_t header_len = 0;
  if (major == 1 && minor == 0) {
    OWF_ASSIGN_OR_RETURN(header_len, in.read<std::uint16_t>("the header length"));
  } else if ((major == 2 || major == 3) && minor == 0) {
    if (total < kPrefixBytes + 2) return Error(ErrorCode::kTruncated, "the .npy header length is cut off");
    OWF_ASSIGN_OR_RETURN(header_len, in.read<std::uint32_t>("the header length"));
  } else {
    return Error(ErrorCode::kForeignFormatUnsupported, ".npy format version " + std::to_string(major) + "." +
                                                           std::to_string(minor) +
                                                           " is not supported (1.0, 2.0 and 3.0 are)");
  }
  const std::uint64_t header_start = in.offset();
  if (header_len > kMaxHeaderBytes)
    return Error(ErrorCode::kLimitExceeded, ".npy header of " + std::to_string(header_len) +
                                                " bytes exceeds the limit of " + std::to_string(kMaxHeaderBytes));
  if (header_len > in.remaining())
    return Error(ErrorCode::kTruncated, ".npy header of " + std::to_string(header_len) + " bytes runs past the end (" +
                                            std::to_string(total) + " bytes)");
  OWF_ASSIGN_OR_RETURN(const std::string text, in.read_string(header_len, kMaxHeaderBytes, "the .npy header"));
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t' && c != '\r'))
      return Error(ErrorCode::kForeignFormatInvalid,
                   "header byte " + std::to_string(header_start + i) + " is not printable ASCII");
  }
  NpyHeader header;
  OWF_RETURN_IF_ERROR(DictParser(text).parse(header, limits.max_rank));
  OWF_ASSIGN_OR_RETURN(header.element_count, element_count(header.shape));
  OWF_ASSIGN_OR_RETURN(header.data_bytes, tensor_byte_size(header.dtype, header.shape));
  header.data_offset = in.offset();
  const std::uint64_t available = in.remaining();
  if (available < header.data_bytes)
    return Error(ErrorCode::kTruncated, "the array needs " + std::to_string(header.data_bytes) + " data bytes (" +
                                            std::string(dtype_name(header.dtype)) + " x shape) but only " +
                                            std::to_string(available) + " follow the header");
  if (available > header.data_bytes)
    return Error(ErrorCode::kForeignFormatInvalid, std::to_string(available - header.data_bytes) +
                                                       " bytes follow the array data (it ends at byte " +
                                                       std::to_string(header.data_offset + header.data_bytes) + ")");
  return header;
}

}  // namespace

Result<NpyHeader> read_npy_header(const ByteSource& source, const Limits& limits) {
  auto header = parse_header(source, limits);
  // Errors of the source itself already say where.
  if (!header.ok() && !header.error().message().starts_with(source.name())) return with_name(source, header.error());
  return header;
}

Result<std::string> npy_header_for(const TensorInfo& t) {
  const auto d = std::find_if(kNpDtypes.begin(), kNpDtypes.end(), [&](const NpDtype& n) { return n.dtype == t.dtype; });
  if (d == kNpDtypes.end())
    return Error(ErrorCode::kForeignFormatUnsupported, "tensor '" + std::string(t.name) + "' has dtype " +
                                                           std::string(dtype_name(t.dtype)) +
                                                           ", which NumPy has no dtype for");
  std::string dict = "{'descr': '" + std::string(d->descr) + "', 'fortran_order': False, 'shape': (";
  for (std::size_t i = 0; i < t.shape.size(); ++i) {
    if (i) dict += ", ";
    dict += std::to_string(t.shape[i]);
  }
  if (t.shape.size() == 1) dict += ',';
  dict += "), }";
  // NumPy leaves room to grow the first axis in place.
  if (!t.shape.empty())
    dict.append(kGrowthAxisMaxDigits - std::min(kGrowthAxisMaxDigits, std::to_string(t.shape[0]).size()), ' ');
  const std::uint64_t hlen = dict.size() + 1;
  for (const std::uint64_t prefix : {kPrefixBytes, kPrefixBytes + 2}) {
    const std::uint64_t pad = kArrayAlign - (prefix + hlen) % kArrayAlign;  // 1..64, as NumPy pads
    const std::uint64_t total_len = hlen + pad;
    if (prefix == kPrefixBytes && total_len > 0xFFFF) continue;
    std::string out(kMagic);
    out += prefix == kPrefixBytes ? '\x01' : '\x02';
    out += '\x00';
    for (std::size_t i = 0; i < prefix - 8; ++i) out += static_cast<char>((total_len >> (8 * i)) & 0xFF);
    out += dict;
    out.append(static_cast<std::size_t>(pad), ' ');
    out += '\n';
    return out;
  }
  return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(t.name) + "': .npy header too large");
}

}  // namespace owf::internal
