// Readers and writers of foreign formats. Each reader validates the whole
// file structure at open (offsets inside the file, no overlaps, sizes that
// match dtype x shape, header limits) and reports errors as
// foreign_format_invalid / foreign_format_unsupported with the offset, tensor
// and field at fault.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/byte_source.hpp"
#include "io/output_file.hpp"
#include "owf/source.hpp"

namespace owf::internal {

Result<std::unique_ptr<Source>> open_safetensors(const std::filesystem::path& path, const Limits& limits);
Result<std::unique_ptr<Source>> open_gguf(const std::filesystem::path& path, const Limits& limits);
/// The same over any byte source (a local file, a buffer, a remote file):
/// these readers use only ByteSource::read_at(), never a mapping.
Result<std::unique_ptr<Source>> open_safetensors(std::shared_ptr<const ByteSource> bytes, const Limits& limits);
Result<std::unique_ptr<Source>> open_gguf(std::shared_ptr<const ByteSource> bytes, const Limits& limits);
Result<std::unique_ptr<Source>> open_npy(const std::filesystem::path& path, const Limits& limits);
Result<std::unique_ptr<Source>> open_npz(const std::filesystem::path& path, const Limits& limits);
Result<std::unique_ptr<Source>> open_pytorch(const std::filesystem::path& path, const Limits& limits);
/// `select`: read only the tensors under this key (dotted path) of the checkpoint.
Result<std::unique_ptr<Source>> open_pytorch(const std::filesystem::path& path, const Limits& limits,
                                             std::string_view select);
// The same readers over any byte source (the path versions open the file).
/// `name`: the array's tensor name (the path version uses the file's stem).
Result<std::unique_ptr<Source>> open_npy(std::shared_ptr<const ByteSource> source, std::string name,
                                         const Limits& limits);
Result<std::unique_ptr<Source>> open_npz(std::shared_ptr<const ByteSource> source, const Limits& limits);
Result<std::unique_ptr<Source>> open_pytorch(std::shared_ptr<const ByteSource> source, const Limits& limits,
                                             std::string_view select);

// Writers: stream every tensor of `source` into `path` (through OutputFile,
// so nothing appears under the name unless complete), keeping memory near
// the largest tensor. Model information is mapped to the format's own
// metadata as losslessly as the format allows (spec/interchange.md).
Status write_safetensors(const Source& source, const std::filesystem::path& path, const OutputOptions& output = {});
/// One file of a GGUF split set, as llama.cpp's gguf-split writes it
/// (spec/interchange.md, "GGUF splits"): the keys split.no (u16),
/// split.count (u16) and split.tensors.count (i32).
struct GgufSplit {
  std::uint16_t no = 0;  // from 0
  std::uint16_t count = 1;
  std::int32_t tensors_count = 0;  // in all splits
};
/// alignment 0: the source's alignment where it has one, else 32 (GGUF's default).
/// With `split`: the file is that split of a set, holding the source's
/// tensors; the first split also holds the model's key/value pairs, the
/// others only the split keys (and general.alignment when not 32). The
/// caller names the file (gguf::split_path) and chooses each split's tensors.
Status write_gguf(const Source& source, const std::filesystem::path& path, std::uint64_t alignment,
                  const OutputOptions& output = {}, const std::optional<GgufSplit>& split = std::nullopt);
Status write_npz(const Source& source, const std::filesystem::path& path, const OutputOptions& output = {});
/// The source must hold exactly one tensor.
Status write_npy(const Source& source, const std::filesystem::path& path, const OutputOptions& output = {});

/// The parts of `info` that a file of format `to` cannot hold, for telling
/// the user what a conversion leaves behind: "license", "provenance.authors",
/// "hyperparameters (3)", ... (spec/interchange.md, each format's "Writing").
std::vector<std::string> info_not_kept(Format to, const ModelInfo& info);

/// The refusal of a writer of format `to` whose format has no dtype for
/// tensor `t`: names the tensor and what a conversion can do instead
/// (leave it out; cast it, when its values can be cast).
Error dtype_not_kept(Format to, const TensorInfo& t);

}  // namespace owf::internal
