// ModelInfo <-> the safetensors __metadata__ object (spec/interchange.md,
// safetensors "Model information"): plain entries stay metadata; the keys
// owf.license.*, owf.provenance.* and owf.hparam.* carry OWF's license,
// provenance and typed hyperparameters.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "owf/metadata.hpp"

namespace owf::internal::safetensors {

/// bad_metadata / bad_license for a malformed value under an owf.* key.
Result<ModelInfo> decode_model_info(std::vector<std::pair<std::string, std::string>> entries);
/// The __metadata__ entries for `info`; bad_metadata when a metadata key
/// would collide with the mapping.
Result<std::map<std::string, std::string>> encode_model_info(const ModelInfo& info);

}  // namespace owf::internal::safetensors
