// The data-only pickle interpreter (see pickle.hpp): one loop over opcodes
// (pickle_opcodes.hpp), no recursion; globals are resolved by
// pickle_globals.cpp, text-protocol literals decoded by pickle_literals.cpp.
#include "formats/pickle.hpp"

#include <bit>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "formats/pickle_globals.hpp"
#include "formats/pickle_literals.hpp"
#include "formats/pickle_opcodes.hpp"

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

std::string_view opcode_name(std::uint8_t op) {
  switch (static_cast<Opcode>(op)) {
    case Opcode::kMark:
      return "MARK";
    case Opcode::kStop:
      return "STOP";
    case Opcode::kPop:
      return "POP";
    case Opcode::kPopMark:
      return "POP_MARK";
    case Opcode::kDup:
      return "DUP";
    case Opcode::kFloat:
      return "FLOAT";
    case Opcode::kInt:
      return "INT";
    case Opcode::kBinInt:
      return "BININT";
    case Opcode::kBinInt1:
      return "BININT1";
    case Opcode::kLong:
      return "LONG";
    case Opcode::kBinInt2:
      return "BININT2";
    case Opcode::kNone:
      return "NONE";
    case Opcode::kPersId:
      return "PERSID";
    case Opcode::kBinPersId:
      return "BINPERSID";
    case Opcode::kReduce:
      return "REDUCE";
    case Opcode::kString:
      return "STRING";
    case Opcode::kBinString:
      return "BINSTRING";
    case Opcode::kShortBinString:
      return "SHORT_BINSTRING";
    case Opcode::kUnicode:
      return "UNICODE";
    case Opcode::kBinUnicode:
      return "BINUNICODE";
    case Opcode::kAppend:
      return "APPEND";
    case Opcode::kBuild:
      return "BUILD";
    case Opcode::kGlobal:
      return "GLOBAL";
    case Opcode::kDict:
      return "DICT";
    case Opcode::kEmptyDict:
      return "EMPTY_DICT";
    case Opcode::kAppends:
      return "APPENDS";
    case Opcode::kGet:
      return "GET";
    case Opcode::kBinGet:
      return "BINGET";
    case Opcode::kInst:
      return "INST";
    case Opcode::kLongBinGet:
      return "LONG_BINGET";
    case Opcode::kList:
      return "LIST";
    case Opcode::kEmptyList:
      return "EMPTY_LIST";
    case Opcode::kObj:
      return "OBJ";
    case Opcode::kPut:
      return "PUT";
    case Opcode::kBinPut:
      return "BINPUT";
    case Opcode::kLongBinPut:
      return "LONG_BINPUT";
    case Opcode::kSetItem:
      return "SETITEM";
    case Opcode::kTuple:
      return "TUPLE";
    case Opcode::kEmptyTuple:
      return "EMPTY_TUPLE";
    case Opcode::kSetItems:
      return "SETITEMS";
    case Opcode::kBinFloat:
      return "BINFLOAT";
    case Opcode::kProto:
      return "PROTO";
    case Opcode::kNewObj:
      return "NEWOBJ";
    case Opcode::kExt1:
      return "EXT1";
    case Opcode::kExt2:
      return "EXT2";
    case Opcode::kExt4:
      return "EXT4";
    case Opcode::kTuple1:
      return "TUPLE1";
    case Opcode::kTuple2:
      return "TUPLE2";
    case Opcode::kTuple3:
      return "TUPLE3";
    case Opcode::kNewTrue:
      return "NEWTRUE";
    case Opcode::kNewFalse:
      return "NEWFALSE";
    case Opcode::kLong1:
      return "LONG1";
    case Opcode::kLong4:
      return "LONG4";
    case Opcode::kBinBytes:
      return "BINBYTES";
    case Opcode::kShortBinBytes:
      return "SHORT_BINBYTES";
    case Opcode::kShortBinUnicode:
      return "SHORT_BINUNICODE";
    case Opcode::kBinUnicode8:
      return "BINUNICODE8";
    case Opcode::kBinBytes8:
      return "BINBYTES8";
    case Opcode::kEmptySet:
      return "EMPTY_SET";
    case Opcode::kAddItems:
      return "ADDITEMS";
    case Opcode::kFrozenSet:
      return "FROZENSET";
    case Opcode::kNewObjEx:
      return "NEWOBJ_EX";
    case Opcode::kStackGlobal:
      return "STACK_GLOBAL";
    case Opcode::kMemoize:
      return "MEMOIZE";
    case Opcode::kFrame:
      return "FRAME";
    case Opcode::kByteArray8:
      return "BYTEARRAY8";
    case Opcode::kNextBuffer:
      return "NEXT_BUFFER";
    case Opcode::kReadOnlyBuffer:
      return "READONLY_BUFFER";
  }
  return {};
}

namespace {

constexpr std::uint64_t kMaxLine = 1u << 16;  // text-protocol lines (GLOBAL, INT, PUT, ...)
constexpr std::size_t kMaxArguments = 8;      // of any callable the interpreter knows

class Interpreter {
 public:
  Interpreter(Pickle& p, ByteCursor& in, const PickleLimits& limits)
      : p_(p), in_(in), limits_(limits), start_(in.offset()) {}

  Result<ObjectId> run();

 private:
  // --- errors -----------------------------------------------------------
  std::string where() const {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(op_));
    const std::string_view name = opcode_name(op_);
    return " (opcode " + std::string(hex) + (name.empty() ? "" : " " + std::string(name)) + " at byte " +
           std::to_string(op_pos_) + ")";
  }
  Error invalid(const std::string& what) const {
    return Error(ErrorCode::kForeignFormatInvalid, "pickle: " + what + where());
  }
  Error unsupported(const std::string& what) const {
    return Error(ErrorCode::kForeignFormatUnsupported, "pickle: " + what + where());
  }
  Error limit(const std::string& what) const { return Error(ErrorCode::kLimitExceeded, "pickle: " + what + where()); }
  // Errors of the cursor (its own message names the offset) and of the source.
  Error input_error(const Error& e) const {
    if (e.code() == ErrorCode::kIoError) return e;
    return invalid("truncated: " + e.message());
  }

  // --- input ------------------------------------------------------------
  template <class T>
  Result<T> le() {
    auto v = in_.read<T>("the argument");
    if (!v.ok()) return input_error(v.error());
    return *v;
  }
  Status need(std::uint64_t n) const {
    if (n > in_.remaining())
      return invalid("truncated: needs " + std::to_string(n) + " bytes, " + std::to_string(in_.remaining()) + " left");
    return {};
  }
  Result<std::string> bytes(std::uint64_t n) {
    OWF_RETURN_IF_ERROR(need(n));
    if (n > limits_.max_string_bytes)
      return limit("string of " + std::to_string(n) + " bytes exceeds the limit of " +
                   std::to_string(limits_.max_string_bytes));
    auto s = in_.read_string(n, limits_.max_string_bytes, "the string");
    if (!s.ok()) return input_error(s.error());
    return std::move(*s);
  }
  // A text-protocol argument: the bytes up to the next newline.
  Result<std::string> line(std::uint64_t max = kMaxLine) {
    std::string s;
    for (;;) {
      if (in_.remaining() == 0) return invalid("truncated: line without its newline");
      auto b = in_.view(1, "a line");
      if (!b.ok()) return input_error(b.error());
      const char c = static_cast<char>((*b)[0]);
      if (c == '\n') return s;
      if (s.size() == max) return limit("text line longer than " + std::to_string(max) + " bytes");
      s.push_back(c);
    }
  }

  // --- budgets ------------------------------------------------------------
  std::uint64_t entry_budget() const { return kEntriesFloor + kEntriesPerByte * (in_.offset() - start_); }
  // Container entries stored.
  Status store(std::uint64_t n) {
    stored_ += n;
    if (stored_ > entry_budget())
      return limit("containers hold more than " + std::to_string(entry_budget()) + " entries after " +
                   std::to_string(in_.offset() - start_) + " bytes of pickle (the limit is " +
                   std::to_string(kEntriesPerByte) + " per byte plus " + std::to_string(kEntriesFloor) + ")");
    return {};
  }
  // Container entries examined by a check.
  Status examine(std::uint64_t n) {
    examined_ += n;
    if (examined_ > entry_budget())
      return limit("checks looked into more than " + std::to_string(entry_budget()) + " container entries after " +
                   std::to_string(in_.offset() - start_) + " bytes of pickle (the limit is " +
                   std::to_string(kEntriesPerByte) + " per byte plus " + std::to_string(kEntriesFloor) +
                   "): a memo reference replays a large container");
    return {};
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
    OWF_RETURN_IF_ERROR(store(items.size()));
    p_.sequences.push_back(std::move(items));
    return make(kind, static_cast<std::uint32_t>(p_.sequences.size() - 1));
  }
  Result<ObjectId> make_dict() {
    p_.dicts.emplace_back();
    return make(Kind::kDict, static_cast<std::uint32_t>(p_.dicts.size() - 1));
  }
  Status add_pairs(ObjectId dict, const std::vector<ObjectId>& items) {
    OWF_RETURN_IF_ERROR(store(items.size()));
    auto& pairs = p_.dicts[p_.at(dict).aux];
    for (std::size_t i = 0; i + 1 < items.size(); i += 2) pairs.emplace_back(items[i], items[i + 1]);
    return {};
  }
  // A length-prefixed string or bytes opcode: the length is a little-endian Len.
  template <class Len>
  Status sized_text(Kind kind) {
    OWF_ASSIGN_OR_RETURN(Len n, le<Len>());
    OWF_ASSIGN_OR_RETURN(std::string s, bytes(n));
    return push(make_text(kind, std::move(s)));
  }
  // BINPUT/LONG_BINPUT/BINGET/LONG_BINGET: the index is a little-endian Index.
  template <class Index>
  Status memo_op(bool put) {
    OWF_ASSIGN_OR_RETURN(Index i, le<Index>());
    return put ? memo_put(i) : memo_get(i);
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
  // The list on top of the stack, for APPEND/APPENDS.
  Result<std::vector<ObjectId>*> top_list(const char* op) {
    OWF_ASSIGN_OR_RETURN(ObjectId list, top());
    if (p_.kind(list) != Kind::kList)
      return unsupported(std::string(op) + " to a " + std::string(kind_name(p_.kind(list))));
    return &p_.sequences[p_.at(list).aux];
  }
  // The dict on top of the stack, for SETITEM/SETITEMS.
  Result<ObjectId> top_dict(const char* op) {
    OWF_ASSIGN_OR_RETURN(ObjectId d, top());
    if (p_.kind(d) != Kind::kDict) return unsupported(std::string(op) + " on a " + std::string(kind_name(p_.kind(d))));
    return d;
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
  Result<std::uint64_t> memo_index_line() {
    OWF_ASSIGN_OR_RETURN(const std::string s, line());
    std::uint64_t i = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), i);
    if (ec != std::errc() || ptr != s.data() + s.size() || s.empty()) return invalid("bad memo index");
    return i;
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
  Status step(Opcode op);
  Result<ObjectId> persistent_load(ObjectId pid);
  Result<ObjectId> reduce(ObjectId callable, ObjectId args, int depth = 0);
  Result<ObjectId> rebuild_tensor(GlobalId which, const std::vector<ObjectId>& args);
  Status check_state_has_no_tensor(ObjectId state, std::string_view what);
  Result<ObjectId> global(std::string_view module, std::string_view name) {
    OWF_ASSIGN_OR_RETURN(Global g, resolve_global(module, name, op_pos_));
    p_.globals.push_back(std::move(g));
    return make(Kind::kGlobal, static_cast<std::uint32_t>(p_.globals.size() - 1));
  }
  Result<ObjectId> text_int(std::string_view s, bool is_long);
  Result<ObjectId> long_bytes(std::string_view s);

  Pickle& p_;
  ByteCursor& in_;
  const PickleLimits& limits_;
  const std::uint64_t start_;
  std::uint64_t op_pos_ = 0;
  std::uint8_t op_ = 0;
  std::uint64_t stored_ = 0;
  std::uint64_t examined_ = 0;
  std::vector<ObjectId> stack_;
  std::vector<std::size_t> marks_;
  std::unordered_map<std::uint64_t, ObjectId> memo_;
  bool stopped_ = false;
  ObjectId root_ = 0;
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

Result<ObjectId> Interpreter::persistent_load(ObjectId pid) {
  if (p_.kind(pid) != Kind::kTuple)
    return unsupported("persistent id is a " + std::string(kind_name(p_.kind(pid))) +
                       ", not a ('storage', type, key, location, numel) tuple");
  if (p_.sequence(pid).size() != 5 && p_.sequence(pid).size() != 6)
    return unsupported("persistent id tuple has " + std::to_string(p_.sequence(pid).size()) + " items, not 5 or 6");
  const std::vector<ObjectId> items = p_.sequence(pid);  // 5 or 6: the arena may grow below
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

// A parameter's or tensor's Python state may not hold tensors (they would be
// lost). Its entries are examined, and charged to the budget, at each call.
Status Interpreter::check_state_has_no_tensor(ObjectId state, std::string_view what) {
  auto check = [&](ObjectId v) -> Status {
    if (p_.kind(v) == Kind::kTensor || p_.kind(v) == Kind::kStorage)
      return unsupported(std::string(what) + " carries tensors in its Python state");
    return {};
  };
  const Kind k = p_.kind(state);
  if (k == Kind::kDict) {
    OWF_RETURN_IF_ERROR(examine(p_.dict(state).size()));
    for (const auto& [key, v] : p_.dict(state)) OWF_RETURN_IF_ERROR(check(v));
  } else if (k == Kind::kTuple || k == Kind::kList) {
    OWF_RETURN_IF_ERROR(examine(p_.sequence(state).size()));
    for (ObjectId v : p_.sequence(state)) {
      OWF_RETURN_IF_ERROR(check(v));
      if (p_.kind(v) == Kind::kDict) {
        OWF_RETURN_IF_ERROR(examine(p_.dict(v).size()));
        for (const auto& [key, w] : p_.dict(v)) OWF_RETURN_IF_ERROR(check(w));
      }
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
  if (p_.sequence(args_id).size() > kMaxArguments)
    return invalid(g.name + " called with " + std::to_string(p_.sequence(args_id).size()) + " arguments");
  const std::vector<ObjectId> args = p_.sequence(args_id);  // a few: the arena may grow below
  switch (g.id) {
    case GlobalId::kOrderedDict: {
      OWF_ASSIGN_OR_RETURN(ObjectId d, make_dict());
      if (args.empty()) return d;
      if (args.size() == 1 && (p_.kind(args[0]) == Kind::kList || p_.kind(args[0]) == Kind::kTuple)) {
        // The pairs are copied: charged to the entry budget.
        const auto& items = p_.sequence(args[0]);
        OWF_RETURN_IF_ERROR(store(2 * items.size()));
        auto& pairs = p_.dicts[p_.at(d).aux];
        for (ObjectId item : items) {
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
      std::vector<ObjectId> items = p_.sequence(args[0]);  // at most max_rank
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

Result<ObjectId> Interpreter::run() {
  while (!stopped_) {
    op_pos_ = in_.offset();
    if (in_.remaining() == 0) {
      op_ = 0;
      return invalid("truncated: pickle ends before its STOP opcode");
    }
    auto b = in_.view(1, "an opcode");
    if (!b.ok()) return input_error(b.error());
    op_ = std::to_integer<std::uint8_t>((*b)[0]);
    OWF_RETURN_IF_ERROR(step(static_cast<Opcode>(op_)));
  }
  return root_;
}

Status Interpreter::step(Opcode op) {
  using enum Opcode;
  switch (op) {
    // --- framing and the stack ---
    case kProto: {
      OWF_ASSIGN_OR_RETURN(std::uint8_t v, le<std::uint8_t>());
      if (v > 5) return unsupported("pickle protocol " + std::to_string(v));
      return {};
    }
    case kFrame: {  // a length prefix only
      OWF_ASSIGN_OR_RETURN(std::uint64_t n, le<std::uint64_t>());
      if (n > in_.remaining()) return invalid("truncated: frame of " + std::to_string(n) + " bytes");
      return {};
    }
    case kStop: {
      OWF_ASSIGN_OR_RETURN(root_, pop());
      stopped_ = true;
      return {};
    }
    case kMark:
      if (marks_.size() >= limits_.max_mark_depth)
        return limit("nesting deeper than " + std::to_string(limits_.max_mark_depth) + " MARKs");
      marks_.push_back(stack_.size());
      return {};
    case kPop:
      return pop().status();
    case kPopMark:
      return pop_mark().status();
    case kDup: {
      OWF_ASSIGN_OR_RETURN(ObjectId v, top());
      return push(v);
    }
    // --- constants and numbers ---
    case kNone:
      return push(make(Kind::kNone));
    case kNewTrue:
      return push(make(Kind::kBool, 0, 1));
    case kNewFalse:
      return push(make(Kind::kBool, 0, 0));
    case kBinInt: {
      OWF_ASSIGN_OR_RETURN(std::uint32_t v, le<std::uint32_t>());
      return push(make(Kind::kInt, 0, static_cast<std::int32_t>(v)));
    }
    case kBinInt1: {
      OWF_ASSIGN_OR_RETURN(std::uint8_t v, le<std::uint8_t>());
      return push(make(Kind::kInt, 0, v));
    }
    case kBinInt2: {
      OWF_ASSIGN_OR_RETURN(std::uint16_t v, le<std::uint16_t>());
      return push(make(Kind::kInt, 0, v));
    }
    case kLong1: {
      OWF_ASSIGN_OR_RETURN(std::uint8_t n, le<std::uint8_t>());
      OWF_ASSIGN_OR_RETURN(const std::string s, bytes(n));
      return push(long_bytes(s));
    }
    case kLong4: {
      OWF_ASSIGN_OR_RETURN(std::uint32_t n, le<std::uint32_t>());
      if (n > 0x7fffffffu) return invalid("LONG4 with a negative length");
      OWF_ASSIGN_OR_RETURN(const std::string s, bytes(n));
      return push(long_bytes(s));
    }
    case kInt:
    case kLong: {
      OWF_ASSIGN_OR_RETURN(const std::string s, line());
      return push(text_int(s, op == kLong));
    }
    case kBinFloat: {  // big-endian IEEE double
      OWF_ASSIGN_OR_RETURN(std::uint64_t little, le<std::uint64_t>());
      return push(make(Kind::kFloat, 0, 0, std::bit_cast<double>(__builtin_bswap64(little))));
    }
    case kFloat: {
      OWF_ASSIGN_OR_RETURN(const std::string s, line());
      double v = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || ptr != s.data() + s.size()) return invalid("bad float literal");
      return push(make(Kind::kFloat, 0, 0, v));
    }
    // --- strings and bytes ---
    case kBinUnicode:
      return sized_text<std::uint32_t>(Kind::kString);
    case kShortBinUnicode:
      return sized_text<std::uint8_t>(Kind::kString);
    case kBinUnicode8:
      return sized_text<std::uint64_t>(Kind::kString);
    case kBinString:  // Python 2 str; torch.load decodes it as UTF-8
      return sized_text<std::uint32_t>(Kind::kString);
    case kShortBinString:
      return sized_text<std::uint8_t>(Kind::kString);
    case kString: {
      OWF_ASSIGN_OR_RETURN(const std::string s, line(limits_.max_string_bytes));
      auto v = decode_string_literal(s);
      if (!v.ok()) return invalid(v.error().message());
      return push(make_text(Kind::kString, std::move(*v)));
    }
    case kUnicode: {  // raw-unicode-escape
      OWF_ASSIGN_OR_RETURN(const std::string s, line(limits_.max_string_bytes));
      auto v = decode_raw_unicode_escape(s);
      if (!v.ok()) return invalid(v.error().message());
      return push(make_text(Kind::kString, std::move(*v)));
    }
    case kBinBytes:
      return sized_text<std::uint32_t>(Kind::kBytes);
    case kShortBinBytes:
      return sized_text<std::uint8_t>(Kind::kBytes);
    case kBinBytes8:
    case kByteArray8:
      return sized_text<std::uint64_t>(Kind::kBytes);
    // --- containers ---
    case kEmptyTuple:
      return push(make_sequence(Kind::kTuple, {}));
    case kEmptyList:
    case kEmptySet:  // sets read as lists
      return push(make_sequence(Kind::kList, {}));
    case kEmptyDict:
      return push(make_dict());
    case kTuple1:
    case kTuple2:
    case kTuple3: {
      const std::size_t n = op_ - static_cast<std::uint8_t>(kTuple1) + 1;
      std::vector<ObjectId> items(n);
      for (std::size_t i = n; i-- > 0;) {
        OWF_ASSIGN_OR_RETURN(items[i], pop());
      }
      return push(make_sequence(Kind::kTuple, std::move(items)));
    }
    case kTuple: {
      OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
      return push(make_sequence(Kind::kTuple, std::move(items)));
    }
    case kList:
    case kFrozenSet: {
      OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
      return push(make_sequence(Kind::kList, std::move(items)));
    }
    case kDict: {
      OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
      if (items.size() % 2 != 0) return invalid("DICT with an odd number of items");
      OWF_ASSIGN_OR_RETURN(ObjectId d, make_dict());
      OWF_RETURN_IF_ERROR(add_pairs(d, items));
      return push(d);
    }
    case kAppend: {
      OWF_ASSIGN_OR_RETURN(ObjectId v, pop());
      OWF_ASSIGN_OR_RETURN(auto* list, top_list("APPEND"));
      OWF_RETURN_IF_ERROR(store(1));
      list->push_back(v);
      return {};
    }
    case kAppends:
    case kAddItems: {
      OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
      OWF_ASSIGN_OR_RETURN(auto* list, top_list("APPENDS"));
      OWF_RETURN_IF_ERROR(store(items.size()));
      list->insert(list->end(), items.begin(), items.end());
      return {};
    }
    case kSetItem: {
      OWF_ASSIGN_OR_RETURN(ObjectId v, pop());
      OWF_ASSIGN_OR_RETURN(ObjectId k, pop());
      OWF_ASSIGN_OR_RETURN(ObjectId d, top_dict("SETITEM"));
      return add_pairs(d, {k, v});
    }
    case kSetItems: {
      OWF_ASSIGN_OR_RETURN(auto items, pop_mark());
      if (items.size() % 2 != 0) return invalid("SETITEMS with an odd number of items");
      OWF_ASSIGN_OR_RETURN(ObjectId d, top_dict("SETITEMS"));
      return add_pairs(d, items);
    }
    // --- memo ---
    case kBinPut:
      return memo_op<std::uint8_t>(true);
    case kLongBinPut:
      return memo_op<std::uint32_t>(true);
    case kMemoize:
      return memo_put(memo_.size());
    case kPut: {
      OWF_ASSIGN_OR_RETURN(std::uint64_t i, memo_index_line());
      return memo_put(i);
    }
    case kGet: {
      OWF_ASSIGN_OR_RETURN(std::uint64_t i, memo_index_line());
      return memo_get(i);
    }
    case kBinGet:
      return memo_op<std::uint8_t>(false);
    case kLongBinGet:
      return memo_op<std::uint32_t>(false);
    // --- globals and calls ---
    case kGlobal: {
      OWF_ASSIGN_OR_RETURN(const std::string module, line());
      OWF_ASSIGN_OR_RETURN(const std::string name, line());
      return push(global(module, name));
    }
    case kStackGlobal: {
      OWF_ASSIGN_OR_RETURN(ObjectId name, pop());
      OWF_ASSIGN_OR_RETURN(ObjectId module, pop());
      if (p_.kind(name) != Kind::kString || p_.kind(module) != Kind::kString)
        return invalid("STACK_GLOBAL operands are not strings");
      return push(global(p_.text(module), p_.text(name)));
    }
    case kReduce: {
      OWF_ASSIGN_OR_RETURN(ObjectId args, pop());
      OWF_ASSIGN_OR_RETURN(ObjectId callable, pop());
      return push(reduce(callable, args));
    }
    case kNewObj:
    case kNewObjEx: {
      if (op == kNewObjEx) OWF_RETURN_IF_ERROR(pop().status());  // kwargs
      OWF_ASSIGN_OR_RETURN(ObjectId args, pop());
      OWF_ASSIGN_OR_RETURN(ObjectId cls, pop());
      (void)args;
      if (p_.kind(cls) == Kind::kGlobal && p_.global(cls).id == GlobalId::kOrderedDict) return push(make_dict());
      return unsupported("instantiating " +
                         (p_.kind(cls) == Kind::kGlobal ? p_.global(cls).name : std::string(kind_name(p_.kind(cls)))) +
                         " is not allowed");
    }
    case kBuild: {  // only the attribute state of an (Ordered)dict, which is dropped
      OWF_ASSIGN_OR_RETURN(ObjectId state, pop());
      OWF_ASSIGN_OR_RETURN(ObjectId obj, top());
      if (p_.kind(obj) != Kind::kDict)
        return unsupported("BUILD (setting object state) on a " + std::string(kind_name(p_.kind(obj))));
      const Kind sk = p_.kind(state);
      if (sk != Kind::kDict && sk != Kind::kNone && sk != Kind::kTuple)
        return unsupported("BUILD with a " + std::string(kind_name(sk)) + " state");
      return {};
    }
    case kBinPersId: {
      OWF_ASSIGN_OR_RETURN(ObjectId pid, pop());
      return push(persistent_load(pid));
    }
    case kPersId:
      return unsupported("text persistent ids (PERSID) are not used by torch.save");
    case kInst: {
      OWF_ASSIGN_OR_RETURN(const std::string module, line());
      OWF_ASSIGN_OR_RETURN(const std::string name, line());
      OWF_RETURN_IF_ERROR(resolve_global(module, name, op_pos_).status());
      return unsupported("INST (instantiating a class) is not allowed");
    }
    case kObj:
      return unsupported("OBJ (instantiating a class) is not allowed");
    case kExt1:
    case kExt2:
    case kExt4:
      return unsupported("extension-registry globals (EXT1/2/4) are not allowed");
    case kNextBuffer:
    case kReadOnlyBuffer:
      return unsupported("out-of-band buffers are not supported");
  }
  return invalid("unknown opcode");
}

}  // namespace

Result<ObjectId> run(Pickle& pickle, ByteCursor& input, const PickleLimits& limits) {
  Interpreter interpreter(pickle, input, limits);
  return interpreter.run();
}

}  // namespace owf::internal::pickle
