// GGUF (llama.cpp / ggml), versions 2 and 3: reader and writer.
//
// Layout (all little-endian): "GGUF", u32 version, u64 tensor_count,
// u64 kv_count, kv_count key/value pairs, tensor_count tensor infos, zero
// padding to the alignment, then the data section. Tensor offsets are
// relative to the data section. The mapping of key/value pairs onto
// ModelInfo is specified in spec/interchange.md ("GGUF"); it is lossless, so
// GGUF -> OWF -> GGUF gives back the same keys, types, values and order.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <unordered_set>
#include <vector>

#include "io/output_file.hpp"
#include "formats/formats.hpp"
#include "layout.hpp"
#include "utf8.hpp"

namespace owf::internal {
namespace {

// ---------------------------------------------------------------------------
// Constants of the format.

constexpr std::string_view kGgufMagic = "GGUF";
constexpr std::uint32_t kWriteVersion = 3;
constexpr std::uint64_t kDefaultAlignment = 32;
constexpr std::uint32_t kMaxDims = 4;           // GGML_MAX_DIMS
constexpr std::size_t kMaxWriteNameBytes = 63;  // GGML_MAX_NAME (64) including the NUL
constexpr int kMaxArrayDepth = 8;               // nested arrays: outermost array is depth 1

// Metadata keys of the ModelInfo mapping (spec/interchange.md, "GGUF").
constexpr std::string_view kAlignmentKey = "general.alignment";
constexpr std::string_view kLicenseKey = "general.license";
constexpr std::string_view kKvPrefix = "gguf.kv.";         // a KV kept as "<type>:<base64 payload>"
constexpr std::string_view kKvOrderKey = "gguf.kv_order";  // original key order, one key per line
constexpr std::string_view kShapePrefix = "gguf.shape.";   // file shape of a tensor exposed as 1-D
constexpr std::string_view kReservedPrefix = "gguf.";
constexpr std::string_view kMetadataPrefix = "owf.metadata.";  // OWF metadata carried as string KVs

enum GgufType : std::uint32_t {
  kU8 = 0,
  kI8 = 1,
  kU16 = 2,
  kI16 = 3,
  kU32 = 4,
  kI32 = 5,
  kF32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kU64 = 10,
  kI64 = 11,
  kF64 = 12,
};
constexpr std::uint32_t kGgufTypeCount = 13;
constexpr std::array<std::string_view, kGgufTypeCount> kGgufTypeNames = {
    "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};

std::size_t scalar_size(std::uint32_t type) {
  switch (type) {
    case kU8:
    case kI8:
    case kBool:
      return 1;
    case kU16:
    case kI16:
      return 2;
    case kU32:
    case kI32:
    case kF32:
      return 4;
    case kU64:
    case kI64:
    case kF64:
      return 8;
    default:
      return 0;
  }
}

std::optional<std::uint32_t> gguf_type_from_name(std::string_view name) {
  for (std::uint32_t t = 0; t < kGgufTypeCount; ++t)
    if (kGgufTypeNames[t] == name) return t;
  return std::nullopt;
}

// ggml_type ids (ggml.h) of the types OWF knows. Ids 4, 5, 31-33 and 36-38
// were removed from ggml.
struct GgmlType {
  std::uint32_t id;
  DType dtype;
};
constexpr std::array<GgmlType, 35> kGgmlTypes = {{
    {0, DType::kF32},     {1, DType::kF16},      {2, DType::kQ4_0},   {3, DType::kQ4_1},    {6, DType::kQ5_0},
    {7, DType::kQ5_1},    {8, DType::kQ8_0},     {9, DType::kQ8_1},   {10, DType::kQ2_K},   {11, DType::kQ3_K},
    {12, DType::kQ4_K},   {13, DType::kQ5_K},    {14, DType::kQ6_K},  {15, DType::kQ8_K},   {16, DType::kIQ2_XXS},
    {17, DType::kIQ2_XS}, {18, DType::kIQ3_XXS}, {19, DType::kIQ1_S}, {20, DType::kIQ4_NL}, {21, DType::kIQ3_S},
    {22, DType::kIQ2_S},  {23, DType::kIQ4_XS},  {24, DType::kI8},    {25, DType::kI16},    {26, DType::kI32},
    {27, DType::kI64},    {28, DType::kF64},     {29, DType::kIQ1_M}, {30, DType::kBF16},   {34, DType::kTQ1_0},
    {35, DType::kTQ2_0},  {39, DType::kMXFP4},   {40, DType::kNVFP4}, {41, DType::kQ1_0},   {42, DType::kQ2_0},
}};

std::optional<DType> dtype_from_ggml(std::uint32_t id) {
  for (const auto& t : kGgmlTypes)
    if (t.id == id) return t.dtype;
  return std::nullopt;
}

std::optional<std::uint32_t> ggml_from_dtype(DType dtype) {
  for (const auto& t : kGgmlTypes)
    if (t.dtype == dtype) return t.id;
  return std::nullopt;
}

// Provenance fields that a GGUF string KV maps onto one-to-one.
struct ProvenanceKey {
  std::string_view key;
  std::string Provenance::*field;
};
constexpr std::array<ProvenanceKey, 5> kProvenanceKeys = {{
    {"general.name", &Provenance::name},
    {"general.version", &Provenance::version},
    {"general.architecture", &Provenance::architecture},
    {"general.description", &Provenance::description},
    {"general.source.url", &Provenance::source_url},
}};
constexpr std::string_view kAuthorKey = "general.author";

// ---------------------------------------------------------------------------
// Base64 (RFC 4648, with padding) for KVs kept verbatim in metadata.

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::span<const std::byte> in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const auto v = (std::to_integer<std::uint32_t>(in[i]) << 16) | (std::to_integer<std::uint32_t>(in[i + 1]) << 8) |
                   std::to_integer<std::uint32_t>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kBase64[(v >> s) & 63];
  }
  if (const std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t v = std::to_integer<std::uint32_t>(in[i]) << 16;
    if (rest == 2) v |= std::to_integer<std::uint32_t>(in[i + 1]) << 8;
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += rest == 2 ? kBase64[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::vector<std::byte>> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::vector<std::byte> out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::uint32_t v = 0;
    int pad = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = in[i + j];
      std::uint32_t d = 0;
      if (c == '=' && i + 4 == in.size() && j >= 2) {
        ++pad;
      } else {
        if (pad > 0) return std::nullopt;
        const auto pos = kBase64.find(c);
        if (pos == std::string_view::npos) return std::nullopt;
        d = static_cast<std::uint32_t>(pos);
      }
      v = (v << 6) | d;
    }
    out.push_back(static_cast<std::byte>(v >> 16));
    if (pad < 2) out.push_back(static_cast<std::byte>((v >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<std::byte>(v & 0xFF));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Reading untrusted bytes.

Error invalid(std::uint64_t offset, const std::string& what) {
  return Error(ErrorCode::kForeignFormatInvalid, "GGUF: " + what + " (at byte " + std::to_string(offset) + ")");
}
Error unsupported(std::uint64_t offset, const std::string& what) {
  return Error(ErrorCode::kForeignFormatUnsupported, "GGUF: " + what + " (at byte " + std::to_string(offset) + ")");
}
Error over_limit(std::uint64_t offset, const std::string& what) {
  return Error(ErrorCode::kLimitExceeded, "GGUF: " + what + " (at byte " + std::to_string(offset) + ")");
}

/// A bounds-checked read position in a byte buffer.
class Cursor {
 public:
  explicit Cursor(std::span<const std::byte> bytes, std::uint64_t base = 0) : bytes_(bytes), base_(base) {}
  /// Absolute offset (for messages).
  std::uint64_t pos() const { return base_ + pos_; }
  std::uint64_t remaining() const { return bytes_.size() - pos_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  std::span<const std::byte> consumed_since(std::size_t start) const { return bytes_.subspan(start, pos_ - start); }
  std::size_t index() const { return pos_; }

  template <class T>
  Result<T> read(std::string_view what) {
    if (remaining() < sizeof(T)) return invalid(pos(), "file ends inside " + std::string(what));
    T v;
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  /// A GGUF string: u64 length, then that many bytes.
  Result<std::string_view> string(std::string_view what, std::uint64_t max_bytes, std::string_view limit_name) {
    const std::uint64_t at = pos();
    OWF_ASSIGN_OR_RETURN(std::uint64_t n, read<std::uint64_t>(what));
    if (n > remaining())
      return invalid(at, std::string(what) + " length " + std::to_string(n) + " exceeds the " +
                             std::to_string(remaining()) + " bytes left in the file");
    if (n > max_bytes)
      return over_limit(at, std::string(what) + " length " + std::to_string(n) + " exceeds " + std::string(limit_name) +
                                " (" + std::to_string(max_bytes) + ")");
    std::string_view s(reinterpret_cast<const char*>(bytes_.data() + pos_), static_cast<std::size_t>(n));
    pos_ += static_cast<std::size_t>(n);
    return s;
  }

 private:
  std::span<const std::byte> bytes_;
  std::uint64_t base_;
  std::size_t pos_ = 0;
};

// u64 values keep their bits in the int64 (IntType::kU64).
template <class T>
std::int64_t widen(T v) {
  return static_cast<std::int64_t>(v);
}

IntType int_type_of(std::uint32_t type) {
  switch (type) {
    case kU8:
      return IntType::kU8;
    case kI8:
      return IntType::kI8;
    case kU16:
      return IntType::kU16;
    case kI16:
      return IntType::kI16;
    case kU32:
      return IntType::kU32;
    case kI32:
      return IntType::kI32;
    case kU64:
      return IntType::kU64;
    default:
      return IntType::kI64;
  }
}

/// Reads one integer or float element of GGUF type `type` as int64 / double.
Status read_number(Cursor& c, std::uint32_t type, std::int64_t* i, double* d) {
  switch (type) {
    case kU8: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::uint8_t>("a u8 value"));
      *i = widen(v);
      return {};
    }
    case kI8: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::int8_t>("an i8 value"));
      *i = widen(v);
      return {};
    }
    case kU16: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::uint16_t>("a u16 value"));
      *i = widen(v);
      return {};
    }
    case kI16: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::int16_t>("an i16 value"));
      *i = widen(v);
      return {};
    }
    case kU32: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::uint32_t>("a u32 value"));
      *i = widen(v);
      return {};
    }
    case kI32: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::int32_t>("an i32 value"));
      *i = widen(v);
      return {};
    }
    case kU64: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::uint64_t>("a u64 value"));
      *i = widen(v);
      return {};
    }
    case kI64: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<std::int64_t>("an i64 value"));
      *i = v;
      return {};
    }
    case kF32: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<float>("an f32 value"));
      *d = v;
      return {};
    }
    case kF64: {
      OWF_ASSIGN_OR_RETURN(auto v, c.read<double>("an f64 value"));
      *d = v;
      return {};
    }
    default:
      return invalid(c.pos(), "not a numeric type");
  }
}

Result<bool> read_bool(Cursor& c) {
  const std::uint64_t at = c.pos();
  OWF_ASSIGN_OR_RETURN(std::uint8_t v, c.read<std::uint8_t>("a bool value"));
  if (v > 1) return invalid(at, "bool value " + std::to_string(v) + " is neither 0 nor 1");
  return v == 1;
}

/// Reads a value of GGUF type `type` for key `key`. Returns the owf::Value
/// it maps to, or nullopt when it has none (nested arrays, strings that are
/// not UTF-8); the caller keeps such values verbatim.
Result<std::optional<Value>> read_value(Cursor& c, std::uint32_t type, int depth, const std::string& key,
                                        const Limits& limits) {
  const std::uint64_t at = c.pos();
  if (type >= kGgufTypeCount)
    return unsupported(at, "key '" + key + "' has unknown value type " + std::to_string(type));
  if (type == kBool) {
    OWF_ASSIGN_OR_RETURN(bool b, read_bool(c));
    return std::optional<Value>(Value(b));
  }
  if (type == kString) {
    OWF_ASSIGN_OR_RETURN(std::string_view s,
                         c.string("string value of key '" + key + "'", limits.max_string_bytes, "max_string_bytes"));
    if (!is_valid_utf8(s)) return std::optional<Value>();
    return std::optional<Value>(Value(std::string(s)));
  }
  if (type != kArray) {
    std::int64_t i = 0;
    double d = 0;
    OWF_RETURN_IF_ERROR(read_number(c, type, &i, &d));
    if (type == kF32) return std::optional<Value>(Value(d, FloatType::kF32));
    if (type == kF64) return std::optional<Value>(Value(d, FloatType::kF64));
    return std::optional<Value>(Value(i, int_type_of(type)));
  }

  // Arrays: u32 element type, u64 count, elements.
  if (depth >= kMaxArrayDepth)
    return unsupported(at, "key '" + key + "' nests arrays deeper than " + std::to_string(kMaxArrayDepth));
  OWF_ASSIGN_OR_RETURN(std::uint32_t elem, c.read<std::uint32_t>("an array element type"));
  if (elem >= kGgufTypeCount)
    return unsupported(at, "key '" + key + "' is an array of unknown value type " + std::to_string(elem));
  const std::uint64_t count_at = c.pos();
  OWF_ASSIGN_OR_RETURN(std::uint64_t n, c.read<std::uint64_t>("an array length"));
  // Every element takes at least this many bytes, so the count is bounded
  // by the bytes left before anything is allocated from it.
  const std::uint64_t min_elem = elem == kString ? 8 : elem == kArray ? 12 : scalar_size(elem);
  if (n > c.remaining() / min_elem)
    return invalid(count_at, "array length " + std::to_string(n) + " of key '" + key + "' exceeds the " +
                                 std::to_string(c.remaining()) + " bytes left in the file");
  const auto count = static_cast<std::size_t>(n);
  switch (elem) {
    case kArray: {
      for (std::size_t k = 0; k < count; ++k) {
        auto inner = read_value(c, kArray, depth + 1, key, limits);
        if (!inner.ok()) return inner.error();
      }
      return std::optional<Value>();
    }
    case kString: {
      std::vector<std::string> v;
      v.reserve(count);
      bool utf8 = true;
      for (std::size_t k = 0; k < count; ++k) {
        OWF_ASSIGN_OR_RETURN(std::string_view s, c.string("string element of key '" + key + "'",
                                                          limits.max_string_bytes, "max_string_bytes"));
        utf8 = utf8 && is_valid_utf8(s);
        if (utf8) v.emplace_back(s);
      }
      if (!utf8) return std::optional<Value>();
      return std::optional<Value>(Value(std::move(v)));
    }
    case kBool: {
      std::vector<bool> v;
      v.reserve(count);
      for (std::size_t k = 0; k < count; ++k) {
        OWF_ASSIGN_OR_RETURN(bool b, read_bool(c));
        v.push_back(b);
      }
      return std::optional<Value>(Value(std::move(v)));
    }
    case kF32:
    case kF64: {
      std::vector<double> v(count);
      std::int64_t unused = 0;
      for (std::size_t k = 0; k < count; ++k) OWF_RETURN_IF_ERROR(read_number(c, elem, &unused, &v[k]));
      return std::optional<Value>(Value(std::move(v), elem == kF32 ? FloatType::kF32 : FloatType::kF64));
    }
    default: {
      std::vector<std::int64_t> v(count);
      double unused = 0;
      for (std::size_t k = 0; k < count; ++k) OWF_RETURN_IF_ERROR(read_number(c, elem, &v[k], &unused));
      return std::optional<Value>(Value(std::move(v), int_type_of(elem)));
    }
  }
}

bool has_control_char(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u < 0x20 || u == 0x7F;
  });
}

/// "[64, 172]"
std::string format_shape(const std::vector<std::uint64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(shape[i]);
  }
  return out + "]";
}

std::optional<std::vector<std::uint64_t>> parse_shape(std::string_view text) {
  if (text.size() < 2 || text.front() != '[' || text.back() != ']') return std::nullopt;
  text = text.substr(1, text.size() - 2);
  std::vector<std::uint64_t> shape;
  while (!text.empty()) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p == text.data()) return std::nullopt;
    shape.push_back(v);
    text.remove_prefix(static_cast<std::size_t>(p - text.data()));
    if (!text.empty()) {
      if (text.front() != ',') return std::nullopt;
      text.remove_prefix(1);
      if (text.empty()) return std::nullopt;
    }
  }
  return shape;
}

// ---------------------------------------------------------------------------
// The parsed file.

struct GgufTensor {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<std::uint64_t> shape;  // row-major (ne[] reversed)
  std::uint64_t offset = 0;          // absolute file offset
  std::uint64_t bytes = 0;
  std::uint64_t elements = 0;
};

struct GgufContents {
  std::uint32_t version = 0;
  std::uint64_t alignment = kDefaultAlignment;
  std::vector<GgufTensor> tensors;
  ModelInfo info;
  // Tensors whose quantization blocks cross rows: name and file shape (row-major).
  std::vector<std::pair<std::string, std::vector<std::uint64_t>>> flattened;
};

struct Kv {
  std::string key;
  std::uint32_t type = 0;
  std::span<const std::byte> payload;  // the bytes after the type field
  std::optional<Value> value;
};

/// Maps the key/value pairs onto ModelInfo (spec/interchange.md, "GGUF").
ModelInfo map_kvs(std::vector<Kv>& kvs) {
  ModelInfo info;
  std::string order;
  for (auto& kv : kvs) {
    if (!order.empty()) order += '\n';
    order += kv.key;
    if (kv.value) {
      if (const auto* s = std::get_if<std::string>(&kv.value->data)) {
        if (kv.key == kLicenseKey && validate_spdx_expression(*s).ok()) {
          License l;
          l.spdx = *s;
          info.license = std::move(l);
          continue;
        }
        const auto* pk = std::find_if(kProvenanceKeys.begin(), kProvenanceKeys.end(),
                                      [&](const ProvenanceKey& p) { return p.key == kv.key; });
        if (pk != kProvenanceKeys.end() && !s->empty()) {
          info.provenance.*(pk->field) = *s;
          continue;
        }
        if (kv.key == kAuthorKey && !s->empty()) {
          info.provenance.authors = {*s};
          continue;
        }
        if (kv.key.starts_with(kMetadataPrefix)) {
          const std::string rest = kv.key.substr(kMetadataPrefix.size());
          if (!rest.empty() && !rest.starts_with(kReservedPrefix)) {
            info.metadata[rest] = *s;
            continue;
          }
        }
      }
      if (validate_hyperparameter_key(kv.key).ok()) {
        info.hyperparameters[kv.key] = std::move(*kv.value);
        continue;
      }
    }
    info.metadata[std::string(kKvPrefix) + kv.key] =
        std::string(kGgufTypeNames[kv.type]) + ":" + base64_encode(kv.payload);
  }
  if (!kvs.empty()) info.metadata[std::string(kKvOrderKey)] = std::move(order);
  return info;
}

Result<GgufContents> parse_gguf(std::span<const std::byte> bytes, const Limits& limits) {
  GgufContents out;
  Cursor c(bytes);
  if (bytes.size() < 4 || std::memcmp(bytes.data(), kGgufMagic.data(), 4) != 0)
    return invalid(0, "bad magic: not a GGUF file (expected \"GGUF\")");
  (void)c.read<std::uint32_t>("the magic");
  OWF_ASSIGN_OR_RETURN(out.version, c.read<std::uint32_t>("the version"));
  if (out.version == 1)
    return unsupported(4, "version 1 files are not supported (only GGUF v2 and v3; v1 used 32-bit counts)");
  if (out.version != 2 && out.version != 3) {
    std::string why = "unsupported version " + std::to_string(out.version) + " (only 2 and 3 are supported)";
    if ((out.version & 0xFFFF) == 0) why += "; the file may be big-endian, which is not supported";
    return unsupported(4, why);
  }
  OWF_ASSIGN_OR_RETURN(std::uint64_t tensor_count, c.read<std::uint64_t>("the tensor count"));
  OWF_ASSIGN_OR_RETURN(std::uint64_t kv_count, c.read<std::uint64_t>("the key/value count"));
  if (tensor_count > limits.max_tensors)
    return over_limit(8, "tensor count " + std::to_string(tensor_count) + " exceeds max_tensors (" +
                             std::to_string(limits.max_tensors) + ")");
  if (kv_count > limits.max_metadata_entries)
    return over_limit(16, "key/value count " + std::to_string(kv_count) + " exceeds max_metadata_entries (" +
                              std::to_string(limits.max_metadata_entries) + ")");
  // A key/value pair takes at least 13 bytes (non-empty key, type, 1-byte
  // value), a tensor info at least 25: counts beyond that are lies.
  if (kv_count > c.remaining() / 13)
    return invalid(16, "key/value count " + std::to_string(kv_count) + " cannot fit in the file");
  if (tensor_count > c.remaining() / 25)
    return invalid(8, "tensor count " + std::to_string(tensor_count) + " cannot fit in the file");

  // Key/value pairs.
  std::vector<Kv> kvs;
  kvs.reserve(static_cast<std::size_t>(kv_count));
  std::unordered_set<std::string> keys;
  for (std::uint64_t i = 0; i < kv_count; ++i) {
    const std::uint64_t key_at = c.pos();
    OWF_ASSIGN_OR_RETURN(std::string_view key,
                         c.string("key of pair " + std::to_string(i), limits.max_string_bytes, "max_string_bytes"));
    if (key.empty()) return invalid(key_at, "key of pair " + std::to_string(i) + " is empty");
    if (!is_valid_utf8(key) || has_control_char(key))
      return invalid(key_at, "key of pair " + std::to_string(i) + " is not valid UTF-8 without control characters");
    Kv kv;
    kv.key = std::string(key);
    if (!keys.insert(kv.key).second) return invalid(key_at, "duplicate key '" + kv.key + "'");
    OWF_ASSIGN_OR_RETURN(kv.type, c.read<std::uint32_t>("the value type of key '" + kv.key + "'"));
    const std::size_t start = c.index();
    OWF_ASSIGN_OR_RETURN(kv.value, read_value(c, kv.type, 0, kv.key, limits));
    kv.payload = c.consumed_since(start);
    kvs.push_back(std::move(kv));
  }

  // general.alignment: u32, a power of two.
  for (const auto& kv : kvs) {
    if (kv.key != kAlignmentKey) continue;
    if (kv.type != kU32)
      return invalid(0, "key 'general.alignment' must have type u32, not " + std::string(kGgufTypeNames[kv.type]));
    std::uint32_t a = 0;
    std::memcpy(&a, kv.payload.data(), 4);
    if (!is_power_of_two(a))
      return invalid(static_cast<std::uint64_t>(kv.payload.data() - bytes.data()),
                     "general.alignment " + std::to_string(a) + " is not a power of two");
    if (a > limits.max_alignment)
      return over_limit(static_cast<std::uint64_t>(kv.payload.data() - bytes.data()),
                        "general.alignment " + std::to_string(a) + " exceeds max_alignment (" +
                            std::to_string(limits.max_alignment) + ")");
    out.alignment = a;
  }

  // Tensor infos.
  out.tensors.reserve(static_cast<std::size_t>(tensor_count));
  std::unordered_set<std::string> names;
  std::vector<std::uint64_t> relative(static_cast<std::size_t>(tensor_count));
  for (std::uint64_t i = 0; i < tensor_count; ++i) {
    const std::uint64_t at = c.pos();
    OWF_ASSIGN_OR_RETURN(std::string_view name,
                         c.string("name of tensor " + std::to_string(i), limits.max_name_bytes, "max_name_bytes"));
    if (name.empty()) return invalid(at, "tensor " + std::to_string(i) + " has an empty name");
    if (!is_valid_utf8(name)) return invalid(at, "name of tensor " + std::to_string(i) + " is not valid UTF-8");
    GgufTensor t;
    t.name = std::string(name);
    if (!names.insert(t.name).second) return invalid(at, "duplicate tensor name '" + t.name + "'");
    const std::string who = "tensor '" + t.name + "'";

    const std::uint64_t dims_at = c.pos();
    OWF_ASSIGN_OR_RETURN(std::uint32_t n_dims, c.read<std::uint32_t>("n_dims of " + who));
    if (n_dims > kMaxDims)
      return invalid(dims_at, who + " has " + std::to_string(n_dims) + " dimensions; GGUF allows at most 4");
    if (n_dims > limits.max_rank)
      return over_limit(dims_at, who + " has rank " + std::to_string(n_dims) + ", above max_rank (" +
                                     std::to_string(limits.max_rank) + ")");
    t.shape.resize(n_dims);
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const std::uint64_t dim_at = c.pos();
      OWF_ASSIGN_OR_RETURN(std::int64_t ne, c.read<std::int64_t>("a dimension of " + who));
      if (ne < 0) return invalid(dim_at, who + " has negative dimension ne[" + std::to_string(d) + "]");
      t.shape[n_dims - 1 - d] = static_cast<std::uint64_t>(ne);
    }
    auto count = element_count(t.shape);
    if (!count.ok() || *count > static_cast<std::uint64_t>(INT64_MAX))
      return invalid(dims_at, who + ": the product of its dimensions overflows 63 bits");
    t.elements = *count;

    const std::uint64_t type_at = c.pos();
    OWF_ASSIGN_OR_RETURN(std::uint32_t ggml_type, c.read<std::uint32_t>("the ggml type of " + who));
    const auto dtype = dtype_from_ggml(ggml_type);
    if (!dtype) return unsupported(type_at, who + " has unknown or unsupported ggml type " + std::to_string(ggml_type));
    t.dtype = *dtype;
    auto size = tensor_byte_size(t.dtype, t.shape);
    if (!size.ok()) {
      // Some tools quantize the flattened tensor, so blocks cross rows
      // (llama.cpp refuses such files). With a whole number of blocks
      // overall, the bytes are exactly a 1-D tensor of that dtype; the
      // file's dimensions are kept in metadata for the writer.
      const std::uint64_t flat[] = {t.elements};
      auto flat_size = tensor_byte_size(t.dtype, flat);
      if (n_dims < 2 || !flat_size.ok()) return invalid(type_at, who + ": " + size.error().message());
      out.flattened.emplace_back(t.name, t.shape);
      t.shape = {t.elements};
      size = flat_size;
    }
    t.bytes = *size;
    OWF_ASSIGN_OR_RETURN(relative[i], c.read<std::uint64_t>("the data offset of " + who));
    out.tensors.push_back(std::move(t));
  }

  // The data section begins at the next multiple of the alignment. A file
  // without tensors may end before that point (vocabulary-only files do).
  const std::uint64_t infos_end = c.pos();
  const std::uint64_t data_start = align_up(infos_end, out.alignment);
  const std::uint64_t file_size = bytes.size();
  if (!out.tensors.empty() && data_start > file_size)
    return invalid(infos_end, "the data section would start at byte " + std::to_string(data_start) +
                                  ", beyond the end of the file (" + std::to_string(file_size) + " bytes)");
  const std::uint64_t data_size = out.tensors.empty() ? 0 : file_size - data_start;
  for (std::size_t i = 0; i < out.tensors.size(); ++i) {
    GgufTensor& t = out.tensors[i];
    const std::uint64_t rel = relative[i];
    if (rel % out.alignment != 0)
      return invalid(data_start, "tensor '" + t.name + "' has data offset " + std::to_string(rel) +
                                     ", not a multiple of the alignment " + std::to_string(out.alignment));
    if (rel > data_size || t.bytes > data_size - rel)
      return invalid(data_start, "tensor '" + t.name + "' [" + std::to_string(rel) + ", +" + std::to_string(t.bytes) +
                                     ") lies outside the " + std::to_string(data_size) + "-byte data section");
    t.offset = data_start + rel;
  }
  std::vector<std::size_t> by_offset(out.tensors.size());
  std::iota(by_offset.begin(), by_offset.end(), std::size_t{0});
  std::stable_sort(by_offset.begin(), by_offset.end(),
                   [&](std::size_t a, std::size_t b) { return out.tensors[a].offset < out.tensors[b].offset; });
  const GgufTensor* prev = nullptr;
  for (std::size_t idx : by_offset) {
    const GgufTensor& t = out.tensors[idx];
    if (t.bytes == 0) continue;
    if (prev && t.offset < prev->offset + prev->bytes)
      return invalid(t.offset, "tensor '" + t.name + "' [" + std::to_string(t.offset - data_start) + ", " +
                                   std::to_string(t.offset - data_start + t.bytes) + ") overlaps tensor '" +
                                   prev->name + "' [" + std::to_string(prev->offset - data_start) + ", " +
                                   std::to_string(prev->offset - data_start + prev->bytes) + ")");
    prev = &t;
  }
  out.info = map_kvs(kvs);
  for (const auto& [name, shape] : out.flattened)
    out.info.metadata[std::string(kShapePrefix) + name] = format_shape(shape);
  return out;
}

// ---------------------------------------------------------------------------
// Source over a memory-mapped GGUF file.

class GgufSource final : public Source {
 public:
  GgufSource(GgufContents contents, void* mapping, std::size_t mapping_size)
      : c_(std::move(contents)), mapping_(mapping), mapping_size_(mapping_size) {}
  ~GgufSource() override {
    if (mapping_) ::munmap(mapping_, mapping_size_);
  }
  GgufSource(const GgufSource&) = delete;
  GgufSource& operator=(const GgufSource&) = delete;

  Format format() const override { return Format::kGguf; }
  std::size_t tensor_count() const override { return c_.tensors.size(); }
  TensorInfo tensor(std::size_t index) const override {
    const GgufTensor& t = c_.tensors[index];
    TensorInfo info;
    info.name = t.name;
    info.dtype = t.dtype;
    info.shape = t.shape;
    info.role = infer_role(t.name);
    info.codec = Codec::kNone;
    info.offset = t.offset;
    info.stored_bytes = t.bytes;
    info.logical_bytes = t.bytes;
    info.element_count = t.elements;
    return info;
  }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    if (index >= c_.tensors.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
    const GgufTensor& t = c_.tensors[index];
    if (out.size() != t.bytes)
      return Error(ErrorCode::kInvalidArgument, "tensor '" + t.name + "': output buffer has " +
                                                    std::to_string(out.size()) + " bytes, needs " +
                                                    std::to_string(t.bytes));
    if (t.bytes > 0) std::memcpy(out.data(), static_cast<const std::byte*>(mapping_) + t.offset, t.bytes);
    return {};
  }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    if (index >= c_.tensors.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
    const GgufTensor& t = c_.tensors[index];
    if (offset > t.bytes || out.size() > t.bytes - offset)
      return Error(ErrorCode::kInvalidArgument, "tensor '" + t.name + "': range [" + std::to_string(offset) + ", +" +
                                                    std::to_string(out.size()) + ") is outside its " +
                                                    std::to_string(t.bytes) + " bytes");
    if (!out.empty()) std::memcpy(out.data(), static_cast<const std::byte*>(mapping_) + t.offset + offset, out.size());
    return {};
  }
  bool ranged_reads() const override { return true; }
  const ModelInfo& info() const override { return c_.info; }
  std::uint64_t alignment() const override { return c_.alignment; }

 private:
  GgufContents c_;
  void* mapping_;
  std::size_t mapping_size_;
};

// ---------------------------------------------------------------------------
// Writing.

class Encoder {
 public:
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void str(std::string_view s) {
    put<std::uint64_t>(s.size());
    const auto* p = reinterpret_cast<const std::byte*>(s.data());
    bytes_.insert(bytes_.end(), p, p + s.size());
  }
  void raw(std::span<const std::byte> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  std::vector<std::byte>& bytes() { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

/// A value ready to be written: GGUF type plus the bytes after the type field.
struct EncodedKv {
  std::uint32_t type = 0;
  std::vector<std::byte> payload;
};

std::uint32_t gguf_int_type(IntType t) {
  switch (t) {
    case IntType::kU8:
      return kU8;
    case IntType::kI8:
      return kI8;
    case IntType::kU16:
      return kU16;
    case IntType::kI16:
      return kI16;
    case IntType::kU32:
      return kU32;
    case IntType::kI32:
      return kI32;
    case IntType::kU64:
      return kU64;
    case IntType::kI64:
      return kI64;
  }
  return kI64;
}

Status put_int(Encoder& e, std::uint32_t type, std::int64_t v, const std::string& key) {
  auto fits = [&](std::int64_t lo, std::int64_t hi) { return v >= lo && v <= hi; };
  bool ok = true;
  switch (type) {
    case kU8:
      ok = fits(0, UINT8_MAX);
      e.put(static_cast<std::uint8_t>(v));
      break;
    case kI8:
      ok = fits(INT8_MIN, INT8_MAX);
      e.put(static_cast<std::int8_t>(v));
      break;
    case kU16:
      ok = fits(0, UINT16_MAX);
      e.put(static_cast<std::uint16_t>(v));
      break;
    case kI16:
      ok = fits(INT16_MIN, INT16_MAX);
      e.put(static_cast<std::int16_t>(v));
      break;
    case kU32:
      ok = fits(0, UINT32_MAX);
      e.put(static_cast<std::uint32_t>(v));
      break;
    case kI32:
      ok = fits(INT32_MIN, INT32_MAX);
      e.put(static_cast<std::int32_t>(v));
      break;
    case kU64:
      e.put(static_cast<std::uint64_t>(v));
      break;
    default:
      e.put(v);
      break;
  }
  if (!ok)
    return Error(ErrorCode::kBadHyperparameter, "hyperparameter '" + key + "': value " + std::to_string(v) +
                                                    " does not fit " + std::string(kGgufTypeNames[type]));
  return {};
}

void put_float(Encoder& e, FloatType t, double v) {
  if (t == FloatType::kF32)
    e.put(static_cast<float>(v));
  else
    e.put(v);
}

Result<EncodedKv> encode_value(const std::string& key, const Value& value) {
  Encoder e;
  EncodedKv out;
  const auto array_header = [&](std::uint32_t elem, std::size_t n) {
    e.put<std::uint32_t>(elem);
    e.put<std::uint64_t>(n);
  };
  if (const auto* b = std::get_if<bool>(&value.data)) {
    out.type = kBool;
    e.put<std::uint8_t>(*b ? 1 : 0);
  } else if (const auto* i = std::get_if<std::int64_t>(&value.data)) {
    out.type = gguf_int_type(value.int_type);
    OWF_RETURN_IF_ERROR(put_int(e, out.type, *i, key));
  } else if (const auto* d = std::get_if<double>(&value.data)) {
    out.type = value.float_type == FloatType::kF32 ? kF32 : kF64;
    put_float(e, value.float_type, *d);
  } else if (const auto* s = std::get_if<std::string>(&value.data)) {
    out.type = kString;
    e.str(*s);
  } else if (const auto* vb = std::get_if<std::vector<bool>>(&value.data)) {
    out.type = kArray;
    array_header(kBool, vb->size());
    for (bool x : *vb) e.put<std::uint8_t>(x ? 1 : 0);
  } else if (const auto* vi = std::get_if<std::vector<std::int64_t>>(&value.data)) {
    out.type = kArray;
    const std::uint32_t elem = gguf_int_type(value.int_type);
    array_header(elem, vi->size());
    for (std::int64_t x : *vi) OWF_RETURN_IF_ERROR(put_int(e, elem, x, key));
  } else if (const auto* vd = std::get_if<std::vector<double>>(&value.data)) {
    out.type = kArray;
    array_header(value.float_type == FloatType::kF32 ? kF32 : kF64, vd->size());
    for (double x : *vd) put_float(e, value.float_type, x);
  } else if (const auto* vs = std::get_if<std::vector<std::string>>(&value.data)) {
    out.type = kArray;
    array_header(kString, vs->size());
    for (const auto& x : *vs) e.str(x);
  }
  out.payload = std::move(e.bytes());
  return out;
}

EncodedKv encode_string(std::string_view s) {
  Encoder e;
  e.str(s);
  return {kString, std::move(e.bytes())};
}

/// Restores a KV kept verbatim in metadata ("<type>:<base64>"), checking
/// that the payload is exactly one well-formed value of that type.
Result<EncodedKv> decode_kept_kv(const std::string& key, const std::string& text) {
  auto bad = [&](const std::string& why) {
    return Error(ErrorCode::kBadMetadata, "metadata '" + std::string(kKvPrefix) + key + "': " + why);
  };
  const auto colon = text.find(':');
  if (colon == std::string::npos) return bad("expected <type>:<base64>");
  const auto type = gguf_type_from_name(std::string_view(text).substr(0, colon));
  if (!type) return bad("unknown GGUF type '" + text.substr(0, colon) + "'");
  auto payload = base64_decode(std::string_view(text).substr(colon + 1));
  if (!payload) return bad("payload is not valid base64");
  Cursor c(*payload);
  Limits unlimited;
  unlimited.max_string_bytes = UINT64_MAX;
  auto value = read_value(c, *type, 0, key, unlimited);
  if (!value.ok()) return bad(value.error().message());
  if (!c.at_end()) return bad("payload has bytes after the value");
  return EncodedKv{*type, std::move(*payload)};
}

struct OutTensor {
  std::size_t index;
  TensorInfo info;
  std::uint32_t ggml_type = 0;
  std::vector<std::uint64_t> dims;  // row-major; written reversed
  std::uint64_t relative = 0;
};

/// The dimensions to write: the tensor's shape, or the file shape kept for
/// a tensor the reader exposed as 1-D because its blocks cross rows.
std::vector<std::uint64_t> file_dims(const ModelInfo& info, const TensorInfo& t) {
  std::vector<std::uint64_t> dims(t.shape.begin(), t.shape.end());
  const auto it = info.metadata.find(std::string(kShapePrefix) + std::string(t.name));
  if (it == info.metadata.end() || dims.size() != 1) return dims;
  const auto kept = parse_shape(it->second);
  if (!kept || kept->size() < 2 || kept->size() > kMaxDims) return dims;
  const auto count = element_count(*kept);
  if (!count.ok() || *count != dims[0]) return dims;
  return *kept;
}

/// The KV pairs to write, in order, from a source's ModelInfo.
Result<std::vector<std::pair<std::string, EncodedKv>>> collect_kvs(const Source& source, std::uint64_t alignment) {
  const ModelInfo& info = source.info();
  std::map<std::string, EncodedKv> kvs;  // first writer of a key wins
  for (const auto& [key, value] : info.hyperparameters) {
    OWF_ASSIGN_OR_RETURN(EncodedKv kv, encode_value(key, value));
    kvs.emplace(key, std::move(kv));
  }
  for (const auto& [mkey, text] : info.metadata) {
    if (!mkey.starts_with(kKvPrefix)) continue;
    const std::string key = mkey.substr(kKvPrefix.size());
    if (key.empty() || kvs.count(key)) continue;
    OWF_ASSIGN_OR_RETURN(EncodedKv kv, decode_kept_kv(key, text));
    kvs.emplace(key, std::move(kv));
  }
  for (const auto& pk : kProvenanceKeys) {
    const std::string& v = info.provenance.*(pk.field);
    if (!v.empty()) kvs.emplace(std::string(pk.key), encode_string(v));
  }
  std::string authors;
  for (const auto& a : info.provenance.authors) {
    if (a.empty()) continue;
    if (!authors.empty()) authors += ", ";
    authors += a;
  }
  if (!authors.empty()) kvs.emplace(std::string(kAuthorKey), encode_string(authors));

  std::vector<std::string> order;
  if (auto it = info.metadata.find(std::string(kKvOrderKey)); it != info.metadata.end()) {
    std::string_view rest = it->second;
    while (!rest.empty()) {
      const auto nl = rest.find('\n');
      order.emplace_back(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    }
  }
  if (info.license && !info.license->spdx.empty()) {
    // NOASSERTION is what a converter states when the source said nothing;
    // it becomes a key only when the original file had it.
    const bool stated =
        info.license->spdx != "NOASSERTION" || std::find(order.begin(), order.end(), kLicenseKey) != order.end();
    if (stated) kvs.emplace(std::string(kLicenseKey), encode_string(info.license->spdx));
  }
  for (const auto& [mkey, text] : info.metadata) {
    if (mkey.starts_with(kReservedPrefix)) continue;
    kvs.emplace(std::string(kMetadataPrefix) + mkey, encode_string(text));
  }
  if (alignment != kDefaultAlignment || kvs.count(std::string(kAlignmentKey))) {
    Encoder e;
    e.put<std::uint32_t>(static_cast<std::uint32_t>(alignment));
    kvs[std::string(kAlignmentKey)] = EncodedKv{kU32, std::move(e.bytes())};
  }

  std::vector<std::pair<std::string, EncodedKv>> out;
  out.reserve(kvs.size());
  for (const auto& key : order) {
    auto it = kvs.find(key);
    if (it == kvs.end()) continue;
    out.emplace_back(it->first, std::move(it->second));
    kvs.erase(it);
  }
  for (auto& [key, kv] : kvs) out.emplace_back(key, std::move(kv));
  return out;
}

/// alignment 0: general.alignment if the source has it, the GGUF source's
/// own alignment, else GGUF's default. An OWF file's alignment is its own
/// and is not carried over.
Result<std::uint64_t> choose_alignment(const Source& source, std::uint64_t requested) {
  std::uint64_t a = requested;
  if (a == 0) {
    const auto& hp = source.info().hyperparameters;
    if (auto it = hp.find(std::string(kAlignmentKey)); it != hp.end()) {
      if (const auto* v = std::get_if<std::int64_t>(&it->second.data)) a = static_cast<std::uint64_t>(*v);
    }
  }
  if (a == 0) a = source.format() == Format::kGguf && source.alignment() != 0 ? source.alignment() : kDefaultAlignment;
  if (!is_power_of_two(a) || a > kMaxAlignment)
    return Error(ErrorCode::kBadAlignment, "GGUF alignment " + std::to_string(a) +
                                               " is not a power of two between 1 and " + std::to_string(kMaxAlignment));
  return a;
}

}  // namespace

Result<std::unique_ptr<Source>> open_gguf(const std::filesystem::path& path, const Limits& limits) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error(ErrorCode::kIoError, path.string() + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error(ErrorCode::kIoError, path.string() + ": not a readable regular file");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* mapping = nullptr;
  if (size > 0) {
    mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping == MAP_FAILED) {
      ::close(fd);
      return Error(ErrorCode::kIoError, path.string() + ": cannot map: " + std::strerror(errno));
    }
  }
  ::close(fd);  // the mapping keeps the file's pages reachable
  auto parsed = parse_gguf(std::span<const std::byte>(static_cast<const std::byte*>(mapping), size), limits);
  if (!parsed.ok()) {
    if (mapping) ::munmap(mapping, size);
    return Error(parsed.code(), path.string() + ": " + parsed.error().message());
  }
  return std::unique_ptr<Source>(std::make_unique<GgufSource>(std::move(parsed).value(), mapping, size));
}

Status write_gguf(const Source& source, const std::filesystem::path& path, std::uint64_t alignment,
                  const OutputOptions& output) {
  OWF_ASSIGN_OR_RETURN(const std::uint64_t align, choose_alignment(source, alignment));

  // Tensors in data order, each checked against what GGUF can express.
  std::vector<OutTensor> tensors;
  tensors.reserve(source.tensor_count());
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo info = source.tensor(i);
    OutTensor t{i, info, 0, file_dims(source.info(), info), 0};
    const std::string who = "tensor '" + std::string(t.info.name) + "'";
    const auto ggml = ggml_from_dtype(t.info.dtype);
    if (!ggml)
      return Error(ErrorCode::kForeignFormatUnsupported,
                   who + " has dtype " + std::string(dtype_name(t.info.dtype)) + ", which GGUF cannot store");
    t.ggml_type = *ggml;
    if (t.dims.size() > kMaxDims)
      return Error(ErrorCode::kForeignFormatUnsupported,
                   who + " has rank " + std::to_string(t.dims.size()) + "; GGUF allows at most 4 dimensions");
    if (t.info.name.empty() || t.info.name.size() > kMaxWriteNameBytes)
      return Error(ErrorCode::kForeignFormatUnsupported,
                   who + ": GGUF tensor names must be 1 to " + std::to_string(kMaxWriteNameBytes) + " bytes long");
    for (std::uint64_t d : t.dims)
      if (d > static_cast<std::uint64_t>(INT64_MAX))
        return Error(ErrorCode::kForeignFormatUnsupported, who + " has a dimension above 2^63-1");
    OWF_ASSIGN_OR_RETURN(const std::uint64_t size, tensor_byte_size(t.info.dtype, t.info.shape));
    if (size != t.info.logical_bytes)
      return Error(ErrorCode::kTensorSizeMismatch, who + ": " + std::to_string(t.info.logical_bytes) +
                                                       " logical bytes, but dtype x shape needs " +
                                                       std::to_string(size));
    tensors.push_back(std::move(t));
  }
  std::stable_sort(tensors.begin(), tensors.end(),
                   [](const OutTensor& a, const OutTensor& b) { return a.info.offset < b.info.offset; });
  std::uint64_t cursor = 0;
  for (auto& t : tensors) {
    t.relative = cursor;
    if (cursor > UINT64_MAX - t.info.logical_bytes - align)
      return Error(ErrorCode::kShapeOverflow, "GGUF data section size overflows 64 bits");
    cursor = align_up(cursor + t.info.logical_bytes, align);
  }

  OWF_ASSIGN_OR_RETURN(auto kvs, collect_kvs(source, align));

  Encoder head;
  head.raw(std::as_bytes(std::span<const char>(kGgufMagic.data(), kGgufMagic.size())));
  head.put<std::uint32_t>(kWriteVersion);
  head.put<std::uint64_t>(tensors.size());
  head.put<std::uint64_t>(kvs.size());
  for (const auto& [key, kv] : kvs) {
    head.str(key);
    head.put<std::uint32_t>(kv.type);
    head.raw(kv.payload);
  }
  for (const auto& t : tensors) {
    head.str(t.info.name);
    head.put<std::uint32_t>(static_cast<std::uint32_t>(t.dims.size()));
    for (std::size_t d = t.dims.size(); d-- > 0;) head.put<std::int64_t>(static_cast<std::int64_t>(t.dims[d]));
    head.put<std::uint32_t>(t.ggml_type);
    head.put<std::uint64_t>(t.relative);
  }

  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  OWF_RETURN_IF_ERROR(out->write(head.bytes()));
  if (!tensors.empty()) {
    // Canonical layout (llama.cpp's and gguf-py's writers): the data section
    // and every tensor padded to the alignment. A file without tensors ends
    // after its header, as vocabulary-only files do.
    OWF_RETURN_IF_ERROR(out->pad_to(align));
    // Sources that read ranges cheaply are streamed in pieces; others are
    // read one whole tensor at a time.
    constexpr std::uint64_t kPiece = 8ull << 20;
    std::vector<std::byte> buffer;
    for (const auto& t : tensors) {
      const std::uint64_t size = t.info.logical_bytes;
      const bool ranged = source.ranged_reads() && size > kPiece;
      buffer.resize(static_cast<std::size_t>(ranged ? kPiece : size));
      for (std::uint64_t done = 0; done < size;) {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - done));
        const auto piece = std::span(buffer).first(n);
        const Status s = ranged ? source.read_range(t.index, done, piece) : source.read(t.index, piece);
        if (!s.ok()) return Error(s.code(), "tensor '" + std::string(t.info.name) + "': " + s.error().message());
        OWF_RETURN_IF_ERROR(out->write(piece));
        done += n;
      }
      OWF_RETURN_IF_ERROR(out->pad_to(align));
    }
  }
  return out->finish(true);
}

}  // namespace owf::internal
