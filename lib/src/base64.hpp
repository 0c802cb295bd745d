// Base64 (RFC 4648, standard alphabet, with padding), for binary values
// carried in text metadata (spec/interchange.md, GGUF "Model information").
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace owf::internal {

std::string base64_encode(std::span<const std::byte> in);
/// nullopt unless `in` is canonical padded base64 (length a multiple of 4,
/// only the alphabet, '=' only as the final one or two characters).
std::optional<std::vector<std::byte>> base64_decode(std::string_view in);

}  // namespace owf::internal
