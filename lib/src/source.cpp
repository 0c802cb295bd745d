#include "owf/source.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>

#include "formats/formats.hpp"
#include "parallel.hpp"
#include "sha256.hpp"

namespace owf {

std::string_view format_name(Format format) {
  switch (format) {
    case Format::kOwf: return "owf";
    case Format::kSafetensors: return "safetensors";
    case Format::kGguf: return "gguf";
    case Format::kNpz: return "npz";
    case Format::kNpy: return "npy";
    case Format::kPyTorch: return "pytorch";
  }
  return "unknown";
}

std::optional<Format> format_from_name(std::string_view name) {
  for (Format f : {Format::kOwf, Format::kSafetensors, Format::kGguf, Format::kNpz, Format::kNpy, Format::kPyTorch})
    if (format_name(f) == name) return f;
  if (name == "pt" || name == "pth" || name == "torch") return Format::kPyTorch;
  return std::nullopt;
}

std::optional<Format> format_from_extension(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".owf") return Format::kOwf;
  if (ext == ".safetensors") return Format::kSafetensors;
  if (ext == ".gguf") return Format::kGguf;
  if (ext == ".npz") return Format::kNpz;
  if (ext == ".npy") return Format::kNpy;
  if (ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".ckpt") return Format::kPyTorch;
  return std::nullopt;
}

Result<Format> detect_format(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error(ErrorCode::kIoError, path.string() + ": cannot open");
  char head[16] = {};
  in.read(head, sizeof head);
  const auto n = static_cast<std::size_t>(in.gcount());
  const std::string_view h(head, n);
  if (h.starts_with("\x89OWF")) return Format::kOwf;
  if (h.starts_with("GGUF")) return Format::kGguf;
  if (h.starts_with("\x93NUMPY")) return Format::kNpy;
  const auto by_name = format_from_extension(path);
  if (h.starts_with("PK\x03\x04") || h.starts_with("PK\x05\x06"))
    return by_name == Format::kPyTorch ? Format::kPyTorch : Format::kNpz;
  // Legacy torch.save streams begin with a pickle PROTO opcode.
  if (n >= 2 && static_cast<unsigned char>(h[0]) == 0x80 && by_name == Format::kPyTorch) return Format::kPyTorch;
  // safetensors: u64 header length then '{'.
  if (n >= 9 && h[8] == '{') return Format::kSafetensors;
  if (by_name) return *by_name;
  return Error(ErrorCode::kForeignFormatUnsupported, path.string() + ": unrecognised file format");
}

std::optional<std::size_t> Source::find(std::string_view name) const {
  for (std::size_t i = 0; i < tensor_count(); ++i)
    if (tensor(i).name == name) return i;
  return std::nullopt;
}

Status Source::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  const TensorInfo t = tensor(index);
  if (offset > t.logical_bytes || out.size() > t.logical_bytes - offset)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(t.name) + "': range [" +
                                                  std::to_string(offset) + ", +" + std::to_string(out.size()) +
                                                  ") is outside its " + std::to_string(t.logical_bytes) + " bytes");
  if (out.empty()) return {};
  std::vector<std::byte> whole(t.logical_bytes);
  OWF_RETURN_IF_ERROR(read(index, whole));
  std::memcpy(out.data(), whole.data() + offset, out.size());
  return {};
}

Result<Sha256Digest> Source::tensor_sha256(std::size_t index) const {
  const TensorInfo t = tensor(index);
  std::vector<std::byte> buffer(t.logical_bytes);
  OWF_RETURN_IF_ERROR(read(index, buffer));
  return internal::sha256(buffer);
}

namespace {

class OwfSource final : public Source {
 public:
  explicit OwfSource(File file) : file_(std::move(file)) {}
  Format format() const override { return Format::kOwf; }
  std::size_t tensor_count() const override { return file_.tensor_count(); }
  TensorInfo tensor(std::size_t index) const override { return file_.tensor(index); }
  Status read(std::size_t index, std::span<std::byte> out) const override {
    return file_.read(file_.tensor(index), out);
  }
  Status read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const override {
    return file_.read_range(file_.tensor(index), offset, out);
  }
  bool ranged_reads() const override { return true; }
  const ModelInfo& info() const override { return file_.info(); }
  std::uint64_t alignment() const override { return file_.alignment(); }
  Result<Sha256Digest> tensor_sha256(std::size_t index) const override { return file_.tensor(index).sha256; }
  const File* owf_file() const override { return &file_; }

 private:
  File file_;
};

}  // namespace

std::unique_ptr<Source> source_of(File file) { return std::make_unique<OwfSource>(std::move(file)); }

Result<std::unique_ptr<Source>> open_source(const std::filesystem::path& path, std::optional<Format> format,
                                            const Limits& limits) {
  Format f;
  if (format) {
    f = *format;
  } else {
    OWF_ASSIGN_OR_RETURN(f, detect_format(path));
  }
  switch (f) {
    case Format::kOwf: {
      OWF_ASSIGN_OR_RETURN(File file, File::open(path, limits));
      return source_of(std::move(file));
    }
    case Format::kSafetensors: return internal::open_safetensors(path, limits);
    case Format::kGguf: return internal::open_gguf(path, limits);
    case Format::kNpy: return internal::open_npy(path, limits);
    case Format::kNpz: return internal::open_npz(path, limits);
    case Format::kPyTorch: return internal::open_pytorch(path, limits);
  }
  return Error(ErrorCode::kInvalidArgument, "unknown format");
}

Result<std::unique_ptr<Source>> open_source(const std::filesystem::path& path, const SourceOptions& options) {
  if (options.select.empty()) return open_source(path, options.format, options.limits);
  Format f;
  if (options.format) {
    f = *options.format;
  } else {
    OWF_ASSIGN_OR_RETURN(f, detect_format(path));
  }
  if (f != Format::kPyTorch)
    return Error(ErrorCode::kInvalidArgument, path.string() + ": selecting a sub-dict ('" + options.select +
                                                  "') applies to PyTorch checkpoints only, not " +
                                                  std::string(format_name(f)) + " files");
  return internal::open_pytorch(path, options.limits, options.select);
}

Result<Sha256Digest> compute_weights_digest(const Source& source, unsigned threads) {
  if (const File* f = source.owf_file()) return f->weights_digest();
  const std::size_t n = source.tensor_count();
  std::vector<TensorInfo> infos(n);
  std::vector<Sha256Digest> digests(n);
  std::vector<std::optional<Error>> errors(n);
  for (std::size_t i = 0; i < n; ++i) infos[i] = source.tensor(i);
  internal::parallel_for(n, threads, [&](std::size_t i) {
    auto d = source.tensor_sha256(i);
    if (d.ok()) digests[i] = *d;
    else errors[i] = d.error();
  });
  for (auto& e : errors)
    if (e) return *e;
  std::vector<DigestEntry> entries;
  entries.reserve(n);
  for (std::size_t i = 0; i < n; ++i) entries.push_back({infos[i].name, infos[i].dtype, infos[i].shape, digests[i]});
  return weights_digest_of(std::move(entries));
}

}  // namespace owf
