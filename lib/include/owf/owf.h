/**
 * @file owf.h
 * @brief The OWF C API: read, verify and write Open Weights Format files from C
 *        (C99) or any language with a C foreign-function interface.
 *
 * Conventions that hold for every function in this header:
 *
 * - **Handles are opaque.** ::owf_file is an open file, ::owf_writer a file
 *   being written, ::owf_error the error of a failed open or create. Each is
 *   freed by its own `*_free` function, which accepts NULL.
 * - **Errors are return values.** Every fallible function returns an
 *   ::owf_status: ::OWF_OK (0) on success, otherwise one of the stable codes of
 *   ::owf_error_code (the numbers of spec/errors.md). Out-parameters are written
 *   only on success unless a function says otherwise.
 * - **Messages are per handle.** A failed call on a handle stores a message
 *   naming what is wrong and where (tensor, field, byte offset); read it with
 *   owf_file_error_message() or owf_writer_error_message(). Successful calls
 *   leave the stored message as it was. Functions that create a handle report
 *   their failure through an ::owf_error out-parameter instead. There is no
 *   global or thread-local error state.
 * - **NULL is an error, never a crash.** A NULL handle, NULL out-parameter or
 *   NULL string where one is required returns ::OWF_INVALID_ARGUMENT (with a
 *   message on the handle when there is one).
 * - **Nothing crosses the boundary.** No function aborts, exits or lets a C++
 *   exception escape; an allocation failure returns ::OWF_OUT_OF_MEMORY.
 * - **Strings.** Strings given to the library are NUL-terminated UTF-8.
 *   Strings returned by it come as `const char*` (always NUL-terminated) plus,
 *   where a length out-parameter is offered, their length in bytes (metadata
 *   strings may contain NUL bytes; use the length). Strings returned for an
 *   ::owf_file are owned by it and valid until owf_file_free(); static strings
 *   (names of codes, dtypes, roles, versions) are valid forever.
 * - **Threads.** Functions that take a `const owf_file*` may be called from
 *   several threads at once on the same handle, and their status codes are
 *   always right. The stored message belongs to whichever call failed last and
 *   may be replaced while another thread reads it: threads that read messages
 *   should use one handle each. An ::owf_writer is used by one thread at a time.
 *
 * The ABI is versioned by ::OWF_ABI_VERSION: the layout of every struct in
 * this header and the meaning of every function are fixed for one ABI
 * version; a change that is not an addition bumps it. Compare
 * owf_abi_version() with ::OWF_ABI_VERSION at run time to detect a mismatched
 * shared library.
 */
#ifndef OWF_OWF_H_
#define OWF_OWF_H_

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define OWF_C_API
#else
/** Marks the functions the shared library exports; everything else is hidden. */
#define OWF_C_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** @defgroup owf_version Versions
 *  @{ */

/** ABI version of this header. Incremented on any incompatible change. */
#define OWF_ABI_VERSION 1
/** Library version this header belongs to (semantic versioning). */
#define OWF_VERSION_MAJOR 0
#define OWF_VERSION_MINOR 1
#define OWF_VERSION_PATCH 0

/** ABI version of the library actually loaded; equals ::OWF_ABI_VERSION when
 *  the header and the library match. */
OWF_C_API int owf_abi_version(void);
/** Library version as "MAJOR.MINOR.PATCH". Static string. */
OWF_C_API const char* owf_library_version(void);
/** Newest OWF file format version this library reads and writes. Either
 *  pointer may be NULL. */
OWF_C_API void owf_format_version(uint16_t* major, uint16_t* minor);

/** @} */

/** @defgroup owf_errors Errors
 *  @{ */

/** Result of a fallible call: 0 (::OWF_OK) or an ::owf_error_code. */
typedef int owf_status;

/** Stable error codes. 0-99 are the codes of the file format (spec/errors.md),
 *  identical to owf::ErrorCode; 900 and up exist only in the C API. */
enum owf_error_code {
  OWF_OK = 0,
  OWF_IO_ERROR = 1,
  OWF_INVALID_ARGUMENT = 2,
  OWF_NOT_FOUND = 3,
  OWF_UNSUPPORTED = 4,
  OWF_LIMIT_EXCEEDED = 5,
  OWF_ALREADY_EXISTS = 6,
  OWF_TRUNCATED = 10,
  OWF_BAD_MAGIC = 11,
  OWF_BAD_FOOTER_MAGIC = 12,
  OWF_UNSUPPORTED_VERSION = 13,
  OWF_VERSION_MISMATCH = 14,
  OWF_BAD_HEADER = 15,
  OWF_BAD_FOOTER = 16,
  OWF_MANIFEST_OUT_OF_RANGE = 17,
  OWF_MANIFEST_DIGEST_MISMATCH = 18,
  OWF_MANIFEST_INVALID = 19,
  OWF_UNKNOWN_REQUIRED_FEATURE = 20,
  OWF_BAD_ALIGNMENT = 21,
  OWF_BAD_TENSOR_NAME = 30,
  OWF_TENSOR_NAMES_UNSORTED = 31,
  OWF_DUPLICATE_TENSOR_NAME = 32,
  OWF_UNKNOWN_DTYPE = 33,
  OWF_SHAPE_OVERFLOW = 34,
  OWF_TENSOR_SIZE_MISMATCH = 35,
  OWF_UNKNOWN_CODEC = 36,
  OWF_MISALIGNED_TENSOR = 37,
  OWF_TENSOR_OUT_OF_RANGE = 38,
  OWF_TENSOR_OVERLAP = 39,
  OWF_UNCOVERED_BYTES = 40,
  OWF_NON_ZERO_PADDING = 41,
  OWF_TENSOR_DIGEST_MISMATCH = 42,
  OWF_UNKNOWN_ROLE = 43,
  OWF_DTYPE_MISMATCH = 44,
  OWF_NONCANONICAL_TENSOR_DATA = 45,
  OWF_BAD_UTF8 = 50,
  OWF_BAD_HYPERPARAMETER = 51,
  OWF_BAD_METADATA = 52,
  OWF_MISSING_LICENSE = 53,
  OWF_BAD_LICENSE = 54,
  OWF_BAD_PROVENANCE = 55,
  OWF_BAD_SIGNATURE = 56,
  OWF_BAD_SHARD_SET = 57,
  OWF_SHARD_SET_MISMATCH = 58,
  OWF_BAD_CHUNK_TABLE = 60,
  OWF_CORRUPT_COMPRESSED_DATA = 61,
  OWF_FOREIGN_FORMAT_INVALID = 70,
  OWF_FOREIGN_FORMAT_UNSUPPORTED = 71,
  OWF_DIGEST_EXPECTATION_FAILED = 80,
  /** Memory could not be allocated (C API only). */
  OWF_OUT_OF_MEMORY = 900,
  /** An unexpected internal failure was caught at the boundary (C API only). */
  OWF_INTERNAL_ERROR = 901
};

/** Stable snake_case name of a code ("tensor_overlap"), or "unknown".
 *  Static string. */
OWF_C_API const char* owf_status_name(owf_status status);

/** The error of a failed open or create. Owned by the caller; free with
 *  owf_error_free(). */
typedef struct owf_error owf_error;

/** Code of the error; ::OWF_INVALID_ARGUMENT for NULL. */
OWF_C_API owf_status owf_error_code(const owf_error* error);
/** Message of the error (never NULL; "" for NULL). Valid until owf_error_free(). */
OWF_C_API const char* owf_error_message(const owf_error* error);
/** Frees an error. NULL is allowed. */
OWF_C_API void owf_error_free(owf_error* error);

/** @} */

/** @defgroup owf_types Dtypes, roles and codecs
 *  @{ */

/** Element types; stable numeric codes of the file format (owf::DType). */
enum owf_dtype {
  OWF_DTYPE_BOOL = 1,
  OWF_DTYPE_U8 = 2,
  OWF_DTYPE_I8 = 3,
  OWF_DTYPE_U16 = 4,
  OWF_DTYPE_I16 = 5,
  OWF_DTYPE_U32 = 6,
  OWF_DTYPE_I32 = 7,
  OWF_DTYPE_U64 = 8,
  OWF_DTYPE_I64 = 9,
  OWF_DTYPE_F16 = 10,
  OWF_DTYPE_BF16 = 11,
  OWF_DTYPE_F32 = 12,
  OWF_DTYPE_F64 = 13,
  OWF_DTYPE_C64 = 14,
  OWF_DTYPE_C128 = 15,
  OWF_DTYPE_F8_E4M3FN = 16,
  OWF_DTYPE_F8_E5M2 = 17,
  OWF_DTYPE_F8_E8M0 = 18,
  OWF_DTYPE_F4_E2M1 = 19,
  OWF_DTYPE_F6_E2M3 = 20,
  OWF_DTYPE_F6_E3M2 = 21,
  OWF_DTYPE_Q4_0 = 100,
  OWF_DTYPE_Q4_1 = 101,
  OWF_DTYPE_Q5_0 = 102,
  OWF_DTYPE_Q5_1 = 103,
  OWF_DTYPE_Q8_0 = 104,
  OWF_DTYPE_Q8_1 = 105,
  OWF_DTYPE_Q2_K = 106,
  OWF_DTYPE_Q3_K = 107,
  OWF_DTYPE_Q4_K = 108,
  OWF_DTYPE_Q5_K = 109,
  OWF_DTYPE_Q6_K = 110,
  OWF_DTYPE_Q8_K = 111,
  OWF_DTYPE_IQ2_XXS = 112,
  OWF_DTYPE_IQ2_XS = 113,
  OWF_DTYPE_IQ3_XXS = 114,
  OWF_DTYPE_IQ1_S = 115,
  OWF_DTYPE_IQ4_NL = 116,
  OWF_DTYPE_IQ3_S = 117,
  OWF_DTYPE_IQ2_S = 118,
  OWF_DTYPE_IQ4_XS = 119,
  OWF_DTYPE_IQ1_M = 120,
  OWF_DTYPE_TQ1_0 = 121,
  OWF_DTYPE_TQ2_0 = 122,
  OWF_DTYPE_MXFP4 = 123,
  OWF_DTYPE_NVFP4 = 124,
  OWF_DTYPE_Q1_0 = 125,
  OWF_DTYPE_Q2_0 = 126
};

/** What a tensor is for; stable codes of the file format (owf::Role). */
enum owf_role {
  OWF_ROLE_OTHER = 0,
  OWF_ROLE_WEIGHT = 1,
  OWF_ROLE_BIAS = 2,
  OWF_ROLE_EMBEDDING = 3,
  OWF_ROLE_NORMALIZATION = 4,
  OWF_ROLE_BUFFER = 5
};

/** How a tensor's bytes are stored (owf::Codec). */
enum owf_codec { OWF_CODEC_NONE = 0, OWF_CODEC_ZSTD = 1, OWF_CODEC_ZSTD_BYTE_GROUP = 2 };

/** Spec spelling of a dtype ("F32", "Q4_K"), or NULL for an unknown code. Static string. */
OWF_C_API const char* owf_dtype_name(uint32_t dtype);
/** Dtype code from its spelling (either case); ::OWF_NOT_FOUND if unknown. */
OWF_C_API owf_status owf_dtype_from_name(const char* name, uint32_t* dtype);
/** "weight", "bias", ...; NULL for an unknown code. Static string. */
OWF_C_API const char* owf_role_name(uint32_t role);
/** "none", "zstd", "zstd+bytegroup"; NULL for an unknown code. Static string. */
OWF_C_API const char* owf_codec_name(uint32_t codec);
/** Bytes a tensor of this dtype and shape occupies. `shape` may be NULL when
 *  `rank` is 0. Fails with ::OWF_UNKNOWN_DTYPE, ::OWF_SHAPE_OVERFLOW or
 *  ::OWF_TENSOR_SIZE_MISMATCH (a row that is not whole blocks). */
OWF_C_API owf_status owf_tensor_byte_size(uint32_t dtype, const uint64_t* shape, size_t rank, uint64_t* bytes);

/** @} */

/** @defgroup owf_reading Opening and reading files
 *  @{ */

/** An open, validated OWF file. Free with owf_file_free(). */
typedef struct owf_file owf_file;

/** Reader limits; files exceeding any of them are refused with
 *  ::OWF_LIMIT_EXCEEDED before anything is allocated from their sizes.
 *  Start from owf_limits_default() and lower what you need to. */
typedef struct owf_limits {
  uint64_t max_manifest_bytes;
  uint64_t max_tensors;
  uint32_t max_rank;
  uint32_t max_name_bytes;
  uint64_t max_metadata_entries;
  uint64_t max_string_bytes;
  uint64_t max_alignment;
  uint64_t max_chunk_bytes;
} owf_limits;

/** The library's default limits (those used when NULL is passed). */
OWF_C_API owf_limits owf_limits_default(void);

/**
 * Memory-maps and validates a file. After success every accessor is safe and
 * every tensor lies inside the file. An http:// or https:// URL is read
 * with range requests instead (not mapped: read tensors rather than view
 * them); requests take headers and CA file from OWF_HTTP_TOKEN,
 * OWF_HTTP_HEADER and OWF_CA_FILE (owf/remote.hpp).
 *
 * @param path       NUL-terminated path or URL.
 * @param limits     NULL for owf_limits_default().
 * @param out_file   Receives the handle on success (NULL on failure).
 * @param out_error  NULL, or receives an ::owf_error on failure that the
 *                   caller frees with owf_error_free() (set to NULL on
 *                   success, and on failure if even the error could not be
 *                   allocated).
 */
OWF_C_API owf_status owf_file_open(const char* path, const owf_limits* limits, owf_file** out_file,
                                   owf_error** out_error);
/**
 * Validates a file held in memory. The buffer is borrowed: it must stay
 * valid and unchanged until owf_file_free(). Parameters as owf_file_open().
 */
OWF_C_API owf_status owf_file_open_memory(const void* data, size_t size, const owf_limits* limits, owf_file** out_file,
                                          owf_error** out_error);
/** Closes the file; every pointer obtained from it becomes invalid. NULL is allowed. */
OWF_C_API void owf_file_free(owf_file* file);

/** Message of the most recent failed call on this handle ("" if none, or if
 *  `file` is NULL). Valid until the next failed call on the handle or owf_file_free(). */
OWF_C_API const char* owf_file_error_message(const owf_file* file);
/** Code of the most recent failed call on this handle (::OWF_OK if none). */
OWF_C_API owf_status owf_file_error_code(const owf_file* file);

/** File format version, file size in bytes and data alignment. Out-pointers may be NULL. */
OWF_C_API owf_status owf_file_version(const owf_file* file, uint16_t* major, uint16_t* minor);
OWF_C_API owf_status owf_file_size(const owf_file* file, uint64_t* size);
OWF_C_API owf_status owf_file_alignment(const owf_file* file, uint64_t* alignment);
/** The weights digest (spec/format.md, "Weights digest") into 32 bytes. */
OWF_C_API owf_status owf_file_weights_digest(const owf_file* file, uint8_t digest[32]);

/** A tensor as the file describes it. Every pointer is owned by the file and
 *  valid until owf_file_free(). */
typedef struct owf_tensor_info {
  const char* name;   /**< NUL-terminated UTF-8 */
  size_t name_length; /**< bytes, without the terminator */
  uint32_t dtype;     /**< ::owf_dtype code */
  uint32_t role;      /**< ::owf_role code */
  uint32_t codec;     /**< ::owf_codec code */
  size_t rank;
  const uint64_t* shape; /**< `rank` dimensions, outermost first (NULL when rank is 0) */
  uint64_t element_count;
  uint64_t logical_bytes; /**< bytes once decoded: row-major, little-endian */
  uint64_t stored_bytes;  /**< bytes occupied in the file */
  uint64_t offset;        /**< file offset of the stored bytes */
  /** Zero-copy pointer to the logical bytes when the tensor is stored
   *  uncompressed (codec none); NULL for compressed tensors, which
   *  owf_file_read_tensor() decodes. The memory is read-only. */
  const void* data;
  uint8_t sha256[32]; /**< SHA-256 of the logical bytes */
} owf_tensor_info;

/** Number of tensors. */
OWF_C_API owf_status owf_file_tensor_count(const owf_file* file, size_t* count);
/** Tensor `index` (0 .. count-1, in name order); ::OWF_INVALID_ARGUMENT when out of range. */
OWF_C_API owf_status owf_file_tensor_info(const owf_file* file, size_t index, owf_tensor_info* info);
/** Index of the tensor called `name`; ::OWF_NOT_FOUND if there is none. */
OWF_C_API owf_status owf_file_find_tensor(const owf_file* file, const char* name, size_t* index);
/** owf_file_find_tensor() then owf_file_tensor_info(). */
OWF_C_API owf_status owf_file_tensor_info_by_name(const owf_file* file, const char* name, owf_tensor_info* info);

/**
 * Copies (decoding if needed) the logical bytes of tensor `index` into a
 * caller buffer of exactly `size` == logical_bytes bytes
 * (::OWF_TENSOR_SIZE_MISMATCH otherwise). With `check_digest` nonzero the
 * bytes are also checked against the tensor's SHA-256. `buffer` may be NULL
 * only when size is 0.
 */
OWF_C_API owf_status owf_file_read_tensor(const owf_file* file, size_t index, void* buffer, size_t size,
                                          int check_digest);
/** Reads logical bytes [offset, offset + size) of tensor `index`. */
OWF_C_API owf_status owf_file_read_tensor_range(const owf_file* file, size_t index, uint64_t offset, void* buffer,
                                                size_t size);

/** @} */

/** @defgroup owf_elements Element values
 *
 * Stored elements as numbers (spec/format.md §5): floating-point types
 * exactly, integers and BOOL as their values, ggml's block types by ggml's
 * reference dequantization (the f64 output is that binary32 value, widened).
 * Complex dtypes (C64, C128) and the ggml IQ types built on grid tables
 * (IQ2_XXS, IQ2_XS, IQ3_XXS, IQ1_S, IQ3_S, IQ2_S, IQ1_M) are not decoded:
 * ::OWF_UNSUPPORTED.
 *  @{ */

/** Nonzero when this dtype decodes to numbers. */
OWF_C_API int owf_dtype_can_decode(uint32_t dtype);
/** Nonzero for the dtypes the encoders write: F16, BF16, F32, F64, F8_E4M3FN, F8_E5M2. */
OWF_C_API int owf_dtype_can_encode(uint32_t dtype);

/**
 * Decodes `count` elements of `dtype` from `bytes`, which must be exactly the
 * `size` bytes they occupy (owf_tensor_byte_size() of the shape {count}:
 * whole blocks for block-quantized types). Fails with ::OWF_INVALID_ARGUMENT
 * when the sizes disagree, ::OWF_UNKNOWN_DTYPE or ::OWF_UNSUPPORTED. `bytes`
 * and `out` may be NULL only when `size` and `count` are 0.
 */
OWF_C_API owf_status owf_decode_f32(uint32_t dtype, const void* bytes, size_t size, float* out, size_t count);
OWF_C_API owf_status owf_decode_f64(uint32_t dtype, const void* bytes, size_t size, double* out, size_t count);

/**
 * Encodes `count` values into `dtype` (one the encoders write) in `out` of
 * exactly `size` bytes: round to nearest, ties to even, subnormals and signed
 * zeros kept, NaN stays NaN. Values beyond the largest finite number become
 * infinity (F16, BF16, F8_E5M2, F32) or NaN (F8_E4M3FN, which has no
 * infinity); with `saturate` nonzero they, and infinities, become the
 * largest finite number of their sign.
 */
OWF_C_API owf_status owf_encode_f32(const float* values, size_t count, uint32_t dtype, void* out, size_t size,
                                    int saturate);
OWF_C_API owf_status owf_encode_f64(const double* values, size_t count, uint32_t dtype, void* out, size_t size,
                                    int saturate);

/**
 * Decodes elements [first_element, first_element + count) of tensor `index`
 * (row-major order; the range may start and end inside a block) into `out`.
 * Compressed tensors are decoded in pieces of a few MiB per thread, never
 * whole. `threads`: 0 for one per core.
 */
OWF_C_API owf_status owf_file_read_elements_f32(const owf_file* file, size_t index, uint64_t first_element, float* out,
                                                size_t count, unsigned threads);
OWF_C_API owf_status owf_file_read_elements_f64(const owf_file* file, size_t index, uint64_t first_element, double* out,
                                                size_t count, unsigned threads);

/** @} */

/** @defgroup owf_verify Verifying
 *  @{ */

/** Progress of verification: `done` of `total` bytes hashed. Called from
 *  worker threads, one call at a time; must not call back into the same file
 *  handle's error functions. */
typedef void (*owf_progress_fn)(uint64_t done, uint64_t total, void* user_data);

/**
 * Checks every tensor digest (and every compressed chunk) in parallel;
 * structural checks already happened at open. Fails with
 * ::OWF_TENSOR_DIGEST_MISMATCH and a message naming the tensor.
 *
 * @param file      An open file.
 * @param threads   0 for one per core.
 * @param progress  NULL, or called with the bytes done so far.
 * @param user_data Passed to `progress` unchanged.
 */
OWF_C_API owf_status owf_file_verify(const owf_file* file, unsigned threads, owf_progress_fn progress, void* user_data);

/** One tensor for owf_file_load(): its index and a buffer of exactly its
 *  logical size (owf_tensor_info::logical_bytes). */
typedef struct owf_load_request {
  size_t tensor;
  void* out;
  size_t size;
} owf_load_request;

/**
 * Loads tensors into caller-provided buffers with large positioned reads
 * from several threads, checking each tensor's digest as its bytes land
 * (owf::File::load). Fails with ::OWF_TENSOR_DIGEST_MISMATCH naming the
 * first tensor that does not match; ::OWF_INVALID_ARGUMENT for an index out
 * of range or a buffer of the wrong size.
 *
 * @param file      An open file.
 * @param requests  `count` requests (may be NULL when `count` is 0).
 * @param threads   0 for one per core.
 * @param verify    Nonzero to check digests (always done for remote files).
 * @param progress  NULL, or called with the bytes loaded so far.
 * @param user_data Passed to `progress` unchanged.
 */
OWF_C_API owf_status owf_file_load(const owf_file* file, const owf_load_request* requests, size_t count,
                                   unsigned threads, int verify, owf_progress_fn progress, void* user_data);

/** @} */

/** @defgroup owf_metadata License, provenance, hyperparameters and metadata
 *  @{ */

/** License string fields (owf::License). */
enum owf_license_field {
  OWF_LICENSE_SPDX = 0,
  OWF_LICENSE_CONCLUDED = 1,
  OWF_LICENSE_NAME = 2,
  OWF_LICENSE_URL = 3,
  OWF_LICENSE_TEXT = 4,
  OWF_LICENSE_ATTRIBUTION = 5,
  OWF_LICENSE_RESTRICTIONS = 6
};

/** Nonzero into `*has_license` when the file carries a license. */
OWF_C_API owf_status owf_file_has_license(const owf_file* file, int* has_license);
/** A license field ("" when empty); ::OWF_NOT_FOUND when the file has no
 *  license. `length` may be NULL. */
OWF_C_API owf_status owf_file_license(const owf_file* file, int field, const char** value, size_t* length);
/** Copyright lines of the license (0 when there is no license). */
OWF_C_API owf_status owf_file_license_copyright_count(const owf_file* file, size_t* count);
OWF_C_API owf_status owf_file_license_copyright(const owf_file* file, size_t index, const char** value, size_t* length);

/** Provenance string fields (owf::Provenance). */
enum owf_provenance_field {
  OWF_PROVENANCE_NAME = 0,
  OWF_PROVENANCE_VERSION = 1,
  OWF_PROVENANCE_ARCHITECTURE = 2,
  OWF_PROVENANCE_DESCRIPTION = 3,
  OWF_PROVENANCE_SOURCE_URL = 4,
  OWF_PROVENANCE_TRAINING_DATA = 5,
  OWF_PROVENANCE_SOFTWARE = 6,
  OWF_PROVENANCE_CREATED = 7
};

/** A provenance field ("" when empty). `length` may be NULL. */
OWF_C_API owf_status owf_file_provenance(const owf_file* file, int field, const char** value, size_t* length);
OWF_C_API owf_status owf_file_provenance_author_count(const owf_file* file, size_t* count);
OWF_C_API owf_status owf_file_provenance_author(const owf_file* file, size_t index, const char** value, size_t* length);
/** Models this one derives from: name and weights digest. `digest` may be NULL. */
OWF_C_API owf_status owf_file_provenance_base_model_count(const owf_file* file, size_t* count);
OWF_C_API owf_status owf_file_provenance_base_model(const owf_file* file, size_t index, const char** name,
                                                    size_t* name_length, uint8_t digest[32]);

/** Type of a hyperparameter value. */
enum owf_value_type {
  OWF_VALUE_BOOL = 0,
  OWF_VALUE_INT = 1,
  OWF_VALUE_FLOAT = 2,
  OWF_VALUE_STRING = 3,
  OWF_VALUE_BOOL_ARRAY = 4,
  OWF_VALUE_INT_ARRAY = 5,
  OWF_VALUE_FLOAT_ARRAY = 6,
  OWF_VALUE_STRING_ARRAY = 7
};

/** Number of hyperparameters; keys are sorted (byte order). */
OWF_C_API owf_status owf_file_hparam_count(const owf_file* file, size_t* count);
/** Key of hyperparameter `index`. `length` may be NULL. */
OWF_C_API owf_status owf_file_hparam_key(const owf_file* file, size_t index, const char** key, size_t* length);
/**
 * Type of the hyperparameter `key` (::OWF_NOT_FOUND if absent) and, for
 * arrays, its element count (1 for scalars). `count` may be NULL.
 */
OWF_C_API owf_status owf_file_hparam_type(const owf_file* file, const char* key, int* type, size_t* count);
/**
 * Typed getters. Each fails with ::OWF_NOT_FOUND when the key is absent and
 * ::OWF_DTYPE_MISMATCH when the value has another type (the message says which).
 * Integers are carried as int64; owf_file_hparam_int64() accepts values
 * declared u64 that fit (::OWF_LIMIT_EXCEEDED otherwise) and
 * owf_file_hparam_uint64() non-negative values of any integer type.
 * owf_file_hparam_double() also accepts integers.
 */
OWF_C_API owf_status owf_file_hparam_bool(const owf_file* file, const char* key, int* value);
OWF_C_API owf_status owf_file_hparam_int64(const owf_file* file, const char* key, int64_t* value);
OWF_C_API owf_status owf_file_hparam_uint64(const owf_file* file, const char* key, uint64_t* value);
OWF_C_API owf_status owf_file_hparam_double(const owf_file* file, const char* key, double* value);
/** String value, owned by the file. `length` may be NULL. */
OWF_C_API owf_status owf_file_hparam_string(const owf_file* file, const char* key, const char** value, size_t* length);
/** Zero-copy arrays owned by the file (`*values` is NULL when the array is empty). */
OWF_C_API owf_status owf_file_hparam_int64_array(const owf_file* file, const char* key, const int64_t** values,
                                                 size_t* count);
OWF_C_API owf_status owf_file_hparam_double_array(const owf_file* file, const char* key, const double** values,
                                                  size_t* count);
/** Copies a bool array as 0/1 bytes into `out` of `capacity` elements. `*count`
 *  always receives the array length; with capacity < length nothing is copied
 *  and ::OWF_LIMIT_EXCEEDED is returned (pass NULL, 0 to ask for the length). */
OWF_C_API owf_status owf_file_hparam_bool_array(const owf_file* file, const char* key, uint8_t* out, size_t capacity,
                                                size_t* count);
/** Element `index` of a string array. `length` may be NULL. */
OWF_C_API owf_status owf_file_hparam_string_array_at(const owf_file* file, const char* key, size_t index,
                                                     const char** value, size_t* length);

/** Number of free-form metadata entries; keys are sorted. */
OWF_C_API owf_status owf_file_metadata_count(const owf_file* file, size_t* count);
/** Entry `index`. Lengths may be NULL; values may contain NUL bytes. */
OWF_C_API owf_status owf_file_metadata_at(const owf_file* file, size_t index, const char** key, size_t* key_length,
                                          const char** value, size_t* value_length);
/** Value for `key`; ::OWF_NOT_FOUND if absent. */
OWF_C_API owf_status owf_file_metadata_get(const owf_file* file, const char* key, const char** value, size_t* length);

/** @} */

/** @defgroup owf_writing Writing files
 *  @{ */

/** A file being written. Free with owf_writer_free(). */
typedef struct owf_writer owf_writer;

/** Write options; start from owf_write_options_default(). */
typedef struct owf_write_options {
  uint64_t alignment;    /**< power of two, 1 .. 2 MiB; default 64 */
  int compress;          /**< nonzero: zstd-compress tensors that shrink enough */
  int compression_level; /**< default 3 */
  uint64_t chunk_bytes;  /**< logical bytes per independently decodable chunk */
  double min_saving;     /**< keep a tensor raw unless it shrinks by this fraction */
  unsigned threads;      /**< 0: one per core */
  int sync;              /**< nonzero: fsync file and directory before finish returns */
} owf_write_options;

/** The library's default write options (those used when NULL is passed). */
OWF_C_API owf_write_options owf_write_options_default(void);

/** License to write. NULL string fields mean empty; `copyright` points to
 *  `copyright_count` strings (may be NULL when the count is 0). Copied by the
 *  writer: the caller's strings need not outlive the call. */
typedef struct owf_license_desc {
  const char* spdx; /**< SPDX expression, or "NOASSERTION"; required */
  const char* concluded;
  const char* name;
  const char* url;
  const char* text;
  const char* const* copyright;
  size_t copyright_count;
  const char* attribution;
  const char* restrictions;
} owf_license_desc;

/** A model this one derives from. */
typedef struct owf_base_model_desc {
  const char* name;
  uint8_t weights_digest[32];
} owf_base_model_desc;

/** Provenance to write; conventions as ::owf_license_desc. */
typedef struct owf_provenance_desc {
  const char* name;
  const char* version;
  const char* architecture;
  const char* description;
  const char* const* authors;
  size_t author_count;
  const char* source_url;
  const owf_base_model_desc* base_models;
  size_t base_model_count;
  const char* training_data;
  const char* software;
  const char* created;
} owf_provenance_desc;

/** A tensor to write. `shape` may be NULL when rank is 0 (a scalar). */
typedef struct owf_tensor_desc {
  const char* name;
  uint32_t dtype; /**< ::owf_dtype */
  uint32_t role;  /**< ::owf_role */
  size_t rank;
  const uint64_t* shape;
} owf_tensor_desc;

/**
 * Starts writing `path`: a temporary file is created beside it and nothing
 * appears under `path` until owf_writer_finish() succeeds.
 *
 * @param path       NUL-terminated target path.
 * @param options    NULL for owf_write_options_default().
 * @param out_writer Receives the handle on success (NULL on failure).
 * @param out_error  As for owf_file_open().
 */
OWF_C_API owf_status owf_writer_create(const char* path, const owf_write_options* options, owf_writer** out_writer,
                                       owf_error** out_error);
/** Frees the writer. Without a successful owf_writer_finish() the temporary
 *  file is removed and no file is left at the target path. NULL is allowed. */
OWF_C_API void owf_writer_free(owf_writer* writer);
/** Message of the most recent failed call on this writer ("" if none). Valid
 *  until the next failed call on it or owf_writer_free(). */
OWF_C_API const char* owf_writer_error_message(const owf_writer* writer);
OWF_C_API owf_status owf_writer_error_code(const owf_writer* writer);

/** Required before finish: a valid SPDX expression or NOASSERTION. */
OWF_C_API owf_status owf_writer_set_license(owf_writer* writer, const owf_license_desc* license);
OWF_C_API owf_status owf_writer_set_provenance(owf_writer* writer, const owf_provenance_desc* provenance);

/** Hyperparameters under dotted keys ("model.hidden_size"); setting a key
 *  again replaces its value. Arrays may be NULL when their count is 0. */
OWF_C_API owf_status owf_writer_set_hparam_bool(owf_writer* writer, const char* key, int value);
OWF_C_API owf_status owf_writer_set_hparam_int64(owf_writer* writer, const char* key, int64_t value);
OWF_C_API owf_status owf_writer_set_hparam_double(owf_writer* writer, const char* key, double value);
OWF_C_API owf_status owf_writer_set_hparam_string(owf_writer* writer, const char* key, const char* value);
OWF_C_API owf_status owf_writer_set_hparam_bool_array(owf_writer* writer, const char* key, const uint8_t* values,
                                                      size_t count);
OWF_C_API owf_status owf_writer_set_hparam_int64_array(owf_writer* writer, const char* key, const int64_t* values,
                                                       size_t count);
OWF_C_API owf_status owf_writer_set_hparam_double_array(owf_writer* writer, const char* key, const double* values,
                                                        size_t count);
OWF_C_API owf_status owf_writer_set_hparam_string_array(owf_writer* writer, const char* key, const char* const* values,
                                                        size_t count);
/** Free-form string metadata. */
OWF_C_API owf_status owf_writer_set_metadata(owf_writer* writer, const char* key, const char* value);

/** Adds a whole tensor: `data` holds its `size` logical bytes (row-major,
 *  little-endian), exactly what dtype and shape demand. The bytes are written
 *  before the call returns; the caller keeps ownership. */
OWF_C_API owf_status owf_writer_add_tensor(owf_writer* writer, const owf_tensor_desc* tensor, const void* data,
                                           size_t size);
/** Streams a tensor in pieces: begin, append until its logical size is
 *  reached, end. Only one tensor is open at a time. */
OWF_C_API owf_status owf_writer_begin_tensor(owf_writer* writer, const owf_tensor_desc* tensor);
OWF_C_API owf_status owf_writer_append(owf_writer* writer, const void* data, size_t size);
OWF_C_API owf_status owf_writer_end_tensor(owf_writer* writer);

/** Writes manifest and footer, syncs and renames the file into place. The
 *  writer must still be freed afterwards. */
OWF_C_API owf_status owf_writer_finish(owf_writer* writer);

/** @} */

/** @defgroup owf_signatures Signatures (spec/signatures.md)
 *  @{ */

/** Signs the OWF file at `path` with the PEM private key (Ed25519 or ECDSA
 *  P-256, PKCS#8) at `private_key_path` and embeds the signature in its
 *  manifest (a manifest rewrite; the file becomes version 1.2). Non-zero
 *  `weights_only` signs the weights digest alone, else the weights and info
 *  digests. `out_error` as for owf_file_open() (may be NULL). */
OWF_C_API owf_status owf_sign_file(const char* path, const char* private_key_path, int weights_only,
                                   owf_error** out_error);

/** Checks the signatures embedded in the file at `path` against the PEM
 *  public keys at `trusted_key_paths[0 .. count)`; `*out_valid` receives
 *  how many are valid signatures by one of them (0: none). A signature
 *  that does not verify is not an error. */
OWF_C_API owf_status owf_verify_signatures(const char* path, const char* const* trusted_key_paths, size_t count,
                                           size_t* out_valid, owf_error** out_error);

/** @} */

#ifdef __cplusplus
}  // extern "C"
#endif

#endif  // OWF_OWF_H_
