#include "owf/writer.hpp"

#include <zstd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "canonical.hpp"
#include "codec.hpp"
#include "io/output_file.hpp"
#include "layout.hpp"
#include "manifest.hpp"
#include "parallel.hpp"
#include "rules.hpp"
#include "sha256.hpp"
#include "utf8.hpp"
#include "writer_access.hpp"
#include "written_tensor_hasher.hpp"

namespace owf {

namespace {

// The codec decision looks at this many leading chunks of a tensor (or the
// whole tensor, if smaller): a fixed count, so the choice, and with it the
// file, does not depend on the number of threads.
constexpr std::size_t kDecisionChunks = 4;
// Chunks queued per compression thread between writes: bounds memory at
// about 2 x this x chunk_bytes per thread.
constexpr std::size_t kChunksPerThread = 2;
constexpr std::uint64_t kMinChunkBytes = 64ull << 10;
constexpr std::uint64_t kMaxChunkBytes = 64ull << 20;
// Uncompressed tensors from this size on are hashed in the background, read
// back from the file (written_tensor_hasher.hpp); smaller ones are hashed
// from the caller's bytes at once, cheaper than a read back and a hand-over.
constexpr std::uint64_t kBackgroundHashBytes = 1u << 20;
// How far background hashing may fall behind the writer: written bytes not
// yet hashed, which must stay in the page cache until they are.
constexpr std::uint64_t kMaxUnhashedBytes = 256u << 20;
// Written bytes are handed to the background hashing this many at a time.
constexpr std::uint64_t kHandOverBytes = 16u << 20;

Status validate_compression(const CompressionOptions& c) {
  if (!c.enabled) return {};
  if (c.level < ZSTD_minCLevel() || c.level > ZSTD_maxCLevel())
    return Error(ErrorCode::kInvalidArgument, "compression level " + std::to_string(c.level) + " is outside " +
                                                  std::to_string(ZSTD_minCLevel()) + " .. " +
                                                  std::to_string(ZSTD_maxCLevel()));
  if (c.chunk_bytes < kMinChunkBytes || c.chunk_bytes > kMaxChunkBytes || c.chunk_bytes % 8 != 0)
    return Error(ErrorCode::kInvalidArgument, "compression chunk_bytes " + std::to_string(c.chunk_bytes) +
                                                  " is not a multiple of 8 between " + std::to_string(kMinChunkBytes) +
                                                  " and " + std::to_string(kMaxChunkBytes));
  if (!(c.min_saving >= 0.0 && c.min_saving < 1.0))
    return Error(ErrorCode::kInvalidArgument, "compression min_saving must be in [0, 1)");
  return {};
}

}  // namespace

struct Writer::Impl {
  WriteOptions options;
  std::unique_ptr<internal::OutputFile> out;
  internal::ManifestModel model;      // all but the tensors,
  internal::ManifestEncoder tensors;  // which are encoded as they end
  bool finished = false;
  bool failed = false;  // an I/O error leaves the temporary file unusable

  // The tensor being streamed, if any.
  bool in_tensor = false;
  internal::TensorRecord current;
  std::optional<Sha256Digest> current_expected;
  std::uint64_t current_written = 0;
  internal::Sha256 hasher;
  std::uint64_t current_logical = 0;
  std::uint64_t current_elements = 0;

  // Compressed storage of the current tensor. kDeciding: chunks are held
  // until the codec decision; kCompressing: chunks are compressed in
  // batches; kRaw: bytes go straight to the file.
  enum class Mode { kRaw, kDeciding, kCompressing };
  Mode mode = Mode::kRaw;
  unsigned width = 0;                                  // byte-group width, 0 for plain zstd
  std::vector<std::vector<std::byte>> queue;           // full chunks of logical bytes, in order
  std::vector<std::byte> partial;                      // the chunk being filled
  std::vector<std::vector<std::byte>> frames;          // compressed queue entries
  std::vector<std::vector<std::byte>> spare;           // recycled chunk buffers
  std::vector<internal::ChunkCompressor> compressors;  // one per thread
  bool uses_compression = false;                       // some tensor was stored compressed

  // Background hashing of large uncompressed tensors. Their tables enter
  // the manifest when they end, with the digest filled in once known.
  struct PendingDigest {
    std::string name;
    std::optional<Sha256Digest> expected;
  };
  std::unique_ptr<internal::WrittenTensorHasher> background;  // after `out`: stops before the file closes
  std::map<std::size_t, PendingDigest> pending;               // by position in `tensors`
  std::vector<std::string> hashed_from_file;                  // names of the tensors hashed there
  bool current_in_background = false;                         // the current tensor is hashed there,
  bool current_job_started = false;                           // from its first byte written

  Status fail(Error e) {
    failed = true;
    return e;
  }

  unsigned threads() const { return static_cast<unsigned>(compressors.size()); }

  Status write(std::span<const std::byte> data) {
    if (auto s = out->write(data); !s.ok()) return fail(s.error());
    return {};
  }

  // Writes bytes of the current tensor that the background hashes.
  Status write_for_background(std::span<const std::byte> data) {
    if (!background)
      background = std::make_unique<internal::WrittenTensorHasher>(
          [file = out.get()](std::uint64_t offset, std::span<std::byte> bytes) { return file->read_at(offset, bytes); },
          internal::resolve_threads(options.threads));
    if (!current_job_started) {
      background->start(tensors.tensor_count(), current.offset, current_logical);
      current_job_started = true;
    }
    // In pieces, so that hashing follows the writing of a large piece
    // instead of starting after it.
    while (!data.empty()) {
      const auto piece = data.first(static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), kHandOverBytes)));
      OWF_RETURN_IF_ERROR(write(piece));
      background->written_up_to(out->flushed_position());
      background->wait_for_lag(kMaxUnhashedBytes);
      data = data.subspan(piece.size());
    }
    return {};
  }

  // Fills in the digests the background has finished; the first failure
  // (a read back, or bytes that hash differently from what the caller
  // expected) fails the writer.
  Status collect_digests() {
    if (!background) return {};
    std::optional<Error> first;
    for (auto& done : background->take_finished()) {
      const auto it = pending.find(done.tag);
      if (it == pending.end()) continue;  // its tensor never entered the manifest: the writer failed
      PendingDigest p = std::move(it->second);
      pending.erase(it);
      if (first) continue;
      if (done.error) {
        first = Error(done.error->code(), "tensor '" + p.name + "': " + done.error->message());
      } else if (p.expected && *p.expected != done.digest) {
        first = digest_mismatch(p.name, done.digest, *p.expected);
      } else {
        tensors.set_digest(done.tag, done.digest);
        hashed_from_file.push_back(std::move(p.name));
      }
    }
    if (first) return fail(*first);
    return {};
  }

  // Waits for every background digest and stops the hashing threads.
  Status settle_digests() {
    if (!background) return {};
    // An open tensor's job would wait for bytes that are not coming.
    if (in_tensor) return Error(ErrorCode::kInvalidArgument, "tensor '" + current.name + "' was never ended");
    if (auto s = out->flush(); !s.ok()) return fail(s.error());
    background->written_up_to(out->flushed_position());
    background->wait_all();
    auto collected = collect_digests();
    background.reset();
    return collected;
  }

  static Error digest_mismatch(const std::string& name, const Sha256Digest& got, const Sha256Digest& expected) {
    return Error(ErrorCode::kTensorDigestMismatch, "tensor '" + name + "': its bytes hash to " + to_hex(got) +
                                                       ", not the expected " + to_hex(expected) +
                                                       "; nothing was written");
  }

  // Compresses the queued chunks and hashes them, in parallel: item 0 hashes
  // every chunk in order while the others compress one chunk each.
  Status compress_queue() {
    const std::size_t n = queue.size();
    frames.resize(n);
    std::vector<std::optional<Error>> errors(n);
    const Codec codec = width != 0 ? Codec::kZstdByteGroup : Codec::kZstd;
    std::atomic<std::size_t> next{0};
    const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(threads(), n + 1));
    internal::parallel_for(workers, workers, [&](std::size_t t) {
      for (std::size_t i = next.fetch_add(1); i < n + 1; i = next.fetch_add(1)) {
        if (i == 0) {
          for (const auto& chunk : queue) hasher.update(chunk);
          continue;
        }
        auto s = compressors[t].compress(codec, width, options.compression.level, queue[i - 1], frames[i - 1]);
        if (!s.ok()) errors[i - 1] = s.error();
      }
    });
    for (auto& e : errors)
      if (e) return fail(*e);
    return {};
  }

  Status write_frames() {
    for (std::size_t i = 0; i < queue.size(); ++i) {
      current.chunks.push_back({out->position() - current.offset, frames[i].size()});
      OWF_RETURN_IF_ERROR(write(frames[i]));
    }
    recycle_queue();
    return {};
  }

  void recycle_queue() {
    for (auto& chunk : queue) spare.push_back(std::move(chunk));
    queue.clear();
  }

  // Decides the codec from the first chunks (or the whole tensor): compressed
  // only if that saves at least min_saving; otherwise the tensor stays raw.
  Status decide() {
    OWF_RETURN_IF_ERROR(compress_queue());
    std::uint64_t logical = 0, stored = 0;
    for (std::size_t i = 0; i < queue.size(); ++i) {
      logical += queue[i].size();
      stored += frames[i].size();
    }
    const double limit = static_cast<double>(logical) * (1.0 - options.compression.min_saving);
    if (stored < logical && static_cast<double>(stored) <= limit) {
      mode = Mode::kCompressing;
      current.codec = width != 0 ? Codec::kZstdByteGroup : Codec::kZstd;
      current.chunk_length = options.compression.chunk_bytes;
      return write_frames();
    }
    mode = Mode::kRaw;
    for (const auto& chunk : queue) OWF_RETURN_IF_ERROR(write(chunk));
    recycle_queue();
    return {};
  }

  Status flush_queue() {
    if (queue.empty()) return {};
    if (mode == Mode::kDeciding) return decide();
    OWF_RETURN_IF_ERROR(compress_queue());
    return write_frames();
  }

  std::vector<std::byte> take_buffer() {
    if (spare.empty()) return {};
    auto b = std::move(spare.back());
    spare.pop_back();
    b.clear();
    return b;
  }

  // Buffers logical bytes into chunks, compressing whenever a batch is full.
  Status enqueue(std::span<const std::byte> data) {
    const std::size_t chunk = static_cast<std::size_t>(options.compression.chunk_bytes);
    while (!data.empty()) {
      if (partial.capacity() < chunk) partial.reserve(chunk);
      const std::size_t take = std::min(chunk - partial.size(), data.size());
      partial.insert(partial.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(take));
      data = data.subspan(take);
      if (partial.size() < chunk) break;
      queue.push_back(std::move(partial));
      partial = take_buffer();
      const std::size_t batch = mode == Mode::kDeciding ? kDecisionChunks : kChunksPerThread * threads();
      if (queue.size() >= batch) {
        OWF_RETURN_IF_ERROR(flush_queue());
        if (mode == Mode::kRaw) {  // decided: the rest goes straight through
          hasher.update(data);
          return write(data);
        }
      }
    }
    return {};
  }

  // Drops the buffered state of an abandoned or finished tensor.
  void reset_chunks() {
    recycle_queue();
    partial.clear();
    mode = Mode::kRaw;
  }
};

Result<Writer> Writer::create(const std::filesystem::path& path, const WriteOptions& options) {
  if (!internal::is_power_of_two(options.alignment) || options.alignment > internal::kMaxAlignment)
    return Error(ErrorCode::kBadAlignment, "alignment " + std::to_string(options.alignment) +
                                               " is not a power of two between 1 and " +
                                               std::to_string(internal::kMaxAlignment));
  OWF_RETURN_IF_ERROR(validate_compression(options.compression));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (options.compression.enabled) impl->compressors.resize(internal::resolve_threads(options.compression.threads));
  impl->model.alignment = options.alignment;
  OWF_ASSIGN_OR_RETURN(impl->out, internal::OutputFile::create(path, {.replace = options.overwrite,
                                                                      .before_rename = options.before_rename,
                                                                      .write_back_early = options.sync}));
  const auto header = internal::encode_header();
  OWF_RETURN_IF_ERROR(impl->out->write(header));
  return Writer(std::move(impl));
}

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Writer::Writer(Writer&&) noexcept = default;
Writer& Writer::operator=(Writer&&) noexcept = default;
Writer::~Writer() = default;

// Each setter checks what it is given by the reader's rules (check_info):
// a value alone, so that many calls cost linear time.
Status Writer::set_license(License license) {
  OWF_RETURN_IF_ERROR(internal::check_info(ModelInfo{.license = license}));
  impl_->model.info.license = std::move(license);
  return {};
}

Status Writer::set_provenance(Provenance provenance) {
  OWF_RETURN_IF_ERROR(internal::check_info(ModelInfo{.provenance = provenance}));
  impl_->model.info.provenance = std::move(provenance);
  return {};
}

Status Writer::set_hyperparameter(const std::string& key, Value value) {
  OWF_RETURN_IF_ERROR(internal::check_info(ModelInfo{.hyperparameters = {{key, value}}}));
  impl_->model.info.hyperparameters[key] = std::move(value);
  return {};
}

Status Writer::set_metadata(const std::string& key, std::string value) {
  OWF_RETURN_IF_ERROR(internal::check_info(ModelInfo{.metadata = {{key, value}}}));
  impl_->model.info.metadata[key] = std::move(value);
  return {};
}

Status Writer::set_info(const ModelInfo& info) {
  OWF_RETURN_IF_ERROR(internal::check_info(info));
  if (info.license) impl_->model.info.license = *info.license;
  impl_->model.info.provenance = info.provenance;
  for (const auto& [k, v] : info.hyperparameters) impl_->model.info.hyperparameters[k] = v;
  for (const auto& [k, v] : info.metadata) impl_->model.info.metadata[k] = v;
  return {};
}

Status Writer::set_signatures(std::span<const Signature> signatures) {
  OWF_RETURN_IF_ERROR(internal::check_signature_count(signatures.size(), Limits{}));
  for (std::size_t i = 0; i < signatures.size(); ++i) {
    const Signature& s = signatures[i];
    OWF_RETURN_IF_ERROR(internal::check_signature_fields(i, s.algorithm, s.key_id, s.covers, s.bytes.size()));
  }
  impl_->model.signatures.assign(signatures.begin(), signatures.end());
  return {};
}

Status Writer::begin_tensor(const TensorSpec& spec) {
  Impl& w = *impl_;
  if (w.finished || w.failed) return Error(ErrorCode::kInvalidArgument, "writer is finished or failed");
  if (w.in_tensor)
    return Error(ErrorCode::kInvalidArgument, "tensor '" + w.current.name + "' is still open: call end_tensor() first");
  if (auto s = internal::check_tensor_name(spec.name, Limits{}); !s.ok())
    return Error(s.code(), "tensor '" + spec.name.substr(0, 200) + "': " + s.error().message());
  OWF_RETURN_IF_ERROR(w.collect_digests());
  if (w.tensors.contains(spec.name))
    return Error(ErrorCode::kDuplicateTensorName, "tensor '" + spec.name + "' was already added");
  if (!dtype_info(spec.dtype))
    return Error(ErrorCode::kUnknownDtype,
                 "tensor '" + spec.name + "': unknown dtype code " + std::to_string(static_cast<unsigned>(spec.dtype)));
  for (const Status& s :
       {internal::check_rank(spec.shape.size(), Limits{}), internal::check_role(static_cast<std::uint64_t>(spec.role))})
    if (!s.ok()) return Error(s.code(), "tensor '" + spec.name + "': " + s.error().message());
  auto size = tensor_byte_size(spec.dtype, spec.shape);
  if (!size.ok()) return Error(size.code(), "tensor '" + spec.name + "': " + size.error().message());
  auto count = element_count(spec.shape);

  internal::TensorRecord r;
  r.name = spec.name;
  r.dtype = spec.dtype;
  r.shape = spec.shape;
  r.role = spec.role;
  r.stored_length = *size;
  if (*size > 0) {
    if (auto s = w.out->pad_to(w.model.alignment); !s.ok()) return w.fail(s.error());
    r.offset = w.out->position();
  }
  w.current = std::move(r);
  w.current_expected = spec.expected_sha256;
  w.current_written = 0;
  w.current_logical = *size;
  w.current_elements = *count;  // a valid size implies a valid count
  w.in_tensor = true;
  w.reset_chunks();
  if (w.options.compression.enabled && *size > 0) {
    w.mode = Impl::Mode::kDeciding;
    w.width = internal::byte_group_width(spec.dtype);
  }
  w.current_in_background = w.mode == Impl::Mode::kRaw && *size >= kBackgroundHashBytes;
  w.current_job_started = false;
  return {};
}

Status Writer::append(std::span<const std::byte> data) {
  Impl& w = *impl_;
  if (!w.in_tensor) return Error(ErrorCode::kInvalidArgument, "append() without begin_tensor()");
  if (data.size() > w.current_logical - w.current_written)
    return Error(ErrorCode::kTensorSizeMismatch, "tensor '" + w.current.name + "': more bytes than its " +
                                                     std::to_string(w.current_logical) + " bytes");
  OWF_RETURN_IF_ERROR(
      internal::check_canonical_bytes(w.current.name, w.current.dtype, w.current_elements, data, w.current_written));
  w.current_written += data.size();
  if (w.mode != Impl::Mode::kRaw) return w.enqueue(data);
  if (w.current_in_background) return w.write_for_background(data);
  w.hasher.update(data);
  return w.write(data);
}

Status Writer::end_tensor() {
  Impl& w = *impl_;
  if (!w.in_tensor) return Error(ErrorCode::kInvalidArgument, "end_tensor() without begin_tensor()");
  if (w.current_written != w.current_logical)
    return Error(ErrorCode::kTensorSizeMismatch, "tensor '" + w.current.name + "': got " +
                                                     std::to_string(w.current_written) + " of its " +
                                                     std::to_string(w.current_logical) + " bytes");
  if (w.mode != Impl::Mode::kRaw) {
    if (!w.partial.empty()) {
      w.queue.push_back(std::move(w.partial));
      w.partial = w.take_buffer();
    }
    OWF_RETURN_IF_ERROR(w.flush_queue());
    if (w.current.codec != Codec::kNone) {
      w.current.stored_length = w.out->position() - w.current.offset;
      w.uses_compression = true;
    }
    w.reset_chunks();
  }
  if (!w.current_in_background) {
    w.current.sha256 = w.hasher.finish();
    if (w.current_expected && *w.current_expected != w.current.sha256)
      return w.fail(Impl::digest_mismatch(w.current.name, w.current.sha256, *w.current_expected));
  }
  const std::size_t position = w.tensors.tensor_count();
  if (auto s = w.tensors.add_tensor(w.current); !s.ok()) return w.fail(s.error());
  if (w.current_in_background) w.pending.emplace(position, Impl::PendingDigest{w.current.name, w.current_expected});
  // Dtypes newer than version 1.0 are listed as features (R16), so that
  // older readers refuse the file up front.
  if (const auto feature = internal::feature_of(w.current.dtype);
      feature && std::find(w.model.required_features.begin(), w.model.required_features.end(), feature->name) ==
                     w.model.required_features.end())
    w.model.required_features.emplace_back(feature->name);
  w.in_tensor = false;
  return {};
}

Status Writer::add_tensor(const TensorSpec& spec, std::span<const std::byte> data) {
  OWF_RETURN_IF_ERROR(begin_tensor(spec));
  if (data.size() != impl_->current_logical) {
    impl_->in_tensor = false;
    impl_->reset_chunks();
    return Error(ErrorCode::kTensorSizeMismatch, "tensor '" + spec.name + "': " + std::to_string(data.size()) +
                                                     " bytes given, " + std::string(dtype_name(spec.dtype)) +
                                                     " x shape needs " + std::to_string(impl_->current_logical));
  }
  if (auto s = append(data); !s.ok()) {
    // Refused bytes (not canonical) leave no tensor open.
    impl_->in_tensor = false;
    impl_->reset_chunks();
    return s;
  }
  return end_tensor();
}

namespace {

// R38 on what the writer is about to write, as a reader will check it.
Status check_shard_of(const Writer::Impl& w) {
  const ShardSetInfo& set = *w.model.shard_set;
  OWF_RETURN_IF_ERROR(internal::check_shard_count(set.shards.size(), Limits{}));
  OWF_RETURN_IF_ERROR(internal::check_shard_entries(set, Limits{}));
  std::vector<DigestEntry> entries = w.tensors.digest_entries();
  std::string_view first, last;
  for (const DigestEntry& e : entries) {
    if (first.empty() || internal::compare_bytes(e.name, first) < 0) first = e.name;
    if (last.empty() || internal::compare_bytes(e.name, last) > 0) last = e.name;
  }
  const std::size_t count = entries.size();
  return internal::check_own_shard(set, count, first, last, weights_digest_of(std::move(entries)));
}

}  // namespace

namespace internal {

Status WriterAccess::settle_digests(Writer& writer) { return writer.impl_->settle_digests(); }

const std::vector<std::string>& WriterAccess::hashed_from_file(const Writer& writer) {
  return writer.impl_->hashed_from_file;
}

std::vector<DigestEntry> WriterAccess::digest_entries(const Writer& writer) {
  return writer.impl_->tensors.digest_entries();
}

void WriterAccess::set_shard_set(Writer& writer, ShardSetInfo set) { writer.impl_->model.shard_set = std::move(set); }

}  // namespace internal

Status Writer::finish() {
  Impl& w = *impl_;
  if (w.finished) return Error(ErrorCode::kInvalidArgument, "finish() called twice");
  if (w.failed)
    return Error(ErrorCode::kIoError, "an earlier write failed; nothing was written to " + w.out->target().string());
  if (w.in_tensor) return Error(ErrorCode::kInvalidArgument, "tensor '" + w.current.name + "' was never ended");
  OWF_RETURN_IF_ERROR(w.settle_digests());
  if (!w.model.info.license)
    return Error(ErrorCode::kMissingLicense, "no license set: give an SPDX expression, or NOASSERTION explicitly");
  if (w.uses_compression) w.model.required_features.push_back("zstd");
  // The file takes the oldest minor version that has every feature it lists.
  if (w.model.shard_set)
    if (auto s = check_shard_of(w); !s.ok()) return w.fail(s.error());
  internal::Footer footer;
  footer.version.minor = internal::minor_version_for(w.model.required_features, !w.model.signatures.empty(),
                                                     w.model.shard_set.has_value());
  if (footer.version.minor > 0)
    if (auto s = w.out->overwrite(0, internal::encode_header(footer.version.minor)); !s.ok()) return w.fail(s.error());
  // The limits a reader applies by default (format.md §9), so that every
  // file written opens with them.
  for (const Status& s :
       {internal::check_tensor_count(w.tensors.tensor_count(), Limits{}),
        internal::check_entry_count(w.model.info.hyperparameters.size() + w.model.info.metadata.size(), Limits{})})
    if (!s.ok()) return w.fail(s.error());
  auto encoded = w.tensors.finish(std::move(w.model));
  if (!encoded.ok()) return w.fail(encoded.error());
  const std::span<const std::byte> manifest = *encoded;
  if (auto s = internal::check_manifest_size(manifest.size(), Limits{}); !s.ok()) return w.fail(s.error());

  auto step = [&](Status s) -> Status { return s.ok() ? s : w.fail(s.error()); };
  OWF_RETURN_IF_ERROR(step(w.out->pad_to(internal::kManifestAlignment)));
  footer.manifest_offset = w.out->position();
  footer.manifest_length = manifest.size();
  footer.manifest_sha256 = internal::sha256(manifest);
  OWF_RETURN_IF_ERROR(step(w.out->write(manifest)));
  OWF_RETURN_IF_ERROR(step(w.out->write(internal::encode_footer(footer))));
  // The manifest is in the file now; its buffer goes before the file is
  // finished, as a caller's check of the file (before_rename) opens it again.
  w.tensors = internal::ManifestEncoder(0);
  OWF_RETURN_IF_ERROR(step(w.out->finish(w.options.sync)));
  w.finished = true;
  return {};
}

}  // namespace owf
