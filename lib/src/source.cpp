#include "owf/source.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <system_error>

#include "file_access.hpp"
#include "file_set.hpp"
#include "formats/formats.hpp"
#include "formats/gguf/gguf_split.hpp"
#include "formats/shard_set.hpp"
#include "io/byte_source.hpp"
#include "io/http_source.hpp"
#include "owf/shard_set.hpp"
#include "parallel.hpp"
#include "sha256.hpp"

namespace owf {

std::string_view format_name(Format format) {
  switch (format) {
    case Format::kOwf:
      return "owf";
    case Format::kSafetensors:
      return "safetensors";
    case Format::kGguf:
      return "gguf";
    case Format::kNpz:
      return "npz";
    case Format::kNpy:
      return "npy";
    case Format::kPyTorch:
      return "pytorch";
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
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (ext == ".owf") return Format::kOwf;
  if (ext == ".safetensors") return Format::kSafetensors;
  if (ext == ".gguf") return Format::kGguf;
  if (ext == ".npz") return Format::kNpz;
  if (ext == ".npy") return Format::kNpy;
  if (ext == ".pt" || ext == ".pth" || ext == ".bin" || ext == ".ckpt") return Format::kPyTorch;
  return std::nullopt;
}

namespace {

// Files that are no weights at all but often sit under a weights name: a
// Git LFS pointer (the repository was cloned without LFS), an HTML or
// JSON error page (a failed download), an empty file. Said plainly rather
// than as whatever a format reader makes of them.
std::optional<std::string> not_weights(std::string_view head, std::uint64_t size) {
  if (size == 0) return "the file is empty";
  if (head.starts_with("version https://git-lfs.github.com/spec/"))
    return "a Git LFS pointer file, not the weights it stands for (fetch them with `git lfs pull`)";
  std::size_t i = 0;
  while (i < head.size() && (head[i] == ' ' || head[i] == '\t' || head[i] == '\r' || head[i] == '\n')) ++i;
  std::string lower(head.substr(i, 16));
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.starts_with("<!doctype html") || lower.starts_with("<html") || lower.starts_with("<?xml") ||
      lower.starts_with("<head") || lower.starts_with("<body"))
    return "an HTML or XML page, not weights (an error page saved by a failed download?)";
  if (lower.starts_with("{\"error") || lower.starts_with("{\"message"))
    return "a JSON error message, not weights (a failed download?)";
  return std::nullopt;
}

struct Head {
  std::string bytes;  // up to the first 64 bytes
  std::uint64_t size = 0;
};

Result<Head> read_head(const internal::ByteSource& source) {
  Head h;
  h.size = source.size();
  h.bytes.resize(static_cast<std::size_t>(std::min<std::uint64_t>(64, h.size)));
  OWF_RETURN_IF_ERROR(source.read_at(0, std::as_writable_bytes(std::span(h.bytes))));
  return h;
}

Result<Head> read_head(const std::filesystem::path& path) {
  OWF_ASSIGN_OR_RETURN(auto source, internal::open_file_source(path));
  return read_head(*source);
}

Status check_is_weights(const std::filesystem::path& path, const Head& head) {
  if (auto why = not_weights(head.bytes, head.size))
    return Error(ErrorCode::kForeignFormatInvalid, path.string() + ": " + *why);
  return {};
}

Result<Format> detect_from_head(const std::filesystem::path& path, const Head& head) {
  OWF_RETURN_IF_ERROR(check_is_weights(path, head));
  const std::string_view h = head.bytes;
  if (h.starts_with("\x89OWF")) return Format::kOwf;
  if (h.starts_with("GGUF")) return Format::kGguf;
  if (h.starts_with("\x93NUMPY")) return Format::kNpy;
  const auto by_name = format_from_extension(path);
  if (h.starts_with("PK\x03\x04") || h.starts_with("PK\x05\x06"))
    return by_name == Format::kPyTorch ? Format::kPyTorch : Format::kNpz;
  // Legacy torch.save streams begin with a pickle PROTO opcode.
  if (h.size() >= 2 && static_cast<unsigned char>(h[0]) == 0x80 && by_name == Format::kPyTorch) return Format::kPyTorch;
  // safetensors: u64 header length then '{'.
  if (h.size() >= 9 && h[8] == '{') return Format::kSafetensors;
  if (by_name) return *by_name;
  return Error(ErrorCode::kForeignFormatUnsupported, path.string() + ": unrecognised file format");
}

// A URL as a path for messages and extensions: no credentials, no query.
std::filesystem::path url_path(const std::string& url) {
  std::string shown = internal::redacted_url(url);
  if (shown.ends_with("?...")) shown.resize(shown.size() - 4);
  return shown;
}

// Remote files: one byte source serves detection and the format's reader,
// so the head read at detection costs no second request.
Result<std::unique_ptr<Source>> open_remote_source(const std::string& url, const SourceOptions& options) {
  OWF_ASSIGN_OR_RETURN(auto bytes, internal::open_http_source(url, options.remote));
  const std::filesystem::path path = url_path(url);
  OWF_ASSIGN_OR_RETURN(Head head, read_head(*bytes));
  Format f;
  if (options.format) {
    OWF_RETURN_IF_ERROR(check_is_weights(path, head));
    f = *options.format;
  } else {
    OWF_ASSIGN_OR_RETURN(f, detect_from_head(path, head));
  }
  if (!options.select.empty() && f != Format::kPyTorch)
    return Error(ErrorCode::kInvalidArgument, path.string() + ": selecting a sub-dict ('" + options.select +
                                                  "') applies to PyTorch checkpoints only, not " +
                                                  std::string(format_name(f)) + " files");
  switch (f) {
    case Format::kOwf: {
      OWF_ASSIGN_OR_RETURN(File file, internal::FileAccess::open(std::move(bytes), options.limits));
      return source_of(std::move(file));
    }
    case Format::kSafetensors:
      return internal::open_safetensors(std::move(bytes), options.limits);
    case Format::kGguf:  // a split of a set opens the whole set
      return internal::open_gguf_model(std::move(bytes), url, options.remote, options.limits);
    case Format::kNpy:
      return internal::open_npy(std::move(bytes), path.stem().string(), options.limits);
    case Format::kNpz:
      return internal::open_npz(std::move(bytes), options.limits);
    case Format::kPyTorch:
      return internal::open_pytorch(std::move(bytes), options.limits, options.select);
  }
  return Error(ErrorCode::kInvalidArgument, "unknown format");
}

}  // namespace

Result<Format> detect_format(const std::filesystem::path& path) {
  if (is_url(path.native())) {
    OWF_ASSIGN_OR_RETURN(auto bytes, internal::open_http_source(path.native(), {}));
    OWF_ASSIGN_OR_RETURN(Head head, read_head(*bytes));
    return detect_from_head(url_path(path.native()), head);
  }
  OWF_ASSIGN_OR_RETURN(const auto index, internal::find_shard_index(path));
  if (index) return internal::shard_set_format(*index);
  if (std::error_code ec; std::filesystem::is_directory(path, ec)) return Format::kOwf;  // a shard set, if anything
  OWF_ASSIGN_OR_RETURN(Head head, read_head(path));
  return detect_from_head(path, head);
}

std::optional<Sha256Digest> Source::stored_weights_digest() const {
  if (const File* f = owf_file()) return f->weights_digest();
  if (const FileSet* s = owf_file_set()) return s->weights_digest();
  return std::nullopt;
}

std::optional<std::size_t> Source::find(std::string_view name) const {
  for (std::size_t i = 0; i < tensor_count(); ++i)
    if (tensor(i).name == name) return i;
  return std::nullopt;
}

Status Source::read_range(std::size_t index, std::uint64_t offset, std::span<std::byte> out) const {
  const TensorInfo t = tensor(index);
  if (offset > t.logical_bytes || out.size() > t.logical_bytes - offset)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + std::string(t.name) + "': range [" + std::to_string(offset) +
                                                  ", +" + std::to_string(out.size()) + ") is outside its " +
                                                  std::to_string(t.logical_bytes) + " bytes");
  if (out.empty()) return {};
  std::vector<std::byte> whole(t.logical_bytes);
  OWF_RETURN_IF_ERROR(read(index, whole));
  std::memcpy(out.data(), whole.data() + offset, out.size());
  return {};
}

Result<Sha256Digest> Source::tensor_sha256(std::size_t index) const {
  const TensorInfo t = tensor(index);
  // Pieces where the source reads ranges cheaply, so that memory does not
  // follow a size the file declares.
  constexpr std::uint64_t kPiece = 8u << 20;
  const std::uint64_t piece = ranged_reads() ? std::min(kPiece, t.logical_bytes) : t.logical_bytes;
  if (piece > SIZE_MAX / 2)
    return Error(ErrorCode::kLimitExceeded, "tensor '" + std::string(t.name) + "' is too large to read whole");
  std::vector<std::byte> buffer(static_cast<std::size_t>(piece));
  internal::Sha256 h;
  for (std::uint64_t at = 0; at < t.logical_bytes; at += piece) {
    const auto n = static_cast<std::size_t>(std::min(piece, t.logical_bytes - at));
    OWF_RETURN_IF_ERROR(ranged_reads() ? read_range(index, at, std::span(buffer).first(n)) : read(index, buffer));
    h.update(std::span(buffer).first(n));
  }
  return h.finish();
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
  if (is_url(path.native())) {
    SourceOptions options;
    options.format = format;
    options.limits = limits;
    return open_remote_source(path.native(), options);
  }
  // A Hugging Face index, or a directory holding one: the set of its shards.
  OWF_ASSIGN_OR_RETURN(const auto index, internal::find_shard_index(path));
  if (index) return internal::open_shard_set(*index, format, limits);
  // Otherwise a directory can only be an OWF shard set.
  if (std::error_code ec; std::filesystem::is_directory(path, ec) && (!format || *format == Format::kOwf))
    return internal::open_owf_shard_set(path, limits);
  OWF_ASSIGN_OR_RETURN(Head head, read_head(path));
  Format f;
  if (format) {
    OWF_RETURN_IF_ERROR(check_is_weights(path, head));
    f = *format;
  } else {
    OWF_ASSIGN_OR_RETURN(f, detect_from_head(path, head));
  }
  switch (f) {
    case Format::kOwf: {
      {
        OWF_ASSIGN_OR_RETURN(File file, File::open(path, limits));
        if (file.shard_set() == nullptr) return source_of(std::move(file));
      }
      // A shard stands for its whole set (spec/shards.md §4), which opens
      // it again: closed here first, so that its manifest is held once.
      return internal::open_owf_shard_set(path, limits);
    }
    case Format::kSafetensors:
      return internal::open_safetensors(path, limits);
    case Format::kGguf:  // a split of a set opens the whole set
      return internal::open_gguf_model(path, limits);
    case Format::kNpy:
      return internal::open_npy(path, limits);
    case Format::kNpz:
      return internal::open_npz(path, limits);
    case Format::kPyTorch:
      return internal::open_pytorch(path, limits);
  }
  return Error(ErrorCode::kInvalidArgument, "unknown format");
}

Result<std::unique_ptr<Source>> open_source(const std::filesystem::path& path, const SourceOptions& options) {
  if (is_url(path.native())) return open_remote_source(path.native(), options);
  if (options.select.empty()) return open_source(path, options.format, options.limits);
  OWF_ASSIGN_OR_RETURN(const auto index, internal::find_shard_index(path));
  if (index)
    return Error(ErrorCode::kInvalidArgument, path.string() + ": selecting a sub-dict ('" + options.select +
                                                  "') applies to single PyTorch checkpoints, not shard sets");
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

}  // namespace owf
