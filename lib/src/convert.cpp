#include "owf/convert.hpp"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "formats/formats.hpp"

namespace owf {

namespace {

// Sources with ranged reads (OWF, and readers that offer them) are copied in
// pieces of this size; others one whole tensor at a time.
constexpr std::uint64_t kPieceBytes = 8ull << 20;

// A reusable buffer that grows to the largest request and is never
// zero-filled (every byte handed out is overwritten by a read).
class Buffer {
 public:
  Result<std::span<std::byte>> get(std::uint64_t size, std::string_view tensor) {
    if (size > capacity_) {
      if (size > SIZE_MAX / 2)
        return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(tensor) + "' is too large for memory");
      data_.reset();
      data_ = std::make_unique_for_overwrite<std::byte[]>(static_cast<std::size_t>(size));
      capacity_ = size;
    }
    return std::span<std::byte>(data_.get(), static_cast<std::size_t>(size));
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  std::uint64_t capacity_ = 0;
};

void override_field(std::string& field, const std::string& value) {
  if (!value.empty()) field = value;
}

// A source seen with different model information.
class InfoOverride final : public Source {
 public:
  InfoOverride(const Source& base, ModelInfo info) : base_(base), info_(std::move(info)) {}
  Format format() const override { return base_.format(); }
  std::size_t tensor_count() const override { return base_.tensor_count(); }
  TensorInfo tensor(std::size_t index) const override { return base_.tensor(index); }
  Status read(std::size_t index, std::span<std::byte> out) const override { return base_.read(index, out); }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    return base_.read_range(index, offset, out);
  }
  bool ranged_reads() const override { return base_.ranged_reads(); }
  const ModelInfo& info() const override { return info_; }
  std::uint64_t alignment() const override { return base_.alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override { return base_.tensor_sha256(index); }
  const File* owf_file() const override { return base_.owf_file(); }

 private:
  const Source& base_;
  ModelInfo info_;
};

Status copy_tensor(const Source& source, std::size_t index, Writer& writer, Buffer& buffer) {
  const TensorInfo t = source.tensor(index);
  TensorSpec spec{std::string(t.name), t.dtype, std::vector<std::uint64_t>(t.shape.begin(), t.shape.end()), t.role};
  if (source.ranged_reads() && t.logical_bytes > kPieceBytes) {
    OWF_ASSIGN_OR_RETURN(std::span<std::byte> space, buffer.get(kPieceBytes, spec.name));
    OWF_RETURN_IF_ERROR(writer.begin_tensor(spec));
    for (std::uint64_t at = 0; at < t.logical_bytes; at += kPieceBytes) {
      const auto piece = space.first(static_cast<std::size_t>(std::min(kPieceBytes, t.logical_bytes - at)));
      OWF_RETURN_IF_ERROR(source.read_range(index, at, piece));
      OWF_RETURN_IF_ERROR(writer.append(piece));
    }
    return writer.end_tensor();
  }
  OWF_ASSIGN_OR_RETURN(std::span<std::byte> whole, buffer.get(t.logical_bytes, spec.name));
  OWF_RETURN_IF_ERROR(source.read(index, whole));
  return writer.add_tensor(spec, whole);
}

Status write_owf(const Source& source, const ModelInfo& info, const std::filesystem::path& path,
                 const ConvertOptions& options) {
  if (!info.license)
    return Error(ErrorCode::kMissingLicense,
                 "the source declares no license and none was given; an OWF file needs "
                 "an SPDX expression (or NOASSERTION, explicitly)");
  WriteOptions write = options.write;
  // OWF to OWF keeps the source's alignment unless told otherwise; other
  // formats' alignments (GGUF's 32) are below what OWF readers expect.
  if (!options.alignment_given)
    write.alignment = source.format() == Format::kOwf ? source.alignment() : WriteOptions{}.alignment;
  OWF_ASSIGN_OR_RETURN(Writer writer, Writer::create(path, write));
  OWF_RETURN_IF_ERROR(writer.set_info(info));
  Buffer buffer;
  for (std::size_t i = 0; i < source.tensor_count(); ++i) OWF_RETURN_IF_ERROR(copy_tensor(source, i, writer, buffer));
  return writer.finish();
}

}  // namespace

ModelInfo converted_info(const ModelInfo& source, const ConvertOptions& options) {
  ModelInfo info = source;
  if (options.license) info.license = options.license;
  for (const auto& [k, v] : options.hyperparameters) info.hyperparameters[k] = v;
  for (const auto& [k, v] : options.metadata) info.metadata[k] = v;
  Provenance& p = info.provenance;
  const Provenance& o = options.provenance;
  override_field(p.name, o.name);
  override_field(p.version, o.version);
  override_field(p.architecture, o.architecture);
  override_field(p.description, o.description);
  override_field(p.source_url, o.source_url);
  override_field(p.training_data, o.training_data);
  override_field(p.software, o.software);
  override_field(p.created, o.created);
  if (!o.authors.empty()) p.authors = o.authors;
  if (!o.base_models.empty()) p.base_models = o.base_models;
  return info;
}

Status convert(const Source& source, const std::filesystem::path& path, Format to, const ConvertOptions& options) {
  const InfoOverride target(source, converted_info(source.info(), options));
  const internal::OutputOptions output{.replace = options.write.overwrite};
  switch (to) {
    case Format::kOwf:
      return write_owf(source, target.info(), path, options);
    case Format::kSafetensors:
      return internal::write_safetensors(target, path, output);
    case Format::kGguf:
      return internal::write_gguf(target, path, options.alignment_given ? options.write.alignment : 0, output);
    case Format::kNpz:
      return internal::write_npz(target, path, output);
    case Format::kNpy:
      return internal::write_npy(target, path, output);
    case Format::kPyTorch:
      return Error(ErrorCode::kUnsupported,
                   "writing PyTorch checkpoints is not supported (they are pickle programs); "
                   "convert to safetensors or OWF instead");
  }
  return Error(ErrorCode::kInvalidArgument, "unknown target format");
}

}  // namespace owf
