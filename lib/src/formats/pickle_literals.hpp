// Literals of the text pickle protocol (0): quoted STRING arguments with
// Python escapes, and raw-unicode-escape UNICODE arguments. Errors carry a
// description only; the interpreter adds where.
#pragma once

#include <string>
#include <string_view>

#include "owf/error.hpp"

namespace owf::internal::pickle {

/// The bytes of a STRING argument: a quoted Python literal ('...' or "...")
/// with \n \t \r \\ \' \" \xHH and octal escapes.
Result<std::string> decode_string_literal(std::string_view quoted);

/// A UNICODE argument (raw-unicode-escape: latin-1 text with \uXXXX and
/// \UXXXXXXXX escapes) as UTF-8.
Result<std::string> decode_raw_unicode_escape(std::string_view text);

}  // namespace owf::internal::pickle
