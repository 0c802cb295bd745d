// Everything about a model that is not tensor bytes: license, provenance,
// typed hyperparameters and free-form string metadata.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "owf/error.hpp"

namespace owf {

using Sha256Digest = std::array<std::uint8_t, 32>;

/// Lowercase hex of a digest.
OWF_API std::string to_hex(const Sha256Digest& digest);
/// Parses 64 hex digits (either case).
OWF_API std::optional<Sha256Digest> digest_from_hex(std::string_view hex);

/// The integer type a hyperparameter was declared with. Values are always
/// carried as int64; kU64 reinterprets the bits as uint64.
enum class IntType : std::uint8_t { kI64 = 0, kU8, kI8, kU16, kI16, kU32, kI32, kU64 };
/// The float type a hyperparameter was declared with (values carried as double).
enum class FloatType : std::uint8_t { kF64 = 0, kF32 };

/// Whether a value lies in the range of its declared integer type (kU64:
/// any bits), or is exactly representable in its declared float type.
OWF_API bool fits_int_type(std::int64_t value, IntType type);
OWF_API bool fits_float_type(double value, FloatType type);

/// A typed hyperparameter value.
struct Value {
  using Data = std::variant<bool, std::int64_t, double, std::string, std::vector<bool>, std::vector<std::int64_t>,
                            std::vector<double>, std::vector<std::string>>;
  Data data;
  IntType int_type = IntType::kI64;
  FloatType float_type = FloatType::kF64;

  Value() : data(false) {}
  Value(bool v) : data(v) {}
  Value(std::int64_t v, IntType t = IntType::kI64) : data(v), int_type(t) {}
  Value(int v) : data(std::int64_t{v}) {}
  Value(double v, FloatType t = FloatType::kF64) : data(v), float_type(t) {}
  Value(std::string v) : data(std::move(v)) {}
  Value(const char* v) : data(std::string(v)) {}
  Value(std::vector<bool> v) : data(std::move(v)) {}
  Value(std::vector<std::int64_t> v, IntType t = IntType::kI64) : data(std::move(v)), int_type(t) {}
  Value(std::vector<double> v, FloatType t = FloatType::kF64) : data(std::move(v)), float_type(t) {}
  Value(std::vector<std::string> v) : data(std::move(v)) {}

  bool operator==(const Value&) const = default;
};

/// Parses a command-line style value: "true"/"false", integers, floats,
/// "[1,2,3]" lists, anything else a string ("'42'" or "\"42\"" force a string).
OWF_API Value parse_value_literal(std::string_view text);
/// A readable rendering, e.g. `[1, 2, 3]` or `"text"`.
OWF_API std::string value_to_string(const Value& value);

/// Licensing. `spdx` is a validated SPDX license expression, or NOASSERTION
/// when the writer explicitly declines to state one.
struct License {
  std::string spdx;
  std::string concluded;  // optional SPDX expression concluded by a reviewer
  std::string name;
  std::string url;
  std::string text;  // full license text
  std::vector<std::string> copyright;
  std::string attribution;
  std::string restrictions;  // usage restrictions, acceptable-use policy

  bool operator==(const License&) const = default;
};

struct BaseModel {
  std::string name;
  Sha256Digest weights_digest{};
  bool operator==(const BaseModel&) const = default;
};

struct Provenance {
  std::string name;
  std::string version;
  std::string architecture;
  std::string description;
  std::vector<std::string> authors;
  std::string source_url;
  std::vector<BaseModel> base_models;
  std::string training_data;
  std::string software;  // producing software, e.g. "owf-convert 0.1.0"
  std::string created;   // caller-supplied timestamp; never filled in implicitly

  bool operator==(const Provenance&) const = default;
};

/// Model-level information carried by every format reader and writer.
/// Maps keep keys sorted, which is the order the file stores them in.
struct ModelInfo {
  std::optional<License> license;
  Provenance provenance;
  std::map<std::string, Value> hyperparameters;
  std::map<std::string, std::string> metadata;

  bool operator==(const ModelInfo&) const = default;
};

/// Checks an SPDX license expression (AND/OR/WITH, parentheses, `+`,
/// LicenseRef-/DocumentRef-, NONE and NOASSERTION as whole expressions)
/// against the bundled SPDX license list. The error names the offending token.
OWF_API Status validate_spdx_expression(std::string_view expression);
/// Version of the SPDX license list compiled into the library.
OWF_API std::string_view spdx_license_list_version();

/// Hyperparameter keys are dotted namespaces: segments of [A-Za-z0-9_-]
/// separated by single dots ("training.learning_rate").
OWF_API Status validate_hyperparameter_key(std::string_view key);

}  // namespace owf
