// Errors as values: every fallible call returns Status or Result<T>.
//
// Error codes are part of the file-format contract: the numbers are stable,
// listed in spec/errors.md, and used by the conformance suite. New codes are
// only ever appended.
#pragma once

#include <cstdint>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "owf/export.hpp"

namespace owf {

enum class ErrorCode : std::uint16_t {
  kOk = 0,
  // Environment and caller errors.
  kIoError = 1,
  kInvalidArgument = 2,
  kNotFound = 3,
  kUnsupported = 4,
  kLimitExceeded = 5,
  kAlreadyExists = 6,
  // Framing (spec/format.md, "Header" and "Footer").
  kTruncated = 10,
  kBadMagic = 11,
  kBadFooterMagic = 12,
  kUnsupportedVersion = 13,
  kVersionMismatch = 14,
  kBadHeader = 15,
  kBadFooter = 16,
  kManifestOutOfRange = 17,
  kManifestDigestMismatch = 18,
  kManifestInvalid = 19,
  kUnknownRequiredFeature = 20,
  kBadAlignment = 21,
  // Tensors.
  kBadTensorName = 30,
  kTensorNamesUnsorted = 31,
  kDuplicateTensorName = 32,
  kUnknownDtype = 33,
  kShapeOverflow = 34,
  kTensorSizeMismatch = 35,
  kUnknownCodec = 36,
  kMisalignedTensor = 37,
  kTensorOutOfRange = 38,
  kTensorOverlap = 39,
  kUncoveredBytes = 40,
  kNonZeroPadding = 41,
  kTensorDigestMismatch = 42,
  kUnknownRole = 43,
  kDtypeMismatch = 44,
  kNonCanonicalTensorData = 45,
  // Metadata.
  kBadUtf8 = 50,
  kBadHyperparameter = 51,
  kBadMetadata = 52,
  kMissingLicense = 53,
  kBadLicense = 54,
  kBadProvenance = 55,
  kBadSignature = 56,
  // Shard sets (spec/shards.md).
  kBadShardSet = 57,
  kShardSetMismatch = 58,
  // Compressed storage (spec/compression.md).
  kBadChunkTable = 60,
  kCorruptCompressedData = 61,
  // Foreign formats (safetensors, GGUF, NumPy, PyTorch).
  kForeignFormatInvalid = 70,
  kForeignFormatUnsupported = 71,
  kDigestExpectationFailed = 80,
};

/// Stable snake_case name of a code ("tensor_overlap"), as used in the spec
/// and the conformance index.
OWF_API std::string_view error_code_name(ErrorCode code);

/// An error: a stable code plus a message naming what is wrong and where
/// (field, tensor, byte offset).
class OWF_API Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "tensor_overlap: tensor 'b' [128, 256) overlaps tensor 'a' [64, 192)".
  std::string to_string() const;

 private:
  ErrorCode code_;
  std::string message_;
};

/// Thrown only on misuse of Status and Result, never for a failure of the
/// library: value() of a failed Result (the message carries its error),
/// error() of a success, a Result made from a successful Status.
class OWF_API BadResultAccess : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Success, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  /// Precondition: !ok(); throws BadResultAccess otherwise.
  const Error& error() const {
    if (!failed_) throw BadResultAccess("owf::Status::error() called on a success");
    return error_;
  }
  ErrorCode code() const { return failed_ ? error_.code() : ErrorCode::kOk; }

 private:
  Error error_{ErrorCode::kOk, {}};
  bool failed_ = false;
};

/// A value of type T, or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}
  /// Precondition: !status.ok() (a Result needs a value or an error);
  /// throws BadResultAccess otherwise.
  Result(Status status) : v_(std::in_place_index<1>, status.error()) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  /// Precondition: ok(); on an error, throws BadResultAccess carrying the
  /// error's text (like Arrow's ValueOrDie), never a silent default.
  T& value() & {
    check_value();
    return std::get<0>(v_);
  }
  const T& value() const& {
    check_value();
    return std::get<0>(v_);
  }
  T&& value() && {
    check_value();
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  /// Precondition: !ok(); throws BadResultAccess otherwise.
  const Error& error() const {
    if (ok()) throw BadResultAccess("owf::Result::error() called on a success");
    return std::get<1>(v_);
  }
  ErrorCode code() const { return ok() ? ErrorCode::kOk : error().code(); }
  Status status() const { return ok() ? Status() : Status(error()); }

 private:
  void check_value() const {
    if (!ok()) throw BadResultAccess("owf::Result::value() called on an error: " + std::get<1>(v_).to_string());
  }

  std::variant<T, Error> v_;
};

}  // namespace owf

/// Propagate a failed Status/Result from the enclosing function.
#define OWF_RETURN_IF_ERROR(expr)                      \
  do {                                                 \
    auto owf_status_ = (expr);                         \
    if (!owf_status_.ok()) return owf_status_.error(); \
  } while (0)

#define OWF_CONCAT_INNER_(a, b) a##b
#define OWF_CONCAT_(a, b) OWF_CONCAT_INNER_(a, b)
/// `OWF_ASSIGN_OR_RETURN(auto x, f());` — unwraps a Result or returns its error.
#define OWF_ASSIGN_OR_RETURN(lhs, expr)                                                            \
  auto OWF_CONCAT_(owf_result_, __LINE__) = (expr);                                                \
  if (!OWF_CONCAT_(owf_result_, __LINE__).ok()) return OWF_CONCAT_(owf_result_, __LINE__).error(); \
  lhs = std::move(OWF_CONCAT_(owf_result_, __LINE__)).value()
