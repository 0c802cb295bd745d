#include "owf/error.hpp"

namespace owf {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kOk:
      return "ok";
    case ErrorCode::kIoError:
      return "io_error";
    case ErrorCode::kInvalidArgument:
      return "invalid_argument";
    case ErrorCode::kNotFound:
      return "not_found";
    case ErrorCode::kUnsupported:
      return "unsupported";
    case ErrorCode::kLimitExceeded:
      return "limit_exceeded";
    case ErrorCode::kAlreadyExists:
      return "already_exists";
    case ErrorCode::kTruncated:
      return "truncated";
    case ErrorCode::kBadMagic:
      return "bad_magic";
    case ErrorCode::kBadFooterMagic:
      return "bad_footer_magic";
    case ErrorCode::kUnsupportedVersion:
      return "unsupported_version";
    case ErrorCode::kVersionMismatch:
      return "version_mismatch";
    case ErrorCode::kBadHeader:
      return "bad_header";
    case ErrorCode::kBadFooter:
      return "bad_footer";
    case ErrorCode::kManifestOutOfRange:
      return "manifest_out_of_range";
    case ErrorCode::kManifestDigestMismatch:
      return "manifest_digest_mismatch";
    case ErrorCode::kManifestInvalid:
      return "manifest_invalid";
    case ErrorCode::kUnknownRequiredFeature:
      return "unknown_required_feature";
    case ErrorCode::kBadAlignment:
      return "bad_alignment";
    case ErrorCode::kBadTensorName:
      return "bad_tensor_name";
    case ErrorCode::kTensorNamesUnsorted:
      return "tensor_names_unsorted";
    case ErrorCode::kDuplicateTensorName:
      return "duplicate_tensor_name";
    case ErrorCode::kUnknownDtype:
      return "unknown_dtype";
    case ErrorCode::kShapeOverflow:
      return "shape_overflow";
    case ErrorCode::kTensorSizeMismatch:
      return "tensor_size_mismatch";
    case ErrorCode::kUnknownCodec:
      return "unknown_codec";
    case ErrorCode::kMisalignedTensor:
      return "misaligned_tensor";
    case ErrorCode::kTensorOutOfRange:
      return "tensor_out_of_range";
    case ErrorCode::kTensorOverlap:
      return "tensor_overlap";
    case ErrorCode::kUncoveredBytes:
      return "uncovered_bytes";
    case ErrorCode::kNonZeroPadding:
      return "nonzero_padding";
    case ErrorCode::kTensorDigestMismatch:
      return "tensor_digest_mismatch";
    case ErrorCode::kUnknownRole:
      return "unknown_role";
    case ErrorCode::kDtypeMismatch:
      return "dtype_mismatch";
    case ErrorCode::kNonCanonicalTensorData:
      return "noncanonical_tensor_data";
    case ErrorCode::kBadUtf8:
      return "bad_utf8";
    case ErrorCode::kBadHyperparameter:
      return "bad_hyperparameter";
    case ErrorCode::kBadMetadata:
      return "bad_metadata";
    case ErrorCode::kMissingLicense:
      return "missing_license";
    case ErrorCode::kBadLicense:
      return "bad_license";
    case ErrorCode::kBadProvenance:
      return "bad_provenance";
    case ErrorCode::kBadSignature:
      return "bad_signature";
    case ErrorCode::kBadShardSet:
      return "bad_shard_set";
    case ErrorCode::kShardSetMismatch:
      return "shard_set_mismatch";
    case ErrorCode::kBadChunkTable:
      return "bad_chunk_table";
    case ErrorCode::kCorruptCompressedData:
      return "corrupt_compressed_data";
    case ErrorCode::kForeignFormatInvalid:
      return "foreign_format_invalid";
    case ErrorCode::kForeignFormatUnsupported:
      return "foreign_format_unsupported";
    case ErrorCode::kDigestExpectationFailed:
      return "digest_expectation_failed";
  }
  return "unknown_error";
}

std::string Error::to_string() const {
  std::string out(error_code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace owf
