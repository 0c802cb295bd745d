// The globals a state-dict pickle may name (spec/interchange.md, "The
// pickle interpreter"): resolved by name against fixed tables, never
// imported. Anything else is refused with an error naming it.
#pragma once

#include <cstdint>
#include <string_view>

#include "formats/pickle.hpp"

namespace owf::internal::pickle {

/// The global `module.name`, or foreign_format_unsupported naming it (and
/// `at`, the byte offset of the opcode that named it).
Result<Global> resolve_global(std::string_view module, std::string_view name, std::uint64_t at);

}  // namespace owf::internal::pickle
