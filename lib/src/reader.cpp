#include "owf/reader.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "canonical.hpp"
#include "codec.hpp"
#include "owf/source.hpp"
#include "parallel.hpp"
#include "sha256.hpp"
#include "validate.hpp"

namespace owf {

using internal::ValidatedFile;

struct File::Impl {
  // The mapping (or the caller's buffer) and, for mapped files, the
  // descriptor used for pread-based reads.
  std::span<const std::byte> bytes;
  void* mapping = nullptr;
  std::size_t mapping_size = 0;
  int fd = -1;
  ValidatedFile validated;
  Limits limits;
  std::once_flag digest_once;
  Sha256Digest digest{};

  ~Impl() {
    if (mapping != nullptr) ::munmap(mapping, mapping_size);
    if (fd >= 0) ::close(fd);
  }

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

  std::span<const std::byte> stored(const TensorInfo& t) const {
    return t.stored_bytes == 0 ? std::span<const std::byte>() : bytes.subspan(t.offset, t.stored_bytes);
  }
};

namespace {

Error io_error(const std::filesystem::path& path, const std::string& what) {
  return Error(ErrorCode::kIoError, path.string() + ": " + what + ": " + std::strerror(errno));
}

// String views compare as unsigned bytes when equal-length prefixes differ,
// matching the manifest's byte order.
bool name_less(std::string_view a, std::string_view b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c != 0 ? c < 0 : a.size() < b.size();
}

}  // namespace

Result<File> File::open(const std::filesystem::path& path, const Limits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (impl->fd < 0) return io_error(path, "cannot open");
  struct stat st {};
  if (::fstat(impl->fd, &st) != 0) return io_error(path, "cannot stat");
  if (!S_ISREG(st.st_mode)) return Error(ErrorCode::kIoError, path.string() + ": not a regular file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > 0) {
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, impl->fd, 0);
    if (m == MAP_FAILED) return io_error(path, "cannot map");
    impl->mapping = m;
    impl->mapping_size = size;
    impl->bytes = std::span<const std::byte>(static_cast<const std::byte*>(m), size);
  }
  auto validated = internal::validate_file(impl->bytes, limits);
  if (!validated.ok()) return Error(validated.code(), path.string() + ": " + validated.error().message());
  impl->validated = std::move(validated).value();
  impl->limits = limits;
  return File(std::move(impl));
}

Result<File> File::open_buffer(std::span<const std::byte> bytes, const Limits& limits) {
  auto impl = std::make_unique<Impl>();
  impl->bytes = bytes;
  OWF_ASSIGN_OR_RETURN(impl->validated, internal::validate_file(bytes, limits));
  impl->limits = limits;
  return File(std::move(impl));
}

File::File(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
File::File(File&&) noexcept = default;
File& File::operator=(File&&) noexcept = default;
File::~File() = default;

Version File::version() const { return impl_->validated.version; }
std::uint64_t File::file_size() const { return impl_->bytes.size(); }
std::uint64_t File::alignment() const { return impl_->validated.manifest.alignment; }
std::span<const std::string_view> File::required_features() const {
  return impl_->validated.manifest.required_features;
}
std::size_t File::tensor_count() const { return impl_->validated.manifest.tensors.size(); }
TensorInfo File::tensor(std::size_t index) const { return impl_->at(index); }
const ModelInfo& File::info() const { return impl_->validated.manifest.info; }
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
  return impl_->stored(t);
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
  if (t.codec == Codec::kNone) {
    // Small reads copy from the mapping: a system call per tensor cost ten
    // times the copy for files of many small tensors. Large reads use pread,
    // which avoids faulting the mapping in page by page.
    constexpr std::size_t kSmallRead = 64u << 10;
    if (impl_->fd >= 0 && out.size() > kSmallRead) {
      std::uint64_t done = 0;
      while (done < out.size()) {
        const ssize_t n = ::pread(impl_->fd, out.data() + done, out.size() - done,
                                  static_cast<off_t>(t.offset + offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
          return Error(ErrorCode::kIoError, "reading tensor '" + std::string(t.name) + "' at offset " +
                                                std::to_string(t.offset + offset + done) + ": " +
                                                (n == 0 ? std::string("file shrank") : std::strerror(errno)));
        done += static_cast<std::uint64_t>(n);
      }
    } else {
      std::memcpy(out.data(), impl_->bytes.data() + t.offset + offset, out.size());
    }
    return {};
  }
  return internal::decode_range(t, impl_->validated.manifest.chunk_tables[*index], impl_->stored(t), offset, out, 0);
}

Status File::read(const TensorInfo& tensor, std::span<std::byte> out, bool check_digest) const {
  if (out.size() != tensor.logical_bytes)
    return Error(ErrorCode::kInvalidArgument, "buffer of " + std::to_string(out.size()) + " bytes for tensor '" +
                                                  std::string(tensor.name) + "' of " +
                                                  std::to_string(tensor.logical_bytes) + " bytes");
  OWF_RETURN_IF_ERROR(read_range(tensor, 0, out));
  if (check_digest && internal::sha256(out) != tensor.sha256)
    return Error(ErrorCode::kTensorDigestMismatch, "tensor '" + std::string(tensor.name) + "': SHA-256 of its bytes at offset " +
                                                       std::to_string(tensor.offset) + " does not match the manifest");
  return {};
}

Status File::verify(const VerifyOptions& options) const {
  OWF_RETURN_IF_ERROR(internal::recheck_unhashed_bytes(impl_->bytes, impl_->validated, impl_->limits));
  const auto& tensors = impl_->validated.manifest.tensors;
  // Largest first, so the long hashes start early and small ones fill in.
  std::vector<std::size_t> order(tensors.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return tensors[a].stored_bytes > tensors[b].stored_bytes;
  });
  std::uint64_t total = 0;
  for (const auto& t : tensors) total += t.logical_bytes;

  std::mutex mutex;
  std::uint64_t done = 0;
  std::vector<std::optional<Error>> failures(tensors.size());
  constexpr std::size_t kStep = 16u << 20;
  auto report = [&](std::uint64_t bytes) {
    if (!options.progress) return;
    std::lock_guard lock(mutex);
    done += bytes;
    options.progress(done, total);
  };
  // Work items: runs of consecutive entries of `order`, each at least kBatch
  // bytes or one tensor, so that one hasher (an OpenSSL context) serves many
  // small tensors instead of being created per tensor.
  constexpr std::uint64_t kBatch = 1u << 20;
  std::vector<std::size_t> batch_start;
  for (std::size_t k = 0; k < order.size();) {
    batch_start.push_back(k);
    std::uint64_t bytes = 0;
    do bytes += tensors[order[k++]].stored_bytes;
    while (k < order.size() && bytes < kBatch);
  }
  batch_start.push_back(order.size());
  internal::parallel_for(batch_start.size() - 1, options.threads, [&](std::size_t b) {
    internal::Sha256 h;
    for (std::size_t k = batch_start[b]; k < batch_start[b + 1]; ++k) {
      const std::size_t i = order[k];
      const TensorInfo& t = tensors[i];
      // R35, reported only when the digest (R34) matches.
      Status canonical;
      auto check_canonical = [&](std::span<const std::byte> piece, std::uint64_t at) {
        if (canonical.ok()) canonical = internal::check_canonical_bytes(t.name, t.dtype, t.element_count, piece, at);
      };
      if (t.codec == Codec::kNone) {
        auto data = impl_->stored(t);
        for (std::size_t at = 0; at < data.size(); at += kStep) {
          const auto piece = data.subspan(at, std::min(kStep, data.size() - at));
          h.update(piece);
          check_canonical(piece, at);
          report(piece.size());
        }
      } else {
        // Whole chunks per piece, so that no chunk is decoded twice.
        const std::uint64_t chunk = std::max<std::uint64_t>(1, impl_->validated.manifest.chunk_tables[i].chunk_length);
        const std::uint64_t step = chunk * std::max<std::uint64_t>(1, kStep / chunk);
        std::vector<std::byte> buffer(std::min<std::uint64_t>(step, t.logical_bytes));
        bool decoded = true;
        for (std::uint64_t at = 0; at < t.logical_bytes; at += buffer.size()) {
          auto piece = std::span(buffer).first(std::min<std::uint64_t>(buffer.size(), t.logical_bytes - at));
          auto s = internal::decode_range(t, impl_->validated.manifest.chunk_tables[i], impl_->stored(t), at, piece, 1);
          if (!s.ok()) {
            failures[i] = s.error();
            decoded = false;
            break;
          }
          h.update(piece);
          check_canonical(piece, at);
          report(piece.size());
        }
        if (!decoded) {
          (void)h.finish();  // resets the hasher for the next tensor
          continue;
        }
      }
      if (h.finish() != t.sha256)
        failures[i] = Error(ErrorCode::kTensorDigestMismatch,
                            "tensor '" + std::string(t.name) + "': SHA-256 of its " + std::to_string(t.logical_bytes) +
                                " bytes at offset " + std::to_string(t.offset) + " does not match the manifest");
      else if (!canonical.ok())
        failures[i] = canonical.error();
    }
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
