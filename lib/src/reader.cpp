#include "owf/reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "canonical.hpp"
#include "codec.hpp"
#include "file_access.hpp"
#include "io/byte_source.hpp"
#include "io/http_source.hpp"
#include "owf/shard_set.hpp"
#include "owf/source.hpp"
#include "parallel.hpp"
#include "sha256.hpp"
#include "validate.hpp"

namespace owf {

using internal::ValidatedFile;

struct File::Impl {
  std::shared_ptr<const internal::ByteSource> source;
  ValidatedFile validated;
  Limits limits;
  std::once_flag digest_once;
  Sha256Digest digest{};

  const TensorInfo& at(std::size_t i) const { return validated.manifest.tensors[i]; }

  // Index of a TensorInfo handed out by this file; callers may pass copies.
  std::optional<std::size_t> index_of(const TensorInfo& t) const {
    const auto& ts = validated.manifest.tensors;
    if (!ts.empty() && &t >= ts.data() && &t < ts.data() + ts.size()) return static_cast<std::size_t>(&t - ts.data());
    auto it = std::lower_bound(ts.begin(), ts.end(), t.name,
                               [](const TensorInfo& a, std::string_view n) { return a.name < n; });
    if (it == ts.end() || it->name != t.name) return std::nullopt;
    return static_cast<std::size_t>(it - ts.begin());
  }
};

namespace {

// String views compare as unsigned bytes when equal-length prefixes differ,
// matching the manifest's byte order.
bool name_less(std::string_view a, std::string_view b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

}  // namespace

namespace internal {

Result<File> FileAccess::open(std::shared_ptr<const ByteSource> source, const Limits& limits) {
  auto impl = std::make_unique<File::Impl>();
  auto validated = validate_file(*source, limits);
  if (!validated.ok()) {
    // Errors of the source itself (io_error) already name it.
    const std::string& message = validated.error().message();
    return Error(validated.code(),
                 message.starts_with(source->name() + ": ") ? message : source->name() + ": " + message);
  }
  impl->validated = std::move(validated).value();
  impl->source = std::move(source);
  impl->limits = limits;
  return File(std::move(impl));
}

const ByteSource& FileAccess::source(const File& file) { return *file.impl_->source; }
const ValidatedFile& FileAccess::validated(const File& file) { return file.impl_->validated; }

}  // namespace internal

Result<File> File::open(const std::filesystem::path& path, const Limits& limits) {
  OpenOptions options;
  options.limits = limits;
  return open(path, options);
}

Result<File> File::open(const std::filesystem::path& path, const OpenOptions& options) {
  if (is_url(path.native())) {
    OWF_ASSIGN_OR_RETURN(auto source, internal::open_http_source(path.native(), options.remote));
    return internal::FileAccess::open(std::move(source), options.limits);
  }
  OWF_ASSIGN_OR_RETURN(auto source,
                       internal::open_file_source(path, {.map = true, .copy_on_write = options.copy_on_write_views}));
  return internal::FileAccess::open(std::move(source), options.limits);
}

bool File::views_writable() const { return impl_->source->mapping_writable(); }
std::span<const std::byte> File::mapping() const { return impl_->source->mapping(); }

Result<File> File::open_buffer(std::span<const std::byte> bytes, const Limits& limits) {
  return internal::FileAccess::open(internal::buffer_source(bytes, "buffer"), limits);
}

File::File(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Version File::version() const { return impl_->validated.version; }
std::uint64_t File::file_size() const { return impl_->source->size(); }
std::uint64_t File::alignment() const { return impl_->validated.manifest.alignment; }
std::span<const std::string_view> File::required_features() const {
  return impl_->validated.manifest.required_features;
}
std::size_t File::tensor_count() const { return impl_->validated.manifest.tensors.size(); }
TensorInfo File::tensor(std::size_t index) const { return impl_->at(index); }
const ModelInfo& File::info() const { return impl_->validated.manifest.info; }
const ShardSetInfo* File::shard_set() const {
  const auto& set = impl_->validated.manifest.shard_set;
  return set ? &*set : nullptr;
}
std::span<const std::byte> File::manifest_bytes() const { return impl_->validated.manifest_bytes; }

std::optional<std::size_t> File::find(std::string_view name) const {
  const auto& ts = impl_->validated.manifest.tensors;
  auto it = std::lower_bound(ts.begin(), ts.end(), name,
                             [](const TensorInfo& a, std::string_view n) { return name_less(a.name, n); });
  if (it == ts.end() || it->name != name) return std::nullopt;
  return static_cast<std::size_t>(it - ts.begin());
}

Result<TensorInfo> File::tensor(std::string_view name) const {
  auto i = find(name);
  if (!i) return Error(ErrorCode::kNotFound, "no tensor named '" + std::string(name) + "'");
  return impl_->at(*i);
}

Result<std::span<const std::byte>> File::bytes(const TensorInfo& tensor) const {
  auto index = impl_->index_of(tensor);
  if (!index) return Error(ErrorCode::kNotFound, "no tensor named '" + std::string(tensor.name) + "' in this file");
  const TensorInfo& t = impl_->at(*index);
  if (t.codec != Codec::kNone)
    return Error(ErrorCode::kUnsupported, "tensor '" + std::string(t.name) + "' is stored with codec " +
                                              std::string(codec_name(t.codec)) + "; use read() to decode it");
  if (t.stored_bytes == 0) return std::span<const std::byte>();
  const auto mapping = impl_->source->mapping();
  if (mapping.size() < t.offset + t.stored_bytes)
    return Error(ErrorCode::kUnsupported,
                 impl_->source->name() + " is not mapped; use read() for tensor '" + std::string(t.name) + "'");
  return mapping.subspan(t.offset, t.stored_bytes);
}

Status File::read_range(const TensorInfo& tensor, std::uint64_t offset, std::span<std::byte> out) const {
  auto index = impl_->index_of(tensor);
  if (!index) return Error(ErrorCode::kNotFound, "no tensor named '" + std::string(tensor.name) + "' in this file");
  const TensorInfo& t = impl_->at(*index);
  if (offset > t.logical_bytes || out.size() > t.logical_bytes - offset)
    return Error(ErrorCode::kInvalidArgument, "range [" + std::to_string(offset) + ", +" + std::to_string(out.size()) +
                                                  ") is outside tensor '" + std::string(t.name) + "' of " +
                                                  std::to_string(t.logical_bytes) + " bytes");
  if (out.empty()) return {};
  if (t.codec == Codec::kNone) return impl_->source->read_at(t.offset + offset, out);
  return internal::decode_range(t, impl_->validated.manifest.chunk_tables[*index], *impl_->source, offset, out, 0);
}

Status File::read(const TensorInfo& tensor, std::span<std::byte> out, bool check_digest) const {
  if (out.size() != tensor.logical_bytes)
    return Error(ErrorCode::kInvalidArgument, "buffer of " + std::to_string(out.size()) + " bytes for tensor '" +
                                                  std::string(tensor.name) + "' of " +
                                                  std::to_string(tensor.logical_bytes) + " bytes");
  OWF_RETURN_IF_ERROR(read_range(tensor, 0, out));
  // A remote tensor read whole is always checked (spec/security.md, "Remote files").
  if ((check_digest || impl_->source->remote()) && internal::sha256(out) != tensor.sha256)
    return internal::tensor_digest_mismatch(tensor);
  return {};
}

Error internal::tensor_digest_mismatch(const TensorInfo& t) {
  return Error(ErrorCode::kTensorDigestMismatch, "tensor '" + std::string(t.name.substr(0, 200)) +
                                                     "': SHA-256 of its " + std::to_string(t.logical_bytes) +
                                                     " bytes at offset " + std::to_string(t.offset) +
                                                     " does not match the manifest");
}

namespace {

// One unit of verification work: either a run of small uncompressed
// tensors that lie next to each other (read with one read_at and hashed
// from the buffer), or one tensor read piece by piece.
struct VerifyItem {
  std::size_t first, last;  // positions in the offset order, [first, last)
};

}  // namespace

Status File::verify(const VerifyOptions& options) const { return internal::FileAccess::verify(*this, options, {}); }

Status internal::FileAccess::verify(const File& file, const VerifyOptions& options,
                                    std::span<const bool> already_hashed) {
  const File::Impl* impl_ = file.impl_.get();
  const internal::ByteSource& source = *impl_->source;
  OWF_RETURN_IF_ERROR(internal::recheck_unhashed_bytes(source, impl_->validated, impl_->limits));
  const auto& tensors = impl_->validated.manifest.tensors;
  const auto& tables = impl_->validated.manifest.chunk_tables;
  // Offset order: the file is read front to back, and neighbours batch.
  std::vector<std::size_t> order;
  order.reserve(tensors.size());
  for (std::size_t i = 0; i < tensors.size(); ++i)
    if (already_hashed.empty() || !already_hashed[i]) order.push_back(i);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return tensors[a].offset != tensors[b].offset ? tensors[a].offset < tensors[b].offset : a < b;
  });
  std::uint64_t total = 0;
  for (std::size_t i : order) total += tensors[i].logical_bytes;

  // Pieces are small enough to stay in cache between the read and the hash.
  // Remote files are read in large pieces, as every read costs a round
  // trip, by more threads than cores: while some wait for their piece,
  // others hash theirs.
  const std::uint64_t kPiece = source.remote() ? 8u << 20 : 1u << 20;
  const unsigned threads = options.threads != 0 || !source.remote()
                               ? options.threads
                               : std::max(4u, 2 * std::thread::hardware_concurrency());
  std::vector<VerifyItem> items;
  for (std::size_t k = 0; k < order.size();) {
    const TensorInfo& t = tensors[order[k]];
    std::size_t end = k + 1;
    if (t.codec == Codec::kNone && t.stored_bytes < kPiece)
      while (end < order.size() && tensors[order[end]].codec == Codec::kNone &&
             tensors[order[end]].offset + tensors[order[end]].stored_bytes - t.offset <= kPiece)
        ++end;
    items.push_back({k, end});
    k = end;
  }
  // Largest first, so the long hashes start early and small ones fill in.
  std::stable_sort(items.begin(), items.end(), [&](const VerifyItem& a, const VerifyItem& b) {
    return (a.last - a.first == 1 ? tensors[order[a.first]].stored_bytes : 0) >
           (b.last - b.first == 1 ? tensors[order[b.first]].stored_bytes : 0);
  });

  std::mutex mutex;
  std::uint64_t done = 0;
  auto report = [&](std::uint64_t bytes) {
    if (!options.progress) return;
    std::lock_guard lock(mutex);
    done += bytes;
    options.progress(done, total);
  };
  std::vector<std::optional<Error>> failures(tensors.size());
  internal::parallel_for(items.size(), threads, [&](std::size_t n) {
    const VerifyItem item = items[n];
    thread_local std::vector<std::byte> buffer;
    internal::Sha256 h;
    const TensorInfo& head = tensors[order[item.first]];
    if (item.last - item.first > 1 || (head.codec == Codec::kNone && head.stored_bytes < kPiece)) {
      const TensorInfo& tail = tensors[order[item.last - 1]];
      buffer.resize(static_cast<std::size_t>(tail.offset + tail.stored_bytes - head.offset));
      if (auto s = source.read_at(head.offset, buffer); !s.ok()) {
        failures[order[item.first]] = s.error();
        return;
      }
      std::uint64_t logical = 0;
      for (std::size_t k = item.first; k < item.last; ++k) {
        const TensorInfo& t = tensors[order[k]];
        logical += t.logical_bytes;
        const auto bytes =
            std::span(buffer).subspan(static_cast<std::size_t>(t.stored_bytes == 0 ? 0 : t.offset - head.offset),
                                      static_cast<std::size_t>(t.stored_bytes));
        h.update(bytes);
        // R36 (canonical bytes) only when the digest (R34) matches.
        if (h.finish() != t.sha256)
          failures[order[k]] = internal::tensor_digest_mismatch(t);
        else if (auto c = internal::check_canonical_bytes(t.name, t.dtype, t.element_count, bytes, 0); !c.ok())
          failures[order[k]] = c.error();
      }
      report(logical);
      return;
    }
    const std::size_t i = order[item.first];
    const TensorInfo& t = tensors[i];
    // A compressed tensor is decoded whole chunks at a time, so that no
    // chunk is decoded twice.
    std::uint64_t step = kPiece;
    if (t.codec != Codec::kNone) {
      const std::uint64_t chunk = std::max<std::uint64_t>(1, tables[i].chunk_length);
      step = chunk * std::max<std::uint64_t>(1, kPiece / chunk);
    }
    buffer.resize(static_cast<std::size_t>(std::min(step, t.logical_bytes)));
    source.will_read(t.offset, t.stored_bytes);
    Status canonical;  // R36, reported only when the digest (R34) matches
    for (std::uint64_t at = 0; at < t.logical_bytes; at += buffer.size()) {
      auto piece = std::span(buffer).first(
          static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), t.logical_bytes - at)));
      auto s = t.codec == Codec::kNone ? source.read_at(t.offset + at, piece)
                                       : internal::decode_range(t, tables[i], source, at, piece, 1);
      if (!s.ok()) {
        failures[i] = s.error();
        return;
      }
      h.update(piece);
      if (canonical.ok()) canonical = internal::check_canonical_bytes(t.name, t.dtype, t.element_count, piece, at);
      report(piece.size());
    }
    if (h.finish() != t.sha256)
      failures[i] = internal::tensor_digest_mismatch(t);
    else if (!canonical.ok())
      failures[i] = canonical.error();
  });
  std::size_t failed = 0;
  const Error* first = nullptr;
  for (const auto& f : failures)
    if (f) {
      ++failed;
      if (!first) first = &*f;
    }
  if (first == nullptr) return {};
  if (failed == 1) return *first;
  return Error(first->code(), first->message() + " (and " + std::to_string(failed - 1) + " more tensors fail)");
}

Sha256Digest File::weights_digest() const {
  std::call_once(impl_->digest_once, [&] {
    const auto& ts = impl_->validated.manifest.tensors;
    std::vector<DigestEntry> entries;
    entries.reserve(ts.size());
    for (const auto& t : ts) entries.push_back({t.name, t.dtype, t.shape, t.sha256});
    impl_->digest = weights_digest_of(std::move(entries));
  });
  return impl_->digest;
}

}  // namespace owf
