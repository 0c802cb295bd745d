// JSON text as the official safetensors writer (serde_json) writes it, for
// the header and the values of the owf.* metadata keys.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace owf::internal::safetensors {

/// A JSON string literal: `\"`, `\\`, `\b \f \n \r \t`, other control
/// characters as `\u00xx`; everything else, including non-ASCII, verbatim.
void append_json_string(std::string& out, std::string_view s);
/// The shortest form that reads back to the same double; NaN and the
/// infinities as the strings "nan", "inf", "-inf".
void append_json_double(std::string& out, double v);
/// ["a","b"]
std::string json_string_list(const std::vector<std::string>& items);

}  // namespace owf::internal::safetensors
