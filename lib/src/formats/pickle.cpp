// The data-only pickle interpreter (see pickle.hpp). One loop over opcodes,
// no recursion; every global is resolved against a fixed table of names.
#include "formats/pickle.hpp"

#include <array>
#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

namespace owf::internal::pickle {

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kNone:
      return "None";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kBigInt:
      return "int (over 64 bits)";
    case Kind::kFloat:
      return "float";
    case Kind::kString:
      return "str";
    case Kind::kBytes:
      return "bytes";
    case Kind::kTuple:
      return "tuple";
    case Kind::kList:
      return "list";
    case Kind::kDict:
      return "dict";
    case Kind::kGlobal:
      return "global";
    case Kind::kStorage:
      return "storage";
    case Kind::kTensor:
      return "tensor";
  }
  return "unknown";
}

namespace {

struct StorageName {
  std::string_view name;
  DType dtype;
};
constexpr std::array<StorageName, 12> kStorageTypes{{
    {"FloatStorage", DType::kF32},
    {"DoubleStorage", DType::kF64},
    {"HalfStorage", DType::kF16},
    {"BFloat16Storage", DType::kBF16},
    {"LongStorage", DType::kI64},
    {"IntStorage", DType::kI32},
    {"ShortStorage", DType::kI16},
    {"CharStorage", DType::kI8},
    {"ByteStorage", DType::kU8},
    {"BoolStorage", DType::kBool},
    {"ComplexFloatStorage", DType::kC64},
    {"ComplexDoubleStorage", DType::kC128},
}};

struct DtypeName {
  std::string_view name;
  DType dtype;
};
constexpr std::array<DtypeName, 27> kDtypes{{
    {"float32", DType::kF32},
    {"float", DType::kF32},
    {"float64", DType::kF64},
    {"double", DType::kF64},
    {"float16", DType::kF16},
    {"half", DType::kF16},
    {"bfloat16", DType::kBF16},
    {"int64", DType::kI64},
    {"long", DType::kI64},
    {"int32", DType::kI32},
    {"int", DType::kI32},
    {"int16", DType::kI16},
    {"short", DType::kI16},
    {"int8", DType::kI8},
    {"uint8", DType::kU8},
    {"uint16", DType::kU16},
    {"uint32", DType::kU32},
    {"uint64", DType::kU64},
    {"bool", DType::kBool},
    {"complex64", DType::kC64},
    {"cfloat", DType::kC64},
    {"complex128", DType::kC128},
    {"cdouble", DType::kC128},
    {"float8_e4m3fn", DType::kF8_E4M3FN},
    {"float8_e5m2", DType::kF8_E5M2},
    {"float8_e8m0fnu", DType::kF8_E8M0},
    {"float8_e8m0", DType::kF8_E8M0},
}};

// Real torch dtypes that OWF has no type for: accepted as values, refused
// as tensor element types.
constexpr std::array<std::string_view, 17> kOtherDtypes{
    "complex32", "chalf",    "float8_e4m3fnuz", "float8_e5m2fnuz", "float4_e2m1fn_x2", "qint8",   "quint8",
    "qint32",    "quint4x2", "quint2x4",        "bits8",           "bits16",           "bits1x8", "bits2x4",
    "bits4x2",   "cint",     "float8_e3m4"};

constexpr std::array<std::string_view, 5> kQuantizedStorages{"QInt8Storage", "QUInt8Storage", "QInt32Storage",
                                                             "QUInt4x2Storage", "QUInt2x4Storage"};

Error refused(std::string_view module, std::string_view name, std::uint64_t at) {
  return Error(ErrorCode::kForeignFormatUnsupported,
               "pickle global '" + std::string(module) + "." + std::string(name) + "' at byte " + std::to_string(at) +
                   " is not allowed: only state-dict types are read, nothing is imported or called");
}

Result<Global> resolve_global(std::string_view module, std::string_view name, std::uint64_t at) {
  Global g;
  g.name = std::string(module) + "." + std::string(name);
  if (module == "collections" && name == "OrderedDict") {
    g.id = GlobalId::kOrderedDict;
    return g;
  }
  if (module == "torch._utils") {
    if (name == "_rebuild_tensor")
      g.id = GlobalId::kRebuildTensor;
    else if (name == "_rebuild_tensor_v2")
      g.id = GlobalId::kRebuildTensorV2;
    else if (name == "_rebuild_tensor_v3")
      g.id = GlobalId::kRebuildTensorV3;
    else if (name == "_rebuild_parameter")
      g.id = GlobalId::kRebuildParameter;
    else if (name == "_rebuild_parameter_with_state")
      g.id = GlobalId::kRebuildParameterWithState;
    else
      return refused(module, name, at);
    return g;
  }
  if (module == "torch._tensor" && name == "_rebuild_from_type_v2") {
    g.id = GlobalId::kRebuildFromTypeV2;
    return g;
  }
  if ((module == "torch" && name == "Tensor") || (module == "torch.nn.parameter" && name == "Parameter")) {
    g.id = GlobalId::kTensorType;
    return g;
  }
  if (module == "torch" && name == "Size") {
    g.id = GlobalId::kTorchSize;
    return g;
  }
  if ((module == "torch" || module == "torch.storage") && name == "UntypedStorage") {
    g.id = GlobalId::kStorageType;
    g.untyped = true;
    return g;
  }
  if (module == "torch" || module == "torch.cuda") {
    for (const auto& s : kStorageTypes)
      if (s.name == name) {
        g.id = GlobalId::kStorageType;
        g.dtype = s.dtype;
        return g;
      }
    for (auto q : kQuantizedStorages)
      if (q == name)
        return Error(
            ErrorCode::kForeignFormatUnsupported,
            "pickle global '" + g.name + "' at byte " + std::to_string(at) + ": quantized storages are not supported");
  }
  if (module == "torch") {
    for (const auto& d : kDtypes)
      if (d.name == name) {
        g.id = GlobalId::kDtype;
        g.dtype = d.dtype;
        return g;
      }
    for (auto o : kOtherDtypes)
      if (o == name || (name.starts_with("int") && name.size() == 4 && name[3] >= '1' && name[3] <= '7') ||
          (name.starts_with("uint") && name.size() == 5 && name[4] >= '1' && name[4] <= '7')) {
        g.id = GlobalId::kUnsupportedDtype;
        return g;
      }
  }
  return refused(module, name, at);
}

constexpr std::uint64_t kMaxLine = 1u << 16;  // text-protocol lines (GLOBAL, INT, PUT, ...)

class Interpreter {
 public:
  Interpreter(Pickle& p, std::span<const std::byte> in, const PickleLimits& limits, std::uint64_t base)
      : p_(p), in_(in), limits_(limits), base_(base) {}

  Result<ObjectId> run(std::uint64_t& consumed);

 private:
  // --- errors -----------------------------------------------------------
  std::string where() const {
    char op[8];
    const unsigned char c = op_;
    if (c >= 0x20 && c < 0x7f)
      std::snprintf(op, sizeof op, " '%c'", c);
    else
      op[0] = '\0';
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", c);
    return " (opcode " + std::string(hex) + op + " at byte " + std::to_string(base_ + op_pos_) + ")";
  }
  Error invalid(const std::string& what) const {
    return Error(ErrorCode::kForeignFormatInvalid, "pickle: " + what + where());
  }
  Error unsupported(const std::string& what) const {
    return Error(ErrorCode::kForeignFormatUnsupported, "pickle: " + what + where());
  }
  Error limit(const std::string& what) const { return Error(ErrorCode::kLimitExceeded, "pickle: " + what + where()); }

  // --- input ------------------------------------------------------------
  std::uint64_t remaining() const { return in_.size() - pos_; }
  Status need(std::uint64_t n) const {
    if (n > remaining())
      return invalid("truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(remaining()) + " left");
    return {};
  }
  template <class T>
  Result<T> le() {
    OWF_RETURN_IF_ERROR(need(sizeof(T)));
    T v{};
    for (std::size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<T>(static_cast<T>(std::to_integer<unsigned char>(in_[pos_ + i])) << (8 * i));
    pos_ += sizeof(T);
    return v;
  }
  Result<std::string_view> bytes(std::uint64_t n) {
    OWF_RETURN_IF_ERROR(need(n));
    if (n > limits_.max_string_bytes)
      return limit("string of " + std::to_string(n) + " bytes exceeds the limit of " +
                   std::to_string(limits_.max_string_bytes));
    std::string_view s(reinterpret_cast<const char*>(in_.data()) + pos_, static_cast<std::size_t>(n));
    pos_ += n;
    return s;
  }
  Result<std::string_view> line(std::uint64_t max = kMaxLine) {
    const auto* begin = reinterpret_cast<const char*>(in_.data()) + pos_;
    const std::uint64_t avail = remaining();
    const auto* nl =
        static_cast<const char*>(std::memchr(begin, '\n', static_cast<std::size_t>(std::min(avail, max + 1))));
    if (!nl) {
      if (avail <= max) return invalid("truncated: line without its newline");
      return limit("text line longer than " + std::to_string(max) + " bytes");
    }
    std::string_view s(begin, static_cast<std::size_t>(nl - begin));
    pos_ += s.size() + 1;
    return s;
  }

  // --- arena ------------------------------------------------------------
  Result<ObjectId> make(Kind kind, std::uint32_t aux = 0, std::int64_t i = 0, double f = 0) {
    if (p_.objects.size() >= limits_.max_objects)
      return limit("more than " + std::to_string(limits_.max_objects) + " objects");
    p_.objects.push_back(Object{kind, aux, i, f});
    return static_cast<ObjectId>(p_.objects.size() - 1);
  }
  Result<ObjectId> make_text(Kind kind, std::string s) {
    p_.texts.push_back(std::move(s));
    return make(kind, static_cast<std::uint32_t>(p_.texts.size() - 1));
  }
  Result<ObjectId> make_sequence(Kind kind, std::vector<ObjectId> items) {
    p_.sequences.push_back(std::move(items));
    return make(kind, static_cast<std::uint32_t>(p_.sequences.size() - 1));
  }
  // A length-prefixed string or bytes opcode: the length is a little-endian Len.
  template <class Len>
  Status sized_text(Kind kind) {
    OWF_ASSIGN_OR_RETURN(Len n, le<Len>());
    OWF_ASSIGN_OR_RETURN(std::string_view s, bytes(n));
    return push(make_text(kind, std::string(s)));
  }
  // BINPUT/LONG_BINPUT/BINGET/LONG_BINGET: the index is a little-endian Index.
  template <class Index>
  Status memo_op(bool put) {
    OWF_ASSIGN_OR_RETURN(Index i, le<Index>());
    return put ? memo_put(i) : memo_get(i);
  }
  Result<ObjectId> make_dict() {
    p_.dicts.emplace_back();
    return make(Kind::kDict, static_cast<std::uint32_t>(p_.dicts.size() - 1));
  }

  // --- stack ------------------------------------------------------------
  Status push(ObjectId id) {
    if (stack_.size() >= limits_.max_stack)
      return limit("stack deeper than " + std::to_string(limits_.max_stack) + " values");
    stack_.push_back(id);
    return {};
  }
  Status push(Result<ObjectId> r) {
    if (!r.ok()) return r.error();
    return push(*r);
  }
  Result<ObjectId> pop() {
    if (stack_.size() <= floor())
      return invalid(stack_.empty() ? "stack underflow" : "stack underflow (value expected above MARK)");
    const ObjectId id = stack_.back();
    stack_.pop_back();
    return id;
  }
  Result<ObjectId> top() const {
    if (stack_.size() <= floor()) return invalid("stack underflow");
    return stack_.back();
  }
  std::size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  Result<std::vector<ObjectId>> pop_mark() {
    if (marks_.empty()) return invalid("no MARK to pop to");
    const std::size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ObjectId> items(stack_.begin() + static_cast<std::ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  // --- memo -------------------------------------------------------------
  Status memo_put(std::uint64_t index) {
    OWF_ASSIGN_OR_RETURN(ObjectId id, top());
    if (memo_.size() >= limits_.max_memo && !memo_.contains(index))
      return limit("memo larger than " + std::to_string(limits_.max_memo) + " entries");
    memo_[index] = id;
    return {};
  }
  Status memo_get(std::uint64_t index) {
    auto it = memo_.find(index);
    if (it == memo_.end())
      return invalid("memo index " + std::to_string(index) + " out of range (" + std::to_string(memo_.size()) +
                     " entries)");
    return push(it->second);
  }

  // --- values -----------------------------------------------------------
  Result<std::int64_t> as_int(ObjectId id, std::string_view what) const {
    const Object& o = p_.at(id);
    if (o.kind == Kind::kInt || o.kind == Kind::kBool) return o.i;
    return invalid(std::string(what) + " is a " + std::string(kind_name(o.kind)) + ", not an int");
  }
  Result<std::uint64_t> as_size(ObjectId id, std::string_view what) const {
    OWF_ASSIGN_OR_RETURN(std::int64_t v, as_int(id, what));
    if (v < 0) return invalid(std::string(what) + " is negative (" + std::to_string(v) + ")");
    return static_cast<std::uint64_t>(v);
  }
  Result<std::vector<std::uint64_t>> as_sizes(ObjectId id, std::string_view what) const {
    const Kind k = p_.kind(id);
    if (k != Kind::kTuple && k != Kind::kList)
      return invalid(std::string(what) + " is a " + std::string(kind_name(k)) + ", not a tuple");
    const auto& items = p_.sequence(id);
    if (items.size() > limits_.max_rank)
      return limit(std::string(what) + " has " + std::to_string(items.size()) + " dimensions, over the limit of " +
                   std::to_string(limits_.max_rank));
    std::vector<std::uint64_t> out;
    out.reserve(items.size());
    for (std::size_t i = 0; i < items.size(); ++i) {
      OWF_ASSIGN_OR_RETURN(std::uint64_t v, as_size(items[i], std::string(what) + "[" + std::to_string(i) + "]"));
      out.push_back(v);
    }
    return out;
  }
  Result<std::string> as_key(ObjectId id, std::string_view what) const {
    const Object& o = p_.at(id);
    if (o.kind == Kind::kString) return p_.text(id);
    if (o.kind == Kind::kInt) return std::to_string(o.i);
    return invalid(std::string(what) + " is a " + std::string(kind_name(o.kind)) + ", not a str");
  }

  // --- opcode bodies ----------------------------------------------------
  Result<ObjectId> persistent_load(ObjectId pid);
  Result<ObjectId> reduce(ObjectId callable, ObjectId args, int depth = 0);
  Result<ObjectId> rebuild_tensor(GlobalId which, const std::vector<ObjectId>& args);
  Status check_state_has_no_tensor(ObjectId state, std::string_view what) const;
  Result<ObjectId> global(std::string_view module, std::string_view name) {
    OWF_ASSIGN_OR_RETURN(Global g, resolve_global(module, name, base_ + op_pos_));
    p_.globals.push_back(std::move(g));
    return make(Kind::kGlobal, static_cast<std::uint32_t>(p_.globals.size() - 1));
  }
  Result<ObjectId> text_int(std::string_view s, bool is_long);
  Result<ObjectId> long_bytes(std::string_view s);
  Result<std::string> unescape_string(std::string_view quoted) const;
  Result<std::string> raw_unicode_escape(std::string_view s) const;

  Pickle& p_;
  std::span<const std::byte> in_;
  const PickleLimits& limits_;
  std::uint64_t base_;
  std::uint64_t pos_ = 0;
  std::uint64_t op_pos_ = 0;
  std::uint8_t op_ = 0;
  std::vector<ObjectId> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ObjectId> memo_;
};

Result<ObjectId> Interpreter::text_int(std::string_view s, bool is_long) {
  if (is_long && !s.empty() && s.back() == 'L') s.remove_suffix(1);
  if (!is_long && s == "00") return make(Kind::kBool, 0, 0);
  if (!is_long && s == "01") return make(Kind::kBool, 0, 1);
  std::int64_t v = 0;
  std::string_view digits = s;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range) return unsupported("integer literal over 64 bits");
  if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty())
    return invalid("bad integer literal '" + std::string(s.substr(0, 40)) + "'");
  return make(Kind::kInt, 0, v);
}

Result<ObjectId> Interpreter::long_bytes(std::string_view s) {
  if (s.empty()) return make(Kind::kInt, 0, 0);
  if (s.size() <= 8) {
    std::uint64_t u = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
      u |= static_cast<std::uint64_t>(static_cast<unsigned char>(s[i])) << (8 * i);
    if (s.size() < 8 && (static_cast<unsigned char>(s.back()) & 0x80)) u |= ~0ull << (8 * s.size());  // sign-extend
    return make(Kind::kInt, 0, static_cast<std::int64_t>(u));
  }
  return make_text(Kind::kBigInt, std::string(s));
}

Result<std::string> Interpreter::unescape_string(std::string_view q) const {
  if (q.size() < 2 || (q.front() != '\'' && q.front() != '"') || q.back() != q.front())
    return invalid("STRING argument is not a quoted literal");
  q = q.substr(1, q.size() - 2);
  std::string out;
  out.reserve(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (q[i] != '\\') {
      out.push_back(q[i]);
      continue;
    }
    if (++i >= q.size()) return invalid("STRING literal ends in a backslash");
    const char c = q[i];
    switch (c) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'x': {
        if (i + 2 >= q.size()) return invalid("bad \\x escape in STRING");
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(q.data() + i + 1, q.data() + std::min(q.size(), i + 3), v, 16);
        if (ec != std::errc() || ptr != q.data() + i + 3) return invalid("bad \\x escape in STRING");
        out.push_back(static_cast<char>(v));
        i += 2;
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          unsigned v = 0;
          std::size_t n = 0;
          while (n < 3 && i + n < q.size() && q[i + n] >= '0' && q[i + n] <= '7') v = v * 8 + (q[i + n++] - '0');
          out.push_back(static_cast<char>(v & 0xFF));
          i += n - 1;
        } else {
          out.push_back('\\');
          out.push_back(c);
        }
    }
  }
  return out;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

Result<std::string> Interpreter::raw_unicode_escape(std::string_view s) const {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
      const std::size_t n = s[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n > s.size()) return invalid("bad \\u escape in UNICODE");
      std::uint32_t cp = 0;
      auto [ptr, ec] = std::from_chars(s.data() + i + 2, s.data() + i + 2 + n, cp, 16);
      if (ec != std::errc() || ptr != s.data() + i + 2 + n || cp > 0x10FFFF)
        return invalid("bad \\u escape in UNICODE");
      append_utf8(out, cp);
      i += 1 + n;
    } else {
      append_utf8(out, static_cast<unsigned char>(s[i]));  // latin-1
    }
  }
  return out;
}

Result<ObjectId> Interpreter::persistent_load(ObjectId pid) {
  if (p_.kind(pid) != Kind::kTuple)
    return unsupported("persistent id is a " + std::string(kind_name(p_.kind(pid))) +
                       ", not a ('storage', type, key, location, numel) tuple");
  const auto items = p_.sequence(pid);
  if (items.size() != 5 && items.size() != 6)
    return unsupported("persistent id tuple has " + std::to_string(items.size()) + " items, not 5 or 6");
  if (p_.kind(items[0]) != Kind::kString || p_.text(items[0]) != "storage")
    return unsupported("persistent id does not name a storage");
  if (p_.kind(items[1]) != Kind::kGlobal || p_.global(items[1]).id != GlobalId::kStorageType)
    return invalid("persistent id: the storage type is not a torch storage class");
  const Global type = p_.global(items[1]);
  OWF_ASSIGN_OR_RETURN(std::string key, as_key(items[2], "storage key"));
  if (key.empty() || key.size() > 1024) return invalid("storage key is empty or longer than 1024 bytes");
  std::string location;
  if (p_.kind(items[3]) == Kind::kString) location = p_.text(items[3]);
  OWF_ASSIGN_OR_RETURN(std::uint64_t numel, as_size(items[4], "storage size"));

  std::uint32_t index;
  if (auto it = p_.storage_by_key.find(key); it != p_.storage_by_key.end()) {
    index = it->second;
    const Storage& s = p_.storages[index];
    if (s.dtype != type.dtype || s.untyped != type.untyped || s.numel != numel)
      return invalid("storage '" + key + "' is declared twice with different types or sizes");
  } else {
    if (p_.storages.size() >= limits_.max_objects) return limit("too many storages");
    index = static_cast<std::uint32_t>(p_.storages.size());
    p_.storages.push_back(Storage{key, type.dtype, type.untyped, numel, location});
    p_.storage_by_key.emplace(key, index);
  }
  // Legacy streams: (view_key, offset, view_size) names a slice of the storage.
  std::uint64_t view_offset = 0;
  std::uint64_t view_size = numel;
  if (items.size() == 6 && p_.kind(items[5]) != Kind::kNone) {
    if (p_.kind(items[5]) != Kind::kTuple || p_.sequence(items[5]).size() != 3)
      return invalid("storage view metadata is not a (key, offset, size) tuple");
    const auto& view = p_.sequence(items[5]);
    OWF_ASSIGN_OR_RETURN(view_offset, as_size(view[1], "storage view offset"));
    OWF_ASSIGN_OR_RETURN(view_size, as_size(view[2], "storage view size"));
    if (view_offset > numel || view_size > numel - view_offset)
      return invalid("storage view [" + std::to_string(view_offset) + ", +" + std::to_string(view_size) +
                     ") lies outside storage '" + key + "' of " + std::to_string(numel) + " elements");
  }
  const auto elsize = dtype_info(type.dtype)->block_bytes;
  if (numel > std::numeric_limits<std::uint64_t>::max() / elsize)
    return invalid("storage '" + key + "' size overflows 64 bits");
  p_.views.push_back(StorageView{index, view_offset, view_size});
  return make(Kind::kStorage, static_cast<std::uint32_t>(p_.views.size() - 1));
}

Status Interpreter::check_state_has_no_tensor(ObjectId state, std::string_view what) const {
  const Kind k = p_.kind(state);
  auto check = [&](ObjectId v) -> Status {
    if (p_.kind(v) == Kind::kTensor || p_.kind(v) == Kind::kStorage)
      return unsupported(std::string(what) + " carries tensors in its Python state");
    return {};
  };
  if (k == Kind::kDict) {
    for (const auto& [key, v] : p_.dict(state)) OWF_RETURN_IF_ERROR(check(v));
  } else if (k == Kind::kTuple || k == Kind::kList) {
    for (ObjectId v : p_.sequence(state)) {
      OWF_RETURN_IF_ERROR(check(v));
      if (p_.kind(v) == Kind::kDict)
        for (const auto& [key, w] : p_.dict(v)) OWF_RETURN_IF_ERROR(check(w));
    }
  } else {
    OWF_RETURN_IF_ERROR(check(state));
  }
  return {};
}

Result<ObjectId> Interpreter::rebuild_tensor(GlobalId which, const std::vector<ObjectId>& args) {
  const char* fn = which == GlobalId::kRebuildTensor     ? "_rebuild_tensor"
                   : which == GlobalId::kRebuildTensorV2 ? "_rebuild_tensor_v2"
                                                         : "_rebuild_tensor_v3";
  const std::size_t n = args.size();
  const bool count_ok = which == GlobalId::kRebuildTensor     ? n == 4
                        : which == GlobalId::kRebuildTensorV2 ? (n == 6 || n == 7)
                                                              : (n == 7 || n == 8);
  if (!count_ok) return invalid(std::string(fn) + " called with " + std::to_string(n) + " arguments");
  if (p_.kind(args[0]) != Kind::kStorage)
    return invalid(std::string(fn) + ": first argument is a " + std::string(kind_name(p_.kind(args[0]))) +
                   ", not a storage");
  const StorageView view = p_.views[p_.at(args[0]).aux];
  const Storage& storage = p_.storages[view.storage];
  const std::uint64_t view_offset = view.offset;
  const std::uint64_t view_size = view.size;

  Tensor t;
  t.storage = view.storage;
  t.dtype = storage.dtype;
  if (which == GlobalId::kRebuildTensorV3) {
    if (p_.kind(args[6]) != Kind::kGlobal) return invalid("_rebuild_tensor_v3: dtype argument is not a torch dtype");
    const Global& g = p_.global(args[6]);
    if (g.id == GlobalId::kUnsupportedDtype) return unsupported("tensor dtype " + g.name + " has no OWF equivalent");
    if (g.id != GlobalId::kDtype) return invalid("_rebuild_tensor_v3: dtype argument " + g.name + " is not a dtype");
    if (!storage.untyped && storage.dtype != g.dtype)
      return invalid("_rebuild_tensor_v3: dtype " + g.name + " disagrees with the typed storage '" + storage.key + "'");
    t.dtype = g.dtype;
  }
  const auto info = dtype_info(t.dtype);
  if (!info || info->block_elements != 1) return unsupported("tensor dtype is not a whole-byte type");
  const std::uint64_t elsize = info->block_bytes;

  OWF_ASSIGN_OR_RETURN(std::uint64_t offset, as_size(args[1], "storage_offset"));
  OWF_ASSIGN_OR_RETURN(t.shape, as_sizes(args[2], "size"));
  OWF_ASSIGN_OR_RETURN(t.stride, as_sizes(args[3], "stride"));
  if (t.shape.size() != t.stride.size())
    return invalid("size has " + std::to_string(t.shape.size()) + " dimensions but stride has " +
                   std::to_string(t.stride.size()));

  // Bytes of the storage this tensor may address: the view (legacy) or all.
  std::uint64_t storage_bytes;
  std::uint64_t base_bytes;
  {
    const auto sinfo = dtype_info(storage.dtype);
    const std::uint64_t selsize = sinfo->block_bytes;
    if (view_size > storage.numel || view_offset > storage.numel - view_size)
      return invalid("storage view outside storage '" + storage.key + "'");
    storage_bytes = view_size * selsize;  // numel * elsize was checked when the storage was attached
    base_bytes = view_offset * selsize;
    if (selsize != 0 && storage_bytes / selsize != view_size) return invalid("storage size overflows");
  }
  std::uint64_t numel = 1;
  std::uint64_t last = offset;  // highest element index addressed
  for (std::size_t d = 0; d < t.shape.size(); ++d) {
    if (t.shape[d] != 0 && numel > std::numeric_limits<std::uint64_t>::max() / t.shape[d])
      return invalid("tensor element count overflows 64 bits");
    numel *= t.shape[d];
  }
  if (numel != 0) {
    for (std::size_t d = 0; d < t.shape.size(); ++d) {
      const std::uint64_t extent = t.shape[d] - 1;
      if (t.stride[d] != 0 && extent > (std::numeric_limits<std::uint64_t>::max() - last) / t.stride[d])
        return invalid("tensor extent overflows 64 bits");
      last += extent * t.stride[d];
    }
    if (last >= std::numeric_limits<std::uint64_t>::max() / elsize || (last + 1) * elsize > storage_bytes)
      return invalid("tensor addresses element " + std::to_string(last) + " (" + std::to_string(elsize) +
                     "-byte elements) beyond storage '" + storage.key + "' of " + std::to_string(storage_bytes) +
                     " bytes");
  }
  if (base_bytes % elsize != 0) return invalid("storage view offset is not a whole number of elements");
  t.offset = offset + base_bytes / elsize;
  t.numel = numel;
  p_.tensors.push_back(std::move(t));
  return make(Kind::kTensor, static_cast<std::uint32_t>(p_.tensors.size() - 1));
}

Result<ObjectId> Interpreter::reduce(ObjectId callable, ObjectId args_id, int depth) {
  if (p_.kind(callable) != Kind::kGlobal)
    return unsupported("REDUCE of a " + std::string(kind_name(p_.kind(callable))) + " (only known torch callables)");
  if (p_.kind(args_id) != Kind::kTuple)
    return invalid("REDUCE arguments are a " + std::string(kind_name(p_.kind(args_id))) + ", not a tuple");
  const Global g = p_.global(callable);
  const std::vector<ObjectId> args = p_.sequence(args_id);
  switch (g.id) {
    case GlobalId::kOrderedDict: {
      OWF_ASSIGN_OR_RETURN(ObjectId d, make_dict());
      if (args.empty()) return d;
      if (args.size() == 1 && (p_.kind(args[0]) == Kind::kList || p_.kind(args[0]) == Kind::kTuple)) {
        auto& pairs = p_.dicts[p_.at(d).aux];
        for (ObjectId item : p_.sequence(args[0])) {
          const Kind k = p_.kind(item);
          if ((k != Kind::kTuple && k != Kind::kList) || p_.sequence(item).size() != 2)
            return invalid("OrderedDict argument is not a sequence of pairs");
          pairs.emplace_back(p_.sequence(item)[0], p_.sequence(item)[1]);
        }
        return d;
      }
      return invalid("OrderedDict called with unexpected arguments");
    }
    case GlobalId::kTorchSize: {
      if (args.size() != 1) return invalid("torch.Size called with " + std::to_string(args.size()) + " arguments");
      OWF_RETURN_IF_ERROR(as_sizes(args[0], "torch.Size argument").status());
      std::vector<ObjectId> items = p_.sequence(args[0]);
      return make_sequence(Kind::kTuple, std::move(items));
    }
    case GlobalId::kRebuildTensor:
    case GlobalId::kRebuildTensorV2:
    case GlobalId::kRebuildTensorV3:
      return rebuild_tensor(g.id, args);
    case GlobalId::kRebuildParameter:
    case GlobalId::kRebuildParameterWithState: {
      const std::size_t want = g.id == GlobalId::kRebuildParameter ? 3 : 4;
      if (args.size() != want) return invalid(g.name + " called with " + std::to_string(args.size()) + " arguments");
      if (p_.kind(args[0]) != Kind::kTensor) return invalid(g.name + ": data is not a tensor");
      if (want == 4) OWF_RETURN_IF_ERROR(check_state_has_no_tensor(args[3], "parameter"));
      return args[0];
    }
    case GlobalId::kRebuildFromTypeV2: {
      if (depth > 0) return unsupported("nested _rebuild_from_type_v2");
      if (args.size() != 4) return invalid(g.name + " called with " + std::to_string(args.size()) + " arguments");
      if (p_.kind(args[1]) != Kind::kGlobal || p_.global(args[1]).id != GlobalId::kTensorType)
        return unsupported(g.name + ": tensor subclass is not torch.Tensor or torch.nn.parameter.Parameter");
      if (p_.kind(args[0]) != Kind::kGlobal) return invalid(g.name + ": function is not a torch rebuild function");
      const GlobalId f = p_.global(args[0]).id;
      if (f != GlobalId::kRebuildTensor && f != GlobalId::kRebuildTensorV2 && f != GlobalId::kRebuildTensorV3 &&
          f != GlobalId::kRebuildParameter && f != GlobalId::kRebuildParameterWithState)
        return unsupported(g.name + ": function " + p_.global(args[0]).name + " is not a tensor rebuild function");
      OWF_RETURN_IF_ERROR(check_state_has_no_tensor(args[3], "tensor"));
      return reduce(args[0], args[2], depth + 1);
    }
    case GlobalId::kTensorType:
    case GlobalId::kStorageType:
    case GlobalId::kDtype:
    case GlobalId::kUnsupportedDtype:
      break;
  }
  return unsupported("calling " + g.name + " is not supported");
}

Result<ObjectId> Interpreter::run(std::uint64_t& consumed) {
  for (;;) {
    if (pos_ >= in_.size()) {
      op_pos_ = pos_;
      op_ = 0;
      return invalid("truncated: pickle ends before its STOP opcode");
    }
    op_pos_ = pos_;
    op_ = std::to_integer<std::uint8_t>(in_[pos_++]);
    switch (op_) {
      case 0x80: {  // PROTO
        OWF_ASSIGN_OR_RETURN(std::uint8_t v, le<std::uint8_t>());
        if (v > 5) return unsupported("pickle protocol " + std::to_string(v));
        break;
      }
      case 0x95: {  // FRAME: a length prefix only
        OWF_ASSIGN_OR_RETURN(std::uint64_t n, le<std::uint64_t>());
        if (n > remaining()) return invalid("truncated: frame of " + std::to_string(n) + " bytes");
        break;
      }
      case '.': {  // STOP
        OWF_ASSIGN_OR_RETURN(ObjectId root, pop());
        consumed = pos_;
        return root;
      }
      case '(':  // MARK
        if (marks_.size() >= limits_.max_mark_depth)
          return limit("nesting deeper than " + std::to_string(limits_.max_mark_depth) + " MARKs");
        marks_.push_back(stack_.size());
        break;
      case '0':
        OWF_RETURN_IF_ERROR(pop().status());
        break;  // POP
      case '1':
        OWF_RETURN_IF_ERROR(pop_mark().status());
        break;     // POP_MARK
      case '2': {  // DUP
        OWF_ASSIGN_OR_RETURN(ObjectId v, top());
        OWF_RETURN_IF_ERROR(push(v));
        break;
      }
      // --- constants and numbers ---
      case 'N':
        OWF_RETURN_IF_ERROR(push(make(Kind::kNone)));
        break;
      case 0x88:
        OWF_RETURN_IF_ERROR(push(make(Kind::kBool, 0, 1)));
        break;  // NEWTRUE
      case 0x89:
        OWF_RETURN_IF_ERROR(push(make(Kind::kBool, 0, 0)));
        break;     // NEWFALSE
      case 'J': {  // BININT
        OWF_ASSIGN_OR_RETURN(std::uint32_t v, le<std::uint32_t>());
        OWF_RETURN_IF_ERROR(push(make(Kind::kInt, 0, static_cast<std::int32_t>(v))));
        break;
      }
      case 'K': {  // BININT1
        OWF_ASSIGN_OR_RETURN(std::uint8_t v, le<std::uint8_t>());
        OWF_RETURN_IF_ERROR(push(make(Kind::kInt, 0, v)));
        break;
      }
      case 'M': {  // BININT2
        OWF_ASSIGN_OR_RETURN(std::uint16_t v, le<std::uint16_t>());
        OWF_RETURN_IF_ERROR(push(make(Kind::kInt, 0, v)));
        break;
      }
      case 0x8a: {  // LONG1
        OWF_ASSIGN_OR_RETURN(std::uint8_t n, le<std::uint8_t>());
        OWF_ASSIGN_OR_RETURN(std::string_view s, bytes(n));
        OWF_RETURN_IF_ERROR(push(long_bytes(s)));
        break;
      }
      case 0x8b: {  // LONG4
        OWF_ASSIGN_OR_RETURN(std::uint32_t n, le<std::uint32_t>());
        if (n > 0x7fffffffu) return invalid("LONG4 with a negative length");
        OWF_ASSIGN_OR_RETURN(std::string_view s, bytes(n));
        OWF_RETURN_IF_ERROR(push(long_bytes(s)));
        break;
      }
      case 'I':    // INT
      case 'L': {  // LONG
        OWF_ASSIGN_OR_RETURN(std::string_view s, line());
        OWF_RETURN_IF_ERROR(push(text_int(s, op_ == 'L')));
        break;
      }
      case 'G': {  // BINFLOAT: big-endian IEEE double
        OWF_RETURN_IF_ERROR(need(8));
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits = (bits << 8) | std::to_integer<std::uint8_t>(in_[pos_ + i]);
        pos_ += 8;
        OWF_RETURN_IF_ERROR(push(make(Kind::kFloat, 0, 0, std::bit_cast<double>(bits))));
        break;
      }
      case 'F': {  // FLOAT
        OWF_ASSIGN_OR_RETURN(std::string_view s, line());
        double v = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (ec != std::errc() || ptr != s.data() + s.size()) return invalid("bad float literal");
        OWF_RETURN_IF_ERROR(push(make(Kind::kFloat, 0, 0, v)));
        break;
      }
      // --- strings and bytes ---
      case 'X':
        OWF_RETURN_IF_ERROR(sized_text<std::uint32_t>(Kind::kString));
        break;  // BINUNICODE
      case 0x8c:
        OWF_RETURN_IF_ERROR(sized_text<std::uint8_t>(Kind::kString));
        break;  // SHORT_BINUNICODE
      case 0x8d:
        OWF_RETURN_IF_ERROR(sized_text<std::uint64_t>(Kind::kString));
        break;  // BINUNICODE8
      case 'T':
        OWF_RETURN_IF_ERROR(sized_text<std::uint32_t>(Kind::kString));
        break;  // BINSTRING (Python 2 str; torch.load decodes it as UTF-8)
      case 'U':
        OWF_RETURN_IF_ERROR(sized_text<std::uint8_t>(Kind::kString));
        break;     // SHORT_BINSTRING
      case 'S': {  // STRING
        OWF_ASSIGN_OR_RETURN(std::string_view s, line(limits_.max_string_bytes));
        OWF_ASSIGN_OR_RETURN(std::string v, unescape_string(s));
        OWF_RETURN_IF_ERROR(push(make_text(Kind::kString, std::move(v))));
        break;
      }
      case 'V': {  // UNICODE (raw-unicode-escape)
        OWF_ASSIGN_OR_RETURN(std::string_view s, line(limits_.max_string_bytes));
        OWF_ASSIGN_OR_RETURN(std::string v, raw_unicode_escape(s));
        OWF_RETURN_IF_ERROR(push(make_text(Kind::kString, std::move(v))));
        break;
      }
      case 'B':
        OWF_RETURN_IF_ERROR(sized_text<std::uint32_t>(Kind::kBytes));
        break;  // BINBYTES
      case 'C':
        OWF_RETURN_IF_ERROR(sized_text<std::uint8_t>(Kind::kBytes));
        break;    // SHORT_BINBYTES
      case 0x8e:  // BINBYTES8
      case 0x96:
        OWF_RETURN_IF_ERROR(sized_text<std::uint64_t>(Kind::kBytes));
        break;  // BYTEARRAY8
      // --- containers ---
      case ')':
        OWF_RETURN_IF_ERROR(push(make_sequence(Kind::kTuple, {})));
        break;  // EMPTY_TUPLE
      case ']':
        OWF_RETURN_IF_ERROR(push(make_sequence(Kind::kList, {})));
        break;  // EMPTY_LIST
      case 0x8f:
        OWF_RETURN_IF_ERROR(push(make_sequence(Kind::kList, {})));
        break;  // EMPTY_SET
      case '}':
        OWF_RETURN_IF_ERROR(push(make_dict()));
        break;      // EMPTY_DICT
      case 0x85:    // TUPLE1
      case 0x86:    // TUPLE2
      case 0x87: {  // TUPLE3
        const std::size_t n = op_ - 0x84u;
        std::vector<ObjectId> items(n);
        for (std::size_t i = n; i-- > 0;) {
          OWF_ASSIGN_OR_RETURN(items[i], pop());
        }
        OWF_RETURN_IF_ERROR(push(make_sequence(Kind::kTuple, std::move(items))));
        break;
      }
      case 't': {  // TUPLE
        OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
        OWF_RETURN_IF_ERROR(push(make_sequence(Kind::kTuple, std::move(items))));
        break;
      }
      case 'l':     // LIST
      case 0x91: {  // FROZENSET
        OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
        OWF_RETURN_IF_ERROR(push(make_sequence(Kind::kList, std::move(items))));
        break;
      }
      case 'd': {  // DICT
        OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
        if (items.size() % 2 != 0) return invalid("DICT with an odd number of items");
        OWF_ASSIGN_OR_RETURN(ObjectId d, make_dict());
        auto& pairs = p_.dicts[p_.at(d).aux];
        for (std::size_t i = 0; i < items.size(); i += 2) pairs.emplace_back(items[i], items[i + 1]);
        OWF_RETURN_IF_ERROR(push(d));
        break;
      }
      case 'a': {  // APPEND
        OWF_ASSIGN_OR_RETURN(ObjectId v, pop());
        OWF_ASSIGN_OR_RETURN(ObjectId list, top());
        if (p_.kind(list) != Kind::kList) return unsupported("APPEND to a " + std::string(kind_name(p_.kind(list))));
        p_.sequences[p_.at(list).aux].push_back(v);
        break;
      }
      case 'e':     // APPENDS
      case 0x90: {  // ADDITEMS
        OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
        OWF_ASSIGN_OR_RETURN(ObjectId list, top());
        if (p_.kind(list) != Kind::kList) return unsupported("APPENDS to a " + std::string(kind_name(p_.kind(list))));
        auto& seq = p_.sequences[p_.at(list).aux];
        seq.insert(seq.end(), items.begin(), items.end());
        break;
      }
      case 's': {  // SETITEM
        OWF_ASSIGN_OR_RETURN(ObjectId v, pop());
        OWF_ASSIGN_OR_RETURN(ObjectId k, pop());
        OWF_ASSIGN_OR_RETURN(ObjectId d, top());
        if (p_.kind(d) != Kind::kDict) return unsupported("SETITEM on a " + std::string(kind_name(p_.kind(d))));
        p_.dicts[p_.at(d).aux].emplace_back(k, v);
        break;
      }
      case 'u': {  // SETITEMS
        OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
        if (items.size() % 2 != 0) return invalid("SETITEMS with an odd number of items");
        OWF_ASSIGN_OR_RETURN(ObjectId d, top());
        if (p_.kind(d) != Kind::kDict) return unsupported("SETITEMS on a " + std::string(kind_name(p_.kind(d))));
        auto& pairs = p_.dicts[p_.at(d).aux];
        for (std::size_t i = 0; i < items.size(); i += 2) pairs.emplace_back(items[i], items[i + 1]);
        break;
      }
      // --- memo ---
      case 'q':
        OWF_RETURN_IF_ERROR(memo_op<std::uint8_t>(true));
        break;  // BINPUT
      case 'r':
        OWF_RETURN_IF_ERROR(memo_op<std::uint32_t>(true));
        break;  // LONG_BINPUT
      case 0x94:
        OWF_RETURN_IF_ERROR(memo_put(memo_.size()));
        break;     // MEMOIZE
      case 'p':    // PUT
      case 'g': {  // GET
        OWF_ASSIGN_OR_RETURN(std::string_view s, line());
        std::uint64_t i = 0;
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
        if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return invalid("bad memo index");
        OWF_RETURN_IF_ERROR(op_ == 'p' ? memo_put(i) : memo_get(i));
        break;
      }
      case 'h':
        OWF_RETURN_IF_ERROR(memo_op<std::uint8_t>(false));
        break;  // BINGET
      case 'j':
        OWF_RETURN_IF_ERROR(memo_op<std::uint32_t>(false));
        break;  // LONG_BINGET
      // --- globals and calls ---
      case 'c': {  // GLOBAL
        OWF_ASSIGN_OR_RETURN(std::string_view module, line());
        OWF_ASSIGN_OR_RETURN(std::string_view name, line());
        OWF_RETURN_IF_ERROR(push(global(module, name)));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        OWF_ASSIGN_OR_RETURN(ObjectId name, pop());
        OWF_ASSIGN_OR_RETURN(ObjectId module, pop());
        if (p_.kind(name) != Kind::kString || p_.kind(module) != Kind::kString)
          return invalid("STACK_GLOBAL operands are not strings");
        OWF_RETURN_IF_ERROR(push(global(p_.text(module), p_.text(name))));
        break;
      }
      case 'R': {  // REDUCE
        OWF_ASSIGN_OR_RETURN(ObjectId args, pop());
        OWF_ASSIGN_OR_RETURN(ObjectId callable, pop());
        OWF_RETURN_IF_ERROR(push(reduce(callable, args)));
        break;
      }
      case 0x81:                                               // NEWOBJ
      case 0x92: {                                             // NEWOBJ_EX
        if (op_ == 0x92) OWF_RETURN_IF_ERROR(pop().status());  // kwargs
        OWF_ASSIGN_OR_RETURN(ObjectId args, pop());
        OWF_ASSIGN_OR_RETURN(ObjectId cls, pop());
        (void)args;
        if (p_.kind(cls) == Kind::kGlobal && p_.global(cls).id == GlobalId::kOrderedDict) {
          OWF_RETURN_IF_ERROR(push(make_dict()));
          break;
        }
        return unsupported(
            "instantiating " +
            (p_.kind(cls) == Kind::kGlobal ? p_.global(cls).name : std::string(kind_name(p_.kind(cls)))) +
            " is not allowed");
      }
      case 'b': {  // BUILD: only the attribute state of an (Ordered)dict, which is dropped
        OWF_ASSIGN_OR_RETURN(ObjectId state, pop());
        OWF_ASSIGN_OR_RETURN(ObjectId obj, top());
        if (p_.kind(obj) != Kind::kDict)
          return unsupported("BUILD (setting object state) on a " + std::string(kind_name(p_.kind(obj))));
        const Kind sk = p_.kind(state);
        if (sk != Kind::kDict && sk != Kind::kNone && sk != Kind::kTuple)
          return unsupported("BUILD with a " + std::string(kind_name(sk)) + " state");
        break;
      }
      case 'Q': {  // BINPERSID
        OWF_ASSIGN_OR_RETURN(ObjectId pid, pop());
        OWF_RETURN_IF_ERROR(push(persistent_load(pid)));
        break;
      }
      case 'P':
        return unsupported("text persistent ids (PERSID) are not used by torch.save");
      case 'i': {  // INST
        OWF_ASSIGN_OR_RETURN(std::string_view module, line());
        OWF_ASSIGN_OR_RETURN(std::string_view name, line());
        return refused(module, name, base_ + op_pos_);
      }
      case 'o':
        return unsupported("OBJ (instantiating a class) is not allowed");
      case 0x82:
      case 0x83:
      case 0x84:
        return unsupported("extension-registry globals (EXT1/2/4) are not allowed");
      case 0x97:
      case 0x98:
        return unsupported("out-of-band buffers are not supported");
      default:
        return invalid("unknown opcode");
    }
  }
}

}  // namespace

Result<ObjectId> run(Pickle& pickle, std::span<const std::byte> input, const PickleLimits& limits,
                     std::uint64_t& consumed, std::uint64_t base_offset) {
  Interpreter interpreter(pickle, input, limits, base_offset);
  return interpreter.run(consumed);
}

}  // namespace owf::internal::pickle
