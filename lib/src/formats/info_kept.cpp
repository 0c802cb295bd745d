// What each foreign format can hold (spec/interchange.md). Model
// information: safetensors keeps all of it in __metadata__ (owf.* keys);
// GGUF keeps the SPDX license, the provenance fields with general.* keys,
// hyperparameters and metadata; .npy and .npz keep none. Dtypes: each
// writer knows its own; the refusal is worded here.
#include <string>
#include <vector>

#include "formats/formats.hpp"
#include "owf/elements.hpp"

namespace owf::internal {

std::vector<std::string> info_not_kept(Format to, const ModelInfo& info) {
  std::vector<std::string> out;
  auto count = [](const char* what, std::size_t n) { return std::string(what) + " (" + std::to_string(n) + ")"; };
  const Provenance& p = info.provenance;
  const auto& l = info.license;
  switch (to) {
    case Format::kOwf:
    case Format::kSafetensors:
    case Format::kPyTorch:
      break;
    case Format::kGguf:
      if (l && (!l->concluded.empty() || !l->name.empty() || !l->url.empty() || !l->text.empty() ||
                !l->copyright.empty() || !l->attribution.empty() || !l->restrictions.empty()))
        out.push_back("license fields other than spdx");
      if (!p.base_models.empty()) out.push_back("provenance.base_models");
      if (!p.training_data.empty()) out.push_back("provenance.training_data");
      if (!p.software.empty()) out.push_back("provenance.software");
      if (!p.created.empty()) out.push_back("provenance.created");
      break;
    case Format::kNpz:
    case Format::kNpy:
      if (l) out.push_back("license");
      if (!(p == Provenance{})) out.push_back("provenance");
      if (!info.hyperparameters.empty()) out.push_back(count("hyperparameters", info.hyperparameters.size()));
      if (!info.metadata.empty()) out.push_back(count("metadata", info.metadata.size()));
      break;
  }
  return out;
}

Error dtype_not_kept(Format to, const TensorInfo& t) {
  const auto info = dtype_info(t.dtype);
  const bool castable =
      info && (info->kind == DTypeClass::kFloat || info->kind == DTypeClass::kQuantized) && can_decode(t.dtype);
  return Error(ErrorCode::kForeignFormatUnsupported,
               "tensor '" + std::string(t.name) + "' has dtype " + std::string(dtype_name(t.dtype)) + ", which " +
                   (to == Format::kGguf ? "GGUF" : std::string(format_name(to))) + " cannot store: leave it out" +
                   (castable ? " or cast it to F32, F16 or BF16" : ""));
}

}  // namespace owf::internal
