// SPDX license expressions (spec/format.md §4.6, after SPDX 2.3 annex D):
//   compound  := and-expr ("OR" and-expr)*
//   and-expr  := with-expr ("AND" with-expr)*
//   with-expr := "(" compound ")" | item ["WITH" exception-id]
//   item      := license-id ["+"] | ["DocumentRef-" idstring ":"] "LicenseRef-" idstring
// Tokens are "(", ")" and words of [A-Za-z0-9.:+-], separated by any number
// of spaces (0x20) and by nothing else. NONE and NOASSERTION stand only as
// whole expressions. Operators, NONE, NOASSERTION and the LicenseRef- and
// DocumentRef- prefixes are matched exactly; license and exception
// identifiers case-insensitively (ASCII) against the bundled SPDX list.
// Parentheses nest at most 64 deep.
#include <string>
#include <string_view>
#include <vector>

#include "owf/metadata.hpp"

namespace owf {
namespace {

#include "spdx_list.inc"

constexpr int kMaxNesting = 64;

bool is_alnum(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_word_char(char c) { return is_alnum(c) || c == '-' || c == '.' || c == ':' || c == '+'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

template <std::size_t N>
bool in_list(const std::string_view (&list)[N], std::string_view id) {
  for (auto entry : list)
    if (iequals(entry, id)) return true;
  return false;
}

// idstring = 1*(ALPHA / DIGIT / "-" / ".")
bool is_idstring(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_alnum(c) && c != '-' && c != '.') return false;
  return true;
}

// ["DocumentRef-" idstring ":"] "LicenseRef-" idstring, prefixes matched exactly.
bool is_license_ref(std::string_view id) {
  constexpr std::string_view kLicenseRef = "LicenseRef-";
  constexpr std::string_view kDocumentRef = "DocumentRef-";
  if (id.starts_with(kDocumentRef)) {
    const auto colon = id.find(':');
    if (colon == std::string_view::npos) return false;
    if (!is_idstring(id.substr(kDocumentRef.size(), colon - kDocumentRef.size()))) return false;
    id.remove_prefix(colon + 1);
  }
  return id.starts_with(kLicenseRef) && is_idstring(id.substr(kLicenseRef.size()));
}

// A piece of the expression for a message, shortened if long.
std::string shown(std::string_view s) {
  return s.size() > 200 ? std::string(s.substr(0, 200)) + "..." : std::string(s);
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
    if (tokens_.size() == 1 && (tokens_[0].text == "NONE" || tokens_[0].text == "NOASSERTION")) return {};
    if (auto s = compound(0); !s.ok()) return s;
    if (i_ != tokens_.size()) return fail(tokens_[i_].pos, "unexpected '" + shown(tokens_[i_].text) + "'");
    return {};
  }

 private:
  Status fail(std::size_t pos, const std::string& what) const {
    return Error(ErrorCode::kBadLicense,
                 "SPDX expression '" + shown(expr_) + "' at character " + std::to_string(pos) + ": " + what);
  }

  Status tokenize() {
    std::size_t i = 0;
    while (i < expr_.size()) {
      const char c = expr_[i];
      if (c == ' ') {
        ++i;
      } else if (c == '(' || c == ')') {
        tokens_.push_back({expr_.substr(i, 1), i});
        ++i;
      } else if (is_word_char(c)) {
        std::size_t j = i;
        while (j < expr_.size() && is_word_char(expr_[j])) ++j;
        tokens_.push_back({expr_.substr(i, j - i), i});
        i = j;
      } else {
        return fail(i, c == '\t' || c == '\n' || c == '\r'
                           ? "only spaces separate tokens"
                           : "invalid character (byte " + std::to_string(static_cast<unsigned char>(c)) + ")");
      }
    }
    return {};
  }

  bool at(std::string_view text) const { return i_ < tokens_.size() && tokens_[i_].text == text; }
  std::size_t pos() const { return i_ < tokens_.size() ? tokens_[i_].pos : expr_.size(); }

  Status compound(int depth) {
    if (depth > kMaxNesting)
      return fail(pos(), "parentheses nested more than " + std::to_string(kMaxNesting) + " deep");
    if (auto s = with_expr(depth); !s.ok()) return s;
    while (at("AND") || at("OR")) {
      ++i_;
      if (auto s = with_expr(depth); !s.ok()) return s;
    }
    return {};
  }

  // AND binds tighter than OR, but both only combine valid operands, so
  // validity does not depend on the grouping.
  Status with_expr(int depth) {
    if (i_ >= tokens_.size()) return fail(pos(), "license identifier expected");
    if (at("(")) {
      ++i_;
      if (auto s = compound(depth + 1); !s.ok()) return s;
      if (!at(")")) return fail(pos(), "')' expected");
      ++i_;
      if (at("WITH")) return fail(pos(), "WITH follows a license identifier or reference, not a parenthesis");
      return {};
    }
    if (auto s = item(); !s.ok()) return s;
    if (at("WITH")) {
      ++i_;
      if (i_ >= tokens_.size()) return fail(pos(), "exception identifier expected after WITH");
      const Token& t = tokens_[i_];
      if (!in_list(kSpdxExceptions, t.text))
        return fail(t.pos, "'" + shown(t.text) + "' is not an SPDX license exception");
      ++i_;
    }
    return {};
  }

  Status item() {
    const Token& t = tokens_[i_];
    if (t.text == ")" || t.text == "AND" || t.text == "OR" || t.text == "WITH")
      return fail(t.pos, "license identifier expected, got '" + shown(t.text) + "'");
    if (t.text == "NONE" || t.text == "NOASSERTION")
      return fail(t.pos, std::string(t.text) + " must stand alone as the whole expression");
    std::string_view id = t.text;
    const bool plus = id.ends_with('+');
    if (plus) id.remove_suffix(1);
    if (id.find('+') != std::string_view::npos || id.empty())
      return fail(t.pos, "'+' is allowed only right after a license identifier");
    if (is_license_ref(id)) {
      if (plus) return fail(t.pos, "'+' follows only a license identifier from the SPDX list, not a LicenseRef");
    } else if (!in_list(kSpdxLicenses, id)) {
      return fail(t.pos, "'" + shown(id) + "' is not an SPDX license identifier (SPDX list " +
                             std::string(kSpdxListVersion) + "; use LicenseRef-... for others)");
    }
    ++i_;
    return {};
  }

  std::string_view expr_;
  std::vector<Token> tokens_;
  std::size_t i_ = 0;
};

}  // namespace

Status validate_spdx_expression(std::string_view expression) { return Parser(expression).parse(); }

std::string_view spdx_license_list_version() { return kSpdxListVersion; }

}  // namespace owf
