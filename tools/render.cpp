#include "render.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <variant>

namespace owf::tools {

namespace {

// Length of the valid UTF-8 sequence at s[i] (1..4), or 0 when invalid;
// *cp receives the code point.
std::size_t utf8_sequence(std::string_view s, std::size_t i, std::uint32_t* cp) {
  const auto c = static_cast<unsigned char>(s[i]);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  std::size_t len;
  std::uint32_t v, min;
  if ((c & 0xE0) == 0xC0)
    len = 2, v = c & 0x1F, min = 0x80;
  else if ((c & 0xF0) == 0xE0)
    len = 3, v = c & 0x0F, min = 0x800;
  else if ((c & 0xF8) == 0xF0)
    len = 4, v = c & 0x07, min = 0x10000;
  else
    return 0;
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return 0;
    v = v << 6 | (d & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

bool needs_escape(std::uint32_t cp) {
  return cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||             // C0, DEL, C1 controls
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||  // bidirectional overrides
         cp == 0x2028 || cp == 0x2029;                                        // line and paragraph separators
}

}  // namespace

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::uint32_t cp = 0;
    const std::size_t len = utf8_sequence(text, i, &cp);
    if (len == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(text[i]));
      ++i;
      continue;
    }
    if (!needs_escape(cp)) {
      out.append(text.substr(i, len));
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp < 0x80) {
      out += fmt::format("\\x{:02x}", cp);
    } else {
      out += fmt::format("\\u{{{:x}}}", cp);
    }
    i += len;
  }
  return out;
}

nlohmann::json double_json(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

namespace {

nlohmann::json int_json(const Value& v, std::int64_t i) {
  if (v.int_type == IntType::kU64) return static_cast<std::uint64_t>(i);
  return i;
}

}  // namespace

std::string dump_json(const nlohmann::json& json) {
  return json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json error_json(const Error& error) {
  return {{"code", static_cast<int>(error.code())},
          {"name", std::string(error_code_name(error.code()))},
          {"message", error.message()}};
}

nlohmann::json to_json(const Value& value) {
  return std::visit(
      [&](const auto& x) -> nlohmann::json {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::string>) {
          return x;
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return int_json(value, x);
        } else if constexpr (std::is_same_v<T, double>) {
          return double_json(x);
        } else {
          auto a = nlohmann::json::array();
          for (const auto& e : x) {
            using E = std::decay_t<decltype(e)>;
            if constexpr (std::is_same_v<E, std::int64_t>)
              a.push_back(int_json(value, e));
            else if constexpr (std::is_same_v<E, double>)
              a.push_back(double_json(e));
            else if constexpr (std::is_same_v<T, std::vector<bool>>)
              a.push_back(static_cast<bool>(e));
            else
              a.push_back(e);
          }
          return a;
        }
      },
      value.data);
}

nlohmann::json to_json(const License& l) {
  nlohmann::json j{{"spdx", l.spdx}};
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("concluded", l.concluded);
  put("name", l.name);
  put("url", l.url);
  put("text", l.text);
  if (!l.copyright.empty()) j["copyright"] = l.copyright;
  put("attribution", l.attribution);
  put("restrictions", l.restrictions);
  return j;
}

nlohmann::json to_json(const Provenance& p) {
  nlohmann::json j = nlohmann::json::object();
  auto put = [&](const char* key, const std::string& v) {
    if (!v.empty()) j[key] = v;
  };
  put("name", p.name);
  put("version", p.version);
  put("architecture", p.architecture);
  put("description", p.description);
  if (!p.authors.empty()) j["authors"] = p.authors;
  put("source_url", p.source_url);
  if (!p.base_models.empty()) {
    auto a = nlohmann::json::array();
    for (const auto& b : p.base_models) a.push_back({{"name", b.name}, {"weights_digest", to_hex(b.weights_digest)}});
    j["base_models"] = a;
  }
  put("training_data", p.training_data);
  put("software", p.software);
  put("created", p.created);
  return j;
}

nlohmann::json shape_json(std::span<const std::uint64_t> shape) {
  auto a = nlohmann::json::array();
  for (auto d : shape) a.push_back(d);
  return a;
}

std::string shape_string(std::span<const std::uint64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} bytes", bytes);
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double v = static_cast<double>(bytes) / 1024.0;
  int unit = 0;
  while (v >= 1024.0 && unit < 5) {
    v /= 1024.0;
    ++unit;
  }
  return fmt::format("{:.1f} {}", v, kUnits[unit]);
}

std::string grouped(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string value_summary(const Value& value, std::size_t max_items, std::size_t max_chars) {
  auto cut = [&](std::string s) {
    if (s.size() <= max_chars) return s;
    std::size_t n = max_chars;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // whole UTF-8 characters
    return s.substr(0, n) + fmt::format("... ({} bytes)", s.size());
  };
  return std::visit(
      [&](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>) {
          return value_to_string(value);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return cut("\"" + printable(x) + "\"");
        } else {
          if (x.size() <= max_items) return cut(printable(value_to_string(value)));
          Value head = value;
          std::visit(
              [&](auto& v) {
                using V = std::decay_t<decltype(v)>;
                if constexpr (!std::is_same_v<V, bool> && !std::is_same_v<V, std::int64_t> &&
                              !std::is_same_v<V, double> && !std::is_same_v<V, std::string>)
                  v.resize(max_items);
              },
              head.data);
          std::string s = printable(value_to_string(head));
          s.pop_back();  // ']'
          return cut(s) + fmt::format(", ... ({} items)]", x.size());
        }
      },
      value.data);
}

void print_field(std::string_view key, std::string_view value) {
  if (!value.empty()) fmt::print("  {:<14} {}\n", key, printable(value));
}

Table::Table(std::vector<std::string> header, std::vector<bool> right_aligned) : right_(std::move(right_aligned)) {
  right_.resize(header.size(), false);
  rows_.push_back(std::move(header));
}

void Table::add(std::vector<std::string> row) {
  row.resize(right_.size());
  for (auto& cell : row) cell = printable(cell);
  rows_.push_back(std::move(row));
}

namespace {
// Display width: UTF-8 continuation bytes take no column.
std::size_t width(const std::string& s) {
  return static_cast<std::size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}
}  // namespace

std::string Table::render(std::string_view indent) const {
  std::vector<std::size_t> widths(right_.size(), 0);
  for (const auto& row : rows_)
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], width(row[c]));
  std::string out;
  for (const auto& row : rows_) {
    std::string line(indent);
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::string pad(widths[c] - width(row[c]), ' ');
      if (c) line += "  ";
      line += right_[c] ? pad + row[c] : (c + 1 == row.size() ? row[c] : row[c] + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

}  // namespace owf::tools
