// The C API (owf/owf.h) over the C++ library.
//
// Every entry point runs its body through guard(), which turns any C++
// exception into a status code: nothing unwinds into C callers. Handles keep
// the last error message; index tables for hyperparameters and metadata are
// built once at open so that lookups by index are O(1).
#include <cstring>
#include <exception>
#include <mutex>
#include <new>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "owf/elements.hpp"
#include "owf/owf.h"
#include "owf/owf.hpp"
#include "rules.hpp"

static_assert(OWF_VERSION_MAJOR == owf::kLibraryVersionMajor && OWF_VERSION_MINOR == owf::kLibraryVersionMinor &&
                  OWF_VERSION_PATCH == owf::kLibraryVersionPatch,
              "owf.h and version.hpp disagree on the library version");
// Every code of owf.h equals its C++ counterpart (error, dtype, role, codec):
// the compiler checks each pair, so neither list can drift. (OWF_OUT_OF_MEMORY
// is the C API's own.)
static_assert(static_cast<int>(owf::ErrorCode::kOk) == OWF_OK);
static_assert(static_cast<int>(owf::ErrorCode::kIoError) == OWF_IO_ERROR);
static_assert(static_cast<int>(owf::ErrorCode::kInvalidArgument) == OWF_INVALID_ARGUMENT);
static_assert(static_cast<int>(owf::ErrorCode::kNotFound) == OWF_NOT_FOUND);
static_assert(static_cast<int>(owf::ErrorCode::kUnsupported) == OWF_UNSUPPORTED);
static_assert(static_cast<int>(owf::ErrorCode::kLimitExceeded) == OWF_LIMIT_EXCEEDED);
static_assert(static_cast<int>(owf::ErrorCode::kAlreadyExists) == OWF_ALREADY_EXISTS);
static_assert(static_cast<int>(owf::ErrorCode::kTruncated) == OWF_TRUNCATED);
static_assert(static_cast<int>(owf::ErrorCode::kBadMagic) == OWF_BAD_MAGIC);
static_assert(static_cast<int>(owf::ErrorCode::kBadFooterMagic) == OWF_BAD_FOOTER_MAGIC);
static_assert(static_cast<int>(owf::ErrorCode::kUnsupportedVersion) == OWF_UNSUPPORTED_VERSION);
static_assert(static_cast<int>(owf::ErrorCode::kVersionMismatch) == OWF_VERSION_MISMATCH);
static_assert(static_cast<int>(owf::ErrorCode::kBadHeader) == OWF_BAD_HEADER);
static_assert(static_cast<int>(owf::ErrorCode::kBadFooter) == OWF_BAD_FOOTER);
static_assert(static_cast<int>(owf::ErrorCode::kManifestOutOfRange) == OWF_MANIFEST_OUT_OF_RANGE);
static_assert(static_cast<int>(owf::ErrorCode::kManifestDigestMismatch) == OWF_MANIFEST_DIGEST_MISMATCH);
static_assert(static_cast<int>(owf::ErrorCode::kManifestInvalid) == OWF_MANIFEST_INVALID);
static_assert(static_cast<int>(owf::ErrorCode::kUnknownRequiredFeature) == OWF_UNKNOWN_REQUIRED_FEATURE);
static_assert(static_cast<int>(owf::ErrorCode::kBadAlignment) == OWF_BAD_ALIGNMENT);
static_assert(static_cast<int>(owf::ErrorCode::kBadTensorName) == OWF_BAD_TENSOR_NAME);
static_assert(static_cast<int>(owf::ErrorCode::kTensorNamesUnsorted) == OWF_TENSOR_NAMES_UNSORTED);
static_assert(static_cast<int>(owf::ErrorCode::kDuplicateTensorName) == OWF_DUPLICATE_TENSOR_NAME);
static_assert(static_cast<int>(owf::ErrorCode::kUnknownDtype) == OWF_UNKNOWN_DTYPE);
static_assert(static_cast<int>(owf::ErrorCode::kShapeOverflow) == OWF_SHAPE_OVERFLOW);
static_assert(static_cast<int>(owf::ErrorCode::kTensorSizeMismatch) == OWF_TENSOR_SIZE_MISMATCH);
static_assert(static_cast<int>(owf::ErrorCode::kUnknownCodec) == OWF_UNKNOWN_CODEC);
static_assert(static_cast<int>(owf::ErrorCode::kMisalignedTensor) == OWF_MISALIGNED_TENSOR);
static_assert(static_cast<int>(owf::ErrorCode::kTensorOutOfRange) == OWF_TENSOR_OUT_OF_RANGE);
static_assert(static_cast<int>(owf::ErrorCode::kTensorOverlap) == OWF_TENSOR_OVERLAP);
static_assert(static_cast<int>(owf::ErrorCode::kUncoveredBytes) == OWF_UNCOVERED_BYTES);
static_assert(static_cast<int>(owf::ErrorCode::kNonZeroPadding) == OWF_NON_ZERO_PADDING);
static_assert(static_cast<int>(owf::ErrorCode::kTensorDigestMismatch) == OWF_TENSOR_DIGEST_MISMATCH);
static_assert(static_cast<int>(owf::ErrorCode::kUnknownRole) == OWF_UNKNOWN_ROLE);
static_assert(static_cast<int>(owf::ErrorCode::kDtypeMismatch) == OWF_DTYPE_MISMATCH);
static_assert(static_cast<int>(owf::ErrorCode::kNonCanonicalTensorData) == OWF_NONCANONICAL_TENSOR_DATA);
static_assert(static_cast<int>(owf::ErrorCode::kBadUtf8) == OWF_BAD_UTF8);
static_assert(static_cast<int>(owf::ErrorCode::kBadHyperparameter) == OWF_BAD_HYPERPARAMETER);
static_assert(static_cast<int>(owf::ErrorCode::kBadMetadata) == OWF_BAD_METADATA);
static_assert(static_cast<int>(owf::ErrorCode::kMissingLicense) == OWF_MISSING_LICENSE);
static_assert(static_cast<int>(owf::ErrorCode::kBadLicense) == OWF_BAD_LICENSE);
static_assert(static_cast<int>(owf::ErrorCode::kBadProvenance) == OWF_BAD_PROVENANCE);
static_assert(static_cast<int>(owf::ErrorCode::kBadSignature) == OWF_BAD_SIGNATURE);
static_assert(static_cast<int>(owf::ErrorCode::kBadShardSet) == OWF_BAD_SHARD_SET);
static_assert(static_cast<int>(owf::ErrorCode::kShardSetMismatch) == OWF_SHARD_SET_MISMATCH);
static_assert(static_cast<int>(owf::ErrorCode::kBadChunkTable) == OWF_BAD_CHUNK_TABLE);
static_assert(static_cast<int>(owf::ErrorCode::kCorruptCompressedData) == OWF_CORRUPT_COMPRESSED_DATA);
static_assert(static_cast<int>(owf::ErrorCode::kForeignFormatInvalid) == OWF_FOREIGN_FORMAT_INVALID);
static_assert(static_cast<int>(owf::ErrorCode::kForeignFormatUnsupported) == OWF_FOREIGN_FORMAT_UNSUPPORTED);
static_assert(static_cast<int>(owf::ErrorCode::kDigestExpectationFailed) == OWF_DIGEST_EXPECTATION_FAILED);
static_assert(static_cast<int>(owf::DType::kBool) == OWF_DTYPE_BOOL);
static_assert(static_cast<int>(owf::DType::kU8) == OWF_DTYPE_U8);
static_assert(static_cast<int>(owf::DType::kI8) == OWF_DTYPE_I8);
static_assert(static_cast<int>(owf::DType::kU16) == OWF_DTYPE_U16);
static_assert(static_cast<int>(owf::DType::kI16) == OWF_DTYPE_I16);
static_assert(static_cast<int>(owf::DType::kU32) == OWF_DTYPE_U32);
static_assert(static_cast<int>(owf::DType::kI32) == OWF_DTYPE_I32);
static_assert(static_cast<int>(owf::DType::kU64) == OWF_DTYPE_U64);
static_assert(static_cast<int>(owf::DType::kI64) == OWF_DTYPE_I64);
static_assert(static_cast<int>(owf::DType::kF16) == OWF_DTYPE_F16);
static_assert(static_cast<int>(owf::DType::kBF16) == OWF_DTYPE_BF16);
static_assert(static_cast<int>(owf::DType::kF32) == OWF_DTYPE_F32);
static_assert(static_cast<int>(owf::DType::kF64) == OWF_DTYPE_F64);
static_assert(static_cast<int>(owf::DType::kC64) == OWF_DTYPE_C64);
static_assert(static_cast<int>(owf::DType::kC128) == OWF_DTYPE_C128);
static_assert(static_cast<int>(owf::DType::kF8_E4M3FN) == OWF_DTYPE_F8_E4M3FN);
static_assert(static_cast<int>(owf::DType::kF8_E5M2) == OWF_DTYPE_F8_E5M2);
static_assert(static_cast<int>(owf::DType::kF8_E8M0) == OWF_DTYPE_F8_E8M0);
static_assert(static_cast<int>(owf::DType::kF4_E2M1) == OWF_DTYPE_F4_E2M1);
static_assert(static_cast<int>(owf::DType::kF6_E2M3) == OWF_DTYPE_F6_E2M3);
static_assert(static_cast<int>(owf::DType::kF6_E3M2) == OWF_DTYPE_F6_E3M2);
static_assert(static_cast<int>(owf::DType::kQ4_0) == OWF_DTYPE_Q4_0);
static_assert(static_cast<int>(owf::DType::kQ4_1) == OWF_DTYPE_Q4_1);
static_assert(static_cast<int>(owf::DType::kQ5_0) == OWF_DTYPE_Q5_0);
static_assert(static_cast<int>(owf::DType::kQ5_1) == OWF_DTYPE_Q5_1);
static_assert(static_cast<int>(owf::DType::kQ8_0) == OWF_DTYPE_Q8_0);
static_assert(static_cast<int>(owf::DType::kQ8_1) == OWF_DTYPE_Q8_1);
static_assert(static_cast<int>(owf::DType::kQ2_K) == OWF_DTYPE_Q2_K);
static_assert(static_cast<int>(owf::DType::kQ3_K) == OWF_DTYPE_Q3_K);
static_assert(static_cast<int>(owf::DType::kQ4_K) == OWF_DTYPE_Q4_K);
static_assert(static_cast<int>(owf::DType::kQ5_K) == OWF_DTYPE_Q5_K);
static_assert(static_cast<int>(owf::DType::kQ6_K) == OWF_DTYPE_Q6_K);
static_assert(static_cast<int>(owf::DType::kQ8_K) == OWF_DTYPE_Q8_K);
static_assert(static_cast<int>(owf::DType::kIQ2_XXS) == OWF_DTYPE_IQ2_XXS);
static_assert(static_cast<int>(owf::DType::kIQ2_XS) == OWF_DTYPE_IQ2_XS);
static_assert(static_cast<int>(owf::DType::kIQ3_XXS) == OWF_DTYPE_IQ3_XXS);
static_assert(static_cast<int>(owf::DType::kIQ1_S) == OWF_DTYPE_IQ1_S);
static_assert(static_cast<int>(owf::DType::kIQ4_NL) == OWF_DTYPE_IQ4_NL);
static_assert(static_cast<int>(owf::DType::kIQ3_S) == OWF_DTYPE_IQ3_S);
static_assert(static_cast<int>(owf::DType::kIQ2_S) == OWF_DTYPE_IQ2_S);
static_assert(static_cast<int>(owf::DType::kIQ4_XS) == OWF_DTYPE_IQ4_XS);
static_assert(static_cast<int>(owf::DType::kIQ1_M) == OWF_DTYPE_IQ1_M);
static_assert(static_cast<int>(owf::DType::kTQ1_0) == OWF_DTYPE_TQ1_0);
static_assert(static_cast<int>(owf::DType::kTQ2_0) == OWF_DTYPE_TQ2_0);
static_assert(static_cast<int>(owf::DType::kMXFP4) == OWF_DTYPE_MXFP4);
static_assert(static_cast<int>(owf::DType::kNVFP4) == OWF_DTYPE_NVFP4);
static_assert(static_cast<int>(owf::DType::kQ1_0) == OWF_DTYPE_Q1_0);
static_assert(static_cast<int>(owf::DType::kQ2_0) == OWF_DTYPE_Q2_0);
static_assert(static_cast<int>(owf::Role::kOther) == OWF_ROLE_OTHER);
static_assert(static_cast<int>(owf::Role::kWeight) == OWF_ROLE_WEIGHT);
static_assert(static_cast<int>(owf::Role::kBias) == OWF_ROLE_BIAS);
static_assert(static_cast<int>(owf::Role::kEmbedding) == OWF_ROLE_EMBEDDING);
static_assert(static_cast<int>(owf::Role::kNormalization) == OWF_ROLE_NORMALIZATION);
static_assert(static_cast<int>(owf::Role::kBuffer) == OWF_ROLE_BUFFER);
static_assert(static_cast<int>(owf::Codec::kNone) == OWF_CODEC_NONE);
static_assert(static_cast<int>(owf::Codec::kZstd) == OWF_CODEC_ZSTD);
static_assert(static_cast<int>(owf::Codec::kZstdByteGroup) == OWF_CODEC_ZSTD_BYTE_GROUP);

struct owf_error {
  owf_status code = OWF_OK;
  std::string message;
};

struct owf_file {
  explicit owf_file(owf::File f) : file(std::move(f)) {}
  owf::File file;
  using Hparam = std::pair<const std::string, owf::Value>;
  using Meta = std::pair<const std::string, std::string>;
  std::vector<const Hparam*> hparams;
  std::vector<const Meta*> metadata;
  // Const calls may run on several threads at once; their failures are
  // recorded under this lock so that concurrent failures cannot corrupt the
  // message.
  std::mutex error_mutex;
  owf_status error_code = OWF_OK;
  std::string error_message;
};

struct owf_writer {
  explicit owf_writer(owf::Writer w) : writer(std::move(w)) {}
  owf::Writer writer;
  owf_status error_code = OWF_OK;
  std::string error_message;
};

namespace {

// A failure on its way to the caller: code plus message.
struct Failure {
  owf_status code;
  std::string message;
};

owf_status code_of(const owf::Error& e) { return static_cast<owf_status>(e.code()); }

Failure invalid(std::string message) { return {OWF_INVALID_ARGUMENT, std::move(message)}; }

// Stores a failure on a handle. Must not throw: a message that cannot be
// allocated is dropped, the code is kept.
template <class Handle>
owf_status record(const Handle* handle, owf_status code, const char* message) noexcept {
  if (handle == nullptr) return code;
  auto* h = const_cast<Handle*>(handle);
  auto store = [&] {
    h->error_code = code;
    try {
      h->error_message = message;
    } catch (...) {
      h->error_message.clear();
    }
  };
  if constexpr (std::is_same_v<Handle, owf_file>) {
    std::lock_guard lock(h->error_mutex);
    store();
  } else {
    store();
  }
  return code;
}

// Runs `body` (returning owf_status, or throwing Failure) and records any
// failure on `handle`. Catches everything.
template <class Handle, class Body>
owf_status guard(const Handle* handle, Body&& body) noexcept {
  try {
    return body();
  } catch (const Failure& f) {
    return record(handle, f.code, f.message.c_str());
  } catch (const std::bad_alloc&) {
    return record(handle, OWF_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return record(handle, OWF_INTERNAL_ERROR, e.what());
  } catch (...) {
    return record(handle, OWF_INTERNAL_ERROR, "unknown internal error");
  }
}

[[noreturn]] void fail(const owf::Error& e) { throw Failure{code_of(e), e.message()}; }
[[noreturn]] void fail_invalid(std::string message) { throw invalid(std::move(message)); }

void check(const owf::Status& s) {
  if (!s.ok()) fail(s.error());
}

template <class T>
T take(owf::Result<T>&& r) {
  if (!r.ok()) fail(r.error());
  return std::move(r).value();
}

void require(const void* p, const char* what) {
  if (p == nullptr) fail_invalid(std::string(what) + " is NULL");
}

std::string str_or_empty(const char* s) { return s == nullptr ? std::string() : std::string(s); }

// For functions that create handles: the error goes to an out-parameter.
owf_status report(owf_error** out_error, owf_status code, const std::string& message) noexcept {
  if (out_error == nullptr) return code;
  *out_error = nullptr;
  try {
    auto* e = new owf_error;
    e->code = code;
    e->message = message;
    *out_error = e;
  } catch (...) {
    // Nothing more can be said without memory; the code still goes back.
  }
  return code;
}

template <class Body>
owf_status guard_create(owf_error** out_error, Body&& body) noexcept {
  if (out_error != nullptr) *out_error = nullptr;
  try {
    return body();
  } catch (const Failure& f) {
    return report(out_error, f.code, f.message);
  } catch (const std::bad_alloc&) {
    return report(out_error, OWF_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return report(out_error, OWF_INTERNAL_ERROR, e.what());
  } catch (...) {
    return report(out_error, OWF_INTERNAL_ERROR, "unknown internal error");
  }
}

owf::Limits to_limits(const owf_limits* l) {
  owf::Limits out;
  if (l == nullptr) return out;
  out.max_manifest_bytes = l->max_manifest_bytes;
  out.max_tensors = l->max_tensors;
  out.max_rank = l->max_rank;
  out.max_name_bytes = l->max_name_bytes;
  out.max_metadata_entries = l->max_metadata_entries;
  out.max_string_bytes = l->max_string_bytes;
  out.max_alignment = l->max_alignment;
  out.max_chunk_bytes = l->max_chunk_bytes;
  return out;
}

owf_status adopt(owf::Result<owf::File>&& opened, owf_file** out_file) {
  auto handle = std::make_unique<owf_file>(take(std::move(opened)));
  const owf::ModelInfo& info = handle->file.info();
  handle->hparams.reserve(info.hyperparameters.size());
  for (const auto& entry : info.hyperparameters) handle->hparams.push_back(&entry);
  handle->metadata.reserve(info.metadata.size());
  for (const auto& entry : info.metadata) handle->metadata.push_back(&entry);
  *out_file = handle.release();
  return OWF_OK;
}

void put_string(const std::string& s, const char** value, size_t* length) {
  *value = s.c_str();
  if (length != nullptr) *length = s.size();
}

void put_element(const std::vector<std::string>& list, size_t index, const char* what, const char** value,
                 size_t* length) {
  if (index >= list.size())
    fail_invalid(std::string(what) + " index " + std::to_string(index) + " is out of range (" +
                 std::to_string(list.size()) + " entries)");
  put_string(list[index], value, length);
}

void fill_info(const owf::File& file, const owf::TensorInfo& t, owf_tensor_info* out) {
  // Names live in the manifest's FlatBuffers strings, which the verifier
  // checks are NUL-terminated.
  out->name = t.name.data();
  out->name_length = t.name.size();
  out->dtype = static_cast<uint32_t>(t.dtype);
  out->role = static_cast<uint32_t>(t.role);
  out->codec = static_cast<uint32_t>(t.codec);
  out->rank = t.shape.size();
  out->shape = t.shape.empty() ? nullptr : t.shape.data();
  out->element_count = t.element_count;
  out->logical_bytes = t.logical_bytes;
  out->stored_bytes = t.stored_bytes;
  out->offset = t.offset;
  out->data = nullptr;
  if (t.codec == owf::Codec::kNone) {
    auto bytes = file.bytes(t);
    if (bytes.ok()) out->data = bytes->data();
  }
  std::memcpy(out->sha256, t.sha256.data(), 32);
}

owf::TensorInfo tensor_at(const owf_file* file, size_t index) {
  if (index >= file->file.tensor_count())
    fail_invalid("tensor index " + std::to_string(index) + " is out of range (the file has " +
                 std::to_string(file->file.tensor_count()) + " tensors)");
  return file->file.tensor(index);
}

const owf::License& license_of(const owf_file* file) {
  const auto& license = file->file.info().license;
  if (!license) throw Failure{OWF_NOT_FOUND, "the file has no license"};
  return *license;
}

const owf::Value& hparam(const owf_file* file, const char* key) {
  require(key, "key");
  const auto& map = file->file.info().hyperparameters;
  auto it = map.find(key);
  if (it == map.end()) throw Failure{OWF_NOT_FOUND, std::string("no hyperparameter '") + key + "'"};
  return it->second;
}

const char* value_type_name(const owf::Value& v) {
  static const char* const kNames[] = {"bool",       "integer",       "float",       "string",
                                       "bool array", "integer array", "float array", "string array"};
  return kNames[v.data.index()];
}

// Elements of an array value; 1 for a scalar.
size_t element_count(const owf::Value& v) {
  return std::visit(
      [](const auto& x) -> size_t {
        using T = std::decay_t<decltype(x)>;
        if constexpr (requires { x.size(); } && !std::is_same_v<T, std::string>)
          return x.size();
        else
          return 1;
      },
      v.data);
}

[[noreturn]] void mismatch(const char* key, const owf::Value& v, const char* wanted) {
  throw Failure{OWF_DTYPE_MISMATCH,
                std::string("hyperparameter '") + key + "' is a " + value_type_name(v) + ", not a " + wanted};
}

template <class T>
const T& hparam_as(const owf_file* file, const char* key, const char* wanted) {
  const owf::Value& v = hparam(file, key);
  if (const T* p = std::get_if<T>(&v.data)) return *p;
  mismatch(key, v, wanted);
}

owf::TensorSpec to_spec(const owf_tensor_desc* t) {
  require(t, "tensor");
  require(t->name, "tensor name");
  if (t->rank > 0) require(t->shape, "tensor shape");
  if (!owf::dtype_from_code(t->dtype))
    throw Failure{OWF_UNKNOWN_DTYPE,
                  std::string("tensor '") + t->name + "': unknown dtype code " + std::to_string(t->dtype)};
  // Checked before the cast: a code above the enum's range would wrap to a valid one.
  if (const owf::Status s = owf::internal::check_role(t->role); !s.ok())
    throw Failure{static_cast<owf_status>(s.code()), std::string("tensor '") + t->name + "': " + s.error().message()};
  owf::TensorSpec spec;
  spec.name = t->name;
  spec.dtype = static_cast<owf::DType>(t->dtype);
  spec.role = static_cast<owf::Role>(t->role);
  if (t->rank > 0) spec.shape.assign(t->shape, t->shape + t->rank);
  return spec;
}

std::vector<std::string> strings(const char* const* values, size_t count, const char* what) {
  if (count > 0) require(values, what);
  std::vector<std::string> out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    if (values[i] == nullptr) fail_invalid(std::string(what) + "[" + std::to_string(i) + "] is NULL");
    out.emplace_back(values[i]);
  }
  return out;
}

// Runs `body` on a non-NULL file; failures are recorded on the handle.
template <class Body>
owf_status with_file(const owf_file* file, Body&& body) noexcept {
  return guard(file, [&]() -> owf_status {
    if (file == nullptr) fail_invalid("file is NULL");
    body();
    return OWF_OK;
  });
}

template <class Body>
owf_status with_writer(owf_writer* writer, Body&& body) noexcept {
  return guard(writer, [&]() -> owf_status {
    if (writer == nullptr) fail_invalid("writer is NULL");
    body(writer->writer);
    return OWF_OK;
  });
}

owf_status set_hparam(owf_writer* writer, const char* key, owf::Value (*make)(const void*, size_t), const void* values,
                      size_t count) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(key, "key");
    if (count > 0) require(values, "values");
    check(w.set_hyperparameter(key, make(values, count)));
  });
}

owf::DType known_dtype(uint32_t code) {
  const auto d = owf::dtype_from_code(code);
  if (!d) throw Failure{OWF_UNKNOWN_DTYPE, "unknown dtype code " + std::to_string(code)};
  return *d;
}

template <class T>
owf_status decode_values(uint32_t dtype, const void* bytes, size_t size, T* out, size_t count) {
  return guard(static_cast<const owf_file*>(nullptr), [&]() -> owf_status {
    if (size > 0) require(bytes, "bytes");
    if (count > 0) require(out, "out");
    check(owf::decode_elements(known_dtype(dtype),
                               std::span<const std::byte>(static_cast<const std::byte*>(bytes), size),
                               std::span<T>(out, count)));
    return OWF_OK;
  });
}

template <class T>
owf_status encode_values(const T* values, size_t count, uint32_t dtype, void* out, size_t size, int saturate) {
  return guard(static_cast<const owf_file*>(nullptr), [&]() -> owf_status {
    if (count > 0) require(values, "values");
    if (size > 0) require(out, "out");
    owf::EncodeOptions options;
    options.saturate = saturate != 0;
    check(owf::encode_elements(std::span<const T>(values, count), known_dtype(dtype),
                               std::span<std::byte>(static_cast<std::byte*>(out), size), options));
    return OWF_OK;
  });
}

template <class T>
owf_status read_values(const owf_file* file, size_t index, uint64_t first_element, T* out, size_t count,
                       unsigned threads) {
  return with_file(file, [&] {
    if (count > 0) require(out, "out");
    const owf::TensorInfo t = tensor_at(file, index);
    owf::ReadElementsOptions options;
    options.threads = threads;
    check(owf::read_elements(file->file, t, first_element, std::span<T>(out, count), options));
  });
}

}  // namespace

extern "C" {

// Versions.

int owf_abi_version(void) { return OWF_ABI_VERSION; }

const char* owf_library_version(void) { return owf::library_version().data(); }

void owf_format_version(uint16_t* major, uint16_t* minor) {
  if (major != nullptr) *major = owf::kFormatVersionMajor;
  if (minor != nullptr) *minor = owf::kFormatVersionMinor;
}

// Errors.

const char* owf_status_name(owf_status status) {
  if (status == OWF_OUT_OF_MEMORY) return "out_of_memory";
  if (status == OWF_INTERNAL_ERROR) return "internal_error";
  if (status < 0 || status > 0xffff) return "unknown";
  // error_code_name returns string literals.
  return owf::error_code_name(static_cast<owf::ErrorCode>(status)).data();
}

owf_status owf_error_code(const owf_error* error) { return error == nullptr ? OWF_INVALID_ARGUMENT : error->code; }

const char* owf_error_message(const owf_error* error) { return error == nullptr ? "" : error->message.c_str(); }

void owf_error_free(owf_error* error) { delete error; }

// Dtypes, roles, codecs.

const char* owf_dtype_name(uint32_t dtype) {
  auto d = owf::dtype_from_code(dtype);
  return d ? owf::dtype_name(*d).data() : nullptr;  // names are literals
}

owf_status owf_dtype_from_name(const char* name, uint32_t* dtype) {
  return guard(static_cast<const owf_file*>(nullptr), [&]() -> owf_status {
    require(name, "name");
    require(dtype, "dtype");
    auto d = owf::dtype_from_name(name);
    if (!d) return OWF_NOT_FOUND;
    *dtype = static_cast<uint32_t>(*d);
    return OWF_OK;
  });
}

const char* owf_role_name(uint32_t role) {
  if (role > static_cast<uint32_t>(owf::Role::kBuffer)) return nullptr;
  return owf::role_name(static_cast<owf::Role>(role)).data();
}

const char* owf_codec_name(uint32_t codec) {
  if (codec > static_cast<uint32_t>(owf::Codec::kZstdByteGroup)) return nullptr;
  return owf::codec_name(static_cast<owf::Codec>(codec)).data();
}

owf_status owf_tensor_byte_size(uint32_t dtype, const uint64_t* shape, size_t rank, uint64_t* bytes) {
  return guard(static_cast<const owf_file*>(nullptr), [&]() -> owf_status {
    require(bytes, "bytes");
    if (rank > 0) require(shape, "shape");
    auto d = owf::dtype_from_code(dtype);
    if (!d) return OWF_UNKNOWN_DTYPE;
    auto size = owf::tensor_byte_size(*d, std::span<const std::uint64_t>(shape, rank));
    if (!size.ok()) return code_of(size.error());
    *bytes = *size;
    return OWF_OK;
  });
}

// Opening.

owf_limits owf_limits_default(void) {
  const owf::Limits d;
  owf_limits l;
  l.max_manifest_bytes = d.max_manifest_bytes;
  l.max_tensors = d.max_tensors;
  l.max_rank = d.max_rank;
  l.max_name_bytes = d.max_name_bytes;
  l.max_metadata_entries = d.max_metadata_entries;
  l.max_string_bytes = d.max_string_bytes;
  l.max_alignment = d.max_alignment;
  l.max_chunk_bytes = d.max_chunk_bytes;
  return l;
}

owf_status owf_file_open(const char* path, const owf_limits* limits, owf_file** out_file, owf_error** out_error) {
  return guard_create(out_error, [&]() -> owf_status {
    require(out_file, "out_file");
    *out_file = nullptr;
    require(path, "path");
    return adopt(owf::File::open(path, to_limits(limits)), out_file);
  });
}

owf_status owf_file_open_memory(const void* data, size_t size, const owf_limits* limits, owf_file** out_file,
                                owf_error** out_error) {
  return guard_create(out_error, [&]() -> owf_status {
    require(out_file, "out_file");
    *out_file = nullptr;
    if (size > 0) require(data, "data");
    const std::span<const std::byte> bytes(static_cast<const std::byte*>(data), size);
    return adopt(owf::File::open_buffer(bytes, to_limits(limits)), out_file);
  });
}

void owf_file_free(owf_file* file) { delete file; }

const char* owf_file_error_message(const owf_file* file) { return file == nullptr ? "" : file->error_message.c_str(); }

owf_status owf_file_error_code(const owf_file* file) { return file == nullptr ? OWF_OK : file->error_code; }

owf_status owf_file_version(const owf_file* file, uint16_t* major, uint16_t* minor) {
  return with_file(file, [&] {
    if (major != nullptr) *major = file->file.version().major;
    if (minor != nullptr) *minor = file->file.version().minor;
  });
}

owf_status owf_file_size(const owf_file* file, uint64_t* size) {
  return with_file(file, [&] {
    require(size, "size");
    *size = file->file.file_size();
  });
}

owf_status owf_file_alignment(const owf_file* file, uint64_t* alignment) {
  return with_file(file, [&] {
    require(alignment, "alignment");
    *alignment = file->file.alignment();
  });
}

owf_status owf_file_weights_digest(const owf_file* file, uint8_t digest[32]) {
  return with_file(file, [&] {
    require(digest, "digest");
    const auto d = file->file.weights_digest();
    std::memcpy(digest, d.data(), d.size());
  });
}

// Tensors.

owf_status owf_file_tensor_count(const owf_file* file, size_t* count) {
  return with_file(file, [&] {
    require(count, "count");
    *count = file->file.tensor_count();
  });
}

owf_status owf_file_tensor_info(const owf_file* file, size_t index, owf_tensor_info* info) {
  return with_file(file, [&] {
    require(info, "info");
    fill_info(file->file, tensor_at(file, index), info);
  });
}

owf_status owf_file_find_tensor(const owf_file* file, const char* name, size_t* index) {
  return with_file(file, [&] {
    require(name, "name");
    require(index, "index");
    auto found = file->file.find(name);
    if (!found) throw Failure{OWF_NOT_FOUND, std::string("no tensor named '") + name + "'"};
    *index = *found;
  });
}

owf_status owf_file_tensor_info_by_name(const owf_file* file, const char* name, owf_tensor_info* info) {
  size_t index = 0;
  const owf_status s = owf_file_find_tensor(file, name, &index);
  if (s != OWF_OK) return s;
  return owf_file_tensor_info(file, index, info);
}

owf_status owf_file_read_tensor(const owf_file* file, size_t index, void* buffer, size_t size, int check_digest) {
  return with_file(file, [&] {
    if (size > 0) require(buffer, "buffer");
    const owf::TensorInfo t = tensor_at(file, index);
    if (size != t.logical_bytes)
      throw Failure{OWF_TENSOR_SIZE_MISMATCH, "tensor '" + std::string(t.name) + "' has " +
                                                  std::to_string(t.logical_bytes) + " bytes; the buffer holds " +
                                                  std::to_string(size)};
    check(file->file.read(t, std::span<std::byte>(static_cast<std::byte*>(buffer), size), check_digest != 0));
  });
}

owf_status owf_file_read_tensor_range(const owf_file* file, size_t index, uint64_t offset, void* buffer, size_t size) {
  return with_file(file, [&] {
    if (size > 0) require(buffer, "buffer");
    const owf::TensorInfo t = tensor_at(file, index);
    check(file->file.read_range(t, offset, std::span<std::byte>(static_cast<std::byte*>(buffer), size)));
  });
}

// Element values.

int owf_dtype_can_decode(uint32_t dtype) {
  const auto d = owf::dtype_from_code(dtype);
  return d && owf::can_decode(*d) ? 1 : 0;
}

int owf_dtype_can_encode(uint32_t dtype) {
  const auto d = owf::dtype_from_code(dtype);
  return d && owf::can_encode(*d) ? 1 : 0;
}

owf_status owf_decode_f32(uint32_t dtype, const void* bytes, size_t size, float* out, size_t count) {
  return decode_values(dtype, bytes, size, out, count);
}

owf_status owf_decode_f64(uint32_t dtype, const void* bytes, size_t size, double* out, size_t count) {
  return decode_values(dtype, bytes, size, out, count);
}

owf_status owf_encode_f32(const float* values, size_t count, uint32_t dtype, void* out, size_t size, int saturate) {
  return encode_values(values, count, dtype, out, size, saturate);
}

owf_status owf_encode_f64(const double* values, size_t count, uint32_t dtype, void* out, size_t size, int saturate) {
  return encode_values(values, count, dtype, out, size, saturate);
}

owf_status owf_file_read_elements_f32(const owf_file* file, size_t index, uint64_t first_element, float* out,
                                      size_t count, unsigned threads) {
  return read_values(file, index, first_element, out, count, threads);
}

owf_status owf_file_read_elements_f64(const owf_file* file, size_t index, uint64_t first_element, double* out,
                                      size_t count, unsigned threads) {
  return read_values(file, index, first_element, out, count, threads);
}

// Verifying.

owf_status owf_file_verify(const owf_file* file, unsigned threads, owf_progress_fn progress, void* user_data) {
  return with_file(file, [&] {
    owf::VerifyOptions options;
    options.threads = threads;
    if (progress != nullptr)
      options.progress = [progress, user_data](std::uint64_t done, std::uint64_t total) {
        progress(done, total, user_data);
      };
    check(file->file.verify(options));
  });
}

owf_status owf_file_load(const owf_file* file, const owf_load_request* requests, size_t count, unsigned threads,
                         int verify, owf_progress_fn progress, void* user_data) {
  return with_file(file, [&] {
    if (count != 0) require(requests, "requests");
    std::vector<owf::LoadRequest> converted(count);
    for (size_t i = 0; i < count; ++i) {
      if (requests[i].size != 0) require(requests[i].out, "requests[].out");
      converted[i] = {requests[i].tensor, {static_cast<std::byte*>(requests[i].out), requests[i].size}};
    }
    owf::LoadOptions options;
    options.threads = threads;
    options.verify = verify != 0;
    if (progress != nullptr)
      options.progress = [progress, user_data](std::uint64_t done, std::uint64_t total) {
        progress(done, total, user_data);
      };
    check(file->file.load(converted, options));
  });
}

// License and provenance.

owf_status owf_file_has_license(const owf_file* file, int* has_license) {
  return with_file(file, [&] {
    require(has_license, "has_license");
    *has_license = file->file.info().license.has_value() ? 1 : 0;
  });
}

owf_status owf_file_license(const owf_file* file, int field, const char** value, size_t* length) {
  return with_file(file, [&] {
    require(value, "value");
    const owf::License& l = license_of(file);
    const std::string* s = nullptr;
    switch (field) {
      case OWF_LICENSE_SPDX:
        s = &l.spdx;
        break;
      case OWF_LICENSE_CONCLUDED:
        s = &l.concluded;
        break;
      case OWF_LICENSE_NAME:
        s = &l.name;
        break;
      case OWF_LICENSE_URL:
        s = &l.url;
        break;
      case OWF_LICENSE_TEXT:
        s = &l.text;
        break;
      case OWF_LICENSE_ATTRIBUTION:
        s = &l.attribution;
        break;
      case OWF_LICENSE_RESTRICTIONS:
        s = &l.restrictions;
        break;
      default:
        fail_invalid("unknown license field " + std::to_string(field));
    }
    put_string(*s, value, length);
  });
}

owf_status owf_file_license_copyright_count(const owf_file* file, size_t* count) {
  return with_file(file, [&] {
    require(count, "count");
    const auto& license = file->file.info().license;
    *count = license ? license->copyright.size() : 0;
  });
}

owf_status owf_file_license_copyright(const owf_file* file, size_t index, const char** value, size_t* length) {
  return with_file(file, [&] {
    require(value, "value");
    put_element(license_of(file).copyright, index, "copyright", value, length);
  });
}

owf_status owf_file_provenance(const owf_file* file, int field, const char** value, size_t* length) {
  return with_file(file, [&] {
    require(value, "value");
    const owf::Provenance& p = file->file.info().provenance;
    const std::string* s = nullptr;
    switch (field) {
      case OWF_PROVENANCE_NAME:
        s = &p.name;
        break;
      case OWF_PROVENANCE_VERSION:
        s = &p.version;
        break;
      case OWF_PROVENANCE_ARCHITECTURE:
        s = &p.architecture;
        break;
      case OWF_PROVENANCE_DESCRIPTION:
        s = &p.description;
        break;
      case OWF_PROVENANCE_SOURCE_URL:
        s = &p.source_url;
        break;
      case OWF_PROVENANCE_TRAINING_DATA:
        s = &p.training_data;
        break;
      case OWF_PROVENANCE_SOFTWARE:
        s = &p.software;
        break;
      case OWF_PROVENANCE_CREATED:
        s = &p.created;
        break;
      default:
        fail_invalid("unknown provenance field " + std::to_string(field));
    }
    put_string(*s, value, length);
  });
}

owf_status owf_file_provenance_author_count(const owf_file* file, size_t* count) {
  return with_file(file, [&] {
    require(count, "count");
    *count = file->file.info().provenance.authors.size();
  });
}

owf_status owf_file_provenance_author(const owf_file* file, size_t index, const char** value, size_t* length) {
  return with_file(file, [&] {
    require(value, "value");
    put_element(file->file.info().provenance.authors, index, "author", value, length);
  });
}

owf_status owf_file_provenance_base_model_count(const owf_file* file, size_t* count) {
  return with_file(file, [&] {
    require(count, "count");
    *count = file->file.info().provenance.base_models.size();
  });
}

owf_status owf_file_provenance_base_model(const owf_file* file, size_t index, const char** name, size_t* name_length,
                                          uint8_t digest[32]) {
  return with_file(file, [&] {
    require(name, "name");
    const auto& bases = file->file.info().provenance.base_models;
    if (index >= bases.size()) fail_invalid("base model index " + std::to_string(index) + " is out of range");
    put_string(bases[index].name, name, name_length);
    if (digest != nullptr) std::memcpy(digest, bases[index].weights_digest.data(), 32);
  });
}

// Hyperparameters.

owf_status owf_file_hparam_count(const owf_file* file, size_t* count) {
  return with_file(file, [&] {
    require(count, "count");
    *count = file->hparams.size();
  });
}

owf_status owf_file_hparam_key(const owf_file* file, size_t index, const char** key, size_t* length) {
  return with_file(file, [&] {
    require(key, "key");
    if (index >= file->hparams.size())
      fail_invalid("hyperparameter index " + std::to_string(index) + " is out of range");
    put_string(file->hparams[index]->first, key, length);
  });
}

owf_status owf_file_hparam_type(const owf_file* file, const char* key, int* type, size_t* count) {
  return with_file(file, [&] {
    require(type, "type");
    const owf::Value& v = hparam(file, key);
    *type = static_cast<int>(v.data.index());  // variant order == owf_value_type
    if (count != nullptr) *count = element_count(v);
  });
}

owf_status owf_file_hparam_bool(const owf_file* file, const char* key, int* value) {
  return with_file(file, [&] {
    require(value, "value");
    *value = hparam_as<bool>(file, key, "bool") ? 1 : 0;
  });
}

owf_status owf_file_hparam_int64(const owf_file* file, const char* key, int64_t* value) {
  return with_file(file, [&] {
    require(value, "value");
    const owf::Value& v = hparam(file, key);
    const auto* i = std::get_if<std::int64_t>(&v.data);
    if (i == nullptr) mismatch(key, v, "integer");
    if (v.int_type == owf::IntType::kU64 && *i < 0)
      throw Failure{OWF_LIMIT_EXCEEDED, std::string("hyperparameter '") + key + "' is a u64 above INT64_MAX"};
    *value = *i;
  });
}

owf_status owf_file_hparam_uint64(const owf_file* file, const char* key, uint64_t* value) {
  return with_file(file, [&] {
    require(value, "value");
    const owf::Value& v = hparam(file, key);
    const auto* i = std::get_if<std::int64_t>(&v.data);
    if (i == nullptr) mismatch(key, v, "integer");
    if (v.int_type != owf::IntType::kU64 && *i < 0)
      throw Failure{OWF_LIMIT_EXCEEDED, std::string("hyperparameter '") + key + "' is negative"};
    *value = static_cast<std::uint64_t>(*i);
  });
}

owf_status owf_file_hparam_double(const owf_file* file, const char* key, double* value) {
  return with_file(file, [&] {
    require(value, "value");
    const owf::Value& v = hparam(file, key);
    if (const auto* d = std::get_if<double>(&v.data)) {
      *value = *d;
    } else if (const auto* i = std::get_if<std::int64_t>(&v.data)) {
      *value = v.int_type == owf::IntType::kU64 ? static_cast<double>(static_cast<std::uint64_t>(*i))
                                                : static_cast<double>(*i);
    } else {
      mismatch(key, v, "float");
    }
  });
}

owf_status owf_file_hparam_string(const owf_file* file, const char* key, const char** value, size_t* length) {
  return with_file(file, [&] {
    require(value, "value");
    put_string(hparam_as<std::string>(file, key, "string"), value, length);
  });
}

owf_status owf_file_hparam_int64_array(const owf_file* file, const char* key, const int64_t** values, size_t* count) {
  return with_file(file, [&] {
    require(values, "values");
    require(count, "count");
    const auto& a = hparam_as<std::vector<std::int64_t>>(file, key, "integer array");
    *values = a.empty() ? nullptr : a.data();
    *count = a.size();
  });
}

owf_status owf_file_hparam_double_array(const owf_file* file, const char* key, const double** values, size_t* count) {
  return with_file(file, [&] {
    require(values, "values");
    require(count, "count");
    const auto& a = hparam_as<std::vector<double>>(file, key, "float array");
    *values = a.empty() ? nullptr : a.data();
    *count = a.size();
  });
}

owf_status owf_file_hparam_bool_array(const owf_file* file, const char* key, uint8_t* out, size_t capacity,
                                      size_t* count) {
  return with_file(file, [&] {
    require(count, "count");
    if (capacity > 0) require(out, "out");
    const auto& a = hparam_as<std::vector<bool>>(file, key, "bool array");
    *count = a.size();
    if (capacity < a.size())
      throw Failure{OWF_LIMIT_EXCEEDED, std::string("hyperparameter '") + key + "' has " + std::to_string(a.size()) +
                                            " elements; the buffer holds " + std::to_string(capacity)};
    for (size_t i = 0; i < a.size(); ++i) out[i] = a[i] ? 1 : 0;
  });
}

owf_status owf_file_hparam_string_array_at(const owf_file* file, const char* key, size_t index, const char** value,
                                           size_t* length) {
  return with_file(file, [&] {
    require(value, "value");
    const auto& a = hparam_as<std::vector<std::string>>(file, key, "string array");
    if (index >= a.size())
      fail_invalid(std::string("index ") + std::to_string(index) + " is out of range for hyperparameter '" + key +
                   "' of " + std::to_string(a.size()) + " elements");
    put_string(a[index], value, length);
  });
}

// Metadata.

owf_status owf_file_metadata_count(const owf_file* file, size_t* count) {
  return with_file(file, [&] {
    require(count, "count");
    *count = file->metadata.size();
  });
}

owf_status owf_file_metadata_at(const owf_file* file, size_t index, const char** key, size_t* key_length,
                                const char** value, size_t* value_length) {
  return with_file(file, [&] {
    require(key, "key");
    require(value, "value");
    if (index >= file->metadata.size()) fail_invalid("metadata index " + std::to_string(index) + " is out of range");
    put_string(file->metadata[index]->first, key, key_length);
    put_string(file->metadata[index]->second, value, value_length);
  });
}

owf_status owf_file_metadata_get(const owf_file* file, const char* key, const char** value, size_t* length) {
  return with_file(file, [&] {
    require(key, "key");
    require(value, "value");
    const auto& map = file->file.info().metadata;
    auto it = map.find(key);
    if (it == map.end()) throw Failure{OWF_NOT_FOUND, std::string("no metadata entry '") + key + "'"};
    put_string(it->second, value, length);
  });
}

// Writing.

owf_write_options owf_write_options_default(void) {
  const owf::WriteOptions d;
  owf_write_options o;
  o.alignment = d.alignment;
  o.compress = d.compression.enabled ? 1 : 0;
  o.compression_level = d.compression.level;
  o.chunk_bytes = d.compression.chunk_bytes;
  o.min_saving = d.compression.min_saving;
  o.threads = d.compression.threads;
  o.sync = d.sync ? 1 : 0;
  return o;
}

owf_status owf_writer_create(const char* path, const owf_write_options* options, owf_writer** out_writer,
                             owf_error** out_error) {
  return guard_create(out_error, [&]() -> owf_status {
    require(out_writer, "out_writer");
    *out_writer = nullptr;
    require(path, "path");
    owf::WriteOptions o;
    if (options != nullptr) {
      o.alignment = options->alignment;
      o.compression.enabled = options->compress != 0;
      o.compression.level = options->compression_level;
      o.compression.chunk_bytes = options->chunk_bytes;
      o.compression.min_saving = options->min_saving;
      o.compression.threads = options->threads;
      o.sync = options->sync != 0;
    }
    *out_writer = new owf_writer(take(owf::Writer::create(path, o)));
    return OWF_OK;
  });
}

void owf_writer_free(owf_writer* writer) {
  try {
    delete writer;  // an unfinished writer removes its temporary file
  } catch (...) {
  }
}

const char* owf_writer_error_message(const owf_writer* writer) {
  return writer == nullptr ? "" : writer->error_message.c_str();
}

owf_status owf_writer_error_code(const owf_writer* writer) { return writer == nullptr ? OWF_OK : writer->error_code; }

owf_status owf_writer_set_license(owf_writer* writer, const owf_license_desc* license) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(license, "license");
    owf::License l;
    l.spdx = str_or_empty(license->spdx);
    l.concluded = str_or_empty(license->concluded);
    l.name = str_or_empty(license->name);
    l.url = str_or_empty(license->url);
    l.text = str_or_empty(license->text);
    l.copyright = strings(license->copyright, license->copyright_count, "license copyright");
    l.attribution = str_or_empty(license->attribution);
    l.restrictions = str_or_empty(license->restrictions);
    check(w.set_license(std::move(l)));
  });
}

owf_status owf_writer_set_provenance(owf_writer* writer, const owf_provenance_desc* provenance) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(provenance, "provenance");
    owf::Provenance p;
    p.name = str_or_empty(provenance->name);
    p.version = str_or_empty(provenance->version);
    p.architecture = str_or_empty(provenance->architecture);
    p.description = str_or_empty(provenance->description);
    p.authors = strings(provenance->authors, provenance->author_count, "provenance authors");
    p.source_url = str_or_empty(provenance->source_url);
    if (provenance->base_model_count > 0) require(provenance->base_models, "provenance base_models");
    for (size_t i = 0; i < provenance->base_model_count; ++i) {
      owf::BaseModel b;
      b.name = str_or_empty(provenance->base_models[i].name);
      std::memcpy(b.weights_digest.data(), provenance->base_models[i].weights_digest, 32);
      p.base_models.push_back(std::move(b));
    }
    p.training_data = str_or_empty(provenance->training_data);
    p.software = str_or_empty(provenance->software);
    p.created = str_or_empty(provenance->created);
    check(w.set_provenance(std::move(p)));
  });
}

owf_status owf_writer_set_hparam_bool(owf_writer* writer, const char* key, int value) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(key, "key");
    check(w.set_hyperparameter(key, owf::Value(value != 0)));
  });
}

owf_status owf_writer_set_hparam_int64(owf_writer* writer, const char* key, int64_t value) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(key, "key");
    check(w.set_hyperparameter(key, owf::Value(std::int64_t{value})));
  });
}

owf_status owf_writer_set_hparam_double(owf_writer* writer, const char* key, double value) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(key, "key");
    check(w.set_hyperparameter(key, owf::Value(value)));
  });
}

owf_status owf_writer_set_hparam_string(owf_writer* writer, const char* key, const char* value) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(key, "key");
    require(value, "value");
    check(w.set_hyperparameter(key, owf::Value(std::string(value))));
  });
}

owf_status owf_writer_set_hparam_bool_array(owf_writer* writer, const char* key, const uint8_t* values, size_t count) {
  return set_hparam(
      writer, key,
      [](const void* v, size_t n) {
        const auto* p = static_cast<const uint8_t*>(v);
        std::vector<bool> out(n);
        for (size_t i = 0; i < n; ++i) out[i] = p[i] != 0;
        return owf::Value(std::move(out));
      },
      values, count);
}

owf_status owf_writer_set_hparam_int64_array(owf_writer* writer, const char* key, const int64_t* values, size_t count) {
  return set_hparam(
      writer, key,
      [](const void* v, size_t n) {
        const auto* p = static_cast<const int64_t*>(v);
        return owf::Value(std::vector<std::int64_t>(p, p + n));
      },
      values, count);
}

owf_status owf_writer_set_hparam_double_array(owf_writer* writer, const char* key, const double* values, size_t count) {
  return set_hparam(
      writer, key,
      [](const void* v, size_t n) {
        const auto* p = static_cast<const double*>(v);
        return owf::Value(std::vector<double>(p, p + n));
      },
      values, count);
}

owf_status owf_writer_set_hparam_string_array(owf_writer* writer, const char* key, const char* const* values,
                                              size_t count) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(key, "key");
    check(w.set_hyperparameter(key, owf::Value(strings(values, count, "values"))));
  });
}

owf_status owf_writer_set_metadata(owf_writer* writer, const char* key, const char* value) {
  return with_writer(writer, [&](owf::Writer& w) {
    require(key, "key");
    require(value, "value");
    check(w.set_metadata(key, value));
  });
}

owf_status owf_writer_add_tensor(owf_writer* writer, const owf_tensor_desc* tensor, const void* data, size_t size) {
  return with_writer(writer, [&](owf::Writer& w) {
    const owf::TensorSpec spec = to_spec(tensor);
    if (size > 0) require(data, "data");
    check(w.add_tensor(spec, std::span<const std::byte>(static_cast<const std::byte*>(data), size)));
  });
}

owf_status owf_writer_begin_tensor(owf_writer* writer, const owf_tensor_desc* tensor) {
  return with_writer(writer, [&](owf::Writer& w) { check(w.begin_tensor(to_spec(tensor))); });
}

owf_status owf_writer_append(owf_writer* writer, const void* data, size_t size) {
  return with_writer(writer, [&](owf::Writer& w) {
    if (size > 0) require(data, "data");
    check(w.append(std::span<const std::byte>(static_cast<const std::byte*>(data), size)));
  });
}

owf_status owf_writer_end_tensor(owf_writer* writer) {
  return with_writer(writer, [&](owf::Writer& w) { check(w.end_tensor()); });
}

owf_status owf_writer_finish(owf_writer* writer) {
  return with_writer(writer, [&](owf::Writer& w) { check(w.finish()); });
}

owf_status owf_sign_file(const char* path, const char* private_key_path, int weights_only, owf_error** out_error) {
  return guard_create(out_error, [&]() -> owf_status {
    require(path, "path");
    require(private_key_path, "private_key_path");
    const owf::PrivateKey key = take(owf::PrivateKey::load(private_key_path));
    const owf::Covers covers = weights_only != 0 ? owf::Covers::kWeights : owf::Covers::kWeightsAndInfo;
    const owf::Signature signature = take(owf::sign(*take(owf::open_source(path)), key, covers));
    take(owf::add_signature(path, signature));
    return OWF_OK;
  });
}

owf_status owf_verify_signatures(const char* path, const char* const* trusted_key_paths, size_t count,
                                 size_t* out_valid, owf_error** out_error) {
  return guard_create(out_error, [&]() -> owf_status {
    require(out_valid, "out_valid");
    *out_valid = 0;
    require(path, "path");
    if (count > 0) require(trusted_key_paths, "trusted_key_paths");
    std::vector<owf::PublicKey> trusted;
    for (size_t i = 0; i < count; ++i) {
      require(trusted_key_paths[i], "a trusted key path");
      trusted.push_back(take(owf::PublicKey::load(trusted_key_paths[i])));
    }
    for (const auto& c : take(owf::check_signatures(*take(owf::open_source(path)), trusted)))
      if (c.status == owf::SignatureStatus::kValid) ++*out_valid;
    return OWF_OK;
  });
}

}  // extern "C"
