#include "tensor_selection.hpp"

#include <optional>

namespace owf::internal {
namespace {

// Matches the bracket expression starting at pattern[at] ('[') against
// byte `c`; the position after its ']' and whether `c` is in the set, or
// nullopt when the bracket is not closed (then '[' is an ordinary byte).
std::optional<std::pair<std::size_t, bool>> match_bracket(std::string_view pattern, std::size_t at, char c) {
  std::size_t i = at + 1;
  bool negate = false;
  if (i < pattern.size() && (pattern[i] == '!' || pattern[i] == '^')) {
    negate = true;
    ++i;
  }
  bool in = false;
  bool first = true;
  while (i < pattern.size() && (first || pattern[i] != ']')) {
    first = false;
    char lo = pattern[i];
    if (lo == '\\' && i + 1 < pattern.size()) lo = pattern[++i];
    ++i;
    char hi = lo;
    if (i + 1 < pattern.size() && pattern[i] == '-' && pattern[i + 1] != ']') {
      hi = pattern[i + 1];
      if (hi == '\\' && i + 2 < pattern.size()) hi = pattern[++i + 1];
      i += 2;
    }
    const auto u = static_cast<unsigned char>(c);
    if (static_cast<unsigned char>(lo) <= u && u <= static_cast<unsigned char>(hi)) in = true;
  }
  if (i >= pattern.size()) return std::nullopt;
  return std::pair{i + 1, in != negate};
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view name) {
  std::size_t p = 0, n = 0;
  // The last '*' seen and the name position it has swallowed up to: on a
  // mismatch the star takes one more byte and matching resumes after it.
  std::optional<std::size_t> star_p;
  std::size_t star_n = 0;
  while (n < name.size()) {
    if (p < pattern.size()) {
      const char c = pattern[p];
      if (c == '*') {
        star_p = ++p;
        star_n = n;
        continue;
      }
      if (c == '?') {
        ++p, ++n;
        continue;
      }
      if (c == '[') {
        if (auto bracket = match_bracket(pattern, p, name[n])) {
          if (bracket->second) {
            p = bracket->first;
            ++n;
            continue;
          }
        } else if (name[n] == '[') {
          ++p, ++n;
          continue;
        }
      } else {
        const std::size_t literal = c == '\\' && p + 1 < pattern.size() ? p + 1 : p;
        if (pattern[literal] == name[n]) {
          p = literal + 1;
          ++n;
          continue;
        }
      }
    }
    if (!star_p) return false;
    p = *star_p;
    n = ++star_n;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<std::vector<std::size_t>> select_tensors(const Source& source, std::span<const std::string> include,
                                                std::span<const std::string> exclude) {
  const std::size_t n = source.tensor_count();
  std::vector<bool> included(n, include.empty()), excluded(n, false);
  auto apply = [&](std::span<const std::string> patterns, std::vector<bool>& hit, const char* option) -> Status {
    for (const std::string& pattern : patterns) {
      bool any = false;
      for (std::size_t i = 0; i < n; ++i)
        if (glob_match(pattern, source.tensor(i).name)) hit[i] = any = true;
      if (!any)
        return Error(ErrorCode::kInvalidArgument,
                     std::string(option) + " pattern '" + pattern + "' matches no tensor of the source");
    }
    return {};
  };
  OWF_RETURN_IF_ERROR(apply(include, included, "include"));
  OWF_RETURN_IF_ERROR(apply(exclude, excluded, "exclude"));
  std::vector<std::size_t> selected;
  for (std::size_t i = 0; i < n; ++i)
    if (included[i] && !excluded[i]) selected.push_back(i);
  if (selected.empty() && n != 0)
    return Error(ErrorCode::kInvalidArgument, "the include and exclude patterns leave no tensor of the source");
  return selected;
}

}  // namespace owf::internal
