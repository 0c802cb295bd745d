#include "formats/pickle_literals.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace owf::internal::pickle {

namespace {

Error bad(const char* what) { return Error(ErrorCode::kForeignFormatInvalid, what); }

}  // namespace

Result<std::string> decode_string_literal(std::string_view q) {
  if (q.size() < 2 || (q.front() != '\'' && q.front() != '"') || q.back() != q.front())
    return bad("STRING argument is not a quoted literal");
  q = q.substr(1, q.size() - 2);
  std::string out;
  out.reserve(q.size());
  for (std::size_t i = 0; i < q.size(); ++i) {
    if (q[i] != '\\') {
      out.push_back(q[i]);
      continue;
    }
    if (++i >= q.size()) return bad("STRING literal ends in a backslash");
    const char c = q[i];
    switch (c) {
      case 'n':
        out.push_back('\n');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '\'':
        out.push_back('\'');
        break;
      case '"':
        out.push_back('"');
        break;
      case 'x': {
        if (i + 2 >= q.size()) return bad("bad \\x escape in STRING");
        unsigned v = 0;
        auto [ptr, ec] = std::from_chars(q.data() + i + 1, q.data() + std::min(q.size(), i + 3), v, 16);
        if (ec != std::errc() || ptr != q.data() + i + 3) return bad("bad \\x escape in STRING");
        out.push_back(static_cast<char>(v));
        i += 2;
        break;
      }
      default:
        if (c >= '0' && c <= '7') {
          unsigned v = 0;
          std::size_t n = 0;
          while (n < 3 && i + n < q.size() && q[i + n] >= '0' && q[i + n] <= '7') v = v * 8 + (q[i + n++] - '0');
          out.push_back(static_cast<char>(v & 0xFF));
          i += n - 1;
        } else {
          out.push_back('\\');
          out.push_back(c);
        }
    }
  }
  return out;
}

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

Result<std::string> decode_raw_unicode_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'u' || s[i + 1] == 'U')) {
      const std::size_t n = s[i + 1] == 'u' ? 4 : 8;
      if (i + 2 + n > s.size()) return bad("bad \\u escape in UNICODE");
      std::uint32_t cp = 0;
      auto [ptr, ec] = std::from_chars(s.data() + i + 2, s.data() + i + 2 + n, cp, 16);
      if (ec != std::errc() || ptr != s.data() + i + 2 + n || cp > 0x10FFFF) return bad("bad \\u escape in UNICODE");
      append_utf8(out, cp);
      i += 1 + n;
    } else {
      append_utf8(out, static_cast<unsigned char>(s[i]));  // latin-1
    }
  }
  return out;
}

}  // namespace owf::internal::pickle
