// SPDX license expressions (SPDX specification 2.3, annex D):
//   compound  := and-expr ("OR" and-expr)*
//   and-expr  := with-expr ("AND" with-expr)*
//   with-expr := simple ["WITH" exception-id]
//   simple    := license-id ["+"] | "LicenseRef-" idstring
//              | "DocumentRef-" idstring ":LicenseRef-" idstring | "(" compound ")"
// NONE and NOASSERTION stand only as whole expressions. Identifiers match
// the list case-insensitively; operators are upper case.
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "owf/metadata.hpp"

namespace owf {
namespace {

#include "spdx_list.inc"

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

template <std::size_t N>
bool in_list(const std::string_view (&list)[N], std::string_view id) {
  for (auto entry : list)
    if (iequals(entry, id)) return true;
  return false;
}

bool is_idstring(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') return false;
  return true;
}

struct Token {
  std::string_view text;
  std::size_t pos;
};

class Parser {
 public:
  explicit Parser(std::string_view expr) : expr_(expr) {}

  Status parse() {
    if (auto s = tokenize(); !s.ok()) return s;
    if (tokens_.empty()) return fail(0, "empty license expression");
    if (tokens_.size() == 1 && (tokens_[0].text == "NONE" || tokens_[0].text == "NOASSERTION"))
      return {};
    if (auto s = compound(0); !s.ok()) return s;
    if (i_ != tokens_.size()) return fail(tokens_[i_].pos, "unexpected '" + std::string(tokens_[i_].text) + "'");
    return {};
  }

 private:
  Status fail(std::size_t pos, const std::string& what) const {
    return Error(ErrorCode::kBadLicense,
                 "SPDX expression '" + std::string(expr_) + "' at character " + std::to_string(pos) + ": " + what);
  }

  Status tokenize() {
    std::size_t i = 0;
    while (i < expr_.size()) {
      const char c = expr_[i];
      if (c == ' ' || c == '\t') {
        ++i;
      } else if (c == '(' || c == ')' || c == '+') {
        tokens_.push_back({expr_.substr(i, 1), i});
        ++i;
      } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == ':') {
        std::size_t j = i;
        while (j < expr_.size() && (std::isalnum(static_cast<unsigned char>(expr_[j])) || expr_[j] == '-' ||
                                    expr_[j] == '.' || expr_[j] == ':'))
          ++j;
        tokens_.push_back({expr_.substr(i, j - i), i});
        i = j;
      } else {
        return fail(i, "invalid character");
      }
    }
    return {};
  }

  bool at(std::string_view text) const { return i_ < tokens_.size() && tokens_[i_].text == text; }
  std::size_t pos() const { return i_ < tokens_.size() ? tokens_[i_].pos : expr_.size(); }

  Status compound(int depth) {
    if (depth > 64) return fail(pos(), "parentheses nested too deeply");
    if (auto s = and_expr(depth); !s.ok()) return s;
    while (at("OR")) {
      ++i_;
      if (auto s = and_expr(depth); !s.ok()) return s;
    }
    return {};
  }

  Status and_expr(int depth) {
    if (auto s = with_expr(depth); !s.ok()) return s;
    while (at("AND")) {
      ++i_;
      if (auto s = with_expr(depth); !s.ok()) return s;
    }
    return {};
  }

  Status with_expr(int depth) {
    if (auto s = simple(depth); !s.ok()) return s;
    if (at("WITH")) {
      ++i_;
      if (i_ >= tokens_.size()) return fail(pos(), "exception identifier expected after WITH");
      const Token& t = tokens_[i_];
      if (!in_list(kSpdxExceptions, t.text))
        return fail(t.pos, "'" + std::string(t.text) + "' is not an SPDX license exception");
      ++i_;
    }
    return {};
  }

  Status simple(int depth) {
    if (i_ >= tokens_.size()) return fail(pos(), "license identifier expected");
    const Token& t = tokens_[i_];
    if (t.text == "(") {
      ++i_;
      if (auto s = compound(depth + 1); !s.ok()) return s;
      if (!at(")")) return fail(pos(), "')' expected");
      ++i_;
      return {};
    }
    if (t.text == ")" || t.text == "+" || t.text == "AND" || t.text == "OR" || t.text == "WITH")
      return fail(t.pos, "license identifier expected, got '" + std::string(t.text) + "'");
    if (t.text == "NONE" || t.text == "NOASSERTION")
      return fail(t.pos, std::string(t.text) + " must stand alone as the whole expression");
    if (!license_ref(t.text) && !in_list(kSpdxLicenses, t.text))
      return fail(t.pos, "'" + std::string(t.text) + "' is not an SPDX license identifier (SPDX list " +
                             std::string(kSpdxListVersion) + "; use LicenseRef-... for others)");
    ++i_;
    if (at("+")) ++i_;
    return {};
  }

  static bool license_ref(std::string_view id) {
    constexpr std::string_view kLicenseRef = "LicenseRef-";
    constexpr std::string_view kDocumentRef = "DocumentRef-";
    if (id.starts_with(kLicenseRef)) return is_idstring(id.substr(kLicenseRef.size()));
    if (id.starts_with(kDocumentRef)) {
      const auto colon = id.find(':');
      if (colon == std::string_view::npos) return false;
      return is_idstring(id.substr(kDocumentRef.size(), colon - kDocumentRef.size())) &&
             license_ref(id.substr(colon + 1));
    }
    return false;
  }

  std::string_view expr_;
  std::vector<Token> tokens_;
  std::size_t i_ = 0;
};

}  // namespace

Status validate_spdx_expression(std::string_view expression) { return Parser(expression).parse(); }

std::string_view spdx_license_list_version() { return kSpdxListVersion; }

}  // namespace owf
