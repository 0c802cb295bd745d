// GGUF reader (spec/interchange.md, GGUF "Reading"): the header is parsed
// through a ByteCursor, the whole structure is validated at open, and the
// tensors are byte ranges of the file read with read_at(): nothing is
// mapped, so a file that shrinks while open is an io_error, never a signal.
// Every error names the offset of the key/value pair or tensor info at
// fault. What ggml's own reader would refuse but OWF reads is kept as
// compatibility notes (Source::notes()).
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>

#include "formats/byte_range_source.hpp"
#include "formats/formats.hpp"
#include "formats/gguf/gguf_format.hpp"
#include "formats/gguf/gguf_metadata.hpp"
#include "formats/gguf/gguf_split.hpp"
#include "formats/gguf/gguf_values.hpp"
#include "io/byte_cursor.hpp"
#include "layout.hpp"
#include "rules.hpp"
#include "utf8.hpp"

namespace owf::internal {

namespace {

using namespace gguf;

// The header is read sequentially through a window: small for local files,
// large for remote ones, where every read is a round trip.
constexpr std::size_t kLocalWindow = 64u << 10;
constexpr std::size_t kRemoteWindow = 4u << 20;

constexpr std::string_view kAlignmentKey = "general.alignment";
// Compatibility notes listed per file, at most (a hostile file could make
// one per tensor).
constexpr std::size_t kMaxNotes = 64;

bool has_control_char(std::string_view s) {
  for (char ch : s) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

/// `e` with where it happened appended: "... (key/value pair 3 at byte 120)".
Error in_context(const Error& e, const std::string& context) {
  return Error(e.code(), e.message() + " (" + context + ")");
}

/// A key/value pair or tensor info, for messages.
struct Place {
  std::string who;       // "key 'a.b'", "tensor 'w'"
  std::string what;      // "key/value pair 3", "tensor info 0"
  std::uint64_t at = 0;  // where it starts
  std::string where() const { return what + " at byte " + std::to_string(at); }
  /// "tensor 'w' has ... (tensor info 0 at byte 900)"
  std::string says(std::string_view predicate) const {
    return who + " " + std::string(predicate) + " (" + where() + ")";
  }
};

struct ParsedTensor {
  RangeTensor tensor;
  Place place;                 // place.at: where its tensor info starts
  std::uint64_t relative = 0;  // data offset relative to the data section
};

class Parser {
 public:
  Parser(const ByteSource& source, const Limits& limits)
      : source_(source),
        limits_(limits),
        c_(source, 0, source.size(), ErrorCode::kForeignFormatInvalid, source.remote() ? kRemoteWindow : kLocalWindow) {
  }

  Status parse() {
    OWF_RETURN_IF_ERROR(read_header());
    OWF_RETURN_IF_ERROR(read_kvs());
    OWF_RETURN_IF_ERROR(read_tensor_infos());
    OWF_RETURN_IF_ERROR(place_tensors());
    note_layout();
    return {};
  }

  std::uint64_t alignment() const { return alignment_; }
  std::vector<std::string> take_notes() {
    if (dropped_notes_ > 0) notes_.push_back(std::to_string(dropped_notes_) + " more notes like these");
    return std::move(notes_);
  }

  const SplitKeys& split_keys() const { return split_; }

  /// The model information, including the recorded tensor order and shapes;
  /// without the split.* keys when `drop_split_keys`.
  ModelInfo take_info(bool drop_split_keys) {
    if (drop_split_keys) std::erase_if(kvs_, [](const KeyValue& kv) { return kv.key.starts_with(kSplitKeyPrefix); });
    ModelInfo info = model_info_from_kvs(std::move(kvs_));
    std::vector<std::string> names;
    names.reserve(tensors_.size());
    for (const auto& t : tensors_) names.push_back(t.tensor.name);
    record_tensor_order(info, names);
    for (const auto& [name, shape] : file_shapes_) record_file_shape(info, name, shape);
    return info;
  }

  std::vector<RangeTensor> take_tensors() {
    std::vector<RangeTensor> out;
    out.reserve(tensors_.size());
    for (auto& t : tensors_) out.push_back(std::move(t.tensor));
    return out;
  }

 private:
  void note(std::string text) {
    if (notes_.size() < kMaxNotes)
      notes_.push_back(std::move(text));
    else
      ++dropped_notes_;
  }

  Error invalid_at(std::uint64_t offset, std::string_view message) const { return c_.error_at(offset, message); }
  Error error_at(ErrorCode code, std::uint64_t offset, std::string_view message) const {
    return Error(code, c_.error_at(offset, message).message());
  }
  /// An error at `offset` inside the pair or tensor info `p`, naming it.
  Error fault(const Place& p, std::uint64_t offset, const std::string& message,
              ErrorCode code = ErrorCode::kForeignFormatInvalid) const {
    return error_at(code, offset, message + " (" + (offset == p.at ? p.what : p.where()) + ")");
  }

  Status read_header() {
    auto magic = c_.view(4, "the magic");
    if (!magic.ok() || std::memcmp(magic->data(), gguf::kMagic.data(), 4) != 0)
      return invalid_at(0, "bad magic: not a GGUF file (expected \"GGUF\")");
    OWF_ASSIGN_OR_RETURN(const std::uint32_t version, c_.read<std::uint32_t>("the version"));
    if (version == 1)
      return error_at(ErrorCode::kForeignFormatUnsupported, 4,
                      "GGUF version 1 is not supported (only versions 2 and 3; version 1 used 32-bit counts)");
    if (version != 2 && version != 3) {
      std::string why = "unsupported GGUF version " + std::to_string(version) + " (only 2 and 3 are supported)";
      if ((version & 0xFFFF) == 0) why += "; the file may be big-endian, which is not supported";
      return error_at(ErrorCode::kForeignFormatUnsupported, 4, why);
    }
    OWF_ASSIGN_OR_RETURN(tensor_count_, c_.read<std::uint64_t>("the tensor count"));
    OWF_ASSIGN_OR_RETURN(kv_count_, c_.read<std::uint64_t>("the key/value count"));
    if (tensor_count_ > limits_.max_tensors)
      return error_at(ErrorCode::kLimitExceeded, 8,
                      "tensor count " + std::to_string(tensor_count_) + " exceeds max_tensors (" +
                          std::to_string(limits_.max_tensors) + ")");
    if (kv_count_ > limits_.max_metadata_entries)
      return error_at(ErrorCode::kLimitExceeded, 16,
                      "key/value count " + std::to_string(kv_count_) + " exceeds max_metadata_entries (" +
                          std::to_string(limits_.max_metadata_entries) + ")");
    // A key/value pair takes at least 13 bytes (non-empty key, type, 1-byte
    // value), a tensor info at least 25: counts beyond that are lies.
    if (kv_count_ > c_.remaining() / 13)
      return invalid_at(16, "key/value count " + std::to_string(kv_count_) + " cannot fit in the file");
    if (tensor_count_ > c_.remaining() / 25)
      return invalid_at(8, "tensor count " + std::to_string(tensor_count_) + " cannot fit in the file");
    return {};
  }

  Status read_kvs() {
    std::unordered_map<std::string, std::uint64_t> first_at;
    for (std::uint64_t i = 0; i < kv_count_; ++i) {
      const std::uint64_t at = c_.offset();
      Place pair{"", "key/value pair " + std::to_string(i), at};
      auto key = read_string(c_, limits_.max_string_bytes, "the key");
      if (!key.ok()) return in_context(key.error(), pair.where());
      if (key->empty()) return fault(pair, at, "empty key");
      if (!is_valid_utf8(*key) || has_control_char(*key))
        return fault(pair, at, "a key that is not valid UTF-8 without control characters");
      if (const auto [it, fresh] = first_at.emplace(*key, at); !fresh)
        return fault(pair, at, "duplicate key '" + *key + "', first at byte " + std::to_string(it->second));
      pair.who = "key '" + *key + "'";
      auto type = c_.read<std::uint32_t>("the value type");
      if (!type.ok()) return in_context(type.error(), pair.who + ", " + pair.where());
      const std::uint64_t value_at = c_.offset();
      ValueShape shape;
      auto value = read_value(c_, *type, limits_.max_string_bytes, shape);
      if (!value.ok()) return in_context(value.error(), "in the value of " + pair.who + ", " + pair.where());
      KeyValue kv{std::move(*key), *type, std::move(*value), {}};
      if (!kv.value) {
        // Kept verbatim: the bytes just parsed, read again through the window.
        const std::uint64_t value_end = c_.offset();
        kv.raw.resize(static_cast<std::size_t>(value_end - value_at));
        OWF_RETURN_IF_ERROR(c_.seek(value_at));
        OWF_RETURN_IF_ERROR(c_.read_into(kv.raw, "the value"));
      }
      note_value(pair, shape);
      if (kv.key == kAlignmentKey) OWF_RETURN_IF_ERROR(read_alignment(kv, at, pair));
      if (kv.key.starts_with(kSplitKeyPrefix)) record_split_key(kv, i, at);
      kvs_.push_back(std::move(kv));
    }
    return {};
  }

  // general.alignment: u32, a power of two.
  Status read_alignment(const KeyValue& kv, std::uint64_t at, const Place& pair) {
    if (kv.type != kU32)
      return fault(pair, at, pair.who + " must have type u32, not " + std::string(value_type_name(kv.type)));
    const auto a = static_cast<std::uint64_t>(std::get<std::int64_t>(kv.value->data));
    if (!is_power_of_two(a)) return fault(pair, at, pair.who + " " + std::to_string(a) + " is not a power of two");
    if (a > limits_.max_alignment)
      return fault(
          pair, at,
          pair.who + " " + std::to_string(a) + " exceeds max_alignment (" + std::to_string(limits_.max_alignment) + ")",
          ErrorCode::kLimitExceeded);
    if (a > kGgmlMaxAlignment)
      note(pair.says(std::to_string(a) + " is above ggml's maximum alignment of " + std::to_string(kGgmlMaxAlignment) +
                     ", so ggml's reader refuses the file"));
    alignment_ = a;
    return {};
  }

  // split.no, split.count, split.tensors.count: checked by the split-set
  // reader, which knows whether the file is opened as a split.
  void record_split_key(const KeyValue& kv, std::uint64_t pair, std::uint64_t at) {
    std::optional<SplitKey>* slot = kv.key == kSplitNoKey             ? &split_.no
                                    : kv.key == kSplitCountKey        ? &split_.count
                                    : kv.key == kSplitTensorsCountKey ? &split_.tensors_count
                                                                      : nullptr;
    if (slot == nullptr) return;
    SplitKey k{kv.type, std::nullopt, pair, at};
    if (kv.value)
      if (const auto* v = std::get_if<std::int64_t>(&kv.value->data)) k.value = *v;
    *slot = k;
  }

  void note_value(const Place& pair, const ValueShape& shape) {
    if (shape.nested_array) note(pair.says("holds nested arrays, which ggml's reader refuses"));
    if (shape.longest_string > kGgmlMaxStringBytes)
      note(pair.says("holds a string of " + std::to_string(shape.longest_string) +
                     " bytes; ggml's reader refuses strings above " + std::to_string(kGgmlMaxStringBytes)));
    if (shape.largest_array > kGgmlMaxArrayElements)
      note(pair.says("holds an array of " + std::to_string(shape.largest_array) +
                     " elements; ggml's reader refuses arrays above " + std::to_string(kGgmlMaxArrayElements)));
  }

  Status read_tensor_infos() {
    std::unordered_map<std::string, std::uint64_t> index_of;
    // Grown as infos are read: a count is a claim, the bytes read are not.
    for (std::uint64_t i = 0; i < tensor_count_; ++i) {
      ParsedTensor p;
      p.place.what = "tensor info " + std::to_string(i);
      p.place.at = c_.offset();
      auto name = read_string(c_, limits_.max_name_bytes, "the tensor name");
      if (!name.ok()) return in_context(name.error(), p.place.where());
      if (auto s = check_tensor_name(*name, limits_); !s.ok())
        return fault(p.place, p.place.at, "bad tensor name: " + s.error().message(), s.code());
      if (const auto [it, fresh] = index_of.emplace(*name, i); !fresh)
        return fault(p.place, p.place.at,
                     "duplicate tensor name '" + *name + "', first in tensor info " + std::to_string(it->second));
      p.place.who = "tensor '" + *name + "'";
      if (name->size() >= kGgmlMaxName)
        note(p.place.says("has a name of " + std::to_string(name->size()) + " bytes; ggml's reader refuses " +
                          "names of " + std::to_string(kGgmlMaxName) + " bytes or more"));
      p.tensor.name = std::move(*name);
      OWF_RETURN_IF_ERROR(read_tensor_info(p));
      tensors_.push_back(std::move(p));
    }
    return {};
  }

  Status read_tensor_info(ParsedTensor& p) {
    const auto fail = [&](std::uint64_t offset, const std::string& predicate,
                          ErrorCode code = ErrorCode::kForeignFormatInvalid) {
      return fault(p.place, offset, p.place.who + " " + predicate, code);
    };
    const auto read_field = [&]<class T>(T& out, std::string_view what) -> Status {
      auto v = c_.read<T>(what);
      if (!v.ok()) return in_context(v.error(), p.place.who + ", " + p.place.where());
      out = *v;
      return {};
    };
    const std::uint64_t dims_at = c_.offset();
    std::uint32_t n_dims = 0;
    OWF_RETURN_IF_ERROR(read_field(n_dims, "n_dims"));
    if (n_dims > kMaxDims) return fail(dims_at, "has " + std::to_string(n_dims) + " dimensions; GGUF allows at most 4");
    if (n_dims > limits_.max_rank)
      return fail(dims_at,
                  "has rank " + std::to_string(n_dims) + ", above max_rank (" + std::to_string(limits_.max_rank) + ")",
                  ErrorCode::kLimitExceeded);
    std::vector<std::uint64_t>& shape = p.tensor.shape;
    shape.resize(n_dims);
    for (std::uint32_t d = 0; d < n_dims; ++d) {
      const std::uint64_t dim_at = c_.offset();
      std::int64_t ne = 0;
      OWF_RETURN_IF_ERROR(read_field(ne, "a dimension"));
      if (ne < 0) return fail(dim_at, "has a negative dimension ne[" + std::to_string(d) + "] = " + std::to_string(ne));
      shape[n_dims - 1 - d] = static_cast<std::uint64_t>(ne);
    }
    auto count = element_count(shape);
    if (!count.ok() || *count > static_cast<std::uint64_t>(INT64_MAX))
      return fail(dims_at, "has dimensions whose product overflows 63 bits");

    const std::uint64_t type_at = c_.offset();
    std::uint32_t ggml_type = 0;
    OWF_RETURN_IF_ERROR(read_field(ggml_type, "the ggml type"));
    const auto dtype = dtype_from_ggml(ggml_type);
    if (!dtype)
      return fail(type_at, "has unknown or unsupported ggml type " + std::to_string(ggml_type),
                  ErrorCode::kForeignFormatUnsupported);
    auto size = tensor_byte_size(*dtype, shape);
    if (!size.ok()) {
      // Some tools quantize the flattened tensor, so blocks cross rows
      // (ggml refuses such files). With a whole number of blocks overall,
      // the bytes are exactly a 1-D tensor of that dtype; the file's shape
      // is kept in metadata for the writer.
      const std::uint64_t flat[] = {*count};
      auto flat_size = tensor_byte_size(*dtype, flat);
      if (n_dims < 2 || !flat_size.ok()) return fail(type_at, "is invalid: " + size.error().message());
      note(p.place.says("has rows of " + std::to_string(shape.back()) + " elements, not whole " +
                        std::string(dtype_name(*dtype)) + " blocks, which ggml's reader refuses (read as 1-D)"));
      file_shapes_.emplace_back(p.tensor.name, shape);
      shape = {*count};
      size = flat_size;
    }
    OWF_RETURN_IF_ERROR(read_field(p.relative, "the data offset"));
    TensorInfo& info = p.tensor.info;
    info.dtype = *dtype;
    info.role = infer_role(p.tensor.name);
    info.logical_bytes = *size;
    info.element_count = *count;
    return {};
  }

  // The data section begins at the next multiple of the alignment. A file
  // without tensors may end before that point (vocabulary-only files do).
  Status place_tensors() {
    const std::uint64_t infos_end = c_.offset();
    data_start_ = align_up(infos_end, alignment_);
    const std::uint64_t file_size = source_.size();
    if (!tensors_.empty() && data_start_ > file_size)
      return invalid_at(infos_end, "the data section would start at byte " + std::to_string(data_start_) +
                                       ", beyond the end of the file (" + std::to_string(file_size) + " bytes)");
    const std::uint64_t data_size = tensors_.empty() ? 0 : file_size - data_start_;
    for (ParsedTensor& p : tensors_) {
      const std::uint64_t bytes = p.tensor.info.logical_bytes;
      if (p.relative % alignment_ != 0)
        return fault(p.place, p.place.at,
                     p.place.who + " has data offset " + std::to_string(p.relative) +
                         ", not a multiple of the alignment " + std::to_string(alignment_));
      if (p.relative > data_size || bytes > data_size - p.relative)
        return fault(p.place, p.place.at,
                     p.place.who + " has data [" + std::to_string(p.relative) + ", +" + std::to_string(bytes) +
                         ") outside the " + std::to_string(data_size) + "-byte data section");
      p.tensor.info.offset = data_start_ + p.relative;
    }
    std::vector<const ParsedTensor*> by_offset;
    for (const ParsedTensor& p : tensors_)
      if (p.tensor.info.logical_bytes > 0) by_offset.push_back(&p);
    std::stable_sort(by_offset.begin(), by_offset.end(),
                     [](const ParsedTensor* a, const ParsedTensor* b) { return a->relative < b->relative; });
    for (std::size_t k = 1; k < by_offset.size(); ++k) {
      const ParsedTensor& prev = *by_offset[k - 1];
      const ParsedTensor& t = *by_offset[k];
      const std::uint64_t prev_end = prev.relative + prev.tensor.info.logical_bytes;
      if (t.relative < prev_end)
        return fault(t.place, t.place.at,
                     t.place.who + " has data [" + std::to_string(t.relative) + ", " +
                         std::to_string(t.relative + t.tensor.info.logical_bytes) + ") that overlaps " +
                         prev.place.who + " [" + std::to_string(prev.relative) + ", " + std::to_string(prev_end) +
                         ") of " + prev.place.where());
    }
    return {};
  }

  // ggml's reader wants the data laid out canonically: each tensor right
  // after the previous one in tensor-info order, padded to the alignment,
  // the last one's padding included.
  void note_layout() {
    std::uint64_t expected = 0;
    for (const ParsedTensor& p : tensors_) {
      if (p.relative != expected) {
        note(p.place.says("has data offset " + std::to_string(p.relative) + " where ggml's reader expects " +
                          std::to_string(expected) +
                          " (tensors back to back in tensor-info order, each padded to the alignment) and refuses "
                          "the file"));
        return;
      }
      expected = align_up(expected + p.tensor.info.logical_bytes, alignment_);
    }
    const std::uint64_t file_size = source_.size();
    if (!tensors_.empty() && expected > file_size - data_start_)
      note("the file ends at byte " + std::to_string(file_size) +
           ", before the padding of its last tensor ends (byte " + std::to_string(data_start_ + expected) +
           "): ggml's reader refuses it when it loads tensor data (llama.cpp's model loader, which maps the file, "
           "accepts it)");
  }

  const ByteSource& source_;
  const Limits& limits_;
  ByteCursor c_;
  std::uint64_t tensor_count_ = 0;
  std::uint64_t kv_count_ = 0;
  std::uint64_t alignment_ = kDefaultAlignment;
  std::uint64_t data_start_ = 0;
  std::vector<KeyValue> kvs_;
  SplitKeys split_;
  std::vector<ParsedTensor> tensors_;
  std::vector<std::pair<std::string, std::vector<std::uint64_t>>> file_shapes_;
  std::vector<std::string> notes_;
  std::uint64_t dropped_notes_ = 0;
};

class GgufSource final : public ByteRangeSource {
 public:
  GgufSource(std::shared_ptr<const ByteSource> bytes, std::vector<RangeTensor> tensors, ModelInfo info,
             std::uint64_t alignment, std::vector<std::string> notes)
      : ByteRangeSource(std::move(bytes), std::move(tensors)),
        info_(std::move(info)),
        alignment_(alignment),
        notes_(std::move(notes)) {}

  Format format() const override { return Format::kGguf; }
  const ModelInfo& info() const override { return info_; }
  std::uint64_t alignment() const override { return alignment_; }
  std::vector<std::string> notes() const override { return notes_; }

 private:
  ModelInfo info_;
  std::uint64_t alignment_;
  std::vector<std::string> notes_;
  std::uint64_t dropped_notes_ = 0;
};

}  // namespace

namespace gguf {

bool SplitKeys::member() const { return count && count->type == kU16 && count->value && *count->value >= 2; }

Result<GgufFile> open_gguf_file(std::shared_ptr<const ByteSource> bytes, const Limits& limits, bool as_member) {
  Parser parser(*bytes, limits);
  OWF_RETURN_IF_ERROR(parser.parse());
  GgufFile file;
  file.split = parser.split_keys();
  const bool member = file.split.member();
  ModelInfo info = parser.take_info(member && as_member);  // before take_tensors(): it records their order
  std::vector<std::string> notes = parser.take_notes();
  if (member && !as_member) {
    std::string which = "one split";
    if (file.split.no && file.split.no->value) which = "split " + std::to_string(*file.split.no->value + 1);
    notes.insert(notes.begin(), "the file is " + which + " of a GGUF split set of " +
                                    std::to_string(*file.split.count->value) +
                                    " files (split.count); only its own tensors are read");
  }
  file.source = std::make_unique<GgufSource>(std::move(bytes), parser.take_tensors(), std::move(info),
                                             parser.alignment(), std::move(notes));
  return file;
}

}  // namespace gguf

Result<std::unique_ptr<Source>> open_gguf(std::shared_ptr<const ByteSource> bytes, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(gguf::GgufFile file, gguf::open_gguf_file(std::move(bytes), limits, false));
  return std::move(file.source);
}

Result<std::unique_ptr<Source>> open_gguf(const std::filesystem::path& path, const Limits& limits) {
  OWF_ASSIGN_OR_RETURN(auto bytes, open_file_source(path));
  return open_gguf(std::move(bytes), limits);
}

}  // namespace owf::internal
