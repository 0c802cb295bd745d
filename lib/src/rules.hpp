// The manifest's rules on single values (spec/format.md §4 and §8), in one
// place: the manifest decoder applies them when reading, the writer before
// writing, and every foreign-format reader to what it passes on, so that
// no component accepts what another refuses.
#pragma once

#include <string_view>

#include "owf/error.hpp"
#include "owf/reader.hpp"

namespace owf::internal {

/// R15, in the spec's order: non-empty (bad_tensor_name), at most
/// limits.max_name_bytes (limit_exceeded), no NUL byte (bad_tensor_name),
/// valid UTF-8 (bad_utf8). The message names the problem, not the tensor:
/// callers say where.
Status check_tensor_name(std::string_view name, const Limits& limits);

}  // namespace owf::internal
