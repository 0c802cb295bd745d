// Rendering for the owf-* tools: text for terminals (every string that
// comes from a file is escaped, so a tensor name cannot move the cursor or
// rewrite a line), and JSON for programs (exact, never escaped beyond JSON).
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "owf/owf.hpp"

namespace owf::tools {

/// `text` with every control character (C0, DEL, C1), bidirectional
/// override and invalid UTF-8 byte replaced by a visible escape (\n, \x1b,
/// \u{202e}); printable UTF-8 is kept.
std::string printable(std::string_view text);

/// Pretty JSON text; invalid UTF-8 in strings is replaced, never thrown on.
std::string dump_json(const nlohmann::json& json);
nlohmann::json to_json(const Value& value);
nlohmann::json to_json(const License& license);
nlohmann::json to_json(const Provenance& provenance);
nlohmann::json shape_json(std::span<const std::uint64_t> shape);
/// {"code": 42, "name": "tensor_digest_mismatch", "message": "..."}
nlohmann::json error_json(const Error& error);
/// A double as JSON: NaN and infinities, which JSON lacks, as strings.
nlohmann::json double_json(double value);

/// Readable renderings: "[4, 2]", "1.4 MiB", "1,234,567".
std::string shape_string(std::span<const std::uint64_t> shape);
std::string human_bytes(std::uint64_t bytes);
std::string grouped(std::uint64_t n);
/// A value for a table, escaped: lists longer than `max_items` and strings
/// longer than `max_chars` are cut, with the full size said.
std::string value_summary(const Value& value, std::size_t max_items = 8, std::size_t max_chars = 80);

/// "  key            value" when value is non-empty (value escaped).
void print_field(std::string_view key, std::string_view value);

/// Rows of cells printed with aligned columns (numbers right-aligned);
/// every cell is escaped.
class Table {
 public:
  explicit Table(std::vector<std::string> header, std::vector<bool> right_aligned = {});
  void add(std::vector<std::string> row);
  std::string render(std::string_view indent = "  ") const;

 private:
  std::vector<std::vector<std::string>> rows_;
  std::vector<bool> right_;
};

}  // namespace owf::tools
