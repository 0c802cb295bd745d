// What a weights file holds, for owf-inspect: the file, its license,
// provenance, hyperparameters, metadata, tensor table and totals, as text
// (escaped for terminals) or as one JSON object (exact).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "owf/owf.hpp"

namespace owf::tools {

struct FileReport {
  std::string path;
  std::optional<std::uint64_t> size;  // unknown for remote files of foreign formats
  const Source* source = nullptr;
  const Digests* digests = nullptr;
};

nlohmann::json report_json(const FileReport& report);
/// `full`: do not shorten long hyperparameter and metadata values.
void print_report(const FileReport& report, bool full);

}  // namespace owf::tools
