// GGUF values: reading one typed value into the owf::Value it maps to, and
// encoding an owf::Value back into the same GGUF bytes (spec/interchange.md,
// GGUF "Model information"). FLOAT32 values keep every bit, NaN payloads
// included (f32_to_double, f32_from_double).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/byte_cursor.hpp"
#include "owf/metadata.hpp"

namespace owf::internal::gguf {

/// What a value held beyond its Value, for compatibility notes.
struct ValueShape {
  bool nested_array = false;
  std::uint64_t longest_string = 0;
  std::uint64_t largest_array = 0;
};

/// A GGUF string (u64 length, bytes) of at most `max_bytes`: a length
/// beyond the bytes left is foreign_format_invalid, one above `max_bytes`
/// limit_exceeded, both before anything is allocated. `shape` (optional)
/// records the longest string seen.
Result<std::string> read_string(ByteCursor& cursor, std::uint64_t max_bytes, std::string_view what,
                                ValueShape* shape = nullptr);

/// Reads a value of GGUF type `type` (the bytes after the type field) at the
/// cursor. Returns the owf::Value it maps to, or nullopt when it has none
/// (nested arrays, strings that are not UTF-8): callers keep those verbatim.
/// Counts and lengths are checked against the bytes left before anything is
/// allocated. Errors name the offset of the fault.
Result<std::optional<Value>> read_value(ByteCursor& cursor, std::uint32_t type, std::uint64_t max_string_bytes,
                                        ValueShape& shape);

/// Little-endian GGUF bytes, appended.
class Encoder {
 public:
  template <class T>
  void put(T v) {
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    bytes_.insert(bytes_.end(), p, p + sizeof(T));
  }
  void raw(std::span<const std::byte> b) { bytes_.insert(bytes_.end(), b.begin(), b.end()); }
  /// A GGUF string: u64 length, then the bytes.
  void str(std::string_view s) {
    put<std::uint64_t>(s.size());
    raw(std::as_bytes(std::span(s.data(), s.size())));
  }
  void array_header(std::uint32_t elem, std::size_t n) {
    put<std::uint32_t>(elem);
    put<std::uint64_t>(n);
  }
  std::vector<std::byte>& bytes() { return bytes_; }

 private:
  std::vector<std::byte> bytes_;
};

/// A value ready to be written: its GGUF type and the bytes after the type field.
struct EncodedValue {
  std::uint32_t type = 0;
  std::vector<std::byte> payload;
};

/// The GGUF bytes of `value`, typed from its IntType/FloatType; the exact
/// bytes read_value() read it from. bad_hyperparameter (naming `key`) when
/// an integer does not fit its type.
Result<EncodedValue> encode_value(std::string_view key, const Value& value);
EncodedValue encode_string(std::string_view s);
EncodedValue encode_u32(std::uint32_t v);

/// Checks that `payload` is exactly one well-formed value of GGUF type
/// `type` (bad_metadata otherwise, naming `what`).
Status check_value_bytes(std::uint32_t type, std::span<const std::byte> payload, std::string_view what);

/// FLOAT32 bits as the double that carries them: the same value, and for a
/// NaN its sign and all 23 fraction bits (quiet bit included) in the top
/// of the double's fraction, so a signalling NaN stays signalling.
double f32_to_double(std::uint32_t bits);
/// The inverse of f32_to_double. A NaN whose payload does not fit (low 29
/// fraction bits set, or none of the top 23) becomes the quiet NaN the
/// hardware conversion gives.
std::uint32_t f32_from_double(double value);

}  // namespace owf::internal::gguf
