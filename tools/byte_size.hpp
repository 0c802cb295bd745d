// Sizes in bytes as people write them on a command line: "5GB", "500MiB".
#pragma once

#include <cstdint>
#include <string_view>

#include "owf/error.hpp"

namespace owf::tools {

/// A positive integer with an optional unit, case-insensitive: B (or none),
/// KB, MB, GB, TB (powers of 1000, as transformers' max_shard_size "5GB"),
/// KiB, MiB, GiB, TiB (powers of 1024). invalid_argument naming `option`
/// for anything else: 0, a sign, a fraction, spaces, an unknown unit, or a
/// size above 2^64 - 1 bytes.
Result<std::uint64_t> parse_byte_size(std::string_view text, std::string_view option);

}  // namespace owf::tools
