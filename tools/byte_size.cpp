#include "byte_size.hpp"

#include <array>
#include <cctype>
#include <charconv>
#include <string>
#include <utility>

namespace owf::tools {

Result<std::uint64_t> parse_byte_size(std::string_view text, std::string_view option) {
  const std::string where = std::string(option) + ": '" + std::string(text) + "'";
  const auto invalid = [&](const std::string& why) { return Error(ErrorCode::kInvalidArgument, where + why); };
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits])) != 0) ++digits;
  if (!text.empty() && text.front() == '-') return invalid(": a size cannot be negative");
  if (digits == 0)
    return invalid(
        " is not a size: expected a positive integer with an optional unit, B, KB, MB, GB, TB (powers of 1000) "
        "or KiB, MiB, GiB, TiB (powers of 1024), e.g. 5GB");
  std::string unit(text.substr(digits));
  for (char& c : unit) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 10> kUnits{{
      {"", 1},
      {"b", 1},
      {"kb", 1000},
      {"mb", 1000ull * 1000},
      {"gb", 1000ull * 1000 * 1000},
      {"tb", 1000ull * 1000 * 1000 * 1000},
      {"kib", 1ull << 10},
      {"mib", 1ull << 20},
      {"gib", 1ull << 30},
      {"tib", 1ull << 40},
  }};
  std::uint64_t scale = 0;
  for (const auto& [name, value] : kUnits)
    if (unit == name) scale = value;
  if (scale == 0)
    return invalid(": unknown unit '" + std::string(text.substr(digits)) +
                   "' (B, KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB powers of 1024)");
  std::uint64_t count = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, count);
  if (ec == std::errc::result_out_of_range || (ec == std::errc() && count > UINT64_MAX / scale))
    return invalid(" is too large: at most 18446744073709551615 bytes");
  if (ec != std::errc() || end != text.data() + digits) return invalid(" is not a size");
  if (count == 0) return invalid(": a size must be at least 1 byte");
  return count * scale;
}

}  // namespace owf::tools
