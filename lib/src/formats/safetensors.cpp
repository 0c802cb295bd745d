// safetensors (https://github.com/huggingface/safetensors): reader and
// writer, spec/interchange.md "safetensors".
//
//   [u64 LE header length N][N bytes of JSON header][data buffer]
//
// The header is parsed with nlohmann-json's SAX interface straight into the
// few fields the format has, so memory stays proportional to the tensor
// count, not to the header text, and duplicate keys are seen (the DOM parser
// would silently keep the last one). The writer reproduces the official
// serializer's layout byte for byte.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "io/output_file.hpp"
#include "formats/formats.hpp"
#include "utf8.hpp"

namespace owf::internal {
namespace {

using Json = nlohmann::json;

// The official library refuses headers above 100 MB; so do we.
constexpr std::uint64_t kMaxHeaderBytes = 100'000'000;
// Values under the owf.* keys are decoded into a JSON tree; bound it.
constexpr std::size_t kMaxOwfValueBytes = 16u << 20;
constexpr std::string_view kMetadataKey = "__metadata__";

// safetensors dtypes. `rank` is the position in safetensors' Dtype enum,
// which the official writer sorts by (descending) before the name.
struct StDtype {
  std::string_view name;
  DType dtype;
  int rank;
  unsigned bits;
};
constexpr std::array<StDtype, 20> kStDtypes = {{
    {"BOOL", DType::kBool, 0, 8},
    {"F4", DType::kF4_E2M1, 1, 4},
    {"F6_E2M3", DType::kF6_E2M3, 2, 6},
    {"F6_E3M2", DType::kF6_E3M2, 3, 6},
    {"U8", DType::kU8, 4, 8},
    {"I8", DType::kI8, 5, 8},
    {"F8_E5M2", DType::kF8_E5M2, 6, 8},
    {"F8_E4M3", DType::kF8_E4M3FN, 7, 8},
    {"F8_E8M0", DType::kF8_E8M0, 8, 8},
    // 9, 10: F8_E4M3FNUZ, F8_E5M2FNUZ (no OWF dtype)
    {"I16", DType::kI16, 11, 16},
    {"U16", DType::kU16, 12, 16},
    {"F16", DType::kF16, 13, 16},
    {"BF16", DType::kBF16, 14, 16},
    {"I32", DType::kI32, 15, 32},
    {"U32", DType::kU32, 16, 32},
    {"F32", DType::kF32, 17, 32},
    {"C64", DType::kC64, 18, 64},
    {"F64", DType::kF64, 19, 64},
    {"I64", DType::kI64, 20, 64},
    {"U64", DType::kU64, 21, 64},
}};

const StDtype* st_dtype_by_name(std::string_view name) {
  for (const auto& d : kStDtypes)
    if (d.name == name) return &d;
  return nullptr;
}
const StDtype* st_dtype_of(DType dtype) {
  for (const auto& d : kStDtypes)
    if (d.dtype == dtype) return &d;
  return nullptr;
}

// ---------------------------------------------------------------------------
// File access by pread: the data is never mapped, so a file truncated while
// open gives an I/O error rather than a signal.

class FileHandle {
 public:
  static Result<FileHandle> open(const std::filesystem::path& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Error(ErrorCode::kIoError, path.string() + ": " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      ::close(fd);
      return Error(ErrorCode::kIoError, path.string() + ": not a regular file");
    }
    return FileHandle(fd, static_cast<std::uint64_t>(st.st_size), path);
  }
  FileHandle(FileHandle&& o) noexcept : fd_(std::exchange(o.fd_, -1)), size_(o.size_), path_(std::move(o.path_)) {}
  FileHandle& operator=(FileHandle&&) = delete;
  ~FileHandle() {
    if (fd_ >= 0) ::close(fd_);
  }
  std::uint64_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }
  Status read_at(std::uint64_t offset, std::span<std::byte> out) const {
    std::size_t done = 0;
    while (done < out.size()) {
      const ssize_t n = ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error(ErrorCode::kIoError, path_.string() + ": read at byte " + std::to_string(offset + done) + ": " + std::strerror(errno));
      if (n == 0)
        return Error(ErrorCode::kTruncated, path_.string() + ": file ends at byte " + std::to_string(offset + done) +
                                                " (it shrank after it was opened?)");
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

 private:
  FileHandle(int fd, std::uint64_t size, std::filesystem::path path) : fd_(fd), size_(size), path_(std::move(path)) {}
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::filesystem::path path_;
};

// ---------------------------------------------------------------------------
// Header parsing.

struct StTensor {
  std::string name;
  const StDtype* dtype = nullptr;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin = 0;
  std::uint64_t end = 0;
  bool has_dtype = false, has_shape = false, has_offsets = false;
  std::size_t offsets_seen = 0;
};

struct StHeader {
  std::vector<StTensor> tensors;
  std::vector<std::pair<std::string, std::string>> metadata;
  bool has_metadata = false;
};

// Accepts exactly: {"__metadata__": {str: str, ...}, name: {"dtype": str,
// "shape": [uint, ...], "data_offsets": [uint, uint]}, ...}, every object
// without duplicate keys.
class HeaderSax final : public nlohmann::json_sax<Json> {
 public:
  HeaderSax(const Limits& limits, StHeader& out) : limits_(limits), out_(out) {}
  const std::string& error() const { return error_; }
  ErrorCode error_code() const { return code_; }

  bool null() override { return scalar("null"); }
  bool boolean(bool) override { return scalar("a boolean"); }
  bool number_integer(number_integer_t) override { return scalar("a negative number"); }
  bool number_float(number_float_t, const string_t&) override { return scalar("a non-integer number"); }
  bool binary(binary_t&) override { return scalar("binary data"); }

  bool number_unsigned(number_unsigned_t v) override {
    if (state_ == State::kShape) {
      StTensor& t = out_.tensors.back();
      if (t.shape.size() >= limits_.max_rank)
        return limit("tensor '" + t.name + "': shape has more than " + std::to_string(limits_.max_rank) + " dimensions");
      t.shape.push_back(v);
      return true;
    }
    if (state_ == State::kOffsets) {
      StTensor& t = out_.tensors.back();
      if (t.offsets_seen == 0) t.begin = v;
      else if (t.offsets_seen == 1) t.end = v;
      else return fail("tensor '" + t.name + "': data_offsets has more than 2 entries");
      ++t.offsets_seen;
      return true;
    }
    return scalar("a number");
  }

  bool string(string_t& s) override {
    if (state_ == State::kMetaValue) {
      if (s.size() > limits_.max_string_bytes)
        return limit("__metadata__ value for '" + out_.metadata.back().first + "' exceeds " +
                     std::to_string(limits_.max_string_bytes) + " bytes");
      out_.metadata.back().second = std::move(s);
      state_ = State::kMeta;
      return true;
    }
    if (state_ == State::kTensorValue && field_ == "dtype") {
      StTensor& t = out_.tensors.back();
      t.dtype = st_dtype_by_name(s);
      if (t.dtype == nullptr) {
        if (s == "F8_E4M3FNUZ" || s == "F8_E5M2FNUZ")
          return fail("tensor '" + t.name + "': dtype " + s + " has no OWF equivalent", ErrorCode::kForeignFormatUnsupported);
        return fail("tensor '" + t.name + "': unknown dtype \"" + s + "\"");
      }
      t.has_dtype = true;
      state_ = State::kTensor;
      return true;
    }
    return scalar("a string");
  }

  bool start_object(std::size_t) override {
    switch (state_) {
      case State::kStart: state_ = State::kTop; keys_.emplace_back(); return true;
      case State::kMetaStart: state_ = State::kMeta; keys_.emplace_back(); return true;
      case State::kTensorStart: state_ = State::kTensor; keys_.emplace_back(); return true;
      default: return scalar("an object");
    }
  }

  bool key(string_t& k) override {
    if (!keys_.back().insert(k).second) return fail(where() + "duplicate key \"" + k + "\"");
    switch (state_) {
      case State::kTop:
        if (k == kMetadataKey) {
          out_.has_metadata = true;
          state_ = State::kMetaStart;
          return true;
        }
        if (out_.tensors.size() >= limits_.max_tensors)
          return limit("more than " + std::to_string(limits_.max_tensors) + " tensors");
        if (k.size() > limits_.max_name_bytes)
          return limit("a tensor name of " + std::to_string(k.size()) + " bytes exceeds " + std::to_string(limits_.max_name_bytes));
        out_.tensors.emplace_back();
        out_.tensors.back().name = std::move(k);
        state_ = State::kTensorStart;
        return true;
      case State::kMeta:
        if (out_.metadata.size() >= limits_.max_metadata_entries)
          return limit("more than " + std::to_string(limits_.max_metadata_entries) + " __metadata__ entries");
        if (k.size() > limits_.max_string_bytes) return limit("a __metadata__ key exceeds " + std::to_string(limits_.max_string_bytes) + " bytes");
        out_.metadata.emplace_back(std::move(k), std::string());
        state_ = State::kMetaValue;
        return true;
      case State::kTensor: {
        StTensor& t = out_.tensors.back();
        if (k == "dtype") {
          state_ = State::kTensorValue;
        } else if (k == "shape") {
          t.has_shape = true;
          state_ = State::kShapeStart;
        } else if (k == "data_offsets") {
          t.has_offsets = true;
          state_ = State::kOffsetsStart;
        } else {
          return fail("tensor '" + t.name + "': unknown field \"" + k + "\"");
        }
        field_ = k;
        return true;
      }
      default: return fail("unexpected key \"" + k + "\"");
    }
  }

  bool end_object() override {
    keys_.pop_back();
    switch (state_) {
      case State::kTop: state_ = State::kDone; return true;
      case State::kMeta: state_ = State::kTop; return true;
      case State::kTensor: {
        const StTensor& t = out_.tensors.back();
        if (!t.has_dtype) return fail("tensor '" + t.name + "': no dtype");
        if (!t.has_shape) return fail("tensor '" + t.name + "': no shape");
        if (!t.has_offsets) return fail("tensor '" + t.name + "': no data_offsets");
        state_ = State::kTop;
        return true;
      }
      default: return fail("unexpected end of object");
    }
  }

  bool start_array(std::size_t) override {
    if (state_ == State::kShapeStart) state_ = State::kShape;
    else if (state_ == State::kOffsetsStart) state_ = State::kOffsets;
    else return scalar("an array");
    return true;
  }

  bool end_array() override {
    if (state_ == State::kOffsets && out_.tensors.back().offsets_seen != 2)
      return fail("tensor '" + out_.tensors.back().name + "': data_offsets must be [begin, end]");
    state_ = State::kTensor;
    return true;
  }

  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& ex) override {
    if (error_.empty()) {
      std::string what = ex.what();
      if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
      error_ = "header is not valid JSON (near header byte " + std::to_string(position) + "): " + what;
    }
    return false;
  }

 private:
  enum class State { kStart, kTop, kMetaStart, kMeta, kMetaValue, kTensorStart, kTensor, kTensorValue,
                     kShapeStart, kShape, kOffsetsStart, kOffsets, kDone };

  std::string where() const {
    if (state_ == State::kTop) return "header: ";
    if (state_ == State::kMeta) return "__metadata__: ";
    return "tensor '" + out_.tensors.back().name + "': ";
  }
  bool fail(std::string message, ErrorCode code = ErrorCode::kForeignFormatInvalid) {
    if (error_.empty()) {
      error_ = std::move(message);
      code_ = code;
    }
    return false;
  }
  bool limit(std::string message) { return fail(std::move(message), ErrorCode::kLimitExceeded); }
  // A value of the wrong kind, described by where the parser is.
  bool scalar(const std::string& what) {
    switch (state_) {
      case State::kStart: return fail("header is not a JSON object (it holds " + what + ")");
      case State::kMetaStart: return fail("__metadata__ must be an object of strings, not " + what);
      case State::kMetaValue: return fail("__metadata__ value for '" + out_.metadata.back().first + "' must be a string, not " + what);
      case State::kTensorStart: return fail("tensor '" + out_.tensors.back().name + "' must be an object, not " + what);
      case State::kTensorValue: return fail("tensor '" + out_.tensors.back().name + "': dtype must be a string, not " + what);
      case State::kShapeStart:
      case State::kShape: return fail("tensor '" + out_.tensors.back().name + "': shape must be a list of non-negative integers (found " + what + ")");
      case State::kOffsetsStart:
      case State::kOffsets: return fail("tensor '" + out_.tensors.back().name + "': data_offsets must be [begin, end] of non-negative integers (found " + what + ")");
      default: return fail("unexpected " + what + " in the header");
    }
  }

  const Limits& limits_;
  StHeader& out_;
  State state_ = State::kStart;
  std::string field_;
  std::vector<std::unordered_set<std::string>> keys_;
  std::string error_;
  ErrorCode code_ = ErrorCode::kForeignFormatInvalid;
};

// ---------------------------------------------------------------------------
// ModelInfo <-> __metadata__ (spec/interchange.md, "safetensors").

constexpr std::string_view kOwfPrefix = "owf.";
constexpr std::string_view kLicensePrefix = "owf.license.";
constexpr std::string_view kProvenancePrefix = "owf.provenance.";
constexpr std::string_view kHparamPrefix = "owf.hparam.";

// The plain string fields of License and Provenance, by key suffix.
template <class T>
struct StringField {
  std::string_view name;
  std::string T::*member;
};
constexpr StringField<License> kLicenseStrings[] = {
    {"spdx", &License::spdx}, {"concluded", &License::concluded}, {"name", &License::name},
    {"url", &License::url},   {"text", &License::text},           {"attribution", &License::attribution},
    {"restrictions", &License::restrictions},
};
constexpr StringField<Provenance> kProvenanceStrings[] = {
    {"name", &Provenance::name},
    {"version", &Provenance::version},
    {"architecture", &Provenance::architecture},
    {"description", &Provenance::description},
    {"source_url", &Provenance::source_url},
    {"training_data", &Provenance::training_data},
    {"software", &Provenance::software},
    {"created", &Provenance::created},
};
template <class T, std::size_t N>
std::string T::*string_member(const StringField<T> (&fields)[N], std::string_view name) {
  for (const auto& f : fields)
    if (f.name == name) return f.member;
  return nullptr;
}

struct IntTypeName {
  IntType type;
  std::string_view name;
  std::int64_t min;
  std::uint64_t max;
};
constexpr std::array<IntTypeName, 8> kIntTypes = {{
    {IntType::kI64, "i64", INT64_MIN, INT64_MAX},
    {IntType::kU8, "u8", 0, UINT8_MAX},
    {IntType::kI8, "i8", INT8_MIN, INT8_MAX},
    {IntType::kU16, "u16", 0, UINT16_MAX},
    {IntType::kI16, "i16", INT16_MIN, INT16_MAX},
    {IntType::kU32, "u32", 0, UINT32_MAX},
    {IntType::kI32, "i32", INT32_MIN, INT32_MAX},
    {IntType::kU64, "u64", 0, UINT64_MAX},
}};

// JSON string literal, escaped as serde_json (the official writer) does.
void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 0xF];
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

void append_json_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "\"nan\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"inf\"" : "\"-inf\"";
  } else {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
  }
}

std::string json_string_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, items[i]);
  }
  return out + "]";
}

std::string encode_value(const Value& v) {
  std::string out = "{";
  const auto int_name = [&] {
    for (const auto& t : kIntTypes)
      if (t.type == v.int_type) return t.name;
    return std::string_view("i64");
  };
  const std::string_view float_name = v.float_type == FloatType::kF32 ? "f32" : "f64";
  const auto append_int = [&](std::int64_t x) {
    out += v.int_type == IntType::kU64 ? std::to_string(static_cast<std::uint64_t>(x)) : std::to_string(x);
  };
  std::visit(
      [&](const auto& d) {
        using T = std::decay_t<decltype(d)>;
        if constexpr (std::is_same_v<T, bool>) {
          out += "\"bool\":";
          out += d ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          append_json_string(out, int_name());
          out += ':';
          append_int(d);
        } else if constexpr (std::is_same_v<T, double>) {
          append_json_string(out, float_name);
          out += ':';
          append_json_double(out, d);
        } else if constexpr (std::is_same_v<T, std::string>) {
          out += "\"string\":";
          append_json_string(out, d);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          out += "\"string[]\":" + json_string_list(d);
        } else {
          if constexpr (std::is_same_v<T, std::vector<bool>>) out += "\"bool[]\":[";
          else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) append_json_string(out, std::string(int_name()) + "[]"), out += ":[";
          else append_json_string(out, std::string(float_name) + "[]"), out += ":[";
          for (std::size_t i = 0; i < d.size(); ++i) {
            if (i) out += ',';
            if constexpr (std::is_same_v<T, std::vector<bool>>) out += d[i] ? "true" : "false";
            else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) append_int(d[i]);
            else append_json_double(out, d[i]);
          }
          out += ']';
        }
      },
      v.data);
  return out + "}";
}

Error bad_owf_key(const std::string& key, const std::string& why) {
  return Error(ErrorCode::kBadMetadata, "__metadata__ key '" + key + "': " + why);
}

// Parses a small JSON document, refusing duplicate object keys.
Result<Json> parse_json_strict(const std::string& key, const std::string& text) {
  if (text.size() > kMaxOwfValueBytes) return bad_owf_key(key, "value exceeds " + std::to_string(kMaxOwfValueBytes) + " bytes");
  std::vector<std::set<std::string>> seen;
  std::string duplicate;
  bool too_deep = false;
  Json::parser_callback_t cb = [&](int depth, Json::parse_event_t event, Json& parsed) {
    // The values of the owf.* keys nest two containers at most; deeper ones
    // are discarded unparsed (bounded memory) and the value refused.
    if ((event == Json::parse_event_t::object_start || event == Json::parse_event_t::array_start) && depth >= 2) {
      too_deep = true;
      return false;
    }
    if (event == Json::parse_event_t::object_start) seen.emplace_back();
    else if (event == Json::parse_event_t::object_end && !seen.empty()) seen.pop_back();
    else if (event == Json::parse_event_t::key && !seen.empty() && !seen.back().insert(parsed.get<std::string>()).second &&
             duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  Json j = Json::parse(text, cb, /*allow_exceptions=*/false);
  if (j.is_discarded()) return bad_owf_key(key, "value is not valid JSON");
  if (too_deep) return bad_owf_key(key, "value nests deeper than the mapping allows");
  if (!duplicate.empty()) return bad_owf_key(key, "duplicate key \"" + duplicate + "\"");
  return j;
}

Result<std::vector<std::string>> decode_string_list(const std::string& key, const std::string& text) {
  OWF_ASSIGN_OR_RETURN(Json j, parse_json_strict(key, text));
  if (!j.is_array()) return bad_owf_key(key, "value must be a JSON list of strings");
  std::vector<std::string> out;
  for (const Json& e : j) {
    if (!e.is_string()) return bad_owf_key(key, "value must be a JSON list of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<std::int64_t> json_int(const Json& j, const IntTypeName& t) {
  if (j.is_number_unsigned()) {
    const auto u = j.get<std::uint64_t>();
    if (u > t.max) return std::nullopt;
    return static_cast<std::int64_t>(u);
  }
  if (j.is_number_integer()) {
    const auto s = j.get<std::int64_t>();
    if (s < t.min) return std::nullopt;
    return s;
  }
  return std::nullopt;
}

std::optional<double> json_double(const Json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (s == "nan") return std::nan("");
    if (s == "inf") return HUGE_VAL;
    if (s == "-inf") return -HUGE_VAL;
  }
  return std::nullopt;
}

Result<Value> decode_value(const std::string& key, const std::string& text) {
  OWF_ASSIGN_OR_RETURN(Json j, parse_json_strict(key, text));
  if (!j.is_object() || j.size() != 1) return bad_owf_key(key, "value must be a JSON object with one type key, e.g. {\"i64\":5}");
  const std::string type = j.begin().key();
  const Json& v = j.begin().value();
  const bool list = type.size() > 2 && type.ends_with("[]");
  const std::string base = list ? type.substr(0, type.size() - 2) : type;
  if (list && !v.is_array()) return bad_owf_key(key, "type " + type + " needs a JSON list");
  const auto bad_element = [&] { return bad_owf_key(key, "value does not fit type " + type); };
  if (base == "bool") {
    if (!list) {
      if (!v.is_boolean()) return bad_element();
      return Value(v.get<bool>());
    }
    std::vector<bool> out;
    for (const Json& e : v) {
      if (!e.is_boolean()) return bad_element();
      out.push_back(e.get<bool>());
    }
    return Value(std::move(out));
  }
  if (base == "string") {
    if (!list) {
      if (!v.is_string()) return bad_element();
      return Value(v.get<std::string>());
    }
    std::vector<std::string> out;
    for (const Json& e : v) {
      if (!e.is_string()) return bad_element();
      out.push_back(e.get<std::string>());
    }
    return Value(std::move(out));
  }
  if (base == "f32" || base == "f64") {
    const FloatType ft = base == "f32" ? FloatType::kF32 : FloatType::kF64;
    if (!list) {
      auto d = json_double(v);
      if (!d) return bad_element();
      return Value(*d, ft);
    }
    std::vector<double> out;
    for (const Json& e : v) {
      auto d = json_double(e);
      if (!d) return bad_element();
      out.push_back(*d);
    }
    return Value(std::move(out), ft);
  }
  for (const auto& t : kIntTypes) {
    if (base != t.name) continue;
    if (!list) {
      auto i = json_int(v, t);
      if (!i) return bad_element();
      return Value(*i, t.type);
    }
    std::vector<std::int64_t> out;
    for (const Json& e : v) {
      auto i = json_int(e, t);
      if (!i) return bad_element();
      out.push_back(*i);
    }
    return Value(std::move(out), t.type);
  }
  return bad_owf_key(key, "unknown value type \"" + type + "\"");
}

Result<ModelInfo> decode_model_info(std::vector<std::pair<std::string, std::string>> entries) {
  ModelInfo info;
  License license;
  bool has_license = false;
  Provenance& p = info.provenance;
  for (auto& [key, value] : entries) {
    const std::string_view k = key;
    if (k.starts_with(kLicensePrefix)) {
      const std::string_view f = k.substr(kLicensePrefix.size());
      has_license = true;
      if (auto m = string_member(kLicenseStrings, f)) license.*m = std::move(value);
      else if (f == "copyright") {
        OWF_ASSIGN_OR_RETURN(license.copyright, decode_string_list(key, value));
      } else {
        return bad_owf_key(key, "unknown license field");
      }
    } else if (k.starts_with(kProvenancePrefix)) {
      const std::string_view f = k.substr(kProvenancePrefix.size());
      if (auto m = string_member(kProvenanceStrings, f)) p.*m = std::move(value);
      else if (f == "authors") {
        OWF_ASSIGN_OR_RETURN(p.authors, decode_string_list(key, value));
      } else if (f == "base_models") {
        OWF_ASSIGN_OR_RETURN(Json j, parse_json_strict(key, value));
        if (!j.is_array()) return bad_owf_key(key, "value must be a JSON list of {\"name\", \"weights_digest\"} objects");
        for (const Json& e : j) {
          if (!e.is_object() || e.size() != 2 || !e.contains("name") || !e.contains("weights_digest") || !e["name"].is_string() ||
              !e["weights_digest"].is_string())
            return bad_owf_key(key, "value must be a JSON list of {\"name\", \"weights_digest\"} objects");
          BaseModel b;
          b.name = e["name"].get<std::string>();
          auto d = digest_from_hex(e["weights_digest"].get<std::string>());
          if (!d) return bad_owf_key(key, "weights_digest of '" + b.name + "' is not 64 hex digits");
          b.weights_digest = *d;
          p.base_models.push_back(std::move(b));
        }
      } else {
        return bad_owf_key(key, "unknown provenance field");
      }
    } else if (k.starts_with(kHparamPrefix)) {
      const std::string name(k.substr(kHparamPrefix.size()));
      if (auto s = validate_hyperparameter_key(name); !s.ok()) return bad_owf_key(key, s.error().message());
      OWF_ASSIGN_OR_RETURN(Value v, decode_value(key, value));
      info.hyperparameters.emplace(name, std::move(v));
    } else {
      info.metadata.emplace(std::move(key), std::move(value));
    }
  }
  if (has_license) {
    if (license.spdx.empty()) return Error(ErrorCode::kBadLicense, "__metadata__ has owf.license.* keys but no owf.license.spdx");
    OWF_RETURN_IF_ERROR(validate_spdx_expression(license.spdx));
    info.license = std::move(license);
  }
  return info;
}

bool is_mapped_key(std::string_view k) {
  return k.starts_with(kLicensePrefix) || k.starts_with(kProvenancePrefix) || k.starts_with(kHparamPrefix);
}

Result<std::map<std::string, std::string>> encode_model_info(const ModelInfo& info) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : info.metadata) {
    if (is_mapped_key(k))
      return Error(ErrorCode::kBadMetadata, "metadata key '" + k + "' is reserved for OWF model information in safetensors");
    out.emplace(k, v);
  }
  const auto put = [&](const std::string& k, const std::string& v) {
    if (!v.empty()) out[k] = v;
  };
  if (info.license) {
    const License& l = *info.license;
    for (const auto& [name, member] : kLicenseStrings) put(std::string(kLicensePrefix) + std::string(name), l.*member);
    if (!l.copyright.empty()) out["owf.license.copyright"] = json_string_list(l.copyright);
  }
  const Provenance& p = info.provenance;
  for (const auto& [name, member] : kProvenanceStrings) put(std::string(kProvenancePrefix) + std::string(name), p.*member);
  if (!p.authors.empty()) out["owf.provenance.authors"] = json_string_list(p.authors);
  if (!p.base_models.empty()) {
    std::string s = "[";
    for (std::size_t i = 0; i < p.base_models.size(); ++i) {
      if (i) s += ',';
      s += "{\"name\":";
      append_json_string(s, p.base_models[i].name);
      s += ",\"weights_digest\":\"" + to_hex(p.base_models[i].weights_digest) + "\"}";
    }
    out["owf.provenance.base_models"] = s + "]";
  }
  for (const auto& [k, v] : info.hyperparameters) out[std::string(kHparamPrefix) + k] = encode_value(v);
  return out;
}

// ---------------------------------------------------------------------------
// The Source.

class SafetensorsSource final : public Source {
 public:
  SafetensorsSource(FileHandle file, std::uint64_t data_start, std::vector<StTensor> tensors, ModelInfo info)
      : file_(std::move(file)), data_start_(data_start), tensors_(std::move(tensors)), info_(std::move(info)) {
    infos_.reserve(tensors_.size());
    for (const StTensor& t : tensors_) {
      TensorInfo i;
      i.name = t.name;
      i.dtype = t.dtype->dtype;
      i.shape = t.shape;
      i.role = infer_role(t.name);
      i.offset = data_start_ + t.begin;
      i.stored_bytes = i.logical_bytes = t.end - t.begin;
      i.element_count = element_count(t.shape).value();
      infos_.push_back(i);
    }
  }
  Format format() const override { return Format::kSafetensors; }
  std::size_t tensor_count() const override { return infos_.size(); }
  TensorInfo tensor(std::size_t index) const override { return infos_.at(index); }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    if (index >= infos_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
    const TensorInfo& t = infos_[index];
    if (out.size() != t.logical_bytes)
      return Error(ErrorCode::kInvalidArgument, "buffer of " + std::to_string(out.size()) + " bytes for tensor '" +
                                                    std::string(t.name) + "' of " + std::to_string(t.logical_bytes) + " bytes");
    return file_.read_at(t.offset, out);
  }
  // Tensors are plain byte ranges of the file, so a piece costs only itself:
  // converters stream large tensors instead of holding them whole.
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    if (index >= infos_.size()) return Error(ErrorCode::kInvalidArgument, "tensor index out of range");
    const TensorInfo& t = infos_[index];
    if (offset > t.logical_bytes || out.size() > t.logical_bytes - offset)
      return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(t.name) + "': range [" +
                                                    std::to_string(offset) + ", +" + std::to_string(out.size()) +
                                                    ") is outside its " + std::to_string(t.logical_bytes) + " bytes");
    return file_.read_at(t.offset + offset, out);
  }
  bool ranged_reads() const override { return true; }
  const ModelInfo& info() const override { return info_; }

 private:
  FileHandle file_;
  std::uint64_t data_start_;
  std::vector<StTensor> tensors_;
  std::vector<TensorInfo> infos_;
  ModelInfo info_;
};

}  // namespace

Result<std::unique_ptr<Source>> open_safetensors(const std::filesystem::path& path, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(FileHandle file, FileHandle::open(path));
  const std::string where = path.string() + ": ";
  const auto invalid = [&](const std::string& what) { return Error(ErrorCode::kForeignFormatInvalid, where + what); };
  if (file.size() < 8) return Error(ErrorCode::kTruncated, where + "file of " + std::to_string(file.size()) + " bytes is too short for a safetensors header");
  std::array<std::byte, 8> len_bytes;
  OWF_RETURN_IF_ERROR(file.read_at(0, len_bytes));
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint8_t>(len_bytes[static_cast<std::size_t>(i)]);
  if (n > kMaxHeaderBytes)
    return Error(ErrorCode::kLimitExceeded, where + "header length " + std::to_string(n) + " exceeds the limit of " +
                                                std::to_string(kMaxHeaderBytes) + " bytes");
  if (n > limits.max_manifest_bytes)
    return Error(ErrorCode::kLimitExceeded, where + "header length " + std::to_string(n) + " exceeds the manifest limit of " +
                                                std::to_string(limits.max_manifest_bytes) + " bytes");
  if (n > file.size() - 8)
    return Error(ErrorCode::kTruncated, where + "header length " + std::to_string(n) + " runs past the end of the " +
                                            std::to_string(file.size()) + "-byte file");
  if (n == 0) return invalid("empty header");
  std::string text(static_cast<std::size_t>(n), '\0');
  OWF_RETURN_IF_ERROR(file.read_at(8, std::as_writable_bytes(std::span(text))));
  if (const auto bad = find_invalid_utf8(text); bad != std::string_view::npos)
    return Error(ErrorCode::kForeignFormatInvalid, where + "header is not UTF-8 (invalid sequence at file byte " + std::to_string(8 + bad) + ")");
  if (text.front() != '{') return invalid("header does not start with '{'");

  StHeader header;
  {
    HeaderSax sax(limits, header);
    const bool ok = Json::sax_parse(text, &sax, nlohmann::detail::input_format_t::json, /*strict=*/true);
    if (!ok || !sax.error().empty()) {
      const std::string message = sax.error().empty() ? "header is not valid JSON" : sax.error();
      return Error(sax.error_code(), where + message);
    }
  }
  text.clear();
  text.shrink_to_fit();

  const std::uint64_t data_start = 8 + n;
  const std::uint64_t data_size = file.size() - data_start;
  for (StTensor& t : header.tensors) {
    const std::string tn = "tensor '" + t.name + "': ";
    if (t.begin > t.end)
      return invalid(tn + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] has begin > end");
    auto count = element_count(t.shape);
    if (!count.ok()) return invalid(tn + "shape overflows: " + count.error().message());
    if (t.dtype->bits < 8 && *count % (t.dtype->bits == 4 ? 2 : 4) != 0)
      return invalid(tn + std::to_string(*count) + " " + std::string(t.dtype->name) + " elements do not fill whole bytes");
    auto bytes = tensor_byte_size(t.dtype->dtype, t.shape);
    if (!bytes.ok()) return invalid(tn + bytes.error().message());
    if (t.end - t.begin != *bytes)
      return invalid(tn + "data_offsets [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + "] hold " +
                     std::to_string(t.end - t.begin) + " bytes but " + std::string(t.dtype->name) + " x shape needs " +
                     std::to_string(*bytes));
    if (t.end > data_size)
      return Error(ErrorCode::kTruncated, where + tn + "data_offsets end " + std::to_string(t.end) + " (file byte " +
                                              std::to_string(data_start + t.end) + ") is beyond the end of the " +
                                              std::to_string(file.size()) + "-byte file");
  }
  std::stable_sort(header.tensors.begin(), header.tensors.end(), [](const StTensor& a, const StTensor& b) {
    return std::pair(a.begin, a.end) < std::pair(b.begin, b.end);
  });
  std::uint64_t expected = 0;
  const StTensor* previous = nullptr;
  for (const StTensor& t : header.tensors) {
    if (t.begin < expected)
      return invalid("tensor '" + t.name + "' [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ") overlaps tensor '" +
                     previous->name + "' [" + std::to_string(previous->begin) + ", " + std::to_string(previous->end) + ")");
    if (t.begin > expected)
      return invalid("gap of " + std::to_string(t.begin - expected) + " bytes before tensor '" + t.name + "' (data bytes [" +
                     std::to_string(expected) + ", " + std::to_string(t.begin) + ") belong to no tensor)");
    expected = t.end;
    previous = &t;
  }
  if (expected != data_size)
    return invalid("the tensors cover " + std::to_string(expected) + " of the " + std::to_string(data_size) +
                   " data bytes; the file has trailing bytes from byte " + std::to_string(data_start + expected));

  auto info = decode_model_info(std::move(header.metadata));
  if (!info.ok()) return Error(info.code(), where + info.error().message());
  return std::unique_ptr<Source>(
      std::make_unique<SafetensorsSource>(std::move(file), data_start, std::move(header.tensors), std::move(*info)));
}

Status write_safetensors(const Source& source, const std::filesystem::path& path, const OutputOptions& output) {
  struct Item {
    std::size_t index;
    TensorInfo info;
    const StDtype* dtype;
  };
  std::vector<Item> items;
  items.reserve(source.tensor_count());
  std::unordered_set<std::string_view> names;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) {
    const TensorInfo t = source.tensor(i);
    const std::string tn = "tensor '" + std::string(t.name) + "'";
    const StDtype* d = st_dtype_of(t.dtype);
    if (d == nullptr)
      return Error(ErrorCode::kForeignFormatUnsupported,
                   tn + " has dtype " + std::string(dtype_name(t.dtype)) + ", which safetensors cannot store");
    if (t.name == kMetadataKey) return Error(ErrorCode::kForeignFormatUnsupported, tn + ": the name is reserved in safetensors");
    if (!is_valid_utf8(t.name)) return Error(ErrorCode::kBadUtf8, "a tensor name is not UTF-8");
    if (!names.insert(t.name).second) return Error(ErrorCode::kDuplicateTensorName, tn + " appears twice");
    if (d->bits < 8 && (t.element_count % (d->bits == 4 ? 2 : 4)) != 0)
      return Error(ErrorCode::kForeignFormatUnsupported, tn + ": " + std::to_string(t.element_count) + " " +
                                                             std::string(d->name) +
                                                             " elements do not fill whole bytes, which safetensors requires");
    items.push_back({i, t, d});
  }
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.dtype->rank != b.dtype->rank) return a.dtype->rank > b.dtype->rank;
    return a.info.name < b.info.name;
  });

  OWF_ASSIGN_OR_RETURN(auto metadata, encode_model_info(source.info()));
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : metadata) {
      if (!is_valid_utf8(k) || !is_valid_utf8(v)) return Error(ErrorCode::kBadUtf8, "metadata entry '" + k + "' is not UTF-8");
      if (!first) header += ',';
      first = false;
      append_json_string(header, k);
      header += ':';
      append_json_string(header, v);
    }
    header += '}';
  }
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Item& it = items[i];
    if (i > 0 || !metadata.empty()) header += ',';
    append_json_string(header, it.info.name);
    header += ":{\"dtype\":\"";
    header += it.dtype->name;
    header += "\",\"shape\":[";
    for (std::size_t d = 0; d < it.info.shape.size(); ++d) {
      if (d) header += ',';
      header += std::to_string(it.info.shape[d]);
    }
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + it.info.logical_bytes) + "]}";
    offset += it.info.logical_bytes;
  }
  header += '}';
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kMaxHeaderBytes)
    return Error(ErrorCode::kLimitExceeded, "the safetensors header would be " + std::to_string(header.size()) +
                                                " bytes, above the " + std::to_string(kMaxHeaderBytes) + "-byte limit readers enforce");

  OWF_ASSIGN_OR_RETURN(auto out, OutputFile::create(path, output));
  std::array<std::byte, 8> len;
  for (std::size_t i = 0; i < 8; ++i) len[i] = static_cast<std::byte>((header.size() >> (8 * i)) & 0xFF);
  OWF_RETURN_IF_ERROR(out->write(len));
  OWF_RETURN_IF_ERROR(out->write(std::as_bytes(std::span(header))));
  std::vector<std::byte> buffer;
  for (const Item& it : items) {
    buffer.resize(static_cast<std::size_t>(it.info.logical_bytes));
    OWF_RETURN_IF_ERROR(source.read(it.index, buffer));
    OWF_RETURN_IF_ERROR(out->write(buffer));
  }
  return out->finish(true);
}

}  // namespace owf::internal
