// Readers and writers of foreign formats. Each reader validates the whole
// file structure at open (offsets inside the file, no overlaps, sizes that
// match dtype x shape, header limits) and reports errors as
// foreign_format_invalid / foreign_format_unsupported with the offset, tensor
// and field at fault.
#pragma once

#include <filesystem>
#include <memory>

#include "owf/source.hpp"

namespace owf::internal {

Result<std::unique_ptr<Source>> open_safetensors(const std::filesystem::path& path, const Limits& limits);
Result<std::unique_ptr<Source>> open_gguf(const std::filesystem::path& path, const Limits& limits);
Result<std::unique_ptr<Source>> open_npy(const std::filesystem::path& path, const Limits& limits);
Result<std::unique_ptr<Source>> open_npz(const std::filesystem::path& path, const Limits& limits);
Result<std::unique_ptr<Source>> open_pytorch(const std::filesystem::path& path, const Limits& limits);

}  // namespace owf::internal
