#include "rules.hpp"

#include <string>

#include "utf8.hpp"

namespace owf::internal {

Status check_tensor_name(std::string_view name, const Limits& limits) {
  if (name.empty()) return Error(ErrorCode::kBadTensorName, "the name is empty");
  if (name.size() > limits.max_name_bytes)
    return Error(ErrorCode::kLimitExceeded, "the name is " + std::to_string(name.size()) +
                                                " bytes, over the limit of " + std::to_string(limits.max_name_bytes));
  if (const auto nul = name.find('\0'); nul != std::string_view::npos)
    return Error(ErrorCode::kBadTensorName, "the name has a NUL byte at byte " + std::to_string(nul));
  if (const auto bad = find_invalid_utf8(name); bad != std::string_view::npos)
    return Error(ErrorCode::kBadUtf8, "the name is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  return {};
}

}  // namespace owf::internal
