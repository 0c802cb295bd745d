// The differences between two models' information (license, provenance,
// hyperparameters, metadata), for owf-diff.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "owf/owf.hpp"

namespace owf::tools {

struct InfoDiff {
  std::vector<std::string> lines;  // "  hyperparameter ~ lr: 0.1 -> 0.2", escaped
  nlohmann::json json = nlohmann::json::object();
};

InfoDiff diff_info(const ModelInfo& a, const ModelInfo& b);

}  // namespace owf::tools
