#include "rules.hpp"

#include <algorithm>
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

namespace {

// spec/versioning.md, "Known features".
constexpr Feature kFeatures[] = {
    {"nvfp4", 1},
    {"q1_0", 1},
    {"q2_0", 1},
    {"zstd", 0},
};

}  // namespace

std::span<const Feature> known_features() { return kFeatures; }

std::optional<Feature> find_feature(std::string_view name) {
  for (const Feature& f : kFeatures)
    if (f.name == name) return f;
  return std::nullopt;
}

std::optional<Feature> feature_of(DType dtype) {
  switch (dtype) {
    case DType::kNVFP4: return find_feature("nvfp4");
    case DType::kQ1_0: return find_feature("q1_0");
    case DType::kQ2_0: return find_feature("q2_0");
    default: return std::nullopt;
  }
}

Status check_dtype_feature(DType dtype, std::span<const std::string_view> listed) {
  const auto feature = feature_of(dtype);
  if (!feature || std::find(listed.begin(), listed.end(), feature->name) != listed.end()) return {};
  return Error(ErrorCode::kUnknownDtype, "dtype " + std::string(dtype_name(dtype)) + " needs the required feature \"" +
                                             std::string(feature->name) + "\", which the file does not list");
}

}  // namespace owf::internal
