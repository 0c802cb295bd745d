#include "manifest.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "layout.hpp"
#include "manifest_coverage.hpp"
#include "owf_generated.h"
#include "rules.hpp"
#include "utf8.hpp"

// The C++ enums and the schema's (schema/owf.fbs) agree code for code: the
// decoder and encoder cast between them.
#define OWF_SAME_CODE(ours, schema) static_assert(static_cast<int>(owf::ours) == static_cast<int>(owf::fb::schema))
OWF_SAME_CODE(Role::kOther, Role::Other);
OWF_SAME_CODE(Role::kWeight, Role::Weight);
OWF_SAME_CODE(Role::kBias, Role::Bias);
OWF_SAME_CODE(Role::kEmbedding, Role::Embedding);
OWF_SAME_CODE(Role::kNormalization, Role::Normalization);
OWF_SAME_CODE(Role::kBuffer, Role::Buffer);
static_assert(static_cast<int>(owf::fb::Role::MAX) == static_cast<int>(owf::Role::kBuffer));
OWF_SAME_CODE(Codec::kNone, Codec::None);
OWF_SAME_CODE(Codec::kZstd, Codec::Zstd);
OWF_SAME_CODE(Codec::kZstdByteGroup, Codec::ZstdByteGroup);
static_assert(static_cast<int>(owf::fb::Codec::MAX) == static_cast<int>(owf::Codec::kZstdByteGroup));
OWF_SAME_CODE(IntType::kI64, IntType::I64);
OWF_SAME_CODE(IntType::kU8, IntType::U8);
OWF_SAME_CODE(IntType::kI8, IntType::I8);
OWF_SAME_CODE(IntType::kU16, IntType::U16);
OWF_SAME_CODE(IntType::kI16, IntType::I16);
OWF_SAME_CODE(IntType::kU32, IntType::U32);
OWF_SAME_CODE(IntType::kI32, IntType::I32);
OWF_SAME_CODE(IntType::kU64, IntType::U64);
static_assert(static_cast<int>(owf::fb::IntType::MAX) == static_cast<int>(owf::IntType::kU64));
OWF_SAME_CODE(FloatType::kF64, FloatType::F64);
OWF_SAME_CODE(FloatType::kF32, FloatType::F32);
static_assert(static_cast<int>(owf::fb::FloatType::MAX) == static_cast<int>(owf::FloatType::kF32));
#undef OWF_SAME_CODE

namespace owf::internal {
namespace {

namespace fb = ::owf::fb;

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string_view view(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->c_str(), s->size());
}

// Checks a string from the manifest against UTF-8 and the size limit.
class StringChecker {
 public:
  explicit StringChecker(const Limits& limits) : limits_(limits) {}

  Result<std::string> take(const flatbuffers::String* s, const std::string& field) const {
    const std::string_view v = view(s);
    OWF_RETURN_IF_ERROR(check(v, field));
    return std::string(v);
  }

  Status check(std::string_view v, const std::string& field) const {
    if (v.size() > limits_.max_string_bytes)
      return Error(ErrorCode::kLimitExceeded, field + " is " + std::to_string(v.size()) + " bytes, over the limit of " +
                                                  std::to_string(limits_.max_string_bytes));
    if (auto bad = find_invalid_utf8(v); bad != std::string_view::npos)
      return Error(ErrorCode::kBadUtf8, field + " is not valid UTF-8 (byte " + std::to_string(bad) + ")");
    return {};
  }

  Result<std::vector<std::string>> take_all(const flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>* v,
                                            const std::string& field) const {
    std::vector<std::string> out;
    if (v == nullptr) return out;
    out.reserve(v->size());
    for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
      OWF_ASSIGN_OR_RETURN(std::string s, take(v->Get(i), field + "[" + std::to_string(i) + "]"));
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  const Limits& limits_;
};

Result<Value> decode_value(const fb::Hyperparameter* h, const StringChecker& strings, const std::string& where) {
  auto bad = [&](const std::string& why) { return Error(ErrorCode::kBadHyperparameter, where + ": " + why); };
  auto int_type = [&](fb::IntType t) -> Result<IntType> {
    if (static_cast<unsigned>(t) > static_cast<unsigned>(fb::IntType::U64)) return bad("unknown integer type");
    return static_cast<IntType>(t);
  };
  auto float_type = [&](fb::FloatType t) -> Result<FloatType> {
    if (static_cast<unsigned>(t) > static_cast<unsigned>(fb::FloatType::F32)) return bad("unknown float type");
    return static_cast<FloatType>(t);
  };
  switch (h->value_type()) {
    case fb::Value::BoolValue: {
      // FlatBuffers reads any non-zero byte as true; only 0 and 1 are
      // booleans, so that one value has one encoding.
      const auto byte = reinterpret_cast<const flatbuffers::Table*>(h->value_as_BoolValue())
                            ->GetField<std::uint8_t>(fb::BoolValue::VT_VALUE, 0);
      if (byte > 1) return bad("boolean byte is " + std::to_string(byte) + ", not 0 or 1");
      return Value(byte == 1);
    }
    case fb::Value::IntValue: {
      auto* v = h->value_as_IntValue();
      OWF_ASSIGN_OR_RETURN(IntType t, int_type(v->type()));
      if (!fits_int_type(v->value(), t)) return bad("value does not fit its declared integer type");
      return Value(v->value(), t);
    }
    case fb::Value::FloatValue: {
      auto* v = h->value_as_FloatValue();
      OWF_ASSIGN_OR_RETURN(FloatType t, float_type(v->type()));
      if (!fits_float_type(v->value(), t)) return bad("value is not exactly representable as F32");
      return Value(v->value(), t);
    }
    case fb::Value::StringValue: {
      OWF_ASSIGN_OR_RETURN(std::string s, strings.take(h->value_as_StringValue()->value(), where));
      return Value(std::move(s));
    }
    case fb::Value::BoolArray: {
      auto* v = h->value_as_BoolArray()->values();
      std::vector<bool> out(v->size());
      for (flatbuffers::uoffset_t i = 0; i < v->size(); ++i) {
        if (v->Get(i) > 1)
          return bad("element " + std::to_string(i) + " is the byte " + std::to_string(v->Get(i)) + ", not 0 or 1");
        out[i] = v->Get(i) == 1;
      }
      return Value(std::move(out));
    }
    case fb::Value::IntArray: {
      auto* a = h->value_as_IntArray();
      OWF_ASSIGN_OR_RETURN(IntType t, int_type(a->type()));
      std::vector<std::int64_t> out(a->values()->begin(), a->values()->end());
      for (std::size_t i = 0; i < out.size(); ++i)
        if (!fits_int_type(out[i], t))
          return bad("element " + std::to_string(i) + " does not fit its declared integer type");
      return Value(std::move(out), t);
    }
    case fb::Value::FloatArray: {
      auto* a = h->value_as_FloatArray();
      OWF_ASSIGN_OR_RETURN(FloatType t, float_type(a->type()));
      std::vector<double> out(a->values()->begin(), a->values()->end());
      for (std::size_t i = 0; i < out.size(); ++i)
        if (!fits_float_type(out[i], t))
          return bad("element " + std::to_string(i) + " is not exactly representable as F32");
      return Value(std::move(out), t);
    }
    case fb::Value::StringArray: {
      OWF_ASSIGN_OR_RETURN(std::vector<std::string> out, strings.take_all(h->value_as_StringArray()->values(), where));
      return Value(std::move(out));
    }
    default:
      return bad("unknown value type " + std::to_string(static_cast<unsigned>(h->value_type())));
  }
}

Result<License> decode_license(const fb::License* l, const StringChecker& strings) {
  License out;
  OWF_ASSIGN_OR_RETURN(out.spdx, strings.take(l->spdx(), "license.spdx"));
  if (auto s = validate_spdx_expression(out.spdx); !s.ok()) return s.error();
  OWF_ASSIGN_OR_RETURN(out.concluded, strings.take(l->concluded(), "license.concluded"));
  if (!out.concluded.empty())
    if (auto s = validate_spdx_expression(out.concluded); !s.ok())
      return Error(ErrorCode::kBadLicense, "license.concluded: " + s.error().message());
  OWF_ASSIGN_OR_RETURN(out.name, strings.take(l->name(), "license.name"));
  OWF_ASSIGN_OR_RETURN(out.url, strings.take(l->url(), "license.url"));
  OWF_ASSIGN_OR_RETURN(out.text, strings.take(l->text(), "license.text"));
  OWF_ASSIGN_OR_RETURN(out.copyright, strings.take_all(l->copyright(), "license.copyright"));
  OWF_ASSIGN_OR_RETURN(out.attribution, strings.take(l->attribution(), "license.attribution"));
  OWF_ASSIGN_OR_RETURN(out.restrictions, strings.take(l->restrictions(), "license.restrictions"));
  return out;
}

Result<Provenance> decode_provenance(const fb::Provenance* p, const StringChecker& strings) {
  Provenance out;
  if (p == nullptr) return out;
  OWF_ASSIGN_OR_RETURN(out.name, strings.take(p->name(), "provenance.name"));
  OWF_ASSIGN_OR_RETURN(out.version, strings.take(p->version(), "provenance.version"));
  OWF_ASSIGN_OR_RETURN(out.architecture, strings.take(p->architecture(), "provenance.architecture"));
  OWF_ASSIGN_OR_RETURN(out.description, strings.take(p->description(), "provenance.description"));
  OWF_ASSIGN_OR_RETURN(out.authors, strings.take_all(p->authors(), "provenance.authors"));
  OWF_ASSIGN_OR_RETURN(out.source_url, strings.take(p->source_url(), "provenance.source_url"));
  if (p->base_models() != nullptr) {
    for (flatbuffers::uoffset_t i = 0; i < p->base_models()->size(); ++i) {
      auto* b = p->base_models()->Get(i);
      BaseModel m;
      OWF_ASSIGN_OR_RETURN(m.name, strings.take(b->name(), "provenance.base_models[" + std::to_string(i) + "].name"));
      std::memcpy(m.weights_digest.data(), b->weights_digest()->bytes()->data(), 32);
      out.base_models.push_back(std::move(m));
    }
  }
  OWF_ASSIGN_OR_RETURN(out.training_data, strings.take(p->training_data(), "provenance.training_data"));
  OWF_ASSIGN_OR_RETURN(out.software, strings.take(p->software(), "provenance.software"));
  OWF_ASSIGN_OR_RETURN(out.created, strings.take(p->created(), "provenance.created"));
  return out;
}

// "tensor 12 'name'", built only when an error needs it: formatting it for
// every tensor dominated opening files with many small tensors.
struct TensorPlace {
  std::size_t index;
  std::string_view name;
  std::string text() const { return "tensor " + std::to_string(index) + " '" + std::string(name.substr(0, 200)) + "'"; }
  friend std::string operator+(const TensorPlace& place, std::string_view rest) { return place.text().append(rest); }
};

// Tensor fields that need no knowledge of the file layout.
Status decode_tensor(const fb::Tensor* t, std::size_t index, const Limits& limits, std::uint64_t alignment,
                     std::span<const std::string_view> features, TensorInfo& out, ChunkTable& table,
                     std::vector<ChunkRef>& chunk_storage,
                     std::vector<std::pair<std::size_t, std::size_t>>& chunk_slices) {
  const std::string_view name = view(t->name());
  const TensorPlace where{index, name};
  if (auto s = check_tensor_name(name, limits); !s.ok())
    return Error(s.code(),
                 "tensor " + std::to_string(index) +
                     (s.code() == ErrorCode::kBadUtf8 || name.empty() ? std::string()
                                                                      : " '" + std::string(name.substr(0, 200)) + "'") +
                     ": " + s.error().message());
  out.name = name;

  auto dtype = dtype_from_code(t->dtype());
  if (!dtype) return Error(ErrorCode::kUnknownDtype, where + ": unknown dtype code " + std::to_string(t->dtype()));
  if (auto s = check_dtype_feature(*dtype, features); !s.ok())
    return Error(s.code(), where + ": " + s.error().message());
  out.dtype = *dtype;

  if (t->shape() != nullptr) {
    if (auto s = check_rank(t->shape()->size(), limits); !s.ok())
      return Error(s.code(), where + ": " + s.error().message());
    out.shape = std::span<const std::uint64_t>(t->shape()->data(), t->shape()->size());
  }
  auto count = element_count(out.shape);
  if (!count.ok()) return Error(count.code(), where + ": " + count.error().message());
  out.element_count = *count;
  auto logical = tensor_byte_size(out.dtype, out.shape);
  if (!logical.ok()) return Error(logical.code(), where + ": " + logical.error().message());
  out.logical_bytes = *logical;

  if (auto s = check_role(static_cast<std::uint64_t>(t->role())); !s.ok())
    return Error(s.code(), where + ": " + s.error().message());
  out.role = static_cast<Role>(t->role());

  out.offset = t->offset();
  out.stored_bytes = t->stored_length();
  std::memcpy(out.sha256.data(), t->sha256()->bytes()->data(), 32);

  switch (t->codec()) {
    case fb::Codec::None:
      out.codec = Codec::kNone;
      if (out.stored_bytes != out.logical_bytes)
        return Error(ErrorCode::kTensorSizeMismatch, where + ": stores " + std::to_string(out.stored_bytes) +
                                                         " bytes but " + std::string(dtype_name(out.dtype)) +
                                                         " x shape needs " + std::to_string(out.logical_bytes));
      if (t->chunks() != nullptr || t->chunk_length() != 0)
        return Error(ErrorCode::kBadChunkTable, where + ": an uncompressed tensor has a chunk table");
      break;
    case fb::Codec::Zstd:
    case fb::Codec::ZstdByteGroup: {
      out.codec = t->codec() == fb::Codec::Zstd ? Codec::kZstd : Codec::kZstdByteGroup;
      // validate.cpp checks chunk tables of tensors that store bytes only.
      if (out.stored_bytes == 0)
        return Error(ErrorCode::kBadChunkTable,
                     where + ": a compressed tensor stores no bytes (empty tensors use codec none)");
      table.chunk_length = t->chunk_length();
      const std::size_t first = chunk_storage.size();
      if (t->chunks() != nullptr)
        for (const fb::Chunk* c : *t->chunks()) chunk_storage.push_back({c->offset(), c->stored_length()});
      chunk_slices.emplace_back(index, first);
      break;
    }
    default:
      return Error(ErrorCode::kUnknownCodec,
                   where + ": unknown codec code " + std::to_string(static_cast<unsigned>(t->codec())));
  }

  if (out.stored_bytes == 0) {
    if (out.offset != 0)
      return Error(ErrorCode::kMisalignedTensor,
                   where + ": an empty tensor must have offset 0, has " + std::to_string(out.offset));
  } else if (out.offset % alignment != 0) {
    return Error(ErrorCode::kMisalignedTensor, where + ": offset " + std::to_string(out.offset) +
                                                   " is not a multiple of the alignment " + std::to_string(alignment));
  }
  return {};
}

// The FlatBuffers verifier checks vectors for bounds and 4-byte alignment
// only. Vectors of 64-bit elements (shapes, chunk tables, integer and float
// arrays) are read in place, so their elements must be 8-aligned, as every
// FlatBuffers builder writes them (an empty vector has none to align);
// anything else is a malformed manifest, not a value to read with a
// misaligned load.
Status check_wide_vector_alignment(const fb::Manifest* m) {
  auto misaligned = [](const auto* v) {
    return v != nullptr && v->size() != 0 && reinterpret_cast<std::uintptr_t>(v->Data()) % 8 != 0;
  };
  auto fail = [](const std::string& what) {
    return Error(ErrorCode::kManifestInvalid, what + " is not 8-byte aligned in the manifest");
  };
  if (m->tensors() != nullptr)
    for (flatbuffers::uoffset_t i = 0; i < m->tensors()->size(); ++i) {
      const fb::Tensor* t = m->tensors()->Get(i);
      if (misaligned(t->shape())) return fail("the shape of tensor " + std::to_string(i));
      if (misaligned(t->chunks())) return fail("the chunk table of tensor " + std::to_string(i));
    }
  if (m->hyperparameters() != nullptr)
    for (flatbuffers::uoffset_t i = 0; i < m->hyperparameters()->size(); ++i) {
      const fb::Hyperparameter* h = m->hyperparameters()->Get(i);
      if (const auto* a = h->value_as_IntArray(); a != nullptr && misaligned(a->values()))
        return fail("the values of hyperparameter " + std::to_string(i));
      if (const auto* a = h->value_as_FloatArray(); a != nullptr && misaligned(a->values()))
        return fail("the values of hyperparameter " + std::to_string(i));
    }
  return {};
}

}  // namespace

bool is_known_feature(std::string_view feature) { return find_feature(feature).has_value(); }

namespace {

// R38 (spec/shards.md §3): the set's entries, then whether the file's own
// entry describes the file.
Result<ShardSetInfo> decode_shard_set(const fb::ShardSet& set, const std::vector<TensorInfo>& tensors,
                                      const Limits& limits) {
  ShardSetInfo out;
  std::memcpy(out.weights_digest.data(), set.weights_digest()->bytes()->data(), 32);
  out.index = set.index();
  OWF_RETURN_IF_ERROR(check_shard_count(set.shards()->size(), limits));
  out.shards.reserve(set.shards()->size());
  for (const fb::Shard* shard : *set.shards()) {
    ShardEntry& e = out.shards.emplace_back();
    e.file_name = std::string(view(shard->file_name()));
    e.tensor_count = shard->tensor_count();
    e.first_tensor = std::string(view(shard->first_tensor()));
    std::memcpy(e.weights_digest.data(), shard->weights_digest()->bytes()->data(), 32);
  }
  OWF_RETURN_IF_ERROR(check_shard_entries(out, limits));
  std::vector<DigestEntry> entries;
  entries.reserve(tensors.size());
  for (const TensorInfo& t : tensors) entries.push_back({t.name, t.dtype, t.shape, t.sha256});
  const std::string_view first = tensors.empty() ? std::string_view() : tensors.front().name;
  const std::string_view last = tensors.empty() ? std::string_view() : tensors.back().name;
  OWF_RETURN_IF_ERROR(check_own_shard(out, tensors.size(), first, last, weights_digest_of(std::move(entries))));
  return out;
}

}  // namespace

Result<DecodedManifest> decode_manifest(std::span<const std::byte> bytes, const Limits& limits,
                                        std::uint16_t file_minor) {
  const auto* data = reinterpret_cast<const std::uint8_t*>(bytes.data());
  if (bytes.size() < 8 || !fb::ManifestBufferHasIdentifier(data))
    return Error(ErrorCode::kManifestInvalid, "manifest lacks the FlatBuffers file identifier \"OWF1\"");
  // Every tensor, hyperparameter (two tables), value and base model is a
  // table; the bound follows the configured limits rather than a constant.
  const std::uint64_t table_budget = 2 * limits.max_tensors + 3 * limits.max_metadata_entries + 1024;
  flatbuffers::Verifier verifier(
      data, bytes.size(), 64, static_cast<flatbuffers::uoffset_t>(std::min<std::uint64_t>(table_budget, 0x7fffffff)));
  if (!fb::VerifyManifestBuffer(verifier))
    return Error(ErrorCode::kManifestInvalid,
                 "manifest failed FlatBuffers verification (malformed, or beyond depth/table limits)");
  const fb::Manifest* m = fb::GetManifest(data);
  OWF_RETURN_IF_ERROR(check_wide_vector_alignment(m));
  OWF_RETURN_IF_ERROR(
      check_manifest_coverage(bytes, {.newer_minor = file_minor > kFormatMinor, .file_minor = file_minor}));
  const StringChecker strings(limits);
  DecodedManifest out;

  // Unknown required features first: a file from a newer writer must be
  // reported as such, not as whatever else this reader fails to understand.
  if (m->required_features() != nullptr) {
    for (flatbuffers::uoffset_t i = 0; i < m->required_features()->size(); ++i) {
      const std::string_view f = view(m->required_features()->Get(i));
      if (!is_known_feature(f))
        return Error(ErrorCode::kUnknownRequiredFeature,
                     "file requires feature " + quoted(f.substr(0, 200)) + ", which this reader does not support");
      out.required_features.push_back(f);
    }
  }

  out.alignment = m->alignment();
  if (!is_power_of_two(out.alignment) || out.alignment > std::min<std::uint64_t>(limits.max_alignment, 1ull << 21))
    return Error(ErrorCode::kBadAlignment,
                 "alignment " + std::to_string(out.alignment) + " is not a power of two between 1 and " +
                     std::to_string(std::min<std::uint64_t>(limits.max_alignment, 1ull << 21)));

  const auto* tensors = m->tensors();
  const std::size_t n = tensors == nullptr ? 0 : tensors->size();
  OWF_RETURN_IF_ERROR(check_tensor_count(n, limits));
  out.tensors.resize(n);
  out.chunk_tables.resize(n);
  std::vector<std::pair<std::size_t, std::size_t>> chunk_slices;  // (tensor, first chunk)
  for (std::size_t i = 0; i < n; ++i) {
    OWF_RETURN_IF_ERROR(decode_tensor(tensors->Get(static_cast<flatbuffers::uoffset_t>(i)), i, limits, out.alignment,
                                      out.required_features, out.tensors[i], out.chunk_tables[i], out.chunk_storage,
                                      chunk_slices));
    if (i > 0) {
      const int c = compare_bytes(out.tensors[i - 1].name, out.tensors[i].name);
      if (c == 0)
        return Error(ErrorCode::kDuplicateTensorName, "tensor name " + quoted(out.tensors[i].name.substr(0, 200)) +
                                                          " appears twice (indices " + std::to_string(i - 1) + " and " +
                                                          std::to_string(i) + ")");
      if (c > 0)
        return Error(ErrorCode::kTensorNamesUnsorted,
                     "tensor " + std::to_string(i) + " " + quoted(out.tensors[i].name.substr(0, 200)) +
                         " sorts before its predecessor " + quoted(out.tensors[i - 1].name.substr(0, 200)));
    }
  }
  // Compressed storage needs the "zstd" feature listed (spec/compression.md),
  // so that a reader without it refuses the file up front.
  if (!chunk_slices.empty() &&
      std::find(out.required_features.begin(), out.required_features.end(), "zstd") == out.required_features.end()) {
    const std::size_t index = chunk_slices.front().first;
    return Error(ErrorCode::kBadChunkTable, "tensor " + std::to_string(index) + " " +
                                                quoted(out.tensors[index].name.substr(0, 200)) + " uses codec " +
                                                std::string(codec_name(out.tensors[index].codec)) +
                                                " but required_features does not list \"zstd\"");
  }
  // Chunk spans are taken only now: chunk_storage no longer moves.
  for (std::size_t k = 0; k < chunk_slices.size(); ++k) {
    const auto [index, first] = chunk_slices[k];
    const std::size_t end = k + 1 < chunk_slices.size() ? chunk_slices[k + 1].second : out.chunk_storage.size();
    out.chunk_tables[index].chunks = std::span<const ChunkRef>(out.chunk_storage.data() + first, end - first);
  }

  const std::size_t n_hparams = m->hyperparameters() == nullptr ? 0 : m->hyperparameters()->size();
  const std::size_t n_meta = m->metadata() == nullptr ? 0 : m->metadata()->size();
  OWF_RETURN_IF_ERROR(check_entry_count(n_hparams + n_meta, limits));
  std::string_view previous;
  for (std::size_t i = 0; i < n_hparams; ++i) {
    const auto* h = m->hyperparameters()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const std::string_view key = view(h->key());
    // Every string passes R27 (limit, UTF-8) before the rules of its field;
    // the key is quoted in messages only once it is known to be UTF-8.
    OWF_RETURN_IF_ERROR(strings.check(key, "the key of hyperparameter " + std::to_string(i)));
    const std::string where = "hyperparameter " + quoted(key.substr(0, 200));
    if (auto s = validate_hyperparameter_key(key); !s.ok()) return s.error();
    if (i > 0 && compare_bytes(previous, key) >= 0)
      return Error(ErrorCode::kBadHyperparameter, where + (previous == key ? " appears twice" : " is out of order"));
    previous = key;
    OWF_ASSIGN_OR_RETURN(Value v, decode_value(h, strings, where));
    out.info.hyperparameters.emplace_hint(out.info.hyperparameters.end(), std::string(key), std::move(v));
  }
  for (std::size_t i = 0; i < n_meta; ++i) {
    const auto* kv = m->metadata()->Get(static_cast<flatbuffers::uoffset_t>(i));
    const std::string_view key = view(kv->key());
    if (key.empty()) return Error(ErrorCode::kBadMetadata, "metadata entry " + std::to_string(i) + " has an empty key");
    // The key is quoted in messages only once it is known to be UTF-8.
    OWF_RETURN_IF_ERROR(strings.check(key, "the key of metadata entry " + std::to_string(i)));
    const std::string where = "metadata key " + quoted(key.substr(0, 200));
    if (i > 0 && compare_bytes(previous, key) >= 0)
      return Error(ErrorCode::kBadMetadata, where + (previous == key ? " appears twice" : " is out of order"));
    previous = key;
    OWF_ASSIGN_OR_RETURN(std::string value, strings.take(kv->value(), "the value of " + where));
    out.info.metadata.emplace_hint(out.info.metadata.end(), std::string(key), std::move(value));
  }

  OWF_ASSIGN_OR_RETURN(License license, decode_license(m->license(), strings));
  out.info.license = std::move(license);
  OWF_ASSIGN_OR_RETURN(out.info.provenance, decode_provenance(m->provenance(), strings));
  // R37 (spec/signatures.md): a signature entry is well-formed; whether it
  // verifies is a question for a verifier, not for opening the file.
  if (const auto* sigs = m->signatures(); sigs != nullptr) {
    OWF_RETURN_IF_ERROR(check_signature_count(sigs->size(), limits));
    out.signatures.reserve(sigs->size());
    for (flatbuffers::uoffset_t i = 0; i < sigs->size(); ++i) {
      const fb::Signature* s = sigs->Get(i);
      OWF_RETURN_IF_ERROR(check_signature_fields(i, view(s->algorithm()), view(s->key_id()), view(s->covers()),
                                                 s->signature()->size()));
      out.signatures.push_back({std::string(view(s->algorithm())), std::string(view(s->key_id())),
                                std::string(view(s->covers())),
                                std::vector<std::uint8_t>(s->signature()->begin(), s->signature()->end())});
    }
  }
  if (const fb::ShardSet* set = m->shard_set(); set != nullptr) {
    OWF_ASSIGN_OR_RETURN(out.shard_set, decode_shard_set(*set, out.tensors, limits));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Encoding

namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;

Offset<flatbuffers::String> optional_string(FlatBufferBuilder& fbb, const std::string& s) {
  return s.empty() ? Offset<flatbuffers::String>() : fbb.CreateString(s);
}

Offset<flatbuffers::Vector<Offset<flatbuffers::String>>> optional_strings(FlatBufferBuilder& fbb,
                                                                          const std::vector<std::string>& v) {
  return v.empty() ? Offset<flatbuffers::Vector<Offset<flatbuffers::String>>>() : fbb.CreateVectorOfStrings(v);
}

fb::Sha256 to_fb(const Sha256Digest& d) { return fb::Sha256(flatbuffers::span<const std::uint8_t, 32>(d.data(), 32)); }

Offset<fb::Hyperparameter> encode_hyperparameter(FlatBufferBuilder& fbb, const std::string& key, const Value& v) {
  const auto key_offset = fbb.CreateString(key);
  const auto it = static_cast<fb::IntType>(v.int_type);
  const auto ft = static_cast<fb::FloatType>(v.float_type);
  struct Encode {
    FlatBufferBuilder& fbb;
    fb::IntType it;
    fb::FloatType ft;
    std::pair<fb::Value, Offset<void>> operator()(bool b) const {
      return {fb::Value::BoolValue, fb::CreateBoolValue(fbb, b).Union()};
    }
    std::pair<fb::Value, Offset<void>> operator()(std::int64_t i) const {
      return {fb::Value::IntValue, fb::CreateIntValue(fbb, i, it).Union()};
    }
    std::pair<fb::Value, Offset<void>> operator()(double d) const {
      // FlatBuffers leaves out a field equal to its default, and -0.0 == 0.0:
      // -0.0 is written explicitly so that its sign survives.
      fb::FloatValueBuilder b(fbb);
      fbb.ForceDefaults(d == 0 && std::signbit(d));
      b.add_value(d);
      fbb.ForceDefaults(false);
      b.add_type(ft);
      return {fb::Value::FloatValue, b.Finish().Union()};
    }
    std::pair<fb::Value, Offset<void>> operator()(const std::string& s) const {
      return {fb::Value::StringValue, fb::CreateStringValue(fbb, fbb.CreateString(s)).Union()};
    }
    std::pair<fb::Value, Offset<void>> operator()(const std::vector<bool>& v) const {
      std::vector<std::uint8_t> bytes(v.begin(), v.end());
      return {fb::Value::BoolArray, fb::CreateBoolArray(fbb, fbb.CreateVector(bytes)).Union()};
    }
    std::pair<fb::Value, Offset<void>> operator()(const std::vector<std::int64_t>& v) const {
      return {fb::Value::IntArray, fb::CreateIntArray(fbb, fbb.CreateVector(v), it).Union()};
    }
    std::pair<fb::Value, Offset<void>> operator()(const std::vector<double>& v) const {
      return {fb::Value::FloatArray, fb::CreateFloatArray(fbb, fbb.CreateVector(v), ft).Union()};
    }
    std::pair<fb::Value, Offset<void>> operator()(const std::vector<std::string>& v) const {
      return {fb::Value::StringArray, fb::CreateStringArray(fbb, fbb.CreateVectorOfStrings(v)).Union()};
    }
  };
  const auto [type, value] = std::visit(Encode{fbb, it, ft}, v.data);
  return fb::CreateHyperparameter(fbb, key_offset, type, value);
}

}  // namespace

namespace {

// FlatBuffers aborts past 2 GiB; the encoder refuses well before that.
constexpr std::uint64_t kMaxEncodedEstimate = (1ull << 31) - (1ull << 24);
// What a tensor table takes besides its name, shape and chunks, rounded up
// (the refusal above counts on it being an upper bound).
constexpr std::uint64_t kTensorOverhead = 160;

std::uint64_t estimate_of(const TensorRecord& t) {
  return t.name.size() + 8 * t.shape.size() + 16 * t.chunks.size() + kTensorOverhead;
}

std::uint64_t estimate_of(const ManifestModel& model) {
  std::uint64_t estimate = 4096;
  for (const auto& t : model.tensors) estimate += estimate_of(t);
  for (const auto& [k, v] : model.info.metadata) estimate += k.size() + v.size() + 32;
  for (const auto& [k, v] : model.info.hyperparameters) {
    estimate += k.size() + 64;
    if (auto* s = std::get_if<std::vector<std::string>>(&v.data))
      for (const auto& e : *s) estimate += e.size() + 12;
    else if (auto* str = std::get_if<std::string>(&v.data))
      estimate += str->size();
    else if (auto* iv = std::get_if<std::vector<std::int64_t>>(&v.data))
      estimate += 8 * iv->size();
    else if (auto* dv = std::get_if<std::vector<double>>(&v.data))
      estimate += 8 * dv->size();
    else if (auto* bv = std::get_if<std::vector<bool>>(&v.data))
      estimate += bv->size();
  }
  if (model.info.license) estimate += model.info.license->text.size() + 1024;
  estimate += 1300 * model.signatures.size();
  if (model.shard_set)
    for (const ShardEntry& e : model.shard_set->shards) estimate += e.file_name.size() + e.first_tensor.size() + 96;
  return estimate;
}

Error over_flatbuffers_limit(std::uint64_t estimate) {
  return Error(ErrorCode::kLimitExceeded,
               "manifest would be about " + std::to_string(estimate) + " bytes, over FlatBuffers' 2 GiB limit");
}

// FlatBuffers' buffer, grown without copying the manifest. The builder
// keeps its data at the end of its buffer and, when it grows, wants it at
// the end of a larger one; its default allocator copies it there, which
// for 100,000 tensors was a fifth of the writer's time, and holds the
// manifest twice at that moment. Here every buffer ends at the same
// address, the top of an address range reserved once (pages never touched
// cost no memory): a larger buffer has the data in place already, and
// only the builder's small scratch area at the front moves. Where no such
// range can be reserved, mremap moves pages instead of bytes, then the
// data moves up piece by piece and each page it leaves is released.
class PageAllocator final : public flatbuffers::Allocator {
 public:
  PageAllocator() = default;
  PageAllocator(const PageAllocator&) = delete;
  PageAllocator& operator=(const PageAllocator&) = delete;
  ~PageAllocator() override { release_range(); }

  std::uint8_t* allocate(std::size_t size) override {
    if (!range_in_use_ && size <= kRange && reserve_range()) {
      range_in_use_ = true;
      return top() - size;
    }
    void* p = ::mmap(nullptr, pages(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    return static_cast<std::uint8_t*>(p);
  }

  void deallocate(std::uint8_t* p, std::size_t size) override {
    if (in_range(p)) {
      range_in_use_ = false;
      release_range();  // its pages go back now, not when the encoder goes
      return;
    }
    ::munmap(p, pages(size));
  }

  std::uint8_t* reallocate_downward(std::uint8_t* old_p, std::size_t old_size, std::size_t new_size,
                                    std::size_t in_use_back, std::size_t in_use_front) override {
    if (!in_range(old_p)) return move_pages(old_p, old_size, new_size, in_use_back, in_use_front);
    if (new_size > kRange) throw std::bad_alloc();  // beyond FlatBuffers' own 2 GiB limit
    std::uint8_t* p = top() - new_size;
    std::memmove(p, old_p, in_use_front);
    return p;
  }

 private:
  // Above FlatBuffers' 2 GiB limit, with room for the builder's growth by half.
  static constexpr std::size_t kRange = std::size_t{1} << 32;

  bool reserve_range() {
    if (range_ != nullptr) return true;
    if constexpr (sizeof(void*) < 8) return false;
    void* p = ::mmap(nullptr, kRange, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    // Huge pages where the system offers them: a 12 MiB manifest is then
    // six page faults instead of three thousand.
    ::madvise(p, kRange, MADV_HUGEPAGE);
    range_ = static_cast<std::uint8_t*>(p);
    return true;
  }
  void release_range() {
    if (range_ != nullptr && !range_in_use_) {
      ::munmap(range_, kRange);
      range_ = nullptr;
    }
  }
  std::uint8_t* top() const { return range_ + kRange; }
  bool in_range(const std::uint8_t* p) const { return range_ != nullptr && p >= range_ && p < top(); }

  static std::uint8_t* move_pages(std::uint8_t* old_p, std::size_t old_size, std::size_t new_size,
                                  std::size_t in_use_back, std::size_t in_use_front) {
    void* q = ::mremap(old_p, pages(old_size), pages(new_size), MREMAP_MAYMOVE);
    if (q == MAP_FAILED) throw std::bad_alloc();
    auto* p = static_cast<std::uint8_t*>(q);
    const std::size_t shift = new_size - old_size;
    const std::size_t begin = old_size - in_use_back;  // the data: [begin, old_size) -> [begin + shift, new_size)
    constexpr std::size_t kPiece = 1u << 20;
    for (std::size_t end = old_size; end > begin;) {
      const std::size_t n = std::min(kPiece, end - begin);
      std::memmove(p + end - n + shift, p + end - n, n);
      end -= n;
      // Free what the data left, outside the front scratch and the data's new place.
      const std::size_t lo = pages(std::max(end, in_use_front));
      const std::size_t hi = std::min(end + n, begin + shift) & ~(kPage - 1);
      if (lo < hi) ::madvise(p + lo, hi - lo, MADV_DONTNEED);
    }
    return p;
  }

  inline static const std::size_t kPage = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  static std::size_t pages(std::size_t bytes) { return (bytes + kPage - 1) & ~(kPage - 1); }

  std::uint8_t* range_ = nullptr;
  bool range_in_use_ = false;
};

}  // namespace

struct ManifestEncoder::State {
  explicit State(std::size_t initial_bytes) : fbb(initial_bytes, &allocator) {}
  PageAllocator allocator;  // before the builder, which frees its buffer through it
  FlatBufferBuilder fbb;
  std::vector<Offset<fb::Tensor>> tensors;         // in the order added
  std::vector<Offset<flatbuffers::String>> names;  // parallel to tensors
  std::vector<std::uint32_t> slots;                // name index: position in tensors + 1; 0 empty
  std::uint64_t estimate = 4096;
  bool finished = false;

  // A string already in the buffer, found from the end, which stays put
  // when the buffer grows (FlatBuffers builds back to front).
  std::string_view name(std::size_t i) const {
    return view(
        reinterpret_cast<const flatbuffers::String*>(fbb.GetCurrentBufferPointer() + fbb.GetSize() - names[i].o));
  }
  std::size_t slot_of(std::string_view name) const { return std::hash<std::string_view>{}(name) & (slots.size() - 1); }
  void index(std::size_t i) {
    std::size_t k = slot_of(name(i));
    while (slots[k] != 0) k = (k + 1) & (slots.size() - 1);
    slots[k] = static_cast<std::uint32_t>(i + 1);
  }
};

ManifestEncoder::ManifestEncoder(std::size_t initial_bytes) : state_(std::make_unique<State>(initial_bytes)) {}
ManifestEncoder::~ManifestEncoder() = default;
ManifestEncoder::ManifestEncoder(ManifestEncoder&&) noexcept = default;
ManifestEncoder& ManifestEncoder::operator=(ManifestEncoder&&) noexcept = default;

std::size_t ManifestEncoder::tensor_count() const { return state_->tensors.size(); }

std::vector<DigestEntry> ManifestEncoder::digest_entries() const {
  const State& s = *state_;
  std::vector<DigestEntry> out;
  out.reserve(s.tensors.size());
  for (std::size_t i = 0; i < s.tensors.size(); ++i) {
    // A table already built, found from the end of the buffer as names are.
    const auto* t =
        reinterpret_cast<const fb::Tensor*>(s.fbb.GetCurrentBufferPointer() + s.fbb.GetSize() - s.tensors[i].o);
    DigestEntry e{s.name(i), static_cast<DType>(t->dtype()), {}, {}};
    if (t->shape() != nullptr) e.shape = std::span<const std::uint64_t>(t->shape()->data(), t->shape()->size());
    std::memcpy(e.sha256.data(), t->sha256()->bytes()->data(), 32);
    out.push_back(e);
  }
  return out;
}

bool ManifestEncoder::contains(std::string_view name) const {
  const State& s = *state_;
  if (s.slots.empty()) return false;
  for (std::size_t k = s.slot_of(name); s.slots[k] != 0; k = (k + 1) & (s.slots.size() - 1))
    if (s.name(s.slots[k] - 1) == name) return true;
  return false;
}

Status ManifestEncoder::add_tensor(const TensorRecord& t) {
  State& s = *state_;
  if (s.finished) return Error(ErrorCode::kInvalidArgument, "add_tensor() after finish()");
  // The index holds positions as 32 bits; far beyond any tensor limit.
  if (s.tensors.size() >= 0x7fffffff) return Error(ErrorCode::kLimitExceeded, "more than 2^31 tensors in one manifest");
  if (s.estimate + estimate_of(t) > kMaxEncodedEstimate) return over_flatbuffers_limit(s.estimate + estimate_of(t));
  s.estimate += estimate_of(t);
  FlatBufferBuilder& fbb = s.fbb;
  const auto name = fbb.CreateString(t.name);
  const auto shape = fbb.CreateVector(t.shape);
  Offset<flatbuffers::Vector<const fb::Chunk*>> chunks;
  if (t.codec != Codec::kNone) {
    std::vector<fb::Chunk> c;
    c.reserve(t.chunks.size());
    for (const auto& ref : t.chunks) c.emplace_back(ref.offset, ref.stored_length);
    chunks = fbb.CreateVectorOfStructs(c);
  }
  const fb::Sha256 digest = to_fb(t.sha256);
  s.tensors.push_back(fb::CreateTensor(fbb, name, static_cast<std::uint16_t>(t.dtype), shape,
                                       static_cast<fb::Role>(t.role), t.offset, t.stored_length,
                                       static_cast<fb::Codec>(t.codec), &digest, t.chunk_length, chunks));
  s.names.push_back(name);
  if (2 * s.tensors.size() > s.slots.size()) {
    s.slots.assign(std::bit_ceil(std::max<std::size_t>(64, 4 * s.tensors.size())), 0);
    for (std::size_t i = 0; i < s.tensors.size(); ++i) s.index(i);
  } else {
    s.index(s.tensors.size() - 1);
  }
  return {};
}

void ManifestEncoder::set_digest(std::size_t position, const Sha256Digest& digest) {
  State& s = *state_;
  // The table is in the buffer already, found from its end; the digest is
  // a struct stored inline, so it is rewritten in place.
  auto* table =
      reinterpret_cast<const fb::Tensor*>(s.fbb.GetCurrentBufferPointer() + s.fbb.GetSize() - s.tensors[position].o);
  const fb::Sha256 encoded = to_fb(digest);
  std::memcpy(const_cast<fb::Sha256*>(table->sha256()), &encoded, sizeof encoded);
}

Result<std::span<const std::byte>> ManifestEncoder::finish(ManifestModel rest) {
  State& s = *state_;
  if (s.finished) return Error(ErrorCode::kInvalidArgument, "finish() called twice");
  if (!rest.tensors.empty()) return Error(ErrorCode::kInvalidArgument, "finish(): tensors go through add_tensor()");
  if (s.estimate + estimate_of(rest) > kMaxEncodedEstimate)
    return over_flatbuffers_limit(s.estimate + estimate_of(rest));
  if (!rest.info.license)
    return Error(ErrorCode::kMissingLicense, "no license set: give an SPDX expression, or NOASSERTION explicitly");
  s.finished = true;
  FlatBufferBuilder& fbb = s.fbb;

  // Tensors in name order (bytes, R20); the tables stay where they were built.
  std::vector<std::uint32_t> order(s.tensors.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](std::uint32_t a, std::uint32_t b) { return compare_bytes(s.name(a), s.name(b)) < 0; });
  s.slots = {};
  s.names = {};
  std::vector<Offset<fb::Tensor>> sorted(order.size());
  for (std::size_t i = 0; i < order.size(); ++i) sorted[i] = s.tensors[order[i]];
  s.tensors = {};
  order = {};
  const auto tensor_vector = fbb.CreateVector(sorted);
  sorted = {};

  std::sort(rest.required_features.begin(), rest.required_features.end());
  rest.required_features.erase(std::unique(rest.required_features.begin(), rest.required_features.end()),
                               rest.required_features.end());
  std::vector<Offset<fb::Hyperparameter>> hparams;
  for (const auto& [k, v] : rest.info.hyperparameters) hparams.push_back(encode_hyperparameter(fbb, k, v));
  const auto hparam_vector =
      hparams.empty() ? Offset<flatbuffers::Vector<Offset<fb::Hyperparameter>>>() : fbb.CreateVector(hparams);
  std::vector<Offset<fb::KeyValue>> meta;
  for (const auto& [k, v] : rest.info.metadata)
    meta.push_back(fb::CreateKeyValue(fbb, fbb.CreateString(k), fbb.CreateString(v)));
  const auto meta_vector = meta.empty() ? Offset<flatbuffers::Vector<Offset<fb::KeyValue>>>() : fbb.CreateVector(meta);

  const License& l = *rest.info.license;
  const auto license =
      fb::CreateLicense(fbb, fbb.CreateString(l.spdx), optional_string(fbb, l.concluded), optional_string(fbb, l.name),
                        optional_string(fbb, l.url), optional_string(fbb, l.text), optional_strings(fbb, l.copyright),
                        optional_string(fbb, l.attribution), optional_string(fbb, l.restrictions));
  const Provenance& p = rest.info.provenance;
  std::vector<Offset<fb::BaseModel>> bases;
  for (const auto& b : p.base_models) {
    const fb::Sha256 d = to_fb(b.weights_digest);
    bases.push_back(fb::CreateBaseModel(fbb, optional_string(fbb, b.name), &d));
  }
  const auto provenance = fb::CreateProvenance(
      fbb, optional_string(fbb, p.name), optional_string(fbb, p.version), optional_string(fbb, p.architecture),
      optional_string(fbb, p.description), optional_strings(fbb, p.authors), optional_string(fbb, p.source_url),
      bases.empty() ? Offset<flatbuffers::Vector<Offset<fb::BaseModel>>>() : fbb.CreateVector(bases),
      optional_string(fbb, p.training_data), optional_string(fbb, p.software), optional_string(fbb, p.created));

  std::vector<Offset<fb::Signature>> sigs;
  for (const Signature& sig : rest.signatures)
    sigs.push_back(fb::CreateSignature(fbb, fbb.CreateString(sig.algorithm), fbb.CreateString(sig.key_id),
                                       fbb.CreateString(sig.covers), fbb.CreateVector(sig.bytes)));
  const auto sig_vector = sigs.empty() ? Offset<flatbuffers::Vector<Offset<fb::Signature>>>() : fbb.CreateVector(sigs);

  Offset<fb::ShardSet> shard_set;
  if (rest.shard_set) {
    std::vector<Offset<fb::Shard>> shards;
    for (const ShardEntry& e : rest.shard_set->shards) {
      const fb::Sha256 d = to_fb(e.weights_digest);
      shards.push_back(
          fb::CreateShard(fbb, fbb.CreateString(e.file_name), e.tensor_count, fbb.CreateString(e.first_tensor), &d));
    }
    const auto shard_vector = fbb.CreateVector(shards);
    const fb::Sha256 d = to_fb(rest.shard_set->weights_digest);
    shard_set = fb::CreateShardSet(fbb, &d, rest.shard_set->index, shard_vector);
  }

  const auto features = optional_strings(fbb, rest.required_features);
  const auto root = fb::CreateManifest(fbb, rest.alignment, features, tensor_vector, hparam_vector, meta_vector,
                                       license, provenance, sig_vector, shard_set);
  fb::FinishManifestBuffer(fbb, root);
  return std::span(reinterpret_cast<const std::byte*>(fbb.GetBufferPointer()), fbb.GetSize());
}

Result<std::vector<std::byte>> encode_manifest(ManifestModel model) {
  // Refused before anything is built, whatever the order of the tensors.
  if (const std::uint64_t estimate = estimate_of(model); estimate > kMaxEncodedEstimate)
    return over_flatbuffers_limit(estimate);
  std::sort(model.tensors.begin(), model.tensors.end(),
            [](const TensorRecord& a, const TensorRecord& b) { return compare_bytes(a.name, b.name) < 0; });
  // The buffer starts near the real size (a tensor table is about 88 bytes
  // besides its name, shape and chunks), so that it neither grows nor sits
  // half empty.
  ManifestEncoder encoder(static_cast<std::size_t>(
      std::min<std::uint64_t>(estimate_of(model) - (kTensorOverhead - 88) * model.tensors.size(), 1ull << 26)));
  for (const auto& t : model.tensors) OWF_RETURN_IF_ERROR(encoder.add_tensor(t));
  model.tensors = {};
  OWF_ASSIGN_OR_RETURN(const auto bytes, encoder.finish(std::move(model)));
  return std::vector<std::byte>(bytes.begin(), bytes.end());
}

Status check_manifest(std::span<const std::byte> bytes, const Limits& limits) {
  std::vector<std::uint64_t> aligned((bytes.size() + 7) / 8);
  if (!bytes.empty()) std::memcpy(aligned.data(), bytes.data(), bytes.size());
  return decode_manifest(std::span(reinterpret_cast<const std::byte*>(aligned.data()), bytes.size()), limits).status();
}

Status check_info(ModelInfo info) {
  ManifestModel model;
  if (!info.license) info.license = License{.spdx = "NOASSERTION"};
  model.info = std::move(info);
  OWF_ASSIGN_OR_RETURN(const std::vector<std::byte> bytes, encode_manifest(std::move(model)));
  return check_manifest(bytes, Limits{});
}

}  // namespace owf::internal
